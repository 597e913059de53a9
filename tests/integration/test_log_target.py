"""test_log_target.py: log_target. stderr (the default) writes timestamped lines; syslog sends RFC 3164
datagrams (facility daemon, tag cmagent[pid]) to syslog_socket, here a Unix datagram socket the test
binds, and nothing to stderr; when that socket is gone the lines fall back to stderr; journald writes
stderr lines with the "<N>" priority prefix systemd's journal reads. A bad value is refused."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading

from helpers import CMAGENT_BIN, Agent, Broker, Client, check, run_tests, wait_until


def stopped_log(a):
    """The agent's whole log once it stopped cleanly (the directory goes when the with ends)."""
    a.stop()
    return a.log_text()


def test_stderr_is_the_default():
    with Broker() as b, Agent(b.port) as a:
        text = stopped_log(a)
    check(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z cmagent info: cmagent \S+ serving ", text, re.M),
          "a timestamped line per message on stderr", text[-2000:])


def test_syslog_datagrams_to_the_socket():
    d = tempfile.mkdtemp(prefix="cmagent-syslog-")
    path = os.path.join(d, "log")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    got = []
    done = threading.Event()

    def drain():  # a syslog daemon that keeps up
        while not done.is_set():
            try:
                got.append(s.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    try:
        with Broker() as b:
            with Agent(b.port, extra={"log_target": "syslog", "syslog_socket": path}, log_level="debug") as a:
                with Client(b.port) as c:
                    c.request("no.such.op", {})
                wait_until(lambda: any("no.such.op -> 400" in g for g in list(got)), timeout=20,
                           what="the request's debug line on the socket")
                pid = a.proc.pid
                text = stopped_log(a)
        wait_until(lambda: any(g.endswith("Stopped.") for g in list(got)), timeout=10, what="the last line")
        serving = [g for g in got if " serving " in g]
        check(serving, "the start line went to the socket", got[:5])
        # <30>: facility daemon (3) * 8 + severity info (6); the local time as syslog(3) writes it
        check(re.match(r"^<30>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d cmagent\[%d\]: cmagent \S+ serving " % pid,
                       serving[0]), "an RFC 3164 line", serving[0])
        debug = [g for g in got if "no.such.op -> 400" in g]
        check(debug[0].startswith("<31>"), "debug is severity 7", debug[0])
        check(any(g.startswith("<30>") and g.endswith("Stopped.") for g in got), "the last line too", got[-3:])
        check(" serving " not in text and "Stopped." not in text, "nothing on stderr", text[-2000:])
    finally:
        done.set()
        reader.join(5)
        s.close()
        shutil.rmtree(d, ignore_errors=True)


def test_syslog_falls_back_to_stderr_without_a_socket():
    d = tempfile.mkdtemp(prefix="cmagent-syslog-")
    try:
        with Broker() as b, Agent(b.port, extra={"log_target": "syslog",
                                                  "syslog_socket": os.path.join(d, "absent")}) as a:
            text = stopped_log(a)
        check(re.search(r"Z cmagent info: cmagent \S+ serving ", text), "stderr when syslog is unreachable",
              text[-2000:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_journald_priority_prefixes():
    with Broker() as b, Agent(b.port, extra={"log_target": "journald"}) as a:
        with Client(b.port) as c:
            c.request("no.such.op", {})
            wait_until(lambda: "no.such.op -> 400" in a.log_text(), timeout=20, what="the debug line")
        text = stopped_log(a)
    check(re.search(r"^<6>cmagent \S+ serving ", text, re.M), "info lines start <6>, no timestamp", text[-2000:])
    check(re.search(r"^<7>no\.such\.op -> 400$", text, re.M), "debug lines start <7>", text[-2000:])
    check(re.search(r"^<6>Stopped\.$", text, re.M), "the last line", text[-500:])


def test_a_bad_target_is_refused():
    d = tempfile.mkdtemp(prefix="cmagent-log-")
    try:
        conf = os.path.join(d, "c.conf")
        with open(conf, "w") as f:
            f.write("database %s/db\nlog_target file\n" % d)
        p = subprocess.run([CMAGENT_BIN, "-c", conf], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "log_target" in p.stderr and "stderr, syslog or journald" in p.stderr,
              "exit 2 naming the setting", p.returncode, p.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
