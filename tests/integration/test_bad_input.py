"""test_bad_input.py: malformed, hostile and oversized requests. Every one is answered with a
well-formed error (status, errorCode, message, timestamp), none crashes the agent, and data written
before is intact afterwards. The agent runs with max_payload 4096."""

import json
import random
import uuid

from helpers import (
    Env, check, eid, expect, make_customer, make_customer_user, make_tenant_admin, run_tests,
    unique)

MAX_PAYLOAD = 4096
SEED = 20240611

state = {}


def setup(env):
    if "ta" not in state:
        state["ta"] = make_tenant_admin(env.c, env.sys_token)
        state["customer"] = make_customer(env.c, state["ta"].token, title=unique("Keeper"), city="Kyiv",
                                          email="keeper@example.com")
    return state["ta"], state["customer"]


def test_malformed_json(env):
    setup(env)
    for raw in (b'{"data":', b"{not json}", b"", b"\xff\xfe\x00garbage", b'{"token": "a",}', b"nul\x00l"):
        r = env.c.request("customer.list", raw_payload=raw)
        expect(r, 400, 31, context="malformed JSON %r" % raw)


def test_non_object_json(env):
    for raw in (b"[1,2,3]", b'"a string"', b"42", b"null", b"true"):
        r = env.c.request("agent.ping", raw_payload=raw)
        expect(r, 400, 31, context="non-object JSON %r" % raw)
    # data must be an object too
    ta, _ = setup(env)
    expect(env.c.request("customer.list", raw_payload=json.dumps({"token": ta.token, "data": [1]})), 400, 31)
    expect(env.c.request("customer.list", raw_payload=json.dumps({"token": ta.token, "data": "x"})), 400, 31)


def test_missing_and_invalid_token(env):
    setup(env)
    expect(env.c.request("customer.list", {"pageSize": 10, "page": 0}), 401, 10, context="missing token")
    expect(env.c.request("customer.list", {"pageSize": 10, "page": 0}, token="invalid-token"), 401, 10,
           context="invalid token")
    expect(env.c.request("customer.list", {"pageSize": 10, "page": 0}, token=""), 401, 10, context="empty token")
    expect(env.c.request("customer.list", {"pageSize": 10, "page": 0}, token="cma_" + "A" * 43), 401, 10,
           context="well-formed but unknown token")
    expect(env.c.request("customer.list", raw_payload=json.dumps({"token": 12345, "data": {}})), 401, 10,
           context="token of the wrong type")


def test_unknown_operation(env):
    ta, _ = setup(env)
    for op in ("customer.nope", "nosuchthing", "customer.create.extra", "CUSTOMER.CREATE"):
        r = env.c.request(op, {}, token=ta.token)
        expect(r, 400, 31, context="unknown op %s" % op)
    # anonymous too
    expect(env.c.request("agent.pong"), 400, 31)


def test_unknown_key_inside_data(env):
    ta, cu = setup(env)
    r = env.c.request("customer.create", {"title": unique("T"), "bogusKey": 1}, token=ta.token)
    expect(r, 400, 31, contains="bogusKey", context="unknown key in customer.create")
    r = env.c.request("customer.get", {"id": eid(cu["id"]), "extra": True}, token=ta.token)
    expect(r, 400, 31, contains="extra")
    r = env.c.request("customer.list", {"pageSize": 10, "page": 0, "pagesize": 3}, token=ta.token)
    expect(r, 400, 31, contains="pagesize")
    r = env.c.request("auth.login", {"email": "a@b.c", "password": "x", "remember": True})
    expect(r, 400, 31, contains="remember")
    # unknown envelope keys are ignored
    r = env.c.request("agent.ping", envelope_extra={"someFutureKey": {"x": 1}})
    expect(r, 200, context="unknown envelope key")


