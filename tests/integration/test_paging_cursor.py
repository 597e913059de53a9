"""test_paging_cursor.py: customer.list with a cursor (pageToken). Walking the pages by cursor
gives exactly the rows of offset paging, in the same order, for each order a cursor supports;
offset pages hand out the cursor of their next page; bad tokens and mismatched orders answer 400."""

from helpers import Env, check, eid, expect, make_tenant_admin, run_tests, unique


def walk(c, token, data):
    """All pages by cursor, starting with an offset first page; returns the rows and the page count."""
    first = expect(c.request("customer.list", dict(data, page=0), token=token), 200)
    rows, pages = list(first["data"]), 1
    nxt = first.get("nextPageToken")
    check(first["hasNext"] == (nxt is not None), "nextPageToken iff hasNext", first)
    while nxt is not None:
        d = expect(c.request("customer.list", dict(data, pageToken=nxt), token=token), 200)
        check("totalElements" not in d and "totalPages" not in d, "a cursor page has no totals", d)
        rows += d["data"]
        pages += 1
        check(d["hasNext"] == ("nextPageToken" in d), "nextPageToken iff hasNext", d)
        nxt = d.get("nextPageToken")
        check(pages < 100, "cursor walk does not end")
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


if __name__ == "__main__":
    run_tests(globals(), Env)
