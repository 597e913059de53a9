"""test_reply_topics.py: replies go only into the reply namespace (docs/protocol.md "Reply
destinations"). An attacker replays every reply destination the broker would refuse, or that points
outside cm/v1/reply/: as MQTT 5 Response Topics (QoS 1, sent byte for byte by a raw MQTT client, so
that invalid UTF-8 and 65535-byte topics can be tried too) and as the replyTo of MQTT 3.1.1 requests
(event topics of its own and another tenant, the status topic, wildcards, control characters, invalid
and overlong UTF-8). Meanwhile a listener subscribed to '#' sees nothing the agent published for
them, the agent stays connected (no reconnect in the broker's log, status online), a legitimate
client's agent.ping requests are answered throughout, no refused write was applied, and every
refusal was counted (agent.stats refusedReplies) and logged without flooding the log."""

import json
import re
import socket
import struct
import threading
import time

import paho.mqtt.client as mqtt

from helpers import (
    AGENT_ID, HOST, PREFIX, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Client, Env, MqttSession, check, eid, expect,
    make_tenant_admin, run_tests, unique, wait_status)

STATUS_TOPIC = "%s/status/%s" % (PREFIX, AGENT_ID)
AGENT_CLIENT_ID = "cmagent-%s" % AGENT_ID

state = {}


# ---- a raw MQTT 5 client: sends a PUBLISH whose Response Topic is any bytes at all ----

def _varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mqtt_bytes(b):
    return struct.pack("!H", len(b)) + b


def _packet(first_byte, body):
    return bytes([first_byte]) + _varint(len(body)) + body


def _read_packet(sock):
    """(first byte, body) of the next packet, or None when the broker closed the connection."""
    head = sock.recv(1)
    if not head:
        return None
    mult, length = 1, 0
    while True:
        b = sock.recv(1)
        if not b:
            return None
        length += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return head[0], body


