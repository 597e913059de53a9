"""test_faults.py: surviving faults. Every scenario drives customer.create with envelope ids and
retries unanswered requests with the same id (as a careful client does), then checks that each
acknowledged create exists exactly once, that no create exists twice, that the events' seq has no
gap and that every committed change has its event, published.

- kill -9 of the agent every second or two under load;
- the process exits between a commit and the publication of its replies and events (test hook
  CMAGENT_TEST_EXIT_AFTER_COMMIT): the events go out after the restart;
- the broker restarts (with persistence) under load, and requests published while the agent is
  away wait in its persistent session;
- the database cannot grow (the file size limit of the agent's process is lowered at run time):
  writes answer 500 errorCode 46, reads still work, and writes work again once it is raised.
"""

import random
import resource
import signal
import time

from helpers import (
    Agent, Broker, Client, EventListener, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, check, eid, expect,
    make_tenant_admin, run_tests, tail, unique, wait_until)
from pg_helpers import db_connect


class RetryingClient(Client):
    """A protocol client that reconnects by itself (paho's loop) and subscribes its reply topic again
    after each reconnect, so that it survives a broker restart."""

    def __init__(self, port):
        super().__init__(port)
        self.mqtt.reconnect_delay_set(0.2, 1)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        super()._on_connect(client, userdata, flags, rc, properties)
        if rc == 0 and getattr(self, "reply_topic", None):
            client.subscribe(self.reply_topic, 1)


def drive(c, token, prefix, n, window=16, retry_after=3.0, time_limit=60.0, hook=None, rate=100.0):
    """Creates customers <prefix>-0000.. with ids <prefix>#i, at most rate new ones a second and
    window in flight, resending with the same id whatever stays unanswered for retry_after seconds
    (or could not be published). Calls hook(elapsed) on every turn. Returns {i: reply} of the 200
    replies (the first one per i) and the number of resends."""
    acked = {}
    corrs = {}       # i -> [correlation keys of every send]
    sent_at = {}     # i -> time of the last send
    next_i = 0
    resends = 0
    t0 = time.monotonic()

    def send(i):
        try:
            corr = c.begin("customer.create", {"title": "%s-%04d" % (prefix, i)}, token=token,
                           id="%s#%d" % (prefix, i))
            corrs.setdefault(i, []).append(corr)
        except Exception:
            pass  # not published (the broker is away): resent after retry_after
        sent_at[i] = time.monotonic()

    while len(acked) < n:
        now = time.monotonic()
        if now - t0 > time_limit:
            raise AssertionError("%d of %d creates unanswered after %.0fs" % (n - len(acked), n, time_limit))
        if hook is not None:
            hook(now - t0)
        while next_i < n and next_i - len(acked) < window and next_i < (now - t0) * rate + 1:
            send(next_i)
            next_i += 1
        for i in list(sent_at):
            if i in acked:
                continue
            for corr in corrs.get(i, []):
                if c.has_reply(corr):
                    r = c.result(corr, timeout=1)
                    if r.get("status") == 200:
                        acked[i] = r
                        break
                    check(r.get("status") == 500 and r.get("errorCode") == 46,
                          "unexpected reply to create %d" % i, r)
            if i not in acked and time.monotonic() - sent_at[i] > retry_after:
                resends += 1
                send(i)
        time.sleep(0.005)
    return acked, resends


def check_customers(c, token, prefix, acked, n):
    """Every create exists exactly once, with the id its acknowledgement named."""
    rows, page = [], 0
    while True:  # max_page_size is 1000
        d = expect(c.request("customer.list", {"pageSize": 1000, "page": page, "textSearch": prefix}, token=token,
                             timeout=30), 200)
        rows += d["data"]
        if not d["hasNext"]:
            break
        page += 1
    titles = [x["title"] for x in rows]
    check(len(titles) == len(set(titles)), "a create exists twice", sorted(titles))
    check(sorted(titles) == ["%s-%04d" % (prefix, i) for i in range(n)], "creates lost or extra", sorted(titles))
    by_title = {x["title"]: eid(x["id"]) for x in rows}
    for i, r in acked.items():
        check(by_title["%s-%04d" % (prefix, i)] == eid(r["data"]["id"]),
              "the acknowledged customer is not the stored one", r)
    return by_title


