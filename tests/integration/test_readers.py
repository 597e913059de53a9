"""test_readers.py: the requests that write nothing run on the reader threads (reader_threads),
beside the writer. A client sees its own acknowledged writes in its very next read (create then
get, update then get, delete then get, in a loop); a slow read (the last offset page of a big
table) delays no write; agent.stats counts the reads; agent.ops marks each operation read or not;
reader_threads 0 leaves every request to the writer, as before."""

import threading
import time
import uuid

from helpers import Env, check, eid, expect, make_tenant_admin, run_tests, unique
from pg_helpers import db_connect

BIG = 300000          # devices of one tenant, written straight into the database
PAGE = 100


def test_own_writes_read_at_once(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    for i in range(150):
        title = unique("R")
        cu = c.ok("customer.create", {"title": title}, token=ta.token)
        got = c.ok("customer.get", {"id": eid(cu["id"])}, token=ta.token)
        check(got["title"] == title and got["version"] == cu["version"], "read after create", cu, got)
        if i % 10 == 0:
            up = dict(got, title=title + "-2")
            saved = c.ok("customer.update", up, token=ta.token)
            again = c.ok("customer.get", {"id": eid(cu["id"])}, token=ta.token)
            check(again["title"] == title + "-2" and again["version"] == saved["version"], "read after update",
                  saved, again)
            expect(c.request("customer.delete", {"id": eid(cu["id"])}, token=ta.token), 200)
            expect(c.request("customer.get", {"id": eid(cu["id"])}, token=ta.token), 404)


def test_ops_marks_reads(env):
    ops = {o["name"]: o for o in env.c.ok("agent.ops", token=env.sys_token)["ops"]}
    for name in ("customer.get", "customer.list", "device.list", "event.replay", "audit.list", "agent.stats",
                 "tenant.get", "user.list"):
        check(ops[name]["read"] is True, "%s is a read" % name, ops[name])
    for name in ("customer.create", "batch", "auth.login", "auth.refresh", "user.activationLink", "tenant.delete"):
        check(ops[name]["read"] is False, "%s is not a read" % name, ops[name])


def stats(env):
    return env.c.ok("agent.stats", token=env.sys_token)


def test_reads_counted_outside_transactions(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    before = stats(env)
    for _ in range(20):
        c.ok("customer.list", {"pageSize": 10, "page": 0}, token=ta.token)
    after = stats(env)
    # the 20 lists and the agent.stats itself: reads; none of them rode in a transaction
    check(after["reads"] - before["reads"] >= 21, "reads counted", before, after)
    check(after["requests"] == before["requests"], "no read in the writer's transactions", before, after)


def fill_devices(db, tenant_id, n):
    con = db_connect(db)
    try:
        now = int(time.time() * 1000) - n
        with con:
            con.executemany("INSERT INTO device (id, created_time, tenant_id, customer_id, name, type) "
                            "VALUES (?, ?, ?, NULL, ?, 'bulk')",
                            ((str(uuid.uuid4()), now + i, tenant_id, "bulk-%d" % i) for i in range(n)))
    finally:
        con.close()


def test_deep_page_delays_no_write(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    env.agent.stop()
    fill_devices(env.agent.db, ta.tenant_id, BIG)
    env.agent.start()
    last = BIG // PAGE - 1
    deep = {"pageSize": PAGE, "page": last, "textSearch": "bulk"}

    t0 = time.monotonic()
    page = c.ok("device.list", deep, token=ta.token, timeout=120)
    alone = time.monotonic() - t0
    check(page["totalElements"] == BIG and len(page["data"]) == PAGE, "the last page", page["totalElements"])

    stop = threading.Event()
    lists = []

    def keep_listing():
        lc = env.client()
        try:
            while not stop.is_set():
                t = time.monotonic()
                expect(lc.request("device.list", deep, token=ta.token, timeout=120), 200)
                lists.append(time.monotonic() - t)
        finally:
            lc.close()

    th = threading.Thread(target=keep_listing)
    th.start()
    try:
        time.sleep(min(alone / 2, 1.0))
        lat = []
        end = time.monotonic() + max(3 * alone, 3.0)
        while time.monotonic() < end or len(lat) < 20:
            t = time.monotonic()
            c.ok("device.create", {"name": unique("W"), "type": "fresh"}, token=ta.token, timeout=60)
            lat.append(time.monotonic() - t)
    finally:
        stop.set()
        th.join(180)
    lat.sort()
    median, worst = lat[len(lat) // 2], lat[-1]
    print("deep page alone %.3f s; %d lists meanwhile; %d creates: median %.1f ms, max %.1f ms"
          % (alone, len(lists), len(lat), median * 1000, worst * 1000))
    check(alone >= 0.2, "the deep page is slow enough to show anything (%.3f s)" % alone)
    check(len(lists) >= 1, "lists ran during the creates")
    # on the writer every create waited behind a list: about half of one on average, a whole one at worst
    check(median < alone / 4, "creates do not wait for the deep page: median %.3f s, page %.3f s" % (median, alone))
    check(worst < alone, "no create waited a whole deep page: max %.3f s, page %.3f s" % (worst, alone))


def test_writer_only_with_no_reader_threads(_env):
    with Env(agent_extra={"reader_threads": "0"}) as env:
        ta = make_tenant_admin(env.c, env.sys_token)
        before = stats(env)
        cu = env.c.ok("customer.create", {"title": unique("Z")}, token=ta.token)
        env.c.ok("customer.get", {"id": eid(cu["id"])}, token=ta.token)
        after = stats(env)
        check(after["reads"] == before["reads"] == 0, "no reader ran", before, after)
        check(after["requests"] - before["requests"] >= 3, "the writer ran them", before, after)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(agent_extra={"max_page_offset": "10000000"}))