def raw_publish_v5(port, topic, payload, response_topic, correlation=b"attack"):
    """Connects with MQTT 5, publishes payload on topic with QoS 1 and the given Response Topic
    (bytes, sent as they are), waits for the PUBACK (or for the broker to refuse and close) and
    disconnects. Returns "puback", "closed" or "no-connack"."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connect = (_mqtt_bytes(b"MQTT") + bytes([5, 0x02]) + struct.pack("!H", 30) + _varint(0)
                   + _mqtt_bytes(unique("raw").encode()))
        s.sendall(_packet(0x10, connect))
        p = _read_packet(s)
        if p is None or p[0] >> 4 != 2 or len(p[1]) < 2 or p[1][1] != 0:
            return "no-connack"
        props = b"\x08" + _mqtt_bytes(response_topic) + b"\x09" + _mqtt_bytes(correlation)
        body = _mqtt_bytes(topic.encode()) + struct.pack("!H", 1) + _varint(len(props)) + props + payload
        s.sendall(_packet(0x32, body))
        try:
            while True:
                p = _read_packet(s)
                if p is None:
                    return "closed"
                if p[0] >> 4 == 4:
                    s.sendall(b"\xe0\x00")
                    return "puback"
        except (ConnectionResetError, socket.timeout):
            return "closed"


# ---- what the attacker tries ----

def refused_response_topics(victim_tenant, other_tenant):
    """(label, bytes) of every Response Topic the agent must never answer on."""
    t = []
    for s in ("cm/v1/reply/#", "cm/v1/reply/+", "cm/v1/reply/a/+/b", "cm/v1/reply/+/x", "#", "+", "+/#",
              "cm/v1/reply/a#", "cm/v1/reply/a+"):
        t.append(("wildcard %s" % s, s.encode()))
    for cp in list(range(0x01, 0x20)) + list(range(0x7F, 0xA0)):
        t.append(("control U+%04X" % cp, ("cm/v1/reply/a%cb" % cp).encode()))
    for cp in (0xFFFF, 0xFFFE, 0xFDD0, 0x1FFFF, 0x10FFFE):
        t.append(("non-character U+%04X" % cp, ("cm/v1/reply/a%cb" % cp).encode()))
    for label, raw in (("overlong /", b"\xc0\xaf"), ("overlong NUL", b"\xc0\x80"), ("overlong 3-byte", b"\xe0\x80\xaf"),
                       ("overlong 4-byte", b"\xf0\x80\x80\xaf"), ("surrogate", b"\xed\xa0\x80"),
                       ("low surrogate", b"\xed\xbf\xbf"), ("invalid ff fe", b"\xff\xfe"),
                       ("lone continuation", b"\x80"), ("truncated", b"\xe2\x82"), ("above U+10FFFF", b"\xf4\x90\x80\x80"),
                       ("NUL byte", b"\x00")):
        t.append(("bytes %s" % label, b"cm/v1/reply/a" + raw + b"b"))
    for s in ("cm/v1/reply//x", "cm/v1/reply/x/", "cm/v1/reply/x//y", "cm/v1/reply/", "cm/v1//reply/x", "/cm/v1/reply/x"):
        t.append(("empty level %s" % s, s.encode()))
    for s in ("$SYS/broker/x", "$dollar/reply/x", "$cm/v1/reply/x", "$share/g/cm/v1/reply/x"):
        t.append(("dollar %s" % s, s.encode()))
    for s in ("cm/v1/other/x", "other/reply/x", "cm/v1/replyx/a", "cm/v1/reply", "cm/v2/reply/x", "reply/x",
              "cm/v1/req/agent.ping", "CM/v1/reply/x", "x"):
        t.append(("outside %s" % s, s.encode()))
    t.append(("status topic", STATUS_TOPIC.encode()))
    t.append(("own event topic", ("cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % victim_tenant).encode()))
    t.append(("other tenant's event topic", ("cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % other_tenant).encode()))
    t.append(("fake event topic", b"cm/v1/event/fake/CUSTOMER/ENTITY_CREATED"))
    t.append(("65535 bytes", b"cm/v1/reply/" + b"a" * (65535 - len("cm/v1/reply/"))))
    t.append(("over max_reply_topic", b"cm/v1/reply/" + b"b" * 2000))
    return t


def refused_reply_tos(victim_tenant, other_tenant):
    """(label, JSON text of the replyTo value) the agent must never answer on (MQTT 3.1.1)."""
    t = []
    for topic in ("cm/v1/event/fake/CUSTOMER/ENTITY_CREATED",
                  "cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % victim_tenant,
                  "cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % other_tenant,
                  "cm/v1/event/%s/DEVICE/ENTITY_DELETED" % other_tenant,
                  STATUS_TOPIC, "cm/v1/status/other", "cm/v1/req/customer.delete",
                  "cm/v1/reply/#", "cm/v1/reply/+", "#", "$SYS/x", "$dollar/reply/x", "cm/v1/reply//x", "cm/v1/reply/",
                  "cm/v1/reply", "other/x", "cm/v1/reply/" + "c" * 70000):
        t.append(("replyTo %s" % topic[:60], json.dumps(topic).encode()))
    for cp in list(range(0x01, 0x20)) + list(range(0x7F, 0xA0)):
        t.append(("replyTo escaped U+%04X" % cp, ('"cm/v1/reply/a\\u%04xb"' % cp).encode()))
        t.append(("replyTo raw U+%04X" % cp, b'"cm/v1/reply/a' + chr(cp).encode() + b'b"'))
    for cp in (0xFFFF, 0xFFFE, 0xFDD0):
        t.append(("replyTo escaped U+%04X" % cp, ('"cm/v1/reply/a\\u%04xb"' % cp).encode()))
    for label, raw in (("invalid ff fe", b"\xff\xfe"), ("overlong /", b"\xc0\xaf"), ("overlong 3-byte", b"\xe0\x80\xaf"),
                       ("surrogate bytes", b"\xed\xa0\x80"), ("truncated", b"\xe2\x82")):
        t.append(("replyTo bytes %s" % label, b'"cm/v1/reply/a' + raw + b'b"'))
    t.append(("replyTo \\u0000 cut", b'"cm/v1/reply/a\\u0000b"'))
    t.append(("replyTo bad escape", b'"cm/v1/reply/a\\uZZZZb"'))
    t.append(("replyTo empty", b'""'))
    t.append(("replyTo number", b"42"))
    t.append(("replyTo object", b'{"topic":"cm/v1/reply/x"}'))
    return t


# ---- the scene: a listener on '#', a legitimate client pinging all along ----

class Listener(MqttSession):
    """Subscribes '#' and the '$' trees the attack names; keeps (topic, payload, retain)."""

    def __init__(self, port):
        super().__init__(port, protocol=mqtt.MQTTv5)
        self.seen = []
        for f in ("#", "$dollar/#", "$cm/#", "$SYS/broker/x"):
            self.subscribe(f, qos=1)

    def on_message(self, msg):
        with self._cond:
            self.seen.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def snapshot(self):
        with self._cond:
            return list(self.seen)


class Pinger(threading.Thread):
    """A legitimate client sending agent.ping every 50 ms until stopped; counts answers and misses."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.stop_event = threading.Event()
        self.answered = 0
        self.missed = []

    def run(self):
        while not self.stop_event.is_set():
            try:
                r = self.client.request("agent.ping", timeout=5)
                if r.get("status") == 200:
                    self.answered += 1
                else:
                    self.missed.append(r)
            except AssertionError as e:
                self.missed.append(str(e))
            self.stop_event.wait(0.05)

    def finish(self):
        self.stop_event.set()
        self.join(20)
        self.client.close()


