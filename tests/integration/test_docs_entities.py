"""test_docs_entities.py: runs every mosquitto_rr example of the sections "Devices, assets, edges and
dashboards" and "Batches" of docs/protocol.md, in document order, against a real broker and agent,
and checks that each answers status 200. The ids the examples name ($DEVICE, $CUSTOMER, ...) come
from the create examples' replies or are made beforehand; a delete example's target is made again
so that the examples after it still have one."""

import json
import os
import re
import shutil
import subprocess

from helpers import REPO, Env, check, eid, make_customer, make_tenant_admin, run_tests, unique

SECTIONS = ("## Devices, assets, edges and dashboards", "## Batches")


def examples():
    text = open(os.path.join(REPO, "docs", "protocol.md"), encoding="utf-8").read()
    out = []
    for heading in SECTIONS:
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        body = text[start:end if end >= 0 else len(text)]
        out += [line.strip() for line in body.splitlines() if line.startswith("    mosquitto_rr ")]
    return out


def test_every_example_answers_200(env):
    c = env.c
    check(shutil.which("mosquitto_rr") is not None, "mosquitto_rr is not installed (scripts/deps installs it)")
    lines = examples()
    check(len(lines) >= 40, "the sections have their examples", lines)
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cu2 = make_customer(c, ta.token)
    vars_ = dict(os.environ, TA=ta.token, CUSTOMER=eid(cu["id"]), CUSTOMER2=eid(cu2["id"]))
    for var, fam in (("DEVICE", "device"), ("ASSET", "asset"), ("EDGE", "edge")):
        vars_[var + "2"] = eid(c.ok(fam + ".create", {"name": unique(var)}, token=ta.token)["id"])
    for line in lines:
        op = re.search(r"cm/v1/req/(\S+)", line).group(1)
        cmd = line.replace("-p 1883", "-p %d" % env.port).replace("mosquitto_rr ", "mosquitto_rr -W 10 ", 1)
        run = subprocess.run(["bash", "-c", cmd], env=vars_, capture_output=True, text=True, timeout=30)
        try:
            reply = json.loads(run.stdout)
        except ValueError:
            reply = {"stdout": run.stdout, "stderr": run.stderr}
        check(reply.get("status") == 200, "example of %s did not answer 200:\n%s" % (op, line), reply)
        fam, _, verb = op.partition(".")
        var = fam.upper()
        if verb == "create" and fam in ("device", "asset", "edge", "dashboard"):
            vars_[var] = eid(reply["data"]["id"])
        if verb == "delete" and fam in ("device", "asset", "edge", "dashboard"):
            data = {"title": "Overview"} if fam == "dashboard" else {"name": unique(var)}
            vars_[var] = eid(c.ok(fam + ".create", data, token=ta.token)["id"])


if __name__ == "__main__":
    run_tests(globals(), Env)
