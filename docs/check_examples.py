#!/usr/bin/env python3
"""docs/check_examples.py: runs the examples of the later sections of docs/protocol.md (devices,
assets, edges, dashboards, batches, e-mail, audit) against a live agent and compares every reply
with the one the document shows. docs/examples.sh calls it with the variables its earlier steps set.

An example is a ```sh block followed by a ```json block: the block runs in bash, in document order,
with the variables of the earlier blocks; each line it prints must be the reply shown on the same
line of the json block. Ids, tokens, times and other values that differ on every run are compared
by kind only (a uuid for a uuid, a number for a number, a token of the same prefix); everything
else must be equal, members and order of arrays included. A block right after the line
`<!-- not run: REASON -->` is skipped (it needs what examples.sh does not have, e.g. an SMTP server).

    check_examples.py [--write] DOC     (environment: R, TOKEN, CUSTOMER_ID, USER_ID, USER_TOKEN, RUN)

RUN is the suffix examples.sh gave the e-mail addresses of its run: replies are compared (and
written) with the addresses the document names, admin@acme.example for admin<RUN>@acme.example.

--write replaces each json block by the replies of this run instead (to update the document).
Exit status 0 when every reply matched, 1 otherwise."""

import json
import os
import re
import subprocess
import sys

FIRST = "## Devices, assets, edges and dashboards"
LAST = "## Re-checking the examples"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID_IN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
# members whose values differ on every run: compared by type only
VOLATILE = {"createdTime", "timestamp", "ts", "seq", "tenantSeq", "uptimeMs", "expiresIn", "ttlMs", "routingKey", "secret",
            "lastLoginTs", "value", "nextPageToken", "startedAt", "authUrl", "codes", "finishedTime"}
TOKEN_PREFIXES = ("cma_", "cmr_", "cmk_", "cmp_")
MARK = "@@example"

FIELD_FN = r'''field() {
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}
'''


def examples(lines):
    """[(sh_lines, json_start, json_end)] of the checked sections (the json block's line range), and
    the sh blocks there that show no reply and are not marked as not run."""
    start = next(i for i, l in enumerate(lines) if l.rstrip() == FIRST)
    end = next(i for i, l in enumerate(lines) if l.rstrip() == LAST)
    out, bare, i = [], [], start
    while i < end:
        if lines[i].rstrip() != "```sh":
            i += 1
            continue
        skipped = lines[i - 1].startswith("<!-- not run:")
        j = i + 1
        while lines[j].rstrip() != "```":
            j += 1
        sh, i = lines[i + 1:j], j + 1
        if i < end and lines[i].rstrip() == "```json":
            m = i + 1
            while lines[m].rstrip() != "```":
                m += 1
            if not skipped:
                out.append((sh, i + 1, m))
            i = m + 1
        elif not skipped:
            bare.append(sh)
    return out, bare


def same(doc, got, path="$"):
    """None when got matches the documented doc, else where it differs."""
    if isinstance(doc, dict):
        if not isinstance(got, dict) or list(doc) != list(got):
            return "%s: members %s, the document shows %s" % (path, list(got) if isinstance(got, dict) else got,
                                                               list(doc))
        for k in doc:
            if k in VOLATILE:
                if type(doc[k]) is not type(got[k]) and not (doc[k] is None or got[k] is None):
                    return "%s.%s: %r is not of the kind of %r" % (path, k, got[k], doc[k])
                continue
            why = same(doc[k], got[k], path + "." + k)
            if why:
                return why
        return None
    if isinstance(doc, list):
        if not isinstance(got, list) or len(doc) != len(got):
            return "%s: %s items, the document shows %d" % (path, len(got) if isinstance(got, list) else got, len(doc))
        for n, (d, g) in enumerate(zip(doc, got)):
            why = same(d, g, "%s[%d]" % (path, n))
            if why:
                return why
        return None
    if isinstance(doc, str) and isinstance(got, str):
        if UUID.match(doc) and UUID.match(got) and (doc == NULL_UUID) == (got == NULL_UUID):
            return None
        if doc.startswith(TOKEN_PREFIXES) and got[:4] == doc[:4]:
            return None
        # a message naming an id: the id differs, the words do not
        if UUID_IN.sub("<uuid>", doc) == UUID_IN.sub("<uuid>", got):
            return None
        return "%s: %r, the document shows %r" % (path, got, doc)
    if doc == got and type(doc) is type(got):
        return None
    return "%s: %r, the document shows %r" % (path, got, doc)


def run(blocks):
    """Runs every block in one bash, in order; returns the lines each printed."""
    script = ["set -u", FIELD_FN]
    for n, (sh, _, _) in enumerate(blocks):
        script.append("echo '%s %d'" % (MARK, n))
        script += [l.rstrip("\n") for l in sh]
    script.append("echo '%s end'" % MARK)
    p = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=600,
                       env=os.environ)
    printed, current = {}, None
    run_suffix = os.environ.get("RUN", "")
    for line in p.stdout.splitlines():
        if run_suffix:
            line = line.replace(run_suffix + "@", "@")  # the run's e-mail addresses, as the document names them
        if line.startswith(MARK + " "):
            current = line.split()[1]
            printed.setdefault(current, [])
        elif current is not None:
            printed[current].append(line)
    if "end" not in printed:
        sys.exit("check_examples.py: the examples did not run to the end:\n%s" % p.stderr[-3000:])
    return [printed.get(str(n), []) for n in range(len(blocks))], p.stderr


def main():
    args = sys.argv[1:]
    write = args[:1] == ["--write"]
    path = args[-1]
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, bare = examples(lines)
    failures = 0
    for sh in bare:
        print("NO REPLY SHOWN for the example\n  %s" % "\n  ".join(sh))
        failures += 1
    printed, stderr = run(blocks)
    for (sh, js, je), got in zip(blocks, printed):
        shown = lines[js:je]
        if write:
            continue
        first = next((l for l in sh if "req/" in l), sh[0]).strip()
        if len(shown) != len(got):
            print("MISMATCH %s\n  %d replies, the document shows %d:\n  %s" % (first, len(got), len(shown),
                                                                              "\n  ".join(got)))
            failures += 1
            continue
        for d, g in zip(shown, got):
            try:
                why = same(json.loads(d), json.loads(g))
            except ValueError as e:
                why = "not JSON (%s): %s" % (e, g)
            if why:
                print("MISMATCH %s\n  %s\n  got: %s" % (first, why, g))
                failures += 1
    if write:
        for (sh, js, je), got in reversed(list(zip(blocks, printed))):
            lines[js:je] = got
        open(path, "w", encoding="utf-8").write("\n".join(lines))
        print("check_examples.py: wrote the replies of %d examples into %s" % (len(blocks), path))
        return 0
    if stderr.strip():
        print("stderr of the examples:\n" + stderr[-2000:])
    print("check_examples.py: %d examples, %d mismatches" % (len(blocks), failures))
    return 1 if failures or not blocks else 0


if __name__ == "__main__":
    sys.exit(main())
