"""helpers.py: the integration-test harness for cmagent (in the style of mosquitto's test/broker).

Every test file starts its own mosquitto and its own cmagent on free loopback ports, talks to the
agent over MQTT exactly as a client would (protocol v1), and stops both at the end. Nothing here
touches an address outside 127.0.0.1.

Run a test file standalone with /usr/bin/python3 (Debian's python3-paho-mqtt 1.6.1):
    CMAGENT_BIN=build/cmagent /usr/bin/python3 tests/integration/test_customers.py [name-filter ...]
"""

import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from urllib.parse import parse_qs, urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import pg_helpers

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

CMAGENT_BIN = os.environ.get("CMAGENT_BIN") or os.path.join(REPO, "build", "cmagent")
MOSQUITTO_BIN = os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"

HOST = "127.0.0.1"
PREFIX = "cm/v1"
AGENT_ID = "test-agent"
SYSADMIN_EMAIL = "sysadmin@test.local"
SYSADMIN_PASSWORD = "sysadmin-secret-1"
DEFAULT_PASSWORD = "Passw0rd-123"

# Under ASan/UBSan everything is slower; these bounds are generous but finite.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
FILE_TIMEOUT = 280  # seconds for a whole test file (ctest's TIMEOUT is 300)

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"

# broker_acl dynsec: the agent's own broker account, written into the plugin's first configuration
# by cmagent --init-dynsec (Broker(dynsec=True)) and given to the agent (DYNSEC_AGENT_SETTINGS).
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
DYNSEC_USERNAME = "cmagent"
DYNSEC_SECRET = "agent-broker-secret-1"
DYNSEC_AGENT_SETTINGS = {"broker_acl": "dynsec", "broker_secret": DYNSEC_SECRET}


def anon_reply_topic(prefix=PREFIX):
    """A reply topic an anonymous client may read under broker_acl dynsec: anon/<unguessable nonce>."""
    return "%s/reply/anon/%s" % (prefix, os.urandom(16).hex())
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_counter = [0]
_counter_lock = threading.Lock()


def unique(prefix="x"):
    """A name unique within this process run (and across runs, thanks to the pid and time)."""
    with _counter_lock:
        _counter[0] += 1
        n = _counter[0]
    return "%s-%d-%d-%d" % (prefix, os.getpid(), int(time.time() * 1000) % 100000000, n)


def unique_email(prefix="user"):
    return "%s@test.local" % unique(prefix).lower()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value (returned), or raises AssertionError at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def tail(path, lines=150):
    try:
        with open(path, "r", errors="replace") as f:
            content = f.readlines()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "".join(content[-lines:])


# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print when they find
# something (the sanitized build): any of it in an agent's output fails the test.
SANITIZER_REPORT_RE = re.compile(r"^==\d+==ERROR: (?:LeakSanitizer|AddressSanitizer)|^\S+:\d+:\d+: runtime error: ",
                                 re.M)


def sanitizer_report(text):
    """The sanitizer report in text (a process's output), from its first line on, or None."""
    m = SANITIZER_REPORT_RE.search(text)
    return text[m.start():m.start() + 6000] if m else None


def check_no_sanitizer_report(text, what):
    report = sanitizer_report(text)
    if report is not None:
        raise AssertionError("%s: a sanitizer report:\n%s" % (what, report))


def eid(v):
    """The uuid of an entity id given as {"entityType":..,"id":..} or as a bare string."""
    if isinstance(v, dict):
        return v.get("id")
    return v


def dumps(doc):
    try:
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(doc)


# ---------------------------------------------------------------------------------------------
# Broker


