"""test_batch_mail.py: batches holding mailed commands (user.create with sendActivationMail,
user.sendActivationMail), against a real SMTP server (aiosmtpd on a free loopback port, the
environment of test_mail.py). Every mailed
command gets its own mail whose link activates exactly its own user; every command of a batch is
applied once; an atomic batch that fails, here or at its mail, keeps nothing and answers
committed:false."""

import time

from helpers import (
    DEFAULT_PASSWORD, check, eid, expect, last_seq, link_token, make_customer_user, run_tests, tenant_events,
    unique, unique_email)
from test_mail import new_env, world

OTHER_PASSWORD = "customer-chosen-9"


def mailed_user(email, authority, customer_id=None):
    data = {"email": email, "authority": authority, "sendActivationMail": True}
    if customer_id is not None:
        data["customerId"] = customer_id
    return {"op": "user.create", "data": data}


def customers_titled(c, token, title):
    page = c.ok("customer.list", {"pageSize": 100, "page": 0, "textSearch": title}, token=token)
    return [x for x in page["data"] if x["title"] == title]


def users_of_tenant(c, token):
    return {u["email"]: u for u in c.ok("user.list", {"pageSize": 100, "page": 0}, token=token)["data"]}


def test_each_mailed_user_of_a_batch_gets_its_own_mail_and_link(env):
    """The issue's example: a tenant administrator, then a customer user, both mailed, in one batch."""
    c = env.c
    ta, cid = world(env)
    admin2, cu = unique_email("admin2"), unique_email("cu")
    r = c.ok("batch", {"commands": [mailed_user(admin2, "TENANT_ADMIN"),
                                    mailed_user(cu, "CUSTOMER_USER", cid)]}, token=ta.token)
    check(r["committed"] is True and [x["status"] for x in r["responses"]] == [200, 200], "batch", r)
    admin2_id, cu_id = (eid(x["data"]["id"]) for x in r["responses"])
    check(admin2_id != cu_id, "two users, two ids", r)
    check(r["responses"][0]["data"]["email"] == admin2 and r["responses"][0]["data"]["authority"] == "TENANT_ADMIN",
          "first response is the administrator", r)

    admin2_mail, cu_mail = env.smtp.wait_mail(admin2), env.smtp.wait_mail(cu)
    _, admin2_token = link_token(admin2_mail["body"], "activateToken")
    _, cu_token = link_token(cu_mail["body"], "activateToken")
    check(admin2_token != cu_token, "each mail carries its own token", admin2_token, cu_token)
    time.sleep(0.3)
    check(len(env.smtp.mails_to(admin2)) == 1 and len(env.smtp.mails_to(cu)) == 1, "one mail each",
          [m["to"] for m in env.smtp.mails])
    # the stored pending tokens are the mailed ones, each on its own user
    for uid, tok in ((admin2_id, admin2_token), (cu_id, cu_token)):
        link = c.ok("user.activationLink", {"id": uid}, token=ta.token)["value"]
        check(link.endswith("activateToken=" + tok), "user %s has the token mailed to it" % uid, link, tok)
    stored = users_of_tenant(c, ta.token)
    check(eid(stored[admin2]["id"]) == admin2_id and stored[admin2]["authority"] == "TENANT_ADMIN" and
          eid(stored[cu]["id"]) == cu_id and stored[cu]["authority"] == "CUSTOMER_USER", "stored users", stored)

    # the customer user's link activates the customer user, not the administrator
    c.ok("auth.activate", {"activateToken": cu_token, "password": OTHER_PASSWORD})
    cu_session = c.login(cu, OTHER_PASSWORD)
    me = c.ok("user.get", {"id": cu_id}, token=cu_session)
    check(me["authority"] == "CUSTOMER_USER" and me["email"] == cu, "the link's session is the customer user's", me)
    expect(c.request("auth.login", {"email": admin2, "password": OTHER_PASSWORD}), 401, 10)
    expect(c.request("customer.create", {"title": unique("C")}, token=cu_session), 403, 20)
    expect(c.request("auth.activate", {"activateToken": cu_token, "password": DEFAULT_PASSWORD}), 400, 31)
    admin2_state = c.ok("user.get", {"id": admin2_id}, token=ta.token)
    check(admin2_state["additionalInfo"]["userActivated"] is False, "the administrator is still pending", admin2_state)

    # the administrator's own link activates the administrator
    c.ok("auth.activate", {"activateToken": admin2_token, "password": DEFAULT_PASSWORD})
    admin2_session = c.login(admin2, DEFAULT_PASSWORD)
    c.ok("customer.create", {"title": unique("C")}, token=admin2_session)


def test_non_atomic_batch_applies_every_command_once(env):
    c = env.c
    ta, cid = world(env)
    title, email = unique("Once"), unique_email("once")
    mark = last_seq(c, ta.token)
    r = c.ok("batch", {"commands": [{"op": "customer.create", "data": {"title": title}},
                                    mailed_user(email, "CUSTOMER_USER", cid)]}, token=ta.token)
    check(r["committed"] is True and [x["status"] for x in r["responses"]] == [200, 200], "batch", r)
    env.smtp.wait_mail(email)
    found = customers_titled(c, ta.token, title)
    check(len(found) == 1 and eid(found[0]["id"]) == eid(r["responses"][0]["data"]["id"]), "exactly one customer",
          found, r)
    evs = tenant_events(c, ta.token, mark)
    created = [e for e in evs if e["type"] == "ENTITY_CREATED"]
    check(sorted(e["originator"]["entityType"] for e in created) == ["CUSTOMER", "USER"] and len(evs) == 2,
          "one event per command", evs)
    check(created[0]["originator"]["id"] == eid(found[0]["id"]), "the customer's event names the kept customer",
          created)


