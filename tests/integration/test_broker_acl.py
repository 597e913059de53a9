"""test_broker_acl.py: broker_acl dynsec against a real mosquitto with the dynamic-security plugin.

The agent provisions the broker: anonymous clients may only log in (and the few other
unauthenticated operations) and read their own anon/<nonce> replies; every user and API key gets a
broker account from broker.credentials whose rights are its authority's (docs/protocol.md "Security
model"): a tenant administrator reads its tenant's events, a customer user its customer's, everyone
its own replies. Attackers (anonymous, another tenant's administrator) try every subscription and
forgery of issue 11 point 4 and get nothing; a subscription matrix checks what each principal may
subscribe to and what it receives; disabling or deleting a user and deleting an API key cut a live
session; a kill between the commit and the broker update is repaired at the next start; and
broker_acl none still works and says what it does not protect.
"""

import json
import os
import subprocess
import threading
import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import re

import paho.mqtt.client as mqtt

from test_reply_topics import raw_publish_v5, refused_reply_tos, refused_response_topics
from helpers import (
    DEFAULT_PASSWORD, DYNSEC_AGENT_SETTINGS, DYNSEC_SECRET, DYNSEC_USERNAME, HOST, NULL_UUID, PREFIX, SYSADMIN_EMAIL,
    SYSADMIN_PASSWORD, Agent, Broker, Client, MqttSession, anon_reply_topic, check, eid, expect, make_customer,
    make_customer_user, make_tenant_admin, run_tests, unique, wait_until)

REFUSED = 0x87  # SUBACK / PUBACK "Not authorized"


class Watcher(MqttSession):
    """A client that subscribes what it is told and records every message (topic, payload, retain)."""

    def __init__(self, port, **kw):
        self.got = []
        self.disconnected = threading.Event()
        super().__init__(port, **kw)
        self.mqtt.on_disconnect = self._on_disconnect

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnected.set()

    def on_message(self, msg):
        with self._cond:
            self.got.append((msg.topic, msg.payload, msg.retain))
            self._cond.notify_all()

    def topics(self):
        with self._cond:
            return [t for t, _, _ in self.got]

    def granted_ok(self, topic_filter):
        codes = self.subscribe(topic_filter)
        return bool(codes) and codes[0] < 0x80


class DynsecClient(Client):
    """A client with broker credentials: requests with a token are answered in its own namespace
    P/reply/<username>/..., those without one (login, activation) on its anon/<nonce> topic, which
    its account may read too."""

    def __init__(self, port, cred):
        super().__init__(port, username=cred["username"], password=cred["password"])
        self.own_topic = self.reply_topic
        self.anon_topic = anon_reply_topic()
        self.subscribe(self.anon_topic)

    def begin(self, op, data=None, token=None, **kw):
        self.reply_topic = self.own_topic if token is not None else self.anon_topic
        return super().begin(op, data, token=token, **kw)


def anon_client(port):
    return Client(port, reply_topic=anon_reply_topic())


def broker_client(port, cred):
    return DynsecClient(port, cred)


def credentials(anon, token):
    return anon.ok("broker.credentials", token=token)


def can_connect(port, cred):
    try:
        MqttSession(port, username=cred["username"], password=cred["password"]).close()
        return True
    except RuntimeError:
        return False


class DynsecEnv:
    """One mosquitto with the plugin and one dynsec agent; tenant A (admin, customer, customer user,
    a second customer) and tenant B (admin), each with broker credentials and a connected client."""

    def __enter__(self):
        self.broker = Broker(dynsec=True).start()
        self.port = self.broker.port
        self.agent = Agent(self.port, extra=DYNSEC_AGENT_SETTINGS)
        try:
            self.agent.start()
            self.anon = anon_client(self.port)
            self.sys_token = self.anon.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            self.sys_cred = credentials(self.anon, self.sys_token)
            self.c = broker_client(self.port, self.sys_cred)
            self.a = make_tenant_admin(self.c, self.sys_token)
            self.b = make_tenant_admin(self.c, self.sys_token)
            self.a.cred = credentials(self.anon, self.a.token)
            self.b.cred = credentials(self.anon, self.b.token)
            self.ca = self.c_as(self.a).ok("customer.create", {"title": unique("CustA")}, token=self.a.token)
            self.ca2 = self.c_as(self.a).ok("customer.create", {"title": unique("CustA2")}, token=self.a.token)
            self.cu = make_customer_user(self.c_as(self.a), self.a.token, eid(self.ca["id"]))
            self.cu.cred = credentials(self.anon, self.cu.token)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def c_as(self, who):
        if not hasattr(who, "client"):
            who.client = broker_client(self.port, who.cred)
        return who.client

    def __exit__(self, exc_type, exc, tb):
        try:
            for s in [getattr(self, "anon", None), getattr(self, "c", None)] + \
                    [getattr(getattr(self, n, None), "client", None) for n in ("a", "b", "cu")]:
                if s is not None:
                    s.close()
            self.agent.__exit__(exc_type, exc, tb)
        finally:
            self.broker.__exit__(exc_type, exc, tb)
        return False


