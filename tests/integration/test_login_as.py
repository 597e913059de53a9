"""test_login_as.py: user.token, ThingsBoard's "login as" (GET /api/user/{userId}/token), through
the real agent: a system administrator gets a pair of a tenant administrator, a tenant
administrator one of its customer users; the pair works as a login's, refreshes and logs out, and
every audit row of its requests names the acting user, as does the LOGIN row of the session; a
second factor of the target does not apply; every refusal (another tenant's user, a system
administrator, a fellow tenant administrator, an account not active, a customer user asking, the
setting user_token_access_enabled off) with its message and its FAILURE row; the tokens die with
the acting user's sessions, and make no API key; their requests spend the acting user's rate
limit."""

import time
import uuid

from helpers import (
    DEFAULT_PASSWORD, Env, FORBIDDEN, SYSADMIN_EMAIL, check, eid, expect, make_customer, make_customer_user,
    make_tenant_admin, run_tests, tenant_events, unique)

SYS_ONLY = "A system administrator can only log in as a tenant administrator"
TENANT_ONLY = "A tenant administrator can only log in as a customer user of its tenant"
NOT_ACTIVE = "User account is not active"


def sys_user_id(env):
    """The system administrator's id, from an audit row of its own login."""
    rows = env.c.ok("audit.list", {"pageSize": 100, "page": 0}, token=env.sys_token)["data"]
    return next(eid(r["userId"]) for r in rows if r["userName"] == SYSADMIN_EMAIL)


def rows_of(c, token, **filters):
    return c.ok("audit.list", dict({"pageSize": 100, "page": 0}, **filters), token=token)["data"]


def tenant_with_user(env):
    """A tenant administrator, a customer of its tenant and an activated customer user of it."""
    ta = make_tenant_admin(env.c, env.sys_token)
    cust = make_customer(env.c, ta.token, title=unique("Login as"))
    cu = make_customer_user(env.c, ta.token, eid(cust["id"]))
    return ta, cu


def test_sysadmin_logs_in_as_a_tenant_admin(env):
    c = env.c
    ta, _ = tenant_with_user(env)
    pair = c.ok("user.token", {"userId": ta.user_id}, token=env.sys_token)
    check(sorted(pair) == ["expiresIn", "refreshToken", "token"] and pair["token"].startswith("cma_")
          and pair["refreshToken"].startswith("cmr_") and pair["expiresIn"] > 0, "auth.login's shape", pair)
    me = c.ok("user.get", {"id": ta.user_id}, token=pair["token"])
    check(me["email"] == ta.email, "the pair is the tenant administrator's", me)
    made = c.ok("customer.create", {"title": unique("Made as")}, token=pair["token"])
    sys_id = sys_user_id(env)
    ev = [e for e in tenant_events(c, ta.token) if e["originator"]["id"] == eid(made["id"])]
    check(len(ev) == 1 and ev[0]["metadata"]["userId"] == ta.user_id and ev[0]["metadata"]["actingUserId"] == sys_id
          and ev[0]["metadata"]["actingUserName"] == SYSADMIN_EMAIL, "the event names the acting user", ev)
    rows = rows_of(c, ta.token, entityType="CUSTOMER", entityId=eid(made["id"]))
    check(len(rows) == 1 and eid(rows[0]["userId"]) == ta.user_id and eid(rows[0]["actingUserId"]) == sys_id
          and rows[0]["actingUserName"] == SYSADMIN_EMAIL, "the request's row names the acting user", rows)
    login = [r for r in rows_of(c, ta.token, entityType="USER", entityId=ta.user_id)
             if r["actionType"] == "LOGIN" and r["actingUserId"] is not None]
    check(len(login) == 1 and login[0]["actionStatus"] == "SUCCESS" and eid(login[0]["userId"]) == ta.user_id
          and login[0]["userName"] == ta.email and eid(login[0]["actingUserId"]) == sys_id
          and login[0]["actingUserName"] == SYSADMIN_EMAIL and eid(login[0]["tenantId"]) == ta.tenant_id,
          "the LOGIN row names both users, in the tenant's log", login)
    # the tenant administrator's own requests name no acting user
    own = c.ok("customer.create", {"title": unique("Made by")}, token=ta.token)
    ev = [e for e in tenant_events(c, ta.token) if e["originator"]["id"] == eid(own["id"])]
    check("actingUserId" not in ev[0]["metadata"], "a plain session's event", ev)
    rows = rows_of(c, ta.token, entityType="CUSTOMER", entityId=eid(own["id"]))
    check(rows[0]["actingUserId"] is None and rows[0]["actingUserName"] is None, "a plain session's row", rows)
    # what the system administrator did in the tenant, and only that
    acted = rows_of(c, ta.token, actingUserId=sys_id)
    check([r["actionType"] for r in acted] == ["ADDED", "LOGIN"] and eid(acted[0]["entityId"]) == eid(made["id"]),
          "audit.list by actingUserId", acted)
    # a refresh keeps the acting user; logout ends the session as a login's
    fresh = c.ok("auth.refresh", {"refreshToken": pair["refreshToken"]})
    expect(c.request("user.get", {"id": ta.user_id}, token=pair["token"]), 401, 10)
    again = c.ok("customer.create", {"title": unique("Made after refresh")}, token=fresh["token"])
    rows = rows_of(c, ta.token, entityType="CUSTOMER", entityId=eid(again["id"]))
    check(eid(rows[0]["actingUserId"]) == sys_id, "refreshed, still acting", rows)
    c.ok("auth.logout", token=fresh["token"])
    expect(c.request("user.get", {"id": ta.user_id}, token=fresh["token"]), 401, 10, "Invalid or revoked token")
    expect(c.request("auth.refresh", {"refreshToken": fresh["refreshToken"]}), 401, 10)


