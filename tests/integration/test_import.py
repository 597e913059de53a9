"""test_import.py: import.run and import.status (protocol §5.6) through the real agent: customers
from CSV (RFC 4180 quoting: commas, line breaks and doubled quotes inside fields), users and devices
from JSON and CSV naming their customer by title, per-row results numbered from 1 (the header line
not counted) with the single create's status, errorCode and message, a dry run that writes nothing,
atomic all-or-nothing, a resend with the same envelope id, activation mails caught by a real SMTP
server, a large import run as a job in chunks, and malformed or oversized input."""

import json
import re
import time

from helpers import (
    Env, check, eid, expect, last_seq, link_token, make_customer, make_customer_user, make_tenant_admin,
    run_tests, tenant_events, unique, unique_email, DEFAULT_PASSWORD)

BASE_URL = "https://tb.example.com"
CHUNK = 100          # import_chunk_rows of this file's agent
MAX_ATOMIC = 300     # import_max_atomic_rows
MAX_ROWS = 6000      # import_max_rows
MAX_PAYLOAD = 400000


def new_env():
    return Env(smtp=True, agent_extra={"base_url": BASE_URL, "import_chunk_rows": CHUNK,
                                       "import_max_atomic_rows": MAX_ATOMIC, "import_max_rows": MAX_ROWS,
                                       "max_payload": MAX_PAYLOAD})


def customers_titled(c, token, title):
    page = c.ok("customer.list", {"pageSize": 100, "page": 0, "textSearch": title}, token=token)
    return [x for x in page["data"] if x["title"] == title]


def single_error(c, token, op, data):
    """The status, errorCode and message the single create gives for data."""
    r = c.request(op, data, token=token)
    check(r["status"] >= 400, "the single create fails", op, data, r)
    return r["status"], r["errorCode"], r["message"]


def row_error(res):
    return res["status"], res["errorCode"], res["message"]


def test_csv_customers_quoted_fields_and_a_bad_row(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    t1, t2, t3 = unique("Acme, Inc."), unique("Bad"), unique('Quote "Q"')
    csv = ("title,email,city,address\r\n"
           '"%s",acme@example.com,"Kyiv, UA","line one\nline two"\r\n'
           ',nobody@example.com,Lviv,\r\n'
           '"%s",q@example.com,"say ""hi""",plain\n' % (t1, t3.replace('"', '""')))
    mark = last_seq(c, ta.token)
    r = c.ok("import.run", {"entityType": "CUSTOMER", "format": "csv", "csv": csv}, token=ta.token)
    check(r["total"] == 3 and r["created"] == 2 and r["failed"] == 1 and r["committed"] is True, "counts", r)
    rows = r["results"]
    check([x["row"] for x in rows] == [1, 2, 3], "rows numbered from 1 without the header", rows)
    check([x["line"] for x in rows] == [2, 4, 5], "lines of the file (row 1 spans lines 2-3)", rows)
    check(rows[0]["status"] == 200 and rows[2]["status"] == 200 and len(rows[0]["id"]) == 36, "created rows", rows)
    # the failed row answers exactly as customer.create of the same data
    want = single_error(c, ta.token, "customer.create", {"email": "nobody@example.com", "city": "Lviv"})
    check(row_error(rows[1]) == want, "row 2 has the single create's error", rows[1], want)
    got = c.ok("customer.get", {"id": rows[0]["id"]}, token=ta.token)
    check(got["title"] == t1 and got["city"] == "Kyiv, UA" and got["address"] == "line one\nline two" and
          got["email"] == "acme@example.com", "quoted fields kept whole", got)
    got3 = c.ok("customer.get", {"id": rows[2]["id"]}, token=ta.token)
    check(got3["title"] == t3 and got3["city"] == 'say "hi"', "doubled quotes", got3)
    evs = [e for e in tenant_events(c, ta.token, mark) if e["type"] == "ENTITY_CREATED"]
    check(sorted(e["originator"]["id"] for e in evs) == sorted([rows[0]["id"], rows[2]["id"]]),
          "one ENTITY_CREATED per created customer", evs)
    audit = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "CUSTOMER"}, token=ta.token)["data"]
    added = [a for a in audit if a["actionType"] == "ADDED" and a["actionStatus"] == "SUCCESS"]
    failed = [a for a in audit if a["actionType"] == "ADDED" and a["actionStatus"] == "FAILURE"]
    check(sorted(eid(a["entityId"]) for a in added) == sorted([rows[0]["id"], rows[2]["id"]]),
          "an ADDED audit row per created customer", added)
    check(any(a["actionFailureDetails"] == want[2] for a in failed), "the failed row's FAILURE audit row", failed)


