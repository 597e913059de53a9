"""test_strings_utf8.py: every string of a request is UTF-8 (docs/protocol.md 1.2). Invalid bytes
(the ff fe title of issue 11), overlong forms, encoded surrogates and lone surrogate escapes are
refused with 400 (errorCode 31) naming the field, in the data of several operations, inside a
batch, in envelope members and in keys; nothing is written for them, and every reply and event the
agent publishes decodes as UTF-8, also when a message quotes a cut value."""

import json

from helpers import (
    Env, check, eid, expect, make_tenant_admin, run_tests, unique)

state = {}

BAD = [
    ("ff fe", b"\xff\xfe", "a byte that cannot start a character"),
    ("overlong /", b"\xc0\xaf", "an overlong encoding"),
    ("overlong 3-byte", b"\xe0\x80\xaf", "an overlong encoding"),
    ("overlong 4-byte", b"\xf0\x80\x80\xaf", "an overlong encoding"),
    ("encoded surrogate", b"\xed\xa0\x80", "a UTF-16 surrogate (U+D800-U+DFFF)"),
    ("above U+10FFFF", b"\xf4\x90\x80\x80", "a code point above U+10FFFF"),
    ("cut short", b"\xe2\x82", "a character cut short"),
    ("lone high surrogate escape", b"\\ud800", "a lone surrogate escape \\uD800"),
    ("lone low surrogate escape", b"\\udc00", "a lone surrogate escape \\uDC00"),
    ("high surrogate then letter", b"\\ud83dx", "a lone surrogate escape \\uD83D"),
]


def setup(env):
    if "ta" not in state:
        state["ta"] = make_tenant_admin(env.c, env.sys_token)
    return state["ta"]


def raw_request(c, op, token, data_json, extra=b""):
    """A request whose data is the given raw JSON text (bytes)."""
    payload = b'{"token":' + json.dumps(token).encode() + extra + b',"data":' + data_json + b"}"
    return c.request(op, raw_payload=payload)


def test_bad_strings_in_data_name_the_field(env):
    ta = setup(env)
    cases = [
        ("customer.create", "title", lambda v: b'{"title":"T' + v + b'"}', ta.token),
        ("customer.create", "city", lambda v: b'{"title":"' + unique("C").encode() + b'","city":"' + v + b'"}', ta.token),
        ("device.create", "name", lambda v: b'{"name":"D' + v + b'","type":"default"}', ta.token),
        ("device.create", "type", lambda v: b'{"name":"' + unique("D").encode() + b'","type":"' + v + b'"}', ta.token),
        ("tenant.create", "title", lambda v: b'{"title":"' + v + b'"}', env.sys_token),
        ("user.create", "firstName", lambda v: b'{"email":"' + unique("u").lower().encode() + b'@test.local",'
         b'"authority":"TENANT_ADMIN","tenantId":"' + ta.tenant_id.encode() + b'","firstName":"' + v + b'"}',
         env.sys_token),
        ("customer.list", "textSearch", lambda v: b'{"pageSize":10,"textSearch":"' + v + b'"}', ta.token),
        ("dashboard.create", "configuration.x", lambda v: b'{"title":"' + unique("Db").encode()
         + b'","configuration":{"x":"' + v + b'"}}', ta.token),
    ]
    for op, field, make, token in cases:
        for label, raw, what in BAD:
            r = raw_request(env.c, op, token, make(raw))
            expect(r, 400, 31, message="'data.%s' is not valid UTF-8: %s" % (field, what),
                   context="%s %s %s" % (op, field, label))


def test_nothing_is_written_for_them(env):
    ta = setup(env)
    before = expect(env.c.request("customer.list", {"pageSize": 1}, token=ta.token), 200)["totalElements"]
    for _label, raw, _what in BAD:
        expect(raw_request(env.c, "customer.create", ta.token, b'{"title":"' + raw + b'"}'), 400, 31)
    after = expect(env.c.request("customer.list", {"pageSize": 1}, token=ta.token), 200)["totalElements"]
    check(after == before, "customers were created with invalid UTF-8 titles (%d -> %d)" % (before, after))