# ---- anonymous clients ----------------------------------------------------------------------------


def test_anonymous_client_logs_in_and_nothing_else(env):
    # a login answered on anon/<nonce> (the fixture did it), but no other operation reaches the agent
    before = env.c.ok("agent.stats", token=env.sys_token)
    corr = env.anon.begin("tenant.list", {"pageSize": 10, "page": 0}, token=env.sys_token)
    time.sleep(1.0)
    check(not env.anon.has_reply(corr), "an anonymous client's tenant.list was answered")
    # its own replies only: a request of an anonymous client naming someone's namespace is refused
    victim = "%s/reply/%s/x" % (PREFIX, env.a.cred["username"])
    with Client(env.port, reply_topic=anon_reply_topic()) as spoof:
        spoof.reply_topic = victim
        spoof.begin("auth.login", {"email": SYSADMIN_EMAIL, "password": SYSADMIN_PASSWORD})
    after = wait_until(lambda: (lambda s: s if s["refusedReplies"] > before["refusedReplies"] else None)(
        env.c.ok("agent.stats", token=env.sys_token)), what="the refused destination counted")
    check(after["refusedReplies"] == before["refusedReplies"] + 1, "refusedReplies %r -> %r" % (before, after))


def test_nonce_topics_need_sixteen_characters(env):
    with Client(env.port, reply_topic="%s/reply/anon/short" % PREFIX) as c:
        corr = c.begin("agent.ping")
        time.sleep(1.0)
        check(not c.has_reply(corr), "a reply on anon/short (a guessable nonce)")


# ---- attackers --------------------------------------------------------------------------------------

ATTACK_FILTERS = ["#", "+/#", "cm/#", "cm/v1/#", "cm/v1/reply/#", "cm/v1/reply/+", "cm/v1/reply/+/#",
                  "cm/v1/reply/anon/+", "cm/v1/reply/anon/#", "cm/v1/reply/anon/+/#", "cm/v1/event/#",
                  "cm/v1/event/+/#", "cm/v1/cevent/#", "cm/v1/req/#", "cm/v1/req/+", "cm/v1/req/auth.login",
                  "$share/g/cm/v1/reply/#", "$share/g/cm/v1/event/#", "$CONTROL/#", "$CONTROL/dynamic-security/#",
                  "$SYS/#"]


def attacker_filters(env):
    a_tenant = env.a.tenant_id
    return ATTACK_FILTERS + [
        "cm/v1/event/%s/#" % a_tenant, "cm/v1/event/%s/CUSTOMER/+" % a_tenant,
        "cm/v1/cevent/%s/#" % a_tenant, "cm/v1/cevent/%s/%s/#" % (a_tenant, eid(env.ca["id"])),
        "cm/v1/reply/%s/#" % env.a.cred["username"], "cm/v1/reply/%s/#" % env.sys_cred["username"],
        "cm/v1/reply/%s" % env.anon.reply_topic.split("/reply/")[1].split("/")[0],
    ]


def test_attackers_subscribe_nothing_and_receive_nothing(env):
    attackers = {"anonymous": Watcher(env.port), "tenant B admin": Watcher(env.port, username=env.b.cred["username"],
                                                                          password=env.b.cred["password"])}
    try:
        for name, w in attackers.items():
            for f in attacker_filters(env):
                codes = w.subscribe(f)
                check(codes and codes[0] >= 0x80, "%s may subscribe %s: %r" % (name, f, codes))
        # traffic that every one of those filters would match: logins, A's writes and their events
        with anon_client(env.port) as victim:
            victim.login(env.a.email, env.a.password)
        ta = env.c_as(env.a)
        ta.ok("customer.create", {"title": unique("Seen")}, token=env.a.token)
        ta.ok("device.create", {"name": unique("dev"), "type": "t"}, token=env.a.token)
        env.anon.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
        time.sleep(1.0)
        for name, w in attackers.items():
            check(w.topics() == [], "%s received %r" % (name, w.topics()[:5]))
    finally:
        for w in attackers.values():
            w.close()


