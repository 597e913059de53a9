"""test_twofa.py: two-factor authentication through the real agent: a TOTP secret given as an
otpauth:// URI, saved once a code computed here (RFC 6238 with hmac/hashlib) checks, then a login
that answers a pre-verification token which every other operation refuses, and auth.twoFa.verify
that ends it with a pair; backup codes that work once; e-mail codes caught by the SMTP test server,
with their re-send limit; wrong codes counted toward the lockout; providers removed again; the
platform's settings (allowed providers, lifetimes, re-send limits, enforcement on a filter of
users, whose logins get an MFA configuration token good for configuring a provider only); a TOTP
code accepted once is refused after (RFC 6238 5.2), and a change of password ends the logins
waiting for their code."""

import base64
import hashlib
import hmac
import re
import struct
import time
import urllib.parse

from helpers import DEFAULT_PASSWORD, Env, check, expect, make_tenant_admin, run_tests


def new_env():
    return Env(smtp=True, agent_extra={"max_failed_login_attempts": 3})


def totp(secret_b32, at=None, step=30, digits=6):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%0*d" % (digits, (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 10 ** digits)


def next_totp(secret):
    """The code of the next 30 s step, which one step of clock drift accepts: the code of this step
    was spent by verifyAndSave (a code is accepted once, RFC 6238 section 5.2)."""
    return totp(secret, at=time.time() + 30)


def enable_totp(c, token, email):
    g = c.ok("twoFa.accountConfig.generate", {"providerType": "TOTP"}, token=token)
    url = urllib.parse.urlparse(g["authUrl"])
    check(url.scheme == "otpauth" and url.netloc == "totp", "otpauth URI", g)
    check(urllib.parse.unquote(url.path) == "/ThingsBoard:" + email, "label", g)
    secret = urllib.parse.parse_qs(url.query)["secret"][0]
    check(len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20, "160-bit secret", secret)
    wrong = "%06d" % ((int(totp(secret)) + 1) % 1000000)
    expect(c.request("twoFa.accountConfig.verifyAndSave", {"providerType": "TOTP", "authUrl": g["authUrl"],
                                                           "verificationCode": wrong}, token=token),
           400, 31, "Verification code is incorrect")
    saved = c.ok("twoFa.accountConfig.verifyAndSave", {"providerType": "TOTP", "authUrl": g["authUrl"],
                                                       "verificationCode": totp(secret)}, token=token)
    check(saved == {"configs": {"TOTP": {"providerType": "TOTP"}}}, "saved", saved)
    return secret


def challenge(c, email):
    d = c.ok("auth.login", {"email": email, "password": DEFAULT_PASSWORD})
    check(d["scope"] == "PRE_VERIFICATION_TOKEN" and d["refreshToken"] is None, "pre-verification", d)
    check(d["token"].startswith("cmp_"), "token prefix", d)
    return d


def test_totp_login_needs_the_code_and_the_token_does_nothing_else(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    secret = enable_totp(c, ta.token, ta.email)
    d = challenge(c, ta.email)
    check(d["providers"] == [{"type": "TOTP"}], "providers", d)
    pre = d["token"]
    for op, data in (("user.get", {"id": ta.user_id}), ("auth.logout", None), ("twoFa.accountConfig.get", None),
                     ("customer.list", {"pageSize": 10, "page": 0}), ("auth.changePassword",
                      {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Another-pass-9"})):
        expect(c.request(op, data, token=pre), 401, 10, context=op)
    expect(c.request("auth.refresh", {"refreshToken": pre}), 401, 10)
    got = c.ok("auth.twoFa.providers", {"preVerificationToken": pre})
    check(got == {"providers": [{"type": "TOTP"}]}, "auth.twoFa.providers", got)
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                                           "verificationCode": "00000000"}), 400, 31)
    pair = c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                      "verificationCode": next_totp(secret)})
    check(pair["token"].startswith("cma_") and pair["refreshToken"].startswith("cmr_"), "pair", pair)
    me = c.ok("user.get", {"id": ta.user_id}, token=pair["token"])
    check(me["email"] == ta.email, "the pair works", me)
    # the pre-verification token is spent
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                           "verificationCode": totp(secret)}), 401, 10)
    rows = c.ok("audit.list", {"pageSize": 50, "page": 0, "entityType": "USER"}, token=ta.token)["data"]
    check(any(r["actionType"] == "LOGIN" and r["actionStatus"] == "SUCCESS" and r["userName"] == ta.email
              for r in rows), "login audit row", rows)


