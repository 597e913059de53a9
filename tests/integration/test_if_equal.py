"""test_if_equal.py: ifEqual "skip" (Ditto's if-equal) on every update operation through the real
agent: tenant, user, device, asset, edge, dashboard and customer.patch (customer.update has its
own test in test_customers.py). A save whose fields all equal the stored ones answers 200 with
the stored entity, keeps its version, emits no event and leaves an UPDATED audit row; a real
change under the same flag is saved, version and event included; a stale version is still 409,
and another value of ifEqual is 400."""

from helpers import (
    Env, check, eid, expect, last_seq, make_customer, make_customer_user, make_tenant_admin, run_tests,
    tenant_events, unique)


def updated_rows(c, token, entity_type, entity_id):
    rows = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": entity_type, "entityId": entity_id},
                token=token)["data"]
    return [r for r in rows if r["actionType"] == "UPDATED" and r["actionStatus"] == "SUCCESS"]


def check_skip(env, ta, op, stored, changed, entity_type, token=None, get=None, reply=None):
    """stored: the entity as read; changed: the same with one field changed; reply: what op answers
    for the stored entity (stored itself unless said). op's equal save under ifEqual skip changes
    nothing; the changed one is saved."""
    c = env.c
    reply = stored if reply is None else reply
    token = token or ta.token
    entity_id = eid(stored["id"])
    before = last_seq(c, ta.token)
    rows_before = len(updated_rows(c, ta.token, entity_type, entity_id))
    same = expect(c.request(op, dict(stored, ifEqual="skip"), token=token), 200, context=op)
    check(same == reply, "%s: an equal save answers the stored entity" % op, reply, same)
    unversioned = {k: v for k, v in stored.items() if k != "version"}
    same = expect(c.request(op, dict(unversioned, ifEqual="skip"), token=token), 200, context=op)
    check(same["version"] == stored["version"], "%s: the version is kept" % op, same)
    if get is not None:
        check(get() == stored, "%s: the stored entity is unchanged" % op)
    check(last_seq(c, ta.token) == before, "%s: a skipped save emits no event" % op,
          tenant_events(c, ta.token, before))
    check(len(updated_rows(c, ta.token, entity_type, entity_id)) == rows_before + 2,
          "%s: each skipped request leaves its UPDATED row" % op)
    expect(c.request(op, dict(stored, ifEqual="sometimes"), token=token), 400, 31, "ifEqual must be update or skip")
    expect(c.request(op, dict(stored, version=stored["version"] + 7, ifEqual="skip"), token=token), 409, 35)
    saved = expect(c.request(op, dict(changed, ifEqual="skip"), token=token), 200, context=op)
    check(saved["version"] == stored["version"] + 1, "%s: a real change is saved" % op, saved)
    events = tenant_events(c, ta.token, before)
    check([e["type"] for e in events] == ["ENTITY_UPDATED"] and e_id(events[0]) == entity_id,
          "%s: one ENTITY_UPDATED for the change" % op, events)
    return saved


def e_id(event):
    return event["originator"]["id"]