def test_forgeries_are_refused(env):
    a_tenant = env.a.tenant_id
    event_topic = "cm/v1/event/%s/CUSTOMER/ENTITY_CREATED" % a_tenant
    cevent_topic = "cm/v1/cevent/%s/%s/DEVICE/ENTITY_CREATED" % (a_tenant, eid(env.ca["id"]))
    status_topic = env.agent.status_topic
    with Watcher(env.port, username=env.a.cred["username"], password=env.a.cred["password"]) as listener, \
            Watcher(env.port, username=env.cu.cred["username"], password=env.cu.cred["password"]) as cu_listener:
        check(listener.granted_ok("cm/v1/event/%s/#" % a_tenant), "A's admin may not read its events")
        check(cu_listener.granted_ok("cm/v1/cevent/%s/%s/#" % (a_tenant, eid(env.ca["id"]))),
              "A's customer user may not read its customer's events")
        forgers = {"anonymous": {}, "tenant B admin": {"username": env.b.cred["username"],
                                                       "password": env.b.cred["password"]},
                   "customer user": {"username": env.cu.cred["username"], "password": env.cu.cred["password"]}}
        for name, kw in forgers.items():
            with MqttSession(env.port, **kw) as f:
                for topic, retain in ((event_topic, False), (event_topic, True), (cevent_topic, True),
                                      (status_topic, True), ("cm/v1/reply/%s/x" % env.a.cred["username"], False)):
                    info = f.mqtt.publish(topic, b'{"state":"offline","forged":true}', qos=1, retain=retain)
                    info.wait_for_publish(5)
        time.sleep(0.8)
        check(listener.topics() == [] and cu_listener.topics() == [],
              "forged messages arrived: %r %r" % (listener.topics(), cu_listener.topics()))
    # nothing retained was kept: a new subscriber of A's events sees no forged retained event, and the
    # status is still the agent's own
    with Watcher(env.port, username=env.a.cred["username"], password=env.a.cred["password"]) as late:
        late.subscribe("cm/v1/event/%s/#" % a_tenant)
        late.subscribe(status_topic)
        time.sleep(0.8)
        got = [(t, json.loads(p)) for t, p, _ in late.got]
    check(all(t == status_topic for t, _ in got), "a forged retained event was kept: %r" % got)
    check(got and got[-1][1].get("state") == "online", "the status is not the agent's online: %r" % got)


def agent_connects(env):
    with open(env.broker.log, errors="replace") as f:
        return sum(1 for line in f if re.search(r"New client connected .* as cmagent-%s\b" % env.agent.agent_id, line))


def test_reply_destination_attacks_on_the_locked_broker(env):
    # issue 11 points 2 and 3 by an anonymous client, which may publish agent.ping: every Response
    # Topic and replyTo the broker or the namespace refuses, and the destinations the binding refuses
    # (another's namespace, a short nonce); the agent stays connected, answers, and publishes nothing
    a_user = env.a.cred["username"]
    bound = [("victim namespace", ("cm/v1/reply/%s/x" % a_user).encode()), ("short nonce", b"cm/v1/reply/anon/abc"),
             ("nonce with a level", b"cm/v1/reply/anon/0123456789abcdef0123/x")]
    before, connects = env.c.ok("agent.stats", token=env.sys_token)["refusedReplies"], agent_connects(env)
    with Watcher(env.port, username=env.a.cred["username"], password=env.a.cred["password"]) as victim:
        victim.subscribe("cm/v1/reply/%s/#" % a_user)
        victim.subscribe("cm/v1/event/%s/#" % env.a.tenant_id)
        outcomes = {}
        for label, topic in refused_response_topics(env.a.tenant_id, env.b.tenant_id) + bound:
            outcomes[label] = raw_publish_v5(env.port, "%s/req/agent.ping" % PREFIX, b"{}", topic)
        reply_tos = refused_reply_tos(env.a.tenant_id, env.b.tenant_id) + \
            [(label, json.dumps(t.decode()).encode()) for label, t in bound]
        with MqttSession(env.port, protocol=mqtt.MQTTv311) as v3:
            for i, (label, value) in enumerate(reply_tos):
                v3.publish("%s/req/agent.ping" % PREFIX, b'{"correlationId":"attacker-%d","replyTo":' % i + value + b"}")
        reached = sum(1 for how in outcomes.values() if how == "puback") + len(reply_tos)
        wait_until(lambda: env.c.ok("agent.stats", token=env.sys_token)["refusedReplies"] - before >= reached,
                   timeout=15, what="%d refusals counted" % reached)
        check(env.anon.request("agent.ping").get("status") == 200, "the agent does not answer after the attack")
        time.sleep(0.5)
        check(victim.topics() == [], "the victim received %r" % victim.topics()[:5])
    check(agent_connects(env) == connects, "the agent reconnected during the attack")


