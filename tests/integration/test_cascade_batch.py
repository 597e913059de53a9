"""test_cascade_batch.py: the delete cascade of a customer (users deleted and their tokens and keys
dead at once, devices / assets / edges / dashboards unassigned but kept, exactly one ENTITY_DELETED
event), customer.delete with ids, and batch requests, atomic and not, with their limits and bad input."""

import uuid

from helpers import (
    Env, NULL_UUID, check, eid, expect, last_seq, make_customer, make_customer_user, make_tenant_admin,
    run_tests, tenant_events, unique
)

MAX_BATCH = 5


def test_customer_delete_cascade(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    keep = make_customer(c, ta.token)
    u1 = make_customer_user(c, ta.token, cid)
    u2 = make_customer_user(c, ta.token, cid)
    other_user = make_customer_user(c, ta.token, eid(keep["id"]))
    key = c.ok("apiKey.create", {"description": "cascade"}, token=u1.token)["key"]
    expect(c.request("customer.get", {"id": cid}, token=key), 200)
    devices = [c.ok("device.create", {"name": unique("D"), "customerId": cid}, token=ta.token) for _ in range(5)]
    asset = c.ok("asset.create", {"name": unique("A"), "customerId": cid}, token=ta.token)
    edge = c.ok("edge.create", {"name": unique("E"), "customerId": cid}, token=ta.token)
    kept_device = c.ok("device.create", {"name": unique("K"), "customerId": eid(keep["id"])}, token=ta.token)
    dash = c.ok("dashboard.create", {"title": unique("Dash")}, token=ta.token)
    c.ok("dashboard.setCustomers", {"id": eid(dash["id"]), "customerIds": [cid, eid(keep["id"])]}, token=ta.token)
    dash = c.ok("dashboard.get", {"id": eid(dash["id"])}, token=ta.token)

    mark = last_seq(c, ta.token)
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
    evs = tenant_events(c, ta.token, mark)
    check(len(evs) == 1 and evs[0]["type"] == "ENTITY_DELETED" and evs[0]["originator"]["id"] == cid and
          evs[0]["customerId"] == cid, "exactly one ENTITY_DELETED, no per-child events", evs)
    # users gone, their tokens and keys dead at once
    for tok in (u1.token, u2.token, key):
        expect(c.request("customer.get", {"id": cid}, token=tok), 401, context="dead token")
    expect(c.request("user.get", {"id": u1.user_id}, token=ta.token), 404, 32)
    expect(c.request("customer.get", {"id": eid(keep["id"])}, token=other_user.token), 200)
    # entities unassigned, not deleted; version + 1
    for d in devices:
        got = c.ok("device.get", {"id": eid(d["id"])}, token=ta.token)
        check(eid(got["customerId"]) == NULL_UUID and got["version"] == d["version"] + 1, "device unassigned", got)
    check(eid(c.ok("asset.get", {"id": eid(asset["id"])}, token=ta.token)["customerId"]) == NULL_UUID, "asset")
    check(eid(c.ok("edge.get", {"id": eid(edge["id"])}, token=ta.token)["customerId"]) == NULL_UUID, "edge")
    check(eid(c.ok("device.get", {"id": eid(kept_device["id"])}, token=ta.token)["customerId"]) == eid(keep["id"]),
          "another customer's device untouched")
    after = c.ok("dashboard.get", {"id": eid(dash["id"])}, token=ta.token)
    check([eid(a["customerId"]) for a in after["assignedCustomers"]] == [eid(keep["id"])] and
          after["version"] == dash["version"] + 1, "dashboard unassigned from the deleted customer only", after)
    expect(c.request("customer.get", {"id": cid}, token=ta.token), 404, 32)
    # the name of an unassigned device can be listed by the tenant still
    names = [x["name"] for x in c.ok("device.list", {"pageSize": 50}, token=ta.token)["data"]]
    check(all(d["name"] in names for d in devices), "devices kept", names)


def test_customer_delete_many(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    a = make_customer(c, ta.token)
    b = make_customer(c, ta.token)
    d = c.ok("device.create", {"name": unique("D"), "customerId": eid(a["id"])}, token=ta.token)
    missing = str(uuid.uuid4())
    mark = last_seq(c, ta.token)
    res = c.ok("customer.delete", {"ids": [eid(a["id"]), missing, eid(b["id"])]}, token=ta.token)
    check([r["status"] for r in res["results"]] == [200, 404, 200], "per-item results", res)
    check([e["type"] for e in tenant_events(c, ta.token, mark)] == ["ENTITY_DELETED", "ENTITY_DELETED"], "two events")
    check(eid(c.ok("device.get", {"id": eid(d["id"])}, token=ta.token)["customerId"]) == NULL_UUID, "unassigned")


def test_tenant_delete_takes_devices_and_dashboards(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    d = c.ok("device.create", {"name": unique("D"), "customerId": eid(cu["id"])}, token=ta.token)
    c.ok("asset.create", {"name": unique("A")}, token=ta.token)
    c.ok("edge.create", {"name": unique("E")}, token=ta.token)
    dash = c.ok("dashboard.create", {"title": unique("Dash")}, token=ta.token)
    c.ok("dashboard.assign", {"id": eid(dash["id"]), "customerId": eid(cu["id"])}, token=ta.token)
    c.ok("dashboard.makePublic", {"id": eid(dash["id"])}, token=ta.token)
    # the tenant's devices, assets, edges and dashboards (and their assignments) go with it; the
    # foreign keys to the tenant would refuse the delete otherwise
    expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=env.sys_token), 200)
    expect(c.request("tenant.get", {"id": ta.tenant_id}, token=env.sys_token), 404, 32)
    expect(c.request("device.get", {"id": eid(d["id"])}, token=ta.token), 401)


def test_batch_atomic_commits_all(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    d = c.ok("device.create", {"name": unique("D")}, token=ta.token)
    mark = last_seq(c, ta.token)
    names = [unique("B") for _ in range(2)]
    r = expect(c.request("batch", {"atomic": True, "commands": [
        {"op": "device.create", "data": {"name": names[0]}},
        {"op": "asset.create", "data": {"name": names[1]}},
        {"op": "device.assign", "data": {"id": eid(d["id"]), "customerId": eid(cu["id"])}},
        {"op": "customer.get", "data": {"id": eid(cu["id"])}},
    ]}, token=ta.token), 200)
    check(r["committed"] is True and [x["status"] for x in r["responses"]] == [200] * 4, "all applied", r)
    check(r["responses"][0]["data"]["name"] == names[0] and r["responses"][3]["data"]["title"] == cu["title"], "data", r)
    check([e["type"] for e in tenant_events(c, ta.token, mark)] ==
          ["ENTITY_CREATED", "ENTITY_CREATED", "ENTITY_ASSIGNED"], "events of the batch, in order")


def test_batch_atomic_rolls_back_all(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    taken = c.ok("device.create", {"name": unique("Taken")}, token=ta.token)
    mark = last_seq(c, ta.token)
    fresh = unique("Fresh")
    r = expect(c.request("batch", {"atomic": True, "commands": [
        {"op": "device.create", "data": {"name": fresh}},
        {"op": "device.create", "data": {"name": taken["name"]}},
        {"op": "customer.create", "data": {"title": unique("Never")}},
    ]}, token=ta.token), 200)
    check(r["committed"] is False, "not committed", r)
    st = [x["status"] for x in r["responses"]]
    check(st == [424, 400, 424], "the failing command's error, 424 for the others", r)
    check(r["responses"][1]["message"] == "Device with such name already exists!", "the error", r)
    check(r["responses"][0]["errorCode"] == 31 and
          r["responses"][0]["message"] == "Not applied: command 1 failed and the batch was rolled back", "424 body", r)
    check(tenant_events(c, ta.token, mark) == [], "no events for a rolled-back batch")
    names = [x["name"] for x in c.ok("device.list", {"pageSize": 50}, token=ta.token)["data"]]
    check(fresh not in names, "nothing committed", names)


def test_batch_non_atomic(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    taken = c.ok("device.create", {"name": unique("Taken")}, token=ta.token)
    mark = last_seq(c, ta.token)
    fresh = unique("Fresh")
    r = expect(c.request("batch", {"commands": [
        {"op": "device.create", "data": {"name": fresh}},
        {"op": "device.create", "data": {"name": taken["name"]}},
        {"op": "nope.op"},
        {"op": "tenant.list", "data": {"pageSize": 1}},
        {"op": "dashboard.create", "data": {"title": "Kept"}},
    ]}, token=ta.token), 200)
    check(r["committed"] is True and [x["status"] for x in r["responses"]] == [200, 400, 400, 403, 200], "each alone", r)
    check(r["responses"][2]["message"] == "Unknown operation 'nope.op'", "unknown op", r)
    check([e["type"] for e in tenant_events(c, ta.token, mark)] == ["ENTITY_CREATED", "ENTITY_CREATED"], "events")


def test_published_events_are_the_outbox(env):
    """The writer publishes a group commit's events from memory. Many requests in flight (so they
    share commits), among them batches whose failed items rolled back an event and whose seq the next
    item took again: every event published is the outbox's event of that seq, body for body."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    taken = c.ok("device.create", {"name": unique("Taken")}, token=ta.token)
    mark = last_seq(c, ta.token)
    corrs = []
    for _ in range(20):
        corrs.append(c.begin("batch", {"commands": [
            {"op": "device.create", "data": {"name": unique("E")}},
            {"op": "device.create", "data": {"name": taken["name"]}},
            {"op": "asset.create", "data": {"name": unique("A")}},
        ]}, token=ta.token))
        corrs.append(c.begin("batch", {"atomic": True, "commands": [
            {"op": "device.create", "data": {"name": unique("R")}},
            {"op": "device.create", "data": {"name": taken["name"]}},
        ]}, token=ta.token))
        corrs.append(c.begin("customer.create", {"title": unique("C")}, token=ta.token))
        corrs.append(c.begin("customer.create", {"title": taken["name"] + " twice"}, token=ta.token))
    for k in corrs:
        c.result(k)
    stored = tenant_events(c, ta.token, mark)
    check(len(stored) == 20 * 3 + 1, "3 events per round and the one customer titled twice", len(stored))
    want = {e["seq"]: e for e in stored}
    env.events.wait_for(lambda t, b: False if len({x.get("seq") for _, x, _ in env.events.snapshot()
                                                    if isinstance(x, dict)} & set(want)) < len(want) else True,
                        what="every stored event published")
    published = [b for _, b, _ in env.events.snapshot() if isinstance(b, dict) and b.get("seq") in want]
    for b in published:
        check(b == want[b["seq"]], "a published event differs from the outbox's", b, want[b["seq"]])


def test_batch_bad_input(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    too_many = [{"op": "agent.ops"}] * (MAX_BATCH + 1)
    expect(c.request("batch", {"commands": too_many}, token=ta.token), 400, 31,
           message="The batch has %d commands, more than the limit of %d (max_batch_commands)" % (MAX_BATCH + 1, MAX_BATCH))
    expect(c.request("batch", {}, token=ta.token), 400, 31, message="'commands' is required")
    expect(c.request("batch", {"commands": {}}, token=ta.token), 400, 31, contains="'commands' must be an array")
    expect(c.request("batch", {"commands": [], "atomic": "yes"}, token=ta.token), 400, 31,
           message="'atomic' must be a boolean")
    expect(c.request("batch", {"commands": [], "extra": 1}, token=ta.token), 400, 31, message="Unknown key 'extra' in data")
    expect(c.request("batch", {"commands": []}), 401, 10)
    r = c.ok("batch", {"commands": [
        5, {"op": 5}, {"op": "batch", "data": {"commands": []}}, {"op": "auth.login", "data": {}},
        {"op": "agent.ops", "data": []},
    ]}, token=ta.token)
    check([x["status"] for x in r["responses"]] == [400] * 5, "each bad command answers 400", r)
    check("cannot run inside a batch" in r["responses"][2]["message"] and
          "cannot run inside a batch" in r["responses"][3]["message"], "no nesting, no anonymous ops", r)
    r = c.ok("batch", {"commands": [
        {"op": "agent.ops", "extra": 1}, {"op": "device.get", "data": {"id": "x"}}, {"op": "agent.ops"},
    ]}, token=ta.token)
    check([x["status"] for x in r["responses"]] == [400, 400, 200], "bad commands and a good one", r)
    check(r["responses"][0]["message"] == "Unknown key 'extra' in command 0", "unknown command key", r)
    check(c.ok("batch", {"commands": []}, token=ta.token) == {"committed": True, "responses": []}, "empty batch")


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(agent_extra={"max_batch_commands": MAX_BATCH}))