def test_backup_code_works_once(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    g = c.ok("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=ta.token)
    codes = g["codes"]
    check(len(codes) == 10 and len(set(codes)) == 10 and all(re.fullmatch("[0-9a-f]{8}", x) for x in codes),
          "codes", g)
    got = c.ok("twoFa.accountConfig.get", None, token=ta.token)
    check(got["configs"]["BACKUP_CODE"]["codesLeft"] == 10, "codesLeft", got)
    pre = challenge(c, ta.email)["token"]
    c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                               "verificationCode": codes[3]})
    pre = challenge(c, ta.email)["token"]
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                                           "verificationCode": codes[3]}), 401, 10, "Verification code is incorrect")
    c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                               "verificationCode": codes[4]})
    got = c.ok("twoFa.accountConfig.get", None, token=ta.token)
    check(got["configs"]["BACKUP_CODE"]["codesLeft"] == 8, "codesLeft after two", got)


def test_mailed_code_and_its_resend_limit(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    c.ok("twoFa.accountConfig.generate", {"providerType": "EMAIL"}, token=ta.token)
    saved = c.ok("twoFa.accountConfig.verifyAndSave", {"providerType": "EMAIL"}, token=ta.token)
    check("EMAIL" in saved["configs"], "email saved", saved)
    pre = challenge(c, ta.email)["token"]
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "EMAIL",
                                           "verificationCode": "123456"}), 401, 10)
    c.ok("auth.twoFa.sendCode", {"preVerificationToken": pre, "providerType": "EMAIL"})
    mail = env.smtp.wait_mail(ta.email)
    check(mail["subject"] == "Your verification code", "subject", mail["subject"])
    code = re.search(r"verification code is (\d{6})", mail["body"]).group(1)
    expect(c.request("auth.twoFa.sendCode", {"preVerificationToken": pre, "providerType": "EMAIL"}), 429, 33,
           "Too many verification code requests")
    pair = c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "EMAIL",
                                      "verificationCode": code})
    check(pair["token"].startswith("cma_"), "pair", pair)


def test_wrong_codes_lock_the_account(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    secret = enable_totp(c, ta.token, ta.email)
    good = totp(secret)
    bad = "%06d" % ((int(good) + 500000) % 1000000)
    pre = challenge(c, ta.email)["token"]
    for _ in range(3):
        expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                               "verificationCode": bad}), 401, 10, "Verification code is incorrect")
    # a new login with the right password does not reset the count
    pre = challenge(c, ta.email)["token"]
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                           "verificationCode": bad}), 401, 10,
           "User account is locked due to security policy")
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                           "verificationCode": totp(secret)}), 401, 10, "User account is not active")
    expect(c.request("auth.login", {"email": ta.email, "password": DEFAULT_PASSWORD}), 401, 10)
    other = make_tenant_admin(c, env.sys_token, tenant_id=ta.tenant_id)
    rows = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "USER", "entityId": ta.user_id},
                token=other.token)["data"]
    check(any(r["actionType"] == "LOCKOUT" for r in rows), "LOCKOUT row", rows)
    check(sum(r["actionType"] == "LOGIN" and r["actionStatus"] == "FAILURE" for r in rows) >= 4, "failed rows", rows)


USED = "Verification code has already been used; wait for the next one"


def test_totp_code_is_accepted_once(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    secret = enable_totp(c, ta.token, ta.email)
    saved_with = totp(secret)
    # the code verifyAndSave took logs nobody in (counted as a wrong code)
    pre = challenge(c, ta.email)["token"]
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                           "verificationCode": saved_with}), 401, 10, USED)
    # the next step's code, once
    code = next_totp(secret)
    c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP", "verificationCode": code})
    pre = challenge(c, ta.email)["token"]
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                           "verificationCode": code}), 401, 10, USED)
    rows = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "USER", "entityId": ta.user_id},
                token=make_tenant_admin(c, env.sys_token, tenant_id=ta.tenant_id).token)["data"]
    check(any(r["actionType"] == "LOGIN" and r["actionStatus"] == "FAILURE" and r["actionFailureDetails"] == USED
              for r in rows), "the replay is a failed login", rows)