# ---- the subscription matrix ------------------------------------------------------------------------

# (filter template, who may subscribe): SYS, TA (tenant A admin), CU (A's customer user), TB.
# {A} tenant A, {B} tenant B, {C} A's customer, {C2} A's other customer, {NULL} the NULL tenant,
# {me} the subscriber's own broker username, {ta} A's admin's.
SUBSCRIPTIONS = [
    # filter                                   SYS TA  CU  TB
    ("cm/v1/event/{A}/#",                      "-  +   -   -"),
    ("cm/v1/event/{A}/CUSTOMER/+",             "-  +   -   -"),
    ("cm/v1/event/{B}/#",                      "-  -   -   +"),
    ("cm/v1/event/+/TENANT/#",                 "+  -   -   -"),
    ("cm/v1/event/{NULL}/#",                   "+  -   -   -"),
    ("cm/v1/event/#",                          "-  -   -   -"),
    ("cm/v1/cevent/{A}/#",                     "-  +   -   -"),
    ("cm/v1/cevent/{A}/{C}/#",                 "-  +   +   -"),
    ("cm/v1/cevent/{A}/{C}/DEVICE/+",          "-  +   +   -"),
    ("cm/v1/cevent/{A}/{C2}/#",                "-  +   -   -"),
    ("cm/v1/cevent/{A}/+/#",                   "-  +   -   -"),
    ("cm/v1/cevent/{B}/#",                     "-  -   -   +"),
    ("cm/v1/reply/{me}/#",                     "+  +   +   +"),
    ("cm/v1/reply/{ta}/#",                     "-  +   -   -"),
    ("cm/v1/reply/anon/0123456789abcdef0123",  "+  +   +   +"),
    ("cm/v1/reply/anon/+",                     "-  -   -   -"),
    ("cm/v1/status/+",                         "+  +   +   +"),
    ("cm/v1/stats/+",                          "+  -   -   -"),
    ("cm/v1/req/+",                            "-  -   -   -"),
]


def test_subscription_matrix(env):
    who = {"SYS": env.sys_cred, "TA": env.a.cred, "CU": env.cu.cred, "TB": env.b.cred}
    names = {"A": env.a.tenant_id, "B": env.b.tenant_id, "C": eid(env.ca["id"]), "C2": eid(env.ca2["id"]),
             "NULL": NULL_UUID, "ta": env.a.cred["username"]}
    wrong = []
    for col, cred in who.items():
        with Watcher(env.port, username=cred["username"], password=cred["password"]) as w:
            for template, row in SUBSCRIPTIONS:
                allowed = row.split()[list(who).index(col)] == "+"
                f = template.format(me=cred["username"], **names)
                if w.granted_ok(f) != allowed:
                    wrong.append("%s %s: expected %s" % (col, f, "granted" if allowed else "refused"))
    check(not wrong, "subscriptions not as the authority table says:\n  " + "\n  ".join(wrong))


