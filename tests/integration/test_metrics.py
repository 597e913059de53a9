"""test_metrics.py: the operator's figures. An agent with metrics_listen and stats_interval set is
scraped over HTTP after requests of known outcome: the per-operation counts, the error counts by
status and the latency histograms match them, `promtool check metrics` accepts the scrape, the
retained stats topic and agent.stats carry the same figures and nothing of a tenant. Without the
settings nothing listens and nothing is published; an address off loopback is refused at start."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from helpers import (AGENT_ID, CMAGENT_BIN, HOST, PREFIX, Agent, Broker, Env, check, eid, free_port,
                     make_tenant_admin, read_retained, run_tests, wait_until)

METRICS_PORT = free_port()
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
LABEL_RE = re.compile(r'(\w+)="([^"]*)"')


def scrape(path="/metrics", method="GET"):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, METRICS_PORT, path), method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")


def samples(text):
    """{(name, frozenset(labels)): value} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())), 0.0)


class MetricsEnv(Env):
    def __init__(self):
        super().__init__(agent_extra={"metrics_listen": "%s:%d" % (HOST, METRICS_PORT), "stats_interval": "1"})


def test_counts_errors_and_histograms_after_requests(env):
    c = env.c
    for _ in range(3):
        c.ok("tenant.list", {"pageSize": 10, "page": 0}, token=env.sys_token)
    for _ in range(2):
        r = c.request("tenant.get", {"id": "not-a-uuid"}, token=env.sys_token)
        check(r["status"] == 400, "a malformed id is a 400", r)
    r = c.request("customer.list", {"pageSize": 10, "page": 0}, token=env.sys_token)
    check(r["status"] == 403, "the system administrator lists no customers", r)
    r = c.request("tenant.list", {"pageSize": 10, "page": 0}, token="not-a-token")
    check(r["status"] == 401, "a bad token is a 401", r)
    for op in ("no.such.op", "nope"):
        r = c.request(op, {})
        check(r["status"] == 400, "an unknown operation is a 400", r)

    status, ctype, text = scrape()
    check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "the text format", status, ctype)
    s = samples(text)
    check(value(s, "cmagent_requests_total", op="tenant.list") == 4, "4 tenant.list replies", text[:3000])
    check(value(s, "cmagent_request_errors_total", op="tenant.list", status="401") == 1, "1 of them a 401")
    check(value(s, "cmagent_requests_total", op="tenant.get") == 2, "2 tenant.get replies")
    check(value(s, "cmagent_request_errors_total", op="tenant.get", status="400") == 2, "both 400")
    check(value(s, "cmagent_request_errors_total", op="customer.list", status="403") == 1, "a 403")
    check(value(s, "cmagent_requests_total", op="unknown") == 2,
          "operations not in the table share one series, whatever their names")
    check("no.such.op" not in text and "nope" not in text, "a client's topic never becomes a label")
    check(value(s, "cmagent_requests_total", op="auth.login") >= 1, "the environment's login is counted")

    # the histogram of tenant.list: cumulative buckets ending in +Inf == _count == requests
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
    counts = [value(s, "cmagent_request_duration_seconds_bucket", op="tenant.list", le=b) for b in bounds]
    check(counts == sorted(counts), "buckets are cumulative", counts)
    check(counts[-1] == 4 and value(s, "cmagent_request_duration_seconds_count", op="tenant.list") == 4,
          "+Inf and _count are the replies", counts)
    total = value(s, "cmagent_request_duration_seconds_sum", op="tenant.list")
    check(0 < total < 4 * 10, "the sum is the time taken, in seconds", total)

    check(value(s, "cmagent_broker_connected") == 1, "connected")
    check(("cmagent_queue_depth", frozenset()) in s, "the queue depth is there")
    check(("cmagent_events_unacknowledged", frozenset()) in s, "events not yet acknowledged are there")
    check(value(s, "cmagent_group_commit_size_count") >= 1, "group commits are there")
    check(value(s, "cmagent_group_commit_size_bucket", le="+Inf") == value(s, "cmagent_group_commit_size_count"),
          "the group commit histogram ends in its count")

    # promtool, the Prometheus project's own checker and linter, accepts the scrape
    promtool = shutil.which("promtool")
    check(promtool is not None, "promtool is not installed (scripts/deps installs Debian's prometheus)")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stdout.strip() == "" and p.stderr.strip() == "",
          "promtool check metrics: exit %d\n%s\n%s" % (p.returncode, p.stdout, p.stderr))


