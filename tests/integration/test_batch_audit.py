"""test_batch_audit.py: a batch's commands run through the same pipeline as the same requests alone.
apiKey.create, auth.changePassword and auth.logout inside a batch leave the audit rows they leave
alone; a failed command leaves its FAILURE row (an atomic batch that rolled back keeps that row and
nothing else); and auth.changePassword inside a batch is hashed on a verifier thread, not on the
writer (agent.stats writerPasswordHashes)."""

from helpers import Env, check, eid, expect, make_customer, make_tenant_admin, run_tests, unique

NEW_PASSWORD = "Batch-Passw0rd-2"


def rows_of(c, token, **filters):
    data = {"pageSize": 1000, "page": 0}
    data.update(filters)
    return c.ok("audit.list", data, token=token)["data"]


def etype(r):
    return (r.get("entityId") or {}).get("entityType") or "-"


def kinds(rows):
    return sorted((etype(r), r["actionType"], r["actionStatus"]) for r in rows)


def stats(env):
    return env.c.ok("agent.stats", token=env.sys_token)


def test_commands_are_audited_as_alone(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    before = stats(env)
    r = c.ok("batch", {"commands": [
        {"op": "apiKey.create", "data": {"description": "from a batch"}},
        {"op": "auth.changePassword", "data": {"currentPassword": ta.password, "newPassword": NEW_PASSWORD}},
        {"op": "customer.create", "data": {"title": ""}},
        {"op": "customer.get", "data": {"id": "not-a-uuid"}},
        {"op": "auth.logout"},
    ]}, token=ta.token)
    statuses = [x["status"] for x in r["responses"]]
    check(statuses == [200, 200, 400, 400, 200], "the commands' replies", r)
    after = stats(env)
    token = c.login(ta.email, NEW_PASSWORD)
    rows = rows_of(c, token, userId=ta.user_id)
    mine = kinds(rows)
    for want in (("API_KEY", "ADDED", "SUCCESS"), ("USER", "CREDENTIALS_UPDATED", "SUCCESS"),
                 ("USER", "LOGOUT", "SUCCESS")):
        check(want in mine, "audit row %s of a batch command" % (want,), mine)
    # the failed create (no entity id yet) and no row for the failed read, which is no write
    failures = [x for x in rows if x["actionStatus"] == "FAILURE"]
    check(len(failures) == 1 and failures[0]["actionType"] == "ADDED" and
          "title" in (failures[0]["actionFailureDetails"] or ""), "the failed create's row, only", failures)
    check(len([x for x in rows_of(c, token, entityType="CUSTOMER") if x["actionStatus"] == "FAILURE"]) == 1,
          "a CUSTOMER row", rows)
    # the two hashes of the password change (check the current one, hash the new one) ran on a verifier
    check(after["passwordHashes"] - before["passwordHashes"] >= 2, "the change hashed", before, after)
    check(after["writerPasswordHashes"] == before["writerPasswordHashes"], "no hash on the writer", before, after)
    expect(c.request("customer.list", {"pageSize": 1, "page": 0}, token=ta.token), 401)


def test_atomic_batch_keeps_only_the_failure_row(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    title = unique("Rolled")
    r = c.ok("batch", {"atomic": True, "commands": [
        {"op": "customer.create", "data": {"title": title}},
        {"op": "customer.update", "data": dict(cu, version=cu["version"] + 7)},
        {"op": "customer.create", "data": {"title": unique("Never")}},
    ]}, token=ta.token)
    check(r["committed"] is False and [x["status"] for x in r["responses"]] == [424, 409, 424], "rolled back", r)
    rows = rows_of(c, ta.token, entityType="CUSTOMER")
    added = [x for x in rows if x["actionType"] == "ADDED"]
    check(len(added) == 1 and eid(added[0]["entityId"]) == eid(cu["id"]), "the rolled-back creates left no row",
          added)
    fails = [x for x in rows if x["actionStatus"] == "FAILURE" and x["actionType"] == "UPDATED"]
    check(len(fails) == 1 and eid(fails[0]["entityId"]) == eid(cu["id"]), "the failed update's row", fails)


def test_password_change_alone_and_in_batch_hash_alike(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    before = stats(env)
    expect(c.request("auth.changePassword", {"currentPassword": ta.password, "newPassword": NEW_PASSWORD},
                     token=ta.token), 200)
    token = c.login(ta.email, NEW_PASSWORD)
    r = c.ok("batch", {"atomic": True, "commands": [
        {"op": "auth.changePassword", "data": {"currentPassword": NEW_PASSWORD, "newPassword": ta.password}},
        {"op": "customer.create", "data": {"title": unique("After")}},
    ]}, token=token)
    check(r["committed"] is True, "committed", r)
    c.login(ta.email, ta.password)
    after = stats(env)
    check(after["writerPasswordHashes"] == before["writerPasswordHashes"], "no hash on the writer", before, after)
    # a wrong current password in a batch: 400, audited, and still not hashed on the writer
    r = c.ok("batch", {"commands": [
        {"op": "auth.changePassword", "data": {"currentPassword": "Not-the-one-9", "newPassword": NEW_PASSWORD}},
    ]}, token=c.login(ta.email, ta.password))
    check(r["responses"][0]["status"] == 400, "wrong current password", r)
    last = stats(env)
    check(last["writerPasswordHashes"] == before["writerPasswordHashes"], "no hash on the writer", before, last)


if __name__ == "__main__":
    run_tests(globals(), Env)
