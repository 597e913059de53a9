"""test_pg_failover.py: three agents on one PostgreSQL database behind one `$share/<group>/...`
subscription, one of them killed with kill -9 every few seconds (and started again) while a client
creates customers with envelope ids, a few in flight, sending again with the same id what is not
answered within a timeout. Afterwards: every acknowledged create exists exactly once and nothing
else was created; a listener's events (de-duplicated by seq) cover every committed change with seq
gapless over the database and tenantSeq gapless per tenant; and the copies it received twice come
only from a takeover, published again by the next publisher after the last one died (none while
no agent is killed). Also: creates of several tenants at many in flight on the three agents all
apply, the deadlocks between their batches notwithstanding. Bounded: about 35 s of faults and 8 s
of crossed writes, on 127.0.0.1. PostgreSQL only: the file sets
CMAGENT_TEST_DATABASE=postgres itself (tests/CMakeLists.txt runs it with the postgres label)."""

import os

os.environ["CMAGENT_TEST_DATABASE"] = "postgres"

import datetime  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pg_helpers  # noqa: E402
from helpers import (SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, MqttSession, check,  # noqa: E402
                     make_tenant_admin, run_tests, unique)

GROUP = "cmfail"
IN_FLIGHT = 4
RESEND_AFTER_S = 3.0
FAULT_SECONDS = 35.0
KILL_EVERY_S = (3.0, 5.0)
TAKEOVER_BOUND_S = 3.0  # a copy sent again after a kill arrives within this of the kill
LISTENER_LAG_S = 1.0    # the listener may take the first copy off its socket this long after the kill
CALM_SECONDS = 3.0


class Listener(MqttSession):
    """Every event, as (time received, body), in the order the broker delivered them."""

    def __init__(self, port):
        super().__init__(port)
        self.got = []
        self.subscribe("cm/v1/event/#", qos=1)

    def on_message(self, msg):
        body = json.loads(msg.payload.decode("utf-8"))
        with self._cond:
            self.got.append((time.monotonic(), body))

    def received(self):
        with self._cond:
            return list(self.got)


def start_agents(broker):
    agents = [Agent(broker.port, agent_id="cm-f%d" % i, log_level="info",
                    extra={"share_group": GROUP, "reader_threads": 1}) for i in range(3)]
    for a in agents[1:]:
        a.settings["database"] = agents[0].db  # one database for the three
    for a in agents:
        a.start()
    return agents


def is_publisher(agent):
    """Whether the agent's log (since its last start) says it holds the publisher lock now."""
    text = agent.log_text()
    text = text[text.rfind("==== start"):]
    took = text.rfind("publishes the events now")
    return took >= 0 and took > text.rfind("no longer publishes")


class Creates:
    """customer.create with envelope ids, IN_FLIGHT at a time, each sent again with the same id
    and title when unanswered after RESEND_AFTER_S, until it is answered."""

    def __init__(self, client, tenants):
        self.c = client
        self.tenants = tenants
        self.ops = {}       # envelope id -> {"title", "token", "tenant", "sends", "reply"}
        self.waiting = {}   # correlation -> (envelope id, sent at)
        self.replies = {}   # envelope id -> list of reply bodies
        self.n = 0

    def _send(self, env_id):
        op = self.ops[env_id]
        op["sends"] += 1
        corr = self.c.begin("customer.create", {"title": op["title"]}, token=op["token"], id=env_id)
        self.waiting[corr] = (env_id, time.monotonic())

    def new(self):
        self.n += 1
        tenant = self.tenants[self.n % len(self.tenants)]
        env_id = unique("create-%d" % self.n)
        self.ops[env_id] = {"title": "Failover %05d" % self.n, "token": tenant.token, "tenant": tenant.tenant_id,
                            "sends": 0, "reply": None}
        self._send(env_id)

    def open_ops(self):
        return {e for e, _ in self.waiting.values() if self.ops[e]["reply"] is None}

    def step(self, keep_creating):
        for corr in list(self.waiting):
            env_id, sent = self.waiting[corr]
            if self.c.has_reply(corr):
                body = self.c.result(corr, timeout=1)
                del self.waiting[corr]
                self.replies.setdefault(env_id, []).append(body)
                if self.ops[env_id]["reply"] is None:
                    self.ops[env_id]["reply"] = body
            elif time.monotonic() - sent > RESEND_AFTER_S:
                del self.waiting[corr]
                if self.ops[env_id]["reply"] is None and env_id not in self.open_ops():
                    self._send(env_id)
        while keep_creating and len(self.open_ops()) < IN_FLIGHT:
            self.new()
        time.sleep(0.002)


