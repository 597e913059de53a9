"""test_readme.py: the README's "Try it" walkthrough, run as written, twice in a row against the same
agent and database. The broker is the one scripts/run starts: mosquitto with the dynamic-security
plugin that the agent provisions (broker_acl dynsec). Every indented command line of that section
is executed by bash under `set -euo pipefail`, in order, against this test's own broker and agent
(only the port 1883, the two credential lines and the PATH line are replaced, the broker is given to cmctl in CMCTL_BROKER,
and the line that follows events forever is left out), and the output must show a customer
created, listed, patched, given a device and deleted, the raw mosquitto_rr reply, the error line's
exit status, and the tenant removed at the end. So the README cannot drift from what cmctl and the
agent do, and a second run cannot trip over what the first one left. The walkthrough runs again
against two agents on one database behind one share_group, as `scripts/run --postgres` starts them
(ctest runs that one on PostgreSQL too)."""

import json
import os
import re
import shutil
import subprocess
import tempfile

from helpers import (CMAGENT_BIN, DYNSEC_AGENT_SETTINGS, HOST, REPO, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent,
                     Broker, check, check_no_sanitizer_report, run_tests)

CMCTL_BIN = os.environ.get("CMCTL_BIN") or os.path.join(os.path.dirname(os.path.abspath(CMAGENT_BIN)), "cmctl")


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
        if ln.startswith("export PATH="):
            ln = 'export PATH="%s:$PATH"' % os.path.dirname(os.path.abspath(CMCTL_BIN))
        elif ln.startswith("EMAIL="):
            ln = "EMAIL=%s" % SYSADMIN_EMAIL
        elif ln.startswith("PASSWORD="):
            ln = "PASSWORD='%s'" % SYSADMIN_PASSWORD
        elif "--follow" in ln or ln.startswith("mosquitto_sub"):
            continue  # the third terminal: it never ends by itself
        ln = ln.replace("-p 1883", "-p %d" % port)
        out.append("echo '+ %s'" % " ".join(ln.split(" ")[:4]).replace("'", ""))
        out.append(ln)
        m = re.match(r"^([A-Z]+)=\$\(", ln)
        if m:  # every captured value must be there, or the next step would run with an empty one
            out.append('[ -n "$%s" ] && [ "$%s" != null ] || { echo "empty %s" >&2; exit 1; }'
                       % (m.group(1), m.group(1), m.group(1)))
            out.append('echo "%s=$%s"' % (m.group(1), m.group(1)))
    return "\n".join(out) + "\n"


def run_walkthrough(path, env):
    p = subprocess.run(["bash", path], capture_output=True, text=True, timeout=180, env=env, cwd=REPO)
    check_no_sanitizer_report(p.stderr, "the README walkthrough")
    out = p.stdout
    check(p.returncode == 0, "the README walkthrough failed (exit %d):\n%s\n%s" % (p.returncode, out, p.stderr))
    for var in ("TENANT", "ADMIN", "ACT", "CUST", "DEV", "TOKEN"):
        check(re.search(r"^%s=\S+$" % var, out, re.M), "no value captured for %s:\n%s" % (var, out))
    cust = re.search(r"^CUST=(\S+)$", out, re.M).group(1)
    check(re.search(r"^%s\s+Company A\s+example@company.com\s+-\s+New York" % cust, out, re.M),
          "the list does not show the customer:\n%s" % out)
    check(re.search(r"^city\s+Boston$", out, re.M), "the patch did not change the city:\n%s" % out)
    check(re.search(r"^\S+\s+Thermostat 1\s+thermostat\s+Kitchen$", out, re.M),
          "the customer's devices do not show the device:\n%s" % out)
    check(re.search(r"^id\s+%s$" % cust, out, re.M), "op customer.findByTitle:\n%s" % out)
    raw = [ln for ln in out.splitlines() if ln.startswith("{")]
    check(len(raw) == 1 and '"status":200' in raw[0] and '"title":"Company A"' in raw[0],
          "the mosquitto_rr reply:\n%s" % out)
    check("exit status 1" in out and "customer.get: 404 (errorCode 32)" in p.stderr,
          "the error example:\n%s\n%s" % (out, p.stderr))
    check(out.count("\nOK\n") >= 2 and "\nLogged out\n" in out,
          "customer delete, logout and tenant delete:\n%s" % out)
    return out


def test_readme_walkthrough_twice_in_a_row():
    with Broker(dynsec=True) as b, Agent(b.port, extra=DYNSEC_AGENT_SETTINGS):
        walkthrough_twice(b)


def test_readme_walkthrough_on_two_agents_behind_one_share_group():
    """As `scripts/run --postgres` runs them (on PostgreSQL when the file runs there): two agents
    on one database, one share_group, both provisioning the broker."""
    shared = dict(DYNSEC_AGENT_SETTINGS, share_group="cmagent")
    with Broker(dynsec=True) as b, Agent(b.port, agent_id="cmagent-1", extra=shared) as first, \
            Agent(b.port, agent_id="cmagent-2", extra=dict(shared, database=first.db)):
        walkthrough_twice(b)


def walkthrough_twice(b):
    check(shutil.which("mosquitto_rr") is not None, "mosquitto_rr is not installed (scripts/deps installs it)")
    check(shutil.which("jq") is not None, "jq is not installed (scripts/deps installs it)")
    lines = try_it_lines()
    # as scripts/run sets them up: the dynamic-security plugin, provisioned by the agent
    with tempfile.TemporaryDirectory() as tmp:
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("CMCTL_"))
        env.update({"HOME": tmp, "XDG_CONFIG_HOME": os.path.join(tmp, "config"),
                    "CMCTL_BROKER": "tcp://%s:%d" % (HOST, b.port)})
        path = os.path.join(tmp, "walkthrough.sh")
        with open(path, "w") as f:
            f.write(script_for(lines, b.port))
        first = run_walkthrough(path, env)
        second = run_walkthrough(path, env)
        check(re.search(r"^TENANT=(\S+)$", first, re.M).group(1) != re.search(r"^TENANT=(\S+)$", second, re.M).group(1),
              "the second run reused the first tenant")
        # the system administrator's session of the walkthrough, its broker account with it
        p = subprocess.run([CMCTL_BIN, "--json", "tenant", "list", "--search", "Acme"], capture_output=True,
                           text=True, timeout=60, env=env)
        check(p.returncode == 0 and json.loads(p.stdout)["data"]["totalElements"] == 0,
              "the walkthrough left its tenant behind: %r" % (p,))


if __name__ == "__main__":
    run_tests(globals())
