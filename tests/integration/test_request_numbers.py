"""test_request_numbers.py: huge numbers in every integer a request carries (pageSize, page, limit,
afterSeq, expiresIn, version, startTime, endTime, tenant limits, a batch's pageSize). Each is
answered with a clear 400 naming the field, or applied with its exact value; nothing overflows (the
sanitized build aborts on a signed overflow or a float-to-integer conversion that does not fit, so
the agent would die) and the agent answers afterwards."""

from helpers import (
    Env, check, eid, expect, make_customer, make_tenant_admin, run_tests, unique)

MAX_SAFE = 2 ** 53 - 1
HUGE = [2 ** 53, 2 ** 63, 2 ** 64 + 7, 10 ** 300, -(2 ** 63), -(10 ** 300)]

state = {}


def setup(env):
    if "ta" not in state:
        state["ta"] = make_tenant_admin(env.c, env.sys_token)
        state["customer"] = make_customer(env.c, state["ta"].token)
    return state["ta"], state["customer"]


def range_message(field):
    return "'%s' must be an integer from -9007199254740991 to 9007199254740991" % field


def test_integers_beyond_2_53_name_the_field(env):
    ta, cu = setup(env)
    cases = [
        ("customer.list", lambda v: {"pageSize": v}, "pageSize", ta.token),
        ("customer.list", lambda v: {"pageSize": 10, "page": v}, "page", ta.token),
        ("device.list", lambda v: {"pageSize": 10, "page": v}, "page", ta.token),
        ("user.list", lambda v: {"pageSize": v}, "pageSize", ta.token),
        ("audit.list", lambda v: {"pageSize": 10, "startTime": v}, "startTime", ta.token),
        ("audit.list", lambda v: {"pageSize": 10, "endTime": v}, "endTime", ta.token),
        ("event.replay", lambda v: {"afterSeq": v}, "afterSeq", ta.token),
        ("event.replay", lambda v: {"limit": v}, "limit", ta.token),
        ("apiKey.create", lambda v: {"expiresIn": v}, "expiresIn", ta.token),
        ("customer.update", lambda v: dict(cu, id=eid(cu["id"]), version=v), "version", ta.token),
        ("tenant.create", lambda v: {"title": unique("T"), "limits": {"maxDevices": v}}, "maxDevices", env.sys_token),
    ]
    for op, make, field, token in cases:
        for v in HUGE:
            r = env.c.request(op, make(v), token=token)
            expect(r, 400, 31, message=range_message(field), context="%s %s=%r" % (op, field, v))
    # 1e400 is no finite number: cJSON reads it as infinity
    r = env.c.request("customer.list", raw_payload='{"token":"%s","data":{"pageSize":1e400}}' % ta.token)
    expect(r, 400, 31, message=range_message("pageSize"))
    r = env.c.request("customer.list", raw_payload='{"token":"%s","data":{"pageSize":10,"page":-1e400}}' % ta.token)
    expect(r, 400, 31, message=range_message("page"))


def test_largest_safe_integers_do_not_overflow(env):
    ta, cu = setup(env)
    # page x pageSize is far beyond any table: refused as too deep, not multiplied
    for op in ("customer.list", "device.list", "user.list", "audit.list", "dashboard.list"):
        r = env.c.request(op, {"pageSize": 1000, "page": MAX_SAFE}, token=ta.token)
        expect(r, 400, 31, contains=["Page %d of size 1000" % MAX_SAFE, "max_page_offset"], context=op)
        r = env.c.request(op, {"pageSize": MAX_SAFE}, token=ta.token)
        expect(r, 400, 31, message="Incorrect page link page size '%d'. Page size must be at most 1000 (max_page_size)."
               % MAX_SAFE, context=op)
    expect(env.c.request("tenant.list", {"pageSize": 1, "page": MAX_SAFE}, token=env.sys_token), 400, 31,
           contains="max_page_offset")
    d = expect(env.c.request("event.replay", {"afterSeq": MAX_SAFE}, token=ta.token), 200)
    check(d["events"] == [], "events after seq 2^53-1", d)
    expect(env.c.request("event.replay", {"limit": MAX_SAFE}, token=ta.token), 400, 31,
           message="limit must be between 1 and 1000")
    century = 100 * 365 * 24 * 3600 * 1000
    expect(env.c.request("apiKey.create", {"expiresIn": MAX_SAFE}, token=ta.token), 400, 31,
           message="expiresIn must be zero (never) or a positive number of ms up to 100 years (%d)" % century)
    d = expect(env.c.request("apiKey.create", {"expiresIn": century}, token=ta.token), 200)
    check(isinstance(d.get("expiresAt"), int) and d["expiresAt"] - d["createdTime"] == century,
          "expiresAt of a 100-year key is not exact", d)
    r = env.c.request("customer.update", dict(cu, id=eid(cu["id"]), version=MAX_SAFE), token=ta.token)
    expect(r, 409, 35, context="customer.update with version 2^53-1")
    expect(env.c.request("audit.list", {"pageSize": 10, "startTime": MAX_SAFE, "endTime": 1}, token=ta.token), 400, 31)
    expect(env.c.request("audit.list", {"pageSize": 10, "startTime": 0, "endTime": MAX_SAFE}, token=ta.token), 200)
    t = expect(env.c.request("tenant.create", {"title": unique("T"), "limits": {"maxDevices": MAX_SAFE}},
                             token=env.sys_token), 200)
    check(t["limits"]["maxDevices"] == MAX_SAFE, "maxDevices 2^53-1 was not kept exactly", t)
    r = env.c.request("batch", {"commands": [{"op": "device.list", "data": {"pageSize": MAX_SAFE}}] * 3}, token=ta.token)
    expect(r, 400, 31, contains="max_batch_rows")
    r = env.c.request("batch", {"commands": [{"op": "device.list", "data": {"pageSize": 10 ** 300}}] * 100},
                      token=ta.token)
    expect(r, 400, 31, contains="max_batch_rows")


def test_agent_answers_afterwards(env):
    ta, _ = setup(env)
    expect(env.c.request("agent.ping"), 200)
    expect(env.c.request("customer.list", {"pageSize": 10}, token=ta.token), 200)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env())