def test_keys_and_envelope_members(env):
    ta = setup(env)
    r = raw_request(env.c, "customer.create", ta.token, b'{"ti\xfftle":"x"}')
    expect(r, 400, 31, message="A key of 'data' is not valid UTF-8: a byte that cannot start a character")
    r = raw_request(env.c, "customer.create", ta.token, b'{"title":"x"}', extra=b',"\xc0\xafjunk":1')
    expect(r, 400, 31, message="A key of the request is not valid UTF-8: an overlong encoding")
    r = raw_request(env.c, "customer.create", ta.token, b'{"title":"x"}', extra=b',"correlationId":"\xff"')
    expect(r, 400, 31, message="'correlationId' is not valid UTF-8: a byte that cannot start a character")
    check("correlationId" not in r, "the invalid correlationId was echoed", r)
    r = raw_request(env.c, "customer.create", ta.token, b'{"title":"x"}', extra=b',"id":"\\udc00"')
    expect(r, 400, 31, message="'id' is not valid UTF-8: a lone surrogate escape \\uDC00")
    r = env.c.request("customer.create", raw_payload=b'{"token":"\xed\xa0\x80","data":{"title":"x"}}')
    expect(r, 400, 31, message="'token' is not valid UTF-8: a UTF-16 surrogate (U+D800-U+DFFF)")
    # U+0000 and a \u escape that is not four hex digits (cJSON made U+0000 of it)
    expect(raw_request(env.c, "customer.create", ta.token, b'{"title":"a\\u0000b"}'), 400, 31,
           message="Customer title should not contain 0x00 symbol!")
    expect(raw_request(env.c, "customer.create", ta.token, b'{"title":"a\\uZZZZb"}'), 400, 31,
           message="Malformed JSON: a \\u escape without four hex digits in 'data.title'")


def test_nul_names_the_field_as_thingsboard(env):
    """A U+0000 (escaped or raw) in a string of data names its field: the name an entity write saves
    with ThingsBoard's validateString message, any other field with its @NoNullChar message; in
    a key or an envelope member the one message for the request. Nothing is written."""
    ta = setup(env)
    title = unique("Nul").encode()
    cid = eid(env.c.ok("customer.create", {"title": unique("NulC")}, token=ta.token)["id"])
    cases = [
        ("customer.create", b'{"title":"a\\u0000b"}', ta.token, "Customer title should not contain 0x00 symbol!"),
        ("customer.create", b'{"title":"a\x00b"}', ta.token, "Customer title should not contain 0x00 symbol!"),
        ("customer.update", b'{"id":"' + cid.encode() + b'","title":"x\\u0000"}', ta.token,
         "Customer title should not contain 0x00 symbol!"),
        ("customer.create", b'{"title":"' + title + b'","email":"a\\u0000@b.c"}', ta.token,
         "Validation error: email should not contain 0x00 symbol"),
        ("customer.create", b'{"title":"' + title + b'","additionalInfo":{"description":"\\u0000"}}', ta.token,
         "Validation error: additionalInfo.description should not contain 0x00 symbol"),
        ("device.create", b'{"name":"D\\u0000","type":"default"}', ta.token, "Device name should not contain 0x00 symbol!"),
        ("device.create", b'{"name":"' + title + b'","type":"\\u0000"}', ta.token,
         "Validation error: type should not contain 0x00 symbol"),
        ("asset.create", b'{"name":"\\u0000A","type":"default"}', ta.token, "Asset name should not contain 0x00 symbol!"),
        ("edge.create", b'{"name":"\\u0000E","type":"default","secret":"s","routingKey":"k"}', ta.token,
         "Edge name should not contain 0x00 symbol!"),
        ("dashboard.create", b'{"title":"\\u0000"}', ta.token, "Dashboard title should not contain 0x00 symbol!"),
        ("tenant.create", b'{"title":"T\\u0000"}', env.sys_token, "Tenant title should not contain 0x00 symbol!"),
        ("customer.findByTitle", b'{"title":"T\\u0000"}', ta.token,
         "Validation error: title should not contain 0x00 symbol"),
        ("customer.getByIds", b'{"ids":["\\u0000"]}', ta.token, "Validation error: ids[0] should not contain 0x00 symbol"),
        ("batch", b'{"commands":[{"op":"customer.create","data":{"title":"\\u0000"}}]}', ta.token,
         "Validation error: commands[0].data.title should not contain 0x00 symbol"),
        ("customer.create", b'{"ti\\u0000tle":"x"}', ta.token, "Request strings should not contain 0x00 symbol!"),
    ]
    for op, data, token, message in cases:
        expect(raw_request(env.c, op, token, data), 400, 31, message=message, context=op)
    r = raw_request(env.c, "customer.create", ta.token, b'{"title":"x"}', extra=b',"correlationId":"\\u0000"')
    expect(r, 400, 31, message="Request strings should not contain 0x00 symbol!")
    found = expect(env.c.request("customer.list", {"pageSize": 10, "textSearch": title.decode()}, token=ta.token), 200)
    check(found["totalElements"] == 0, "a customer was written by a refused request", found)