def test_json_users_by_customer_title_and_bad_rows(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token, title=unique("Owner"))
    e1, e2, e3 = unique_email("u1"), unique_email("u2"), unique_email("u3")
    rows = [{"email": e1, "firstName": "Ann", "customerTitle": cust["title"]},
            {"email": "not-an-email", "customerTitle": cust["title"]},
            {"email": e2, "customerTitle": "No such customer " + unique()},
            {"email": e3, "customerId": eid(cust["id"]), "lastName": "Lee", "nickname": "x"},
            {"email": e1, "customerTitle": cust["title"]}]
    r = c.ok("import.run", {"entityType": "USER", "format": "json", "rows": rows}, token=ta.token)
    res = r["results"]
    check(r["created"] == 1 and r["failed"] == 4 and "line" not in res[0], "counts", r)
    check(res[0]["status"] == 200, "row 1 created", res)
    u = c.ok("user.get", {"id": res[0]["id"]}, token=ta.token)
    check(u["authority"] == "CUSTOMER_USER" and eid(u["customerId"]) == eid(cust["id"]) and u["firstName"] == "Ann",
          "a customer user of the titled customer", u)
    base = {"authority": "CUSTOMER_USER", "customerId": eid(cust["id"])}
    check(row_error(res[1]) == single_error(c, ta.token, "user.create", dict(base, email="not-an-email")),
          "row 2: the single create's message", res[1])
    expect(res[2], 404, 32, "Customer with title [%s] is not found" % rows[2]["customerTitle"])
    check(row_error(res[3]) == single_error(c, ta.token, "user.create", dict(base, email=e3, nickname="x")),
          "row 4: unknown key as the single create answers it", res[3])
    check(row_error(res[4]) == single_error(c, ta.token, "user.create", dict(base, email=e1)),
          "row 5: the e-mail row 1 took", res[4])
    # CSV users, the same way
    e4 = unique_email("csv")
    r = c.ok("import.run", {"entityType": "USER", "csv": "Email, firstName ,customerTitle\n%s,Bo,%s\n"
                            % (e4, cust["title"])}, token=ta.token)
    check(r["created"] == 1, "CSV user (header names ignore case and spaces)", r)


