"""test_pg_shared_state.py: two agents on one PostgreSQL database keep one state, whichever of them a
request reaches. Each agent listens under a topic prefix of its own (cm/a, cm/b), so that a test
sends a request to the agent it chooses, or the same request to both at once: failed logins are
all counted and lock the account once; the anonymous authentication budgets and the per-user rate
limit are one budget for both; the same envelope id is applied once and both answer the first
reply (one activation mail); two updates from one version give one 200 and one 409; a tenant's
limit holds; a deleted customer's devices are unassigned once (each version raised once); a token,
a refresh token, a paging cursor and a two-factor login made on one agent work on the other, and
a refresh token or pre-verification token sent to both at once is spent once. PostgreSQL only
(CMAGENT_TEST_DATABASE=postgres); loopback, bounded."""

import os
import sys
import time

import pg_helpers
from helpers import (DEFAULT_PASSWORD, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, SmtpServer,
                     activation_token_of, check, eid, expect, make_customer, make_tenant_admin, run_tests, unique,
                     unique_email, wait_until)
from test_twofa import challenge, enable_totp, next_totp

WRONG = "Wrong-pass-0"


class Pair:
    """A broker, two agents on one database (cm/a and cm/b), a system administrator's client on each."""

    def __init__(self, extra=None, smtp=False):
        self.extra = dict(extra or {})
        self.smtp = SmtpServer().start() if smtp else None
        if self.smtp is not None:
            self.extra.update({"smtp_url": "smtp://127.0.0.1:%d" % self.smtp.port,
                               "base_url": "http://localhost:8080"})
        self.broker = Broker().__enter__()
        self.a = Agent(self.broker.port, agent_id="cm-a", extra=dict(self.extra, topic_prefix="cm/a"))
        self.a.start()
        self.b = Agent(self.broker.port, agent_id="cm-b",
                       extra=dict(self.extra, topic_prefix="cm/b", database=self.a.db))
        self.b.start()
        self.ca = Client(self.broker.port, prefix="cm/a")
        self.cb = Client(self.broker.port, prefix="cm/b")
        self.sys_token = self.ca.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)

    def both(self):
        return (self.ca, self.cb)

    def close(self):
        for c in (self.ca, self.cb):
            c.close()
        for agent in (self.b, self.a):
            agent.__exit__(None, None, None)
        self.broker.__exit__(None, None, None)
        if self.smtp is not None:
            self.smtp.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def query(db, sql, params=()):
    """The rows of one query, read in a transaction of its own (so it sees the last commits)."""
    con = pg_helpers.db_connect(db, readonly=True)
    try:
        return list(con.execute(sql, params).fetchall())
    finally:
        con.close()


def at_once(requests):
    """Sends every (client, op, data, kw) at once, then returns their replies in order."""
    corrs = [(c, c.begin(op, data, **kw)) for c, op, data, kw in requests]
    return [c.result(corr, timeout=30) for c, corr in corrs]


def alternate(pair, n, op, data, **kw):
    return [(pair.both()[i % 2], op, data, kw) for i in range(n)]


def statuses(replies):
    return sorted(r["status"] for r in replies)


NO_BUDGETS = {"auth_rate_per_client": 0, "auth_rate_per_email": 0}


def test_failed_logins_on_both_agents_are_all_counted():
    with Pair(dict(NO_BUDGETS, max_failed_login_attempts=1000)) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        replies = at_once(alternate(p, 40, "auth.login", {"email": ta.email, "password": WRONG}))
        check(statuses(replies) == [401] * 40, "every miss answers 401", statuses(replies))
        (n,), = query(p.a.db, "SELECT failed_login_attempts FROM user_credentials WHERE user_id = ?", (ta.user_id,))
        check(n == 40, "%d of 40 misses counted (a read-then-write count loses the other agent's)" % n)
        # a good login on either agent resets the count for both
        p.cb.login(ta.email, ta.password)
        (n,), = query(p.a.db, "SELECT failed_login_attempts FROM user_credentials WHERE user_id = ?", (ta.user_id,))
        check(n == 0, "a good login reset the count to %d" % n)