def test_tenant_admin_logs_in_as_its_customer_user(env):
    c = env.c
    ta, cu = tenant_with_user(env)
    pair = c.ok("user.token", {"userId": cu.user_id}, token=ta.token)
    me = c.ok("user.update", dict({k: v for k, v in cu.user.items() if k != "version"}, firstName="Renamed"),
              token=pair["token"])
    check(me["firstName"] == "Renamed", "acts as the customer user", me)
    rows = rows_of(c, ta.token, entityType="USER", entityId=cu.user_id)
    upd = [r for r in rows if r["actionType"] == "UPDATED"]
    check(len(upd) == 1 and eid(upd[0]["userId"]) == cu.user_id and eid(upd[0]["actingUserId"]) == ta.user_id
          and upd[0]["actingUserName"] == ta.email, "the update's row", upd)
    login = [r for r in rows if r["actionType"] == "LOGIN" and r["actingUserId"] is not None]
    check(len(login) == 1 and eid(login[0]["userId"]) == cu.user_id and eid(login[0]["customerId"]) == cu.customer_id
          and eid(login[0]["actingUserId"]) == ta.user_id, "the LOGIN row", login)
    # what the customer user may not do, its session may not either
    expect(c.request("customer.create", {"title": unique("No")}, token=pair["token"]), 403, 20, FORBIDDEN)
    # no API key from such a session: it would outlive it without naming who acts
    expect(c.request("apiKey.create", {"description": "escape"}, token=pair["token"]), 403, 20,
           "An API key can't be created with a token of user.token")


def test_a_session_got_this_way_acts_for_the_first_user(env):
    c = env.c
    ta, cu = tenant_with_user(env)
    as_ta = c.ok("user.token", {"userId": ta.user_id}, token=env.sys_token)["token"]
    as_cu = c.ok("user.token", {"userId": cu.user_id}, token=as_ta)["token"]
    c.ok("user.get", {"id": cu.user_id}, token=as_cu)
    login = [r for r in rows_of(c, ta.token, entityType="USER", entityId=cu.user_id)
             if r["actionType"] == "LOGIN" and r["actingUserId"] is not None]
    check(len(login) == 1 and eid(login[0]["actingUserId"]) == sys_user_id(env), "the system administrator acts",
          login)