def check_outbox(db_path, listener, after_seq, customer_ids, timeout=30):
    """seq is gapless from 1, every created customer has exactly one ENTITY_CREATED event, and every
    event after after_seq was published to the listener (at least once)."""
    con = db_connect(db_path, readonly=True, timeout=10)
    try:
        seqs = [r[0] for r in con.execute("SELECT seq FROM outbox ORDER BY seq")]
        counter = con.execute("SELECT value FROM counter WHERE name = 'event_seq'").fetchone()[0]
        created = {}
        for payload, in con.execute("SELECT payload FROM outbox WHERE entity_type = 'CUSTOMER'"
                                    " AND event_type = 'ENTITY_CREATED'"):
            import json
            b = json.loads(payload)
            created.setdefault(eid(b["originator"]), []).append(b["seq"])
    finally:
        con.close()
    check(seqs == list(range(1, len(seqs) + 1)), "the outbox seq has gaps", seqs[:50])
    check(counter == len(seqs), "the seq counter (%d) and the outbox (%d) disagree" % (counter, len(seqs)))
    for cid in customer_ids:
        check(len(created.get(cid, [])) == 1, "customer %s has %d create events" % (cid, len(created.get(cid, []))))
    want = set(s for s in seqs if s > after_seq)

    def all_published():
        got = set(b.get("seq") for _, b, _ in listener.snapshot() if isinstance(b, dict))
        return want <= got
    wait_until(all_published, timeout=timeout, interval=0.2, what="every committed event published")
    return seqs


def max_seq(db_path):
    con = db_connect(db_path, readonly=True, timeout=10)
    try:
        return con.execute("SELECT value FROM counter WHERE name = 'event_seq'").fetchone()[0]
    finally:
        con.close()


def setup_admin(port):
    with Client(port) as c:
        sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
        return make_tenant_admin(c, sys_token)


def test_kill9_under_load():
    rng = random.Random(6)
    n = 1400
    with Broker() as b:
        a = Agent(b.port, log_level="info").start()
        kills = [0]
        try:
            ta = setup_admin(b.port)
            start_seq = max_seq(a.db)
            with EventListener(b.port) as listener, Client(b.port) as c:
                next_kill = [1.0 + rng.random()]

                def killer(elapsed):
                    if elapsed > 11.0 or elapsed < next_kill[0]:
                        return
                    a.kill()
                    kills[0] += 1
                    a.start(wait=False)
                    next_kill[0] = elapsed + 1.0 + 1.5 * rng.random()

                prefix = unique("K9")
                acked, resends = drive(c, ta.token, prefix, n, window=16, retry_after=2.0, time_limit=75, hook=killer,
                                       rate=100.0)
                a.wait_ready()
                by_title = check_customers(c, ta.token, prefix, acked, n)
                check_outbox(a.db, listener, start_seq, by_title.values())
                print("kill -9 x%d, %d creates, %d resends" % (kills[0], n, resends))
                check(kills[0] >= 4, "the agent was killed only %d times" % kills[0])
        finally:
            a.__exit__(None, None, None)