def kill_loop(agents, stop, kills, errors):
    """kill -9 of an agent every few seconds, the publisher every other time, then starts it again."""
    rnd = random.Random(14)
    n = 0
    while not stop.wait(rnd.uniform(*KILL_EVERY_S)):
        n += 1
        publishers = [a for a in agents if a.running() and is_publisher(a)]
        victim = publishers[0] if n % 2 == 1 and publishers else rnd.choice(agents)
        was_publisher = victim in publishers
        # the time the signal goes out: kill() also reaps the process and reads its log for
        # sanitizer reports, which takes tens of ms under ASan, while the next publisher starts
        at, wall = time.monotonic(), time.time()
        victim.kill()
        kills.append((at, victim.agent_id, was_publisher, wall))
        time.sleep(rnd.uniform(0.3, 1.0))
        try:
            victim.start()
        except AssertionError as e:
            errors.append("%s did not start again: %s" % (victim.agent_id, e))
            return


def check_creates(creates, db):
    """Every create answered 200 (every copy of its reply naming one customer), each once in the table."""
    con = pg_helpers.db_connect(db, readonly=True)
    try:
        rows = con.execute("SELECT id, tenant_id, title FROM customer WHERE title LIKE 'Failover %'").fetchall()
    finally:
        con.close()
    by_title = {}
    for cid, tenant, title in rows:
        by_title.setdefault(title, []).append((cid, tenant))
    twice = {t: v for t, v in by_title.items() if len(v) > 1}
    check(not twice, "titles stored more than once: %r" % list(twice.items())[:5])
    for env_id, op in creates.ops.items():
        check(op["reply"] is not None, "create %s (%s) never answered" % (env_id, op["title"]))
        for body in creates.replies[env_id]:
            check(body.get("status") == 200, "create %s answered %s" % (op["title"], json.dumps(body)[:300]))
        ids = {b["data"]["id"]["id"] for b in creates.replies[env_id]}
        check(len(ids) == 1, "the copies of %s's replies name %d customers" % (op["title"], len(ids)))
        stored = by_title.get(op["title"])
        check(stored == [(ids.pop(), op["tenant"])], "%s: acknowledged, stored as %r" % (op["title"], stored))
    check(len(by_title) == len(creates.ops), "%d customers stored for %d creates" % (len(by_title), len(creates.ops)))
    return {v[0][0] for v in by_title.values()}


def check_events(received, counter, customer_ids, kills, calm_until):
    """seq gapless 1..counter, one body per seq, tenantSeq gapless per tenant in seq order, an event
    per created customer; the copies received twice arrive within TAKEOVER_BOUND_S after a kill
    that came after their first copy (give or take the listener's lag: it reads the socket in a
    Python thread, behind the load). Returns how many copies came twice."""
    first = {}
    duplicates = []
    for at, body in received:
        seq = body["seq"]
        if seq in first:
            check(first[seq][1] == body, "two bodies for seq %d:\n%s\n%s" % (seq, first[seq][1], body))
            duplicates.append((seq, first[seq][0], at))
        else:
            first[seq] = (at, body)
    missing = sorted(set(range(1, counter + 1)) - set(first))
    check(not missing, "%d of %d seqs never arrived (first ones: %s)" % (len(missing), counter, missing[:10]))
    check(max(first) == counter, "seq %d arrived past the counter %d" % (max(first), counter))
    per_tenant = {}
    for seq in sorted(first):
        body = first[seq][1]
        per_tenant.setdefault(body["tenantId"], []).append(body["tenantSeq"])
    for tenant, seqs in per_tenant.items():
        check(seqs == list(range(1, len(seqs) + 1)),
              "tenant %s: tenantSeq not gapless in seq order: %s" % (tenant, seqs[:20]))
    created = [b for _, b in first.values() if b["type"] == "ENTITY_CREATED" and b["originator"]["entityType"] ==
               "CUSTOMER" and b["data"]["title"].startswith("Failover ")]
    ids = [b["data"]["id"]["id"] for b in created]
    check(len(ids) == len(set(ids)), "a customer has two ENTITY_CREATED events")
    check(set(ids) == customer_ids, "%d customers without their event, %d events without a customer"
          % (len(customer_ids - set(ids)), len(set(ids) - customer_ids)))
    for seq, t_first, t_again in duplicates:
        check(t_first >= calm_until, "seq %d arrived twice while no agent was killed" % seq)
        check(any(t_first <= k + LISTENER_LAG_S and k <= t_again <= k + TAKEOVER_BOUND_S for k, _, _, _ in kills),
              "seq %d arrived twice (%.3f s apart) with no agent killed in between: two agents published it; "
              "kills around it (s after its first copy): %s" % (seq, t_again - t_first, ", ".join(
                  "%s%s %+.3f" % (who, " (publisher)" if p else "", k - t_first)
                  for k, who, p, _ in kills if abs(k - t_first) < 10)))
    return len(duplicates)


TOOK = re.compile(r"^(\S+)Z cmagent info: This agent publishes the events now", re.M)


