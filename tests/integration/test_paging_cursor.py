"""test_paging_cursor.py: customer.list, customer.devices and device.list with a cursor (pageToken).
Walking the pages by cursor gives exactly the rows of offset paging, in the same order, for each
order a cursor supports, and every row once while rows are created and deleted between pages;
offset pages hand out the cursor of their next page; bad tokens and mismatched orders answer 400;
totalElements stays exact through create, delete, assign, unassign and customer delete."""

from helpers import NULL_UUID, Env, check, eid, expect, make_tenant_admin, run_tests, unique


def walk(c, token, data, op="customer.list", between=None):
    """All pages by cursor, starting with an offset first page; returns the rows and the page count.
    between(rows so far) runs after each page, before the next is read."""
    first = expect(c.request(op, dict(data, page=0), token=token), 200)
    rows, pages = list(first["data"]), 1
    nxt = first.get("nextPageToken")
    check(first["hasNext"] == (nxt is not None), "nextPageToken iff hasNext", first)
    while nxt is not None:
        if between is not None:
            between(rows)
        d = expect(c.request(op, dict(data, pageToken=nxt), token=token), 200)
        check("totalElements" not in d and "totalPages" not in d, "a cursor page has no totals", d)
        rows += d["data"]
        pages += 1
        check(d["hasNext"] == ("nextPageToken" in d), "nextPageToken iff hasNext", d)
        nxt = d.get("nextPageToken")
        check(pages < 200, "cursor walk does not end")
    return rows, pages


def offset_all(c, token, data, total):
    d = expect(c.request("customer.list", dict(data, pageSize=total + 10, page=0), token=token), 200)
    return d["data"]