def test_exit_between_commit_and_publish():
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            ta = setup_admin(b.port)
            with EventListener(b.port) as listener, Client(b.port) as c:
                a.stop()
                a.env["CMAGENT_TEST_EXIT_AFTER_COMMIT"] = "1"
                a.start()
                title = unique("Crash")
                corr = c.begin("customer.create", {"title": title}, token=ta.token, id="crash-1")
                rc = a.proc.wait(30)
                a.exit_codes.append(rc)
                a.proc = None
                check(rc == 70, "the test hook did not end the agent after the commit (rc %r)\n%s" % (rc, tail(a.log)))
                time.sleep(0.5)
                check(not c.has_reply(corr), "a reply was published before the crash")
                check(not [e for _, e, _ in listener.snapshot() if e.get("data", {}).get("title") == title],
                      "the event was published before the crash", listener.snapshot())
                con = db_connect(a.db, readonly=True)
                rows = con.execute("SELECT seq, published FROM outbox WHERE payload LIKE ?",
                                   ("%" + title + "%",)).fetchall()
                con.close()
                check(len(rows) == 1 and rows[0][1] == 0, "the committed event is not waiting in the outbox", rows)
                del a.env["CMAGENT_TEST_EXIT_AFTER_COMMIT"]
                a.start()
                _, ev = listener.wait_for(lambda t, e: e.get("data", {}).get("title") == title, timeout=20,
                                          what="the event after the restart")
                check(ev["seq"] == rows[0][0], "the event came out with another seq", ev, rows)
                # the client, having had no reply, retries with the same id: the stored first reply
                r = expect(c.request("customer.create", {"title": title}, token=ta.token, id="crash-1"), 200)
                check(eid(r["id"]) == eid(ev["originator"]), "the retry names another customer", r, ev)
                d = expect(c.request("customer.list", {"pageSize": 10, "page": 0, "textSearch": title},
                                     token=ta.token), 200)
                check(d["totalElements"] == 1, "exactly one customer", d)

                def marked():
                    con2 = db_connect(a.db, readonly=True)
                    try:
                        return con2.execute("SELECT published FROM outbox WHERE seq = ?", (rows[0][0],)).fetchone()[0]
                    finally:
                        con2.close()
                wait_until(marked, timeout=10, what="the event marked published after the broker's ack")
        finally:
            a.__exit__(None, None, None)


def test_broker_restart_under_load():
    n = 300
    with Broker(persistence=True) as b:
        a = Agent(b.port, log_level="info").start()
        try:
            ta = setup_admin(b.port)
            c = RetryingClient(b.port)
            try:
                restarted = [False]

                def restart_broker(elapsed):
                    if not restarted[0] and elapsed > 1.0:
                        restarted[0] = True
                        b.stop()
                        time.sleep(1.0)
                        b.start()

                prefix = unique("BR")
                acked, resends = drive(c, ta.token, prefix, n, window=8, retry_after=3.0, time_limit=75,
                                       hook=restart_broker, rate=100.0)
                check(restarted[0], "the broker was not restarted during the load")
                wait_until(lambda: c.mqtt.is_connected(), timeout=10, what="client reconnected")

                # Requests published while the agent is away wait in its persistent session: the agent
                # is stopped (SIGSTOP) so it cannot reconnect before they are queued.
                a.proc.send_signal(signal.SIGSTOP)
                try:
                    b.stop()
                    b.start()
                    wait_until(lambda: c.mqtt.is_connected(), timeout=15, what="client reconnected")
                    time.sleep(0.5)  # the reply subscription is renewed
                    queued_prefix = unique("Queued")
                    corrs = [c.begin("customer.create", {"title": "%s-%04d" % (queued_prefix, i)}, token=ta.token,
                                     id="%s#%d" % (queued_prefix, i)) for i in range(20)]
                finally:
                    a.proc.send_signal(signal.SIGCONT)
                try:
                    queued = {i: c.result(corr, timeout=45) for i, corr in enumerate(corrs)}
                except AssertionError:
                    print("---- agent log ----\n%s\n---- broker log ----\n%s" % (tail(a.log, 60), tail(b.log, 60)))
                    raise
                for r in queued.values():
                    expect(r, 200, context="a request queued in the agent's session")
                with EventListener(b.port) as listener:
                    check_customers(c, ta.token, queued_prefix, queued, 20)
                    by_title = check_customers(c, ta.token, prefix, acked, n)
                    check_outbox(a.db, listener, max_seq(a.db), by_title.values())
                log = a.log_text()
                check(log.count("Connected to ") >= 3, "the agent did not reconnect twice:\n" + tail(a.log))
                print("broker restarted twice, %d creates, %d resends" % (n, resends))
            finally:
                c.close()
        finally:
            a.__exit__(None, None, None)