def test_wrong_types(env):
    ta, cu = setup(env)
    cases = [
        ("customer.create", {"title": 123}, "title"),
        ("customer.create", {"title": "x", "city": ["a"]}, "city"),
        ("customer.create", {"title": "x", "email": {"a": 1}}, "email"),
        ("customer.create", {"title": "x", "additionalInfo": "not an object"}, "additionalInfo"),
        ("customer.list", {"pageSize": "ten", "page": 0}, "pageSize"),
        ("customer.list", {"pageSize": 10, "page": "0"}, "page"),
        ("customer.list", {"pageSize": 10, "page": 0, "textSearch": 5}, "textSearch"),
        ("customer.list", {"pageSize": 10, "page": 0, "sortOrder": True}, "sortOrder"),
        ("customer.get", {"id": 42}, "id"),
        ("customer.update", {"id": eid(cu["id"]), "title": "x", "version": "one"}, "version"),
        ("customer.getByIds", {"ids": "not-a-list"}, "ids"),
        ("customer.delete", {"ids": [1, 2]}, "ids"),
        ("auth.login", {"email": ["a"], "password": "x"}, "email"),
        ("user.setEnabled", {"id": str(uuid.uuid4()), "enabled": "yes"}, "enabled"),
        ("event.replay", {"afterSeq": "0"}, "afterSeq"),
    ]
    for op, data, key in cases:
        token = None if op == "auth.login" else ta.token
        r = env.c.request(op, data, token=token)
        expect(r, 400, 31, contains=key, context="%s %s" % (op, json.dumps(data)))


def test_bad_uuid(env):
    ta, _ = setup(env)
    for bad in ("not-a-uuid", "", "123", "784f394c-42b6-435a-983c-b7beff2784fZ", "784f394c42b6435a983cb7beff2784f9x"):
        r = env.c.request("customer.get", {"id": bad}, token=ta.token)
        expect(r, 400, 31, context="bad UUID %r" % bad)
    r = env.c.request("customer.get", {"id": {"entityType": "CUSTOMER", "id": "zzz"}}, token=ta.token)
    expect(r, 400, 31, context="bad UUID inside an entity id")
    r = env.c.request("customer.getByIds", {"ids": [str(uuid.uuid4()), "bad"]}, token=ta.token)
    expect(r, 400, 31, context="bad UUID in ids")


def test_out_of_range_numbers_name_the_field(env):
    ta, _ = setup(env)
    r = env.c.request("apiKey.create", {"expiresIn": -1}, token=ta.token)
    expect(r, 400, 31, "expiresIn must be zero (never) or a positive number of ms up to 100 years (3153600000000)")
    for name in ("maxCustomers", "maxDashboards"):
        r = env.c.request("tenant.create", {"title": unique("Limits"), "limits": {name: -5}}, token=env.sys_token)
        expect(r, 400, 31, "limits.%s must be zero (no limit) or positive" % name)
    t = env.c.ok("tenant.get", {"id": ta.tenant_id}, token=env.sys_token)
    r = env.c.request("tenant.update", dict(t, limits={"maxUsers": -1}), token=env.sys_token)
    expect(r, 400, 31, "limits.maxUsers must be zero (no limit) or positive")


def test_entity_id_forms(env):
    ta, cu = setup(env)
    cid = eid(cu["id"])
    expect(env.c.request("customer.get", {"id": cid}, token=ta.token), 200, context="bare uuid")
    expect(env.c.request("customer.get", {"id": {"entityType": "CUSTOMER", "id": cid}}, token=ta.token), 200,
           context="entity id object")


def test_oversized_payload(env):
    ta, cu = setup(env)
    big = {"title": unique("Big"), "address": "x" * (MAX_PAYLOAD + 100)}
    r = env.c.request("customer.create", big, token=ta.token)
    expect(r, 413, 31, context="payload over max_payload")
    # just under the limit is fine (a dashboard's configuration may fill it: max_dashboard_configuration_size)
    pad = MAX_PAYLOAD - 400
    r = env.c.request("dashboard.create", {"title": unique("Fits"), "configuration": {"pad": "y" * pad}},
                      token=ta.token)
    expect(r, 200, context="payload under max_payload")
    # garbage over the limit is still 413, not a parse error
    r = env.c.request("customer.create", raw_payload=b"\x00" * (MAX_PAYLOAD * 3))
    expect(r, 413, 31, context="oversized garbage")
    # an MQTT 3.1.1 client has no Response Topic: its 413 still reaches its replyTo, with its correlationId
    with env.client(mqtt_version=3) as c3:
        r = c3.request("customer.create", big, token=ta.token)
        expect(r, 413, 31, context="oversized payload over MQTT 3.1.1")


