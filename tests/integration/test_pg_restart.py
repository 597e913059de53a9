"""test_pg_restart.py: the agent survives a PostgreSQL restart under load (PostgreSQL only: it
starts its own throwaway cluster whatever CMAGENT_TEST_DATABASE says). Creates run 16 in flight
with envelope ids while the server is stopped (pg_ctl stop -m fast, then -m immediate) and started
again: while it is down every write and read (agent.ping too) answers at once 503 "Database
unavailable: ..." naming the unreachable server (never 500, never no reply, the agent never exits); once it is back the
agent reopens its writer and reader connections by itself and serves again within seconds; every
create answered 200 is in the database once with the id it was answered with, and its event is
published. Bounded: one agent, two outages of a few seconds, on 127.0.0.1."""

import os
import threading
import time

os.environ["CMAGENT_TEST_DATABASE"] = "postgres"  # before helpers decides where agents keep their data

import pg_helpers
from helpers import (SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, EventListener, check, dumps, expect,
                     make_customer, make_tenant_admin, run_tests, unique)

IN_FLIGHT = 16
REPLY_TIMEOUT = 10     # a request not answered within this is a hang
DOWN_SECONDS = 3.0     # how long the server stays down
RECOVER_SECONDS = 20   # the agent serves again within this of the server being back
UNAVAILABLE = "Database unavailable: "


class Load:
    """Creates with envelope ids, IN_FLIGHT at a time, until stopped; every reply recorded as
    (title, status, message, customer id, sent, answered) in monotonic seconds."""

    def __init__(self, client, token):
        self.c = client
        self.token = token
        self.records = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(REPLY_TIMEOUT * 2)
        check(not self.thread.is_alive(), "the load did not stop")

    def _run(self):
        while not self.stopping.is_set():
            sent = time.monotonic()
            round_ = [(unique("Restart"),) for _ in range(IN_FLIGHT)]
            corrs = [(t[0], self.c.begin("customer.create", {"title": t[0]}, token=self.token, id=unique("env")))
                     for t in round_]
            failed = 0
            for title, corr in corrs:
                try:
                    r = self.c.result(corr, timeout=REPLY_TIMEOUT)
                    status, message = r.get("status"), r.get("message", "")
                    cid = (r.get("data") or {}).get("id", {}).get("id") if status == 200 else None
                except AssertionError as e:
                    status, message, cid = None, str(e), None
                failed += status != 200
                with self.lock:
                    self.records.append((title, status, message, cid, sent, time.monotonic()))
            if failed == len(corrs):
                time.sleep(0.02)  # the server is down: no need to spin the two cores

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(r) for r in self.snapshot()):
                return
            time.sleep(0.05)
        raise AssertionError("no %s within %ss; last replies: %s" % (what, timeout, self.snapshot()[-5:]))


def unavailable_reply(r, what):
    expect(r, 503, errorCode=46, context=what)
    check(r["message"].startswith(UNAVAILABLE) and "PostgreSQL" in r["message"],
          "%s: the 503 does not name the unreachable database" % what, r)


