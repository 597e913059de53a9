"""test_agent.py: the agent itself: agent.ping, agent.ops, the retained status and its Last Will,
clean shutdown, MQTT 3.1.1 clients (replyTo), fire-and-forget requests, the
command line and the system administrator bootstrap. Each test starts its own broker and agent."""

import re
import signal
import subprocess
import time

from helpers import (
    AGENT_ID, CMAGENT_BIN, PREFIX, SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Broker, Client, check,
    check_no_sanitizer_report, eid, expect, make_customer, make_tenant_admin, read_retained, run_tests, tail, unique, wait_status, wait_until)


def test_ping_anonymous():
    with Broker() as b, Agent(b.port):
        with Client(b.port) as c:
            r = c.request("agent.ping")
            d = expect(r, 200, context="agent.ping")
            check(isinstance(d.get("version"), str) and d["version"], "agent.ping: no version", r)
            check(isinstance(d.get("uptimeMs"), int) and d["uptimeMs"] >= 0, "agent.ping: bad uptimeMs", r)
            time.sleep(0.05)
            d2 = expect(c.request("agent.ping"), 200)
            check(d2["uptimeMs"] >= d["uptimeMs"], "uptimeMs went backwards", d, d2)
            # the envelope's correlationId and id are echoed in the body
            r = c.request("agent.ping", envelope_extra={"correlationId": "abc-1"})
            check(r.get("correlationId") == "abc-1", "correlationId not echoed", r)


def test_ops_lists_operations():
    with Broker() as b, Agent(b.port):
        with Client(b.port) as c:
            expect(c.request("agent.ops"), 401, 10, context="agent.ops without token")
            token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            d = expect(c.request("agent.ops", token=token), 200, context="agent.ops")
            ops = d.get("ops")
            check(isinstance(ops, list) and ops, "agent.ops: no ops", d)
            by_name = {}
            for o in ops:
                check(isinstance(o.get("name"), str) and o["name"], "op without name", o)
                check(isinstance(o.get("authorities"), list), "op without authorities", o)
                check(isinstance(o.get("summary"), str) and o["summary"].strip(), "op without summary", o)
                check(isinstance(o.get("idempotent"), bool), "op without idempotent flag", o)
                by_name[o["name"]] = o
            for name in ("agent.ping", "agent.ops", "auth.login", "auth.refresh", "auth.logout",
                         "auth.changePassword", "auth.activate", "auth.checkActivateToken", "apiKey.create",
                         "apiKey.list", "apiKey.delete", "tenant.create", "tenant.get", "tenant.update",
                         "tenant.delete", "tenant.list", "customer.create", "customer.update", "customer.patch",
                         "customer.get", "customer.shortInfo", "customer.title", "customer.list",
                         "customer.findByTitle", "customer.getByIds", "customer.delete", "customer.users",
                         "user.create", "user.update", "user.get", "user.delete", "user.list",
                         "user.activationLink", "user.setEnabled", "event.replay"):
                check(name in by_name, "agent.ops lacks %s" % name, sorted(by_name))
            check("TENANT_ADMIN" in by_name["customer.create"]["authorities"], "customer.create authorities",
                  by_name["customer.create"])
            check("SYS_ADMIN" not in by_name["customer.create"]["authorities"], "customer.create authorities",
                  by_name["customer.create"])
            check("SYS_ADMIN" in by_name["tenant.create"]["authorities"], "tenant.create authorities",
                  by_name["tenant.create"])
            check("CUSTOMER_USER" in by_name["customer.get"]["authorities"], "customer.get authorities",
                  by_name["customer.get"])
            # request ids (protocol 1.11): writes repeat their first reply; reads, secrets and batch do not
            for name in ("customer.create", "customer.delete", "device.assign", "dashboard.setCustomers",
                         "user.setEnabled", "apiKey.delete"):
                check(by_name[name]["idempotent"] is True, "%s should honour request ids" % name, by_name[name])
            for name in ("customer.get", "customer.list", "auth.login", "auth.resetPassword", "apiKey.create",
                         "batch", "user.sendActivationMail", "event.replay"):
                check(by_name[name]["idempotent"] is False, "%s should not store replies" % name, by_name[name])


def test_status_retained_online_then_offline_on_sigterm():
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            body, retain = read_retained(b.port, "%s/status/%s" % (PREFIX, AGENT_ID), timeout=5)
            check(isinstance(body, dict) and body.get("state") == "online", "status is not online", body)
            check(bool(retain), "status message is not retained (retain=%r)" % retain, body)
        finally:
            rc = a.stop(check=False)
        check(rc == 0, "SIGTERM: exit code %r, expected 0\n%s" % (rc, tail(a.log)))
        body, retain = read_retained(b.port, "%s/status/%s" % (PREFIX, AGENT_ID), timeout=5)
        check(isinstance(body, dict) and body.get("state") == "offline",
              "after SIGTERM the retained status is not offline", body)
        check(bool(retain), "offline status not retained", body)


