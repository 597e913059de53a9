"""test_check_layers.py: scripts/check-layers passes on the tree and fails, naming the file, line and
reason, on each kind of include that points back up the layers (the store including the core as
store_outbox.h once did, a relative path around the include directories, a layer's third-party
library elsewhere) and on a file that belongs to no layer. Each case runs on a copy of src/ and
include/ with one line or file planted."""

import os
import shutil
import subprocess
import tempfile

from helpers import REPO, check, run_tests

SCRIPT = os.path.join(REPO, "scripts", "check-layers")


def run_on(root):
    p = subprocess.run([SCRIPT, "--root", root], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def planted(path, line=None, text=None):
    """A copy of src/ and include/ with line added on top of path (or a new file path with text),
    and check-layers' exit status and output on it."""
    with tempfile.TemporaryDirectory() as root:
        for top in ("src", "include"):
            shutil.copytree(os.path.join(REPO, top), os.path.join(root, top))
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if text is not None:
            with open(full, "w") as f:
                f.write(text)
        else:
            with open(full) as f:
                old = f.read()
            with open(full, "w") as f:
                f.write(line + "\n" + old)
        return run_on(root)


def fails_with(path, words, line=None, text=None):
    rc, out = planted(path, line, text)
    check(rc == 1, "check-layers passed with %s planted in %s:\n%s" % (line or "a new file", path, out))
    for w in words:
        check(w in out, "check-layers did not say %r:\n%s" % (w, out))


def test_tree_passes():
    rc, out = run_on(REPO)
    check(rc == 0, "check-layers fails on the tree:\n%s" % out)
    check("every one points down the layers" in out, out)


def test_store_including_core_fails():
    fails_with("include/store/cmagent/store_outbox.h", ["store_outbox.h:1:", "store includes cmagent/events.h",
               "points up the layers"], line='#include "cmagent/events.h"')


def test_core_including_api_fails():
    fails_with("src/core/customer.c", ["src/core/customer.c:1: core includes cmagent/api.h", "points up"],
               line='#include "cmagent/api.h"')


def test_relative_path_around_include_dirs_fails():
    fails_with("src/store/store_user.c", ["include/core/cmagent/context.h", "points up"],
               line='#include "../../include/core/cmagent/context.h"')


def test_api_private_header_from_core_fails():
    fails_with("src/core/user.c", ["src/api/render.h", "points up"], line='#include "../api/render.h"')


def test_adapters_see_only_util():
    fails_with("src/transport/mqtt.c", ["transport includes cmagent/context.h", "points up"],
               line='#include "cmagent/context.h"')
    fails_with("src/mail/mailer.c", ["mail includes cmagent/transport.h"], line='#include "cmagent/transport.h"')


def test_agent_may_include_every_layer():
    rc, out = planted("src/agent/extra.c", text='#include "cmagent/api.h"\n#include "cmagent/mailer.h"\n'
                      '#include "cmagent/transport.h"\n#include "cmagent/store.h"\n')
    check(rc == 0, "the agent may include every layer:\n%s" % out)


def test_top_level_sources_are_the_agent():
    rc, out = planted("src/broker_sync.c", text='#include "cmagent/api.h"\n#include "cmagent/store.h"\n')
    check(rc == 0, "a file directly in src/ is the agent's:\n%s" % out)


def test_cmctl_stands_apart():
    rc, out = planted("src/cmctl/main.c", text='#include "cmctl_nowhere.h"\n#include <cjson/cJSON.h>\n')
    check(rc == 1 and "cmctl_nowhere.h" in out, "an include naming no file passed:\n%s" % out)
    rc, out = planted("src/cmctl/cmctl.h", text='#include <cjson/cJSON.h>\n#include "cmagent/client_link.h"\n')
    check(rc == 0, "cmctl may use cJSON and the transport's client link:\n%s" % out)
    fails_with("src/cmctl/link.c", ["only the transport layer includes paho"], line="#include <MQTTAsync.h>")
    fails_with("src/cmctl/call.c", ["cmctl includes cmagent/config.h", "points up"],
               text='#include "cmagent/config.h"\n')


def test_third_party_library_outside_its_layer_fails():
    fails_with("src/core/tenant.c", ["only the store layer includes SQLite"], line="#include <sqlite3.h>")
    fails_with("src/store/store.c", ["only the api layer includes cJSON"], line="#include <cjson/cJSON.h>")


def test_unclassified_files_fail():
    fails_with("include/cmagent/newthing.h", ["include/cmagent/newthing.h: unclassified"], text="/* x */\n")
    fails_with("src/metrics/metrics.c", ["src/metrics/metrics.c: unclassified", "src/metrics/ is no layer"],
               text="/* x */\n")
    fails_with("include/metrics/cmagent/metrics.h", ["include/metrics/ is no layer"], text="/* x */\n")


def test_unknown_header_fails():
    fails_with("src/api/render.c", ["cmagent/nothere.h", "no include/<layer>/cmagent/nothere.h"],
               line='#include "cmagent/nothere.h"')


def test_header_in_two_layers_fails():
    fails_with("include/core/cmagent/log.h", ["cmagent/log.h is in two layers"], text="/* x */\n")


if __name__ == "__main__":
    run_tests(globals())