def test_nul_in_strings(env):
    ta, _ = setup(env)
    r = env.c.request("customer.create", {"title": "abc\u0000def"}, token=ta.token)
    expect(r, 400, 31, context="NUL inside a title")


def _fuzz_payloads(rng, ops, token, cid_unknown):
    """~300 hostile payloads: (op, raw bytes)."""
    fields = {
        "customer.create": ["title", "country", "state", "city", "address", "address2", "zip", "phone", "email",
                            "additionalInfo", "externalId", "nameConflictPolicy", "uniquifySeparator",
                            "uniquifyStrategy"],
        "customer.update": ["id", "version", "title", "email", "additionalInfo"],
        "customer.patch": ["id", "version", "title", "zip"],
        "customer.list": ["pageSize", "page", "textSearch", "sortProperty", "sortOrder"],
        "customer.get": ["id"],
        "customer.getByIds": ["ids"],
        "customer.delete": ["id", "ids"],
        "customer.users": ["customerId", "pageSize", "page"],
        "user.create": ["email", "authority", "firstName", "lastName", "customerId", "tenantId",
                        "sendActivationMail"],
        "user.get": ["id"],
        "user.list": ["pageSize", "page", "tenantId"],
        "auth.login": ["email", "password"],
        "auth.activate": ["activateToken", "password"],
        "auth.checkActivateToken": ["activateToken"],
        "auth.refresh": ["refreshToken"],
        "apiKey.create": ["description", "expiresIn"],
        "event.replay": ["afterSeq", "limit"],
        "tenant.create": ["title", "limits"],
    }
    weird_values = [
        None, True, False, 0, -1, 1e308, -1e308, 2 ** 63, -(2 ** 63) - 1, 12345678901234567890123456789,
        0.5, "", " ", "\t\n", "x" * 300, "<script>alert(1)</script>", "{{constructor}}", "'; DROP TABLE customer;--",
        "%s%n%x", "\u202e\u0301", "😀" * 20, [], [None], [1, [2, [3]]], {}, {"id": None},
        {"entityType": "CUSTOMER", "id": cid_unknown}, cid_unknown, "ASC", "DESC", "UNIQUIFY", "INCREMENTAL",
    ]
    out = []
    # 1. seeded random bytes
    for _ in range(40):
        n = rng.randint(0, 300)
        out.append((rng.choice(ops), bytes(rng.getrandbits(8) for _ in range(n))))
    # 2. truncated valid JSON
    for _ in range(40):
        op = rng.choice(list(fields))
        doc = {"token": token, "data": {f: rng.choice(weird_values) for f in fields[op]}}
        text = json.dumps(doc)
        out.append((op, text[:rng.randint(0, max(0, len(text) - 1))].encode()))
    # 3. deep nesting
    for depth in (10, 100, 1000, 1500, 1900):
        out.append(("customer.create", ("{\"token\":\"%s\",\"data\":{\"additionalInfo\":%s1%s}}"
                                        % (token, "[" * depth, "]" * depth)).encode()[:3900]))
        out.append(("customer.create", (("{\"a\":" * depth) + "1" + ("}" * depth)).encode()[:3900]))
    # 4. huge numbers and odd numerics
    for num in ("1e999", "-1e999", "123456789012345678901234567890", "NaN", "Infinity", "0x10", "-0", "1.5e3"):
        for op in ("customer.list", "event.replay", "apiKey.create"):
            key = {"customer.list": "pageSize", "event.replay": "limit", "apiKey.create": "expiresIn"}[op]
            out.append((op, ('{"token":"%s","data":{"%s":%s,"page":0}}' % (token, key, num)).encode()
                        if op == "customer.list" else
                        ('{"token":"%s","data":{"%s":%s}}' % (token, key, num)).encode()))
    # 5. wrong types for every known field
    for op, fs in fields.items():
        for f in fs:
            for v in rng.sample(weird_values, 4):
                data = {f: v}
                out.append((op, json.dumps({"token": token, "data": data}).encode()))
    # 6. random ops, some unknown, with random envelopes
    for _ in range(30):
        op = rng.choice(ops + ["x", "customer.", ".", "a" * 200, "customer.create/extra"])
        env = {rng.choice(["token", "data", "id", "replyTo", "correlationId", "junk"]): rng.choice(weird_values)
               for _ in range(rng.randint(0, 4))}
        if "replyTo" in env:
            del env["replyTo"]  # a reply topic of our own choosing would send the reply elsewhere
        out.append((op, json.dumps(env).encode()))
    rng.shuffle(out)
    return out


