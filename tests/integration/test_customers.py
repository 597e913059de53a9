"""test_customers.py: customer management, ported from ThingsBoard's CustomerControllerTest plus
the protocol's own operations (patch, findByTitle, getByIds, shortInfo, title, bulk delete),
permissions across tenants and authorities, limits, and the change events."""

import random
import re
import time
import uuid

from helpers import (
    Env, FORBIDDEN, check, dumps, eid, expect, make_customer, make_customer_user, make_tenant_admin,
    run_tests, unique
)


def list_all(c, token, page_size=100, **extra):
    """Every customer of the caller's tenant, reading page after page."""
    out, page = [], 0
    while True:
        d = expect(c.request("customer.list", dict({"pageSize": page_size, "page": page}, **extra), token=token),
                   200, context="customer.list page %d" % page)
        out += d["data"]
        if not d["hasNext"]:
            return out
        page += 1
        check(page < 10000, "customer.list never ends")


def events_since(env, mark):
    return env.events.snapshot()[mark:]


# ---------------------------------------------------------------------------------------------
# save / get / update


def test_save_customer(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    before = int(time.time() * 1000) - 5000
    saved = expect(c.request("customer.create", {
        "title": "My customer", "country": "US", "state": "NY", "city": "New York",
        "address": "42 Broadway Suite 12-400", "address2": "", "zip": "10004", "phone": "+1(415)777-7777",
        "email": "example@company.com", "additionalInfo": {"description": "Regional customer"}},
        token=ta.token), 200, context="customer.create")
    check(isinstance(saved.get("id"), dict) and saved["id"].get("entityType") == "CUSTOMER", "id shape", saved)
    check(re.match(r"^[0-9a-f-]{36}$", eid(saved["id"]) or ""), "id is not a UUID", saved)
    check(isinstance(saved.get("createdTime"), int) and saved["createdTime"] >= before, "createdTime", saved)
    check(eid(saved.get("tenantId")) == ta.tenant_id, "tenantId is not the caller's tenant", saved)
    check(saved.get("title") == "My customer" and saved.get("name") == "My customer", "title/name", saved)
    check(saved.get("version") == 1, "a new customer has version 1", saved)
    for k, v in (("country", "US"), ("state", "NY"), ("city", "New York"), ("zip", "10004"),
                 ("phone", "+1(415)777-7777"), ("email", "example@company.com")):
        check(saved.get(k) == v, "field %s not stored" % k, saved)
    check((saved.get("additionalInfo") or {}).get("description") == "Regional customer", "additionalInfo", saved)

    # update by id (the whole document as read, with a new title)
    cid = eid(saved["id"])
    doc = dict(saved, title="My new customer")
    upd = expect(c.request("customer.update", doc, token=ta.token), 200, context="customer.update")
    check(upd["title"] == "My new customer" and upd["name"] == "My new customer", "title not updated", upd)
    check(upd["version"] == 2, "version did not rise to 2", upd)
    check(upd["createdTime"] == saved["createdTime"], "createdTime changed on update", saved, upd)
    got = expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)
    check(got == upd, "customer.get differs from the update's reply", upd, got)

    # a tenantId in the document is ignored (forced to the caller's tenant)
    other = str(uuid.uuid4())
    r = expect(c.request("customer.create", {"title": unique("Forced"), "tenantId": other}, token=ta.token), 200)
    check(eid(r["tenantId"]) == ta.tenant_id, "tenantId not forced", r)


