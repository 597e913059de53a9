"""test_readme.py: the README's "Try it" walkthrough, run as written. Every indented command line of
that section is executed by bash, in order, against this test's own broker and agent (only the port
1883 and the two credential lines are replaced), and the replies must show a customer created,
listed, updated and deleted. The broker is the one scripts/run starts: mosquitto with the
dynamic-security plugin that the agent provisions (broker_acl dynsec). So the README cannot drift
from what the agent does."""

import os
import re
import shutil
import subprocess
import tempfile

from helpers import (DYNSEC_AGENT_SETTINGS, REPO, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, check,
                     run_tests)


def try_it_lines():
    """The indented command lines of the README's "## Try it" section, in order."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## Try it\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "README.md has no '## Try it' section"
    lines = [ln[4:] for ln in m.group(1).splitlines() if ln.startswith("    ") and ln.strip()]
    assert len(lines) >= 10, "the Try it section has too few command lines: %r" % lines
    return lines


def script_for(lines, port):
    out = ["set -euo pipefail", "USER=${USER:-readme}"]
    for ln in lines:
        if ln.startswith("EMAIL="):
            ln = "EMAIL=%s" % SYSADMIN_EMAIL
        elif ln.startswith("PASSWORD="):
            ln = "PASSWORD='%s'" % SYSADMIN_PASSWORD
        elif ln.startswith("mosquitto_sub"):
            continue  # the third terminal: it never ends by itself
        ln = ln.replace("-p 1883", "-p %d" % port)
        out.append("echo '+ %s'" % ln.split(" ")[0].replace("'", ""))
        out.append(ln)
        m = re.match(r"^([A-Z]+)=\$\(", ln)
        if m:  # every captured value must be there, or the next step would run with an empty one
            out.append('[ -n "$%s" ] || { echo "empty %s" >&2; exit 1; }' % (m.group(1), m.group(1)))
            out.append('echo "%s=$%s"' % (m.group(1), m.group(1)))
    return "\n".join(out) + "\n"


def test_readme_walkthrough():
    check(shutil.which("mosquitto_rr") is not None, "mosquitto_rr is not installed (scripts/deps installs it)")
    lines = try_it_lines()
    # as scripts/run sets them up: the dynamic-security plugin, provisioned by the agent
    with Broker(dynsec=True) as b, Agent(b.port, extra=DYNSEC_AGENT_SETTINGS):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "walkthrough.sh")
            with open(path, "w") as f:
                f.write(script_for(lines, b.port))
            p = subprocess.run(["bash", path], capture_output=True, text=True, timeout=120)
    out = p.stdout
    check(p.returncode == 0, "the README walkthrough failed (exit %d):\n%s\n%s" % (p.returncode, out, p.stderr))
    for var in ("SYS", "SU", "SP", "TENANT", "ADMIN", "ACT", "TA", "TU", "TP", "CUST"):
        check(re.search(r"^%s=\S+$" % var, out, re.M), "no value captured for %s:\n%s" % (var, out))
    replies = [ln for ln in out.splitlines() if ln.startswith("{")]
    check(len(replies) >= 4, "expected the replies of activate, list, patch and delete:\n%s" % out)
    for r in replies:
        check('"status":200' in r, "a README step failed:\n%s" % r)
    listing = next((r for r in replies if '"totalElements"' in r), "")
    check('"title":"Company A"' in listing, "the list does not show the customer:\n%s" % out)
    check(any('"city":"Boston"' in r for r in replies), "the patch did not change the city:\n%s" % out)


if __name__ == "__main__":
    run_tests(globals())
