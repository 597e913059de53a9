"""test_idempotency.py: protocol section 7. A write request with an envelope "id" is applied at most
once per principal within idempotency_window; a repeat gets the stored first reply (with its own
correlationId), also in the same group-commit batch as the original and across restarts (SIGTERM
and kill -9). Failed writes are not stored, reads are not stored, and the window ends."""

import time

from helpers import (
    Agent, Broker, Client, Env, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, check, eid, expect, make_customer,
    make_tenant_admin, run_tests, unique)


def count_titles(c, token, prefix):
    d = expect(c.request("customer.list", {"pageSize": 1000, "page": 0, "textSearch": prefix}, token=token), 200)
    return [x["title"] for x in d["data"]]


def created_events(env, customer_id):
    return [b for _, b, _ in env.events.snapshot()
            if b.get("type") == "ENTITY_CREATED" and eid(b.get("originator")) == customer_id]


def test_repeat_returns_first_reply(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    rid = unique("req")
    title = unique("Idem")
    first = c.request("customer.create", {"title": title}, token=ta.token, id=rid)
    d1 = expect(first, 200, context="first create")
    check(first.get("id") == rid, "the reply does not echo the request id", first)
    # the repeat carries other data: it is still not applied, the first reply comes back
    again = c.request("customer.create", {"title": title + "-other"}, token=ta.token, id=rid)
    d2 = expect(again, 200, context="repeated create")
    check(d2 == d1, "a repeat must return the first reply's data", first, again)
    check(again.get("id") == rid, "the repeat's reply does not echo the request id", again)
    check(count_titles(c, ta.token, title) == [title], "the repeat created something", title)
    env.events.wait_for(lambda t, b: b.get("type") == "ENTITY_CREATED" and eid(b.get("originator")) == eid(d1["id"]),
                        what="the create event")
    time.sleep(0.2)
    check(len(created_events(env, eid(d1["id"]))) == 1, "one create, one event", created_events(env, eid(d1["id"])))
    # MQTT 3.1.1: the repeat echoes its own correlationId, not the first request's
    with env.client(mqtt_version=3) as c3:
        r3 = c3.request("customer.create", {"title": title}, token=ta.token, id=rid)
        check(expect(r3, 200) == d1, "repeat over MQTT 3.1.1", r3)
        check(r3.get("id") == rid, "id echoed", r3)
    # updates too: a repeated patch does not bump the version twice
    pid = unique("patch")
    p1 = expect(c.request("customer.patch", {"id": eid(d1["id"]), "city": "Lyon"}, token=ta.token, id=pid), 200)
    p2 = expect(c.request("customer.patch", {"id": eid(d1["id"]), "city": "Lyon"}, token=ta.token, id=pid), 200)
    check(p1 == p2 and p1["version"] == d1["version"] + 1, "repeated patch", p1, p2)
    got = expect(c.request("customer.get", {"id": eid(d1["id"])}, token=ta.token), 200)
    check(got["version"] == p1["version"], "the repeated patch was applied again", got, p1)


def test_entity_writes_are_idempotent(env):
    """Devices and dashboards (issue 5) follow the same rule: a repeated create makes one device, a
    repeated assign is not applied (and not evented) twice."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token)
    rid = unique("dev")
    name = unique("Idem device")
    d1 = expect(c.request("device.create", {"name": name}, token=ta.token, id=rid), 200)
    d2 = expect(c.request("device.create", {"name": name}, token=ta.token, id=rid), 200,
                context="a repeated device.create answers the first reply, not 'already exists'")
    check(d1 == d2, "repeated device.create", d1, d2)
    lst = expect(c.request("device.list", {"pageSize": 100, "page": 0, "textSearch": name}, token=ta.token), 200)
    check(lst["totalElements"] == 1, "one device", lst)
    aid = unique("assign")
    a1 = expect(c.request("device.assign", {"id": eid(d1["id"]), "customerId": eid(cust["id"])}, token=ta.token,
                          id=aid), 200)
    a2 = expect(c.request("device.assign", {"id": eid(d1["id"]), "customerId": eid(cust["id"])}, token=ta.token,
                          id=aid), 200)
    check(a1 == a2, "repeated device.assign", a1, a2)
    dash = expect(c.request("dashboard.create", {"title": unique("Idem dash")}, token=ta.token, id=unique("db")), 200)
    check(dash["title"].startswith("Idem dash"), "dashboard.create with an id", dash)


def test_ids_are_per_principal(env):
    c = env.c
    a = make_tenant_admin(c, env.sys_token)
    b = make_tenant_admin(c, env.sys_token)
    rid = unique("shared")
    ra = expect(c.request("customer.create", {"title": unique("PA")}, token=a.token, id=rid), 200)
    rb = expect(c.request("customer.create", {"title": unique("PB")}, token=b.token, id=rid), 200)
    check(ra["id"] != rb["id"], "two principals' requests with one id must both apply", ra, rb)
    # a second administrator of the same tenant is another principal too
    a2 = make_tenant_admin(c, env.sys_token, tenant_id=a.tenant_id)
    ra2 = expect(c.request("customer.create", {"title": unique("PA2")}, token=a2.token, id=rid), 200)
    check(ra2["id"] != ra["id"], "another user of the same tenant is another principal", ra, ra2)
    # while an API key acts as its owner
    key = c.ok("apiKey.create", {"description": "idem"}, token=a.token)["key"]
    rk = expect(c.request("customer.create", {"title": unique("PK")}, token=key, id=rid), 200)
    check(rk == ra, "an API key is its owner's principal", ra, rk)


def test_failed_write_is_not_stored(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    rid = unique("fail")
    title = unique("Later")
    expect(c.request("customer.create", {"title": title, "email": "not-an-email"}, token=ta.token, id=rid), 400, 31)
    d = expect(c.request("customer.create", {"title": title}, token=ta.token, id=rid), 200,
               context="the corrected repeat of a failed request applies")
    check(d["title"] == title, "title", d)
    again = expect(c.request("customer.create", {"title": title}, token=ta.token, id=rid), 200)
    check(again == d, "now the success is stored", d, again)


def test_same_id_for_another_operation(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    rid = unique("op")
    cu = expect(c.request("customer.create", {"title": unique("Op")}, token=ta.token, id=rid), 200)
    expect(c.request("customer.delete", {"id": eid(cu["id"])}, token=ta.token, id=rid), 400, 31,
           contains=["Request id", "customer.create"])
    expect(c.request("customer.get", {"id": eid(cu["id"])}, token=ta.token), 200, context="not deleted")


def test_reads_are_answered_fresh(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    rid = unique("read")
    g1 = expect(c.request("customer.get", {"id": eid(cu["id"])}, token=ta.token, id=rid), 200)
    c.ok("customer.patch", {"id": eid(cu["id"]), "city": "Oslo"}, token=ta.token)
    g2 = expect(c.request("customer.get", {"id": eid(cu["id"])}, token=ta.token, id=rid), 200)
    check(g2["city"] == "Oslo" and g2["version"] == g1["version"] + 1, "a read with an id is not replayed", g1, g2)


def test_repeat_in_the_same_batch(env):
    """Pairs published back to back without waiting land in one group-commit batch (or in two):
    either way the second is the first's repeat."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    prefix = unique("Pair")
    before = expect(c.request("agent.stats", token=env.sys_token), 200)
    pairs = []
    for i in range(40):
        rid = "%s-%d" % (prefix, i)
        data = {"title": "%s-%02d" % (prefix, i)}
        pairs.append((c.begin("customer.create", data, token=ta.token, id=rid),
                      c.begin("customer.create", data, token=ta.token, id=rid)))
    for a, b in pairs:
        ra, rb = c.result(a), c.result(b)
        check(expect(ra, 200) == expect(rb, 200), "the repeat in the same batch differs", ra, rb)
    titles = count_titles(c, ta.token, prefix)
    check(sorted(titles) == ["%s-%02d" % (prefix, i) for i in range(40)], "each pair created one customer", titles)
    after = expect(c.request("agent.stats", token=env.sys_token), 200)
    check(after["replayed"] - before["replayed"] == 40, "40 repeats answered from the stored reply", before, after)
    check(after["maxBatch"] >= 2, "requests published together were committed together", after)


def test_agent_stats_is_for_the_system_administrator(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    expect(c.request("agent.stats", token=ta.token), 403, 20)
    d = expect(c.request("agent.stats", token=env.sys_token), 200)
    for k in ("transactions", "requests", "meanBatch", "maxBatch", "failedCommits", "replayed", "commitUsTotal",
              "commitUsMax", "batchSizes"):
        check(k in d, "agent.stats lacks %s" % k, d)
    check(sum(b["transactions"] for b in d["batchSizes"]) == d["transactions"], "histogram total", d)


def test_repeat_across_restarts_and_window(env):
    """Its own broker and agent (a 3 s window); env is unused."""
    with Broker() as b:
        a = Agent(b.port, extra={"idempotency_window": 3}).start()
        try:
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                ta = make_tenant_admin(c, sys_token)
                rid = unique("restart")
                title = unique("Restart")
                first = expect(c.request("customer.create", {"title": title}, token=ta.token, id=rid), 200)
                t_first = time.monotonic()
                a.restart()
                r = expect(c.request("customer.create", {"title": title}, token=ta.token, id=rid), 200)
                check(r == first, "repeat after SIGTERM restart", first, r)
                a.restart(hard=True)
                r = expect(c.request("customer.create", {"title": title}, token=ta.token, id=rid), 200)
                check(r == first, "repeat after kill -9 restart", first, r)
                check(count_titles(c, ta.token, title) == [title], "one customer", title)
                # past the window the id is new again (the title must differ: it is unique)
                time.sleep(max(0.0, 3.2 - (time.monotonic() - t_first)))
                r = expect(c.request("customer.create", {"title": title + "-2"}, token=ta.token, id=rid), 200)
                check(r["id"] != first["id"], "after the window the id applies again", first, r)
        finally:
            a.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests(globals(), Env)
