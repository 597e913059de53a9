"""test_unassign_job.py: customer.delete of a customer owning thousands of devices. The reply comes
at once and the devices, assets and edges read as unassigned from then on (customerId NULL_UUID,
version + 1); the agent writes that in chunks of unassign_chunk_size rows between requests, with no
event per row; the job is durable: after a kill -9 in the middle of it the restarted agent finishes it."""

import re
import time

from helpers import (
    Env, NULL_UUID, check, eid, expect, make_customer, make_tenant_admin, run_tests, tenant_events,
    unique, wait_until
)
from pg_helpers import db_connect

CHUNK = 50
DEVICES = 3000


def create_many(c, token, op, count, customer_id):
    """count entities of op ("device.create", ...) owned by customer_id, 100 per batch request."""
    made = []
    while len(made) < count:
        n = min(100, count - len(made))
        cmds = [{"op": op, "data": {"name": unique("U"), "customerId": customer_id}} for _ in range(n)]
        r = c.ok("batch", {"atomic": True, "commands": cmds}, token=token, timeout=60)
        check(r["committed"], "batch committed", r)
        made += [x["data"] for x in r["responses"]]
    return made


def all_devices(c, token):
    out, page = [], 0
    while True:
        d = c.ok("device.list", {"pageSize": 1000, "page": page}, token=token)
        out += d["data"]
        if not d["hasNext"]:
            return out
        page += 1


def finished_line(agent, customer_id):
    m = re.search(r"Unassigned the (\d+) devices, assets and edges of deleted customer %s" % customer_id,
                  agent.log_text())
    return int(m.group(1)) if m else None


def chunk_lines(agent, customer_id):
    return len(re.findall(r"Unassign chunk: \d+ rows of deleted customer %s" % customer_id, agent.log_text()))


def rows_still_assigned(db, customer_id):
    con = db_connect(db, readonly=True, timeout=10)
    try:
        return sum(con.execute("SELECT count(*) FROM %s WHERE customer_id = ?" % t, (customer_id,)).fetchone()[0]
                   for t in ("device", "asset", "edge"))
    finally:
        con.close()