class Broker:
    """A real mosquitto on a free loopback port, with a temporary configuration."""

    def __init__(self, port=None, persistence=False, extra_lines=(), dynsec=False):
        self.port = port or free_port()
        self.dynsec = dynsec
        self.persistence = persistence
        self.extra_lines = list(extra_lines)
        self.dir = tempfile.mkdtemp(prefix="cmagent-broker-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.proc = None

    def start(self):
        lines = [
            "per_listener_settings false",
            "listener %d %s" % (self.port, HOST),
            "allow_anonymous true",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.persistence:
            store = os.path.join(self.dir, "store")
            os.makedirs(store, exist_ok=True)
            if os.geteuid() == 0:
                # mosquitto started as root drops to the user "mosquitto", which must reach the store
                os.chmod(self.dir, 0o755)
                try:
                    import pwd
                    pw = pwd.getpwnam("mosquitto")
                    os.chown(store, pw.pw_uid, pw.pw_gid)
                except KeyError:
                    pass
            lines += ["persistence true", "persistence_location %s/" % store]
        else:
            lines += ["persistence false"]
        if self.dynsec:
            lines += self._dynsec_lines()
        lines += self.extra_lines
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([MOSQUITTO_BIN, "-c", self.conf], stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        logf.close()
        deadline = time.monotonic() + 15
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited with %s:\n%s" % (self.proc.returncode, tail(self.log)))
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto does not listen on %s:%d:\n%s" % (HOST, self.port, tail(self.log)))
            time.sleep(0.05)
        return self

    def _dynsec_lines(self):
        """The dynamic-security plugin with the agent's account (written once; the plugin keeps it
        up to date itself, in a directory the user mosquitto may write when started as root)."""
        ddir = os.path.join(self.dir, "dynsec")
        path = os.path.join(ddir, "dynamic-security.json")
        if not os.path.exists(path):
            os.makedirs(ddir, exist_ok=True)
            conf = os.path.join(self.dir, "init-dynsec.conf")
            with open(conf, "w") as f:
                f.write("broker_secret %s\nusername %s\n" % (DYNSEC_SECRET, DYNSEC_USERNAME))
            subprocess.run([CMAGENT_BIN, "-c", conf, "--init-dynsec", path], check=True, capture_output=True)
            if os.geteuid() == 0:
                os.chmod(self.dir, 0o755)
                try:
                    import pwd
                    pw = pwd.getpwnam("mosquitto")
                    for p in (ddir, path):
                        os.chown(p, pw.pw_uid, pw.pw_gid)
                except KeyError:
                    pass
        return ["plugin %s" % DYNSEC_PLUGIN, "plugin_opt_config_file %s" % path]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------------------------
# MQTT clients


class MqttSession:
    """A connected paho client running its network loop in a thread."""

    def __init__(self, port, protocol=mqtt.MQTTv5, client_id=None, host=HOST, will=None, username=None,
                 password=None):
        self.port = port
        self.protocol = protocol
        self.client_id = client_id or unique("tc")
        if protocol == mqtt.MQTTv5:
            self.mqtt = mqtt.Client(self.client_id, protocol=mqtt.MQTTv5)
        else:
            self.mqtt = mqtt.Client(self.client_id, clean_session=True, protocol=mqtt.MQTTv311)
        self._cond = threading.Condition()
        self._connected = False
        self._connect_rc = None
        self._subacks = set()
        self.granted = {}  # mid -> the SUBACK's reason codes (as ints)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_subscribe = self._on_subscribe
        self.mqtt.on_message = self._on_message
        if will is not None:
            self.mqtt.will_set(*will)
        if username is not None:
            self.mqtt.username_pw_set(username, password)
        self.mqtt.connect(host, port, keepalive=30)
        # paho-mqtt 1.6.1 leaves Nagle on; with delayed ACKs that costs ~40 ms per request
        sock = self.mqtt.socket()
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.mqtt.loop_start()
        with self._cond:
            ok = self._cond.wait_for(lambda: self._connect_rc is not None, timeout=10)
        if not ok or not self._connected:
            self.close()
            raise RuntimeError("MQTT connect to %s:%d failed (rc=%r)" % (host, port, self._connect_rc))

    # paho callbacks (v5 and v3.1.1 signatures differ in the trailing arguments)
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self._cond:
            self._connect_rc = rc
            self._connected = (rc == 0)
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self._cond:
            self._subacks.add(mid)
            self.granted[mid] = [g.value if hasattr(g, "value") else g for g in granted]
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg):
        self.on_message(msg)

    def on_message(self, msg):
        pass

    def subscribe(self, topic, qos=1, timeout=10):
        rc, mid = self.mqtt.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("subscribe %s failed: rc=%d" % (topic, rc))
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacks, timeout=timeout):
                raise RuntimeError("no SUBACK for %s" % topic)
            return self.granted.get(mid)

    def publish(self, topic, payload, qos=1, retain=False, properties=None, timeout=10):
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("publish to %s failed: rc=%d" % (topic, info.rc))
        if qos > 0:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise RuntimeError("publish to %s not acknowledged in %ss" % (topic, timeout))
        return info

    def close(self):
        try:
            self.mqtt.disconnect()
        except Exception:
            pass
        self.mqtt.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Client(MqttSession):
    """A protocol v1 client. With MQTT 5 (default) replies come through the Response Topic property
    and Correlation Data; with mqtt_version=3 (MQTT 3.1.1) through the envelope's replyTo and
    correlationId."""

    def __init__(self, port, mqtt_version=5, prefix=PREFIX, client_id=None, username=None, password=None,
                 reply_topic=None):
        super().__init__(port, protocol=mqtt.MQTTv5 if mqtt_version == 5 else mqtt.MQTTv311,
                         client_id=client_id, username=username, password=password)
        self.mqtt_version = mqtt_version
        self.prefix = prefix
        self.reply_topic = reply_topic or (
            "%s/reply/%s/%s" % (prefix, username, self.client_id) if username else "%s/reply/%s" % (prefix, self.client_id))
        self._replies = {}
        self._pending = {}
        self._seq = 0
        self.subscribe(self.reply_topic, qos=1)

    def on_message(self, msg):
        try:
            body = json.loads(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = {"_unparsable": msg.payload}
        corr = None
        props = getattr(msg, "properties", None)
        if props is not None and hasattr(props, "CorrelationData"):
            corr = bytes(props.CorrelationData)
        with self._cond:
            key = corr
            if key is None and isinstance(body, dict) and "correlationId" in body:
                key = str(body["correlationId"]).encode()
            self._replies.setdefault(key, []).append((body, corr, msg))
            self._cond.notify_all()

    def _next_corr(self):
        with self._cond:
            self._seq += 1
            return ("%s#%d" % (self.client_id, self._seq)).encode()

    def request(self, op, data=None, token=None, id=None, raw_payload=None, timeout=10, qos=1,
                envelope_extra=None):
        """Sends one request to P/req/<op> and returns the parsed reply (a dict)."""
        corr = self.begin(op, data, token=token, id=id, raw_payload=raw_payload, qos=qos,
                          envelope_extra=envelope_extra)
        return self.result(corr, timeout=timeout)

    def begin(self, op, data=None, token=None, id=None, raw_payload=None, qos=1, envelope_extra=None):
        """Publishes a request and returns its correlation key for result(), without waiting."""
        corr = self._next_corr()
        if raw_payload is None:
            env = {}
            if token is not None:
                env["token"] = token
            if id is not None:
                env["id"] = id
            if data is not None:
                env["data"] = data
            if self.mqtt_version != 5:
                env["replyTo"] = self.reply_topic
                env["correlationId"] = corr.decode()
            if envelope_extra:
                env.update(envelope_extra)
            payload = json.dumps(env).encode("utf-8")
        else:
            payload = raw_payload.encode("utf-8") if isinstance(raw_payload, str) else raw_payload
        props = None
        if self.mqtt_version == 5:
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = self.reply_topic
            props.CorrelationData = corr
        with self._cond:
            self._pending[corr] = (op, payload[:300])
        self.publish("%s/req/%s" % (self.prefix, op), payload, qos=qos, properties=props)
        return corr

    def result(self, corr, timeout=10):
        """The parsed reply to the request begin() returned corr for."""
        with self._cond:
            op, payload = self._pending.get(corr, ("?", b""))
            got = self._cond.wait_for(lambda: self._replies.get(corr), timeout=timeout)
            if not got:
                raise AssertionError("no reply to %s within %ss (payload %r)" % (op, timeout, payload))
            body, echoed, _msg = self._replies[corr].pop(0)
            self._pending.pop(corr, None)
        if self.mqtt_version == 5:
            assert echoed == corr, "reply to %s: Correlation Data %r, sent %r" % (op, echoed, corr)
        else:
            assert isinstance(body, dict) and body.get("correlationId") == corr.decode(), \
                "reply to %s does not echo correlationId %r: %s" % (op, corr, dumps(body))
        assert isinstance(body, dict), "reply to %s is not a JSON object: %r" % (op, body)
        return body

    def has_reply(self, corr):
        with self._cond:
            return bool(self._replies.get(corr))

    def send(self, op, payload, qos=1, properties=None):
        """Publishes a request without asking for a reply (fire-and-forget)."""
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        self.publish("%s/req/%s" % (self.prefix, op), payload, qos=qos, properties=properties)

    # --- conveniences -----------------------------------------------------------------------

    def ok(self, op, data=None, token=None, **kw):
        """request() that must succeed; returns the reply's data."""
        r = self.request(op, data, token=token, **kw)
        expect(r, 200, context=op)
        return r.get("data")

    def login(self, email, password):
        d = self.ok("auth.login", {"email": email, "password": password})
        assert isinstance(d.get("token"), str) and d["token"], "auth.login: no token: %s" % dumps(d)
        return d["token"]


class EventListener(MqttSession):
    """Subscribes P/event/# and collects every event as (topic, parsed body)."""

    def __init__(self, port, prefix=PREFIX, topic_filter=None):
        super().__init__(port, protocol=mqtt.MQTTv5)
        self.events = []
        self.subscribe(topic_filter or "%s/event/#" % prefix, qos=1)

    def on_message(self, msg):
        try:
            body = json.loads(msg.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = {"_unparsable": msg.payload}
        with self._cond:
            self.events.append((msg.topic, body, msg.retain))
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.events)

    def clear(self):
        with self._cond:
            self.events = []

    def wait_for(self, pred, timeout=10, what="event"):
        """Waits for an event (topic, body) satisfying pred; returns it."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((e for e in self.events if pred(e[0], e[1])), None), timeout=timeout)
        if not found:
            raise AssertionError("no %s within %ss; got:\n%s" % (what, timeout, dumps([e[:2] for e in self.snapshot()])))
        return found[:2]

    def wait_count(self, n, timeout=10):
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.events) >= n, timeout=timeout):
                raise AssertionError("expected %d events within %ss, got %d:\n%s"
                                     % (n, timeout, len(self.events), dumps([e[:2] for e in self.events])))
            return [e[:2] for e in self.events]

    def max_seq(self):
        seqs = [b.get("seq") for _, b, _ in self.snapshot() if isinstance(b, dict) and isinstance(b.get("seq"), int)]
        return max(seqs) if seqs else None


def read_retained(port, topic, timeout=5.0, pred=None):
    """Subscribes topic and returns (body, retain) of the first message (satisfying pred)."""
    got = []
    ev = threading.Event()

    class S(MqttSession):
        def on_message(self, msg):
            try:
                body = json.loads(msg.payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body = {"_unparsable": msg.payload}
            if pred is None or pred(body):
                got.append((body, msg.retain))
                ev.set()

    with S(port) as s:
        s.subscribe(topic, qos=1)
        ev.wait(timeout)
    return got[0] if got else (None, None)


def wait_status(port, state, agent_id=AGENT_ID, prefix=PREFIX, timeout=15.0):
    """Waits until the retained status of agent_id says state; returns the body."""
    topic = "%s/status/%s" % (prefix, agent_id)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        body, retain = read_retained(port, topic, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
        last = (body, retain)
        if isinstance(body, dict) and body.get("state") == state:
            return body
        time.sleep(0.1)
    raise AssertionError("status %s is not %r after %ss; last %r" % (topic, state, timeout, last))


# ---------------------------------------------------------------------------------------------
# Agent


class Agent:
    """cmagent as a separate process with a temporary configuration and database."""

    def __init__(self, broker_port, agent_id=AGENT_ID, sysadmin_email=SYSADMIN_EMAIL,
                 sysadmin_password=SYSADMIN_PASSWORD, extra=None, env=None, workdir=None, log_level="debug"):
        self.broker_port = broker_port
        self.agent_id = agent_id
        self.dir = workdir or tempfile.mkdtemp(prefix="cmagent-agent-")
        self.conf = os.path.join(self.dir, "cmagent.conf")
        # CMAGENT_TEST_DATABASE=postgres: a PostgreSQL database of the file's cluster (pg_helpers.py)
        self.db = pg_helpers.database_for(self.dir) if pg_helpers.wanted() else os.path.join(self.dir, "cmagent.db")
        self.log = os.path.join(self.dir, "agent.log")
        self.settings = {
            "broker": "tcp://%s:%d" % (HOST, broker_port),
            "agent_id": agent_id,
            "database": self.db,
            "log_level": log_level,
        }
        if sysadmin_email is not None:
            self.settings["sysadmin_email"] = sysadmin_email
        if sysadmin_password is not None:
            self.settings["sysadmin_password"] = sysadmin_password
        self.settings.update(extra or {})
        self.env = dict(os.environ)
        # A sanitized agent checks for leaks at exit and stops at the first undefined behaviour
        # (scripts/test sets the same; these apply when a test file runs on its own).
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.env.update(env or {})
        self.proc = None
        self.exit_codes = []
        self.log_checked = 0  # bytes of the log already searched for sanitizer reports

    @property
    def status_topic(self):
        return "%s/status/%s" % (self.settings.get("topic_prefix", PREFIX), self.agent_id)

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write("# written by tests/integration/helpers.py\n")
            for k, v in self.settings.items():
                f.write(("%s %s\n" % (k, v)) if v != "" else ("%s\n" % k))

    def start(self, wait=True):
        self.write_config()
        with open(self.log, "a") as f:
            f.write("==== start %s ====\n" % time.strftime("%H:%M:%S"))
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([CMAGENT_BIN, "-c", self.conf], stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.dir)
        logf.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until the retained status says online and agent.ping answers."""
        deadline = time.monotonic() + timeout
        topic = self.status_topic
        while True:
            if self.proc.poll() is not None:
                self.exit_codes.append(self.proc.returncode)
                raise AssertionError("cmagent exited with %s during start-up:\n%s"
                                     % (self.proc.returncode, tail(self.log)))
            body, _ = read_retained(self.broker_port, topic, timeout=0.5,
                                    pred=lambda b: isinstance(b, dict) and b.get("state") == "online")
            if body is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError("cmagent not online on %s within %ss:\n%s" % (topic, timeout, tail(self.log)))
        prefix = self.settings.get("topic_prefix", PREFIX)
        reply = anon_reply_topic(prefix) if self.settings.get("broker_acl") == "dynsec" else None
        # an agent speaking MQTT 3.1.1 sees no Response Topic: the ping names its replyTo then
        version = 3 if str(self.settings.get("mqtt_version", "5")) == "3" else 5
        with Client(self.broker_port, prefix=prefix, reply_topic=reply, mqtt_version=version) as c:
            while True:
                try:
                    r = c.request("agent.ping", timeout=2)
                    if r.get("status") == 200:
                        return
                except AssertionError:
                    pass
                if self.proc.poll() is not None:
                    self.exit_codes.append(self.proc.returncode)
                    raise AssertionError("cmagent exited with %s right after start-up (status online was seen):\n%s"
                                         % (self.proc.returncode, tail(self.log)))
                if time.monotonic() > deadline:
                    raise AssertionError("cmagent does not answer agent.ping:\n%s" % tail(self.log))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def check_sanitizers(self):
        """Fails when the agent's log, since the last check, holds a sanitizer report (a leak found
        at exit, a heap error, undefined behaviour): whatever exit code a test expects, that is a bug."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_checked)
                text = f.read().decode(errors="replace")
                self.log_checked = f.tell()
        except OSError:
            return
        check_no_sanitizer_report(text, "cmagent (log %s)" % self.log)

    def stop(self, check=True):
        """SIGTERM; asserts exit code 0 (unless check=False) and no sanitizer report in the log
        (always). Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.proc = None
                raise AssertionError("cmagent did not exit within %ss of SIGTERM:\n%s" % (STOP_TIMEOUT, tail(self.log)))
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        self.proc = None
        self.check_sanitizers()
        if check and rc != 0:
            raise AssertionError("cmagent exited with %s (expected 0):\n%s" % (rc, tail(self.log, 250)))
        return rc

    def kill(self):
        """SIGKILL, no clean shutdown."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.exit_codes.append(self.proc.returncode)
            self.proc = None
        self.check_sanitizers()

    def restart(self, hard=False):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def log_text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        try:
            if self.proc is not None:
                rc = self.stop(check=False)
                if rc != 0:
                    failed = True
                    if exc_type is None:
                        raise AssertionError("cmagent exited with %s at shutdown (expected 0)" % rc)
            else:
                self.check_sanitizers()  # a process the test waited for itself
        except BaseException:
            failed = True
            raise
        finally:
            if failed:
                print("---- cmagent log (kept in %s), exit codes %s ----\n%s"
                      % (self.dir, self.exit_codes, tail(self.log, 200)), file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------------------------
# Assertions


FORBIDDEN = "You don't have permission to perform this operation!"


def tenant_events(c, token, after=0):
    """Every event of the caller's tenant with seq > after, oldest first (event.replay)."""
    out = []
    while True:
        d = expect(c.request("event.replay", {"afterSeq": after, "limit": 1000}, token=token), 200)
        out += d["events"]
        if len(d["events"]) < 1000:
            return out
        after = d["events"][-1]["seq"]


def last_seq(c, token):
    """The seq of the caller's tenant's latest event, 0 when there is none."""
    evs = tenant_events(c, token)
    return evs[-1]["seq"] if evs else 0


def expect(reply, status, errorCode=None, message=None, contains=None, context=""):
    """Checks a reply's status (and errorCode / exact message / message substring). Error replies
    must carry status, errorCode, message and timestamp. Returns reply["data"] on success."""
    problems = []
    if not isinstance(reply, dict):
        raise AssertionError("%s: reply is not an object: %r" % (context, reply))
    if reply.get("status") != status:
        problems.append("status %r != %r" % (reply.get("status"), status))
    st = reply.get("status")
    if isinstance(st, int) and st >= 400:
        for k in ("status", "errorCode", "message", "timestamp"):
            if k not in reply:
                problems.append("error reply lacks %r" % k)
        if "message" in reply and not isinstance(reply["message"], str):
            problems.append("message is not a string")
        if "timestamp" in reply and not isinstance(reply["timestamp"], int):
            problems.append("timestamp is not an integer")
        if "errorCode" in reply and not isinstance(reply["errorCode"], int):
            problems.append("errorCode is not an integer")
    if errorCode is not None and reply.get("errorCode") != errorCode:
        problems.append("errorCode %r != %r" % (reply.get("errorCode"), errorCode))
    if message is not None and reply.get("message") != message:
        problems.append("message %r != %r" % (reply.get("message"), message))
    if contains is not None:
        for part in ([contains] if isinstance(contains, str) else contains):
            if part not in str(reply.get("message", "")):
                problems.append("message %r does not contain %r" % (reply.get("message"), part))
    if problems:
        wanted = {"status": status}
        if errorCode is not None:
            wanted["errorCode"] = errorCode
        if message is not None:
            wanted["message"] = message
        if contains is not None:
            wanted["message contains"] = contains
        raise AssertionError("%s%s\n  expected: %s\n  got:      %s"
                             % (context + ": " if context else "", "; ".join(problems),
                                json.dumps(wanted, ensure_ascii=False), dumps(reply)))
    return reply.get("data")


def check(cond, msg, *docs):
    if not cond:
        raise AssertionError(msg + "".join("\n" + dumps(d) for d in docs))


# ---------------------------------------------------------------------------------------------
# Scenario builders


class Principal:
    """A user created through the protocol, with its token."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return "Principal(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()) if kv[0] != "user")


def activation_token_of(link):
    q = parse_qs(urlparse(link).query)
    tok = q.get("activateToken", [None])[0]
    assert tok, "no activateToken in activation link %r" % link
    return tok


def activate_user(c, admin_token, user_id, password=DEFAULT_PASSWORD):
    """user.activationLink + auth.activate; returns the token pair."""
    link = c.ok("user.activationLink", {"id": user_id}, token=admin_token)
    tok = activation_token_of(link["value"])
    return c.ok("auth.activate", {"activateToken": tok, "password": password})


def make_tenant(c, sys_token, title=None, limits=None, **fields):
    data = {"title": title or unique("Tenant")}
    if limits is not None:
        data["limits"] = limits
    data.update(fields)
    return c.ok("tenant.create", data, token=sys_token)


def make_tenant_admin(c, sys_token, tenant_id=None, email=None, password=DEFAULT_PASSWORD, title=None,
                      limits=None):
    """tenant.create (unless tenant_id is given) + user.create TENANT_ADMIN + user.activationLink +
    auth.activate + auth.login. Returns a Principal with tenant_id, user_id, email, password, token."""
    tenant = None
    if tenant_id is None:
        tenant = make_tenant(c, sys_token, title=title, limits=limits)
        tenant_id = eid(tenant["id"])
    email = email or unique_email("ta")
    user = c.ok("user.create", {"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant_id,
                                "firstName": "Tenant", "lastName": "Admin"}, token=sys_token)
    user_id = eid(user["id"])
    pair = activate_user(c, sys_token, user_id, password)
    token = c.login(email, password)
    return Principal(tenant_id=tenant_id, tenant=tenant, user_id=user_id, user=user, email=email,
                     password=password, token=token, activation_pair=pair)


def make_customer(c, token, title=None, **fields):
    data = {"title": title or unique("Customer")}
    data.update(fields)
    return c.ok("customer.create", data, token=token)


def make_customer_user(c, ta_token, customer_id, email=None, password=DEFAULT_PASSWORD, activate=True):
    """user.create CUSTOMER_USER (by a tenant admin) + activation + login."""
    email = email or unique_email("cu")
    user = c.ok("user.create", {"email": email, "authority": "CUSTOMER_USER", "customerId": customer_id,
                                "firstName": "Customer", "lastName": "User"}, token=ta_token)
    user_id = eid(user["id"])
    token = None
    if activate:
        activate_user(c, ta_token, user_id, password)
        token = c.login(email, password)
    return Principal(customer_id=customer_id, user_id=user_id, user=user, email=email, password=password,
                     token=token, tenant_id=eid(user.get("tenantId")))


def random_alnum(rng, n):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


# ---------------------------------------------------------------------------------------------
# SMTP


class SmtpServer:
    """A real SMTP server (Debian's python3-aiosmtpd) on a free loopback port that keeps every mail.
    Recipients containing "reject" are refused with 550; for recipients containing "slow" the
    server waits slow_seconds before accepting the data. While refusing is set every recipient is
    refused with 451 (try again later); while stalling is set the server answers no RCPT until it
    is cleared, then refuses those with 451. tries lists every recipient a client named."""

    def __init__(self, slow_seconds=3.0):
        from aiosmtpd.controller import Controller
        self.port = free_port()
        self.slow_seconds = slow_seconds
        self.mails = []
        self.tries = []
        self.refusing = False
        self.stalling = False
        self._cond = threading.Condition()
        self.controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio
        with self._cond:
            self.tries.append(address)
            self._cond.notify_all()
        if self.stalling:
            while self.stalling:
                await asyncio.sleep(0.05)
            return "451 4.3.0 stalled, try again later"
        if self.refusing:
            return "451 4.3.0 try again later"
        if "reject" in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        from email import policy
        if any("slow" in r for r in envelope.rcpt_tos):
            await asyncio.sleep(self.slow_seconds)
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._cond:
            self.mails.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                               "subject": str(msg["subject"]), "body": msg.get_content(), "message": msg,
                               "raw": envelope.content})
            self._cond.notify_all()
        return "250 Message accepted"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def mails_to(self, address):
        with self._cond:
            return [m for m in self.mails if address in m["to"]]

    def wait_try(self, address, count=1, timeout=10):
        """Waits until a client named address as a recipient count times."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.tries.count(address) >= count, timeout=timeout):
                raise AssertionError("no try #%d to send to %s within %ss" % (count, address, timeout))

    def wait_mail(self, address, count=1, timeout=10):
        """Waits until address received count mails; returns the last."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len([m for m in self.mails if address in m["to"]]) >= count,
                                     timeout=timeout)
            if not ok:
                raise AssertionError("no mail #%d to %s within %ss; got mails to %s"
                                     % (count, address, timeout, [m["to"] for m in self.mails]))
            return [m for m in self.mails if address in m["to"]][count - 1]


def link_token(body, name):
    """The value of the query parameter name in the first link of a mail body."""
    m = re.search(r"https?://\S+", body)
    assert m, "no link in mail body %r" % body
    q = parse_qs(urlparse(m.group(0)).query)
    tok = q.get(name, [None])[0]
    assert tok, "no %s in link %r" % (name, m.group(0))
    return m.group(0), tok


# ---------------------------------------------------------------------------------------------
# Environment and runner


class Env:
    """One broker, one agent, one client logged in as the system administrator."""

    def __init__(self, agent_extra=None, persistence=False, listen_events=True, smtp=False):
        self.agent_extra = dict(agent_extra or {})
        self.smtp = SmtpServer() if smtp else None
        if self.smtp is not None:
            self.agent_extra.setdefault("smtp_url", "smtp://%s:%d" % (HOST, self.smtp.port))
        self.persistence = persistence
        self.listen_events = listen_events
        self.broker = None
        self.agent = None
        self.c = None
        self.events = None
        self.sys_token = None

    def __enter__(self):
        if self.smtp is not None:
            self.smtp.start()
        self.broker = Broker(persistence=self.persistence).start()
        try:
            self.agent = Agent(self.broker.port, extra=self.agent_extra).start()
            self.port = self.broker.port
            if self.listen_events:
                self.events = EventListener(self.port)
            self.c = Client(self.port)
            self.sys_token = self.c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
        except BaseException:
            if self.agent is not None:
                print("---- cmagent log ----\n%s" % tail(self.agent.log, 200), file=sys.stderr)
                self.agent.stop(check=False)
            self.broker.stop()
            if self.smtp is not None:
                self.smtp.stop()
            raise
        return self

    def client(self, mqtt_version=5):
        return Client(self.port, mqtt_version=mqtt_version)

    def __exit__(self, exc_type, exc, tb):
        try:
            for s in (self.c, self.events):
                if s is not None:
                    s.close()
            if self.agent is not None:
                self.agent.__exit__(exc_type, exc, tb)
        finally:
            self.broker.__exit__(exc_type, exc, tb)
            if self.smtp is not None:
                self.smtp.stop()
        return False


def _on_alarm(signum, frame):
    raise TimeoutError("test file exceeded its %ds time bound" % FILE_TIMEOUT)


def run_tests(namespace, env_factory=None, time_bound=FILE_TIMEOUT):
    """Runs every test_* function of namespace (a module's globals()) in definition order, each with
    the shared environment made by env_factory (or with no argument when env_factory is None).
    Command-line arguments filter tests by substring. Exits 0 when all pass, 1 otherwise, after a
    final "N passed, N failed" line."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(time_bound)
    filters = sys.argv[1:]
    tests = [(k, v) for k, v in namespace.items()
             if k.startswith("test_") and callable(v) and (not filters or any(f in k for f in filters))]
    passed = failed = 0
    failures = []
    if not os.path.exists(CMAGENT_BIN):
        print("cmagent binary not found at %s (set CMAGENT_BIN or run scripts/build)" % CMAGENT_BIN)
        print("0 passed, %d failed" % len(tests))
        sys.exit(1)
    t_start = time.monotonic()
    env_cm = env_factory() if env_factory else None
    try:
        env = env_cm.__enter__() if env_cm else None
    except BaseException:
        traceback.print_exc()
        print("environment failed to start")
        print("0 passed, %d failed" % len(tests))
        sys.exit(1)
    exc_info = (None, None, None)
    try:
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                if env_cm is not None:
                    fn(env)
                else:
                    fn()
            except TimeoutError:
                failed += 1
                failures.append(name)
                print("FAIL %s (time bound)" % name, flush=True)
                traceback.print_exc()
                exc_info = sys.exc_info()
                break
            except Exception:
                failed += 1
                failures.append(name)
                print("FAIL %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
                traceback.print_exc()
                sys.stdout.flush()
                sys.stderr.flush()
            else:
                passed += 1
                print("PASS %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
    finally:
        if env_cm is not None:
            try:
                if failed and exc_info[0] is None:
                    exc_info = (AssertionError, AssertionError("tests failed"), None)
                env_cm.__exit__(*exc_info)
            except Exception:
                failed += 1
                failures.append("environment shutdown")
                print("FAIL environment shutdown", flush=True)
                traceback.print_exc()
        signal.alarm(0)
    print("---- %s: %.1fs%s" % (os.path.basename(sys.argv[0]), time.monotonic() - t_start,
                                ("; failed: " + ", ".join(failures)) if failures else ""))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