def test_fuzz_then_agent_still_healthy(env):
    ta, cu = setup(env)
    rng = random.Random(SEED)
    ops_reply = expect(env.c.request("agent.ops", token=ta.token), 200)
    ops = [o["name"] for o in ops_reply["ops"]]
    # keep the fuzz away from the tokens and users this test relies on
    ops = [o for o in ops if o not in ("auth.logout", "user.delete", "user.setEnabled", "tenant.delete")]
    payloads = _fuzz_payloads(rng, ops, ta.token, str(uuid.uuid4()))
    check(len(payloads) >= 300, "only %d fuzz payloads" % len(payloads))
    allowed = {200, 400, 401, 403, 404, 409, 413}
    bad = []
    for i, (op, raw) in enumerate(payloads):
        if len(op) > 200 or "/" in op or "+" in op or "#" in op:
            op = "x"
        r = env.c.request(op, raw_payload=raw, timeout=15)
        st = r.get("status")
        ok = st in allowed
        if ok and st != 200:
            ok = all(k in r for k in ("errorCode", "message", "timestamp")) and isinstance(r.get("message"), str)
        if not ok:
            bad.append((i, op, raw[:200], r))
    check(not bad, "%d fuzz replies were not well-formed 2xx/4xx replies:\n%s"
          % (len(bad), "\n".join("#%d %s %r -> %s" % (i, op, raw, json.dumps(r)) for i, op, raw, r in bad[:20])))
    # the agent is alive and the customer written before is intact
    expect(env.c.request("agent.ping"), 200, context="agent.ping after fuzzing")
    token = env.c.login(ta.email, ta.password)
    got = expect(env.c.request("customer.get", {"id": eid(cu["id"])}, token=token), 200)
    for k in ("title", "city", "email", "version", "createdTime"):
        check(got.get(k) == cu.get(k), "customer field %s changed by the fuzzing" % k, cu, got)


def test_customer_user_cannot_escalate_with_odd_input(env):
    ta, cu = setup(env)
    u = make_customer_user(env.c, ta.token, eid(cu["id"]))
    for data in ({"title": "x"}, {"title": "x", "tenantId": ta.tenant_id}):
        expect(env.c.request("customer.create", data, token=u.token), 403, 20)
    expect(env.c.request("tenant.list", {"pageSize": 10, "page": 0}, token=u.token), 403, 20)
    r = env.c.request("user.update", dict(u.user, id=eid(u.user["id"]), authority="TENANT_ADMIN",
                                          customerId=None), token=u.token)
    check(r.get("status") in (400, 403), "customer user changed its own authority", r)
    me = expect(env.c.request("user.get", {"id": u.user_id}, token=ta.token), 200)
    check(me["authority"] == "CUSTOMER_USER", "authority changed", me)
    check(eid(me["customerId"]) == eid(cu["id"]), "customer changed", me)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(agent_extra={"max_payload": str(MAX_PAYLOAD)}))