def test_each_reads_exactly_its_events(env):
    a_tenant, b_tenant, c, c2 = env.a.tenant_id, env.b.tenant_id, eid(env.ca["id"]), eid(env.ca2["id"])
    listeners = {
        "TA": (env.a.cred, ["cm/v1/event/%s/#" % a_tenant]),
        "CU": (env.cu.cred, ["cm/v1/cevent/%s/%s/#" % (a_tenant, c)]),
        "TB": (env.b.cred, ["cm/v1/event/%s/#" % b_tenant]),
    }
    watchers = {}
    try:
        for k, (cred, filters) in listeners.items():
            watchers[k] = Watcher(env.port, username=cred["username"], password=cred["password"])
            for f in filters:
                check(watchers[k].granted_ok(f), "%s may not subscribe %s" % (k, f))
        ta, tb = env.c_as(env.a), env.c_as(env.b)
        dev = ta.ok("device.create", {"name": unique("matrix-dev"), "type": "t"}, token=env.a.token)
        ta.ok("device.assign", {"id": eid(dev["id"]), "customerId": c}, token=env.a.token)
        other = ta.ok("device.create", {"name": unique("matrix-dev2"), "type": "t"}, token=env.a.token)
        ta.ok("device.assign", {"id": eid(other["id"]), "customerId": c2}, token=env.a.token)
        ta.ok("customer.patch", {"id": c, "city": "Boston"}, token=env.a.token)
        ta.ok("customer.patch", {"id": c2, "city": "Paris"}, token=env.a.token)
        tb.ok("customer.create", {"title": unique("CustB")}, token=env.b.token)
        wait_until(lambda: len(watchers["TA"].topics()) >= 6 and len(watchers["CU"].topics()) >= 2 and
                   len(watchers["TB"].topics()) >= 1, timeout=10, what="the events")
        time.sleep(0.5)
        ta_t, cu_t, tb_t = watchers["TA"].topics(), watchers["CU"].topics(), watchers["TB"].topics()
        check(all(t.startswith("cm/v1/event/%s/" % a_tenant) for t in ta_t), "TA read %r" % ta_t)
        check(all(t.startswith("cm/v1/event/%s/" % b_tenant) for t in tb_t), "TB read %r" % tb_t)
        check(all(t.startswith("cm/v1/cevent/%s/%s/" % (a_tenant, c)) for t in cu_t), "CU read %r" % cu_t)
        cu_bodies = [json.loads(p) for _, p, _ in watchers["CU"].got]
        ids = {eid(b["originator"]) for b in cu_bodies}
        check(eid(dev["id"]) in ids and c in ids, "CU missed its device's or its customer's event: %r" % cu_t)
        check(eid(other["id"]) not in ids and c2 not in ids, "CU read another customer's events: %r" % cu_bodies)
    finally:
        for w in watchers.values():
            w.close()


def test_reply_to_another_namespace_is_refused(env):
    ta = env.c_as(env.a)
    before = env.c.ok("agent.stats", token=env.sys_token)["refusedReplies"]
    # A's admin names B's reply namespace with its own token: not applied, not answered
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "%s/reply/%s/stolen" % (PREFIX, env.b.cred["username"])
    props.CorrelationData = b"x"
    title = unique("NotCreated")
    ta.publish("%s/req/customer.create" % PREFIX, json.dumps({"token": env.a.token, "data": {"title": title}}),
               properties=props)
    wait_until(lambda: env.c.ok("agent.stats", token=env.sys_token)["refusedReplies"] > before,
               what="the refusal counted")
    found = ta.request("customer.findByTitle", {"title": title}, token=env.a.token)
    check(found.get("status") == 404, "the refused request was applied: %r" % found)


def test_broker_credentials_permissions(env):
    # every authenticated caller, a user's token or an API key, gets an account; nobody else
    key = env.c_as(env.a).ok("apiKey.create", {"description": "creds"}, token=env.a.token)
    k = env.anon.ok("broker.credentials", token=key["key"])
    check(k["username"] == "cm-k-%s" % eid(key["id"]), "the key's account is %r" % k)
    check(env.a.cred["username"] == "cm-u-%s" % env.a.user_id, "the user's account is %r" % env.a.cred)
    expect(env.anon.request("broker.credentials"), 401)
    expect(env.anon.request("broker.credentials", token="cma_not-a-token"), 401)
    # a new password replaces the old one
    again = credentials(env.anon, env.cu.token)
    check(again["username"] == env.cu.cred["username"] and again["password"] != env.cu.cred["password"],
          "broker.credentials did not rotate: %r %r" % (again, env.cu.cred))
    wait_until(lambda: can_connect(env.port, again) and not can_connect(env.port, env.cu.cred),
               what="the new password working and the old one refused")
    env.cu.cred = again
    if hasattr(env.cu, "client"):
        env.cu.client.close()
        del env.cu.client


