"""test_tls.py: the agent over TLS (ssl:// brokers) against a real mosquitto with TLS listeners and
certificates made at test time with openssl (tls_helpers.py): connect and agent.ping, the server
certificate verified (a wrong CA, an expired certificate, a host name mismatch are refused at start
with exit 3 and a message naming the cause), mutual TLS (a listener that requires a client
certificate), the key file's password, and a TLS failure on a reconnect (logged, retried, not
fatal). Test clients use the broker's plain listener."""

import os
import subprocess
import time

from helpers import Agent, Client, check, expect, run_tests, tail, wait_until
from tls_helpers import Pki, TlsBroker

EXIT_TLS = 3
EXIT_WITHIN = 60.0  # seconds for an agent refused at start to exit (ASan builds on a loaded machine)

PKI = None


def pki():
    global PKI
    if PKI is None:
        PKI = Pki()
    return PKI


def tls_settings(uri, cafile="ca.crt", **extra):
    s = {"broker": uri}
    if cafile is not None:
        s["cafile"] = pki().path(cafile)
    s.update(extra)
    return s


def ping_ok(port, agent):
    with Client(port) as c:
        expect(c.request("agent.ping", timeout=15), 200, context="agent.ping over the agent's TLS connection")
    check("Connected to %s" % agent.settings["broker"] in agent.log_text(),
          "the agent did not log its TLS connect", tail(agent.log))


def refused_at_start(b, settings, *expected):
    """Starts an agent with settings, which must exit 3 within EXIT_WITHIN seconds with every
    string of expected in its error line; returns that line."""
    a = Agent(b.port, extra=settings).start(wait=False)
    try:
        try:
            a.proc.wait(EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError("the agent did not stop within %ss:\n%s" % (EXIT_WITHIN, tail(a.log)))
        rc = a.stop(check=False)
        check(rc == EXIT_TLS, "exit code %r, expected %d" % (rc, EXIT_TLS), tail(a.log))
        lines = [l for l in a.log_text().splitlines() if "over TLS" in l and " error: " in l]
        check(lines, "no error line about TLS", tail(a.log))
        for e in expected:
            check(e in lines[0], "the error line does not say %r" % e, lines[0])
    except BaseException as e:
        a.__exit__(type(e), e, None)
        raise
    a.__exit__(None, None, None)
    return lines[0]


def test_connect_and_ping_over_ssl():
    with TlsBroker(pki(), {"tls": ("server", False)}) as b:
        # the certificate names 127.0.0.1 (an IP address) and localhost (a DNS name): both check
        for host in ("127.0.0.1", "localhost"):
            with Agent(b.port, extra=tls_settings(b.uri("tls", host))) as a:
                ping_ok(b.port, a)


def test_plain_tcp_unchanged_and_tls_settings_flagged():
    with TlsBroker(pki(), {"tls": ("server", False)}) as b:
        with Agent(b.port, extra=tls_settings("tcp://127.0.0.1:%d" % b.port)) as a:
            ping_ok(b.port, a)
            check("they are not used and the connection is not encrypted" in a.log_text(),
                  "TLS settings on a tcp:// broker were not flagged", tail(a.log))


def test_wrong_ca_refused_with_the_reason():
    with TlsBroker(pki(), {"tls": ("server", False)}) as b:
        other = pki().path("other-ca.crt")
        refused_at_start(b, tls_settings(b.uri("tls"), cafile="other-ca.crt"),
                         "certificate verify failed", "cmagent test CA", "not in cafile %s" % other)


def test_system_store_does_not_trust_a_private_ca():
    with TlsBroker(pki(), {"tls": ("server", False)}) as b:
        refused_at_start(b, tls_settings(b.uri("tls"), cafile=None), "certificate verify failed",
                         "the system's trust store")


def test_wrong_host_name_refused():
    with TlsBroker(pki(), {"tls": ("wrongname", False)}) as b:
        refused_at_start(b, tls_settings(b.uri("tls")), "host name mismatch", "elsewhere.example",
                         "not for 127.0.0.1")


def test_expired_certificate_refused():
    with TlsBroker(pki(), {"tls": ("expired", False)}) as b:
        refused_at_start(b, tls_settings(b.uri("tls")), "certificate verify failed: certificate has expired")


def test_mutual_tls():
    p = pki()
    with TlsBroker(p, {"mtls": ("server", True)}) as b:
        client = {"certfile": p.path("client.crt"), "keyfile": p.path("client.key")}
        with Agent(b.port, extra=tls_settings(b.uri("mtls"), keyfile_password=Pki.CLIENT_KEY_PASSWORD,
                                              **client)) as a:
            ping_ok(b.port, a)
        refused_at_start(b, tls_settings(b.uri("mtls")), "certificate required", "set certfile and keyfile")
        refused_at_start(b, tls_settings(b.uri("mtls"), **client), "is encrypted: set keyfile_password")
        refused_at_start(b, tls_settings(b.uri("mtls"), keyfile_password="not-the-password", **client),
                         "cannot be decrypted with keyfile_password")
        missing = os.path.join(p.dir, "no-such.key")
        refused_at_start(b, tls_settings(b.uri("mtls"), certfile=p.path("client.crt"), keyfile=missing),
                         "keyfile %s cannot be read: No such file or directory" % missing)
        refused_at_start(b, tls_settings(b.uri("mtls"), certfile=p.path("client.crt"), keyfile=p.path("server.key")),
                         "does not belong to certfile")


def test_plain_port_named_as_not_tls():
    with TlsBroker(pki(), {"tls": ("server", False)}) as b:
        refused_at_start(b, tls_settings("ssl://127.0.0.1:%d" % b.port), "is this port a TLS listener?")


def test_tls_failure_on_reconnect_is_retried():
    """Connected once, the agent keeps retrying through a broker certificate it refuses, says why,
    and is back when the broker has a good certificate again."""
    p = pki()
    b = TlsBroker(p, {"tls": ("server", False)}).start()
    ports = (b.port, dict(b.tls_port))
    try:
        with Agent(b.port, extra=tls_settings(b.uri("tls"))) as a:
            b.__exit__(None, None, None)
            b = TlsBroker(p, {"tls": ("expired", False)}, port=ports[0], tls_ports=ports[1]).start()
            wait_until(lambda: "failed over TLS: certificate verify failed: certificate has expired" in a.log_text(),
                       timeout=60, what="the reconnect's TLS reason in the log")
            check(a.running(), "the agent stopped on a TLS failure after it had been connected", tail(a.log))
            b.__exit__(None, None, None)
            b = TlsBroker(p, {"tls": ("server", False)}, port=ports[0], tls_ports=ports[1]).start()
            deadline = time.monotonic() + 60
            while True:
                try:
                    with Client(b.port) as c:
                        if c.request("agent.ping", timeout=3).get("status") == 200:
                            break
                except (AssertionError, RuntimeError):
                    pass
                check(time.monotonic() < deadline, "the agent is not back after the good certificate returned",
                      tail(a.log))
    finally:
        b.__exit__(None, None, None)


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        if PKI is not None:
            PKI.close()
