"""test_field_limits.py: the sizes of free-form fields (issue 12, point 5). An additionalInfo of any
entity past max_json_field_size (16384 bytes), an address past max_text_field_length (1024
characters) and a dashboard configuration past max_dashboard_configuration_size answer 400
errorCode 31 naming the field and the limit, on create, update and patch; at the limit they are
stored. The issue's scenario, 200 user.update requests with a 250 kB additionalInfo and a request
id each, grew the database by 266 MB; now each is refused and the file grows by less than 1 MiB.
200 updates at the limit grow it by at most 4 times the limit each (the row is rewritten in place;
the event, the audit row and the stored first reply keep a copy of the entity each). A user holds
at most max_api_keys_per_user (100) API keys: 403 errorCode 41 past it."""

import json
import os

from helpers import (
    SYSADMIN_EMAIL, SYSADMIN_PASSWORD, Agent, Client, Env, check, eid, expect, make_customer, make_tenant_admin,
    run_tests, unique)

JSON_LIMIT = 16384
TEXT_LIMIT = 1024
CONFIG_LIMIT = 262144
REQUESTS = 200
API_KEYS = 100       # max_api_keys_per_user's default


def new_env():
    return Env()  # the defaults are what is tested


def info_of_size(n):
    """An additionalInfo whose compact JSON text is exactly n bytes."""
    doc = {"note": ""}
    doc["note"] = "x" * (n - len(json.dumps(doc, separators=(",", ":"))))
    return doc


def too_big(field, n, limit=JSON_LIMIT, setting="max_json_field_size"):
    return "Validation error: %s of %d bytes exceeds %s of %d bytes" % (field, n, setting, limit)


