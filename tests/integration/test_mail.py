"""test_mail.py: activation and password-reset mails through a real SMTP server (aiosmtpd on a free
loopback port): user.create with sendActivationMail, user.sendActivationMail, the failed-mail
rollback, that the writer never waits on SMTP, auth.resetPasswordByEmail and auth.resetPassword,
and bad input on each of these operations."""

import time

from helpers import (
    DEFAULT_PASSWORD, Env, check, eid, expect, link_token, make_customer, make_customer_user, make_tenant_admin,
    run_tests, unique_email)

BASE_URL = "https://cm.test.example"


def new_env():
    return Env(smtp=True, agent_extra={"base_url": BASE_URL})


def world(env):
    ta = make_tenant_admin(env.c, env.sys_token)
    cust = make_customer(env.c, ta.token)
    return ta, eid(cust["id"])


def test_create_with_mail_then_activate_from_the_link_and_login(env):
    c = env.c
    ta, cid = world(env)
    email = unique_email("mailed")
    user = c.ok("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": cid,
                                "sendActivationMail": True}, token=ta.token)
    check(user["email"] == email, "user.create", user)
    mail = env.smtp.wait_mail(email)
    check(mail["subject"] == "Your account activation", "subject", mail["subject"])
    link, token = link_token(mail["body"], "activateToken")
    check(link == BASE_URL + "/api/noauth/activate?activateToken=" + token, "link", link)
    check(len(token) == 40, "token length", token)
    check(mail["message"]["From"] == "cmagent@localhost", "From", str(mail["message"]["From"]))
    check("text/plain" in mail["message"]["Content-Type"], "content type", str(mail["message"]["Content-Type"]))
    expect(c.request("auth.checkActivateToken", {"activateToken": token}), 200)
    pair = c.ok("auth.activate", {"activateToken": token, "password": DEFAULT_PASSWORD})
    check(pair["token"], "activation pair", pair)
    c.login(email, DEFAULT_PASSWORD)
    got = c.ok("user.get", {"id": eid(user["id"])}, token=ta.token)
    check(got["additionalInfo"]["userActivated"] is True, "activated", got)


def test_tenant_admin_created_by_sysadmin_with_mail(env):
    c = env.c
    ta, _ = world(env)
    email = unique_email("ta-mailed")
    c.ok("user.create", {"email": email, "authority": "TENANT_ADMIN", "tenantId": ta.tenant_id,
                         "sendActivationMail": True}, token=env.sys_token)
    _, token = link_token(env.smtp.wait_mail(email)["body"], "activateToken")
    c.ok("auth.activate", {"activateToken": token, "password": DEFAULT_PASSWORD})
    c.login(email, DEFAULT_PASSWORD)


def test_failed_mail_keeps_nothing_and_answers_500(env):
    c = env.c
    ta, cid = world(env)
    email = unique_email("reject")
    before = len(env.events.snapshot())
    r = c.request("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": cid,
                                  "sendActivationMail": True}, token=ta.token)
    expect(r, 500, 2, "Couldn't send user activation email")
    users = c.ok("customer.users", {"customerId": cid, "pageSize": 100, "page": 0}, token=ta.token)
    check(all(u["email"] != email for u in users["data"]), "user was kept", users)
    expect(c.request("auth.login", {"email": email, "password": "whatever-1"}), 401, 10)
    time.sleep(0.3)
    created = [e for e in env.events.snapshot()[before:] if e[1].get("metadata", {}).get("entityName") == email]
    check(not created, "an event was published for the removed user", created)
    # nothing half-made: the same e-mail can be created at once
    again = c.ok("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": cid}, token=ta.token)
    check(again["email"] == email, "re-create", again)
    # the failure is in the audit log
    rows = c.ok("audit.list", {"pageSize": 50, "page": 0, "entityType": "USER"}, token=ta.token)["data"]
    check(any(r["actionStatus"] == "FAILURE" and r["actionFailureDetails"] == "Couldn't send user activation email"
              for r in rows), "failure audit row", rows)


def test_writer_never_waits_on_smtp(env):
    c = env.c
    ta, cid = world(env)
    email = unique_email("slow")
    t0 = time.monotonic()
    corr = c.begin("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": cid,
                                   "sendActivationMail": True}, token=ta.token)
    pings = []
    for _ in range(5):
        t = time.monotonic()
        expect(c.request("customer.list", {"pageSize": 1, "page": 0}, token=ta.token), 200)
        pings.append(time.monotonic() - t)
    check(not c.has_reply(corr), "the create answered before its mail was sent")
    r = c.result(corr, timeout=30)
    total = time.monotonic() - t0
    expect(r, 200)
    print("    figures: 5 requests during a %.1f s SMTP transaction took max %.1f ms each; create answered after %.2f s"
          % (env.smtp.slow_seconds, max(pings) * 1000, total))
    check(max(pings) < 1.0, "a request waited on SMTP", pings)
    check(total >= env.smtp.slow_seconds, "create answered before the mail", total)


