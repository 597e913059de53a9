"""test_users_auth.py: tenants (system administrator only), users of every authority, the
activation flow, login / refresh / logout / password change, API keys, enabling and disabling,
and who may read or change which user (ThingsBoard CE rules)."""

import time
import uuid

from helpers import (
    DEFAULT_PASSWORD, Env, FORBIDDEN, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, activation_token_of, check,
    eid, expect, make_customer, make_customer_user, make_tenant, make_tenant_admin, run_tests, unique,
    unique_email
)


def ping_with(c, token):
    """A cheap authenticated call: reads the caller's own operation table."""
    return c.request("agent.ops", token=token)


# ---------------------------------------------------------------------------------------------
# tenants


def test_tenant_crud_by_sysadmin(env):
    c = env.c
    t = make_tenant(c, env.sys_token, title=unique("Tenant CRUD"), country="UA", email="t@example.com",
                    limits={"maxCustomers": 5})
    tid = eid(t["id"])
    check(t["version"] == 1 and t["title"].startswith("Tenant CRUD") and t["country"] == "UA", "tenant", t)
    check((t.get("limits") or {}).get("maxCustomers") == 5, "limits", t)
    got = expect(c.request("tenant.get", {"id": tid}, token=env.sys_token), 200)
    check(got == t, "tenant.get differs", t, got)
    upd = expect(c.request("tenant.update", dict(t, title=t["title"] + " renamed"), token=env.sys_token), 200)
    check(upd["title"].endswith(" renamed") and upd["version"] == 2, "tenant.update", upd)
    expect(c.request("tenant.update", dict(t, title="stale"), token=env.sys_token), 409, 35)
    lst = expect(c.request("tenant.list", {"pageSize": 100, "page": 0, "textSearch": "Tenant CRUD"},
                           token=env.sys_token), 200)
    check(any(eid(x["id"]) == tid for x in lst["data"]), "tenant.list", lst)
    expect(c.request("tenant.create", {"title": ""}, token=env.sys_token), 400, 31, "Tenant title should be specified!")
    expect(c.request("tenant.delete", {"id": tid}, token=env.sys_token), 200)
    expect(c.request("tenant.get", {"id": tid}, token=env.sys_token), 404, 32,
           "Tenant with id [%s] is not found" % tid)


def test_tenant_ops_forbidden_to_others(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    for tok in (ta.token, u.token):
        expect(c.request("tenant.create", {"title": unique("Nope")}, token=tok), 403, 20, FORBIDDEN)
        expect(c.request("tenant.list", {"pageSize": 10, "page": 0}, token=tok), 403, 20)
        expect(c.request("tenant.get", {"id": ta.tenant_id}, token=tok), 403, 20)
        expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=tok), 403, 20)
    expect(c.request("tenant.get", {"id": ta.tenant_id}, token=env.sys_token), 200)


def test_tenant_delete_removes_everything(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    expect(c.request("tenant.delete", {"id": ta.tenant_id}, token=env.sys_token), 200)
    for tok in (ta.token, u.token):
        expect(ping_with(c, tok), 401, 10, context="token of a user of a deleted tenant")
    expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 401)
    expect(c.request("user.get", {"id": ta.user_id}, token=env.sys_token), 404, 32)


# ---------------------------------------------------------------------------------------------
# users and activation