def test_password_change_ends_pending_logins(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    codes = c.ok("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=ta.token)["codes"]
    pre = challenge(c, ta.email)["token"]
    c.ok("auth.twoFa.providers", {"preVerificationToken": pre})
    c.ok("auth.changePassword", {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Changed-pass-7"},
         token=ta.token)
    expect(c.request("auth.twoFa.providers", {"preVerificationToken": pre}), 401, 10,
           "Invalid or expired pre-verification token")
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                                           "verificationCode": codes[0]}), 401, 10,
           "Invalid or expired pre-verification token")
    # a login with the new password gets a new challenge, which the same code ends
    d = c.ok("auth.login", {"email": ta.email, "password": "Changed-pass-7"})
    c.ok("auth.twoFa.verify", {"preVerificationToken": d["token"], "providerType": "BACKUP_CODE",
                               "verificationCode": codes[0]})


def test_delete_provider_and_bad_input(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    enable_totp(c, ta.token, ta.email)
    left = c.ok("twoFa.accountConfig.delete", {"providerType": "TOTP"}, token=ta.token)
    check(left == {"configs": {}}, "deleted", left)
    d = c.ok("auth.login", {"email": ta.email, "password": DEFAULT_PASSWORD})
    check(d["token"].startswith("cma_") and d["refreshToken"], "a plain login again", d)
    expect(c.request("twoFa.accountConfig.generate", {"providerType": "SMS"}, token=ta.token), 400, 31)
    expect(c.request("twoFa.accountConfig.generate", {}, token=ta.token), 400, 31)
    expect(c.request("twoFa.accountConfig.verifyAndSave", {"providerType": "TOTP", "authUrl": "http://x",
                                                           "verificationCode": "123456"}, token=ta.token), 400, 31)
    expect(c.request("twoFa.accountConfig.get", None), 401, 10)
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": "cmp_nothing", "providerType": "TOTP",
                                           "verificationCode": "123456"}), 401, 10)
    expect(c.request("auth.twoFa.providers", {"preVerificationToken": 5}), 400, 31)


