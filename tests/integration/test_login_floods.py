"""test_login_floods.py: logins under attack (issue 12, point 3, and the first small one of point 6).
Lockout is on by default (max_failed_login_attempts 5). A disabled account (never activated, or
locked) answers "User account is not active" whatever the password, as ThingsBoard does, at the
cost of one hash and without counting a miss. Anonymous authentication requests spend a budget per
e-mail and per client (the level after cm/v1/reply/ of the reply destination); past it they get
429 errorCode 33 before any password is hashed (agent.stats passwordHashes does not move), and
other e-mails and clients are not touched. A flood of one tenant's logins, and of unknown
e-mails, does not hold up another tenant's login: password requests wait in one queue per tenant,
taken in turn, each bounded (429 past password_queue_per_tenant)."""

import time

from helpers import (
    SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Client, Env, check, expect, make_customer, make_customer_user,
    make_tenant_admin, run_tests, unique_email)

NOT_ACTIVE = "User account is not active"
INVALID = "Invalid username or password"
LOCKED = "User account is locked due to security policy"
EMAIL_BUDGET = 20    # auth_rate_per_email's default
CLIENT_BUDGET = 300  # auth_rate_per_client's default
QUEUE_BOUND = 64     # password_queue_per_tenant's default
EMAIL_REFUSAL = ("Too many authentication requests for this e-mail: at most %d a minute (auth_rate_per_email)"
                 % EMAIL_BUDGET)
CLIENT_REFUSAL = ("Too many authentication requests from this client: at most %d a minute (auth_rate_per_client)"
                  % CLIENT_BUDGET)
QUEUE_REFUSAL = ("Too many password checks are waiting: at most %d for one tenant (password_queue_per_tenant)"
                 % QUEUE_BOUND)


def new_env():
    return Env()  # the defaults are what is tested


def password_hashes(env):
    return env.c.ok("agent.stats", token=env.sys_token)["passwordHashes"]


def test_lockout_is_on_by_default(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    for i in range(5):
        expect(c.request("auth.login", {"email": ta.email, "password": "Wrong-pass-%d" % i}), 401, 10, INVALID)
    expect(c.request("auth.login", {"email": ta.email, "password": "Wrong-pass-5"}), 401, 10, LOCKED)
    expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 401, 10, NOT_ACTIVE)
    expect(c.request("agent.ops", token=ta.token), 401, 10)  # the lock revoked its sessions
    c.ok("user.setEnabled", {"id": ta.user_id, "enabled": True}, token=env.sys_token)
    c.login(ta.email, ta.password)


def test_disabled_account_is_not_active_for_any_password_at_the_cost_of_one_hash(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    customer_id = make_customer(c, ta.token)["id"]["id"]
    pending = make_customer_user(c, ta.token, customer_id, activate=False)
    active = make_customer_user(c, ta.token, customer_id)

    before = password_hashes(env)
    expect(c.request("auth.login", {"email": active.email, "password": "Wrong-pass-1"}), 401, 10, INVALID)
    wrong_password_cost = password_hashes(env) - before
    for pw in ("Wrong-pass-1", "", active.password):
        before = password_hashes(env)
        expect(c.request("auth.login", {"email": pending.email, "password": pw}), 401, 10, NOT_ACTIVE,
               context="never activated, password %r" % pw)
        check(password_hashes(env) - before == wrong_password_cost == 1,
              "a never activated account costs what a wrong password costs", before, wrong_password_cost)

    # locked: wrong passwords too answer "not active", and count nothing (re-enabling resets anyway,
    # so the count shows in the lock not coming back early after it)
    for i in range(4):
        expect(c.request("auth.login", {"email": active.email, "password": "Wrong-pass-x%d" % i}), 401, 10, INVALID)
    expect(c.request("auth.login", {"email": active.email, "password": "Wrong-pass-y"}), 401, 10, LOCKED)
    for pw in ("Wrong-pass-z", active.password):
        before = password_hashes(env)
        expect(c.request("auth.login", {"email": active.email, "password": pw}), 401, 10, NOT_ACTIVE,
               context="locked, password %r" % pw)
        check(password_hashes(env) - before == 1, "a locked account costs one hash", before)
    rows = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "USER", "entityId": active.user_id},
                token=ta.token)["data"]
    check(sum(1 for r in rows if r["actionType"] == "LOCKOUT") == 1, "one LOCKOUT row", rows)


def test_email_budget_answers_429_before_any_hash(env):
    c = env.c
    ghost = unique_email("ghost")
    before = password_hashes(env)
    corrs = [c.begin("auth.login", {"email": ghost if i % 2 else ghost.upper(), "password": "Wrong-pass-1"})
             for i in range(EMAIL_BUDGET + 10)]
    replies = [c.result(k, timeout=60) for k in corrs]
    for r in replies[:EMAIL_BUDGET]:
        expect(r, 401, 10, INVALID)
    for r in replies[EMAIL_BUDGET:]:
        expect(r, 429, 33, EMAIL_REFUSAL)
    check(password_hashes(env) - before == EMAIL_BUDGET, "refused logins were hashed", before)
    # the budget is the e-mail's: another one, and password reset mails for it, go on
    expect(c.request("auth.login", {"email": unique_email("ghost"), "password": "Wrong-pass-1"}), 401, 10, INVALID)
    expect(c.request("auth.resetPasswordByEmail", {"email": ghost}), 429, 33, EMAIL_REFUSAL)
    expect(c.request("auth.resetPasswordByEmail", {"email": unique_email("ghost")}), 200)


def spend_refills(client):
    """Sends auth.refresh until the client's budget answers 429 (at most 20)."""
    for i in range(20):
        if client.request("auth.refresh", {"refreshToken": "cmr_spend-%d" % i}).get("status") == 429:
            return
    raise AssertionError("the client budget kept refilling")


