"""test_audit.py: the audit log (thingsboard-customers.md §7.3): one row per write, successful or
failed, in the same transaction as the write (a failed write's row survives its rollback); audit.list
with its filters and paging; a tenant administrator sees only its own tenant's rows."""

import json
import time

from helpers import (
    Env, FORBIDDEN, check, eid, expect, make_customer, make_customer_user, make_tenant_admin,
    run_tests, unique
)


def rows_of(c, token, **filters):
    data = {"pageSize": 1000, "page": 0}
    data.update(filters)
    return c.ok("audit.list", data, token=token)["data"]


def test_writes_leave_rows_successful_or_failed(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token, title=unique("Audited"))
    cid = eid(cust["id"])
    expect(c.request("customer.create", {"title": ""}, token=ta.token), 400, 31)
    upd = c.ok("customer.update", dict(cust, city="Kyiv"), token=ta.token)
    check(upd["city"] == "Kyiv", "update", upd)
    expect(c.request("customer.update", dict(cust, city="stale"), token=ta.token), 409, 35)
    c.ok("customer.delete", {"id": cid}, token=ta.token)
    rows = rows_of(c, ta.token, entityType="CUSTOMER")
    mine = [r for r in rows if r["entityId"] and r["entityId"]["id"] == cid]
    kinds = sorted((r["actionType"], r["actionStatus"]) for r in mine)
    check(kinds == [("ADDED", "SUCCESS"), ("DELETED", "SUCCESS"), ("UPDATED", "SUCCESS")] or
          kinds == [("ADDED", "SUCCESS"), ("DELETED", "SUCCESS"), ("UPDATED", "FAILURE"), ("UPDATED", "SUCCESS")],
          "rows of the customer", mine)
    added = next(r for r in mine if r["actionType"] == "ADDED")
    check(added["actionData"]["entity"]["title"] == cust["title"], "ADDED actionData.entity", added)
    check(added["userName"] == ta.email and eid(added["userId"]) == ta.user_id, "actor", added)
    check(eid(added["tenantId"]) == ta.tenant_id, "tenant", added)
    deleted = next(r for r in mine if r["actionType"] == "DELETED")
    check(deleted["actionData"] == {"entityId": cid}, "DELETED actionData", deleted)
    failures = [r for r in rows if r["actionStatus"] == "FAILURE"]
    check(any(r["actionType"] == "ADDED" and "title" in (r["actionFailureDetails"] or "") for r in failures),
          "the failed create's row survived its rollback", failures)
    check(any(r["actionType"] == "UPDATED" and r["actionFailureDetails"] == "Customer was already changed by someone else"
              for r in failures), "the failed update's row", failures)
    # reads leave no rows
    before = len(rows_of(c, ta.token))
    c.ok("customer.list", {"pageSize": 10, "page": 0}, token=ta.token)
    check(len(rows_of(c, ta.token)) == before, "a read left an audit row")


def test_logins_and_user_writes_are_audited(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cust["id"]))
    expect(c.request("auth.login", {"email": u.email, "password": "Wrong-pass-1"}), 401)
    rows = rows_of(c, ta.token, userId=u.user_id)
    kinds = [(r["actionType"], r["actionStatus"]) for r in rows]
    check(("LOGIN", "SUCCESS") in kinds and ("LOGIN", "FAILURE") in kinds and ("ACTIVATED", "SUCCESS") in kinds,
          "the user's own rows", rows)
    logins = [r for r in rows if r["actionType"] == "LOGIN"]
    check(all(r["customerId"] and eid(r["customerId"]) == eid(cust["id"]) for r in logins),
          "a customer user's login rows name its customer", logins)
    rows = rows_of(c, ta.token, entityType="USER", entityId=u.user_id)
    check(any(r["actionType"] == "ADDED" and r["userName"] == ta.email for r in rows), "user create row", rows)


def test_tenant_scope_filters_and_paging(env):
    c = env.c
    a = make_tenant_admin(c, env.sys_token)
    b = make_tenant_admin(c, env.sys_token)
    t0 = int(time.time() * 1000)
    ids = [eid(make_customer(c, a.token)["id"]) for _ in range(5)]
    make_customer(c, b.token)
    rows_a = rows_of(c, a.token)
    rows_b = rows_of(c, b.token)
    check(all(eid(r["tenantId"]) == a.tenant_id for r in rows_a), "A sees another tenant's rows", rows_a)
    check(all(eid(r["tenantId"]) == b.tenant_id for r in rows_b), "B sees another tenant's rows", rows_b)
    check(not any(r["entityId"] and r["entityId"]["id"] in ids for r in rows_b), "B sees A's customers", rows_b)
    sys_rows = rows_of(c, env.sys_token)
    check(not any(r["entityId"] and r["entityId"]["id"] in ids for r in sys_rows), "sysadmin sees A's rows", sys_rows)
    check(any(r["actionType"] == "ADDED" and r["entityId"] and r["entityId"]["entityType"] == "TENANT"
              for r in sys_rows), "sysadmin's own tenant.create rows", sys_rows)
    # filters
    one = rows_of(c, a.token, entityType="CUSTOMER", entityId=ids[2])
    check(len(one) == 1 and one[0]["entityId"]["id"] == ids[2], "entity filter", one)
    check(len(rows_of(c, a.token, entityType="CUSTOMER", startTime=t0)) == 5, "startTime filter")
    check(rows_of(c, a.token, endTime=t0 - 60000, startTime=1) == [] or
          all(r["createdTime"] <= t0 - 60000 for r in rows_of(c, a.token, endTime=t0 - 60000, startTime=1)),
          "endTime filter")
    check(rows_of(c, a.token, startTime=int(time.time() * 1000) + 3600000) == [], "future startTime")
    check(rows_of(c, a.token, userId=b.user_id) == [], "userId filter across tenants")
    # paging, newest first by default
    p0 = c.ok("audit.list", {"pageSize": 2, "page": 0, "entityType": "CUSTOMER"}, token=a.token)
    check(p0["totalElements"] == 5 and p0["totalPages"] == 3 and p0["hasNext"] is True, "page info", p0)
    check(p0["data"][0]["entityId"]["id"] == ids[4], "newest first", p0)
    asc = c.ok("audit.list", {"pageSize": 2, "page": 0, "entityType": "CUSTOMER", "sortProperty": "createdTime",
                              "sortOrder": "ASC"}, token=a.token)
    check(asc["data"][0]["entityId"]["id"] == ids[0], "oldest first with ASC", asc)


