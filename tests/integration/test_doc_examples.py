"""test_doc_examples.py: docs/examples.sh, which sends every example request of docs/protocol.md and
checks each reply's content (the later sections against the replies the document shows, through
docs/check_examples.py), run against this test's own broker and agent: after the README's
walkthrough made its tenant and admin@acme.example, and twice in a row. A change that breaks a
documented example, or a document whose shown reply is not the agent's, fails here."""

import os
import subprocess

from helpers import (REPO, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, check, make_tenant_admin,
                     run_tests)


def run_examples(port):
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), SYSADMIN_EMAIL=SYSADMIN_EMAIL,
               SYSADMIN_PASSWORD=SYSADMIN_PASSWORD)
    env.pop("RUN", None)
    # the script's field() helper needs the python3 that has json only; any python3 will do,
    # but use the system one so that the test does not depend on PATH order
    env["PATH"] = "/usr/bin:" + env.get("PATH", "")
    return subprocess.run(["bash", os.path.join(REPO, "docs", "examples.sh")], env=env, capture_output=True,
                          text=True, timeout=240)


def test_protocol_examples_after_the_readme_and_twice():
    with Broker() as b, Agent(b.port):
        with Client(b.port) as c:
            # what the README's walkthrough leaves behind: the tenant Acme and admin@acme.example
            sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            make_tenant_admin(c, sys_token, email="admin@acme.example", title="Acme")
        for n in (1, 2):
            p = run_examples(b.port)
            check(p.returncode == 0, "docs/examples.sh run %d failed (exit %d):\n%s\n%s"
                  % (n, p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
            check("steps passed" in p.stdout, "examples.sh did not report its steps:\n%s" % p.stdout[-2000:])


if __name__ == "__main__":
    run_tests(globals())
