"""test_connection.py: the agent's MQTT connection against a real mosquitto: two agents with one
agent_id (one stops with exit 4 and a message naming the other instance, the other keeps
answering, no reconnect loop), a retained status left by a dead agent (not mistaken for a live
one), two client ids with one agent_id, CONNACK refusals logged with their reason code and words,
and a reply larger than the broker's Maximum Packet Size answered 413 instead of being dropped."""

import json
import re
import subprocess
import time

from helpers import (
    AGENT_ID, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, MqttSession, check, expect, read_retained,
    run_tests, tail, wait_status, wait_until)

EXIT_TAKEN_OVER = 4
LOST_RE = re.compile(r"Connection to \S+ lost")


def status_body(port, topic):
    body, _ = read_retained(port, topic, timeout=3)
    return body if isinstance(body, dict) else {}


def pings_answered(port, n=5, gap=0.5, mqtt_version=5):
    with Client(port, mqtt_version=mqtt_version) as c:
        for _ in range(n):
            expect(c.request("agent.ping", timeout=15), 200, context="agent.ping of the agent that kept the id")
            time.sleep(gap)


def finish(a, exc=None):
    a.__exit__(type(exc) if exc else None, exc, None)


def one_stops(b, first, second, expected, mqtt_version=5):
    """Waits until one of the two (started) agents exits; checks it exited 4 with expected in its
    error line, the other keeps answering and the retained status names the survivor. Returns
    (survivor, stopped)."""
    deadline = time.monotonic() + 60
    while first.running() and second.running():
        check(time.monotonic() < deadline, "both agents still run after 60 s",
              tail(first.log, 40) + "\n----\n" + tail(second.log, 40))
        time.sleep(0.1)
    stopped, survivor = (first, second) if not first.running() else (second, first)
    stopped.proc.wait(30)
    rc = stopped.stop(check=False)
    text = stopped.log_text()
    check(rc == EXIT_TAKEN_OVER, "exit code %r, expected %d" % (rc, EXIT_TAKEN_OVER), tail(stopped.log))
    m = re.search(r"error: (.*%s.*)" % re.escape(expected), text)
    check(m, "no %r line in the stopped agent's log" % expected, tail(stopped.log))
    line = m.group(1)
    check("agent_id %s" % AGENT_ID in line, "the line does not name the agent_id", line)
    other = re.search(r"\(instance (\S+), this one is (\S+)\)", line)
    check(other, "the line does not name both instances", line)
    pings_answered(b.port, mqtt_version=mqtt_version)
    check(survivor.running(), "the agent that kept the client id stopped", tail(survivor.log))
    st = status_body(b.port, survivor.status_topic)
    check(st.get("state") == "online" and st.get("instance") == other.group(1),
          "the retained status is not the survivor's (%s)" % other.group(1), st)
    lost = len(LOST_RE.findall(text)) + len(LOST_RE.findall(survivor.log_text()))
    check(lost <= 6, "%d connection losses: the agents took the client id from each other in a loop" % lost,
          tail(stopped.log, 40) + "\n----\n" + tail(survivor.log, 40))
    return survivor, stopped


def with_second_agent(first, start_second, body):
    """Starts the second agent (start_second()) beside the running first, runs body(second), and
    stops both, with the exception, if any, handed to each."""
    second = None
    try:
        second = start_second()
        body(second)
    except BaseException as e:
        finish(first, e)
        if second is not None:
            finish(second, e)
        raise
    finish(first)
    finish(second)


def two_agents_one_agent_id(mqtt_version):
    with Broker() as b:
        settings = {"mqtt_version": str(mqtt_version)}
        first = Agent(b.port, extra=settings).start(wait=mqtt_version == 5)

        def start_second():
            if mqtt_version != 5:  # Agent.wait_ready asks with MQTT 5 Response Topics
                wait_status(b.port, "online")
                pings_answered(b.port, n=1, mqtt_version=mqtt_version)
            return Agent(b.port, extra=settings).start(wait=False)

        def body(second):
            survivor, _ = one_stops(b, first, second, "took over the client id", mqtt_version)
            # the newer agent keeps the client id; the older one read its status when it reconnected
            check(survivor is second, "the agent that connected first kept the client id", tail(first.log))
            check("left over from an agent that ended without its Last Will" in second.log_text(),
                  "the newer agent did not log the other instance it found", tail(second.log))

        with_second_agent(first, start_second, body)


def test_two_agents_one_agent_id():
    two_agents_one_agent_id(5)


def test_two_agents_one_agent_id_mqtt_3():
    two_agents_one_agent_id(3)


def test_two_client_ids_one_agent_id():
    with Broker() as b:
        first = Agent(b.port, extra={"client_id": "cm-first"}).start()
        with_second_agent(first, lambda: Agent(b.port, extra={"client_id": "cm-second"}).start(wait=False),
                          lambda second: one_stops(b, first, second, "announced itself online"))


def test_status_left_by_a_dead_agent_is_not_a_live_one():
    with Broker() as b:
        with MqttSession(b.port) as s:
            s.publish("cm/v1/status/%s" % AGENT_ID,
                      json.dumps({"state": "online", "agentId": AGENT_ID, "instance": "0190-dead-instance"}),
                      retain=True)
        with Agent(b.port) as a:
            pings_answered(b.port, n=4)
            check(a.running(), "the agent stopped on a status left over", tail(a.log))
            check("named instance 0190-dead-instance online" in a.log_text(), "the left-over status was not logged",
                  tail(a.log))
            st = status_body(b.port, a.status_topic)
            check(st.get("state") == "online" and st.get("instance") not in (None, "0190-dead-instance"),
                  "the agent did not announce its own instance", st)
        # a restart after kill -9: the broker's Last Will (offline) or our own status is found
        a = Agent(b.port).start()
        a.kill()
        with Agent(b.port) as again:
            pings_answered(b.port, n=2)
            check(again.running(), "the restarted agent stopped", tail(again.log))


def refused(b, settings, expected):
    a = Agent(b.port, extra=settings).start(wait=False)
    try:
        wait_until(lambda: expected in a.log_text(), timeout=30, what="%r in the agent's log" % expected)
        check(a.running(), "the agent stopped on a CONNACK refusal (it retries)", tail(a.log))
    except BaseException as e:
        finish(a, e)
        raise
    finish(a)


def test_connack_refusals_name_the_reason_code():
    with Broker(extra_lines=["allow_anonymous false"]) as b:
        refused(b, {"username": "cmagent", "password": "wrong"}, "CONNACK 0x87 Not authorized")
        refused(b, {"username": "cmagent", "password": "wrong", "mqtt_version": "3"},
                "CONNACK return code 5 not authorized")


def test_reply_over_the_broker_maximum_packet_size_is_413():
    with Broker(extra_lines=["max_packet_size 4096"]) as b, Agent(b.port) as a:
        with Client(b.port) as c:
            token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            r = c.request("agent.ops", token=token, timeout=15)
            expect(r, 413, contains=["Maximum Packet Size of 4096 bytes"], context="agent.ops over 4096 bytes")
            expect(c.request("agent.ping"), 200, context="agent.ping after the refused reply")
        check("Maximum Packet Size is 4096" in a.log_text(), "the broker's limit was not logged", tail(a.log))
        check(not LOST_RE.search(a.log_text()), "the agent lost its connection", tail(a.log))


if __name__ == "__main__":
    run_tests(globals())