def test_events_are_counted_until_acknowledged(env):
    before = value(samples(scrape()[2]), "cmagent_events_published_total")
    ta = make_tenant_admin(env.c, env.sys_token)
    for i in range(3):
        env.c.ok("customer.create", {"title": "Metrics %d %s" % (i, ta.tenant_id)}, token=ta.token)
    # tenant.create, user.create, auth.activate and the 3 customers: 6 events, published right
    # after the replies; with QoS 1 the broker acknowledges them at once, so the gauge returns to 0
    wait_until(lambda: value(samples(scrape()[2]), "cmagent_events_published_total") >= before + 6, timeout=20,
               what="the 6 events to be counted")
    wait_until(lambda: value(samples(scrape()[2]), "cmagent_events_unacknowledged") == 0, timeout=20,
               what="the broker to acknowledge every event")
    s = samples(scrape()[2])
    check(value(s, "cmagent_requests_total", op="customer.create") == 3, "3 customer.create")


def test_other_paths_and_methods(env):
    for path in ("/", "/metrics/", "/metricsx"):
        try:
            scrape(path)
            raise AssertionError("%s answered 200" % path)
        except urllib.error.HTTPError as e:
            check(e.code == 404, "%s: 404" % path, e.code)
    try:
        scrape(method="POST")
        raise AssertionError("POST answered 200")
    except urllib.error.HTTPError as e:
        check(e.code == 405, "POST: 405", e.code)
    status, _, body = scrape(method="HEAD")
    check(status == 200 and body == "", "HEAD answers the headers", status)


def test_stats_topic_and_agent_stats_carry_the_same_figures(env):
    ta = make_tenant_admin(env.c, env.sys_token)
    cu = env.c.ok("customer.create", {"title": "Stats topic customer"}, token=ta.token)
    topic = "%s/stats/%s" % (PREFIX, AGENT_ID)

    def fresh(body):
        ops = {o["op"]: o for o in body.get("operations", [])} if isinstance(body, dict) else {}
        return "customer.create" in ops and ops["customer.create"]["requests"] >= 1

    body, _ = read_retained(env.port, topic, timeout=15, pred=fresh)
    check(body is not None, "the stats topic is updated every stats_interval", body)
    last, retained = read_retained(env.port, topic, timeout=5)
    check(last is not None and retained and last["timestamp"] >= body["timestamp"], "and retained", last)
    check(body["agentId"] == AGENT_ID and isinstance(body["timestamp"], (int, float)), "who and when", body)
    ops = {o["op"]: o for o in body["operations"]}
    tl = ops["tenant.list"]
    check(tl["requests"] >= 4 and tl["errors"].get("401", 0) >= 1 and tl["latencyCount"] == tl["requests"],
          "per operation: requests, errors by status, latency", tl)
    check([b["le"] for b in tl["latencyBuckets"]] == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          "the Prometheus default buckets", tl)
    check(body["brokerConnected"] is True and "queueDepth" in body and "eventsUnacknowledged" in body and
          body["eventsPublished"] >= 1, "gauges", body)
    text = json.dumps(body)
    for secret in (ta.tenant_id, eid(cu["id"]), ta.email, "Stats topic customer"):
        check(secret not in text, "nothing tenant-specific on the stats topic: %s" % secret)

    d = env.c.ok("agent.stats", token=env.sys_token)
    ops = {o["op"]: o for o in d["operations"]}
    check(ops["tenant.list"]["requests"] >= tl["requests"] and ops["tenant.list"]["errors"]["401"] >= 1,
          "agent.stats has the same figures", d)
    for k in ("transactions", "requests", "batchSizes", "queueDepth", "eventsUnacknowledged", "brokerConnected"):
        check(k in d, "agent.stats keeps %s" % k, d)
    r = env.c.request("agent.stats", token=ta.token)
    check(r["status"] == 403, "agent.stats is the system administrator's", r)


def test_off_by_default(env):
    with Broker() as b, Agent(b.port) as a:
        log = open(a.log).read()
        check("Metrics at" not in log, "no endpoint without metrics_listen", log[-2000:])
        body, _ = read_retained(b.port, "%s/stats/%s" % (PREFIX, AGENT_ID), timeout=2.5)
        check(body is None, "nothing on the stats topic without stats_interval", body)


def test_an_address_off_loopback_is_refused(env):
    d = tempfile.mkdtemp(prefix="cmagent-metrics-")
    try:
        for listen, why in (("0.0.0.0:9464", "loopback"), ("192.0.2.1:9464", "loopback"),
                            ("127.0.0.1", "host:port"), ("127.0.0.1:0", "1..65535"), ("example.org:9464", "IP")):
            conf = os.path.join(d, "c.conf")
            with open(conf, "w") as f:
                f.write("database %s/db\nmetrics_listen %s\n" % (d, listen))
            p = subprocess.run([CMAGENT_BIN, "-c", conf], capture_output=True, text=True, timeout=30)
            check(p.returncode == 2 and "metrics_listen" in p.stderr and why in p.stderr,
                  "%s refused at start: exit %d %s" % (listen, p.returncode, p.stderr))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals(), MetricsEnv)