def test_failed_items_of_a_many_ids_write_leave_rows(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    kept = eid(make_customer(c, ta.token)["id"])
    gone = eid(make_customer(c, ta.token)["id"])
    missing = "0190b7a4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
    res = c.ok("customer.delete", {"ids": [gone, missing]}, token=ta.token)["results"]
    check([r["status"] for r in res] == [200, 404], "per-item statuses", res)
    rows = rows_of(c, ta.token, entityType="CUSTOMER")
    by_id = {}
    for r in rows:
        if r["entityId"]:
            by_id.setdefault(r["entityId"]["id"], []).append((r["actionType"], r["actionStatus"]))
    check(("DELETED", "SUCCESS") in by_id.get(gone, []), "the deleted item's row", rows)
    failed = [r for r in rows if r["entityId"] and r["entityId"]["id"] == missing]
    check(len(failed) == 1 and failed[0]["actionType"] == "DELETED" and failed[0]["actionStatus"] == "FAILURE"
          and failed[0]["actionFailureDetails"] == res[1]["message"], "the failed item's row", failed)
    check(kept not in by_id or ("DELETED", "SUCCESS") not in by_id[kept], "an untouched customer", rows)
    dev = c.ok("device.create", {"name": unique("dev")}, token=ta.token)
    res = c.ok("device.assign", {"ids": [eid(dev["id"]), missing], "customerId": kept}, token=ta.token)
    check([r["status"] for r in res["results"]] == [200, 404], "device.assign per item", res)
    rows = rows_of(c, ta.token, entityType="DEVICE", entityId=missing)
    check([(r["actionType"], r["actionStatus"]) for r in rows] == [("ASSIGNED_TO_CUSTOMER", "FAILURE")],
          "the failed device item's row", rows)


def test_another_tenants_email_answers_as_a_missing_one_and_leaves_no_trace(env):
    """user.sendActivationMail names its user by e-mail: tenant A's administrator learns nothing of
    tenant B's user, neither from the reply nor from A's audit rows."""
    c = env.c
    a = make_tenant_admin(c, env.sys_token)
    b = make_tenant_admin(c, env.sys_token)
    b_user = make_customer_user(c, b.token, eid(make_customer(c, b.token)["id"]), activate=False)
    missing = "nobody-" + b_user.email
    replies = [c.request("user.sendActivationMail", {"email": e}, token=a.token) for e in (b_user.email, missing)]
    for r in replies:
        expect(r, 404, 32, "User with the given email is not found")
    same = [{k: v for k, v in r.items() if k != "timestamp"} for r in replies]
    check(same[0] == same[1], "another tenant's address and a missing one answer alike", replies)
    rows = rows_of(c, a.token)
    text = json.dumps(rows)
    check(b_user.user_id not in text and b_user.email not in text and b.tenant_id not in text,
          "tenant A's audit rows name tenant B's user", rows)
    failed = [r for r in rows if r["actionStatus"] == "FAILURE" and
              r["actionFailureDetails"] == "User with the given email is not found"]
    check(len(failed) == 2 and eid(failed[0]["entityId"]) == eid(failed[1]["entityId"]) == a.user_id,
          "both failures are recorded alike, on the caller", failed)
    # addressed by id, another tenant's user keeps ThingsBoard's 403
    expect(c.request("user.activationLink", {"id": b_user.user_id}, token=a.token), 403, 20, FORBIDDEN)


def test_who_may_list_and_bad_input(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cust["id"]))
    expect(c.request("audit.list", {"pageSize": 10, "page": 0}, token=u.token), 403, 20, FORBIDDEN)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0}), 401, 10)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "nope": 1}, token=ta.token), 400, 31)
    expect(c.request("audit.list", {"pageSize": 0, "page": 0}, token=ta.token), 400, 31)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "startTime": "x"}, token=ta.token), 400, 31)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "startTime": 10, "endTime": 5}, token=ta.token),
           400, 31)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "entityId": ta.user_id}, token=ta.token), 400, 31,
           "entityId needs entityType")
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "userId": "not-a-uuid"}, token=ta.token), 400, 31)
    expect(c.request("audit.list", {"pageSize": 10, "page": 0, "sortProperty": "title"}, token=ta.token), 400, 31)


if __name__ == "__main__":
    run_tests(globals(), Env)
