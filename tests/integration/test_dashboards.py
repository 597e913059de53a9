"""test_dashboards.py: dashboards, ported from ThingsBoard's DashboardControllerTest (save, find by id,
delete, assign / unassign to customers, dashboards of a customer with text search), plus the
many-customer operations (setCustomers, addCustomers, removeCustomers) with one event per change,
titles that follow a customer's rename, makePublic / makePrivate, customer users' visibility and the
home dashboard (customer.get's dangling id, dashboard.home's user -> customer -> tenant order)."""

import uuid

from helpers import (
    Env, FORBIDDEN, check, eid, expect, last_seq, make_customer, make_customer_user, make_tenant_admin,
    run_tests, tenant_events, unique
)


def assigned(d):
    return sorted((eid(a["customerId"]), a["title"], a["public"]) for a in d["assignedCustomers"])


def test_save_dashboard(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    conf = {"widgets": {"w1": {"type": "timeseries"}}, "states": [1, 2, "three"], "n": None}
    d = expect(c.request("dashboard.create", {"title": "My dashboard", "configuration": conf}, token=ta.token), 200)
    check(d["id"]["entityType"] == "DASHBOARD" and d["version"] == 1 and d["title"] == "My dashboard" and
          d["name"] == "My dashboard", "new dashboard", d)
    check(d["configuration"] == conf and d["assignedCustomers"] == [], "configuration, no customers", d)
    got = c.ok("dashboard.get", {"id": eid(d["id"])}, token=ta.token)
    check(got == d, "get", d, got)
    upd = c.ok("dashboard.update", dict(d, title="Renamed", configuration=[1, 2]), token=ta.token)
    check(upd["title"] == "Renamed" and upd["configuration"] == [1, 2] and upd["version"] == 2, "update", upd)
    expect(c.request("dashboard.update", dict(d, title="Stale"), token=ta.token), 409, 35,
           message="Dashboard was already changed by someone else")
    # listings give DashboardInfo: no configuration
    page = c.ok("dashboard.list", {"pageSize": 10, "textSearch": "renam"}, token=ta.token)
    check(len(page["data"]) == 1 and "configuration" not in page["data"][0], "DashboardInfo in lists", page)
    expect(c.request("dashboard.create", {}, token=ta.token), 400, 31, message="Dashboard title should be specified!")
    expect(c.request("dashboard.create", {"title": "t" * 256}, token=ta.token), 400, 31,
           message="Validation error: title length must be equal or less than 255")
    expect(c.request("dashboard.create", {"title": "x", "image": "y"}, token=ta.token), 400, 31,
           message="Unknown key 'image' in data")
    expect(c.request("dashboard.delete", {"id": eid(d["id"])}, token=ta.token), 200)
    expect(c.request("dashboard.get", {"id": eid(d["id"])}, token=ta.token), 404, 32,
           message="Dashboard with id [%s] is not found" % eid(d["id"]))
    tb = make_tenant_admin(c, env.sys_token)
    other = c.ok("dashboard.create", {"title": "Theirs"}, token=tb.token)
    expect(c.request("dashboard.get", {"id": eid(other["id"])}, token=ta.token), 403, 20, message=FORBIDDEN)
    expect(c.request("dashboard.delete", {"id": eid(other["id"])}, token=ta.token), 403, 20)


def test_dashboard_limit(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token, limits={"maxDashboards": 1})
    c.ok("dashboard.create", {"title": "one"}, token=ta.token)
    r = c.request("dashboard.create", {"title": "two"}, token=ta.token)
    expect(r, 403, 41, message="Dashboards limit reached")
    check(r.get("entityType") == "DASHBOARD" and r.get("limit") == 1, "limit body", r)


def test_assign_unassign_dashboard_to_customer(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, title=unique("My customer"))
    cid = eid(cu["id"])
    d = c.ok("dashboard.create", {"title": "My dashboard"}, token=ta.token)
    did = eid(d["id"])
    mark = last_seq(c, ta.token)
    a = expect(c.request("dashboard.assign", {"id": did, "customerId": cid}, token=ta.token), 200)
    check(assigned(a) == [(cid, cu["title"], False)] and a["version"] == 2, "assignedCustomers", a)
    check(a["assignedCustomers"][0]["customerId"] == {"entityType": "CUSTOMER", "id": cid}, "ShortCustomerInfo shape", a)
    evs = tenant_events(c, ta.token, mark)
    check(len(evs) == 1 and evs[0]["type"] == "ENTITY_ASSIGNED" and evs[0]["customerId"] == cid, "event", evs)
    check(evs[0]["metadata"].get("assignedCustomerName") == cu["title"] and evs[0]["data"]["configuration"] == "",
          "metadata, configuration blanked", evs)
    # again: unchanged, still logged
    mark = last_seq(c, ta.token)
    again = c.ok("dashboard.assign", {"id": did, "customerId": cid}, token=ta.token)
    check(again["version"] == 2 and len(tenant_events(c, ta.token, mark)) == 1, "idempotent assign", again)
    page = c.ok("customer.dashboards", {"customerId": cid, "pageSize": 10}, token=ta.token)
    check([eid(x["id"]) for x in page["data"]] == [did], "customer.dashboards", page)
    mark = last_seq(c, ta.token)
    u = c.ok("dashboard.unassign", {"id": did, "customerId": cid}, token=ta.token)
    check(u["assignedCustomers"] == [] and u["version"] == 3, "unassigned", u)
    evs = tenant_events(c, ta.token, mark)
    check([e["type"] for e in evs] == ["ENTITY_UNASSIGNED"] and
          evs[0]["metadata"].get("unassignedCustomerId") == cid, "unassign event", evs)
    check(c.ok("customer.dashboards", {"customerId": cid, "pageSize": 10}, token=ta.token)["data"] == [], "empty")
    missing = str(uuid.uuid4())
    expect(c.request("dashboard.assign", {"id": did, "customerId": missing}, token=ta.token), 404, 32,
           message="Customer with id [%s] is not found" % missing)
    tb = make_tenant_admin(c, env.sys_token)
    foreign = make_customer(c, tb.token)
    expect(c.request("dashboard.assign", {"id": did, "customerId": eid(foreign["id"])}, token=ta.token), 403, 20)


def test_dashboard_many_customers(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cs = [make_customer(c, ta.token, title=unique("C%d" % i)) for i in range(4)]
    ids = [eid(x["id"]) for x in cs]
    d = c.ok("dashboard.create", {"title": unique("Shared")}, token=ta.token)
    did = eid(d["id"])
    mark = last_seq(c, ta.token)
    s = c.ok("dashboard.setCustomers", {"id": did, "customerIds": ids[:3]}, token=ta.token)
    check(sorted(x[0] for x in assigned(s)) == sorted(ids[:3]), "set", s)
    evs = tenant_events(c, ta.token, mark)
    check([e["type"] for e in evs] == ["ENTITY_ASSIGNED"] * 3, "one event per added customer", evs)
    mark = last_seq(c, ta.token)
    s = c.ok("dashboard.setCustomers", {"id": did, "customerIds": [ids[1], ids[3], ids[3]]}, token=ta.token)
    check(sorted(x[0] for x in assigned(s)) == sorted([ids[1], ids[3]]), "diff", s)
    evs = tenant_events(c, ta.token, mark)
    types = [e["type"] for e in evs]
    check(types == ["ENTITY_ASSIGNED", "ENTITY_UNASSIGNED", "ENTITY_UNASSIGNED"], "assigned first, then removed", evs)
    check(evs[0]["customerId"] == ids[3] and sorted(e["customerId"] for e in evs[1:]) == sorted([ids[0], ids[2]]),
          "the right customers", evs)
    mark = last_seq(c, ta.token)
    same = c.ok("dashboard.setCustomers", {"id": did, "customerIds": [ids[3], ids[1]]}, token=ta.token)
    check(tenant_events(c, ta.token, mark) == [] and same["version"] == s["version"], "no change, no event", same)
    add = c.ok("dashboard.addCustomers", {"id": did, "customerIds": [ids[0], ids[1]]}, token=ta.token)
    check(sorted(x[0] for x in assigned(add)) == sorted([ids[0], ids[1], ids[3]]), "add", add)
    rem = c.ok("dashboard.removeCustomers", {"id": did, "customerIds": [ids[1], ids[2]]}, token=ta.token)
    check(sorted(x[0] for x in assigned(rem)) == sorted([ids[0], ids[3]]), "remove", rem)
    empty = c.ok("dashboard.setCustomers", {"id": did}, token=ta.token)
    check(empty["assignedCustomers"] == [], "setCustomers without a list clears", empty)
    # a bad customer fails the whole request, nothing applied
    mark = last_seq(c, ta.token)
    missing = str(uuid.uuid4())
    expect(c.request("dashboard.setCustomers", {"id": did, "customerIds": [ids[0], missing]}, token=ta.token), 404, 32)
    check(c.ok("dashboard.get", {"id": did}, token=ta.token)["assignedCustomers"] == [] and
          tenant_events(c, ta.token, mark) == [], "rolled back")
    expect(c.request("dashboard.addCustomers", {"id": did}, token=ta.token), 400, 31, message="'customerIds' is required")
    expect(c.request("dashboard.addCustomers", {"id": did, "customerIds": "x"}, token=ta.token), 400, 31,
           message="'customerIds' must be an array of ids")


def test_customer_rename_updates_assigned_titles(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, title=unique("Before"))
    d = c.ok("dashboard.create", {"title": unique("D")}, token=ta.token)
    c.ok("dashboard.assign", {"id": eid(d["id"]), "customerId": eid(cu["id"])}, token=ta.token)
    new_title = unique("After")
    c.ok("customer.update", dict(cu, title=new_title), token=ta.token)
    got = c.ok("dashboard.get", {"id": eid(d["id"])}, token=ta.token)
    check(assigned(got) == [(eid(cu["id"]), new_title, False)], "renamed title shows at once", got)
    check(got["version"] == 3, "the rename re-saves the dashboard (version + 1), as ThingsBoard", got)
    page = c.ok("customer.dashboards", {"customerId": eid(cu["id"]), "pageSize": 5}, token=ta.token)
    check(page["data"][0]["assignedCustomers"][0]["title"] == new_title, "in listings too", page)


def test_find_customer_dashboards(env):
    """DashboardControllerTest.testFindCustomerDashboards, scaled down, with text search and paging."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    mine = []
    for i in range(23):
        d = c.ok("dashboard.create", {"title": ("Dashboard alpha %d" if i % 2 else "Dashboard beta %d") % i},
                 token=ta.token)
        mine.append(d)
    c.ok("dashboard.create", {"title": "Dashboard alpha loose"}, token=ta.token)
    res = c.ok("dashboard.assign", {"ids": [eid(d["id"]) for d in mine], "customerId": cid}, token=ta.token)
    check(all(r["status"] == 200 for r in res["results"]), "bulk assign", res)
    got, page = [], 0
    while True:
        p = c.ok("customer.dashboards", {"customerId": cid, "pageSize": 5, "page": page, "sortProperty": "title"},
                 token=ta.token)
        got += p["data"]
        if not p["hasNext"]:
            break
        page += 1
    check(sorted(eid(x["id"]) for x in got) == sorted(eid(d["id"]) for d in mine) and p["totalElements"] == 23 and
          p["totalPages"] == 5, "all 23 in pages of 5", p)
    titles = [x["title"] for x in got]
    check(titles == sorted(titles), "sorted by title", titles)
    alpha = c.ok("customer.dashboards", {"customerId": cid, "pageSize": 100, "textSearch": "ALPHA"}, token=ta.token)
    check(alpha["totalElements"] == 11, "text search, case-insensitive, customer's only", alpha)


def test_customer_user_dashboards_and_public(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    user = make_customer_user(c, ta.token, eid(cu["id"]))
    d = c.ok("dashboard.create", {"title": unique("Private"), "configuration": {"a": 1}}, token=ta.token)
    did = eid(d["id"])
    expect(c.request("dashboard.get", {"id": did}, token=user.token), 403, 20)
    c.ok("dashboard.assign", {"id": did, "customerId": eid(cu["id"])}, token=ta.token)
    got = expect(c.request("dashboard.get", {"id": did}, token=user.token), 200)
    check(got["configuration"] == {"a": 1}, "assigned customer user reads it", got)
    expect(c.request("dashboard.update", dict(got, title="x"), token=user.token), 403, 20)
    expect(c.request("dashboard.list", {"pageSize": 5}, token=user.token), 403, 20)
    check(len(c.ok("customer.dashboards", {"customerId": eid(cu["id"]), "pageSize": 5}, token=user.token)["data"]) == 1,
          "own customer's dashboards")
    # public
    pub = c.ok("dashboard.makePublic", {"id": did}, token=ta.token)
    publics = [a for a in pub["assignedCustomers"] if a["public"]]
    check(len(publics) == 1 and publics[0]["title"] == "Public", "public entry", pub)
    d2 = c.ok("dashboard.create", {"title": unique("Other")}, token=ta.token)
    pub2 = c.ok("dashboard.makePublic", {"id": eid(d2["id"])}, token=ta.token)
    check(eid(pub2["assignedCustomers"][0]["customerId"]) == eid(publics[0]["customerId"]), "same Public customer", pub2)
    priv = c.ok("dashboard.makePrivate", {"id": did}, token=ta.token)
    check(not any(a["public"] for a in priv["assignedCustomers"]) and len(priv["assignedCustomers"]) == 1, "private", priv)


def test_home_dashboard(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tenant = c.ok("tenant.get", {"id": ta.tenant_id}, token=env.sys_token)
    d_tenant = c.ok("dashboard.create", {"title": "Tenant home"}, token=ta.token)
    d_customer = c.ok("dashboard.create", {"title": "Customer home"}, token=ta.token)
    cu = make_customer(c, ta.token, additionalInfo={"homeDashboardId": eid(d_customer["id"])})
    user = make_customer_user(c, ta.token, eid(cu["id"]))
    home = c.ok("dashboard.home", token=user.token)
    check(home == {"dashboardId": eid(d_customer["id"]), "hideDashboardToolbar": True}, "customer home, toolbar hidden by default", home)
    cu = c.ok("customer.get", {"id": eid(cu["id"])}, token=ta.token)
    c.ok("customer.update", dict(cu, additionalInfo={"homeDashboardId": eid(d_customer["id"]),
                                                     "homeDashboardHideToolbar": False}), token=ta.token)
    check(c.ok("dashboard.home", token=user.token)["hideDashboardToolbar"] is False, "toolbar shown")
    # the tenant's home for the tenant admin, and for the customer user once its customer's is gone
    c.ok("tenant.update", dict(tenant, additionalInfo={"homeDashboardId": eid(d_tenant["id"])}), token=env.sys_token)
    check(c.ok("dashboard.home", token=ta.token)["dashboardId"] == eid(d_tenant["id"]), "tenant admin: tenant home")
    c.ok("dashboard.delete", {"id": eid(d_customer["id"])}, token=ta.token)
    got = c.ok("customer.get", {"id": eid(cu["id"])}, token=ta.token)
    check("homeDashboardId" not in got["additionalInfo"] and got["additionalInfo"]["homeDashboardHideToolbar"] is False,
          "dangling homeDashboardId dropped from customer.get", got)
    check(c.ok("dashboard.home", token=user.token)["dashboardId"] == eid(d_tenant["id"]), "falls back to the tenant's")
    # the user's own setting wins
    me = c.ok("user.get", {"id": user.user_id}, token=user.token)
    own = c.ok("dashboard.create", {"title": "Mine"}, token=ta.token)
    info = dict(me.get("additionalInfo") or {})
    for k in ("userCredentialsEnabled", "userActivated", "lastLoginTs"):
        info.pop(k, None)
    info["homeDashboardId"] = eid(own["id"])
    me2 = {k: v for k, v in me.items() if k not in ("additionalInfo",)}
    me2["additionalInfo"] = info
    expect(c.request("user.update", me2, token=user.token), 200, context="user.update")
    check(c.ok("dashboard.home", token=user.token)["dashboardId"] == eid(own["id"]), "user's own home first")
    none = make_tenant_admin(c, env.sys_token)
    check(c.ok("dashboard.home", token=none.token) == {"dashboardId": None, "hideDashboardToolbar": True}, "none")
    expect(c.request("dashboard.home", {"x": 1}, token=user.token), 400, 31, message="Unknown key 'x' in data")


if __name__ == "__main__":
    run_tests(globals(), Env)