def test_cursor_walk_matches_offset_paging(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    prefix = unique("Cur")
    # equal createdTime for some rows is likely (same millisecond): ties are broken by id
    for i in range(47):
        c.ok("customer.create", {"title": "%s-%02d" % (prefix, (i * 17) % 47)}, token=ta.token)
    for sort in ({}, {"sortProperty": "title", "sortOrder": "ASC"}, {"sortProperty": "title", "sortOrder": "DESC"},
                 {"sortProperty": "createdTime", "sortOrder": "DESC"}, {"sortProperty": "createdTime"},
                 {"sortProperty": "id", "sortOrder": "DESC"}):
        data = dict(sort, pageSize=5, textSearch=prefix)
        rows, pages = walk(c, ta.token, data)
        want = offset_all(c, ta.token, dict(sort, textSearch=prefix), 47)
        check([eid(r["id"]) for r in rows] == [eid(r["id"]) for r in want], "cursor order differs for %r" % sort,
              [r["title"] for r in rows], [r["title"] for r in want])
        check(pages == 10, "47 rows in pages of 5 are 10 pages, got %d" % pages)


def test_cursor_errors(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    for i in range(3):
        c.ok("customer.create", {"title": unique("Err")}, token=ta.token)
    d = expect(c.request("customer.list", {"pageSize": 1, "page": 0, "sortProperty": "title"}, token=ta.token), 200)
    tok = d["nextPageToken"]
    expect(c.request("customer.list", {"pageSize": 1, "pageToken": "zz"}, token=ta.token), 400, 31,
           message="Invalid pageToken")
    expect(c.request("customer.list", {"pageSize": 1, "pageToken": tok}, token=ta.token), 400, 31,
           contains="pageToken was issued for sortProperty 'title'")
    expect(c.request("customer.list", {"pageSize": 1, "pageToken": tok, "sortProperty": "title", "page": 2},
                     token=ta.token), 400, 31, message="Use either page or pageToken, not both")
    expect(c.request("customer.list", {"pageSize": 1, "pageToken": tok, "sortProperty": "email"}, token=ta.token),
           400, 31, message="pageToken works with sortProperty createdTime, title or id")
    d = expect(c.request("customer.list", {"pageSize": 1, "page": 0, "sortProperty": "email"}, token=ta.token), 200)
    check("nextPageToken" not in d, "no cursor for an order it does not support", d)
    # a cursor is bound to its tenant: another tenant's administrator reads its own rows only
    other = make_tenant_admin(c, env.sys_token)
    d = expect(c.request("customer.list", {"pageSize": 5, "pageToken": tok, "sortProperty": "title"},
                         token=other.token), 200)
    check(d["data"] == [], "a cursor leaked another tenant's rows", d)


def make_devices(c, token, prefix, count, customer=None):
    ids = []
    for i in range(count):
        d = c.ok("device.create", {"name": "%s-%03d" % (prefix, (i * 37) % count)}, token=token)
        ids.append(eid(d["id"]))
        if customer is not None:
            c.ok("device.assign", {"id": ids[-1], "customerId": customer}, token=token)
    return ids


def test_device_cursor_walk_matches_offset_paging(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = eid(c.ok("customer.create", {"title": unique("Owner")}, token=ta.token)["id"])
    prefix = unique("Dev")
    make_devices(c, ta.token, prefix, 31, customer=cu)
    make_devices(c, ta.token, prefix + "-free", 6)
    common = ({}, {"sortProperty": "createdTime", "sortOrder": "DESC"}, {"sortProperty": "createdTime"},
              {"sortProperty": "id", "sortOrder": "DESC"})
    by_name = ({"sortProperty": "name", "sortOrder": "ASC"}, {"sortProperty": "name", "sortOrder": "DESC"})
    for op, base, total, sorts in (("customer.devices", {"customerId": cu}, 31, common),
                                   ("device.list", {}, 37, common + by_name)):
        for sort in sorts:
            for search in ({}, {"textSearch": prefix.upper()}):
                data = dict(base, pageSize=4, **sort, **search)
                rows, pages = walk(c, ta.token, data, op=op)
                want = expect(c.request(op, dict(base, pageSize=100, page=0, **sort, **search), token=ta.token),
                              200)
                check(want["totalElements"] == total, "%s total %d" % (op, total), want["totalElements"])
                check([eid(r["id"]) for r in rows] == [eid(r["id"]) for r in want["data"]],
                      "%s cursor order differs for %r" % (op, sort), [r["name"] for r in rows])
                check(pages == (total + 3) // 4, "%s: %d rows in pages of 4" % (op, total), pages)
        d = expect(c.request(op, dict(base, pageSize=5, type="default"), token=ta.token), 200)
        check(d["totalElements"] == total and "nextPageToken" in d, "type filter counts the same rows", d)
    # a customer's devices by name: offset paging only (no index of a customer's devices by name)
    d = expect(c.request("customer.devices", {"customerId": cu, "pageSize": 4, "sortProperty": "name"},
                         token=ta.token), 200)
    check(d["hasNext"] and "nextPageToken" not in d and d["totalElements"] == 31, "no cursor by name", d)


def test_device_cursor_errors(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = eid(c.ok("customer.create", {"title": unique("Owner")}, token=ta.token)["id"])
    make_devices(c, ta.token, unique("E"), 3, customer=cu)
    d = expect(c.request("device.list", {"pageSize": 1, "sortProperty": "name"}, token=ta.token), 200)
    tok = d["nextPageToken"]
    for op, base, works in (("customer.devices", {"customerId": cu}, "createdTime or id"),
                            ("device.list", {}, "createdTime, name or id"), ("asset.list", {}, "createdTime, name or id"),
                            ("customer.assets", {"customerId": cu}, "createdTime or id"),
                            ("customer.edges", {"customerId": cu}, "createdTime or id")):
        expect(c.request(op, dict(base, pageSize=1, pageToken="0g"), token=ta.token), 400, 31,
               message="Invalid pageToken")
        expect(c.request(op, dict(base, pageSize=1, pageToken=tok), token=ta.token), 400, 31,
               contains="pageToken was issued for sortProperty 'name'")
        expect(c.request(op, dict(base, pageSize=1, pageToken=tok, sortProperty="name", page=1), token=ta.token),
               400, 31, message="Use either page or pageToken, not both")
        expect(c.request(op, dict(base, pageSize=1, pageToken=tok, sortProperty="label"), token=ta.token), 400, 31,
               message="pageToken works with sortProperty " + works)
    d = expect(c.request("device.list", {"pageSize": 1, "sortProperty": "label"}, token=ta.token), 200)
    check("nextPageToken" not in d and d["hasNext"], "no cursor for an order it does not support", d)
    # another tenant's administrator may not list that customer, cursor or not
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("customer.devices", {"customerId": cu, "pageSize": 1, "pageToken": tok}, token=other.token),
           403, 20)
    d = expect(c.request("device.list", {"pageSize": 5, "pageToken": tok, "sortProperty": "name"},
                         token=other.token), 200)
    check(d["data"] == [], "a cursor leaked another tenant's rows", d)


def test_cursor_walk_sees_every_row_once_while_rows_change(env):
    """Between pages, devices are created before and after the cursor and unseen ones deleted: the
    walk returns, in order, every device that lived through it exactly once, and no deleted one."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = eid(c.ok("customer.create", {"title": unique("Owner")}, token=ta.token)["id"])
    prefix = unique("W")
    ids = make_devices(c, ta.token, prefix, 40, customer=cu)
    names = {}
    for i in ids:
        names[i] = c.ok("device.get", {"id": i}, token=ta.token)["name"]
    deleted, created = set(), {}
    step = [0]

    def between(rows):
        seen = {eid(r["id"]) for r in rows}
        k = step[0]
        step[0] += 1
        for name in ("%s-%03d-a%d" % (prefix, k, k), "%s-000-b%d" % (prefix, k), "%s-zzz-%d" % (prefix, k)):
            d = c.ok("device.create", {"name": name}, token=ta.token)
            c.ok("device.assign", {"id": eid(d["id"]), "customerId": cu}, token=ta.token)
            created[eid(d["id"])] = name
        unseen = sorted(i for i in ids if i not in seen and i not in deleted)
        if len(unseen) > 2:
            victim = unseen[len(unseen) // 2]
            expect(c.request("device.delete", {"id": victim}, token=ta.token), 200)
            deleted.add(victim)

    for op, base, sort, key in (("device.list", {}, {"sortProperty": "name", "sortOrder": "ASC"}, lambda r: r["name"]),
                                ("customer.devices", {"customerId": cu}, {"sortProperty": "createdTime", "sortOrder": "DESC"},
                                 None)):
        rows, pages = walk(c, ta.token, dict(sort, pageSize=6, textSearch=prefix, **base), op=op, between=between)
        got = [eid(r["id"]) for r in rows]
        check(len(got) == len(set(got)), "a row came twice", sort)
        for i in ids:
            if i not in deleted:
                check(i in got, "device %s lived through the walk but was not returned" % names[i], sort)
        check(not (deleted & set(got)), "a device deleted before its page was returned", sort)
        if key is not None:
            check([key(r) for r in rows] == sorted(key(r) for r in rows), "rows out of order", sort)
        else:
            times = [(-r["createdTime"], eid(r["id"])) for r in rows]
            check(times == sorted(times), "rows out of createdTime DESC, id order", sort)
        ids = [i for i in ids if i not in deleted] + list(created)
        names.update(created)
        created = {}


def test_counts_stay_exact(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    prefix = unique("Cnt")
    a = eid(c.ok("customer.create", {"title": prefix + "-A"}, token=ta.token)["id"])
    b = eid(c.ok("customer.create", {"title": prefix + "-B"}, token=ta.token)["id"])

    def totals():
        out = {}
        for name, op, base in (("tenant", "device.list", {}), ("a", "customer.devices", {"customerId": a}),
                               ("b", "customer.devices", {"customerId": b}), ("customers", "customer.list", {})):
            if name == "a" and a is None:
                continue
            kept = expect(c.request(op, dict(base, pageSize=2), token=ta.token), 200)["totalElements"]
            # a filter that matches every row makes the agent COUNT them
            f = {"textSearch": prefix} if op == "customer.list" else {"type": "default"}
            counted = expect(c.request(op, dict(base, pageSize=2, **f), token=ta.token), 200)["totalElements"]
            check(kept == counted, "%s: kept count %d, COUNT %d" % (name, kept, counted))
            out[name] = kept
        return out

    check(totals() == {"tenant": 0, "a": 0, "b": 0, "customers": 2}, "empty tenant", totals())
    ids = make_devices(c, ta.token, prefix, 10, customer=a)
    make_devices(c, ta.token, prefix + "-free", 3)
    check(totals() == {"tenant": 13, "a": 10, "b": 0, "customers": 2}, "after create", totals())
    c.ok("device.assign", {"ids": ids[:4], "customerId": b}, token=ta.token)
    c.ok("device.unassign", {"id": ids[4]}, token=ta.token)
    c.ok("device.delete", {"id": ids[5]}, token=ta.token)
    c.ok("device.delete", {"id": ids[0]}, token=ta.token)
    check(totals() == {"tenant": 11, "a": 4, "b": 3, "customers": 2}, "after assign/unassign/delete", totals())
    c.ok("device.create", {"name": prefix + "-new", "customerId": b}, token=ta.token)
    check(totals() == {"tenant": 12, "a": 4, "b": 4, "customers": 2}, "after create with an owner", totals())
    expect(c.request("customer.delete", {"id": a}, token=ta.token), 200)
    a = None
    check(totals() == {"tenant": 12, "b": 4, "customers": 1}, "after customer delete", totals())
    expect(c.request("customer.delete", {"id": b}, token=ta.token), 200)
    d = expect(c.request("device.list", {"pageSize": 100, "type": "default"}, token=ta.token), 200)
    check(d["totalElements"] == 12 and all(r["customerId"]["id"] == NULL_UUID
                                           for r in d["data"]), "every device unassigned", d)


if __name__ == "__main__":
    run_tests(globals(), Env)