def test_user_create_and_activation(env):
    c = env.c
    t = make_tenant(c, env.sys_token)
    tid = eid(t["id"])
    email = unique_email("admin")
    user = expect(c.request("user.create", {"email": email, "authority": "TENANT_ADMIN", "tenantId": tid,
                                            "firstName": "Ada", "lastName": "Admin"}, token=env.sys_token), 200)
    uid = eid(user["id"])
    check(user["email"] == email and user["authority"] == "TENANT_ADMIN" and eid(user["tenantId"]) == tid,
          "user fields", user)
    check(user.get("name") == email and user.get("version") == 1, "name/version", user)
    # not activated yet: no login
    expect(c.request("auth.login", {"email": email, "password": DEFAULT_PASSWORD}), 401)
    info = expect(c.request("user.get", {"id": uid}, token=env.sys_token), 200)["additionalInfo"]
    check(info.get("userActivated") is False and info.get("userCredentialsEnabled") is False,
          "user.get additionalInfo before activation", info)
    link = expect(c.request("user.activationLink", {"id": uid}, token=env.sys_token), 200)
    check(link["value"].startswith("http://localhost:8080/api/noauth/activate?activateToken="), "link", link)
    check(0 < link["ttlMs"] <= 24 * 3600 * 1000, "ttlMs", link)
    tok = activation_token_of(link["value"])
    check(len(tok) >= 20, "activation token too short: %r" % tok)
    expect(c.request("auth.checkActivateToken", {"activateToken": tok}), 200)
    expect(c.request("auth.checkActivateToken", {"activateToken": "unknown-" + tok}), 409)
    # password policy: 6..72 characters
    expect(c.request("auth.activate", {"activateToken": tok, "password": "12345"}), 400, 31)
    expect(c.request("auth.activate", {"activateToken": tok, "password": "x" * 73}), 400, 31)
    pair = expect(c.request("auth.activate", {"activateToken": tok, "password": DEFAULT_PASSWORD}), 200)
    check(pair.get("token") and pair.get("refreshToken") and isinstance(pair.get("expiresIn"), int),
          "token pair", pair)
    check(pair["token"] != pair["refreshToken"], "token and refresh token are the same", pair)
    expect(ping_with(c, pair["token"]), 200, context="the activation's access token")
    # the activation token is spent
    expect(c.request("auth.activate", {"activateToken": tok, "password": DEFAULT_PASSWORD}), 400, 31)
    expect(c.request("auth.checkActivateToken", {"activateToken": tok}), 409)
    expect(c.request("user.activationLink", {"id": uid}, token=env.sys_token), 400, 31, "User is already activated!")
    info = expect(c.request("user.get", {"id": uid}, token=env.sys_token), 200)["additionalInfo"]
    check(info.get("userActivated") is True and info.get("userCredentialsEnabled") is True,
          "user.get additionalInfo after activation", info)
    c.login(email, DEFAULT_PASSWORD)


def test_user_validation(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    expect(c.request("user.create", {"email": ta.email, "authority": "TENANT_ADMIN"}, token=ta.token), 400, 31,
           "User with email '%s' already present in database!" % ta.email)
    # e-mail is unique across tenants
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("user.create", {"email": ta.email, "authority": "CUSTOMER_USER",
                                     "customerId": eid(make_customer(c, other.token)["id"])}, token=other.token),
           400, 31, "User with email '%s' already present in database!" % ta.email)
    expect(c.request("user.create", {"authority": "CUSTOMER_USER", "customerId": eid(cu["id"])}, token=ta.token),
           400, 31, "User email should be specified!")
    expect(c.request("user.create", {"email": "bad-email", "authority": "CUSTOMER_USER",
                                     "customerId": eid(cu["id"])}, token=ta.token),
           400, 31, "Invalid email address format 'bad-email'!")
    expect(c.request("user.create", {"email": unique_email(), "customerId": eid(cu["id"])}, token=ta.token),
           400, 31, "User authority isn't defined!")
    expect(c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER"}, token=ta.token),
           400, 31, "Customer user should be assigned to customer!")
    expect(c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER",
                                     "customerId": str(uuid.uuid4())}, token=ta.token),
           400, 31, "User is referencing to non-existent customer!")
    foreign_customer = make_customer(c, other.token)
    r = c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER",
                                  "customerId": eid(foreign_customer["id"])}, token=ta.token)
    check(r.get("status") in (400, 403), "a customer of another tenant was accepted", r)
    expect(c.request("user.create", {"email": unique_email(), "authority": "TENANT_ADMIN",
                                     "customerId": eid(cu["id"])}, token=ta.token),
           400, 31, "Tenant administrator can't be assigned to customer!")
    expect(c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER",
                                     "customerId": eid(cu["id"]), "firstName": "f" * 256}, token=ta.token),
           400, 31, "Validation error: first name length must be equal or less than 255")
    # a tenant admin cannot create a system administrator
    r = c.request("user.create", {"email": unique_email(), "authority": "SYS_ADMIN"}, token=ta.token)
    check(r.get("status") in (400, 403), "a tenant admin created a SYS_ADMIN", r)


