"""test_devices.py: devices, assets and edges, ported from ThingsBoard's DeviceControllerTest and
AssetControllerTest (save, validation, versions, assign / unassign / reassign, customer devices by
type and by text), plus the protocol's own additions: ids lists with per-item results, makePublic,
tenant limits, customer users' visibility and the ENTITY_ASSIGNED / ENTITY_UNASSIGNED events."""

import re
import uuid

from helpers import (
    Env, FORBIDDEN, NULL_UUID, check, eid, expect, last_seq, make_customer, make_customer_user,
    make_tenant_admin, run_tests, tenant_events, unique
)


def list_all(c, op, token, page_size=7, **extra):
    out, page = [], 0
    while True:
        d = expect(c.request(op, dict({"pageSize": page_size, "page": page}, **extra), token=token), 200,
                   context="%s page %d" % (op, page))
        out += d["data"]
        check(d["totalPages"] == (d["totalElements"] + page_size - 1) // page_size, "totalPages", d)
        if not d["hasNext"]:
            return out
        page += 1


def ids_of(items):
    return sorted(eid(x["id"]) for x in items)


# ---------------------------------------------------------------------------------------------
# save / get / update / delete


def test_save_device(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    d = expect(c.request("device.create", {"name": "My device", "type": "default", "label": "Kitchen",
                                           "additionalInfo": {"description": "first"}}, token=ta.token), 200)
    check(d["id"]["entityType"] == "DEVICE" and d["version"] == 1, "new device", d)
    check(eid(d["tenantId"]) == ta.tenant_id, "tenantId", d)
    check(d["customerId"] == {"entityType": "CUSTOMER", "id": NULL_UUID}, "unassigned device shows NULL_UUID", d)
    check(d["name"] == "My device" and d["type"] == "default" and d["label"] == "Kitchen", "fields", d)
    check(d["additionalInfo"] == {"description": "first"}, "additionalInfo", d)
    got = expect(c.request("device.get", {"id": eid(d["id"])}, token=ta.token), 200)
    check(got == d, "get differs from create", d, got)
    upd = expect(c.request("device.update", dict(d, name="My new device"), token=ta.token), 200)
    check(upd["name"] == "My new device" and upd["version"] == 2 and upd["createdTime"] == d["createdTime"],
          "update", upd)
    # type defaults to "default"
    d2 = expect(c.request("device.create", {"name": unique("Typeless")}, token=ta.token), 200)
    check(d2["type"] == "default", "type default", d2)
    # delete, then 404
    expect(c.request("device.delete", {"id": eid(d["id"])}, token=ta.token), 200)
    expect(c.request("device.get", {"id": eid(d["id"])}, token=ta.token), 404, 32,
           message="Device with id [%s] is not found" % eid(d["id"]))
    expect(c.request("device.delete", {"id": eid(d["id"])}, token=ta.token), 404, 32)


def test_device_validation(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    expect(c.request("device.create", {"type": "x"}, token=ta.token), 400, 31, message="Device name should be specified!")
    expect(c.request("device.create", {"name": "   "}, token=ta.token), 400, 31, message="Device name should be specified!")
    expect(c.request("device.create", {"name": "n" * 256}, token=ta.token), 400, 31,
           message="Validation error: name length must be equal or less than 255")
    expect(c.request("device.create", {"name": "<script>alert(1)</script>"}, token=ta.token), 400, 31,
           message="Validation error: name is malformed")
    name = unique("Dup")
    expect(c.request("device.create", {"name": name}, token=ta.token), 200)
    expect(c.request("device.create", {"name": name}, token=ta.token), 400, 31,
           message="Device with such name already exists!")
    # the same name is free in another kind and in another tenant
    expect(c.request("asset.create", {"name": name}, token=ta.token), 200)
    tb = make_tenant_admin(c, env.sys_token)
    expect(c.request("device.create", {"name": name}, token=tb.token), 200)
    # bad input
    expect(c.request("device.create", {"name": "x", "colour": "red"}, token=ta.token), 400, 31,
           message="Unknown key 'colour' in data")
    expect(c.request("device.create", {"name": 5}, token=ta.token), 400, 31, message="'name' must be a string")
    expect(c.request("device.create", {"id": str(uuid.uuid4()), "name": "x"}, token=ta.token), 400, 31, contains="'id'")
    expect(c.request("device.get", {"id": "not-a-uuid"}, token=ta.token), 400, 31, contains="Invalid UUID string")
    expect(c.request("device.get", {}, token=ta.token), 400, 31, message="'id' is required")
    expect(c.request("device.create", {"name": "x", "additionalInfo": [1]}, token=ta.token), 400, 31,
           message="'additionalInfo' must be a JSON object")
    expect(c.request("device.list", {"pageSize": 0}, token=ta.token), 400, 31,
           message="Incorrect page link page size '0'. Page size must be greater than zero.")
    expect(c.request("device.list", {"pageSize": 5, "sortProperty": "colour"}, token=ta.token), 400, 31,
           contains="Invalid sort property")
    # customerId on create must be a customer of the tenant
    expect(c.request("device.create", {"name": unique("D"), "customerId": str(uuid.uuid4())}, token=ta.token), 400, 31,
           message="Can't assign device to non-existent customer!")
    foreign = make_customer(c, tb.token)
    expect(c.request("device.create", {"name": unique("D"), "customerId": foreign["id"]}, token=ta.token), 400, 31,
           message="Can't assign device to customer from different tenant!")


def test_device_version_rules(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    d = c.ok("device.create", {"name": unique("Versioned")}, token=ta.token)
    a = expect(c.request("device.update", dict(d, label="a"), token=ta.token), 200)
    check(a["version"] == 2, "version 2", a)
    expect(c.request("device.update", dict(d, label="b"), token=ta.token), 409, 35,
           message="Device was already changed by someone else")
    forced = dict(d, label="c")
    forced["version"] = None
    f = expect(c.request("device.update", forced, token=ta.token), 200)
    check(f["version"] == 3 and f["label"] == "c", "null version forces the save", f)


def test_other_tenant_and_customer_user_permissions(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tb = make_tenant_admin(c, env.sys_token)
    d = c.ok("device.create", {"name": unique("Mine")}, token=ta.token)
    did = eid(d["id"])
    expect(c.request("device.get", {"id": did}, token=tb.token), 403, 20, message=FORBIDDEN)
    expect(c.request("device.update", dict(d, label="x"), token=tb.token), 403, 20)
    expect(c.request("device.delete", {"id": did}, token=tb.token), 403, 20)
    expect(c.request("device.get", {"id": did}, token=env.sys_token), 403, 20)
    cu = make_customer(c, ta.token)
    user = make_customer_user(c, ta.token, eid(cu["id"]))
    # not assigned yet: hidden from the customer user
    expect(c.request("device.get", {"id": did}, token=user.token), 403, 20)
    c.ok("device.assign", {"id": did, "customerId": eid(cu["id"])}, token=ta.token)
    got = expect(c.request("device.get", {"id": did}, token=user.token), 200)
    check(eid(got["customerId"]) == eid(cu["id"]), "customer user reads its device", got)
    # but no writes and no tenant listing
    expect(c.request("device.update", dict(got, label="mine"), token=user.token), 403, 20)
    expect(c.request("device.create", {"name": unique("X")}, token=user.token), 403, 20)
    expect(c.request("device.unassign", {"id": did}, token=user.token), 403, 20)
    expect(c.request("device.list", {"pageSize": 10}, token=user.token), 403, 20)
    # its own customer's listing, not another customer's
    page = expect(c.request("customer.devices", {"customerId": eid(cu["id"]), "pageSize": 10}, token=user.token), 200)
    check(ids_of(page["data"]) == [did], "customer user lists its devices", page)
    other = make_customer(c, ta.token)
    expect(c.request("customer.devices", {"customerId": eid(other["id"]), "pageSize": 10}, token=user.token), 403, 20)
    expect(c.request("customer.devices", {"customerId": eid(cu["id"]), "pageSize": 10}, token=tb.token), 403, 20)


# ---------------------------------------------------------------------------------------------
# assignment (DeviceControllerTest / AssetControllerTest)


def test_assign_unassign_device_to_customer(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, title=unique("My customer"))
    cid = eid(cu["id"])
    d = c.ok("device.create", {"name": unique("My device")}, token=ta.token)
    did = eid(d["id"])
    mark = last_seq(c, ta.token)
    assigned = expect(c.request("device.assign", {"id": did, "customerId": cid}, token=ta.token), 200)
    check(eid(assigned["customerId"]) == cid and assigned["version"] == 2, "assigned, version + 1", assigned)
    found = c.ok("device.get", {"id": did}, token=ta.token)
    check(eid(found["customerId"]) == cid, "stored owner", found)
    evs = tenant_events(c, ta.token, mark)
    check(len(evs) == 1 and evs[0]["type"] == "ENTITY_ASSIGNED", "one ENTITY_ASSIGNED", evs)
    ev = evs[0]
    check(ev["originator"] == {"entityType": "DEVICE", "id": did} and ev["customerId"] == cid, "originator", ev)
    md = ev["metadata"]
    check(md.get("assignedCustomerId") == cid and md.get("assignedCustomerName") == cu["title"] and
          md.get("customerId") == cid and md.get("entityType") == "DEVICE" and md.get("entityName") == d["name"] and
          md.get("userId") == ta.user_id and md.get("userName") == ta.email, "assign metadata", ev)
    check(eid(ev["data"]["customerId"]) == cid, "event data is the device after", ev)

    mark = last_seq(c, ta.token)
    un = expect(c.request("device.unassign", {"id": did}, token=ta.token), 200)
    check(eid(un["customerId"]) == NULL_UUID and un["version"] == 3, "unassigned", un)
    evs = tenant_events(c, ta.token, mark)
    check(len(evs) == 1 and evs[0]["type"] == "ENTITY_UNASSIGNED" and evs[0]["customerId"] == cid, "ENTITY_UNASSIGNED", evs)
    md = evs[0]["metadata"]
    check(md.get("unassignedCustomerId") == cid and md.get("unassignedCustomerName") == cu["title"], "unassign metadata", evs)
    expect(c.request("device.unassign", {"id": did}, token=ta.token), 400, 31,
           message="Device isn't assigned to any customer!")

    # assigning again to the same customer: no version change, still an event (ThingsBoard logs it)
    c.ok("device.assign", {"id": did, "customerId": cid}, token=ta.token)
    mark = last_seq(c, ta.token)
    again = c.ok("device.assign", {"id": did, "customerId": cid}, token=ta.token)
    check(again["version"] == 4, "same owner: no save", again)
    check([e["type"] for e in tenant_events(c, ta.token, mark)] == ["ENTITY_ASSIGNED"], "event even so")


def test_assign_device_to_non_existent_customer(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    d = c.ok("device.create", {"name": unique("D")}, token=ta.token)
    missing = str(uuid.uuid4())
    expect(c.request("device.assign", {"id": eid(d["id"]), "customerId": missing}, token=ta.token), 404, 32,
           message="Customer with id [%s] is not found" % missing)
    expect(c.request("device.assign", {"id": str(uuid.uuid4()), "customerId": eid(make_customer(c, ta.token)["id"])},
                     token=ta.token), 404, 32, contains="Device with id")
    expect(c.request("device.assign", {"id": eid(d["id"])}, token=ta.token), 400, 31, message="'customerId' is required")


def test_assign_device_to_customer_from_different_tenant(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tb = make_tenant_admin(c, env.sys_token)
    foreign = make_customer(c, tb.token)
    d = c.ok("device.create", {"name": unique("D")}, token=ta.token)
    expect(c.request("device.assign", {"id": eid(d["id"]), "customerId": eid(foreign["id"])}, token=ta.token),
           403, 20, message=FORBIDDEN)
    mine = make_customer(c, ta.token)
    expect(c.request("device.assign", {"id": eid(d["id"]), "customerId": eid(mine["id"])}, token=tb.token), 403, 20)
    check(eid(c.ok("device.get", {"id": eid(d["id"])}, token=ta.token)["customerId"]) == NULL_UUID, "unchanged")


def test_reassign_device_directly(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    a = make_customer(c, ta.token)
    b = make_customer(c, ta.token)
    d = c.ok("device.create", {"name": unique("D")}, token=ta.token)
    c.ok("device.assign", {"id": eid(d["id"]), "customerId": eid(a["id"])}, token=ta.token)
    mark = last_seq(c, ta.token)
    moved = c.ok("device.assign", {"id": eid(d["id"]), "customerId": eid(b["id"])}, token=ta.token)
    check(eid(moved["customerId"]) == eid(b["id"]), "moved to B", moved)
    evs = tenant_events(c, ta.token, mark)
    check([e["type"] for e in evs] == ["ENTITY_ASSIGNED"], "A to B: only ENTITY_ASSIGNED", evs)
    check(c.ok("customer.devices", {"customerId": eid(a["id"]), "pageSize": 10}, token=ta.token)["data"] == [], "A empty")
    check(ids_of(c.ok("customer.devices", {"customerId": eid(b["id"]), "pageSize": 10}, token=ta.token)["data"]) ==
          [eid(d["id"])], "B has it")


def test_find_customer_devices_by_type_and_text(env):
    """DeviceControllerTest.testFindCustomerDevicesByName / ByType, scaled down; assigns with ids."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    title1, title2 = "Device title 1", "Device title 2"
    made1 = [c.ok("device.create", {"name": "%s %d" % (title1, i), "type": "typeA"}, token=ta.token) for i in range(13)]
    made2 = [c.ok("device.create", {"name": "%s %d" % (title2, i), "type": "typeB"}, token=ta.token) for i in range(9)]
    unassigned = c.ok("device.create", {"name": title1 + " loose", "type": "typeA"}, token=ta.token)
    res = c.ok("device.assign", {"ids": [eid(d["id"]) for d in made1 + made2], "customerId": cid}, token=ta.token)
    check(len(res["results"]) == 22 and all(r["status"] == 200 for r in res["results"]), "bulk assign", res)
    check([r["id"] for r in res["results"]] == [eid(d["id"]) for d in made1 + made2], "results in order", res)

    by_text = list_all(c, "customer.devices", ta.token, customerId=cid, textSearch=title1)
    check(ids_of(by_text) == ids_of(made1), "text search (case-insensitive substring)", by_text)
    lower = list_all(c, "customer.devices", ta.token, customerId=cid, textSearch=title2.lower())
    check(ids_of(lower) == ids_of(made2), "case-insensitive", lower)
    by_type = list_all(c, "customer.devices", ta.token, customerId=cid, type="typeB")
    check(ids_of(by_type) == ids_of(made2), "type filter", by_type)
    all_of_customer = list_all(c, "customer.devices", ta.token, customerId=cid)
    check(ids_of(all_of_customer) == ids_of(made1 + made2), "all of the customer", all_of_customer)
    check(eid(unassigned["id"]) not in ids_of(all_of_customer), "unassigned one absent")
    # tenant listing: type filter and sort
    tenant_a = list_all(c, "device.list", ta.token, type="typeA")
    check(ids_of(tenant_a) == ids_of(made1 + [unassigned]), "device.list type filter", tenant_a)
    names = [x["name"] for x in list_all(c, "device.list", ta.token, sortProperty="name", sortOrder="DESC")]
    check(names == sorted(names, reverse=True), "sort by name DESC", names)
    # unassign everything of type A by ids; unknown id fails alone
    missing = str(uuid.uuid4())
    res = c.ok("device.unassign", {"ids": [eid(d["id"]) for d in made1] + [missing]}, token=ta.token)
    check([r["status"] for r in res["results"]] == [200] * 13 + [404], "per-item results", res)
    check(res["results"][-1]["errorCode"] == 32 and missing in res["results"][-1]["message"], "404 item", res)
    left = list_all(c, "customer.devices", ta.token, customerId=cid, type="typeA")
    check(left == [], "type A unassigned", left)
    expect(c.request("device.unassign", {"id": eid(made2[0]["id"]), "ids": [eid(made2[1]["id"])]}, token=ta.token),
           400, 31, message="Give either 'id' or 'ids', not both")


def test_assets_and_edges(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    a = expect(c.request("asset.create", {"name": unique("Building"), "type": "building"}, token=ta.token), 200)
    check(a["id"]["entityType"] == "ASSET" and a["type"] == "building", "asset", a)
    expect(c.request("asset.create", {"name": a["name"]}, token=ta.token), 400, 31,
           message="Asset with such name already exists!")
    expect(c.request("asset.create", {}, token=ta.token), 400, 31, message="Asset name should be specified!")
    expect(c.request("asset.unassign", {"id": eid(a["id"])}, token=ta.token), 400, 31,
           message="Asset isn't assigned to any customer!")
    c.ok("asset.assign", {"id": eid(a["id"]), "customerId": cid}, token=ta.token)
    check(ids_of(c.ok("customer.assets", {"customerId": cid, "pageSize": 5, "type": "building"}, token=ta.token)["data"])
          == [eid(a["id"])], "customer.assets")
    check(c.ok("customer.assets", {"customerId": cid, "pageSize": 5, "type": "room"}, token=ta.token)["data"] == [],
          "customer.assets type filter")

    e = expect(c.request("edge.create", {"name": unique("Edge"), "type": "gateway"}, token=ta.token), 200)
    check(e["id"]["entityType"] == "EDGE" and isinstance(e.get("routingKey"), str) and len(e["routingKey"]) > 0 and
          isinstance(e.get("secret"), str) and len(e["secret"]) >= 16, "edge with generated routingKey / secret", e)
    e2 = expect(c.request("edge.create", {"name": unique("Edge"), "routingKey": "rk-" + unique(), "secret": "s3cr3t"},
                          token=ta.token), 200)
    check(e2["secret"] == "s3cr3t", "given secret kept", e2)
    expect(c.request("edge.create", {"name": unique("Edge"), "routingKey": e2["routingKey"]}, token=ta.token), 400, 31,
           message="Edge with such routingKey already exists!")
    upd = c.ok("edge.update", {"id": eid(e["id"]), "name": e["name"], "label": "L"}, token=ta.token)
    check(upd["routingKey"] == e["routingKey"] and upd["secret"] == e["secret"], "routingKey/secret kept on update", upd)
    expect(c.request("edge.unassign", {"id": eid(e["id"])}, token=ta.token), 400, 31,
           message="Edge isn't assigned to any customer!")
    c.ok("edge.assign", {"ids": [eid(e["id"]), eid(e2["id"])], "customerId": cid}, token=ta.token)
    check(ids_of(c.ok("customer.edges", {"customerId": cid, "pageSize": 5}, token=ta.token)["data"]) ==
          sorted([eid(e["id"]), eid(e2["id"])]), "customer.edges")
    expect(c.request("asset.create", {"name": "x", "routingKey": "y"}, token=ta.token), 400, 31,
           message="Unknown key 'routingKey' in data")


def test_update_keeps_or_moves_owner(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    d = c.ok("device.create", {"name": unique("D"), "customerId": eid(cu["id"])}, token=ta.token)
    check(eid(d["customerId"]) == eid(cu["id"]), "created assigned", d)
    doc = {"id": eid(d["id"]), "name": d["name"], "label": "no owner given"}
    kept = c.ok("device.update", doc, token=ta.token)
    check(eid(kept["customerId"]) == eid(cu["id"]), "owner kept when customerId is absent", kept)
    cleared = c.ok("device.update", dict(kept, customerId={"entityType": "CUSTOMER", "id": NULL_UUID}), token=ta.token)
    check(eid(cleared["customerId"]) == NULL_UUID, "NULL_UUID unassigns through update", cleared)


def test_limits(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token, limits={"maxDevices": 2, "maxAssets": 1, "maxEdges": 1})
    c.ok("device.create", {"name": unique("D")}, token=ta.token)
    c.ok("device.create", {"name": unique("D")}, token=ta.token)
    r = c.request("device.create", {"name": unique("D")}, token=ta.token)
    expect(r, 403, 41, message="Devices limit reached")
    check(r.get("entityType") == "DEVICE" and r.get("limit") == 2, "limit body", r)
    c.ok("asset.create", {"name": unique("A")}, token=ta.token)
    expect(c.request("asset.create", {"name": unique("A")}, token=ta.token), 403, 41, message="Assets limit reached")
    c.ok("edge.create", {"name": unique("E")}, token=ta.token)
    expect(c.request("edge.create", {"name": unique("E")}, token=ta.token), 403, 41, message="Edges limit reached")


def test_name_conflict_policy(env):
    """nameConflictPolicy on device, asset, edge and dashboard create (ThingsBoard 4.2): FAIL by
    default, UNIQUIFY with uniquifySeparator (default "_") and uniquifyStrategy (RANDOM default,
    or INCREMENTAL); events carry the name as stored."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    bases = {}
    for kind, label in (("device", "Device"), ("asset", "Asset"), ("edge", "Edge")):
        base = bases[kind] = unique("Taken " + kind)
        first = expect(c.request(kind + ".create", {"name": base}, token=ta.token), 200)
        check(first["name"] == base, "first name", first)
        expect(c.request(kind + ".create", {"name": base}, token=ta.token), 400, 31,
               "%s with such name already exists!" % label)
        expect(c.request(kind + ".create", {"name": base, "nameConflictPolicy": "FAIL"}, token=ta.token), 400, 31,
               "%s with such name already exists!" % label)
        inc = {"nameConflictPolicy": "UNIQUIFY", "uniquifyStrategy": "INCREMENTAL"}
        r1 = expect(c.request(kind + ".create", dict(inc, name=base), token=ta.token), 200)
        r2 = expect(c.request(kind + ".create", dict(inc, name=base), token=ta.token), 200)
        check(r1["name"] == base + "_1" and r2["name"] == base + "_2", "INCREMENTAL", kind, r1, r2)
        rnd = expect(c.request(kind + ".create", {"name": base, "nameConflictPolicy": "UNIQUIFY"}, token=ta.token), 200)
        check(re.match(r"^%s_[A-Za-z0-9]{6}$" % re.escape(base), rnd["name"]), "RANDOM is the default", kind, rnd)
        sep = expect(c.request(kind + ".create", dict(inc, name=base, uniquifySeparator=" #"), token=ta.token), 200)
        check(sep["name"] == base + " #1", "uniquifySeparator", kind, sep)
        got = expect(c.request(kind + ".get", {"id": eid(r2["id"])}, token=ta.token), 200)
        check(got["name"] == base + "_2", "the uniquified name is stored", kind, got)
        free = unique("Free " + kind)
        check(expect(c.request(kind + ".create", dict(inc, name=free), token=ta.token), 200)["name"] == free,
              "no conflict keeps the name", kind)
        expect(c.request(kind + ".create", {"name": base, "nameConflictPolicy": "RENAME"}, token=ta.token), 400, 31,
               "nameConflictPolicy must be FAIL or UNIQUIFY")
        expect(c.request(kind + ".create", {"name": base, "nameConflictPolicy": "UNIQUIFY", "uniquifyStrategy": "NEXT"},
                         token=ta.token), 400, 31, "uniquifyStrategy must be RANDOM or INCREMENTAL")
        expect(c.request(kind + ".create", {"name": base, "nameConflictPolicy": "UNIQUIFY", "uniquifySeparator": "x" * 17},
                         token=ta.token), 400, 31, "uniquifySeparator must be at most 16 characters")
    # another tenant's names do not conflict
    other = make_tenant_admin(c, env.sys_token)
    mine = expect(c.request("device.create", {"name": bases["device"]}, token=ta.token), 400, 31)
    theirs = expect(c.request("device.create", {"name": bases["device"], "nameConflictPolicy": "UNIQUIFY"},
                              token=other.token), 200)
    check(theirs["name"] == bases["device"], "names of another tenant do not count", mine, theirs)
    # dashboards: titles may repeat (FAIL checks nothing, as ThingsBoard), UNIQUIFY makes them differ
    title = unique("Dash")
    d1 = expect(c.request("dashboard.create", {"title": title}, token=ta.token), 200)
    d2 = expect(c.request("dashboard.create", {"title": title}, token=ta.token), 200)
    check(d1["title"] == d2["title"] == title, "FAIL keeps a repeated dashboard title", d1, d2)
    d3 = expect(c.request("dashboard.create", {"title": title, "nameConflictPolicy": "UNIQUIFY",
                                               "uniquifyStrategy": "INCREMENTAL", "uniquifySeparator": "-"},
                          token=ta.token), 200)
    check(d3["title"] == title + "-1", "UNIQUIFY on a dashboard", d3)
    d4 = expect(c.request("dashboard.create", {"title": title, "nameConflictPolicy": "UNIQUIFY"}, token=ta.token), 200)
    check(re.match(r"^%s_[A-Za-z0-9]{6}$" % re.escape(title), d4["title"]), "RANDOM dashboard title", d4)
    expect(c.request("dashboard.create", {"title": title, "uniquifyStrategy": "x"}, token=ta.token), 400, 31,
           "uniquifyStrategy must be RANDOM or INCREMENTAL")


def test_make_public(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    d1 = c.ok("device.create", {"name": unique("Pub")}, token=ta.token)
    d2 = c.ok("asset.create", {"name": unique("Pub")}, token=ta.token)
    p1 = expect(c.request("device.makePublic", {"id": eid(d1["id"])}, token=ta.token), 200)
    p2 = expect(c.request("asset.makePublic", {"id": eid(d2["id"])}, token=ta.token), 200)
    pub = eid(p1["customerId"])
    check(pub != NULL_UUID and eid(p2["customerId"]) == pub, "one Public customer per tenant", p1, p2)
    info = c.ok("customer.shortInfo", {"id": pub}, token=ta.token)
    check(info == {"title": "Public", "isPublic": True}, "Public customer", info)
    got = c.ok("customer.get", {"id": pub}, token=ta.token)
    check(got["additionalInfo"] == {"isPublic": True}, "additionalInfo.isPublic", got)
    publics = [x for x in c.ok("customer.list", {"pageSize": 100}, token=ta.token)["data"] if x["title"] == "Public"]
    check(len(publics) == 1, "exactly one Public customer", publics)
    # the Public title stays reserved for ordinary customers
    expect(c.request("customer.create", {"title": "Public"}, token=ta.token), 400, 31,
           message="'Public' title for customer is system reserved!")
    # another tenant gets its own
    tb = make_tenant_admin(c, env.sys_token)
    d3 = c.ok("edge.create", {"name": unique("Pub")}, token=tb.token)
    p3 = c.ok("edge.makePublic", {"ids": [eid(d3["id"])]}, token=tb.token)["results"][0]
    check(p3["status"] == 200 and eid(p3["data"]["customerId"]) != pub, "per-tenant Public customer", p3)


if __name__ == "__main__":
    run_tests(globals(), Env)