def test_sigint_exits_zero():
    with Broker() as b:
        a = Agent(b.port).start()
        a.proc.send_signal(2)  # SIGINT
        try:
            rc = a.proc.wait(60)
        except subprocess.TimeoutExpired:
            a.kill()
            raise AssertionError("no exit within 60s of SIGINT\n" + tail(a.log))
        a.proc = None
        a.check_sanitizers()
        check(rc == 0, "SIGINT: exit code %r\n%s" % (rc, tail(a.log)))
        wait_status(b.port, "offline")


def test_kill9_last_will_and_restart_keeps_data():
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                ta = make_tenant_admin(c, sys_token)
                cu = make_customer(c, ta.token, title=unique("Durable"))
            a.kill()
            wait_status(b.port, "offline", timeout=15)
            a.start()
            wait_status(b.port, "online", timeout=15)
            with Client(b.port) as c:
                token = c.login(ta.email, ta.password)
                got = expect(c.request("customer.get", {"id": eid(cu["id"])}, token=token), 200)
                check(got["title"] == cu["title"], "customer changed across kill -9", cu, got)
        finally:
            a.__exit__(None, None, None)


def test_mqtt311_client_with_reply_to():
    with Broker() as b, Agent(b.port):
        with Client(b.port, mqtt_version=3) as c:
            d = expect(c.request("agent.ping"), 200, context="agent.ping over MQTT 3.1.1")
            check("version" in d, "no version", d)
            token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            ta = make_tenant_admin(c, token)
            cu = make_customer(c, ta.token, title=unique("V311"))
            r = c.request("customer.get", {"id": eid(cu["id"])}, token=ta.token)
            expect(r, 200)
            # errors come back the same way
            expect(c.request("customer.get", {"id": eid(cu["id"])}, token="nope"), 401, 10)


def test_fire_and_forget_write_still_happens():
    with Broker() as b, Agent(b.port):
        with Client(b.port) as c:
            sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            ta = make_tenant_admin(c, sys_token)
            # MQTT 5 without a Response Topic and without replyTo
            title5 = unique("FireAndForget5")
            c.send("customer.create", {"token": ta.token, "data": {"title": title5}})

            def found(title):
                r = c.request("customer.findByTitle", {"title": title}, token=ta.token)
                return r if r.get("status") == 200 else None
            r = wait_until(lambda: found(title5), timeout=10, what="fire-and-forget customer (MQTT 5)")
            check(r["data"]["title"] == title5, "wrong customer", r)
        # MQTT 3.1.1 without replyTo
        with Client(b.port, mqtt_version=3) as c3:
            title3 = unique("FireAndForget3")
            c3.send("customer.create", {"token": ta.token, "data": {"title": title3}})
        with Client(b.port) as c:
            r = wait_until(lambda: found(title3), timeout=10, what="fire-and-forget customer (MQTT 3.1.1)")
            check(r["data"]["title"] == title3, "wrong customer", r)
            # no reply was published anywhere for those: a listener on the reply space saw nothing
            lst = c.request("customer.list", {"pageSize": 100, "page": 0, "textSearch": "FireAndForget"},
                            token=ta.token)
            check(expect(lst, 200)["totalElements"] == 2, "expected exactly two fire-and-forget customers", lst)


