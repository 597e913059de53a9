"""test_input_limits.py: limits on what a request may carry that used to surface as something else:
a textSearch of any length answers 400 naming the field and its limit on every listing (not 500 from
SQLite's LIKE), and error messages that quote a client's text never cut a multi-byte character in
half (every reply stays valid UTF-8 JSON)."""

from helpers import (
    Env, check, eid, expect, make_customer, make_customer_user, make_tenant_admin, run_tests, unique)

LIMIT_MESSAGE = "textSearch length must be equal or less than 255"


def listings(env):
    """Every paged listing, with the data and the token it needs."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cid = eid(make_customer(c, ta.token)["id"])
    cu = make_customer_user(c, ta.token, cid)
    t = ta.token
    return [
        ("tenant.list", {}, env.sys_token),
        ("user.list", {"tenantId": ta.tenant_id}, env.sys_token),
        ("user.list", {}, t),
        ("user.list", {}, cu.token),
        ("customer.list", {}, t),
        ("customer.users", {"customerId": cid}, t),
        ("device.list", {}, t),
        ("asset.list", {}, t),
        ("edge.list", {}, t),
        ("dashboard.list", {}, t),
        ("customer.devices", {"customerId": cid}, t),
        ("customer.assets", {"customerId": cid}, t),
        ("customer.edges", {"customerId": cid}, t),
        ("customer.dashboards", {"customerId": cid}, t),
        ("customer.devices", {"customerId": cid}, cu.token),
        ("audit.list", {}, t),
    ]


def test_text_search_over_the_limit_answers_400_on_every_listing(env):
    c = env.c
    for op, data, token in listings(env):
        for text in ("x" * 50000, "%" * 25000, "\u00e9" * 256, "y" * 256):
            r = c.request(op, dict(data, pageSize=10, page=0, textSearch=text), token=token)
            expect(r, 400, 31, LIMIT_MESSAGE, context="%s with a textSearch of %d characters" % (op, len(text)))
        # at the limit it is an ordinary search (255 characters, two bytes each)
        expect(c.request(op, dict(data, pageSize=10, page=0, textSearch="\u00e9" * 255), token=token), 200,
               context=op)


def test_text_search_at_the_limit_still_finds(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    title = unique("T") + "\u00e9" * 200
    title = title[:255]
    cust = make_customer(c, ta.token, title=title)
    page = c.ok("customer.list", {"pageSize": 10, "page": 0, "textSearch": title}, token=ta.token)
    check([eid(x["id"]) for x in page["data"]] == [eid(cust["id"])], "found by its whole title", page)


def quoted_in(message, full):
    """The text message quotes of full: a prefix of it made of whole characters (the reply decoded)."""
    return isinstance(message, str) and any(full[:n] in message for n in range(1, len(full) + 1))


def test_messages_never_cut_a_character(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    odd = "a" + "\u00e9" * 600  # 1 + 1200 bytes: any cut at an even byte count splits a character
    cases = [
        ("user.create", {"email": unique("u") + "@test.local", "authority": odd}, ta.token,
         "authority must be SYS_ADMIN, TENANT_ADMIN or CUSTOMER_USER, not '"),
        ("customer.get", {"id": odd}, ta.token, "Invalid UUID string: "),
        ("customer.list", {"pageSize": 10, "sortOrder": odd}, ta.token, "Unsupported sort order '"),
        ("customer.list", {"pageSize": 10, "sortProperty": odd}, ta.token, "Invalid sort property '"),
        ("customer.get", {odd: 1}, ta.token, "Unknown key '"),
        (odd, {}, ta.token, "Unknown operation '"),
    ]
    for op, data, token, start in cases:
        r = c.request(op, data, token=token)
        expect(r, 400, 31, context=op[:20])
        msg = r["message"]
        check(msg.startswith(start) and quoted_in(msg, odd), "message of %s" % op[:20], r)
    # inside a batch: an unknown operation and an unknown key
    r = c.ok("batch", {"commands": [{"op": odd}, {"op": "customer.list", odd: 1}]}, token=ta.token)
    for resp, start in zip(r["responses"], ("Unknown operation '", "Unknown key '")):
        expect(resp, 400, 31)
        check(resp["message"].startswith(start) and quoted_in(resp["message"], odd), "batch message", resp)
    # a request id used for another operation
    rid = "\u00e9" * 64  # 128 bytes, the longest id
    c.ok("customer.create", {"title": unique("C")}, token=ta.token, id=rid)
    r = c.request("device.create", {"name": unique("D")}, token=ta.token, id=rid)
    expect(r, 400, 31)
    check(rid in r["message"], "the whole id is quoted", r)


if __name__ == "__main__":
    run_tests(globals(), Env)
