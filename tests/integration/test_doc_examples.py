"""test_doc_examples.py: docs/examples.sh, which sends every example request of docs/protocol.md and
checks each reply, run against this test's own broker and agent. A change that breaks a documented
example fails here."""

import os
import subprocess

from helpers import REPO, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, check, run_tests


def test_protocol_examples():
    with Broker() as b, Agent(b.port):
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(b.port), SYSADMIN_EMAIL=SYSADMIN_EMAIL,
                   SYSADMIN_PASSWORD=SYSADMIN_PASSWORD)
        # the script's field() helper needs the python3 that has json only; any python3 will do,
        # but use the system one so that the test does not depend on PATH order
        env["PATH"] = "/usr/bin:" + env.get("PATH", "")
        p = subprocess.run(["bash", os.path.join(REPO, "docs", "examples.sh")], env=env, capture_output=True,
                           text=True, timeout=240)
    check(p.returncode == 0, "docs/examples.sh failed (exit %d):\n%s\n%s"
          % (p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
    check("steps passed" in p.stdout, "examples.sh did not report its steps:\n%s" % p.stdout[-2000:])


if __name__ == "__main__":
    run_tests(globals())