def test_misses_past_the_limit_lock_the_account_once():
    with Pair(dict(NO_BUDGETS, max_failed_login_attempts=5)) as p:
        for _ in range(4):
            ta = make_tenant_admin(p.ca, p.sys_token)
            at_once(alternate(p, 24, "auth.login", {"email": ta.email, "password": WRONG}))
            rows = query(p.a.db, "SELECT count(*) FROM audit_log WHERE action_type = 'LOCKOUT' AND entity_id = ?",
                         (ta.user_id,))
            check(rows[0][0] == 1, "%d LOCKOUT audit rows for one lockout" % rows[0][0])
            (enabled, n), = query(p.a.db, "SELECT enabled, failed_login_attempts FROM user_credentials"
                                  " WHERE user_id = ?", (ta.user_id,))
            check(enabled == 0 and n >= 6, "locked after %d misses (enabled %r)" % (n, enabled))
            for c in p.both():
                expect(c.request("auth.login", {"email": ta.email, "password": ta.password}), 401,
                       message="User account is not active")
            expect(p.cb.request("user.get", {"id": ta.user_id}, token=ta.token), 401)  # its tokens are revoked


def test_anonymous_budgets_are_one_budget_for_both_agents():
    with Pair({"auth_rate_per_client": 6, "auth_rate_per_email": 0, "max_failed_login_attempts": 1000}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        # one client, as the agents tell it (the first level of its reply destination), on both
        ca = Client(p.broker.port, prefix="cm/a", reply_topic="cm/a/reply/shared-client")
        cb = Client(p.broker.port, prefix="cm/b", reply_topic="cm/b/reply/shared-client")
        try:
            replies = at_once([((ca, cb)[i % 2], "auth.login", {"email": ta.email, "password": WRONG}, {})
                               for i in range(12)])
        finally:
            ca.close()
            cb.close()
        refused = [r for r in replies if r["status"] == 429]
        check(len(refused) == 6, "%d of 12 refused for a client budget of 6 a minute (each agent alone would "
              "allow 6)" % len(refused), statuses(replies))
        check("auth_rate_per_client" in refused[0]["message"], "the refusal names its setting", refused[0])
    with Pair({"auth_rate_per_client": 0, "auth_rate_per_email": 4}) as p:
        # an address no account has: its budget is spent all the same, whatever its case
        email = unique_email("budget")
        replies = at_once([(p.both()[i % 2], "auth.login", {"email": email if i % 2 else email.upper(),
                                                            "password": WRONG}, {}) for i in range(10)])
        refused = [r for r in replies if r["status"] == 429]
        check(len(refused) == 6, "%d of 10 refused for an e-mail budget of 4 a minute" % len(refused),
              statuses(replies))


def test_the_per_user_limit_is_one_budget_for_both_agents():
    with Pair({"rate_limit_per_second": 3}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        time.sleep(1.1)  # the setup's requests spent some of the budget: full again
        t0 = time.monotonic()
        replies = at_once(alternate(p, 16, "customer.list", {"pageSize": 1, "page": 0}, token=ta.token))
        elapsed = time.monotonic() - t0
        ok = sum(1 for r in replies if r["status"] == 200)
        refused = sum(1 for r in replies if r["status"] == 429)
        check(ok + refused == 16, "only 200 and 429", statuses(replies))
        # a burst of 3 and 3 more a second while the 16 were answered
        check(ok <= 3 + int(3 * elapsed) + 1, "%d of 16 answered in %.2f s for 3 a second (each agent alone "
              "would answer 3 and more)" % (ok, elapsed))


def test_buckets_unused_for_an_hour_are_purged_and_counted_in_the_log():
    with Pair({"rate_limit_per_second": 3}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        expect(p.ca.request("customer.list", {"pageSize": 1, "page": 0}, token=ta.token), 200)
        con = pg_helpers.db_connect(p.a.db)
        try:
            con.execute("INSERT INTO rate_bucket (name, tokens, last_ms, granted) VALUES (?, 1, ?, 1)",
                        ("test-idle-bucket", int(time.time() * 1000) - 2 * 3600 * 1000))
            con.commit()
            live = con.execute("SELECT count(*) FROM rate_bucket WHERE name <> 'test-idle-bucket'").fetchone()[0]
        finally:
            con.close()
        check(live > 0, "the requests made buckets")
        p.b.stop()
        p.b.start()  # the writer purges at start, then every hour
        wait_until(lambda: "and 1 rate-limit buckets unused for 60 minutes." in p.b.log_text(), timeout=10,
                   what="the purge's log line")
        con = pg_helpers.db_connect(p.a.db, readonly=True)
        try:
            names = [r[0] for r in con.execute("SELECT name FROM rate_bucket")]
        finally:
            con.close()
        check("test-idle-bucket" not in names and len(names) == live, "only the idle bucket went", names, live)


def test_one_envelope_id_sent_to_both_agents_is_applied_once():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        for i in range(10):
            title, rid = unique("Once"), unique("req")
            ra, rb = at_once([(c, "customer.create", {"title": title}, {"token": ta.token, "id": rid})
                              for c in p.both()])
            expect(ra, 200)
            expect(rb, 200, context="the second agent must answer the first reply")
            check(ra["data"] == rb["data"], "both answer the same customer", ra, rb)
            (n,), = query(p.a.db, "SELECT count(*) FROM customer WHERE title = ?", (title,))
            check(n == 1, "%d customers for one envelope id" % n)
        # an id used for another operation is refused on the other agent too
        rid = unique("req")
        expect(p.ca.request("customer.create", {"title": unique("Op")}, token=ta.token, id=rid), 200)
        expect(p.cb.request("device.create", {"name": unique("Op")}, token=ta.token, id=rid), 400,
               contains="was already used for customer.create")


def resent(c, data, token, rid):
    r = c.request("user.create", data, token=token, id=rid)
    return r if r["status"] == 200 else None


def test_one_envelope_id_sends_one_activation_mail():
    with Pair(smtp=True) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        for _ in range(3):
            email, rid = unique_email("mail"), unique("req")
            data = {"email": email, "authority": "TENANT_ADMIN", "tenantId": ta.tenant_id, "sendActivationMail": True}
            replies = at_once([(c, "user.create", data, {"token": p.sys_token, "id": rid}) for c in p.both()])
            # the run that keeps the id sends the mail and answers; the other answers the first
            # reply, or, while that one's mail is being sent, 409 (send it again)
            check(200 in statuses(replies) and set(statuses(replies)) <= {200, 409}, "one applied",
                  statuses(replies), replies)
            first = [r for r in replies if r["status"] == 200][0]
            for c, r in zip(p.both(), replies):
                if r["status"] == 409:
                    check("is being applied by another agent" in r["message"] or "still being applied" in r["message"],
                          "the 409 says why", r)
                    r = wait_until(lambda: resent(c, data, p.sys_token, rid), timeout=15, what="the resend answered")
                check(r["data"] == first["data"], "every reply is the first one", r, first)
            time.sleep(0.5)
            check(len(p.smtp.mails_to(email)) == 1, "%d activation mails for one request id"
                  % len(p.smtp.mails_to(email)))


def test_two_updates_from_one_version_give_one_409():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        customer = make_customer(p.ca, ta.token)
        device = p.ca.ok("device.create", {"name": unique("Dev"), "type": "t"}, token=ta.token)
        for kind, thing, name in (("customer", customer, "title"), ("device", device, "name")):
            for i in range(8):
                current = p.ca.ok(kind + ".get", {"id": eid(thing["id"])}, token=ta.token)
                base = {"id": eid(thing["id"]), "version": current["version"], name: current[name]}
                if kind == "device":
                    base["type"] = "t"
                replies = at_once([(c, kind + ".update", dict(base, label="by " + c.prefix) if kind == "device"
                                    else dict(base, city="by " + c.prefix), {"token": ta.token})
                                   for c in p.both()])
                check(statuses(replies) == [200, 409], "%s update %d from version %d: %s (two agents must not "
                      "both write over one version)" % (kind, i, current["version"], statuses(replies)), replies)
                after = p.cb.ok(kind + ".get", {"id": eid(thing["id"])}, token=ta.token)
                check(after["version"] == current["version"] + 1, "the version rose once", current, after)


def test_uniquify_on_both_agents_gives_two_names():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        for i in range(6):
            title = unique("Twin")
            for op, key in (("customer.create", "title"), ("device.create", "name"), ("dashboard.create", "title")):
                data = {key: title, "nameConflictPolicy": "UNIQUIFY", "uniquifyStrategy": "INCREMENTAL"}
                replies = at_once([(c, op, data, {"token": ta.token}) for c in p.both()] * 2)
                check(statuses(replies) == [200] * 4, "%s UNIQUIFY on two agents: %s" % (op, statuses(replies)),
                      replies)
                names = sorted(r["data"][key] for r in replies)
                check(len(set(names)) == 4 and title in names, "four names for four UNIQUIFY creates", names)


def test_a_tenant_limit_holds_across_agents():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token, limits={"maxCustomers": 5, "maxDevices": 4})
        replies = at_once([(p.both()[i % 2], "customer.create", {"title": unique("Lim")}, {"token": ta.token})
                           for i in range(20)])
        check(statuses(replies) == [200] * 5 + [403] * 15, "maxCustomers 5: %s" % statuses(replies))
        replies = at_once([(p.both()[i % 2], "device.create", {"name": unique("Lim")}, {"token": ta.token})
                           for i in range(16)])
        check(statuses(replies) == [200] * 4 + [403] * 12, "maxDevices 4: %s" % statuses(replies))
        (n,), = query(p.a.db, "SELECT count(*) FROM customer WHERE tenant_id = ? AND NOT is_public", (ta.tenant_id,))
        check(n == 5, "%d customers stored for a limit of 5" % n)


DEVICES = 1500


def test_a_deleted_customers_devices_are_unassigned_once():
    # 750 chunks of 2: the job lasts long enough for both agents to see it (each looks every second)
    with Pair({"unassign_chunk_size": 2}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        customer = make_customer(p.ca, ta.token)
        cid = eid(customer["id"])
        ids = []
        for i in range(0, DEVICES, 300):
            made = at_once([(p.both()[j % 2], "device.create", {"name": unique("U")}, {"token": ta.token})
                            for j in range(300)])
            ids += [eid(expect(r, 200)["id"]) for r in made]
        for i in range(0, len(ids), 100):
            expect(p.ca.request("device.assign", {"ids": ids[i:i + 100], "customerId": cid}, token=ta.token), 200)
        expect(p.cb.request("customer.delete", {"id": cid}, token=ta.token), 200)
        wait_until(lambda: query(p.a.db, "SELECT count(*) FROM unassign_job")[0][0] == 0, timeout=120,
                   what="the unassign job done")
        rows = query(p.a.db, "SELECT version, count(*) FROM device WHERE tenant_id = ? GROUP BY version",
                     (ta.tenant_id,))
        check(rows == [(3, DEVICES)], "every device created, assigned and unassigned once is at version 3: %r" % rows)
        (left,), = query(p.a.db, "SELECT count(*) FROM device WHERE customer_id IS NOT NULL AND tenant_id = ?",
                         (ta.tenant_id,))
        check(left == 0, "%d devices still assigned" % left)
        logs = p.a.log_text() + p.b.log_text()
        check("A chunk of a deleted customer" not in logs, "a chunk failed: two agents ran the job at once")
        done = "Unassigned the %d devices, assets and edges of deleted customer %s" % (DEVICES, cid)
        check(logs.count(done) == 1, "the job's end is logged once, with every device counted",
              [line for line in logs.splitlines() if "Unassigned the" in line])


def test_an_unassign_job_of_a_killed_agent_is_taken_over():
    with Pair({"unassign_chunk_size": 1}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        customer = make_customer(p.ca, ta.token)
        cid = eid(customer["id"])
        made = at_once([(p.both()[j % 2], "device.create", {"name": unique("K")}, {"token": ta.token})
                        for j in range(600)])
        ids = [eid(expect(r, 200)["id"]) for r in made]
        for i in range(0, len(ids), 100):
            expect(p.ca.request("device.assign", {"ids": ids[i:i + 100], "customerId": cid}, token=ta.token), 200)
        # cm/b deletes the customer and starts on the job at once; it dies in the middle
        expect(p.cb.request("customer.delete", {"id": cid}, token=ta.token), 200)
        wait_until(lambda: query(p.a.db, "SELECT count(*) FROM device WHERE customer_id IS NULL AND tenant_id = ?",
                                 (ta.tenant_id,))[0][0] > 0, timeout=30, what="the job started")
        p.b.kill()
        wait_until(lambda: query(p.a.db, "SELECT count(*) FROM unassign_job")[0][0] == 0, timeout=120,
                   what="the job finished by the agent left")
        rows = query(p.a.db, "SELECT version, count(*) FROM device WHERE tenant_id = ? GROUP BY version",
                     (ta.tenant_id,))
        check(rows == [(3, 600)], "each device unassigned once: %r" % rows)


def test_a_deleted_tenants_rows_are_deleted_by_one_agent_at_a_time():
    with Pair({"unassign_chunk_size": 5}) as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        con = pg_helpers.db_connect(p.a.db)
        try:
            now = int(time.time() * 1000)
            with con:
                con.executemany("INSERT INTO device (id, created_time, tenant_id, customer_id, name, type)"
                                " VALUES (?, ?, ?, NULL, ?, 'bulk')",
                                (("%08x-0000-7000-8000-%012x" % (now // 1000 % 2 ** 32, i), now + i, ta.tenant_id,
                                  "bulk-%d" % i) for i in range(DEVICES * 2)))
        finally:
            con.close()
        expect(p.cb.request("tenant.delete", {"id": ta.tenant_id}, token=p.sys_token), 200)
        wait_until(lambda: query(p.a.db, "SELECT count(*) FROM tenant_delete_job")[0][0] == 0, timeout=120,
                   what="the tenant delete job done")
        (left,), = query(p.a.db, "SELECT count(*) FROM device WHERE tenant_id = ?", (ta.tenant_id,))
        check(left == 0, "%d devices of the deleted tenant left" % left)
        logs = p.a.log_text() + p.b.log_text()
        check("A chunk of a deleted customer's or tenant's rows failed" not in logs,
              "a chunk failed: two agents ran the job at once")
        done = [line for line in logs.splitlines() if "of deleted tenant %s in" % ta.tenant_id in line]
        check(len(done) == 1 and ("Deleted the %d devices" % (DEVICES * 2)) in done[0],
              "the job's end is logged once, with every row counted", done)


def test_nothing_is_left_assigned_to_a_customer_deleted_meanwhile():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        for i in range(20):
            cid = eid(make_customer(p.ca, ta.token)["id"])
            devices = [eid(p.ca.ok("device.create", {"name": unique("R")}, token=ta.token)["id"]) for _ in range(3)]
            at_once([(p.ca, "device.assign", {"ids": devices, "customerId": cid}, {"token": ta.token}),
                     (p.ca, "user.create", {"email": unique_email("cu"), "authority": "CUSTOMER_USER",
                                            "customerId": cid}, {"token": ta.token}),
                     (p.cb, "customer.delete", {"id": cid}, {"token": ta.token})])
        wait_until(lambda: query(p.a.db, "SELECT count(*) FROM unassign_job")[0][0] == 0, timeout=60,
                   what="the unassign jobs done")
        (devices,), = query(p.a.db, "SELECT count(*) FROM device d WHERE d.customer_id IS NOT NULL AND NOT EXISTS"
                                    " (SELECT 1 FROM customer c WHERE c.id = d.customer_id)")
        (users,), = query(p.a.db, "SELECT count(*) FROM tb_user u WHERE u.authority = 'CUSTOMER_USER' AND NOT EXISTS"
                                  " (SELECT 1 FROM customer c WHERE c.id = u.customer_id)")
        check(devices == 0 and users == 0, "%d devices and %d users left with a deleted customer (an assignment "
              "read the customer before another agent deleted it)" % (devices, users))


def test_tokens_cursors_and_two_factor_logins_work_on_either_agent():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        # an access token and a refresh token made on one agent
        pair = p.ca.ok("auth.login", {"email": ta.email, "password": ta.password})
        p.cb.ok("user.get", {"id": ta.user_id}, token=pair["token"])
        again = p.cb.ok("auth.refresh", {"refreshToken": pair["refreshToken"]})
        expect(p.ca.request("auth.refresh", {"refreshToken": pair["refreshToken"]}), 401)  # spent on cm/b
        # one refresh token sent to both at once is spent once
        for _ in range(5):
            replies = at_once([(c, "auth.refresh", {"refreshToken": again["refreshToken"]}, {}) for c in p.both()])
            check(statuses(replies) == [200, 401], "one refresh token, two pairs: %s" % statuses(replies), replies)
            again = [r for r in replies if r["status"] == 200][0]["data"]
        # a cursor made by one agent continues on the other
        prefix = unique("Page")
        for i in range(7):
            make_customer(p.ca, ta.token, title="%s %d" % (prefix, i))
        seen = []
        page = p.ca.ok("customer.list", {"pageSize": 3, "page": 0, "textSearch": prefix}, token=ta.token)
        seen += [c["title"] for c in page["data"]]
        turn = 1
        while page.get("hasNext"):
            c = p.both()[turn % 2]
            turn += 1
            page = c.ok("customer.list", {"pageSize": 3, "pageToken": page["nextPageToken"], "textSearch": prefix},
                        token=ta.token)
            seen += [x["title"] for x in page["data"]]
        check(sorted(seen) == ["%s %d" % (prefix, i) for i in range(7)], "the pages on both agents", seen)
        # a two-factor login started on one agent ends on either; a token verified on both at once,
        # once. A TOTP code is accepted once (RFC 6238 5.2) and verifyAndSave spent this step's, so
        # the login uses the next step's (next_totp), the one fresh code there is for 30 s.
        secret = enable_totp(p.ca, ta.token, ta.email)
        pre = challenge(p.ca, ta.email)["token"]
        data = {"preVerificationToken": pre, "providerType": "TOTP", "verificationCode": next_totp(secret)}
        replies = at_once([(c, "auth.twoFa.verify", data, {}) for c in p.both()])
        check(statuses(replies) == [200, 401], "one pre-verification token, two logins: %s" % statuses(replies),
              replies)
        done = next(r for r in replies if r.get("status") == 200)["data"]
        for c in p.both():
            c.ok("user.get", {"id": ta.user_id}, token=done["token"])



def test_an_activation_link_and_a_backup_code_are_spent_once():
    with Pair() as p:
        ta = make_tenant_admin(p.ca, p.sys_token)
        for i in range(4):
            user = p.ca.ok("user.create", {"email": unique_email("act"), "authority": "TENANT_ADMIN",
                                           "tenantId": ta.tenant_id}, token=p.sys_token)
            link = p.ca.ok("user.activationLink", {"id": eid(user["id"])}, token=p.sys_token)
            data = {"activateToken": activation_token_of(link["value"]), "password": DEFAULT_PASSWORD}
            replies = at_once([(c, "auth.activate", data, {}) for c in p.both()])
            check(statuses(replies).count(200) == 1, "one activation link, %s" % statuses(replies), replies)
        codes = p.ca.ok("twoFa.accountConfig.generate", {"providerType": "BACKUP_CODE"}, token=ta.token)["codes"]
        for code in codes[:4]:
            pres = [challenge(c, ta.email)["token"] for c in p.both()]
            replies = at_once([(c, "auth.twoFa.verify", {"preVerificationToken": pre, "providerType": "BACKUP_CODE",
                                                         "verificationCode": code}, {})
                               for c, pre in zip(p.both(), pres)])
            check(statuses(replies) == [200, 401], "one backup code, two logins: %s" % statuses(replies), replies)
        left = p.cb.ok("twoFa.accountConfig.get", None, token=ta.token)["configs"]["BACKUP_CODE"]["codesLeft"]
        check(left == len(codes) - 4, "%d codes left of %d after 4 used" % (left, len(codes)))


if __name__ == "__main__":
    if not pg_helpers.wanted():
        print("test_pg_shared_state.py is about agents sharing a PostgreSQL database: run it with "
              "CMAGENT_TEST_DATABASE=postgres")
        print("0 passed, 1 failed")
        sys.exit(1)
    run_tests(globals())