def test_platform_settings_allow_providers_and_set_the_limits(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    got = c.ok("twoFa.settings.get", None, token=env.sys_token)
    check(got == {"providers": [{"providerType": "TOTP"}, {"providerType": "EMAIL"}, {"providerType": "BACKUP_CODE"}],
                  "verificationCodeLifetime": 120, "totalAllowedTimeForVerification": 900,
                  "minVerificationCodeSendPeriod": 30, "maxVerificationCodeSends": 5, "enforceTwoFa": False,
                  "enforcedUsersFilter": {"type": "ALL"}}, "defaults", got)
    expect(c.request("twoFa.settings.get", None, token=ta.token), 403, 20)
    expect(c.request("twoFa.settings.save", {"providers": []}, token=ta.token), 403, 20)
    expect(c.request("twoFa.settings.save", {"providers": [{"providerType": "SMS"}]}, token=env.sys_token), 400, 31)
    expect(c.request("twoFa.settings.save", {"providers": [], "maxVerificationCodeSends": 0}, token=env.sys_token),
           400, 31, "maxVerificationCodeSends must be from 1 to 100")
    codes = c.ok("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=ta.token)["codes"]
    c.ok("twoFa.accountConfig.generate", {"providerType": "EMAIL"}, token=ta.token)
    c.ok("twoFa.accountConfig.verifyAndSave", {"providerType": "EMAIL"}, token=ta.token)
    saved = c.ok("twoFa.settings.save", {"providers": [{"providerType": "EMAIL"}, {"providerType": "TOTP"}],
                                         "minVerificationCodeSendPeriod": 0, "maxVerificationCodeSends": 2,
                                         "totalAllowedTimeForVerification": 600}, token=env.sys_token)
    check(saved["providers"] == [{"providerType": "TOTP"}, {"providerType": "EMAIL"}]
          and saved["maxVerificationCodeSends"] == 2 and saved["verificationCodeLifetime"] == 120, "saved", saved)
    check(c.ok("twoFa.settings.get", None, token=env.sys_token) == saved, "read back", saved)
    # backup codes are no longer allowed: not offered, not accepted, not made
    d = challenge(c, ta.email)
    check(d["providers"] == [{"type": "EMAIL"}] and d["expiresIn"] == 600000, "allowed providers only", d)
    expect(c.request("auth.twoFa.verify", {"preVerificationToken": d["token"], "providerType": "BACKUP_CODE",
                                           "verificationCode": codes[0]}), 400, 31,
           "Provider BACKUP_CODE is not allowed by the platform's settings")
    expect(c.request("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=ta.token), 400, 31)
    # two mailed codes per login, no wait between them
    for _ in range(2):
        c.ok("auth.twoFa.sendCode", {"preVerificationToken": d["token"], "providerType": "EMAIL"})
    expect(c.request("auth.twoFa.sendCode", {"preVerificationToken": d["token"], "providerType": "EMAIL"}), 429, 33)
    # nothing allowed: logins answer a pair again
    c.ok("twoFa.settings.save", {"providers": []}, token=env.sys_token)
    pair = c.ok("auth.login", {"email": ta.email, "password": DEFAULT_PASSWORD})
    check(pair["refreshToken"], "a pair", pair)
    c.ok("twoFa.settings.save", {"providers": ["TOTP", "EMAIL", "BACKUP_CODE"], "minVerificationCodeSendPeriod": 30,
                                 "maxVerificationCodeSends": 5, "totalAllowedTimeForVerification": 900},
         token=env.sys_token)


def test_enforced_two_factor_sends_users_to_configure_a_provider(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("twoFa.settings.save", {"providers": ["TOTP"], "enforceTwoFa": True,
                                             "enforcedUsersFilter": {"type": "NOBODY"}}, token=env.sys_token),
           400, 31)
    saved = c.ok("twoFa.settings.save", {"providers": ["TOTP", "EMAIL", "BACKUP_CODE"], "enforceTwoFa": True,
                                         "enforcedUsersFilter": {"type": "TENANT_ADMINISTRATORS",
                                                                 "tenantId": ta.tenant_id}}, token=env.sys_token)
    check(saved["enforceTwoFa"] is True and saved["enforcedUsersFilter"] == {
        "type": "TENANT_ADMINISTRATORS", "tenantId": ta.tenant_id}, "saved", saved)
    try:
        # another tenant's administrator and the system administrator are not filtered in
        check(c.ok("auth.login", {"email": other.email, "password": DEFAULT_PASSWORD})["refreshToken"], "other", other)
        d = c.ok("auth.login", {"email": ta.email, "password": DEFAULT_PASSWORD})
        check(d["scope"] == "MFA_CONFIGURATION_TOKEN" and d["token"].startswith("cmc_") and d["refreshToken"] is None,
              "configuration token", d)
        cfg = d["token"]
        # it configures a provider and does nothing else
        for op, data in (("user.get", {"id": ta.user_id}), ("auth.logout", None), ("apiKey.create", {}),
                         ("twoFa.settings.get", None)):
            expect(c.request(op, data, token=cfg), 401, 10, context=op)
        expect(c.request("auth.twoFa.verify", {"preVerificationToken": cfg, "providerType": "TOTP",
                                               "verificationCode": "123456"}), 401, 10)
        check(c.ok("twoFa.accountConfig.get", None, token=cfg) == {"configs": {}}, "nothing yet")
        g = c.ok("twoFa.accountConfig.generate", {"providerType": "TOTP"}, token=cfg)
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(g["authUrl"]).query)["secret"][0]
        c.ok("twoFa.accountConfig.verifyAndSave", {"providerType": "TOTP", "authUrl": g["authUrl"],
                                                   "verificationCode": totp(secret)}, token=cfg)
        # now a login asks for the code
        pre = challenge(c, ta.email)["token"]
        pair = c.ok("auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "TOTP",
                                          "verificationCode": next_totp(secret)})
        check(pair["refreshToken"].startswith("cmr_"), "pair", pair)
    finally:
        c.ok("twoFa.settings.save", {"providers": ["TOTP", "EMAIL", "BACKUP_CODE"], "enforceTwoFa": False,
                                     "enforcedUsersFilter": {"type": "ALL"}}, token=env.sys_token)


if __name__ == "__main__":
    run_tests(globals(), new_env)