def test_send_activation_mail_again(env):
    c = env.c
    ta, cid = world(env)
    u = make_customer_user(c, ta.token, cid, activate=False)
    link = c.ok("user.activationLink", {"id": u.user_id}, token=ta.token)["value"]
    c.ok("user.sendActivationMail", {"email": u.email}, token=ta.token)
    mail = env.smtp.wait_mail(u.email)
    mailed_link, token = link_token(mail["body"], "activateToken")
    check(mailed_link == link, "the mail carries the same link", mailed_link, link)
    # bad input and permissions
    expect(c.request("user.sendActivationMail", {}, token=ta.token), 400, 31)
    expect(c.request("user.sendActivationMail", {"email": 5}, token=ta.token), 400, 31)
    expect(c.request("user.sendActivationMail", {"email": u.email, "x": 1}, token=ta.token), 400, 31)
    expect(c.request("user.sendActivationMail", {"email": "nobody-" + u.email}, token=ta.token), 404, 32,
           "User with the given email is not found")
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("user.sendActivationMail", {"email": u.email}, token=other.token), 404, 32,
           "User with the given email is not found")
    expect(c.request("user.sendActivationMail", {"email": u.email}), 401, 10)
    c.ok("auth.activate", {"activateToken": token, "password": DEFAULT_PASSWORD})
    expect(c.request("user.sendActivationMail", {"email": u.email}, token=ta.token), 400, 31,
           "User is already activated!")
    # a failing mail on resend answers 500 and changes nothing
    bad = make_customer_user(c, ta.token, cid, email=unique_email("reject"), activate=False)
    expect(c.request("user.sendActivationMail", {"email": bad.email}, token=ta.token), 500, 2,
           "Couldn't send user activation email")
    c.ok("user.activationLink", {"id": bad.user_id}, token=ta.token)


def test_reset_password_by_email_flow(env):
    c = env.c
    ta, cid = world(env)
    u = make_customer_user(c, ta.token, cid)
    expect(c.request("auth.resetPasswordByEmail", {"email": "nobody-" + u.email}), 200)
    c.ok("auth.resetPasswordByEmail", {"email": u.email})
    mail = env.smtp.wait_mail(u.email)
    link, token = link_token(mail["body"], "resetToken")
    check(link == BASE_URL + "/api/noauth/resetPassword?resetToken=" + token, "reset link", link)
    check(not env.smtp.mails_to("nobody-" + u.email), "a mail went to an unknown address")
    expect(c.request("auth.resetPassword", {"resetToken": "not-a-token", "password": "Another-pass-1"}), 404, 32,
           "Invalid reset token!")
    expect(c.request("auth.resetPassword", {"resetToken": token, "password": "short"}), 400, 31,
           "Password must be 6 or more characters in length.")
    expect(c.request("auth.resetPassword", {"resetToken": token, "password": "Long-1" * 20000}), 400, 31,
           "Password must be no more than 72 characters in length.")
    expect(c.request("auth.resetPassword", {"resetToken": token, "password": u.password}), 400, 31,
           "New password should be different from existing!")
    old_token = u.token
    pair = c.ok("auth.resetPassword", {"resetToken": token, "password": "Another-pass-1"})
    check(pair["token"] and pair["refreshToken"], "reset pair", pair)
    expect(c.request("agent.ops", token=old_token), 401, 10)
    expect(c.request("auth.login", {"email": u.email, "password": u.password}), 401, 10)
    c.login(u.email, "Another-pass-1")
    expect(c.request("auth.resetPassword", {"resetToken": token, "password": "Third-pass-1"}), 404, 32)


def test_reset_bad_input(env):
    c = env.c
    expect(c.request("auth.resetPasswordByEmail", {}), 400, 31)
    expect(c.request("auth.resetPasswordByEmail", {"email": ""}), 400, 31, "Email is required")
    expect(c.request("auth.resetPasswordByEmail", {"email": "x" * 300 + "@test.local"}), 400, 31)
    expect(c.request("auth.resetPasswordByEmail", {"email": ["a"]}), 400, 31)
    expect(c.request("auth.resetPasswordByEmail", {"email": "a@b.c", "extra": 1}), 400, 31)
    expect(c.request("auth.resetPassword", {"resetToken": "t"}), 400, 31)
    expect(c.request("auth.resetPassword", {"password": "Passw0rd-123"}), 400, 31)
    expect(c.request("auth.resetPassword", {"resetToken": "t" * 5000, "password": "Passw0rd-123"}), 404, 32)
    expect(c.request("auth.resetPassword", {"resetToken": None, "password": "Passw0rd-123"}), 400, 31)
    expect(c.request("auth.resetPassword", {"resetToken": "t", "password": "Passw0rd-123", "x": 1}), 400, 31)
    expect(c.request("user.sendActivationMail", {"email": "y" * 100000}, token=env.sys_token), 404, 32)
    # an account never activated gets no reset mail
    ta, cid = world(env)
    u = make_customer_user(c, ta.token, cid, activate=False)
    c.ok("auth.resetPasswordByEmail", {"email": u.email})
    time.sleep(0.5)
    check(not env.smtp.mails_to(u.email), "a reset mail went to a never activated account")


if __name__ == "__main__":
    run_tests(globals(), new_env)