def test_login_as_session_gets_no_broker_account(env):
    # a user.token session acts for its caller: the customer user's broker password, which would
    # outlive the session and whose rotation would cut the user's own broker sessions, is not issued
    pair = env.c_as(env.a).ok("user.token", {"userId": env.cu.user_id}, token=env.a.token)
    expect(env.anon.request("broker.credentials", token=pair["token"]), 403, 20,
           "Broker credentials can't be issued to a token of user.token")
    check(can_connect(env.port, env.cu.cred), "the customer user's broker password still works")


# ---- revocation ---------------------------------------------------------------------------------------


def live_session(env, cred):
    w = Watcher(env.port, username=cred["username"], password=cred["password"])
    check(w.granted_ok("%s/reply/%s/#" % (PREFIX, cred["username"])), "no live session for %s" % cred["username"])
    return w


def test_disable_and_delete_cut_a_live_session(env):
    ta = env.c_as(env.a)
    u = make_customer_user(env.c_as(env.a), env.a.token, eid(env.ca["id"]))
    cred = credentials(env.anon, u.token)
    w = live_session(env, cred)
    ta.ok("user.setEnabled", {"id": u.user_id, "enabled": False}, token=env.a.token)
    check(w.disconnected.wait(5), "the disabled user's session is still connected")
    w.close()
    check(not can_connect(env.port, cred), "the disabled user can still connect")
    ta.ok("user.setEnabled", {"id": u.user_id, "enabled": True}, token=env.a.token)
    wait_until(lambda: can_connect(env.port, cred), what="the re-enabled user connecting")
    w = live_session(env, cred)
    ta.ok("user.delete", {"id": u.user_id}, token=env.a.token)
    check(w.disconnected.wait(5), "the deleted user's session is still connected")
    w.close()
    check(not can_connect(env.port, cred), "the deleted user can still connect")


def test_customer_and_tenant_delete_cut_their_users_sessions(env):
    # the users a cascade deletes lose their accounts as a user.delete does
    ta = env.c_as(env.a)
    cust = ta.ok("customer.create", {"title": unique("Doomed")}, token=env.a.token)
    u = make_customer_user(ta, env.a.token, eid(cust["id"]))
    cred = credentials(env.anon, u.token)
    w = live_session(env, cred)
    ta.ok("customer.delete", {"id": eid(cust["id"])}, token=env.a.token)
    check(w.disconnected.wait(5), "the deleted customer's user is still connected")
    w.close()
    check(not can_connect(env.port, cred), "the deleted customer's user can still connect")
    doomed = make_tenant_admin(env.c, env.sys_token)
    dcred = credentials(env.anon, doomed.token)
    w = live_session(env, dcred)
    env.c.ok("tenant.delete", {"id": doomed.tenant_id}, token=env.sys_token)
    check(w.disconnected.wait(5), "the deleted tenant's administrator is still connected")
    w.close()
    check(not can_connect(env.port, dcred), "the deleted tenant's administrator can still connect")


def test_lockout_cuts_a_live_session(env):
    u = make_customer_user(env.c_as(env.a), env.a.token, eid(env.ca["id"]))
    cred = credentials(env.anon, u.token)
    w = live_session(env, cred)
    for _ in range(7):
        env.anon.request("auth.login", {"email": u.email, "password": "wrong-password-1"})
    check(w.disconnected.wait(5), "the locked user's session is still connected")
    w.close()
    check(not can_connect(env.port, cred), "the locked user can still connect")


def test_api_key_delete_cuts_its_session(env):
    ta = env.c_as(env.a)
    key = ta.ok("apiKey.create", {"description": "cut"}, token=env.a.token)
    cred = credentials(env.anon, key["key"])
    with broker_client(env.port, cred) as kc:
        check(kc.ok("agent.ops", token=key["key"]) is not None, "the key's client is not answered")
    w = live_session(env, cred)
    ta.ok("apiKey.delete", {"id": eid(key["id"])}, token=env.a.token)
    check(w.disconnected.wait(5), "the deleted key's session is still connected")
    w.close()
    check(not can_connect(env.port, cred), "the deleted key's account can still connect")
    check(can_connect(env.port, env.a.cred), "the key's owner lost its own account")