def test_second_factor_of_the_target_does_not_apply(env):
    c = env.c
    ta, cu = tenant_with_user(env)
    c.ok("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=cu.token)
    d = c.ok("auth.login", {"email": cu.email, "password": DEFAULT_PASSWORD})
    check(d["scope"] == "PRE_VERIFICATION_TOKEN", "its own login asks for a code", d)
    pair = c.ok("user.token", {"userId": cu.user_id}, token=ta.token)
    check(pair["refreshToken"].startswith("cmr_"), "a pair at once", pair)
    c.ok("user.get", {"id": cu.user_id}, token=pair["token"])


def test_refusals(env):
    c = env.c
    ta, cu = tenant_with_user(env)
    other_ta, other_cu = tenant_with_user(env)
    peer = make_tenant_admin(c, env.sys_token, tenant_id=ta.tenant_id)
    sys_id = sys_user_id(env)
    cases = [
        (ta.token, other_cu.user_id, 403, 20, FORBIDDEN),        # another tenant's customer user
        (ta.token, other_ta.user_id, 403, 20, FORBIDDEN),        # another tenant's administrator
        (ta.token, sys_id, 403, 20, FORBIDDEN),                  # a system administrator
        (ta.token, peer.user_id, 403, 20, TENANT_ONLY),          # a fellow tenant administrator
        (ta.token, ta.user_id, 403, 20, TENANT_ONLY),            # itself
        (env.sys_token, sys_id, 403, 20, SYS_ONLY),              # a system administrator (itself)
        (env.sys_token, cu.user_id, 403, 20, FORBIDDEN),         # a customer user
        (cu.token, cu.user_id, 403, 20, FORBIDDEN),              # a customer user asking
        (ta.token, str(uuid.uuid4()), 404, 32, None),
    ]
    for token, target, status, code, message in cases:
        expect(c.request("user.token", {"userId": target}, token=token), status, code, message, context=target)
    pending = make_customer_user(c, ta.token, cu.customer_id, activate=False)
    expect(c.request("user.token", {"userId": pending.user_id}, token=ta.token), 403, 20, NOT_ACTIVE)
    disabled = make_customer_user(c, ta.token, cu.customer_id)
    c.ok("user.setEnabled", {"id": disabled.user_id, "enabled": False}, token=ta.token)
    expect(c.request("user.token", {"userId": disabled.user_id}, token=ta.token), 403, 20, NOT_ACTIVE)
    expect(c.request("user.token", {}, token=ta.token), 400, 31, "'userId' is required")
    expect(c.request("user.token", {"userId": "nope"}, token=ta.token), 400, 31, "Invalid UUID string: nope")
    expect(c.request("user.token", {"userId": cu.user_id, "id": cu.user_id}, token=ta.token), 400, 31,
           "Unknown key 'id' in data")
    expect(c.request("user.token", {"userId": cu.user_id}), 401, 10)
    failed = [r for r in rows_of(c, ta.token, entityType="USER")
              if r["actionType"] == "LOGIN" and r["actionStatus"] == "FAILURE"]
    check(any(eid(r["entityId"]) == peer.user_id and r["actionFailureDetails"] == TENANT_ONLY
              and eid(r["userId"]) == ta.user_id for r in failed), "a refusal's FAILURE row", failed)
    check(any(eid(r["entityId"]) == disabled.user_id and r["actionFailureDetails"] == NOT_ACTIVE for r in failed),
          "the inactive target's FAILURE row", failed)


def test_tokens_die_with_the_acting_users_sessions(env):
    c = env.c
    ta, cu = tenant_with_user(env)
    pair = c.ok("user.token", {"userId": cu.user_id}, token=ta.token)
    c.ok("user.get", {"id": cu.user_id}, token=pair["token"])
    c.ok("auth.changePassword", {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Other-pass-77"},
         token=ta.token)
    expect(c.request("user.get", {"id": cu.user_id}, token=pair["token"]), 401, 10, "Invalid or revoked token")
    expect(c.request("auth.refresh", {"refreshToken": pair["refreshToken"]}), 401, 10)
    ta_token = c.login(ta.email, "Other-pass-77")
    pair = c.ok("user.token", {"userId": cu.user_id}, token=ta_token)
    c.ok("user.setEnabled", {"id": ta.user_id, "enabled": False}, token=env.sys_token)
    expect(c.request("user.get", {"id": cu.user_id}, token=pair["token"]), 401, 10)
    # the target's own sessions are its own: disabling it ends the one got for it too
    c.ok("user.setEnabled", {"id": ta.user_id, "enabled": True}, token=env.sys_token)
    pair = c.ok("user.token", {"userId": cu.user_id}, token=c.login(ta.email, "Other-pass-77"))
    c.ok("user.setEnabled", {"id": cu.user_id, "enabled": False}, token=c.login(ta.email, "Other-pass-77"))
    expect(c.request("user.get", {"id": cu.user_id}, token=pair["token"]), 401, 10)


def test_setting_off_refuses_everyone(_shared_env):
    """An agent of its own, with the setting off."""
    with Env(agent_extra={"user_token_access_enabled": 0}) as env:
        c = env.c
        ta, cu = tenant_with_user(env)
        expect(c.request("user.token", {"userId": ta.user_id}, token=env.sys_token), 403, 20, FORBIDDEN)
        expect(c.request("user.token", {"userId": cu.user_id}, token=ta.token), 403, 20, FORBIDDEN)
        # unknown ids too: the setting is checked before the user is looked up (ThingsBoard's order)
        expect(c.request("user.token", {"userId": str(uuid.uuid4())}, token=ta.token), 403, 20, FORBIDDEN)
        failed = [r for r in rows_of(c, ta.token, entityType="USER", entityId=cu.user_id)
                  if r["actionType"] == "LOGIN" and r["actionStatus"] == "FAILURE"]
        check(len(failed) == 1 and eid(failed[0]["userId"]) == ta.user_id
              and failed[0]["actionFailureDetails"] == FORBIDDEN, "the refusal's row", failed)


def test_the_acting_user_spends_its_own_rate_limit(_shared_env):
    """rate_limit_per_second is charged to the user who acts: a session of user.token spends its
    asker's budget, so it neither throttles the target's own sessions nor adds a budget."""
    with Env(agent_extra={"rate_limit_per_second": 3}) as env:
        c = env.c
        ta, cu = tenant_with_user(env)
        time.sleep(1.1)  # the setup's requests spent the tenant administrator's second
        pair = c.ok("user.token", {"userId": cu.user_id}, token=ta.token)
        statuses = [c.request("user.get", {"id": cu.user_id}, token=pair["token"])["status"] for _ in range(8)]
        check(429 in statuses, "the pair's budget runs out", statuses)
        expect(c.request("user.get", {"id": cu.user_id}, token=cu.token), 200,
               context="the target's own session keeps its budget")
        own = [c.request("user.get", {"id": ta.user_id}, token=ta.token)["status"] for _ in range(2)]
        check(429 in own, "the asker's own session shares the budget the pair spent", own)


if __name__ == "__main__":
    run_tests(globals(), Env)
