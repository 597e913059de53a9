"""test_bounded_work.py: no single request holds the writer, other tenants or the agent's memory
(docs/protocol.md "Limits"). The batch of issue 11 (100 device.list with pageSize 1000000 over 3,000
devices; it took 25 s, held another tenant's read 21.6 s and grew the agent's RSS by 800 MB) is
refused at once, while another tenant's reads keep a p99 under 100 ms and the agent's peak RSS
(VmHWM) grows by a few MB at most. Each limit answers with its exact message: max_page_size,
max_page_offset, max_batch_rows, and max_reply for rows too large to answer."""

import os
import threading
import time

from helpers import (
    Env, check, eid, expect, make_tenant_admin, run_tests, unique)

DEVICES = 3000
MAX_ATTACKS = 1000
VICTIM_READS = 200
RSS_GROWTH_KB = 8 * 1024

state = {}

# Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) before it is used
# again, so the agent's peak RSS would measure the quarantine filling up, not what a request holds.
# This file's agent keeps a small one; every other check of the sanitizers stays as it is.
os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1",
                                                    "thread_local_quarantine_size_kb=64"]))


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def setup(env):
    if "a" not in state:
        a = make_tenant_admin(env.c, env.sys_token)
        for b in range(DEVICES // 100):
            cmds = [{"op": "device.create", "data": {"name": "dev-%03d-%03d" % (b, i), "type": "sensor",
                                                     "label": "Device %d" % i,
                                                     "additionalInfo": {"description": "device %d of batch %d" % (i, b)}}}
                    for i in range(100)]
            r = env.c.request("batch", {"commands": cmds}, token=a.token, timeout=120)
            check(all(x["status"] == 200 for x in expect(r, 200)["responses"]), "device.create failed", r)
        state["a"] = a
        state["b"] = make_tenant_admin(env.c, env.sys_token)
        for i in range(20):
            env.c.ok("customer.create", {"title": unique("B-Customer")}, token=state["b"].token)
        # the first large page warms the agent's allocator: the growth measured is what attacks add
        expect(env.c.request("device.list", {"pageSize": 1000}, token=a.token, timeout=60), 200)
    return state["a"], state["b"]


class VictimReads(threading.Thread):
    """Tenant B reads its customers, one request in flight, and keeps each latency."""

    def __init__(self, env, token, count):
        super().__init__(daemon=True)
        self.client = env.client()
        self.token = token
        self.count = count
        self.latencies = []
        self.errors = []

    def run(self):
        for _ in range(self.count):
            t0 = time.monotonic()
            try:
                r = self.client.request("customer.list", {"pageSize": 10}, token=self.token, timeout=10)
                if r.get("status") != 200:
                    self.errors.append(r)
            except AssertionError as e:
                self.errors.append(str(e))
            self.latencies.append(time.monotonic() - t0)
            if self.errors:
                break  # a stalled agent: the test has failed, do not wait out every read
            time.sleep(0.005)
        self.client.close()


def test_the_batch_of_issue_11_is_refused_and_others_go_on(env):
    a, b = setup(env)
    pid = env.agent.proc.pid
    hwm_before = vm_hwm_kb(pid)
    victim = VictimReads(env, b.token, VICTIM_READS)
    batch = {"commands": [{"op": "device.list", "data": {"pageSize": 1000000}}] * 100}
    attacks = 0
    with env.client() as attacker:
        victim.start()
        while victim.is_alive() and attacks < MAX_ATTACKS:  # the attack lasts as long as the victim reads
            r = attacker.request("batch", batch, token=a.token, timeout=60)
            expect(r, 400, 31, message="The batch may touch up to 100000000 rows (the sum of its commands' pageSize, "
                   "limit and ids), more than the limit of 2000 (max_batch_rows)")
            attacks += 1
            time.sleep(0.01)
        victim.join(120)
    check(attacks >= 10, "only %d attacks ran while tenant B read" % attacks)
    check(not victim.errors, "tenant B's reads failed during the attack: %s" % victim.errors[:3])
    lat = sorted(victim.latencies)
    check(len(lat) == VICTIM_READS, "tenant B made %d of %d reads" % (len(lat), VICTIM_READS))
    p99 = lat[int(len(lat) * 0.99) - 1]
    check(p99 < 0.100, "tenant B's p99 was %.1f ms during the attack (max %.1f ms)" % (p99 * 1000, lat[-1] * 1000))
    growth = vm_hwm_kb(pid) - hwm_before
    print("tenant B: p99 %.1f ms, max %.1f ms over %d reads during %d attacks; agent VmHWM +%d kB"
          % (p99 * 1000, lat[-1] * 1000, len(lat), attacks, growth))
    check(growth <= RSS_GROWTH_KB, "the agent's peak RSS grew by %d kB during the attack" % growth)


def test_every_listing_is_bounded_on_its_own(env):
    a, _ = setup(env)
    r = env.c.request("device.list", {"pageSize": 1000000}, token=a.token)
    expect(r, 400, 31, message="Incorrect page link page size '1000000'. Page size must be at most 1000 (max_page_size).")
    d = expect(env.c.request("device.list", {"pageSize": 1000}, token=a.token), 200)
    check(len(d["data"]) == 1000 and d["totalElements"] == DEVICES and d["hasNext"], "a page of 1000", d["totalElements"])
    # a page starting past max_page_offset (100000) is refused; the same rows by pageToken are not
    r = env.c.request("device.list", {"pageSize": 1000, "page": 101}, token=a.token)
    expect(r, 400, 31, message="Page 101 of size 1000 starts deeper than max_page_offset (100000 rows): continue with "
           "pageToken where the listing offers it, or narrow it with textSearch")
    expect(env.c.request("device.list", {"pageSize": 1000, "page": 100}, token=a.token), 200)
    expect(env.c.request("device.list", {"pageSize": 1000, "pageToken": d["nextPageToken"]}, token=a.token), 200)


def test_a_batch_within_the_rows_runs(env):
    a, _ = setup(env)
    r = env.c.request("batch", {"commands": [{"op": "device.list", "data": {"pageSize": 1000}}] * 2}, token=a.token)
    check(all(x["status"] == 200 for x in expect(r, 200)["responses"]), "two pages of 1000 in a batch", r["status"])
    r = env.c.request("batch", {"commands": [{"op": "device.list", "data": {"pageSize": 1000}}] * 3}, token=a.token)
    expect(r, 400, 31, contains="more than the limit of 2000 (max_batch_rows)")
    # ids and event.replay's default limit count too
    ids = [eid(x["id"]) for x in env.c.ok("device.list", {"pageSize": 1000}, token=a.token)["data"]]
    cmds = [{"op": "device.unassign", "data": {"ids": ids}}] * 2 + [{"op": "event.replay", "data": {}}]
    r = env.c.request("batch", {"commands": cmds}, token=a.token)
    expect(r, 400, 31, message="The batch may touch up to 2100 rows (the sum of its commands' pageSize, limit and ids), "
           "more than the limit of 2000 (max_batch_rows)")


def test_rows_too_large_for_max_reply_are_refused_before_the_reply_is_built(env):
    _, b = setup(env)
    # each additionalInfo just under max_json_field_size (16384): 160 rows make about 2.6 MB
    big = "x" * 16000
    for i in range(160):
        env.c.ok("device.create", {"name": "big-%d" % i, "type": "big", "additionalInfo": {"d": big}}, token=b.token)
    pid = env.agent.proc.pid
    # the reads run on the reader threads, whose SQLite page caches have not seen these rows yet
    # (the writer's has, from the creates): fill them first with small pages over every row, several
    # in flight at once so that every reader takes some (a page cache is bounded by cache_size and
    # holds no request's rows)
    for _ in range(2):
        corrs = [env.c.begin("device.list", {"pageSize": 10, "page": p, "type": "big"}, token=b.token)
                 for p in range(16)]
        for k in corrs:
            expect(env.c.result(k, timeout=60), 200)
    hwm_before = vm_hwm_kb(pid)
    d = expect(env.c.request("device.list", {"pageSize": 10, "type": "big"}, token=b.token), 200)
    check(len(d["data"]) == 10, "ten large devices fit in max_reply", len(d["data"]))
    for _ in range(20):
        r = env.c.request("device.list", {"pageSize": 1000, "type": "big"}, token=b.token)
        expect(r, 413, 31, message="The request would read more than max_reply (2097152 bytes) of rows: ask for fewer "
               "(a smaller pageSize or limit, fewer ids or commands)")
    page = {"op": "device.list", "data": {"pageSize": 50, "type": "big"}}
    r = env.c.request("batch", {"commands": [page] * 4}, token=b.token)
    statuses = [x["status"] for x in expect(r, 200)["responses"]]
    check(statuses[:2] == [200, 200] and statuses[-1] == 413, "a batch reads up to max_reply, then 413", statuses)
    growth = vm_hwm_kb(pid) - hwm_before
    print("peak RSS %d kB -> %d kB over the refused reads" % (hwm_before, hwm_before + growth))
    check(growth <= RSS_GROWTH_KB, "the agent's peak RSS grew by %d kB for replies of 2 MB" % growth)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env())