def test_user_update_rules(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    other_cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    doc = expect(c.request("user.get", {"id": u.user_id}, token=ta.token), 200)
    r = expect(c.request("user.update", dict(doc, firstName="Renamed"), token=ta.token), 200)
    check(r["firstName"] == "Renamed" and r["version"] == doc["version"] + 1, "user.update", r)
    expect(c.request("user.update", dict(r, authority="TENANT_ADMIN", customerId=None), token=ta.token), 400, 31,
           "Can't update user authority!")
    expect(c.request("user.update", dict(r, customerId=eid(other_cu["id"])), token=ta.token), 400, 31,
           "Can't update user customer id!")
    expect(c.request("user.update", dict(doc, firstName="Stale"), token=ta.token), 409, 35)
    unchanged = expect(c.request("user.get", {"id": u.user_id}, token=ta.token), 200)
    check(unchanged["authority"] == "CUSTOMER_USER" and unchanged["firstName"] == "Renamed", "user changed", unchanged)


def test_login_refresh_logout(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    expect(c.request("auth.login", {"email": ta.email, "password": "wrong-password"}), 401, 10)
    r_unknown = c.request("auth.login", {"email": unique_email("nobody"), "password": "whatever1"})
    expect(r_unknown, 401, 10)
    r_wrong = c.request("auth.login", {"email": ta.email, "password": "wrong-password"})
    check(r_unknown["message"] == r_wrong["message"], "login errors must not tell which part was wrong",
          r_unknown, r_wrong)
    pair = expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 200)
    check(pair["expiresIn"] > 0, "expiresIn", pair)
    expect(ping_with(c, pair["token"]), 200)
    # a refresh token is not an access token
    expect(ping_with(c, pair["refreshToken"]), 401)
    new = expect(c.request("auth.refresh", {"refreshToken": pair["refreshToken"]}), 200)
    check(new["token"] != pair["token"] and new["refreshToken"] != pair["refreshToken"], "refresh gives a new pair",
          pair, new)
    expect(ping_with(c, new["token"]), 200)
    expect(c.request("auth.refresh", {"refreshToken": pair["refreshToken"]}), 401, context="old refresh token")
    expect(ping_with(c, pair["token"]), 401, context="access token of the refreshed pair")
    expect(c.request("auth.refresh", {"refreshToken": new["token"]}), 401, context="access token as refresh token")
    expect(c.request("auth.refresh", {"refreshToken": "garbage"}), 401)
    # logout revokes the calling token (and its refresh token), not the others
    other = expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 200)
    expect(c.request("auth.logout", token=new["token"]), 200)
    expect(ping_with(c, new["token"]), 401, 10, context="token after logout")
    expect(c.request("auth.refresh", {"refreshToken": new["refreshToken"]}), 401, context="refresh after logout")
    expect(ping_with(c, other["token"]), 200, context="another session survives a logout")


def test_change_password(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    token = ta.token
    r = c.request("auth.changePassword", {"currentPassword": "not-the-password", "newPassword": "NewPassw0rd!"},
                  token=token)
    check(r.get("status") in (400, 401), "wrong current password accepted", r)
    expect(c.request("auth.changePassword", {"currentPassword": ta.password, "newPassword": "123"}, token=token),
           400, 31)
    pair = expect(c.request("auth.changePassword", {"currentPassword": ta.password, "newPassword": "NewPassw0rd!"},
                            token=token), 200)
    expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 401, context="old password")
    c.login(ta.email, "NewPassw0rd!")
    if isinstance(pair, dict) and pair.get("token"):
        expect(ping_with(c, pair["token"]), 200, context="the pair returned by changePassword")