def test_devices_assigned_to_customers_by_title(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    a, b = make_customer(c, ta.token, title=unique("Site A")), make_customer(c, ta.token, title=unique("Site B"))
    n1, n2, n3 = unique("dev"), unique("dev"), unique("dev")
    csv = "name,type,label,customerTitle\n%s,thermo,Hall,%s\n%s,thermo,,%s\n%s,meter,Roof,\n" % (
        n1, a["title"], n2, b["title"], n3)
    r = c.ok("import.run", {"entityType": "DEVICE", "csv": csv}, token=ta.token)
    check(r["created"] == 3 and r["failed"] == 0, "all created", r)
    d1, d2, d3 = (c.ok("device.get", {"id": x["id"]}, token=ta.token) for x in r["results"])
    check(eid(d1["customerId"]) == eid(a["id"]) and d1["label"] == "Hall" and d1["type"] == "thermo", "d1", d1)
    check(eid(d2["customerId"]) == eid(b["id"]), "d2 assigned to B", d2)
    check(d3["customerId"] is None or eid(d3["customerId"]) in ("", "13814000-1dd2-11b2-8080-808080808080"),
          "d3 unassigned", d3)
    listed = c.ok("customer.devices", {"customerId": eid(a["id"]), "pageSize": 10, "page": 0}, token=ta.token)
    check([x["name"] for x in listed["data"]] == [n1], "customer A's devices", listed)
    # a name taken, and the conflict policy applied to every row
    r = c.ok("import.run", {"entityType": "DEVICE", "rows": [{"name": n1, "type": "thermo"}]}, token=ta.token)
    check(row_error(r["results"][0]) == single_error(c, ta.token, "device.create", {"name": n1, "type": "thermo"}),
          "duplicate name as device.create answers it", r)
    r = c.ok("import.run", {"entityType": "DEVICE", "nameConflictPolicy": "UNIQUIFY",
                            "rows": [{"name": n1, "type": "thermo"}]}, token=ta.token)
    check(r["created"] == 1, "UNIQUIFY applies to the rows", r)


def test_assets_and_edges_too(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    site = make_customer(c, ta.token, title=unique("Site"))
    a1, e1 = unique("asset"), unique("edge")
    r = c.ok("import.run", {"entityType": "ASSET", "csv": "name,type,customerTitle\n%s,building,%s\n"
                            % (a1, site["title"])}, token=ta.token)
    got = c.ok("asset.get", {"id": r["results"][0]["id"]}, token=ta.token)
    check(got["name"] == a1 and eid(got["customerId"]) == eid(site["id"]), "asset assigned by title", got)
    r = c.ok("import.run", {"entityType": "EDGE", "rows": [{"name": e1, "type": "gw", "routingKey": "rk-" + e1,
                                                           "secret": "s-" + e1}]}, token=ta.token)
    got = c.ok("edge.get", {"id": r["results"][0]["id"]}, token=ta.token)
    check(got["name"] == e1 and got["routingKey"] == "rk-" + e1, "edge", got)


def test_dry_run_writes_nothing(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    taken = make_customer(c, ta.token, title=unique("Taken"))
    fresh = unique("Fresh")
    mark = last_seq(c, ta.token)
    rows = [{"title": fresh}, {"title": taken["title"]}, {"title": fresh}, {"title": ""}]
    r = c.ok("import.run", {"entityType": "CUSTOMER", "rows": rows, "dryRun": True}, token=ta.token)
    check(r["dryRun"] is True and r["committed"] is False and r["created"] == 0 and r["valid"] == 1 and
          r["failed"] == 3, "dry run counts", r)
    res = r["results"]
    check(res[0] == {"row": 1, "status": 200}, "row 1 would be created (no id: nothing was)", res)
    dup = single_error(c, ta.token, "customer.create", {"title": taken["title"]})
    check(row_error(res[1]) == dup, "taken in the database", res[1], dup)
    check(row_error(res[2]) == dup[:2] + (dup[2].replace(taken["title"], fresh),), "taken by row 1 of the file",
          res[2])
    check(not customers_titled(c, ta.token, fresh), "nothing created")
    check(tenant_events(c, ta.token, mark) == [], "no event")
    audit = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "CUSTOMER"}, token=ta.token)["data"]
    check(all(a["actionType"] != "ADDED" or a["actionStatus"] == "FAILURE" or eid(a["entityId"]) == eid(taken["id"])
              for a in audit), "no audit row of the dry run's rows", audit)
    check(sum(1 for a in audit if a["actionStatus"] == "FAILURE") == 1, "only the test's own single create failed",
          audit)
    # the same rows for real then create what the dry run said
    r2 = c.ok("import.run", {"entityType": "CUSTOMER", "rows": rows}, token=ta.token)
    check([x["status"] for x in r2["results"]] == [x["status"] for x in res], "the dry run told the truth", r2, r)


def test_atomic_all_or_nothing(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    t1, t2 = unique("At"), unique("At")
    mark = last_seq(c, ta.token)
    r = c.ok("import.run", {"entityType": "CUSTOMER", "atomic": True,
                            "rows": [{"title": t1}, {"title": ""}, {"title": t2}]}, token=ta.token)
    check(r["committed"] is False and r["created"] == 0 and r["failed"] == 1, "rolled back", r)
    check([x["status"] for x in r["results"]] == [424, 400, 424], "statuses", r)
    expect(r["results"][0], 424, 31, "Not applied: 1 row(s) failed and the atomic import was rolled back")
    check(not customers_titled(c, ta.token, t1) and not customers_titled(c, ta.token, t2), "nothing kept")
    check(tenant_events(c, ta.token, mark) == [], "no event")
    r = c.ok("import.run", {"entityType": "CUSTOMER", "atomic": True, "rows": [{"title": t1}, {"title": t2}]},
             token=ta.token)
    check(r["committed"] is True and r["created"] == 2, "all kept", r)
    check(len(tenant_events(c, ta.token, mark)) == 2, "two events")
    # more rows than import_max_atomic_rows: refused before anything runs
    rows = [{"title": unique("Many")} for _ in range(MAX_ATOMIC + 1)]
    expect(c.request("import.run", {"entityType": "CUSTOMER", "atomic": True, "rows": rows}, token=ta.token), 400,
           31, contains="import_max_atomic_rows")
    expect(c.request("import.run", {"entityType": "CUSTOMER", "dryRun": True, "rows": rows}, token=ta.token), 400,
           31, contains="import_max_atomic_rows")


def test_resend_with_the_same_id_returns_the_first_reply(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    title = unique("Once")
    data = {"entityType": "CUSTOMER", "rows": [{"title": title}]}
    first = c.request("import.run", data, token=ta.token, id="imp-" + title)
    again = c.request("import.run", data, token=ta.token, id="imp-" + title)
    check(first["status"] == 200 and again == first, "the same reply", first, again)
    check(len(customers_titled(c, ta.token, title)) == 1, "created once")
    other = c.request("import.run", data, token=ta.token, id="imp2-" + title)
    check(other["data"]["failed"] == 1, "a new id is a new import (the title is taken)", other)
    # a job: the same jobId, one job
    rows = [{"name": unique("jd"), "type": "t"} for _ in range(CHUNK + 5)]
    j1 = c.ok("import.run", {"entityType": "DEVICE", "rows": rows}, token=ta.token, id="job-" + title)
    j2 = c.ok("import.run", {"entityType": "DEVICE", "rows": rows}, token=ta.token, id="job-" + title)
    check(j1["jobId"] == j2["jobId"] and j1["status"] == "RUNNING" and j1["total"] == CHUNK + 5, "one job", j1, j2)
    st = wait_job(c, ta.token, j1["jobId"])
    check(st["created"] == CHUNK + 5 and st["failed"] == 0, "the job created each row once", st)
    # the job's events are published live on their topics, as a request's are
    topic = "cm/v1/event/%s/DEVICE/ENTITY_CREATED" % ta.tenant_id
    names = {r["name"] for r in rows}

    def published():
        return {b["metadata"]["entityName"] for t, b, _ in env.events.snapshot() if t == topic} & names
    deadline = time.monotonic() + 30
    while len(published()) < len(names) and time.monotonic() < deadline:
        time.sleep(0.1)
    check(published() == names, "each row's ENTITY_CREATED published", len(published()))


def test_activation_mails_of_imported_users(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token, title=unique("Mailed"))
    e1, e2, bad = unique_email("m1"), unique_email("m2"), unique_email("reject")
    csv = "email,customerTitle\n%s,%s\n%s,%s\n%s,%s\n" % (e1, cust["title"], bad, cust["title"], e2, cust["title"])
    r = c.ok("import.run", {"entityType": "USER", "csv": csv, "sendActivationMail": True}, token=ta.token)
    check([x["status"] for x in r["results"]] == [200, 500, 200], "statuses", r)
    expect(r["results"][1], 500, 2, "Couldn't send user activation email")
    tokens = []
    for email, row in ((e1, r["results"][0]), (e2, r["results"][2])):
        _, tok = link_token(env.smtp.wait_mail(email)["body"], "activateToken")
        link = c.ok("user.activationLink", {"id": row["id"]}, token=ta.token)["value"]
        check(link.endswith("activateToken=" + tok), "the mailed token is the user's", link, tok)
        tokens.append(tok)
    c.ok("auth.activate", {"activateToken": tokens[1], "password": DEFAULT_PASSWORD})
    c.login(e2, DEFAULT_PASSWORD)
    users = c.ok("customer.users", {"customerId": eid(cust["id"]), "pageSize": 10, "page": 0}, token=ta.token)
    check(sorted(u["email"] for u in users["data"]) == sorted([e1, e2]), "the rejected user is not kept", users)
    # a dry run mails nobody
    e3 = unique_email("dry")
    r = c.ok("import.run", {"entityType": "USER", "dryRun": True, "sendActivationMail": True,
                            "rows": [{"email": e3, "customerTitle": cust["title"]}]}, token=ta.token)
    check(r["valid"] == 1, "dry run", r)
    # a job's users get their mails after their chunk commits
    emails = [unique_email("job") for _ in range(CHUNK + 3)]
    j = c.ok("import.run", {"entityType": "USER", "sendActivationMail": True,
                            "rows": [{"email": e, "customerTitle": cust["title"]} for e in emails]}, token=ta.token)
    st = wait_job(c, ta.token, j["jobId"])
    check(st["created"] == CHUNK + 3, "job users", st)
    for e in (emails[0], emails[-1]):
        env.smtp.wait_mail(e)
    time.sleep(0.5)
    check(not env.smtp.mails_to(e3), "no mail for the dry run")


def wait_job(c, token, job_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        st = c.ok("import.status", {"jobId": job_id}, token=token)
        if st["status"] != "RUNNING":
            return st
        check(time.monotonic() < deadline, "the job ends in time", st)
        time.sleep(0.1)


def test_large_import_runs_in_chunks(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    owner = make_customer(c, ta.token, title=unique("Fleet"))
    n = 5000
    prefix = unique("fleet")
    lines = ["name,type,customerTitle"]
    for i in range(n):
        lines.append("%s-%05d,tracker,%s" % (prefix, i, owner["title"]))
    lines[1234] = ",tracker,"                       # row 1233: no name
    lines[4000] = lines[3999]                       # row 4000: the name row 3999 took
    csv = "\n".join(lines) + "\n"
    mark = last_seq(c, ta.token)
    t0 = time.monotonic()
    j = c.ok("import.run", {"entityType": "DEVICE", "csv": csv}, token=ta.token)
    reply_s = time.monotonic() - t0
    check(j["status"] == "RUNNING" and j["total"] == n and j["chunkRows"] == CHUNK, "a job", j)
    # requests are answered while the job runs
    worst = 0.0
    while True:
        t1 = time.monotonic()
        c.ok("customer.create", {"title": unique("During")}, token=ta.token)
        worst = max(worst, time.monotonic() - t1)
        st = c.ok("import.status", {"jobId": j["jobId"]}, token=ta.token)
        if st["status"] != "RUNNING":
            break
        check(time.monotonic() - t0 < 120, "the job ends in time", st)
    total_s = time.monotonic() - t0
    check(st["status"] == "FINISHED" and st["processed"] == n and st["created"] == n - 2 and st["failed"] == 2,
          "finished with the right counts", st)
    fails = c.ok("import.status", {"jobId": j["jobId"], "failedOnly": True}, token=ta.token)
    check([x["row"] for x in fails["results"]] == [1234, 4000] and fails["hasNext"] is False, "the failed rows",
          fails)
    check([x["line"] for x in fails["results"]] == [1235, 4001], "with their CSV lines", fails)
    check(row_error(fails["results"][0]) == single_error(c, ta.token, "device.create", {"type": "tracker"}),
          "row 1234's message", fails)
    page = c.ok("import.status", {"jobId": j["jobId"], "page": 2, "pageSize": 10}, token=ta.token)
    check([x["row"] for x in page["results"]] == list(range(21, 31)) and page["hasNext"] is True, "paged results",
          page)
    devs = c.ok("customer.devices", {"customerId": eid(owner["id"]), "pageSize": 1, "page": 0}, token=ta.token)
    check(devs["totalElements"] == n - 2, "devices of the customer", devs["totalElements"])
    created = [e for e in tenant_events(c, ta.token, mark)
               if e["type"] == "ENTITY_CREATED" and e["originator"]["entityType"] == "DEVICE"]
    check(len(created) == n - 2, "one event per device", len(created))
    found = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in
             re.finditer(r"Import chunk: (\d+) rows of job %s in (\d+) us, (\d+) us of them committing" % j["jobId"],
                         env.agent.log_text())]
    sizes = [rows for rows, _, _ in found]
    chunks = [t - commit for _, t, commit in found]  # the writer's time in the rows, the commit apart
    commits = sorted(commit for _, _, commit in found)
    check(sum(sizes) == n and max(sizes) <= CHUNK and len(sizes) >= n // CHUNK,
          "the job ran in chunks of at most import_chunk_rows", sizes)
    chunks.sort()
    print("  %d rows: reply in %.3f s, finished in %.1f s, %d chunks of up to %d rows (median %d): rows median "
          "%.1f ms, max %.1f ms; commit median %.1f ms; slowest write during the job %.1f ms"
          % (n, reply_s, total_s, len(chunks), CHUNK, sorted(sizes)[len(sizes) // 2], chunks[len(chunks) // 2] / 1000,
             chunks[-1] / 1000, commits[len(commits) // 2] / 1000, worst * 1000))
    check(worst < 2.0, "writes are answered during the job", worst)


def test_a_job_survives_a_kill_and_goes_on_where_it_stopped(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    n, prefix = 3000, unique("kill")
    csv = "name,type\n" + "".join("%s-%05d,k\n" % (prefix, i) for i in range(n))
    mark = last_seq(c, ta.token)
    j = c.ok("import.run", {"entityType": "DEVICE", "csv": csv}, token=ta.token)
    deadline = time.monotonic() + 60
    while True:
        before = c.ok("import.status", {"jobId": j["jobId"]}, token=ta.token)
        if before["processed"] > 0:
            break
        check(time.monotonic() < deadline, "the job starts")
        time.sleep(0.01)
    env.agent.restart(hard=True)
    check(before["processed"] < n, "killed while the job ran", before)
    st = wait_job(c, ta.token, j["jobId"])
    check(st["status"] == "FINISHED" and st["created"] == n and st["failed"] == 0, "every row once", st)
    page = c.ok("device.list", {"pageSize": 1, "page": 0, "textSearch": prefix}, token=ta.token)
    check(page["totalElements"] == n, "no device lost or doubled", page["totalElements"])
    created = {e["originator"]["id"] for e in tenant_events(c, ta.token, mark) if e["type"] == "ENTITY_CREATED"}
    check(len(created) == n, "one event per device", len(created))


def test_cancel_stops_a_running_job(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    other = make_tenant_admin(c, env.sys_token)
    n = 5000
    j = c.ok("import.run", {"entityType": "DEVICE", "rows": [{"name": unique("cx"), "type": "c"} for _ in range(n)]},
             token=ta.token)
    expect(c.request("import.cancel", {"jobId": j["jobId"]}, token=other.token), 404, 32)
    st = c.ok("import.cancel", {"jobId": j["jobId"]}, token=ta.token)
    check(st["status"] == "STOPPED" and st["error"] == "Cancelled by %s" % ta.email and st["processed"] < n and
          st["finishedTime"] is not None, "stopped", st)
    time.sleep(0.5)
    later = c.ok("import.status", {"jobId": j["jobId"]}, token=ta.token)
    check(later["processed"] == st["processed"] and later["status"] == "STOPPED", "no row ran after", later, st)
    expect(c.request("import.cancel", {"jobId": j["jobId"]}, token=ta.token), 400, 31,
           "Import job [%s] is not running" % j["jobId"])


def test_malformed_and_oversized_input(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)

    def bad(data, status, contains):
        expect(c.request("import.run", dict({"entityType": "CUSTOMER"}, **data), token=ta.token), status, 31,
               contains=contains, context=json.dumps(data)[:80])
    bad({"csv": 'title,city\n"open,Kyiv\n'}, 400, "Malformed CSV on line 2: a quoted field is not closed")
    bad({"csv": 'title,city\nab"c,Kyiv\n'}, 400, "Malformed CSV on line 2: a '\"' inside an unquoted field")
    bad({"csv": 'title,city\n"ab"c,Kyiv\n'}, 400, "Malformed CSV on line 2: text after the closing")
    bad({"csv": 'title,city\nA,Kyiv,extra\n'}, 400, "Malformed CSV on line 2 (row 1): 3 fields where the header "
        "line has 2")
    bad({"csv": 'title,colour\nA,red\n'}, 400, "Unknown CSV column 'colour' (column 2 of the header line)")
    bad({"csv": 'title,Title\nA,B\n'}, 400, "appears twice")
    bad({"csv": ""}, 400, "The CSV text is empty")
    bad({"csv": "title\n"}, 400, "The import has no rows")
    bad({"csv": "title\n", "rows": []}, 400, "not both")
    bad({}, 400, "'rows' (an array of objects, format json) or 'csv'")
    bad({"format": "xml", "rows": []}, 400, "'format' must be")
    bad({"rows": {}}, 400, "'rows' must be an array")
    bad({"format": "csv", "rows": []}, 400, "'csv' is required")
    bad({"csv": 5}, 400, "'csv' must be a string")
    bad({"rows": [{"title": "x"}], "sendActivationMail": True}, 400, "for a USER import only")
    expect(c.request("import.run", {"entityType": "USER", "rows": [{}], "nameConflictPolicy": "UNIQUIFY"},
                     token=ta.token), 400, 31, "'nameConflictPolicy' is not for a USER import")
    bad({"rows": [{"title": "x"}], "dryRun": "yes"}, 400, "dryRun")
    expect(c.request("import.run", {"entityType": "DASHBOARD", "rows": [{}]}, token=ta.token), 400, 31,
           "'entityType' must be one of CUSTOMER, USER, DEVICE, ASSET, EDGE")
    r = c.ok("import.run", {"entityType": "CUSTOMER", "rows": [5, {"title": unique("ok")}]}, token=ta.token)
    expect(r["results"][0], 400, 31, "A row must be a JSON object of customer.create members")
    check(r["results"][1]["status"] == 200, "the other row stands", r)
    # too many rows, too large a payload
    rows = [{} for _ in range(MAX_ROWS + 1)]
    expect(c.request("import.run", {"entityType": "CUSTOMER", "rows": rows}, token=ta.token), 413, 31,
           "The import has more than %d rows, the limit (import_max_rows)" % MAX_ROWS)
    csv = "title\n" + "x\n" * (MAX_ROWS + 1)
    expect(c.request("import.run", {"entityType": "CUSTOMER", "csv": csv}, token=ta.token), 413, 31,
           "The import has more than %d rows, the limit (import_max_rows)" % MAX_ROWS)
    big = "title\n" + ("x" * 100 + "\n") * (MAX_PAYLOAD // 100)
    expect(c.request("import.run", {"entityType": "CUSTOMER", "csv": big}, token=ta.token), 413, 31,
           contains="max_payload")
    # not inside a batch
    r = c.ok("batch", {"commands": [{"op": "import.run", "data": {"entityType": "CUSTOMER", "rows": [{}]}}]},
             token=ta.token)
    expect(r["responses"][0], 400, 31, "Operation 'import.run' cannot run inside a batch")


def test_permissions_and_other_tenants_jobs(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    other = make_tenant_admin(c, env.sys_token)
    cust = make_customer(c, ta.token)
    cu = make_customer_user(c, ta.token, eid(cust["id"]))
    data = {"entityType": "CUSTOMER", "rows": [{"title": unique("P")}]}
    expect(c.request("import.run", data, token=env.sys_token), 403, 20)
    expect(c.request("import.run", data, token=cu.token), 403, 20)
    expect(c.request("import.run", data), 401, 10)
    j = c.ok("import.run", {"entityType": "CUSTOMER", "rows": [{"title": unique("J")} for _ in range(CHUNK + 1)]},
             token=ta.token)
    expect(c.request("import.status", {"jobId": j["jobId"]}, token=other.token), 404, 32,
           "Import job [%s] is not found" % j["jobId"])
    expect(c.request("import.status", {"jobId": j["jobId"]}, token=cu.token), 403, 20)
    expect(c.request("import.status", {"jobId": "nope"}, token=ta.token), 400, 31)
    expect(c.request("import.status", {"jobId": j["jobId"], "pageSize": 0}, token=ta.token), 400, 31,
           contains="pageSize")
    wait_job(c, ta.token, j["jobId"])


if __name__ == "__main__":
    run_tests(globals(), new_env)