def setup(env):
    if "a" not in state:
        state["a"] = make_tenant_admin(env.c, env.sys_token)
        state["b"] = make_tenant_admin(env.c, env.sys_token)
    return state["a"], state["b"]


def agent_connects(env):
    """How often the broker saw the agent's client connect."""
    with open(env.broker.log, errors="replace") as f:
        return sum(1 for line in f if re.search(r"New client connected .* as %s\b" % re.escape(AGENT_CLIENT_ID), line))


def refused_count(env):
    """agent.stats refusedReplies (0 when an agent does not count them: the checks after the attack fail then)."""
    d = expect(env.c.request("agent.stats", token=env.sys_token), 200, context="agent.stats")
    return d.get("refusedReplies", 0)


def run_attack(env, attacks):
    """Runs attacks() while a listener and a pinger watch; returns (listener's messages, pinger)."""
    a, _ = setup(env)
    listener = Listener(env.port)
    pinger = Pinger(env.port)
    connects = agent_connects(env)
    pinger.start()
    time.sleep(0.3)
    try:
        attacks()
        time.sleep(1.5)  # anything the agent would publish for the attack arrives by now
    finally:
        pinger.finish()
        listener.close()
    allowed = {pinger.client.reply_topic, env.c.reply_topic}
    published = [(t, p[:120]) for t, p, retain in listener.snapshot()
                 if not t.startswith(PREFIX + "/req/") and t not in allowed and not (t == STATUS_TOPIC and retain)]
    check(not published, "the agent published for refused reply destinations:\n%s"
          % "\n".join("%r %r" % x for x in published[:30]))
    check(not pinger.missed, "legitimate pings went unanswered during the attack (%d answered): %s"
          % (pinger.answered, pinger.missed[:3]))
    check(pinger.answered >= 5, "only %d legitimate pings answered" % pinger.answered)
    check(agent_connects(env) == connects, "the agent reconnected to the broker during the attack (%d -> %d connects)"
          % (connects, agent_connects(env)))
    check(wait_status(env.port, "online", timeout=5).get("state") == "online", "status is not online")
    check(env.agent.running(), "the agent exited")
    return a


def test_response_topics_refused(env):
    a, b = setup(env)
    before = refused_count(env)
    prefix = unique("RT")
    outcomes = {}

    def attacks():
        for i, (label, topic) in enumerate(refused_response_topics(a.tenant_id, b.tenant_id)):
            payload = json.dumps({"token": a.token, "data": {"title": "%s-%d" % (prefix, i)}}).encode()
            op = "customer.create" if i % 2 == 0 else "agent.ping"
            outcomes[label] = raw_publish_v5(env.port, "%s/req/%s" % (PREFIX, op), payload, topic)

    run_attack(env, attacks)
    # the broker itself refuses some (invalid UTF-8, control characters); the rest reach the agent
    reached = [label for label, how in outcomes.items() if how == "puback"]
    check(len(reached) >= 30, "only %d of the Response Topics reached the agent: %s" % (len(reached), outcomes))
    found = expect(env.c.request("customer.list", {"pageSize": 100, "textSearch": prefix}, token=a.token), 200)
    check(found["totalElements"] == 0, "writes with a refused Response Topic were applied", found)
    check(refused_count(env) - before >= len(reached), "refusedReplies did not count every refused Response Topic "
          "(%d reached the agent)" % len(reached))


