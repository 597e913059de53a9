"""test_tenant_delete_job.py: tenant.delete of a tenant with a hundred thousand devices. The reply
comes at once with the tenant's ENTITY_DELETED event: from then on the tenant reads as gone and its
users' tokens stop working; the agent deletes its devices, assets, edges, dashboards and customers,
then the tenant, in transactions of unassign_chunk_size rows between requests, so another tenant's
requests are answered promptly meanwhile; the job is durable: after a kill -9 in the middle of it
the restarted agent finishes it."""

import re
import threading
import time
import uuid

from helpers import (
    Env, check, eid, expect, make_customer, make_tenant_admin, run_tests, unique, unique_email, wait_until
)
from pg_helpers import db_connect

CHUNK = 1000
DEVICES = 100000
TABLES = ("device", "asset", "edge", "dashboard", "customer", "tb_user")


def fill(db, tenant_id, table, n):
    con = db_connect(db)
    try:
        now = int(time.time() * 1000) - n
        with con:
            con.executemany("INSERT INTO %s (id, created_time, tenant_id, customer_id, name, type) "
                            "VALUES (?, ?, ?, NULL, ?, 'bulk')" % table,
                            ((str(uuid.uuid4()), now + i, tenant_id, "bulk-%d" % i) for i in range(n)))
    finally:
        con.close()


def rows_left(db, tenant_id):
    con = db_connect(db, readonly=True, timeout=10)
    try:
        n = sum(con.execute("SELECT count(*) FROM %s WHERE tenant_id = ?" % t, (tenant_id,)).fetchone()[0]
                for t in TABLES)
        return n + con.execute("SELECT count(*) FROM tenant WHERE id = ?", (tenant_id,)).fetchone()[0]
    finally:
        con.close()


def finished(agent, tenant_id):
    m = re.search(r"Deleted the (\d+) devices, assets, edges, dashboards and customers of deleted tenant %s"
                  % tenant_id, agent.log_text())
    return int(m.group(1)) if m else None


def populated_tenant(env, devices):
    """A tenant with an administrator, customers (one with a user), a dashboard assigned to one, an
    asset, and devices written straight into the database."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    make_customer(c, ta.token)
    c.ok("user.create", {"email": unique_email("cu"), "authority": "CUSTOMER_USER", "customerId": eid(cu["id"])},
         token=ta.token)
    d = c.ok("dashboard.create", {"title": unique("D")}, token=ta.token)
    c.ok("dashboard.assign", {"id": eid(d["id"]), "customerId": eid(cu["id"])}, token=ta.token)
    c.ok("asset.create", {"name": unique("A"), "type": "t"}, token=ta.token)
    c.ok("edge.create", {"name": unique("E"), "type": "t"}, token=ta.token)
    env.agent.stop()
    fill(env.agent.db, ta.tenant_id, "device", devices)
    env.agent.start()
    return ta


def test_delete_answers_at_once_and_deletes_in_chunks(env):
    c = env.c
    ta = populated_tenant(env, DEVICES)
    other = make_tenant_admin(c, env.sys_token)
    before = rows_left(env.agent.db, ta.tenant_id)
    check(before > DEVICES, "populated", before)

    stop = threading.Event()
    lat = []

    def other_tenant_writes():
        oc = env.client()
        try:
            while not stop.is_set():
                t = time.monotonic()
                expect(oc.request("device.create", {"name": unique("O"), "type": "o"}, token=other.token,
                                  timeout=60), 200)
                lat.append(time.monotonic() - t)
        finally:
            oc.close()

    th = threading.Thread(target=other_tenant_writes)
    th.start()
    try:
        time.sleep(0.3)
        t0 = time.monotonic()
        expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=env.sys_token, timeout=60), 200)
        replied = time.monotonic() - t0
        left_at_reply = rows_left(env.agent.db, ta.tenant_id)
        # gone from the reply on
        expect(c.request("tenant.get", {"id": ta.tenant_id}, token=env.sys_token), 404)
        listed = c.ok("tenant.list", {"pageSize": 1000, "page": 0}, token=env.sys_token)["data"]
        check(all(eid(t["id"]) != ta.tenant_id for t in listed), "not listed", listed)
        expect(c.request("customer.list", {"pageSize": 1, "page": 0}, token=ta.token), 401)
        expect(c.request("user.create", {"email": unique_email("late"), "authority": "TENANT_ADMIN",
                                         "tenantId": ta.tenant_id}, token=env.sys_token), 400,
               message="User is referencing to non-existent tenant!")
        expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=env.sys_token), 404)
        n = wait_until(lambda: finished(env.agent, ta.tenant_id), timeout=240, interval=0.1, what="the job's end")
        took = time.monotonic() - t0
        time.sleep(0.3)
    finally:
        stop.set()
        th.join(120)
    lat.sort()
    worst, median = lat[-1], lat[len(lat) // 2]
    chunks = len(re.findall(r"Tenant delete chunk: \d+ rows of deleted tenant %s" % ta.tenant_id,
                            env.agent.log_text()))
    print("tenant.delete answered in %.3f s with %d rows left; the job deleted %d rows in %.2f s (%d chunks); "
          "another tenant's %d creates meanwhile: median %.1f ms, max %.1f ms"
          % (replied, left_at_reply, n, took, chunks, len(lat), median * 1000, worst * 1000))
    check(left_at_reply > DEVICES // 2, "the reply came before most of the rows were deleted", left_at_reply)
    check(n >= DEVICES and chunks >= DEVICES // CHUNK - 1, "deleted in chunks", n, chunks)
    check(rows_left(env.agent.db, ta.tenant_id) == 0, "nothing of the tenant is left")
    check(took > 0.5, "the job took long enough to show anything (%.2f s)" % took)
    check(worst < max(took / 3, 0.3), "another tenant waited %.3f s at worst while the job took %.2f s"
          % (worst, took))
    # its ENTITY_DELETED event, once
    evs = [e for e in env.events.snapshot() if e[0].endswith("/%s/TENANT/ENTITY_DELETED" % ta.tenant_id)]
    check(len(evs) == 1 and evs[0][1]["originator"]["id"] == ta.tenant_id, "the event", evs)
    # the other tenant is untouched
    check(c.ok("device.list", {"pageSize": 1, "page": 0}, token=other.token)["totalElements"] == len(lat),
          "the other tenant's devices")


def test_job_survives_a_kill(env):
    c = env.c
    ta = populated_tenant(env, 20000)
    expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=env.sys_token, timeout=60), 200)
    env.agent.kill()
    left = rows_left(env.agent.db, ta.tenant_id)
    env.agent.start()
    expect(c.request("tenant.get", {"id": ta.tenant_id}, token=env.sys_token), 404)
    wait_until(lambda: finished(env.agent, ta.tenant_id), timeout=240, interval=0.1, what="the job's end")
    check(rows_left(env.agent.db, ta.tenant_id) == 0, "nothing left after the restart (%d were left)" % left)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(agent_extra={"unassign_chunk_size": str(CHUNK)}))