def unpublished_events(db_path):
    con = db_connect(db_path, readonly=True, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM outbox WHERE published = 0").fetchone()[0]
    finally:
        con.close()


def test_broker_away_while_a_job_writes():
    """Events a job commits while the broker is away stay in the outbox and go out after the
    reconnect at the broker's pace: a request right after the reconnect is answered at once, and
    every event is acknowledged within seconds. (Paho used to buffer them, and sent what exceeded
    the broker's Receive Maximum 20 a second, with the replies behind them.)"""
    n = 4000
    with Broker(persistence=True) as b:
        a = Agent(b.port, log_level="info", extra={"import_chunk_rows": 100}).start()
        try:
            ta = setup_admin(b.port)
            c = RetryingClient(b.port)
            try:
                prefix = unique("Away")
                rows = [{"name": "%s-%05d" % (prefix, i), "type": "away"} for i in range(n)]
                j = expect(c.request("import.run", {"entityType": "DEVICE", "rows": rows}, token=ta.token), 200)
                b.stop()
                time.sleep(1.5)  # the job goes on committing
                b.start()
                wait_until(lambda: c.mqtt.is_connected(), timeout=15, what="client reconnected")
                wait_until(lambda: a.log_text().count("Subscribed to ") >= 2, timeout=15, what="agent resubscribed")
                time.sleep(0.3)  # the reply subscription is renewed
                t0 = time.monotonic()
                expect(c.request("agent.ping", timeout=5), 200, context="a ping right after the reconnect")
                ping_s = time.monotonic() - t0
                st = expect(c.request("import.status", {"jobId": j["jobId"]}, token=ta.token, timeout=5), 200)
                wait_until(lambda: unpublished_events(a.db) == 0, timeout=15, what="every event acknowledged")
                drained_s = time.monotonic() - t0
                st = wait_until(lambda: (lambda r: r if r["status"] != "RUNNING" else None)(
                    expect(c.request("import.status", {"jobId": j["jobId"]}, token=ta.token), 200)),
                    timeout=60, what="the job ends")
                check(st["status"] == "FINISHED" and st["created"] == n, "the job created every row", st)
                check(a.running(), "the agent died:\n" + tail(a.log))
                print("broker away 1.5 s under a job of %d rows: ping %.3f s after the reconnect, every event "
                      "acknowledged %.2f s after it" % (n, ping_s, drained_s))
            finally:
                c.close()
        finally:
            a.__exit__(None, None, None)


def test_database_cannot_grow():
    """RLIMIT_FSIZE of the running agent is lowered below the size of its files (every write that
    grows a file fails with EFBIG, as on a full disk), then raised again."""
    with Broker() as b:
        a = Agent(b.port, log_level="info").start()
        try:
            ta = setup_admin(b.port)
            with Client(b.port) as c:
                before = expect(c.request("customer.create", {"title": unique("Before")}, token=ta.token), 200)
                pid = a.proc.pid
                soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (4096, hard))
                try:
                    for i in range(3):
                        r = c.request("customer.create", {"title": unique("Full")}, token=ta.token, id="full-%d" % i)
                        expect(r, 500, 46, contains="Database error", context="a write on a full disk")
                        print("write on a full disk: %s" % r["message"])
                    got = expect(c.request("customer.get", {"id": eid(before["id"])}, token=ta.token), 200,
                                 context="a read on a full disk")
                    check(got["title"] == before["title"], "read", got)
                    expect(c.request("customer.list", {"pageSize": 10, "page": 0}, token=ta.token), 200)
                finally:
                    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
                for i in range(3):
                    r = expect(c.request("customer.create", {"title": unique("After")}, token=ta.token,
                                         id="full-%d" % i), 200, context="a write once space returned")
                d = expect(c.request("customer.list", {"pageSize": 100, "page": 0, "textSearch": "Full"},
                                     token=ta.token), 200)
                check(d["totalElements"] == 0, "a failed write left a customer behind", d)
                check(a.running(), "the agent died:\n" + tail(a.log))
        finally:
            a.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests(globals())