def test_reply_to_injections_refused(env):
    a, b = setup(env)
    before = refused_count(env)
    prefix = unique("RTO")
    attacks_list = refused_reply_tos(a.tenant_id, b.tenant_id)

    def attacks():
        with MqttSession(env.port, protocol=mqtt.MQTTv311) as v3, MqttSession(env.port) as v5:
            for i, (label, value) in enumerate(attacks_list):
                payload = (b'{"token":' + json.dumps(a.token).encode() + b',"correlationId":"attacker-' + str(i).encode()
                           + b'","replyTo":' + value + b',"data":{"title":"' + ("%s-%d" % (prefix, i)).encode() + b'"}}')
                op = "customer.create" if i % 2 == 0 else "agent.ping"
                # MQTT 3.1.1, and MQTT 5 without a Response Topic: both answer on replyTo
                (v3 if i % 3 else v5).publish("%s/req/%s" % (PREFIX, op), payload, qos=1)

    run_attack(env, attacks)
    found = expect(env.c.request("customer.list", {"pageSize": 100, "textSearch": prefix}, token=a.token), 200)
    check(found["totalElements"] == 0, "writes with a refused replyTo were applied", found)
    check(refused_count(env) - before >= len(attacks_list),
          "refusedReplies counted %d of %d refused replyTo" % (refused_count(env) - before, len(attacks_list)))


def test_refusals_are_logged_with_reason_and_rate_limited(env):
    a, _ = setup(env)
    log_before = len(env.agent.log_text())
    with MqttSession(env.port, protocol=mqtt.MQTTv311) as v3:
        v3.publish("%s/req/agent.ping" % PREFIX, json.dumps({"replyTo": "cm/v1/event/x/CUSTOMER/ENTITY_CREATED"}))
        time.sleep(1.2)
        for _ in range(200):
            v3.publish("%s/req/agent.ping" % PREFIX, json.dumps({"replyTo": "cm/v1/reply/#"}), qos=0)
        time.sleep(1.2)
        v3.publish("%s/req/agent.ping" % PREFIX, json.dumps({"replyTo": "cm/v1/reply/a\u0001b"}))
    # the agent has handled the last one once a ping after it is answered
    expect(env.c.request("agent.ping"), 200)
    time.sleep(0.2)
    log = env.agent.log_text()[log_before:]
    lines = [l for l in log.splitlines() if "reply destination" in l]
    check(any("outside" in l and "cm/v1/event/x/CUSTOMER/ENTITY_CREATED" in l for l in lines),
          "no log line names the topic outside the reply namespace:\n%s" % "\n".join(lines))
    check(any("wildcard" in l for l in lines), "no log line names the wildcard:\n%s" % "\n".join(lines))
    check(len(lines) <= 8, "202 refusals in ~3 s took %d log lines (not rate-limited):\n%s" % (len(lines), "\n".join(lines)))
    check(any(re.search(r"\b(1\d\d|200|199) more", l) for l in lines),
          "no log line counts the refusals it left out:\n%s" % "\n".join(lines))
    check(not any("\x01" in l for l in lines), "a control character reached the log")


def test_valid_reply_destinations_still_answered(env):
    a, _ = setup(env)
    # MQTT 5 Response Topic under cm/v1/reply/ with several levels and non-ASCII letters
    with Client(env.port) as c:
        c.reply_topic = "cm/v1/reply/%s/deep/Ünïcødé/ok" % c.client_id
        c.subscribe(c.reply_topic)
        expect(c.request("agent.ping"), 200)
    # MQTT 3.1.1 replyTo under cm/v1/reply/
    with Client(env.port, mqtt_version=3) as c3:
        d = c3.ok("customer.create", {"title": unique("Legit")}, token=a.token)
        check(eid(d["id"]), "customer.create over replyTo gave no id", d)
    # fire-and-forget (no destination at all) still applies the write
    title = unique("Fire")
    with MqttSession(env.port, protocol=mqtt.MQTTv311) as v3:
        v3.publish("%s/req/customer.create" % PREFIX, json.dumps({"token": a.token, "data": {"title": title}}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = env.c.request("customer.findByTitle", {"title": title}, token=a.token)
        if r.get("status") == 200:
            break
        time.sleep(0.1)
    expect(r, 200, context="fire-and-forget customer.create")


if __name__ == "__main__":
    run_tests(globals(), lambda: Env())
