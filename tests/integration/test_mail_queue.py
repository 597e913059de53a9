"""test_mail_queue.py: the mails no reply waits for (here the password reset's) go through the
database's mail_queue table, through a real SMTP server (aiosmtpd on a free loopback port): a reset
mail is delivered as before and its row deleted; one refused by the SMTP server is sent once the
server takes it again; one still unsent when the agent is killed (kill -9) is sent after the
agent's restart, and on PostgreSQL by a second agent of the database once the dead one's claim ran
out; a queued row past its expiry is dropped unsent; a request rolled back after composing its
mail queues none. Short claims and retries (mail_claim_s 1, mail_retry_s 1, smtp_timeout 4) keep
it bounded."""

import time

import pg_helpers
from helpers import (Agent, Env, check, eid, expect, link_token,
                     make_customer, make_customer_user, make_tenant_admin, run_tests, unique, unique_email,
                     wait_until)

BASE_URL = "https://cm.test.example"
SETTINGS = {"base_url": BASE_URL, "mail_claim_s": 1, "mail_retry_s": 1, "smtp_timeout": 4}


def new_env():
    return Env(smtp=True, agent_extra=dict(SETTINGS))


def user_of(env, prefix):
    ta = make_tenant_admin(env.c, env.sys_token)
    cust = make_customer(env.c, ta.token)
    return make_customer_user(env.c, ta.token, eid(cust["id"]), email=unique_email(prefix))


def queued(db, recipient=None):
    """The rows of the mail queue (for recipient when given)."""
    con = pg_helpers.db_connect(db, readonly=True)
    try:
        sql = "SELECT recipient, attempts, claimed_by, expires_at FROM mail_queue"
        if recipient is not None:
            return list(con.execute(sql + " WHERE recipient = ?", (recipient,)).fetchall())
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


def write(env, *statements):
    """Runs statements in one transaction of the test's own. An SQLite file has one writer, the agent:
    it is stopped meanwhile (PostgreSQL takes them beside it)."""
    stop = not pg_helpers.wanted()
    if stop:
        env.agent.stop()
    con = pg_helpers.db_connect(env.agent.db)
    try:
        for sql, params in statements:
            con.execute(sql, params)
        con.commit()
    finally:
        con.close()
        if stop:
            env.agent.start()


def no_mail_for(env, address, seconds):
    time.sleep(seconds)
    check(not env.smtp.mails_to(address), "a mail went to %s" % address, env.smtp.mails_to(address))


def test_reset_mail_delivered_and_its_row_deleted(env):
    u = user_of(env, "queued")
    t0 = time.monotonic()
    env.c.ok("auth.resetPasswordByEmail", {"email": u.email})
    replied = time.monotonic() - t0
    mail = env.smtp.wait_mail(u.email)
    mailed = time.monotonic() - t0
    link, _ = link_token(mail["body"], "resetToken")
    check(link.startswith(BASE_URL + "/api/noauth/resetPassword?resetToken="), "reset link", link)
    wait_until(lambda: not queued(env.agent.db, u.email), timeout=5, what="the sent mail's row deleted")
    print("    figures: reset answered in %.1f ms, its mail received %.1f ms after the request"
          % (replied * 1000, mailed * 1000))
    check(len(env.smtp.mails_to(u.email)) == 1, "one mail", env.smtp.mails_to(u.email))


def test_refused_mail_is_sent_once_smtp_takes_it_again(env):
    u = user_of(env, "refused")
    env.smtp.refusing = True
    try:
        r = env.c.request("auth.resetPasswordByEmail", {"email": u.email})
        expect(r, 200)
        env.smtp.wait_try(u.email)
        time.sleep(0.3)
        check(not env.smtp.mails_to(u.email), "a refused mail was received")
        rows = queued(env.agent.db, u.email)
        check(len(rows) == 1, "the refused mail waits in the queue", rows)
    finally:
        env.smtp.refusing = False
    env.smtp.wait_mail(u.email, timeout=10)
    wait_until(lambda: not queued(env.agent.db, u.email), timeout=5, what="the sent mail's row deleted")


def reset_then_kill(env, u, smtp_mode):
    """A reset mail that the SMTP server refuses or stalls (smtp_mode), and kill -9 of the agent
    once its send was tried."""
    setattr(env.smtp, smtp_mode, True)
    try:
        env.c.ok("auth.resetPasswordByEmail", {"email": u.email})
        env.smtp.wait_try(u.email)
        env.agent.kill()
    finally:
        setattr(env.smtp, smtp_mode, False)


def test_refused_mail_survives_kill9_and_restart(env):
    u = user_of(env, "killed")
    reset_then_kill(env, u, "refusing")
    no_mail_for(env, u.email, 1.5)  # nobody sends it while the agent is down
    env.agent.start()
    env.smtp.wait_mail(u.email, timeout=10)
    wait_until(lambda: not queued(env.agent.db, u.email), timeout=5, what="the sent mail's row deleted")