def test_delete_answers_at_once_and_unassigns_in_chunks(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    keep = make_customer(c, ta.token)
    devices = create_many(c, ta.token, "device.create", DEVICES, cid)
    assets = create_many(c, ta.token, "asset.create", 20, cid)
    edges = create_many(c, ta.token, "edge.create", 3, cid)
    kept = c.ok("device.create", {"name": unique("K"), "customerId": eid(keep["id"])}, token=ta.token)
    check(all(d["version"] == 1 for d in devices), "fresh devices")
    mark = tenant_events(c, ta.token)[-1]["seq"]

    t0 = time.monotonic()
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
    replied = time.monotonic() - t0
    # read right after the reply: unassigned already, whether a chunk reached the row or not
    for d in (devices[0], devices[-1], assets[0], edges[-1]):
        op = {"DEVICE": "device.get", "ASSET": "asset.get", "EDGE": "edge.get"}[d["id"]["entityType"]]
        got = c.ok(op, {"id": eid(d["id"])}, token=ta.token)
        check(eid(got["customerId"]) == NULL_UUID and got["version"] == 2, "reads unassigned at once", got)
    # listings too, by offset and by cursor (the second page comes from the cursor)
    first = c.ok("device.list", {"pageSize": 10, "page": 0, "sortProperty": "createdTime", "sortOrder": "DESC"},
                 token=ta.token)
    second = c.ok("device.list", {"pageSize": 10, "page": 0, "sortProperty": "createdTime", "sortOrder": "DESC",
                                  "pageToken": first["nextPageToken"]}, token=ta.token)
    for d in first["data"] + second["data"]:
        if d["id"]["id"] != eid(kept["id"]):
            check(eid(d["customerId"]) == NULL_UUID and d["version"] == 2, "listed unassigned at once", d)
    # writes treat them as unassigned too: re-assign one to another customer, unassign another
    moved = c.ok("device.assign", {"id": eid(devices[1]["id"]), "customerId": eid(keep["id"])}, token=ta.token)
    check(eid(moved["customerId"]) == eid(keep["id"]) and moved["version"] == 3, "re-assigned", moved)
    expect(c.request("device.unassign", {"id": eid(devices[2]["id"])}, token=ta.token), 400, 31,
           message="Device isn't assigned to any customer!")

    wait_until(lambda: finished_line(env.agent, cid) is not None, timeout=60, what="the unassign job to finish")
    total = finished_line(env.agent, cid)
    # the re-assigned device was written by the job or, if the assign came first, left alone
    check(total in (DEVICES + 20 + 3, DEVICES + 20 + 3 - 1), "every row written by the job once", total)
    check(chunk_lines(env.agent, cid) >= total // CHUNK, "in chunks of %d" % CHUNK, chunk_lines(env.agent, cid))
    check(rows_still_assigned(env.agent.db, cid) == 0, "no row of the deleted customer left")
    print("delete replied in %.1f ms; job of %d rows in %d chunks" % (replied * 1000, total,
                                                                      chunk_lines(env.agent, cid)))

    every = {eid(d["id"]): d for d in all_devices(c, ta.token)}
    for d in devices:
        got = every[eid(d["id"])]
        if eid(d["id"]) == eid(devices[1]["id"]):
            check(eid(got["customerId"]) == eid(keep["id"]) and got["version"] == 3, "the re-assigned one", got)
        else:
            check(eid(got["customerId"]) == NULL_UUID and got["version"] == 2, "unassigned once, version + 1", got)
    check(eid(every[eid(kept["id"])]["customerId"]) == eid(keep["id"]) and every[eid(kept["id"])]["version"] == 1,
          "another customer's device untouched")
    evs = tenant_events(c, ta.token, mark)
    check([e["type"] for e in evs] == ["ENTITY_DELETED", "ENTITY_ASSIGNED"] and evs[0]["originator"]["id"] == cid,
          "one ENTITY_DELETED (and the assign's own event), none per unassigned row", [e["type"] for e in evs])
    expect(c.request("customer.get", {"id": cid}, token=ta.token), 404, 32)


def test_delete_many_with_ids(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    a, b = make_customer(c, ta.token), make_customer(c, ta.token)
    da = create_many(c, ta.token, "device.create", 120, eid(a["id"]))
    db = create_many(c, ta.token, "device.create", 80, eid(b["id"]))
    res = c.ok("customer.delete", {"ids": [eid(a["id"]), eid(b["id"])]}, token=ta.token)
    check([r["status"] for r in res["results"]] == [200, 200], "both deleted", res)
    wait_until(lambda: finished_line(env.agent, eid(a["id"])) is not None and
               finished_line(env.agent, eid(b["id"])) is not None, timeout=60, what="both jobs")
    check(finished_line(env.agent, eid(a["id"])) == 120 and finished_line(env.agent, eid(b["id"])) == 80, "counts")
    every = {eid(d["id"]): d for d in all_devices(c, ta.token)}
    check(all(eid(every[eid(d["id"])]["customerId"]) == NULL_UUID and every[eid(d["id"])]["version"] == 2
              for d in da + db), "all unassigned")


def test_kill9_in_the_middle_of_a_job_resumes_after_restart(env):
    c = env.c
    agent = env.agent
    # one row per chunk, so that the job lasts long enough to be interrupted
    agent.settings["unassign_chunk_size"] = 1
    agent.restart()
    ta = make_tenant_admin(c, env.sys_token)
    for attempt in range(3):
        cu = make_customer(c, ta.token)
        cid = eid(cu["id"])
        devices = create_many(c, ta.token, "device.create", DEVICES, cid)
        expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
        wait_until(lambda: chunk_lines(agent, cid) >= 20, timeout=30, what="the first chunks")
        agent.kill()
        left = rows_still_assigned(agent.db, cid)
        if finished_line(agent, cid) is None and left > 0:
            break
        print("attempt %d: the job ended before the kill; again" % attempt)
        agent.start()
    else:
        raise AssertionError("the job always ended before the kill")
    check(0 < left < DEVICES, "killed in the middle of the job", left)
    agent.start()
    # before the job is done, and after: reads unassigned
    got = c.ok("device.get", {"id": eid(devices[-1]["id"])}, token=ta.token)
    check(eid(got["customerId"]) == NULL_UUID and got["version"] == 2, "unassigned after the restart", got)
    wait_until(lambda: finished_line(agent, cid) is not None, timeout=120, what="the job to finish after the restart")
    check(finished_line(agent, cid) == DEVICES, "the count survives the restart", finished_line(agent, cid))
    check(rows_still_assigned(agent.db, cid) == 0, "every row unassigned")
    every = {eid(d["id"]): d for d in all_devices(c, ta.token)}
    check(all(eid(every[eid(d["id"])]["customerId"]) == NULL_UUID and every[eid(d["id"])]["version"] == 2
              for d in devices), "each unassigned exactly once (version + 1, not + 2)")
    print("killed with %d of %d rows left; finished after the restart" % (left, DEVICES))


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(agent_extra={"unassign_chunk_size": CHUNK}))
