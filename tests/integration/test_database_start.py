"""test_database_start.py: what the agent does with its database file at start. A missing file is a
first start (a new database and system administrator); an existing file of 0 bytes is refused, never
made a new database; a file damaged in the middle is found by PRAGMA quick_check and refused, unless
database_check is off. Each test starts its own broker and agent."""

import os
import random
import subprocess

from helpers import (
    CMAGENT_BIN, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, check, expect, make_tenant_admin,
    run_tests, tail, unique)

START_TIMEOUT = 30


def run_to_exit(agent):
    """Starts the agent in the foreground and returns (exit code, output) once it exits by itself."""
    agent.write_config()
    r = subprocess.run([CMAGENT_BIN, "-c", agent.conf], capture_output=True, text=True, timeout=START_TIMEOUT,
                       cwd=agent.dir, env=agent.env)
    return r.returncode, r.stdout + r.stderr


def test_missing_file_is_a_first_start():
    with Broker() as b:
        a = Agent(b.port)
        check(not os.path.exists(a.db), "the database exists before the first start", a.db)
        try:
            a.start()
            with Client(b.port) as c:
                c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            a.stop()
            check(os.path.getsize(a.db) > 0, "no database was written")
            check("checked (PRAGMA quick_check)" in a.log_text(), "the start did not check the file", tail(a.log))
        finally:
            a.__exit__(None, None, None)


def test_empty_existing_file_is_refused():
    with Broker() as b:
        a = Agent(b.port)
        open(a.db, "wb").close()
        rc, out = run_to_exit(a)
        check(rc != 0, "the agent started on a 0-byte database file", out)
        check("is an empty file (0 bytes)" in out and a.db in out, "the refusal does not say why", out)
        check("System administrator created" not in out, "a new system administrator was created", out)
        check(os.path.getsize(a.db) == 0 and not os.path.exists(a.db + "-wal"), "the empty file was written to")
        # removing it is a first start
        os.remove(a.db)
        with a:
            with Client(b.port) as c:
                c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)


def damage_middle(path, pages=8, seed=12):
    """Overwrites `pages` pages in the middle of the file with random bytes (a fixed seed)."""
    with open(path, "r+b") as f:
        header = f.read(100)
        page_size = int.from_bytes(header[16:18], "big") or 65536
        count = os.path.getsize(path) // page_size
        first = count // 2 - pages // 2
        check(first > 1 and first + pages < count, "the database is too small to damage in the middle", count)
        f.seek(first * page_size)
        f.write(random.Random(seed).randbytes(pages * page_size))
    return first, count


def test_damaged_file_is_refused_unless_checks_are_off():
    with Broker() as b:
        a = Agent(b.port)
        try:
            a.start()
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                ta = make_tenant_admin(c, sys_token)
                for _ in range(400):
                    c.ok("customer.create", {"title": unique("Filler"), "address": "x" * 200}, token=ta.token)
            a.stop()
            check(not os.path.exists(a.db + "-wal") or os.path.getsize(a.db + "-wal") == 0,
                  "a clean stop left a write-ahead log")
            first, count = damage_middle(a.db)
            rc, out = run_to_exit(a)
            check(rc != 0, "the agent started on a file damaged at pages %d-%d of %d" % (first, first + 7, count), out)
            check("is damaged (PRAGMA quick_check:" in out and "database_check off" in out,
                  "the refusal does not say what is wrong and how to start anyway", out)
            # told to, it starts on it anyway (what it then reads of the damaged pages is another matter)
            a.settings["database_check"] = "off"
            a.start()
            with Client(b.port) as c:
                expect(c.request("agent.ping"), 200)
            a.stop(check=False)
            check("checked (PRAGMA quick_check)" not in a.log_text().split("==== start")[-1], "checked although off")
        finally:
            a.__exit__(None, None, None)


def test_bad_database_check_value_names_the_key():
    with Broker() as b:
        a = Agent(b.port, extra={"database_check": "sometimes"})
        rc, out = run_to_exit(a)
        check(rc != 0 and "database_check" in out and "quick or off" in out, "bad value accepted", out)


if __name__ == "__main__":
    run_tests(globals())