def test_command_line():
    r = subprocess.run([CMAGENT_BIN, "--version"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--version exit code %d: %s %s" % (r.returncode, r.stdout, r.stderr))
    check(re.search(r"\d+\.\d+", r.stdout + r.stderr), "--version prints no version: %r" % (r.stdout + r.stderr))
    r = subprocess.run([CMAGENT_BIN, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "--help exit code %d" % r.returncode)
    check("-c" in r.stdout + r.stderr, "--help does not mention -c: %r" % (r.stdout + r.stderr))


def test_bad_config_names_the_line():
    with Broker() as b:
        a = Agent(b.port, extra={"no_such_key": "1"})
        a.write_config()
        r = subprocess.run([CMAGENT_BIN, "-c", a.conf], capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "an unknown key did not stop the start")
        check_no_sanitizer_report(r.stderr, "cmagent with an unknown key")
        check("no_such_key" in r.stderr + r.stdout, "the error does not name the key: %r" % r.stderr)
        a = Agent(b.port, extra={"max_payload": "12"})
        a.write_config()
        r = subprocess.run([CMAGENT_BIN, "-c", a.conf], capture_output=True, text=True, timeout=30)
        check(r.returncode != 0, "a bad value did not stop the start")
        check_no_sanitizer_report(r.stderr, "cmagent with a bad value")
        check("max_payload" in r.stderr + r.stdout, "the error does not name the key: %r" % r.stderr)


def test_bootstrap_generates_password_when_empty():
    with Broker() as b:
        email = "generated-admin@test.local"
        a = Agent(b.port, sysadmin_email=email, sysadmin_password=None,
                  env={"CMAGENT_SYSADMIN_PASSWORD": "", "CMAGENT_SYSADMIN_EMAIL": ""}).start()
        try:
            log = a.log_text()
            m = re.search(r"System administrator created: (\S+) password (\S+)", log)
            check(m is not None, "no 'System administrator created' line in the log:\n" + tail(a.log))
            check(m.group(1) == email, "bootstrap line names %r, expected %r" % (m.group(1), email))
            with Client(b.port) as c:
                token = c.login(email, m.group(2))
                check(token, "generated password does not log in")
                expect(c.request("auth.login", {"email": email, "password": "wrong-password"}), 401)
            # generated once: a restart on the same database creates no new administrator
            a.restart()
            n = len(re.findall(r"System administrator created", a.log_text()))
            check(n == 1, "the administrator was created %d times across a restart" % n)
            with Client(b.port) as c:
                c.login(email, m.group(2))
        finally:
            a.__exit__(None, None, None)


def test_bootstrap_from_environment():
    with Broker() as b:
        env = {"CMAGENT_SYSADMIN_EMAIL": "env-admin@test.local", "CMAGENT_SYSADMIN_PASSWORD": "env-secret-42"}
        with Agent(b.port, env=env):
            with Client(b.port) as c:
                c.login("env-admin@test.local", "env-secret-42")
                expect(c.request("auth.login", {"email": SYSADMIN_EMAIL, "password": SYSADMIN_PASSWORD}), 401)


def test_restart_does_not_recreate_sysadmin():
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            a.stop()
            # a different configured password does not change the existing administrator
            a.settings["sysadmin_password"] = "another-password-9"
            a.start()
            with Client(b.port) as c:
                c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                expect(c.request("auth.login", {"email": SYSADMIN_EMAIL, "password": "another-password-9"}), 401)
        finally:
            a.__exit__(None, None, None)


def test_fatal_signal_writes_a_backtrace():
    """A crash leaves more than "Aborted": the signal and the frames of the thread go to the log
    (stderr), and the process still dies of that signal (exit status, core dump). SIGABRT is what
    glibc's heap checks raise, in both builds (AddressSanitizer reports the other signals itself)."""
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            a.proc.send_signal(signal.SIGABRT)
            rc = a.proc.wait(15)
            a.exit_codes.append(rc)
            a.proc = None
            check(rc == -signal.SIGABRT, "exit status %r after SIGABRT, expected %r" % (rc, -signal.SIGABRT))
            text = a.log_text()
            check("cmagent: fatal SIGABRT" in text and "backtrace of the thread" in text,
                  "no crash report in the log", tail(a.log))
            check(re.search(r"\(\S*\+0x[0-9a-f]+\)\s*\[0x[0-9a-f]+\]", text), "the report lists no frame",
                  tail(a.log))
        finally:
            a.__exit__(None, None, None)

def test_sigterm_under_load_loses_no_acknowledged_write():
    """SIGTERM during a burst of QoS 1 writes: every write answered 200 is durable, and the ones not
    yet taken are delivered again after the restart (the agent's session outlives it), each once."""
    with Broker() as b:
        a = Agent(b.port).start()
        try:
            with Client(b.port) as c:
                sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
                ta = make_tenant_admin(c, sys_token)
                titles = ["Burst-%03d" % i for i in range(60)]
                corrs = [c.begin("customer.create", {"title": t}, token=ta.token, id="burst-" + t) for t in titles]
                a.proc.send_signal(15)
                rc = a.proc.wait(60)
                a.proc = None
                check(rc == 0, "exit code %r after SIGTERM under load\n%s" % (rc, tail(a.log)))
                time.sleep(0.3)
                answered = {}
                for t, corr in zip(titles, corrs):
                    if c.has_reply(corr):
                        answered[t] = c.result(corr, timeout=1)
                for t, r in answered.items():
                    expect(r, 200, context="reply before shutdown for %s" % t)
                a.start()
                token = c.login(ta.email, ta.password)

                def all_there():
                    lst = c.request("customer.list", {"pageSize": 1000, "page": 0, "textSearch": "Burst-"},
                                    token=token)
                    got = sorted(x["title"] for x in expect(lst, 200)["data"])
                    return got if len(got) >= len(titles) else None
                got = wait_until(all_there, timeout=20, interval=0.3, what="all burst customers after restart")
                check(got == titles, "burst customers after restart differ (lost or duplicated)", got)
        finally:
            a.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests(globals())