def test_device_asset_edge(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = eid(make_customer(c, ta.token)["id"])
    for kind in ("device", "asset", "edge"):
        made = c.ok(kind + ".create", {"name": unique(kind), "label": "L", "customerId": cust,
                                       "additionalInfo": {"description": "d"}}, token=ta.token)
        stored = c.ok(kind + ".get", {"id": eid(made["id"])}, token=ta.token)
        saved = check_skip(env, ta, kind + ".update", stored, dict(stored, label="Moved"), kind.upper(),
                           get=lambda k=kind, i=eid(made["id"]): c.ok(k + ".get", {"id": i}, token=ta.token))
        check(saved["label"] == "Moved", kind, saved)


def test_dashboard(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = eid(make_customer(c, ta.token)["id"])
    made = c.ok("dashboard.create", {"title": unique("Board"), "configuration": {"widgets": {"a": 1}}},
                token=ta.token)
    c.ok("dashboard.assign", {"id": eid(made["id"]), "customerId": cust}, token=ta.token)
    stored = c.ok("dashboard.get", {"id": eid(made["id"])}, token=ta.token)
    saved = check_skip(env, ta, "dashboard.update", stored, dict(stored, configuration={"widgets": {}}), "DASHBOARD",
                       get=lambda: c.ok("dashboard.get", {"id": eid(made["id"])}, token=ta.token))
    check(saved["configuration"] == {"widgets": {}} and len(saved["assignedCustomers"]) == 1, "dashboard", saved)


def test_user(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer_user(c, ta.token, eid(make_customer(c, ta.token)["id"]))
    c.ok("user.update", dict({k: v for k, v in cu.user.items() if k != "version"},
                             additionalInfo={"description": "desk"}), token=ta.token)
    # user.get adds the credential flags, which a save drops: the read user saves as equal
    stored = c.ok("user.get", {"id": cu.user_id}, token=ta.token)
    plain = dict(stored, additionalInfo={"description": "desk"})
    check_skip(env, ta, "user.update", stored, dict(plain, lastName="Moved"), "USER", reply=plain)
    # a customer user saving itself unchanged
    me = c.ok("user.get", {"id": cu.user_id}, token=cu.token)
    same = expect(c.request("user.update", dict(me, ifEqual="skip"), token=cu.token), 200)
    check(same["version"] == me["version"] and same["lastName"] == "Moved", "its own save", same)


def test_tenant(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    stored = c.ok("tenant.get", {"id": ta.tenant_id}, token=env.sys_token)
    before = last_seq(c, ta.token)
    same = expect(c.request("tenant.update", dict(stored, ifEqual="skip"), token=env.sys_token), 200)
    check(same == stored, "an equal tenant save answers the stored tenant", stored, same)
    check(last_seq(c, ta.token) == before, "no event", tenant_events(c, ta.token, before))
    limited = dict(stored, limits=dict(stored.get("limits") or {}, maxDevices=5))
    saved = expect(c.request("tenant.update", dict(limited, ifEqual="skip"), token=env.sys_token), 200)
    check(saved["version"] == stored["version"] + 1 and saved["limits"]["maxDevices"] == 5, "a limit is a change",
          saved)
    check([e["type"] for e in tenant_events(c, ta.token, before)] == ["ENTITY_UPDATED"], "one event")
    expect(c.request("tenant.update", dict(stored, ifEqual="skip"), token=env.sys_token), 409, 35)


def test_customer_patch(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, title=unique("Patched"), city="Kyiv", additionalInfo={"description": "x"})
    cid = eid(cu["id"])
    before = last_seq(c, ta.token)
    same = expect(c.request("customer.patch", {"id": cid, "city": "Kyiv", "ifEqual": "skip"}, token=ta.token), 200)
    check(same == cu, "an equal patch answers the stored customer", cu, same)
    same = expect(c.request("customer.patch", {"id": cid, "additionalInfo": {"description": "x"},
                                               "ifEqual": "skip"}, token=ta.token), 200)
    check(same["version"] == 1, "an equal merge of additionalInfo", same)
    check(last_seq(c, ta.token) == before, "no event", tenant_events(c, ta.token, before))
    check(len(updated_rows(c, ta.token, "CUSTOMER", cid)) == 2, "two UPDATED rows")
    moved = expect(c.request("customer.patch", {"id": cid, "city": "Lviv", "ifEqual": "skip"}, token=ta.token), 200)
    check(moved["city"] == "Lviv" and moved["version"] == 2, "a real patch is saved", moved)
    check([e["type"] for e in tenant_events(c, ta.token, before)] == ["ENTITY_UPDATED"], "one event")
    # without the flag an equal patch saves (and counts) as before
    again = expect(c.request("customer.patch", {"id": cid, "city": "Lviv"}, token=ta.token), 200)
    check(again["version"] == 3, "ifEqual update is the default", again)
    expect(c.request("customer.patch", {"id": cid, "ifEqual": "never"}, token=ta.token), 400, 31,
           "ifEqual must be update or skip")


def test_batch_command(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    made = c.ok("device.create", {"name": unique("Batched")}, token=ta.token)
    before = last_seq(c, ta.token)
    out = c.ok("batch", {"atomic": True, "commands": [{"op": "device.update", "data": dict(made, ifEqual="skip")}]},
               token=ta.token)
    check(out["committed"] and out["responses"][0]["status"] == 200 and out["responses"][0]["data"]["version"] == 1,
          "skipped in a batch", out)
    check(last_seq(c, ta.token) == before, "no event from the batch", tenant_events(c, ta.token, before))


if __name__ == "__main__":
    run_tests(globals(), Env)