def test_additional_info_of_every_entity_is_bounded(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    at, over = info_of_size(JSON_LIMIT), info_of_size(JSON_LIMIT + 1)
    msg = too_big("additionalInfo", JSON_LIMIT + 1)

    expect(c.request("tenant.create", {"title": unique("T"), "additionalInfo": over}, token=env.sys_token),
           400, 31, msg, context="tenant.create")
    c.ok("tenant.create", {"title": unique("T"), "additionalInfo": at}, token=env.sys_token)
    expect(c.request("customer.create", {"title": unique("C"), "additionalInfo": over}, token=ta.token),
           400, 31, msg, context="customer.create")
    customer = make_customer(c, ta.token, additionalInfo=at)
    cid = eid(customer["id"])
    expect(c.request("customer.patch", {"id": cid, "additionalInfo": over}, token=ta.token), 400, 31, msg,
           context="customer.patch")
    expect(c.request("customer.update", dict(customer, additionalInfo=over), token=ta.token), 400, 31, msg,
           context="customer.update")
    user = c.ok("user.get", {"id": ta.user_id}, token=ta.token)
    expect(c.request("user.update", dict(user, additionalInfo=over), token=ta.token), 400, 31, msg,
           context="user.update")
    for op in ("device", "asset", "edge"):
        expect(c.request(op + ".create", {"name": unique(op), "additionalInfo": over}, token=ta.token), 400, 31,
               msg, context=op + ".create")
        made = c.ok(op + ".create", {"name": unique(op), "additionalInfo": at}, token=ta.token)
        expect(c.request(op + ".update", dict(made, additionalInfo=over), token=ta.token), 400, 31, msg,
               context=op + ".update")
    # what a failed write keeps is its audit row, which holds the message, not the entity
    rows = c.ok("audit.list", {"pageSize": 10, "page": 0, "entityType": "USER", "entityId": ta.user_id},
                token=ta.token)["data"]
    failed = [r for r in rows if r["actionStatus"] == "FAILURE"]
    check(failed and failed[0]["actionFailureDetails"] == msg and failed[0]["actionData"] == {},
          "the failed update's audit row", rows)


def test_address_and_dashboard_configuration_are_bounded(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    long_text = "é" * (TEXT_LIMIT + 1)  # characters, not bytes
    for field in ("address", "address2"):
        expect(c.request("customer.create", {"title": unique("C"), field: long_text}, token=ta.token), 400, 31,
               "Validation error: %s length must be equal or less than %d" % (field, TEXT_LIMIT), context=field)
        c.ok("customer.create", {"title": unique("C"), field: long_text[:TEXT_LIMIT]}, token=ta.token)
    expect(c.request("tenant.create", {"title": unique("T"), "address": long_text}, token=env.sys_token), 400, 31,
           "Validation error: address length must be equal or less than %d" % TEXT_LIMIT)

    # a configuration over the limit, inside max_payload: an agent of its own with a smaller limit
    prefix = "limits/v1"
    with Agent(env.port, agent_id="limits", extra={"topic_prefix": prefix, "max_dashboard_configuration_size": 1000}):
        with Client(env.port, prefix=prefix) as c2:
            sys_token = c2.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            ta2 = make_tenant_admin(c2, sys_token)
            config = info_of_size(1001)
            expect(c2.request("dashboard.create", {"title": "D", "configuration": config}, token=ta2.token), 400, 31,
                   too_big("configuration", 1001, 1000, "max_dashboard_configuration_size"))
            d = c2.ok("dashboard.create", {"title": "D", "configuration": info_of_size(1000)}, token=ta2.token)
            expect(c2.request("dashboard.update", {"id": eid(d["id"]), "title": "D", "configuration": config},
                              token=ta2.token), 400, 31,
                   too_big("configuration", 1001, 1000, "max_dashboard_configuration_size"))


def test_api_keys_per_user_are_bounded(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    corrs = [c.begin("apiKey.create", {"description": "key %d" % i}, token=ta.token) for i in range(API_KEYS)]
    for k in corrs:
        expect(c.result(k), 200)
    r = c.request("apiKey.create", {"description": "one more"}, token=ta.token)
    expect(r, 403, 41, "API keys limit reached")
    check(r.get("entityType") == "API_KEY" and r.get("limit") == API_KEYS, "the limit's reply", r)
    c.ok("apiKey.delete", {"id": c.ok("apiKey.list", token=ta.token)[0]["id"]}, token=ta.token)
    c.ok("apiKey.create", {"description": "in its place"}, token=ta.token)


def db_bytes(agent):
    return sum(os.path.getsize(p) for p in (agent.db, agent.db + "-wal") if os.path.exists(p))


def updates_grow_the_database_by(env, prefix, info, status):
    """Bytes the database file gained from REQUESTS user.update with info and a request id each."""
    with Agent(env.port, agent_id=prefix.replace("/", "-"), extra={"topic_prefix": prefix}) as agent:
        with Client(env.port, prefix=prefix) as c:
            sys_token = c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
            ta = make_tenant_admin(c, sys_token)
            user = c.ok("user.get", {"id": ta.user_id}, token=ta.token)
            user.pop("version")
        check(agent.stop() == 0, "the agent did not stop cleanly")
        before = db_bytes(agent)
        agent.start()
        with Client(env.port, prefix=prefix) as c:
            body = dict(user, additionalInfo=info)
            for i in range(REQUESTS):
                r = c.request("user.update", body, token=ta.token, id="grow-%d" % i, timeout=30)
                expect(r, status, context="user.update %d" % i)
        check(agent.stop() == 0, "the agent did not stop cleanly")
        return db_bytes(agent) - before


def test_the_issues_200_large_updates_grow_the_database_by_less_than_a_mebibyte(env):
    grown = updates_grow_the_database_by(env, "grow1/v1", {"note": "x" * 250000}, 400)
    print("    figures: %d user.update with a 250 kB additionalInfo grew the database by %d bytes" % (REQUESTS, grown))
    check(grown < 1 << 20, "the database grew by %d bytes" % grown)


def test_200_updates_at_the_limit_grow_it_by_at_most_four_limits_each(env):
    grown = updates_grow_the_database_by(env, "grow2/v1", info_of_size(JSON_LIMIT), 200)
    print("    figures: %d user.update with a %d-byte additionalInfo grew the database by %d bytes (%.1f limits each)"
          % (REQUESTS, JSON_LIMIT, grown, grown / REQUESTS / JSON_LIMIT))
    check(grown <= REQUESTS * 4 * JSON_LIMIT, "the database grew by %d bytes" % grown)


if __name__ == "__main__":
    run_tests(globals(), new_env)