def test_password_change_rotates_the_broker_password(env):
    u = make_customer_user(env.c_as(env.a), env.a.token, eid(env.ca["id"]))
    cred = credentials(env.anon, u.token)
    w = live_session(env, cred)
    with broker_client(env.port, cred) as uc:
        # answered on the session that asked: open sessions stay, new connections need a new password
        uc.ok("auth.changePassword", {"currentPassword": DEFAULT_PASSWORD, "newPassword": "Another-pass-2"},
              token=u.token)
    wait_until(lambda: not can_connect(env.port, cred), what="the old broker password refused")
    w.close()
    token = env.anon.login(u.email, "Another-pass-2")
    new = credentials(env.anon, token)
    # a re-issued password of an existing account is sent right after its reply (it ends the
    # account's sessions, the asking one's too), so it works a moment later
    wait_until(lambda: can_connect(env.port, new), timeout=5, what="the new credentials working")


def dynsec_env():
    return DynsecEnv()


# ---- a crash between the commit and the broker update -------------------------------------------------


def stray_client(port, username):
    """Creates a client of the agent's prefix behind its back, as the plugin's admin."""
    cmd = {"commands": [{"command": "createClient", "username": username, "password": "stray-pass-1"}]}
    with MqttSession(port, username=DYNSEC_USERNAME, password=DYNSEC_SECRET) as s:
        s.publish("$CONTROL/dynamic-security/v1", json.dumps(cmd))
    wait_until(lambda: can_connect(port, {"username": username, "password": "stray-pass-1"}), what="the stray client")


def test_crash_before_the_broker_update_is_reconciled_at_start(env=None):
    """Its own broker and agent (env unused)."""
    with Broker(dynsec=True) as b:
        agent = Agent(b.port, extra=DYNSEC_AGENT_SETTINGS)
        with agent:
            with anon_client(b.port) as anon:
                sys_token = anon.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                with broker_client(b.port, credentials(anon, sys_token)) as sc:
                    ta = make_tenant_admin(sc, sys_token)
                ta_cred = credentials(anon, ta.token)
                with broker_client(b.port, ta_cred) as tc:
                    cu = make_customer_user(tc, ta.token, eid(make_customer(tc, ta.token)["id"]))
                cred = credentials(anon, cu.token)
            agent.stop()
            # the next commit that writes events ends the agent before anything is published
            agent.env["CMAGENT_TEST_EXIT_AFTER_COMMIT"] = "1"
            agent.start()
            w = live_session_on(b.port, cred)
            with broker_client(b.port, ta_cred) as tc:
                tc.begin("user.setEnabled", {"id": cu.user_id, "enabled": False}, token=ta.token)
                agent.proc.wait(30)
                check(agent.proc.returncode == 70, "the hook did not end the agent: %r" % agent.proc.returncode)
                agent.exit_codes.append(70)
                agent.proc = None
            check(not w.disconnected.is_set() and can_connect(b.port, cred),
                  "the broker heard of the disable before the crash (the test proves nothing)")
            stray = "cm-u-%s" % "00000000-0000-0000-0000-000000000001"
            stray_client(b.port, stray)
            del agent.env["CMAGENT_TEST_EXIT_AFTER_COMMIT"]
            agent.start()
            check(w.disconnected.wait(10), "the restart did not cut the disabled user's session")
            w.close()
            check(not can_connect(b.port, cred), "the disabled user can still connect after the restart")
            wait_until(lambda: not can_connect(b.port, {"username": stray, "password": "stray-pass-1"}),
                       what="the stray client deleted")
            check("has no account in the database" in agent.log_text(), "the stray's deletion was not logged")


def live_session_on(port, cred):
    w = Watcher(port, username=cred["username"], password=cred["password"])
    check(w.granted_ok("%s/reply/%s/#" % (PREFIX, cred["username"])), "no live session")
    return w


def test_broker_acl_none_works_and_says_what_is_open(env=None):
    """Its own open broker and agent (env unused)."""
    with Broker() as b, Agent(b.port) as agent:
        with Client(b.port) as c:
            token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            expect(c.request("broker.credentials", token=token), 400, contains="broker_acl none")
            c.ok("tenant.list", {"pageSize": 1, "page": 0}, token=token)
        log = agent.log_text()
        check("broker_acl none: the broker is not provisioned" in log and "cm/v1/reply/#" in log,
              "no warning of what an open broker leaves unprotected:\n%s" % log[-2000:])


if __name__ == "__main__":
    run_tests(globals(), env_factory=dynsec_env)