REFILL_PER_SECOND = CLIENT_BUDGET / 60.0


def expect_client_refusal(client, op, args, attempts=5):
    """The client's budget refills one request every 200 ms: spends the refills, then sends op, and
    expects the refusal; a loaded machine may take longer than one refill between the two, so a
    few attempts are allowed (a refill lets one through, which says nothing against the budget)."""
    for _ in range(attempts):
        spend_refills(client)
        r = client.request(op, args)
        if r.get("status") == 429:
            expect(r, 429, 33, CLIENT_REFUSAL)
            return
    raise AssertionError("%s was never refused past the client budget: last %r" % (op, r))


def check_client_budget(env, mqtt_version):
    flooder = Client(env.port, mqtt_version=mqtt_version)
    other = Client(env.port, mqtt_version=mqtt_version)
    try:
        # the bucket refills 5 a second while the flood is sent and answered: of the 100 past the
        # budget, at most the refills of the time the flood took get through, the rest are refused
        start = time.monotonic()
        corrs = [flooder.begin("auth.refresh", {"refreshToken": "cmr_not-a-token-%d" % i})
                 for i in range(CLIENT_BUDGET + 100)]
        replies = [flooder.result(k, timeout=60) for k in corrs]
        elapsed = time.monotonic() - start
        refills = int(elapsed * REFILL_PER_SECOND) + 2
        for r in replies[:CLIENT_BUDGET]:
            expect(r, 401, 10, "Invalid or revoked token")
        refused = [r for r in replies[CLIENT_BUDGET:] if r.get("status") == 429]
        check(100 - refills <= len(refused) <= 100,
              "past the budget the flood is refused: %d of 100 in %.1f s (%d refills)"
              % (len(refused), elapsed, refills))
        for r in replies[CLIENT_BUDGET:]:
            if r.get("status") != 429:
                expect(r, 401, 10, "Invalid or revoked token")
        for r in refused:
            expect(r, 429, 33, CLIENT_REFUSAL)
        # every anonymous authentication operation spends it, before it is looked at
        expect_client_refusal(flooder, "auth.login", {"email": SYSADMIN_EMAIL, "password": SYSADMIN_PASSWORD})
        expect_client_refusal(flooder, "auth.checkActivateToken", {"activateToken": "nope"})
        # operations with a token are not anonymous ones; another client has a budget of its own
        expect(flooder.request("agent.ping"), 200)
        expect(other.request("auth.refresh", {"refreshToken": "cmr_not-a-token"}), 401, 10)
        other.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
    finally:
        flooder.close()
        other.close()


def test_client_budget_per_reply_destination(env):
    check_client_budget(env, 5)


def test_client_budget_per_reply_to_of_mqtt_3_clients(env):
    check_client_budget(env, 3)


def test_another_tenants_login_is_answered_during_a_flood(env):
    # An agent of its own with the budgets off, so that the queues themselves are measured: one
    # tenant's flood of logins (a full queue and more) and a flood of unknown e-mails.
    prefix = "floods/v1"
    with Agent(env.port, agent_id="floods", extra={"topic_prefix": prefix, "auth_rate_per_email": 0,
                                                  "auth_rate_per_client": 0}):
        with Client(env.port, prefix=prefix) as c:
            sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            flooded = make_tenant_admin(c, sys_token)
            other = make_tenant_admin(c, sys_token)
            t_alone = time.monotonic()
            c.login(other.email, other.password)
            alone_s = time.monotonic() - t_alone
            flood = QUEUE_BOUND + 16
            t0 = time.monotonic()
            corrs = [c.begin("auth.login", {"email": flooded.email, "password": flooded.password})
                     for _ in range(flood)]
            corrs += [c.begin("auth.login", {"email": unique_email("ghost"), "password": "Wrong-pass-1"})
                      for _ in range(QUEUE_BOUND)]
            t_sent = time.monotonic()
            mine = c.begin("auth.login", {"email": other.email, "password": other.password})
            expect(c.result(mine, timeout=120), 200, context="the other tenant's login")
            waited_s = time.monotonic() - t_sent
            answered_before = sum(1 for k in corrs if c.has_reply(k))
            replies = [c.result(k, timeout=120) for k in corrs]
            flood_s = time.monotonic() - t0
    mine_flood = replies[:flood]
    ok = sum(1 for r in mine_flood if r.get("status") == 200)
    refused = [r for r in mine_flood if r.get("status") == 429]
    check(ok + len(refused) == flood, "a flooded tenant's login got neither 200 nor 429", mine_flood)
    for r in refused:
        expect(r, 429, 33, QUEUE_REFUSAL)
    check(QUEUE_BOUND <= ok < flood, "the tenant's queue is bounded: %d of %d logins were queued" % (ok, flood))
    for r in replies[flood:]:
        expect(r, 401, 10, INVALID)
    print("    figures: one login alone %.0f ms; a flood of %d logins (%d of one tenant, %d queued, and %d unknown "
          "e-mails) took %.0f ms; another tenant's login sent after it waited %.0f ms, answered before %d of the "
          "flood's replies" % (alone_s * 1000, len(corrs), flood, ok, QUEUE_BOUND, flood_s * 1000, waited_s * 1000,
                               len(corrs) - answered_before))
    # Served in arrival order, the login waited for every queued hash of the flood: all its replies
    # came first. Bounds are loose, the machine is shared: a round robin turn costs about two hashes.
    check(answered_before < len(corrs) - ok // 2, "the other tenant's login waited for the flood", answered_before)
    check(waited_s < flood_s / 4, "the other tenant's login was held up by the flood", waited_s, flood_s)


if __name__ == "__main__":
    run_tests(globals(), new_env)