def test_non_atomic_batch_a_failed_mail_fails_its_command_only(env):
    c = env.c
    ta, cid = world(env)
    good, bad, title = unique_email("good"), unique_email("reject"), unique("Kept")
    r = c.ok("batch", {"commands": [mailed_user(bad, "CUSTOMER_USER", cid),
                                    {"op": "customer.create", "data": {"title": title}},
                                    mailed_user(good, "CUSTOMER_USER", cid)]}, token=ta.token)
    check(r["committed"] is True, "committed", r)
    expect(r["responses"][0], 500, 2, "Couldn't send user activation email")
    check([x["status"] for x in r["responses"][1:]] == [200, 200], "the others applied", r)
    _, tok = link_token(env.smtp.wait_mail(good)["body"], "activateToken")
    stored = users_of_tenant(c, ta.token)
    check(bad not in stored and good in stored, "the user whose mail failed is not kept", sorted(stored))
    check(len(customers_titled(c, ta.token, title)) == 1, "one customer")
    c.ok("auth.activate", {"activateToken": tok, "password": DEFAULT_PASSWORD})
    c.login(good, DEFAULT_PASSWORD)


def test_atomic_batch_with_mails_commits_once(env):
    c = env.c
    ta, cid = world(env)
    title, email = unique("Atomic"), unique_email("atomic")
    mark = last_seq(c, ta.token)
    r = c.ok("batch", {"atomic": True, "commands": [{"op": "customer.create", "data": {"title": title}},
                                                    mailed_user(email, "CUSTOMER_USER", cid)]}, token=ta.token)
    check(r["committed"] is True and [x["status"] for x in r["responses"]] == [200, 200], "atomic batch", r)
    check(len(customers_titled(c, ta.token, title)) == 1, "exactly one customer")
    check(len(tenant_events(c, ta.token, mark)) == 2, "two events")
    _, tok = link_token(env.smtp.wait_mail(email)["body"], "activateToken")
    c.ok("auth.activate", {"activateToken": tok, "password": DEFAULT_PASSWORD})
    c.login(email, DEFAULT_PASSWORD)


def test_atomic_batch_that_fails_keeps_nothing(env):
    c = env.c
    ta, cid = world(env)
    mark = last_seq(c, ta.token)
    # a command fails: nothing kept, and no mail goes out for the rolled-back user
    title, email = unique("Gone"), unique_email("gone")
    r = c.ok("batch", {"atomic": True, "commands": [{"op": "customer.create", "data": {"title": title}},
                                                    mailed_user(email, "CUSTOMER_USER", cid),
                                                    {"op": "customer.create", "data": {"title": ""}}]},
             token=ta.token)
    check(r["committed"] is False, "committed false", r)
    check([x["status"] for x in r["responses"]] == [424, 424, 400], "responses", r)
    # the mail fails: nothing kept either, and the mail after it is not sent
    title2, bad, after = unique("Gone"), unique_email("reject"), unique_email("after")
    r = c.ok("batch", {"atomic": True, "commands": [{"op": "customer.create", "data": {"title": title2}},
                                                    mailed_user(bad, "CUSTOMER_USER", cid),
                                                    mailed_user(after, "CUSTOMER_USER", cid)]},
             token=ta.token)
    check(r["committed"] is False, "committed false after a failed mail", r)
    check([x["status"] for x in r["responses"]] == [424, 500, 424], "responses", r)
    expect(r["responses"][1], 500, 2, "Couldn't send user activation email")
    time.sleep(0.5)
    check(not customers_titled(c, ta.token, title) and not customers_titled(c, ta.token, title2),
          "no customer kept")
    stored = users_of_tenant(c, ta.token)
    check(not {email, bad, after} & set(stored), "no user kept", sorted(stored))
    check(not env.smtp.mails_to(email) and not env.smtp.mails_to(after), "no mail for a user that was never kept",
          [m["to"] for m in env.smtp.mails])
    check(tenant_events(c, ta.token, mark) == [], "no event", tenant_events(c, ta.token, mark))


def test_batch_of_activation_mails_again(env):
    c = env.c
    ta, cid = world(env)
    u1 = make_customer_user(c, ta.token, cid, activate=False)
    u2 = make_customer_user(c, ta.token, cid, activate=False)
    r = c.ok("batch", {"commands": [{"op": "user.sendActivationMail", "data": {"email": u1.email}},
                                    {"op": "user.sendActivationMail", "data": {"email": u2.email}}]},
             token=ta.token)
    check([x["status"] for x in r["responses"]] == [200, 200], "both sent", r)
    _, t1 = link_token(env.smtp.wait_mail(u1.email)["body"], "activateToken")
    _, t2 = link_token(env.smtp.wait_mail(u2.email)["body"], "activateToken")
    check(t1 != t2, "own tokens", t1, t2)
    c.ok("auth.activate", {"activateToken": t2, "password": OTHER_PASSWORD})
    c.login(u2.email, OTHER_PASSWORD)
    expect(c.request("auth.login", {"email": u1.email, "password": OTHER_PASSWORD}), 401, 10)
    c.ok("auth.activate", {"activateToken": t1, "password": DEFAULT_PASSWORD})
    c.login(u1.email, DEFAULT_PASSWORD)


if __name__ == "__main__":
    run_tests(globals(), new_env)