def test_api_keys(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    k = expect(c.request("apiKey.create", {"description": "ci key"}, token=ta.token), 200)
    check(k.get("id") and k.get("key"), "apiKey.create", k)
    kid = eid(k["id"])
    cu = make_customer(c, k["key"])  # the key acts as its owner
    expect(c.request("customer.get", {"id": eid(cu["id"])}, token=k["key"]), 200)
    lst = expect(c.request("apiKey.list", token=ta.token), 200)
    check(isinstance(lst, list) and any(eid(x["id"]) == kid for x in lst), "apiKey.list", lst)
    check(all("key" not in x for x in lst), "apiKey.list must not show secrets", lst)
    check(any(x.get("description") == "ci key" for x in lst), "description", lst)
    # another user does not see or delete it
    tb = make_tenant_admin(c, env.sys_token)
    lst_b = expect(c.request("apiKey.list", token=tb.token), 200)
    check(all(eid(x["id"]) != kid for x in lst_b), "another user's key is listed", lst_b)
    expect(c.request("apiKey.delete", {"id": kid}, token=tb.token), 404, 32)
    expect(c.request("apiKey.delete", {"id": kid}, token=ta.token), 200)
    expect(ping_with(c, k["key"]), 401, 10, context="deleted API key")
    expect(c.request("apiKey.delete", {"id": kid}, token=ta.token), 404, 32)
    # logout with an API key does not revoke it
    k2 = expect(c.request("apiKey.create", {}, token=ta.token), 200)
    c.request("auth.logout", token=k2["key"])
    expect(ping_with(c, k2["key"]), 200, context="API key after auth.logout")


def test_expired_and_invalid_tokens(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    k = expect(c.request("apiKey.create", {"description": "short", "expiresIn": 1500}, token=ta.token), 200)
    expect(ping_with(c, k["key"]), 200, context="fresh short-lived key")
    time.sleep(2.5)
    expect(ping_with(c, k["key"]), 401, 11, context="expired API key")
    expect(ping_with(c, "cma_" + "x" * 40), 401, 10)
    expect(ping_with(c, ta.token + "x"), 401, 10)
    expect(ping_with(c, ta.token[:-1]), 401, 10)


def test_set_enabled(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    key = expect(c.request("apiKey.create", {"description": "k"}, token=u.token), 200)["key"]
    expect(c.request("user.setEnabled", {"id": u.user_id, "enabled": False}, token=ta.token), 200)
    expect(ping_with(c, u.token), 401, context="token of a disabled user")
    expect(ping_with(c, key), 401, context="API key of a disabled user")
    expect(c.request("auth.login", {"email": u.email, "password": u.password}), 401, context="login while disabled")
    info = expect(c.request("user.get", {"id": u.user_id}, token=ta.token), 200)["additionalInfo"]
    check(info["userCredentialsEnabled"] is False and info["userActivated"] is True, "disabled user info", info)
    expect(c.request("user.setEnabled", {"id": u.user_id, "enabled": True}, token=ta.token), 200)
    token = c.login(u.email, u.password)
    expect(ping_with(c, token), 200)
    expect(ping_with(c, u.token), 401, context="a token revoked by disabling stays revoked")
    # a never-activated user cannot be enabled
    fresh = make_customer_user(c, ta.token, eid(cu["id"]), activate=False)
    r = c.request("user.setEnabled", {"id": fresh.user_id, "enabled": True}, token=ta.token)
    expect(r, 400, 31, context="enable a never-activated user")
    info = expect(c.request("user.get", {"id": fresh.user_id}, token=ta.token), 200)["additionalInfo"]
    check(info["userCredentialsEnabled"] is False and info["userActivated"] is False, "fresh user info", info)
    # only admins enable or disable
    expect(c.request("user.setEnabled", {"id": u.user_id, "enabled": False}, token=token), 403, 20)
    # the system administrator handles tenant admins, not customer users
    expect(c.request("user.setEnabled", {"id": ta.user_id, "enabled": False}, token=env.sys_token), 200)
    expect(ping_with(c, ta.token), 401)
    expect(c.request("user.setEnabled", {"id": ta.user_id, "enabled": True}, token=env.sys_token), 200)


def test_activation_link_info(env):
    """user.activationLinkInfo (ThingsBoard's /user/{id}/activationLinkInfo): the link and its
    remaining lifetime, which counts down; the same token as user.activationLink; spent once activated."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]), activate=False)
    first = expect(c.request("user.activationLinkInfo", {"id": u.user_id}, token=ta.token), 200)
    check(set(first) == {"value", "ttlMs"}, "activationLinkInfo members", first)
    check(first["value"].startswith("http://localhost:8080/api/noauth/activate?activateToken="), "link", first)
    check(24 * 3600 * 1000 - 60000 < first["ttlMs"] <= 24 * 3600 * 1000, "ttlMs of a fresh token", first)
    time.sleep(0.05)
    again = expect(c.request("user.activationLinkInfo", {"id": u.user_id}, token=ta.token), 200)
    check(again["value"] == first["value"] and again["ttlMs"] < first["ttlMs"], "ttlMs counts down", first, again)
    plain = expect(c.request("user.activationLink", {"id": u.user_id}, token=ta.token), 200)
    check(plain["value"] == first["value"], "both operations give the same link", plain, first)
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("user.activationLinkInfo", {"id": u.user_id}, token=other.token), 403, 20)
    expect(c.request("user.activationLinkInfo", {"id": str(uuid.uuid4())}, token=ta.token), 404, 32)
    expect(c.request("user.activationLinkInfo", {"id": u.user_id}, token=None), 401)
    expect(c.request("auth.activate", {"activateToken": activation_token_of(first["value"]),
                                       "password": DEFAULT_PASSWORD}), 200)
    expect(c.request("user.activationLinkInfo", {"id": u.user_id}, token=ta.token), 400, 31,
           "User is already activated!")


def test_user_search_by_email_and_names(env):
    """user.list / customer.users textSearch as ThingsBoard's /users/info: the text within the
    e-mail, the first name or the last name, ASCII case ignored; '%' and '_' are literal."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    tag = unique("s").lower().replace("-", "")
    people = [("ada." + tag + "@lovelace.example", "Ada", "Byron"), ("grace@" + tag + ".example", "Grace", "Hopper"),
              ("x1-" + tag + "@example.com", "Qlorpx" + tag, "Nobody"), ("x2-" + tag + "@example.com", "Zed", "Vrask" + tag),
              ("100%_" + tag + "@example.com", "Per", "Cent")]
    ids = {}
    for email, first, last in people:
        u = c.ok("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": cid,
                                 "firstName": first, "lastName": last}, token=ta.token)
        ids[email] = eid(u["id"])

    def found(op, text, **extra):
        d = dict(extra, pageSize=100, page=0, textSearch=text, sortProperty="email", sortOrder="ASC")
        page = expect(c.request(op, d, token=ta.token), 200)
        check(page["totalElements"] == len(page["data"]), "totalElements counts the matches", page)
        return [u["email"] for u in page["data"]]

    emails = sorted(p[0] for p in people)
    check(found("user.list", tag) == emails, "every user of the tag, by e-mail or a name", found("user.list", tag))
    check(found("user.list", "qlorpx" + tag.upper()) == [people[2][0]], "first name, case ignored")
    check(found("user.list", "VRASK" + tag) == [people[3][0]], "last name, case ignored")
    check(found("user.list", "lovelace.EXAMPLE") == [people[0][0]], "part of an e-mail")
    check(found("customer.users", "qlorpx" + tag, customerId=cid) == [people[2][0]], "customer.users searches names")
    check(found("user.list", "100%_" + tag) == [people[4][0]], "'%' and '_' are literal")
    check(found("user.list", "%_" + tag + "@nowhere") == [], "no match")
    # a customer user searches only its own customer's users
    other = make_customer(c, ta.token)
    stranger = make_customer_user(c, ta.token, eid(other["id"]))
    page = expect(c.request("user.list", {"pageSize": 100, "page": 0, "textSearch": tag}, token=stranger.token), 200)
    check(page["totalElements"] == 0, "another customer's users are not found", page)


def test_sysadmin_cannot_delete_himself(env):
    c = env.c
    rows = expect(c.request("audit.list", {"pageSize": 50, "page": 0}, token=env.sys_token), 200)["data"]
    mine = [r for r in rows if r["actionType"] == "LOGIN" and r.get("userName") == SYSADMIN_EMAIL]
    check(mine, "the system administrator's login row names its id", rows)
    sys_id = eid(mine[0]["userId"])
    expect(c.request("user.delete", {"id": sys_id}, token=env.sys_token), 403, 20,
           "Sysadmin is not allowed to delete himself")
    expect(c.request("user.get", {"id": sys_id}, token=env.sys_token), 200)
    expect(ping_with(c, env.sys_token), 200, context="the system administrator still works")


def test_delete_users_and_last_tenant_admin(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    expect(c.request("user.delete", {"id": ta.user_id}, token=env.sys_token), 400, 31,
           "At least one tenant administrator must remain!")
    second = make_tenant_admin(c, env.sys_token, tenant_id=ta.tenant_id)
    expect(c.request("user.delete", {"id": second.user_id}, token=ta.token), 200)
    expect(ping_with(c, second.token), 401, context="token of a deleted user")
    expect(c.request("user.get", {"id": second.user_id}, token=ta.token), 404, 32,
           "User with id [%s] is not found" % second.user_id)
    expect(c.request("user.delete", {"id": ta.user_id}, token=ta.token), 400, 31,
           "At least one tenant administrator must remain!")
    # a customer user can be deleted by its tenant admin, not by another tenant's
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("user.delete", {"id": u.user_id}, token=other.token), 403, 20)
    expect(c.request("user.delete", {"id": u.user_id}, token=u.token), 403, 20)
    expect(c.request("user.delete", {"id": u.user_id}, token=ta.token), 200)
    expect(c.request("auth.login", {"email": u.email, "password": u.password}), 401)
    # the system administrator lists the tenant admins of a tenant
    me = expect(c.request("user.list", {"pageSize": 100, "page": 0, "tenantId": ta.tenant_id},
                          token=env.sys_token), 200)
    check(all(x["authority"] == "TENANT_ADMIN" for x in me["data"]), "sysadmin user.list shows tenant admins", me)


def test_customer_user_reads_own_customer_users_and_updates_itself(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    other = make_customer(c, ta.token)
    u1 = make_customer_user(c, ta.token, eid(cu["id"]))
    u2 = make_customer_user(c, ta.token, eid(cu["id"]))
    stranger = make_customer_user(c, ta.token, eid(other["id"]))
    got = expect(c.request("user.get", {"id": u2.user_id}, token=u1.token), 200, context="same customer's user")
    check(got["email"] == u2.email, "user.get", got)
    expect(c.request("user.get", {"id": stranger.user_id}, token=u1.token), 403, 20, FORBIDDEN)
    expect(c.request("user.get", {"id": ta.user_id}, token=u1.token), 403, 20)
    lst = expect(c.request("user.list", {"pageSize": 100, "page": 0}, token=u1.token), 200)
    check(sorted(x["email"] for x in lst["data"]) == sorted([u1.email, u2.email]),
          "a customer user lists the users of its own customer", lst)
    me = expect(c.request("user.get", {"id": u1.user_id}, token=u1.token), 200)
    r = expect(c.request("user.update", dict(me, lastName="Myself"), token=u1.token), 200, context="update itself")
    check(r["lastName"] == "Myself", "self update", r)
    # without tenantId, as ThingsBoard's UI sends it: the caller's tenant is filled in
    slim = {k: me[k] for k in ("id", "email", "authority", "customerId", "firstName")}
    r = expect(c.request("user.update", dict(slim, lastName="NoTenant"), token=u1.token), 200,
               context="customer user updates itself without tenantId")
    check(eid(r["tenantId"]) == ta.tenant_id and r["lastName"] == "NoTenant", "tenant filled in", r)
    # what user.get adds to additionalInfo from the credentials is not stored by saving it back
    me = expect(c.request("user.get", {"id": u1.user_id}, token=u1.token), 200)
    check("userActivated" in (me["additionalInfo"] or {}), "user.get shows the derived members", me)
    r = expect(c.request("user.update", dict(me, lastName="RoundTrip", additionalInfo=dict(
        me["additionalInfo"], description="desk 4")), token=u1.token), 200)
    lst = expect(c.request("user.list", {"pageSize": 100, "page": 0, "textSearch": u1.email}, token=u1.token), 200)
    info = lst["data"][0]["additionalInfo"]
    check(info == {"description": "desk 4"}, "derived members were stored in additionalInfo", info)
    peer = expect(c.request("user.get", {"id": u2.user_id}, token=u1.token), 200)
    expect(c.request("user.update", dict(peer, lastName="Hacked"), token=u1.token), 403, 20, FORBIDDEN)
    check(expect(c.request("user.get", {"id": u2.user_id}, token=ta.token), 200)["lastName"] != "Hacked",
          "a forbidden update changed the user")
    expect(c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER",
                                     "customerId": eid(cu["id"])}, token=u1.token), 403, 20)
    expect(c.request("user.activationLink", {"id": u2.user_id}, token=u1.token), 403, 20)
    expect(c.request("customer.users", {"customerId": eid(cu["id"]), "pageSize": 10, "page": 0}, token=u1.token),
           403, 20)


def test_customer_users_listing(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    other = make_customer(c, ta.token)
    emails = []
    for i in range(7):
        email = "list%d.%s" % (i, unique_email("member"))
        make_customer_user(c, ta.token, eid(cu["id"]), email=email, activate=False)
        emails.append(email)
    make_customer_user(c, ta.token, eid(other["id"]), activate=False)
    make_tenant_admin(c, env.sys_token, tenant_id=ta.tenant_id)
    seen, page = [], 0
    while True:
        d = expect(c.request("customer.users", {"customerId": eid(cu["id"]), "pageSize": 3, "page": page},
                             token=ta.token), 200)
        check(d["totalElements"] == 7 and d["totalPages"] == 3, "customer.users totals", d)
        seen += d["data"]
        if not d["hasNext"]:
            break
        page += 1
    check(sorted(x["email"] for x in seen) == sorted(emails), "customer.users lists only that customer's users", seen)
    check(all(x["authority"] == "CUSTOMER_USER" for x in seen), "only CUSTOMER_USER", seen)
    d = expect(c.request("customer.users", {"customerId": eid(cu["id"]), "pageSize": 10, "page": 0,
                                            "textSearch": "LIST3."}, token=ta.token), 200)
    check([x["email"] for x in d["data"]] == [emails[3]], "textSearch on email, case-insensitive", d)
    d = expect(c.request("customer.users", {"customerId": eid(cu["id"]), "pageSize": 10, "page": 0,
                                            "sortProperty": "email", "sortOrder": "DESC"}, token=ta.token), 200)
    check([x["email"] for x in d["data"]] == sorted(emails, reverse=True), "sort by email DESC", d)
    tb = make_tenant_admin(c, env.sys_token)
    expect(c.request("customer.users", {"customerId": eid(cu["id"]), "pageSize": 10, "page": 0}, token=tb.token),
           403, 20)
    unknown = str(uuid.uuid4())
    expect(c.request("customer.users", {"customerId": unknown, "pageSize": 10, "page": 0}, token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % unknown)


def test_sysadmin_scope(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(cu["id"]))
    expect(c.request("user.get", {"id": ta.user_id}, token=env.sys_token), 200)
    expect(c.request("user.get", {"id": u.user_id}, token=env.sys_token), 403, 20,
           context="the system administrator has no access to customer users")
    expect(c.request("user.create", {"email": unique_email(), "authority": "CUSTOMER_USER",
                                     "customerId": eid(cu["id"]), "tenantId": ta.tenant_id}, token=env.sys_token),
           403, 20)
    # tenant admins do not see system administrators
    lst = expect(c.request("user.list", {"pageSize": 100, "page": 0}, token=ta.token), 200)
    check(all(x["authority"] != "SYS_ADMIN" for x in lst["data"]), "SYS_ADMIN listed to a tenant admin", lst)
    check(any(x["email"] == u.email for x in lst["data"]) and any(x["email"] == ta.email for x in lst["data"]),
          "tenant admin user.list: all users of the tenant", lst)
    # and the system administrator still logs in after all of it
    expect(c.request("auth.login", {"email": SYSADMIN_EMAIL, "password": SYSADMIN_PASSWORD}), 200)


def test_user_events(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    time.sleep(0.3)
    mark = len(env.events.snapshot())
    u = make_customer_user(c, ta.token, eid(cu["id"]), activate=False)
    created = env.events.wait_for(lambda t, b: b.get("type") == "ENTITY_CREATED"
                                  and (b.get("originator") or {}).get("id") == u.user_id, what="user ENTITY_CREATED")
    t, b = created
    check(t == "cm/v1/event/%s/USER/ENTITY_CREATED" % ta.tenant_id, "user event topic", t, b)
    check(b["originator"]["entityType"] == "USER" and b["data"]["email"] == u.email, "user event", b)
    check(b.get("customerId") is None, "a user created by a tenant admin carries the caller's (null) customerId", b)
    link = expect(c.request("user.activationLink", {"id": u.user_id}, token=ta.token), 200)
    expect(c.request("auth.activate", {"activateToken": activation_token_of(link["value"]),
                                       "password": DEFAULT_PASSWORD}), 200)
    env.events.wait_for(lambda t, b: b.get("type") == "USER_ACTIVATED"
                        and (b.get("originator") or {}).get("id") == u.user_id, what="USER_ACTIVATED")
    expect(c.request("user.setEnabled", {"id": u.user_id, "enabled": False}, token=ta.token), 200)
    env.events.wait_for(lambda t, b: b.get("type") == "USER_DISABLED"
                        and (b.get("originator") or {}).get("id") == u.user_id, what="USER_DISABLED")
    expect(c.request("user.setEnabled", {"id": u.user_id, "enabled": True}, token=ta.token), 200)
    env.events.wait_for(lambda t, b: b.get("type") == "USER_ENABLED"
                        and (b.get("originator") or {}).get("id") == u.user_id, what="USER_ENABLED")
    # logins and failed writes add nothing
    c.login(u.email, DEFAULT_PASSWORD)
    expect(c.request("user.setEnabled", {"id": str(uuid.uuid4()), "enabled": False}, token=ta.token), 404, 32)
    time.sleep(0.5)
    mine = [b["type"] for _, b, _ in env.events.snapshot()[mark:] if b.get("tenantId") == ta.tenant_id]
    check(mine == ["ENTITY_CREATED", "USER_ACTIVATED", "USER_DISABLED", "USER_ENABLED"], "user events", mine)


if __name__ == "__main__":
    run_tests(globals(), Env)