def outage(cluster, load, c, ta, customer_id, mode):
    """Stops the server (mode), checks the 503s, starts it again, checks the recovery."""
    cluster.stop_server(mode)
    down_at = time.monotonic()
    load.wait_for(lambda r: r[4] >= down_at and r[1] == 503, REPLY_TIMEOUT, "503 for a create while PostgreSQL is down")
    unavailable_reply(c.request("customer.get", {"id": customer_id}, token=ta.token, timeout=REPLY_TIMEOUT),
                      "customer.get while PostgreSQL is down (%s)" % mode)
    unavailable_reply(c.request("auth.login", {"email": ta.email, "password": ta.password}, timeout=REPLY_TIMEOUT),
                      "auth.login while PostgreSQL is down (%s)" % mode)
    unavailable_reply(c.request("agent.ping", timeout=REPLY_TIMEOUT), "agent.ping while PostgreSQL is down (%s)" % mode)
    time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
    up_from = time.monotonic()
    down_replies = [r for r in load.snapshot() if r[4] >= down_at and r[5] <= up_from]
    check(down_replies and all(r[1] == 503 and r[2].startswith(UNAVAILABLE) for r in down_replies),
          "a create sent and answered while PostgreSQL was down (%s) did not answer 503 %r" % (mode, UNAVAILABLE),
          [r for r in down_replies if r[1] != 503][:3])
    cluster.start_server()
    back_at = time.monotonic()
    load.wait_for(lambda r: r[4] >= back_at and r[1] == 200, RECOVER_SECONDS, "create answered 200 after the restart")
    expect(c.request("customer.get", {"id": customer_id}, token=ta.token, timeout=REPLY_TIMEOUT), 200,
           context="customer.get after the restart (%s)" % mode)
    expect(c.request("auth.login", {"email": ta.email, "password": ta.password}, timeout=REPLY_TIMEOUT), 200,
           context="auth.login after the restart (%s)" % mode)
    return len(down_replies)


def check_acknowledged_creates(agent, tenant_id, records):
    con = pg_helpers.db_connect(agent.db, readonly=True)
    try:
        rows = con.execute("SELECT title, id FROM customer WHERE tenant_id = ?", (tenant_id,)).fetchall()
    finally:
        con.close()
    stored = {}
    for title, cid in rows:
        stored.setdefault(title, []).append(cid)
    acked = [r for r in records if r[1] == 200]
    wrong = [(r[0], r[3], stored.get(r[0])) for r in acked if stored.get(r[0]) != [r[3]]]
    check(not wrong, "%d of %d creates answered 200 are not in the database once with their id" % (len(wrong), len(acked)),
          wrong[:5])
    return acked


def test_writes_and_reads_answer_503_while_postgres_is_down_then_recover():
    with Broker() as b, Agent(b.port) as agent:
        cluster = pg_helpers.cluster()
        with Client(b.port) as c, EventListener(b.port) as events:
            sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            ta = make_tenant_admin(c, sys_token)
            customer_id = make_customer(c, ta.token)["id"]["id"]
            with Client(b.port) as loader:
                load = Load(loader, ta.token).start()
                try:
                    load.wait_for(lambda r: r[1] == 200, REPLY_TIMEOUT, "create answered 200 before the outage")
                    time.sleep(1.0)
                    downs = [outage(cluster, load, c, ta, customer_id, mode) for mode in ("fast", "immediate")]
                    time.sleep(1.0)
                finally:
                    load.stop()
            records = load.snapshot()
            odd = [r for r in records if r[1] not in (200, 503) or (r[1] == 503 and not r[2].startswith(UNAVAILABLE))]
            check(not odd, "%d replies neither 200 nor 503 %r (or no reply within %ss)"
                  % (len(odd), UNAVAILABLE, REPLY_TIMEOUT), odd[:5])
            acked = check_acknowledged_creates(agent, ta.tenant_id, records)
            ids = set(r[3] for r in acked)
            deadline = time.monotonic() + RECOVER_SECONDS
            while time.monotonic() < deadline:
                seen = set(body.get("originator", {}).get("id") for _t, body, _r in events.snapshot())
                if ids <= seen:
                    break
                time.sleep(0.1)
            missing = ids - seen
            check(not missing, "%d acknowledged creates have no published event" % len(missing), sorted(missing)[:5])
            print("   %d creates answered 200, %d answered 503 (%s while down)"
                  % (len(acked), sum(r[1] == 503 for r in records), " and ".join(str(d) for d in downs)))
        check(agent.running(), "the agent exited during the outages")
        log = agent.log_text()
        for line in ("PostgreSQL: the writer's connection is lost", "PostgreSQL: reopened the writer's connection"):
            check(log.count(line) == 2, "the log does not say %r once per outage (%d)" % (line, log.count(line)))
        check("Database error" not in log, "an outage was logged as a database error",
              dumps([l for l in log.splitlines() if "Database error" in l][:3]))


if __name__ == "__main__":
    run_tests(globals())