def test_inside_a_batch(env):
    ta = setup(env)
    data = (b'{"commands":[{"op":"customer.create","data":{"title":"' + unique("B").encode() + b'"}},'
            b'{"op":"customer.create","data":{"title":"\xff\xfe"}}]}')
    r = raw_request(env.c, "batch", ta.token, data)
    expect(r, 400, 31, message="'data.commands[1].data.title' is not valid UTF-8: a byte that cannot start a character")


def test_mqtt311_client_gets_the_400_on_its_reply_to(env):
    ta = setup(env)
    with env.client(mqtt_version=3) as c3:
        payload = (b'{"token":' + json.dumps(ta.token).encode() + b',"replyTo":' + json.dumps(c3.reply_topic).encode()
                   + b',"correlationId":"utf8-1","data":{"title":"\xff\xfe"}}')
        corr = b"utf8-1"
        c3.publish("cm/v1/req/customer.create", payload)
        r = c3.result(corr)
        expect(r, 400, 31, message="'data.title' is not valid UTF-8: a byte that cannot start a character")


def test_valid_text_of_every_plane_still_passes(env):
    ta = setup(env)
    title = unique("Caf\u00e9 \u65e5\u672c \U0001F600 \ufffd")
    d = env.c.ok("customer.create", {"title": title}, token=ta.token)
    check(d["title"] == title, "title changed", d)
    # an escaped surrogate pair is one character, not a lone surrogate
    r = raw_request(env.c, "customer.create", ta.token, b'{"title":"' + unique("Pair").encode() + b'\\ud83d\\ude00"}')
    check(expect(r, 200)["title"].endswith("\U0001F600"), "escaped pair not decoded", r)


def test_replies_and_events_stay_utf8_when_a_message_cuts_a_value(env):
    ta = setup(env)
    # "Invalid UUID string: %.64s" cuts this value inside its 32nd character
    r = env.c.request("customer.get", {"id": "a" + "\u00e9" * 40}, token=ta.token)
    check("_unparsable" not in r, "a cut value made the reply invalid UTF-8", r)
    expect(r, 400, 31, contains="Invalid UUID string: a\u00e9")
    r = env.c.request("customer.nosuch" + "\u00e9" * 100, {}, token=ta.token)
    check("_unparsable" not in r, "a cut operation name made the reply invalid UTF-8", r)
    for topic, body, _retain in env.events.snapshot():
        check("_unparsable" not in body, "an event is not UTF-8 on %s" % topic, body)


if __name__ == "__main__":
    run_tests(globals(), lambda: Env())
