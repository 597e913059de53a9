"""test_shared_agents.py: several agents behind one `$share/<share_group>/...` subscription, on one
database (here one SQLite file on one machine). Requests are spread over the members; a member
killed with kill -9 takes no share of the requests with it: its session ends with its connection,
so the broker hands everything to the members that are left (with a persistent session mosquitto
kept routing half the requests to the dead member's session, delivered only when it came back);
a write resent with the same envelope id after its agent died is applied once. Bounded: two agents,
a few hundred requests, on 127.0.0.1."""

import time

from helpers import (SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, check, expect, make_tenant_admin,
                     run_tests, tail, unique)

GROUP = "cmtest"


def start_pair(broker, mqtt_version=5):
    first = Agent(broker.port, agent_id="cm-a", extra={"share_group": GROUP, "mqtt_version": mqtt_version})
    first.start()
    second = Agent(broker.port, agent_id="cm-b",
                   extra={"share_group": GROUP, "mqtt_version": mqtt_version, "database": first.db})
    second.start()
    return first, second


def served(agent, op):
    return agent.log_text().count("%s -> " % op)


def answered(c, n, timeout, op="agent.ping", status=200):
    """How many of n requests sent at once are answered within timeout seconds (for all of them)."""
    corrs = [c.begin(op) for _ in range(n)]
    deadline = time.monotonic() + timeout
    got = 0
    for corr in corrs:
        try:
            expect(c.result(corr, timeout=max(0.1, deadline - time.monotonic())), status)
            got += 1
        except AssertionError:
            pass
    return got


def test_requests_are_spread_over_the_members():
    with Broker() as b:
        first, second = start_pair(b)
        try:
            with Client(b.port) as c:
                check(answered(c, 60, 10) == 60, "not every ping was answered by the pair")
            check(served(first, "agent.ping") > 0 and served(second, "agent.ping") > 0,
                  "one member served everything: %d / %d" % (served(first, "agent.ping"), served(second, "agent.ping")))
            check("the broker session ends with the connection" in first.log_text(),
                  "the member does not say which session it uses")
        finally:
            second.__exit__(None, None, None)
            first.__exit__(None, None, None)


def check_survivor_serves_everything(mqtt_version):
    with Broker() as b:
        first, second = start_pair(b, mqtt_version)
        try:
            second.kill()
            time.sleep(0.5)  # the broker has seen the connection drop
            # agent.ops without a token (401): an operation nothing else here sends
            with Client(b.port, mqtt_version=mqtt_version) as c:
                got = answered(c, 40, 5, op="agent.ops", status=401)
                check(got == 40, "MQTT %s: %d of 40 requests answered with one member of two killed (a persistent "
                      "session keeps a share for the dead member)" % (mqtt_version, got))
            # back with the same client id, it finds no requests of the past waiting in a session
            before = served(second, "agent.ops")
            second.start()
            time.sleep(0.5)
            check(served(second, "agent.ops") == before, "the restarted member answered requests sent while it was "
                  "away", tail(second.log))
        finally:
            second.__exit__(None, None, None)
            first.__exit__(None, None, None)


def test_a_killed_member_takes_no_requests_with_it_mqtt5():
    check_survivor_serves_everything(5)


def test_a_killed_member_takes_no_requests_with_it_mqtt311():
    check_survivor_serves_everything(3)


def test_a_resent_write_is_applied_once_across_members():
    with Broker() as b:
        first, second = start_pair(b)
        try:
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                ta = make_tenant_admin(c, sys_token)
                title = unique("Shared")
                envelope_id = unique("create")
                made = expect(c.request("customer.create", {"title": title}, token=ta.token, id=envelope_id), 200)
                # the agent that applied it dies; the client, unsure, sends the same envelope again
                answered_by = first if served(first, "customer.create") > 0 else second
                answered_by.kill()
                time.sleep(0.5)
                again = expect(c.request("customer.create", {"title": title}, token=ta.token, id=envelope_id), 200)
                check(again["id"] == made["id"], "the resend made another customer", made, again)
                page = expect(c.request("customer.list", {"pageSize": 10, "page": 0, "textSearch": title},
                                        token=ta.token), 200)
                check(page["totalElements"] == 1, "%d customers for one envelope id" % page["totalElements"], page)
        finally:
            second.__exit__(None, None, None)
            first.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests(globals())
