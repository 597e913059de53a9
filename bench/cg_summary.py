#!/usr/bin/python3
"""bench/cg_summary.py: reads the callgrind dumps of one measured load (one file per thread, from
valgrind --tool=callgrind --separate-threads=yes) and prints, per request: the instructions of each
thread (named by the function it runs), the instructions each library spent itself, the inclusive
instructions of the agent's own functions and of the calls from the agent into SQLite, cJSON and
paho, and how often the functions that mark a cost were called (statements stepped, JSON rendered,
messages published, threads woken, syncs).

Usage: bench/cg_summary.py REQUESTS LABEL FILE... (the files of one dump, in thread order)
"""

import os
import re
import sys
from collections import defaultdict

# A thread is named after the first of these functions its file contains.
THREAD_ROOTS = [
    ("writer", ("writer_main",)),
    ("replier", ("replier_main",)),
    ("verifier", ("verifier_main",)),
    ("mailer", ("mailer_main",)),
    ("checkpointer", ("checkpointer_main",)),
    ("paho receive", ("MQTTAsync_receiveThread",)),
    ("paho send", ("MQTTAsync_sendThread",)),
    ("main", ("main", "agent_run")),
]

# Functions whose number of calls per request tells a cost (by name, any library).
COUNTED = [
    ("sqlite3_step", "SQL statements stepped"),
    ("sqlite3_prepare_v2", "statements prepared (v2)"),
    ("sqlite3_prepare_v3", "statements prepared (v3)"),
    ("sqlite3_reset", "statements reset"),
    ("cJSON_PrintUnformatted", "cJSON_PrintUnformatted (JSON rendered)"),
    ("cJSON_PrintPreallocated", "cJSON_PrintPreallocated (JSON rendered)"),
    ("cJSON_PrintBuffered", "cJSON_PrintBuffered (JSON rendered)"),
    ("cJSON_ParseWithLength", "cJSON_ParseWithLength (JSON parsed)"),
    ("cJSON_ParseWithLengthOpts", "cJSON_ParseWithLengthOpts (JSON parsed)"),
    ("MQTTAsync_sendMessage", "MQTTAsync_sendMessage (publishes)"),
    ("pthread_cond_signal", "pthread_cond_signal (wake-ups)"),
    ("pthread_cond_broadcast", "pthread_cond_broadcast (wake-ups)"),
    ("pthread_cond_timedwait", "pthread_cond_timedwait (waits)"),
    ("pthread_cond_wait", "pthread_cond_wait (waits)"),
    ("fdatasync", "fdatasync"),
    ("fsync", "fsync"),
    ("pwrite64", "pwrite"),
    ("pread64", "pread"),
    ("write", "write"),
    ("writev", "writev"),
    ("sendmsg", "sendmsg"),
    ("send", "send"),
    ("recv", "recv"),
    ("read", "read"),
    ("poll", "poll"),
    ("select", "select"),
    ("malloc", "malloc"),
    ("free", "free"),
]

NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


class Names:
    """callgrind's name compression: "(id) name" defines, "(id)" refers."""

    def __init__(self):
        self.by_id = {}

    def get(self, kind, value):
        m = NAME_RE.match(value)
        if not m:
            return value
        key = (kind, m.group(1))
        if m.group(2) is not None:
            self.by_id[key] = m.group(2)
        return self.by_id.get(key, "?" + m.group(1))


def short_ob(path):
    base = os.path.basename(path)
    return re.sub(r"\.so(\.[0-9.]+)?$", "", base)


class Profile:
    def __init__(self):
        self.thread_total = defaultdict(int)  # thread name -> Ir
        self.self_ob = defaultdict(int)  # object -> Ir spent in its own code
        self.self_fn = defaultdict(int)  # (object, function) -> self Ir
        self.incl_fn = defaultdict(int)  # (object, function) -> Ir of calls into it
        self.calls_fn = defaultdict(int)  # function -> calls
        self.cross = defaultdict(int)  # (caller object, callee object) -> inclusive Ir of the calls
        self.total = 0


def parse(path, names, prof):
    ob = fn = "?"
    cob = cfn = None
    in_call = False
    fns = set()
    file_total = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if in_call:
                    if cfn is not None:
                        callee_ob = cob if cob is not None else ob
                        if cfn != fn:
                            prof.incl_fn[(callee_ob, cfn)] += cost
                        if callee_ob != ob:
                            prof.cross[(ob, callee_ob)] += cost
                    in_call = False
                    cob = cfn = None
                else:
                    prof.self_ob[ob] += cost
                    prof.self_fn[(ob, fn)] += cost
                    file_total += cost
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = short_ob(names.get("ob", value))
            elif key == "fn":
                fn = names.get("fn", value)
                fns.add(fn)
                cob = cfn = None
            elif key == "cob":
                cob = short_ob(names.get("ob", value))
            elif key == "cfn":
                cfn = names.get("fn", value)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                names.get("fl", value)
            elif key == "calls":
                in_call = True
                if cfn is not None:
                    # versioned libc names: pthread_cond_signal@@GLIBC_2.3.2
                    prof.calls_fn[cfn.split("@")[0]] += int(value.split()[0])
    thread = None
    for tname, roots in THREAD_ROOTS:
        if any(r in fns for r in roots):
            thread = tname
            break
    if thread is None:
        # paho's threads are static functions of a library without symbols: its receive thread is
        # the one that runs the transport's message callback
        thread = "paho receive" if "on_message" in fns else "paho send" if fns else "other"
    prof.thread_total[thread] += file_total
    prof.total += file_total


def per(v, n):
    return v / n if n else 0.0


def main():
    if len(sys.argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    label = sys.argv[2]
    files = sys.argv[3:]
    names = Names()
    prof = Profile()
    for path in files:
        parse(path, names, prof)
    print("== %s: %d requests, %.0f instructions per request (all threads, user space)" % (
        label, n, per(prof.total, n)))
    print("-- per thread (instructions per request, share)")
    for t, v in sorted(prof.thread_total.items(), key=lambda kv: -kv[1]):
        print("   %-14s %10.0f  %5.1f%%" % (t, per(v, n), 100.0 * v / prof.total if prof.total else 0))
    print("-- per library, its own code (instructions per request, share)")
    for o, v in sorted(prof.self_ob.items(), key=lambda kv: -kv[1])[:10]:
        print("   %-22s %10.0f  %5.1f%%" % (o, per(v, n), 100.0 * v / prof.total if prof.total else 0))
    print("-- calls from one library into another, inclusive (instructions per request)")
    for (a, b), v in sorted(prof.cross.items(), key=lambda kv: -kv[1])[:14]:
        print("   %-14s -> %-22s %10.0f" % (a, b, per(v, n)))
    print("-- the agent's functions, inclusive (instructions per request; top 30)")
    agent = [(f, v) for (o, f), v in prof.incl_fn.items() if o == "cmagent"]
    for f, v in sorted(agent, key=lambda kv: -kv[1])[:30]:
        print("   %-40s %10.0f  calls/request %6.2f" % (f, per(v, n), per(prof.calls_fn.get(f.split("@")[0], 0), n)))
    print("-- functions by their own instructions (per request; top 20)")
    for (o, f), v in sorted(prof.self_fn.items(), key=lambda kv: -kv[1])[:20]:
        print("   %-40s %-16s %10.0f" % (f[:40], o[:16], per(v, n)))
    print("-- calls per request")
    for fname, what in COUNTED:
        c = prof.calls_fn.get(fname, 0)
        if c:
            print("   %-44s %8.2f" % (what, per(c, n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