def takeover_times(agents, kills):
    """For each kill of the publisher: seconds until another agent logged that it publishes."""
    took = []
    for a in agents:
        for m in TOOK.finditer(a.log_text()):
            t = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp()
            took.append((t, a.agent_id))
    times = []
    for _, victim, was_publisher, wall in kills:
        after = [t - wall for t, who in took if who != victim and t > wall - 0.05]
        if was_publisher and after:
            times.append(max(0.0, min(after)))
    return times


def counter_value(db):
    con = pg_helpers.db_connect(db, readonly=True)
    try:
        return con.execute("SELECT value FROM counter WHERE name = 'event_seq'").fetchone()[0]
    finally:
        con.close()


def test_kill9_of_random_members_under_creates_loses_and_doubles_nothing():
    with Broker() as b:
        agents = start_agents(b)
        stop = threading.Event()
        kills, errors = [], []
        killer = threading.Thread(target=kill_loop, args=(agents, stop, kills, errors), daemon=True)
        try:
            with Listener(b.port) as listener, Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                tenants = [make_tenant_admin(c, sys_token) for _ in range(2)]
                creates = Creates(c, tenants)
                # calm: all three up, nobody killed: every event must arrive exactly once
                calm_until = time.monotonic() + CALM_SECONDS
                while time.monotonic() < calm_until:
                    creates.step(True)
                killer.start()
                end = time.monotonic() + FAULT_SECONDS
                while time.monotonic() < end and not errors:
                    creates.step(True)
                stop.set()
                killer.join(30)
                check(not errors, "; ".join(errors))
                deadline = time.monotonic() + 60
                while creates.open_ops() and time.monotonic() < deadline:
                    creates.step(False)
                check(not creates.open_ops(), "%d creates still unanswered after 60 s" % len(creates.open_ops()))
                db = agents[0].db
                counter = counter_value(db)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and len({b["seq"] for _, b in listener.received()}) < counter:
                    time.sleep(0.1)
                customer_ids = check_creates(creates, db)
                copies = check_events(listener.received(), counter, customer_ids, kills, calm_until)
                resent = sum(op["sends"] - 1 for op in creates.ops.values())
                publisher_kills = sum(1 for _, _, p, _ in kills if p)
                print("%d creates (%d sent again), %d events, %d kills (%d of the publisher), %d copies received "
                      "twice" % (len(creates.ops), resent, counter, len(kills), publisher_kills, copies))
                check(publisher_kills >= 2, "the publisher was killed %d times: no takeover was tested"
                      % publisher_kills)
                took = takeover_times(agents, kills)
                check(len(took) == publisher_kills, "%d publisher kills, %d takeovers logged" % (publisher_kills,
                                                                                                  len(took)))
                print("takeover after a kill of the publisher: %s ms" % ", ".join("%.0f" % (t * 1000) for t in took))
                check(max(took) < 2.0, "a takeover took %.2f s" % max(took))
                live = [a for a in agents if a.running() and is_publisher(a)]
                check(len(live) == 1, "%d agents say they publish" % len(live))
        finally:
            stop.set()
            failure = sys.exc_info()
            for a in agents:
                a.__exit__(*failure)  # on a failure the logs are printed and kept


def test_writes_of_several_tenants_on_several_agents_all_apply():
    """Batches of two agents that take the kept counts of several tenants in opposite orders wait
    on each other; the request whose statement PostgreSQL fails as the deadlock's victim runs again
    in a later batch: every create is answered 200 and stored."""
    with Broker() as b:
        agents = start_agents(b)
        try:
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                tenants = [make_tenant_admin(c, sys_token) for _ in range(4)]
                corrs = []
                end = time.monotonic() + 8
                n = 0
                while time.monotonic() < end:
                    pending = [x for x in corrs if not c.has_reply(x[0])]
                    while len(pending) < 32:
                        n += 1
                        t = tenants[n % len(tenants)]
                        corr = c.begin("customer.create", {"title": "Crossed %05d" % n}, token=t.token,
                                       id=unique("crossed"))
                        corrs.append((corr, n))
                        pending.append((corr, n))
                    time.sleep(0.002)
                bad = []
                for corr, i in corrs:
                    r = c.result(corr, timeout=30)
                    if r.get("status") != 200:
                        bad.append((i, json.dumps(r)[:300]))
                check(not bad, "%d of %d creates failed, first: %s" % (len(bad), len(corrs), bad[:3]))
                con = pg_helpers.db_connect(agents[0].db, readonly=True)
                try:
                    stored = con.execute("SELECT count(*) FROM customer WHERE title LIKE 'Crossed %'").fetchone()[0]
                finally:
                    con.close()
                check(stored == len(corrs), "%d stored of %d" % (stored, len(corrs)))
                again = sum(a.log_text().count("lost a deadlock") for a in agents)
                print("%d creates over %d tenants, %d runs again after a deadlock" % (len(corrs), len(tenants), again))
        finally:
            failure = sys.exc_info()
            for a in agents:
                a.__exit__(*failure)


if __name__ == "__main__":
    run_tests(globals())