def test_update_version_rules(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, title=unique("Versioned"))
    cid = eid(cu["id"])
    v1 = dict(cu)
    a = expect(c.request("customer.update", dict(v1, city="A"), token=ta.token), 200)
    check(a["version"] == 2, "version 2 expected", a)
    # the stale version 1 now conflicts
    r = c.request("customer.update", dict(v1, city="B"), token=ta.token)
    expect(r, 409, 35, "Customer was already changed by someone else", context="stale version")
    check(expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)["city"] == "A",
          "a conflicting update changed the customer")
    # a version from the future conflicts as well
    expect(c.request("customer.update", dict(a, version=99, city="C"), token=ta.token), 409, 35)
    # without a version the save is a forced overwrite and the version still rises
    doc = dict(v1, city="Forced")
    del doc["version"]
    f = expect(c.request("customer.update", doc, token=ta.token), 200, context="update without version")
    check(f["city"] == "Forced" and f["version"] == 3, "forced overwrite", f)
    # a save that changes nothing still increments the version
    same = expect(c.request("customer.update", f, token=ta.token), 200)
    check(same["version"] == 4, "an unchanged save must still increment the version", same)
    # update of an unknown id: 404
    missing = str(uuid.uuid4())
    expect(c.request("customer.update", dict(f, id=missing), token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % missing)


def test_validation_messages(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cases = [
        ({"title": "a" * 256}, "Validation error: title length must be equal or less than 255"),
        ({"title": unique("Zip"), "zip": "1" * 256}, "Validation error: zip or postal code length must be equal or less than 255"),
        ({"title": unique("Country"), "country": "c" * 256}, "Validation error: country length must be equal or less than 255"),
        ({"title": unique("Email"), "email": "invalid@mail"}, "Invalid email address format 'invalid@mail'!"),
        ({"title": unique("Email"), "email": "x"}, "Invalid email address format 'x'!"),
        ({"title": ""}, "Customer title should be specified!"),
        ({"title": "   "}, "Customer title should be specified!"),
        ({"city": "Nowhere"}, "Customer title should be specified!"),
        ({"title": "Public"}, "'Public' title for customer is system reserved!"),
        ({"title": "<script>alert('XSS')</script>"}, "Validation error: title is malformed"),
        ({"title": unique("Xss"), "city": "<script>alert(1)</script>"}, "Validation error: city is malformed"),
    ]
    for data, msg in cases:
        r = c.request("customer.create", data, token=ta.token)
        expect(r, 400, 31, msg, context="customer.create %s" % dumps(data)[:120])
    # 255 characters is fine; address and address2 have no length limit
    ok = expect(c.request("customer.create", {"title": "b" * 255, "address": "a" * 1000, "address2": "z" * 600},
                          token=ta.token), 200, context="255-char title and long address")
    check(len(ok["address"]) == 1000, "address truncated", ok)
    # an empty email is allowed
    expect(c.request("customer.create", {"title": unique("NoEmail"), "email": ""}, token=ta.token), 200)
    # the same rules apply on update
    cu = make_customer(c, ta.token)
    expect(c.request("customer.update", dict(cu, title="Public"), token=ta.token), 400, 31,
           "'Public' title for customer is system reserved!")
    expect(c.request("customer.update", dict(cu, email="bad"), token=ta.token), 400, 31,
           "Invalid email address format 'bad'!")


def test_duplicate_title(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    title = unique("Dup")
    make_customer(c, ta.token, title=title)
    expect(c.request("customer.create", {"title": title}, token=ta.token), 400, 31,
           "Customer with such title already exists!")
    # uniqueness is case-sensitive and per tenant
    expect(c.request("customer.create", {"title": title.upper()}, token=ta.token), 200)
    other = make_tenant_admin(c, env.sys_token)
    expect(c.request("customer.create", {"title": title}, token=other.token), 200,
           context="same title in another tenant")
    # renaming onto an existing title fails too
    second = make_customer(c, ta.token)
    expect(c.request("customer.update", dict(second, title=title), token=ta.token), 400, 31,
           "Customer with such title already exists!")


def test_other_tenant_is_forbidden(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tb = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    expect(c.request("customer.get", {"id": cid}, token=tb.token), 403, 20, FORBIDDEN)
    expect(c.request("customer.shortInfo", {"id": cid}, token=tb.token), 403, 20)
    expect(c.request("customer.title", {"id": cid}, token=tb.token), 403, 20)
    expect(c.request("customer.update", dict(cu, title="Stolen"), token=tb.token), 403, 20, FORBIDDEN)
    expect(c.request("customer.patch", {"id": cid, "city": "Stolen"}, token=tb.token), 403, 20)
    expect(c.request("customer.delete", {"id": cid}, token=tb.token), 403, 20, FORBIDDEN)
    r = expect(c.request("customer.delete", {"ids": [cid]}, token=tb.token), 200)
    check(r["results"][0]["status"] == 403, "bulk delete of a foreign customer", r)
    got = expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)
    check(got["title"] == cu["title"] and got["version"] == cu["version"], "foreign calls changed the customer",
          cu, got)
    lst = list_all(c, tb.token)
    check(all(eid(x["id"]) != cid for x in lst), "another tenant's customer is listed", lst)
    expect(c.request("customer.findByTitle", {"title": cu["title"]}, token=tb.token), 404, 32)


def test_find_by_id_and_delete(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, city="Lviv")
    cid = eid(cu["id"])
    got = expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)
    check(got == cu, "customer.get differs from create's reply", cu, got)
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
    expect(c.request("customer.get", {"id": cid}, token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % cid)
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % cid)
    # the title is free again
    expect(c.request("customer.create", {"title": cu["title"]}, token=ta.token), 200)


def test_paging_135_customers(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    created = set()
    corrs = [c.begin("customer.create", {"title": "Paged customer %03d" % i}, token=ta.token) for i in range(135)]
    for corr in corrs:
        created.add(eid(expect(c.result(corr, timeout=30), 200)["id"]))
    check(len(created) == 135, "135 distinct ids expected, got %d" % len(created))
    seen, page = [], 0
    while True:
        d = expect(c.request("customer.list", {"pageSize": 23, "page": page}, token=ta.token), 200)
        check(d["totalElements"] == 135 and d["totalPages"] == 6, "totals for pageSize 23", d)
        check(d["hasNext"] == (page < 5), "hasNext on page %d" % page, d)
        check(len(d["data"]) == (23 if page < 5 else 135 - 5 * 23), "items on page %d" % page, d)
        seen += [eid(x["id"]) for x in d["data"]]
        if not d["hasNext"]:
            break
        page += 1
    check(page == 5, "expected 6 pages, read %d" % (page + 1))
    check(len(seen) == 135 and set(seen) == created, "paged ids differ from the created set")
    # the default order is id ASC
    check(seen == sorted(seen), "default order is not id ascending", seen[:10])
    # beyond the end: empty, no next
    d = expect(c.request("customer.list", {"pageSize": 23, "page": 6}, token=ta.token), 200)
    check(d["data"] == [] and d["hasNext"] is False and d["totalElements"] == 135, "page beyond the end", d)


def test_search_by_contact_fields_and_sort(env):
    """customer.list email, phone, city, country (ThingsBoard #4799, #15303): each the start of that
    field, ASCII case ignored, all given must match, combined with textSearch and paging; sorting
    by those fields ignores ASCII case; another tenant's customers are never found."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    rows = [
        ("Kyiv One", "one@acme.example", "+380 44 111", "Kyiv", "UA"),
        ("Kyiv Two", "Two@Acme.example", "+380 44 222", "kyiv", "UA"),
        ("Lviv", "lviv@other.example", "+380 32 333", "Lviv", "UA"),
        ("Boston", "bo@acme.example", "+1 617 444", "Boston", "US"),
        ("Berlin", "berlin@beta.example", "+49 30 555", "Berlin", "DE"),
        ("Nowhere", None, None, None, None),
    ]
    for title, email, phone, city, country in rows:
        d = {"title": title + " " + unique("s")}
        for k, v in (("email", email), ("phone", phone), ("city", city), ("country", country)):
            if v is not None:
                d[k] = v
        make_customer(c, ta.token, **d)
    other = make_tenant_admin(c, env.sys_token)
    make_customer(c, other.token, title="Kyiv Elsewhere", email="one@acme.example", city="Kyiv", country="UA")

    def titles(**q):
        d = expect(c.request("customer.list", dict({"pageSize": 100, "page": 0}, **q), token=ta.token), 200)
        check(d["totalElements"] == len(d["data"]), "totalElements counts the matches", q, d)
        return [x["title"].rsplit(" ", 1)[0] for x in d["data"]]

    check(sorted(titles(city="kyiv")) == ["Kyiv One", "Kyiv Two"], "city, case ignored", titles(city="kyiv"))
    check(sorted(titles(email="ONE@")) == ["Kyiv One"], "e-mail prefix", titles(email="ONE@"))
    check(sorted(titles(email="two@acme")) == ["Kyiv Two"], "e-mail prefix, case ignored")
    check(sorted(titles(phone="+380 44")) == ["Kyiv One", "Kyiv Two"], "phone prefix")
    check(sorted(titles(country="ua")) == ["Kyiv One", "Kyiv Two", "Lviv"], "country")
    check(sorted(titles(country="UA", phone="+380 3")) == ["Lviv"], "two filters together")
    check(titles(country="UA", textSearch="two") == ["Kyiv Two"], "a filter and textSearch")
    check(titles(city="Paris") == [], "no match")
    check(titles(email="%") == [] and titles(phone="_") == [], "'%' and '_' are literal")
    check(len(titles(city="")) == 6, "an empty filter is none")
    by_city = titles(sortProperty="city", sortOrder="ASC", country="UA")
    check(by_city[-1] == "Lviv" and sorted(by_city[:2]) == ["Kyiv One", "Kyiv Two"], "sort by city, case ignored", by_city)
    by_country = titles(sortProperty="country", sortOrder="DESC")
    check(by_country[0] == "Boston" and sorted(by_country[1:4]) == ["Kyiv One", "Kyiv Two", "Lviv"]
          and by_country[4:] == ["Berlin", "Nowhere"], "sort by country descending", by_country)
    emails = [x.get("email") for x in expect(c.request("customer.list", {"pageSize": 100, "sortProperty": "email",
                                                                          "sortOrder": "ASC", "email": "b"},
                                                        token=ta.token), 200)["data"]]
    check(emails == ["berlin@beta.example", "bo@acme.example"], "e-mail sort of a filtered page", emails)
    phones = [x.get("phone") for x in expect(c.request("customer.list", {"pageSize": 2, "page": 1, "sortProperty": "phone",
                                                                          "sortOrder": "ASC", "country": "UA"},
                                                        token=ta.token), 200)["data"]]
    check(phones == ["+380 44 222"], "the second page of a filtered, sorted listing", phones)
    # bad input
    expect(c.request("customer.list", {"pageSize": 10, "city": 5}, token=ta.token), 400, 31)
    expect(c.request("customer.list", {"pageSize": 10, "email": "x" * 256}, token=ta.token), 400, 31,
           "email length must be equal or less than 255")
    first = expect(c.request("customer.list", {"pageSize": 1, "sortProperty": "title"}, token=ta.token), 200)
    expect(c.request("customer.list", {"pageSize": 1, "sortProperty": "title", "city": "Kyiv",
                                       "pageToken": first["nextPageToken"]}, token=ta.token), 400, 31,
           "pageToken does not combine with email, phone, city or country")
    # a customer user cannot list customers at all
    cu = make_customer_user(c, ta.token, eid(make_customer(c, ta.token)["id"]))
    expect(c.request("customer.list", {"pageSize": 10, "city": "Kyiv"}, token=cu.token), 403, 20)


def test_text_search_and_sort(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    rng = random.Random(7)
    alpha = ["Customer Alpha %s" % "".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(31)]
    beta = ["Customer BETA %02d" % i for i in range(17)]
    titles = alpha + beta
    rng.shuffle(titles)
    ids = {}
    for t in titles:
        ids[t] = eid(make_customer(c, ta.token, title=t)["id"])
    # case-insensitive substring on title, paged
    got = list_all(c, ta.token, page_size=4, textSearch="alpha")
    check(sorted(x["title"] for x in got) == sorted(alpha), "textSearch 'alpha'", [x["title"] for x in got])
    got = list_all(c, ta.token, page_size=5, textSearch="Beta 0")
    check(sorted(x["title"] for x in got) == beta[:10], "textSearch 'Beta 0'", [x["title"] for x in got])
    d = expect(c.request("customer.list", {"pageSize": 4, "page": 0, "textSearch": "ALPHA"}, token=ta.token), 200)
    check(d["totalElements"] == 31 and d["totalPages"] == 8 and d["hasNext"], "totals with textSearch", d)
    d = expect(c.request("customer.list", {"pageSize": 4, "page": 0, "textSearch": "no such title"},
                         token=ta.token), 200)
    check(d["data"] == [] and d["totalPages"] == 0 and d["totalElements"] == 0 and d["hasNext"] is False,
          "empty search", d)
    # sort by title, both ways
    asc = [x["title"] for x in list_all(c, ta.token, page_size=7, sortProperty="title", sortOrder="ASC")]
    check(asc == sorted(titles), "sort by title ASC", asc)
    desc = [x["title"] for x in list_all(c, ta.token, page_size=7, sortProperty="title", sortOrder="DESC")]
    check(desc == sorted(titles, reverse=True), "sort by title DESC", desc)
    lower = [x["title"] for x in list_all(c, ta.token, page_size=50, sortProperty="title", sortOrder="desc")]
    check(lower == desc, "sortOrder is case-insensitive", lower)
    created = [x["createdTime"] for x in list_all(c, ta.token, sortProperty="createdTime", sortOrder="ASC")]
    check(created == sorted(created), "sort by createdTime", created)
    # delete the alpha ones: the search comes back empty
    r = expect(c.request("customer.delete", {"ids": [ids[t] for t in alpha]}, token=ta.token), 200)
    check(all(x["status"] == 200 for x in r["results"]), "bulk delete", r)
    d = expect(c.request("customer.list", {"pageSize": 4, "page": 0, "textSearch": "alpha"}, token=ta.token), 200)
    check(d["data"] == [] and d["totalElements"] == 0 and not d["hasNext"], "search after delete", d)


def test_paging_argument_errors(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    expect(c.request("customer.list", {"pageSize": 0, "page": 0}, token=ta.token), 400, 31,
           "Incorrect page link page size '0'. Page size must be greater than zero.")
    expect(c.request("customer.list", {"pageSize": -3, "page": 0}, token=ta.token), 400, 31,
           "Incorrect page link page size '-3'. Page size must be greater than zero.")
    expect(c.request("customer.list", {"pageSize": 10, "page": -1}, token=ta.token), 400, 31)
    expect(c.request("customer.list", {"pageSize": 10, "page": 0, "sortProperty": "title",
                                       "sortOrder": "x"}, token=ta.token), 400, 31,
           "Unsupported sort order 'x'! Only 'ASC' or 'DESC' types are allowed.")
    expect(c.request("customer.list", {"pageSize": 10, "page": 0, "sortProperty": "title; DROP TABLE customer"},
                     token=ta.token), 400, 31, "Invalid sort property")


def test_name_conflict_policy(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    base = "My unique customer"
    first = make_customer(c, ta.token, title=base)
    check(first["title"] == base, "first title", first)
    inc = {"nameConflictPolicy": "UNIQUIFY", "uniquifyStrategy": "INCREMENTAL"}
    r1 = expect(c.request("customer.create", dict(inc, title=base), token=ta.token), 200)
    check(r1["title"] == base + "_1", "INCREMENTAL first", r1)
    r2 = expect(c.request("customer.create", dict(inc, title=base), token=ta.token), 200)
    check(r2["title"] == base + "_2", "INCREMENTAL second", r2)
    rnd = expect(c.request("customer.create", {"title": base, "nameConflictPolicy": "UNIQUIFY"}, token=ta.token), 200)
    check(re.match(r"^%s_[A-Za-z0-9]{6}$" % re.escape(base), rnd["title"]), "RANDOM (the default strategy)", rnd)
    rnd2 = expect(c.request("customer.create", {"title": base, "nameConflictPolicy": "UNIQUIFY",
                                                "uniquifyStrategy": "RANDOM"}, token=ta.token), 200)
    check(re.match(r"^%s_[A-Za-z0-9]{6}$" % re.escape(base), rnd2["title"]) and rnd2["title"] != rnd["title"],
          "RANDOM", rnd2)
    sep = expect(c.request("customer.create", dict(inc, title=base, uniquifySeparator="-"), token=ta.token), 200)
    check(sep["title"] == base + "-1", "uniquifySeparator '-'", sep)
    # no conflict: the title is kept as given
    free = unique("Free title")
    r = expect(c.request("customer.create", dict(inc, title=free), token=ta.token), 200)
    check(r["title"] == free, "UNIQUIFY without a conflict must keep the title", r)
    # FAIL (explicit) still fails
    expect(c.request("customer.create", {"title": base, "nameConflictPolicy": "FAIL"}, token=ta.token), 400, 31,
           "Customer with such title already exists!")
    # on update, only when the title changes
    other = make_customer(c, ta.token)
    u = expect(c.request("customer.update", dict(other, title=base, **inc), token=ta.token), 200)
    check(u["title"].startswith(base + "_") and u["title"] not in (base, base + "_1", base + "_2"),
          "UNIQUIFY on rename", u)
    same = expect(c.request("customer.update", dict(u, city="X", **inc), token=ta.token), 200)
    check(same["title"] == u["title"], "an update that keeps its title must not be uniquified", u, same)


def test_patch(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token, city="Kyiv", country="UA", email="p@example.com",
                       additionalInfo={"description": "d", "keep": 1})
    cid = eid(cu["id"])
    p = expect(c.request("customer.patch", {"id": cid, "city": "Odesa"}, token=ta.token), 200, context="patch city")
    check(p["city"] == "Odesa" and p["country"] == "UA" and p["email"] == "p@example.com" and p["title"] == cu["title"],
          "patch changed other fields", cu, p)
    check(p["version"] == cu["version"] + 1, "patch must raise the version", p)
    # with the current version
    p2 = expect(c.request("customer.patch", {"id": cid, "version": p["version"], "zip": "65000"}, token=ta.token), 200)
    check(p2["zip"] == "65000" and p2["version"] == p["version"] + 1, "patch with version", p2)
    # stale version
    expect(c.request("customer.patch", {"id": cid, "version": p["version"], "zip": "1"}, token=ta.token), 409, 35,
           "Customer was already changed by someone else")
    # null removes a field (JSON merge patch); nested objects merge
    p3 = expect(c.request("customer.patch", {"id": cid, "email": None, "additionalInfo": {"keep": None, "x": 2}},
                          token=ta.token), 200)
    check(p3.get("email") in (None, ""), "email not removed", p3)
    check(p3["additionalInfo"] == {"description": "d", "x": 2}, "additionalInfo merge", p3)
    # validation still applies
    expect(c.request("customer.patch", {"id": cid, "title": "a" * 256}, token=ta.token), 400, 31,
           "Validation error: title length must be equal or less than 255")
    expect(c.request("customer.patch", {"id": cid, "title": "Public"}, token=ta.token), 400, 31,
           "'Public' title for customer is system reserved!")
    expect(c.request("customer.patch", {"id": cid, "email": "nope"}, token=ta.token), 400, 31,
           "Invalid email address format 'nope'!")
    expect(c.request("customer.patch", {"id": cid, "colour": "red"}, token=ta.token), 400, 31, contains="colour")
    missing = str(uuid.uuid4())
    expect(c.request("customer.patch", {"id": missing, "city": "x"}, token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % missing)
    final = expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)
    check(final == p3, "failed patches changed the customer", p3, final)


def test_find_by_title_get_by_ids_short_info_title(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tb = make_tenant_admin(c, env.sys_token)
    a = make_customer(c, ta.token, title=unique("Exact"))
    b = make_customer(c, ta.token)
    foreign = make_customer(c, tb.token)
    got = expect(c.request("customer.findByTitle", {"title": a["title"]}, token=ta.token), 200)
    check(eid(got["id"]) == eid(a["id"]), "findByTitle", got)
    expect(c.request("customer.findByTitle", {"title": a["title"].lower()}, token=ta.token), 404, 32,
           "Customer with title [%s] is not found" % a["title"].lower())
    expect(c.request("customer.findByTitle", {"title": "Nobody"}, token=ta.token), 404, 32,
           "Customer with title [Nobody] is not found")
    unknown = str(uuid.uuid4())
    lst = expect(c.request("customer.getByIds", {"ids": [eid(b["id"]), eid(foreign["id"]), unknown, eid(a["id"])]},
                           token=ta.token), 200)
    check(isinstance(lst, list), "getByIds answers an array", lst)
    check([eid(x["id"]) for x in lst] == [eid(b["id"]), eid(a["id"])], "getByIds keeps own ids in order", lst)
    lst = expect(c.request("customer.getByIds", {"ids": [{"entityType": "CUSTOMER", "id": eid(a["id"])}]},
                           token=ta.token), 200)
    check(len(lst) == 1 and lst[0]["title"] == a["title"], "getByIds with entity-id objects", lst)
    check(expect(c.request("customer.getByIds", {"ids": []}, token=ta.token), 200) == [], "empty ids")
    si = expect(c.request("customer.shortInfo", {"id": eid(a["id"])}, token=ta.token), 200)
    check(si == {"title": a["title"], "isPublic": False}, "shortInfo", si)
    pub = make_customer(c, ta.token, additionalInfo={"isPublic": True})
    si = expect(c.request("customer.shortInfo", {"id": eid(pub["id"])}, token=ta.token), 200)
    check(si["isPublic"] is True, "shortInfo isPublic from additionalInfo", si)
    t = expect(c.request("customer.title", {"id": eid(a["id"])}, token=ta.token), 200)
    check(t == {"title": a["title"]}, "customer.title", t)
    expect(c.request("customer.title", {"id": unknown}, token=ta.token), 404, 32,
           "Customer with id [%s] is not found" % unknown)


def test_bulk_delete_per_item_results(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    a = make_customer(c, ta.token)
    b = make_customer(c, ta.token)
    unknown = str(uuid.uuid4())
    ids = [eid(a["id"]), unknown, eid(b["id"])]
    r = expect(c.request("customer.delete", {"ids": ids}, token=ta.token), 200)
    res = r.get("results")
    check(isinstance(res, list) and len(res) == 3, "results", r)
    check([x["id"] for x in res] == ids, "results keep the order given", r)
    check([x["status"] for x in res] == [200, 404, 200], "statuses", r)
    check(res[1].get("errorCode") == 32 and res[1].get("message") == "Customer with id [%s] is not found" % unknown,
          "404 item", r)
    for x in (a, b):
        expect(c.request("customer.get", {"id": eid(x["id"])}, token=ta.token), 404, 32)
    expect(c.request("customer.delete", {"id": eid(a["id"]), "ids": [eid(b["id"])]}, token=ta.token), 400, 31)


def test_customers_limit(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token, limits={"maxCustomers": 2})
    make_customer(c, ta.token)
    second = make_customer(c, ta.token)
    r = c.request("customer.create", {"title": unique("Third")}, token=ta.token)
    expect(r, 403, 41, "Customers limit reached")
    # updates still work at the limit; a delete frees a slot
    expect(c.request("customer.patch", {"id": eid(second["id"]), "city": "X"}, token=ta.token), 200)
    expect(c.request("customer.delete", {"id": eid(second["id"])}, token=ta.token), 200)
    make_customer(c, ta.token)
    expect(c.request("customer.create", {"title": unique("Again")}, token=ta.token), 403, 41,
           "Customers limit reached")


def test_customer_user_permissions(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    mine = make_customer(c, ta.token)
    other = make_customer(c, ta.token)
    u = make_customer_user(c, ta.token, eid(mine["id"]))
    got = expect(c.request("customer.get", {"id": eid(mine["id"])}, token=u.token), 200, context="own customer")
    check(got["title"] == mine["title"], "own customer", got)
    expect(c.request("customer.shortInfo", {"id": eid(mine["id"])}, token=u.token), 200)
    expect(c.request("customer.title", {"id": eid(mine["id"])}, token=u.token), 200)
    expect(c.request("customer.get", {"id": eid(other["id"])}, token=u.token), 403, 20, FORBIDDEN)
    expect(c.request("customer.title", {"id": eid(other["id"])}, token=u.token), 403, 20)
    expect(c.request("customer.create", {"title": unique("ByUser")}, token=u.token), 403, 20, FORBIDDEN)
    expect(c.request("customer.update", dict(mine, city="X"), token=u.token), 403, 20)
    expect(c.request("customer.patch", {"id": eid(mine["id"]), "city": "X"}, token=u.token), 403, 20)
    expect(c.request("customer.delete", {"id": eid(mine["id"])}, token=u.token), 403, 20)
    expect(c.request("customer.list", {"pageSize": 10, "page": 0}, token=u.token), 403, 20)
    expect(c.request("customer.findByTitle", {"title": mine["title"]}, token=u.token), 403, 20)
    expect(c.request("customer.getByIds", {"ids": [eid(mine["id"])]}, token=u.token), 403, 20)
    expect(c.request("event.replay", {"afterSeq": 0, "limit": 10}, token=u.token), 403, 20)


def test_sysadmin_cannot_read_customers(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    expect(c.request("customer.get", {"id": eid(cu["id"])}, token=env.sys_token), 403, 20, FORBIDDEN)
    expect(c.request("customer.list", {"pageSize": 10, "page": 0}, token=env.sys_token), 403, 20)
    expect(c.request("customer.create", {"title": unique("BySys")}, token=env.sys_token), 403, 20)
    expect(c.request("customer.delete", {"id": eid(cu["id"])}, token=env.sys_token), 403, 20)


# ---------------------------------------------------------------------------------------------
# events


def _wait_event(env, pred, what, timeout=10):
    return env.events.wait_for(lambda t, b: isinstance(b, dict) and pred(t, b), timeout=timeout, what=what)


def test_events_one_per_write_gapless(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    prefix = "cm/v1/event/%s/CUSTOMER/" % ta.tenant_id
    time.sleep(0.3)
    mark = len(env.events.snapshot())

    cu = make_customer(c, ta.token, title=unique("Evented"))
    cid = eid(cu["id"])
    _, created = _wait_event(env, lambda t, b: t == prefix + "ENTITY_CREATED" and b["originator"]["id"] == cid,
                             "ENTITY_CREATED")
    check(created["type"] == "ENTITY_CREATED" and created["tenantId"] == ta.tenant_id, "created event", created)
    check(created["originator"] == {"entityType": "CUSTOMER", "id": cid}, "originator", created)
    check(isinstance(created["seq"], int) and isinstance(created["ts"], int), "seq/ts", created)
    check(created["data"]["title"] == cu["title"] and created["data"]["version"] == 1, "event data", created)
    md = created.get("metadata") or {}
    check(md.get("userId") == ta.user_id and md.get("userName") == ta.email and md.get("entityType") == "CUSTOMER"
          and md.get("entityName") == cu["title"], "metadata", created)

    # failed writes: duplicate title, stale version, validation, foreign tenant: no event
    expect(c.request("customer.create", {"title": cu["title"]}, token=ta.token), 400, 31)
    expect(c.request("customer.update", dict(cu, version=7), token=ta.token), 409, 35)
    expect(c.request("customer.patch", {"id": cid, "title": ""}, token=ta.token), 400, 31)
    upd = expect(c.request("customer.update", dict(cu, city="Evented city"), token=ta.token), 200)
    _, updated = _wait_event(env, lambda t, b: t == prefix + "ENTITY_UPDATED" and b["originator"]["id"] == cid,
                             "ENTITY_UPDATED")
    check(updated["seq"] == created["seq"] + 1, "failed writes produced events (or seq has a gap)", created, updated)
    check(updated["data"]["city"] == "Evented city" and updated["data"]["version"] == upd["version"],
          "updated event data", updated)
    expect(c.request("customer.patch", {"id": cid, "zip": "01001"}, token=ta.token), 200)
    _, patched = _wait_event(env, lambda t, b: t == prefix + "ENTITY_UPDATED" and b["seq"] == updated["seq"] + 1,
                             "ENTITY_UPDATED for the patch")
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
    _, deleted = _wait_event(env, lambda t, b: t == prefix + "ENTITY_DELETED" and b["originator"]["id"] == cid,
                             "ENTITY_DELETED")
    check(deleted["seq"] == patched["seq"] + 1, "gap before the delete event", patched, deleted)
    check(deleted.get("customerId") == cid, "a customer delete event carries the deleted id as customerId", deleted)
    time.sleep(0.5)
    mine = [(t, b) for t, b, _ in events_since(env, mark) if b.get("tenantId") == ta.tenant_id]
    check([b["type"] for _, b in mine] == ["ENTITY_CREATED", "ENTITY_UPDATED", "ENTITY_UPDATED", "ENTITY_DELETED"],
          "exactly one event per successful write", mine)
    for t, b in mine:
        check(t == prefix + b["type"], "topic does not match the event", t, b)
    # over everything seen so far, seq is gapless and strictly increasing (after de-duplication)
    seqs = sorted({b["seq"] for _, b, _ in env.events.snapshot() if isinstance(b, dict) and "seq" in b})
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq has gaps: %s" % seqs)
    retained = [t for t, b, r in env.events.snapshot() if r]
    check(not retained, "events must not be retained", retained)


def test_customer_delete_cascades_users(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    cu = make_customer(c, ta.token)
    cid = eid(cu["id"])
    u1 = make_customer_user(c, ta.token, cid)
    u2 = make_customer_user(c, ta.token, cid)
    key = expect(c.request("apiKey.create", {"description": "cu key"}, token=u1.token), 200)["key"]
    for tok in (u1.token, u2.token, key):
        expect(c.request("customer.get", {"id": cid}, token=tok), 200)
    time.sleep(0.3)
    mark = len(env.events.snapshot())
    expect(c.request("customer.delete", {"id": cid}, token=ta.token), 200)
    _wait_event(env, lambda t, b: b.get("type") == "ENTITY_DELETED" and b["originator"]["id"] == cid, "ENTITY_DELETED")
    time.sleep(0.5)
    mine = [b for _, b, _ in events_since(env, mark) if b.get("tenantId") == ta.tenant_id]
    check(len(mine) == 1 and mine[0]["originator"]["entityType"] == "CUSTOMER",
          "a customer delete emits exactly one ENTITY_DELETED and no per-user events", mine)
    for tok in (u1.token, u2.token, key):
        expect(c.request("customer.get", {"id": cid}, token=tok), 401, context="token of a deleted user")
    for u in (u1, u2):
        expect(c.request("auth.login", {"email": u.email, "password": u.password}), 401,
               context="login of a deleted user")
        expect(c.request("user.get", {"id": u.user_id}, token=ta.token), 404, 32)
    # the e-mail addresses are free again
    other = make_customer(c, ta.token)
    make_customer_user(c, ta.token, eid(other["id"]), email=u1.email, activate=False)


def test_event_replay(env):
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    tb = make_tenant_admin(c, env.sys_token)
    time.sleep(0.3)
    start = env.events.max_seq() or 0
    titles = []
    for i in range(5):
        titles.append(make_customer(c, ta.token, title=unique("Replay"))["title"])
        make_customer(c, tb.token, title=unique("Foreign"))
    cu = make_customer(c, ta.token)
    expect(c.request("customer.delete", {"id": eid(cu["id"])}, token=ta.token), 200)
    _wait_event(env, lambda t, b: b.get("type") == "ENTITY_DELETED" and b["originator"]["id"] == eid(cu["id"]),
                "the last event")
    d = expect(c.request("event.replay", {"afterSeq": start, "limit": 1000}, token=ta.token), 200)
    evs = d.get("events")
    check(isinstance(evs, list) and len(evs) == 7, "7 events of tenant A expected", d)
    seqs = [e["seq"] for e in evs]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > start, "replay order", seqs)
    check(all(e["tenantId"] == ta.tenant_id for e in evs), "replay leaks another tenant's events", evs)
    check([e["data"]["title"] for e in evs[:5]] == titles, "replayed titles", evs)
    live = sorted((b for _, b, _ in env.events.snapshot() if b.get("tenantId") == ta.tenant_id and b["seq"] > start),
                  key=lambda b: b["seq"])
    check([b["seq"] for b in live] == seqs, "replay differs from the live events", live, evs)
    for a, b in zip(live, evs):
        check(a == b, "a replayed event differs from the published one", a, b)
    # limit and afterSeq
    d = expect(c.request("event.replay", {"afterSeq": seqs[1], "limit": 2}, token=ta.token), 200)
    check([e["seq"] for e in d["events"]] == seqs[2:4], "afterSeq + limit", d)
    d = expect(c.request("event.replay", {"afterSeq": seqs[-1], "limit": 10}, token=ta.token), 200)
    check(d["events"] == [], "nothing after the last seq", d)
    expect(c.request("event.replay", {"afterSeq": 0, "limit": 10}, token=env.sys_token), 403, 20)


def test_if_equal_skip(env):
    """ifEqual "skip": a save that changes nothing answers 200 with the stored customer, keeps the
    version and emits no event; a real change is still saved; without the flag the version rises."""
    c = env.c
    ta = make_tenant_admin(c, env.sys_token)
    prefix = "cm/v1/event/%s/CUSTOMER/" % ta.tenant_id
    cu = make_customer(c, ta.token, title=unique("Skipped"))
    cid = eid(cu["id"])
    _wait_event(env, lambda t, b: t == prefix + "ENTITY_CREATED" and b["originator"]["id"] == cid, "ENTITY_CREATED")
    mark = len(env.events.snapshot())
    same = expect(c.request("customer.update", dict(cu, ifEqual="skip"), token=ta.token), 200, context="skip")
    check(same == cu, "an equal save with ifEqual skip must answer the unchanged customer", cu, same)
    nov = dict(cu, ifEqual="skip")
    del nov["version"]
    check(expect(c.request("customer.update", nov, token=ta.token), 200)["version"] == 1, "version kept")
    check(expect(c.request("customer.get", {"id": cid}, token=ta.token), 200)["version"] == 1, "stored version")
    expect(c.request("customer.update", dict(cu, ifEqual="maybe"), token=ta.token), 400, 31,
           "ifEqual must be update or skip")
    expect(c.request("customer.update", dict(cu, version=5, ifEqual="skip"), token=ta.token), 409, 35)
    changed = expect(c.request("customer.update", dict(cu, city="Moved", ifEqual="skip"), token=ta.token), 200)
    check(changed["city"] == "Moved" and changed["version"] == 2, "a change is saved under ifEqual skip", changed)
    _wait_event(env, lambda t, b: t == prefix + "ENTITY_UPDATED" and b["originator"]["id"] == cid, "ENTITY_UPDATED")
    forced = expect(c.request("customer.update", dict(changed, ifEqual="update"), token=ta.token), 200)
    check(forced["version"] == 3, "ifEqual update saves an equal customer again", forced)
    _wait_event(env, lambda t, b: t == prefix + "ENTITY_UPDATED" and b.get("data", {}).get("version") == 3,
                "ENTITY_UPDATED of version 3")
    time.sleep(0.3)
    mine = [b["data"]["version"] for t, b, _ in events_since(env, mark)
            if t == prefix + "ENTITY_UPDATED" and b["originator"]["id"] == cid]
    check(mine == [2, 3], "the skipped saves must not emit events", mine)
    rows = c.ok("audit.list", {"pageSize": 100, "page": 0, "entityType": "CUSTOMER"}, token=ta.token)["data"]
    ups = [r for r in rows if r["entityId"] and r["entityId"]["id"] == cid and r["actionType"] == "UPDATED"
           and r["actionStatus"] == "SUCCESS"]
    check(len(ups) == 4, "every permitted update request, skipped or not, leaves its audit row", ups)


if __name__ == "__main__":
    run_tests(globals(), Env)