def test_mail_stalled_in_smtp_survives_kill9_and_restart(env):
    """The agent dies while its send is in progress: the row is still claimed by the dead process."""
    u = user_of(env, "stalled")
    reset_then_kill(env, u, "stalling")
    env.agent.start()
    env.smtp.wait_mail(u.email, timeout=15)
    check(len(env.smtp.mails_to(u.email)) == 1, "one mail", env.smtp.mails_to(u.email))


def test_second_agent_sends_the_mail_of_a_killed_one(env):
    """PostgreSQL: a second agent of the database sends the mail once the dead agent's claim ran out."""
    if not pg_helpers.wanted():
        print("    (PostgreSQL only: one agent per SQLite file, covered by the restart tests)")
        return
    other = Agent(env.broker.port, agent_id="cm-other",
                  extra=dict(env.agent_extra, topic_prefix="cm/other", database=env.agent.db))
    other.start()
    try:
        u = user_of(env, "takenover")
        env.smtp.stalling = True
        try:
            env.c.ok("auth.resetPasswordByEmail", {"email": u.email})
            env.smtp.wait_try(u.email)
            t_kill = time.monotonic()
            env.agent.kill()
        finally:
            env.smtp.stalling = False
        env.smtp.wait_mail(u.email, timeout=20)
        print("    figures: the second agent sent the mail %.1f s after the first was killed"
              % (time.monotonic() - t_kill))
        wait_until(lambda: "sent to %s" % u.email in other.log_text(), timeout=5, what="the second agent's log line")
        wait_until(lambda: not queued(env.agent.db, u.email), timeout=5, what="the sent mail's row deleted")
    finally:
        other.stop()
        env.agent.start()


def test_expired_row_is_dropped_unsent(env):
    expired, live = unique_email("expired"), unique_email("live")
    now = int(time.time() * 1000)
    sql = ("INSERT INTO mail_queue(id, recipient, subject, body, created_time, expires_at, attempts, next_attempt,"
           " claimed_by, claim_until) VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL, 0)")
    write(env,
          (sql, (unique("m"), expired, "Password reset request", "old link", now - 7200000, now - 1000, now - 3600000)),
          (sql, (unique("m"), live, "Password reset request", "new link", now, now + 600000, now)))
    env.smtp.wait_mail(live, timeout=10)  # the agent looks into the queue by itself
    wait_until(lambda: not queued(env.agent.db, expired) and not queued(env.agent.db, live), timeout=5,
               what="both rows gone")
    check(not env.smtp.mails_to(expired), "an expired mail was sent", env.smtp.mails_to(expired))
    check(expired not in env.smtp.tries, "an expired mail was tried", env.smtp.tries)


def add_failing_audit_trigger(env):
    """Fails the SUCCESS audit row of a request for an e-mail with "rollback" in it: written after the
    request's mail was queued, it rolls the request back."""
    if pg_helpers.wanted():
        write(env, ("CREATE FUNCTION test_fail_audit() RETURNS trigger AS $$ BEGIN"
                   " IF NEW.entity_name LIKE '%rollback%' AND NEW.action_status = 'SUCCESS' THEN"
                   " RAISE EXCEPTION 'test: audit row refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql", ()),
              ("CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW"
               " EXECUTE FUNCTION test_fail_audit()", ()))
    else:
        write(env, ("CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log"
                   " WHEN NEW.entity_name LIKE '%rollback%' AND NEW.action_status = 'SUCCESS'"
                   " BEGIN SELECT RAISE(ABORT, 'test: audit row refused'); END", ()))


def drop_failing_audit_trigger(env):
    if pg_helpers.wanted():
        write(env, ("DROP TRIGGER test_fail_audit ON audit_log", ()), ("DROP FUNCTION test_fail_audit()", ()))
    else:
        write(env, ("DROP TRIGGER test_fail_audit", ()))


def test_rolled_back_request_queues_nothing(env):
    u = user_of(env, "rollback")
    ok = user_of(env, "kept")
    add_failing_audit_trigger(env)
    try:
        r = env.c.request("auth.resetPasswordByEmail", {"email": u.email})
        expect(r, 500)
        check(not queued(env.agent.db, u.email), "the rolled-back request queued its mail", queued(env.agent.db))
        env.c.ok("auth.resetPasswordByEmail", {"email": ok.email})  # the others are unaffected
        env.smtp.wait_mail(ok.email)
        no_mail_for(env, u.email, 1.5)
    finally:
        drop_failing_audit_trigger(env)


if __name__ == "__main__":
    run_tests(globals(), new_env)
