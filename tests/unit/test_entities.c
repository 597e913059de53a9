/* test_entities.c: devices, assets, edges and dashboards in core/entity.c and core/dashboard.c
 * against an in-memory store: validation, unique names, limits, single-owner assignment and its
 * events, the Public customer, dashboards' many customers, the delete cascade: its deferred,
 * chunked unassignment and the partial customer index that keeps each chunk cheap, the kept counts
 * of listings and the indexes of their orders. */
#include "fixture.h"

#include "cmagent/dashboard.h"
#include "cmagent/entity.h"
#include "cmagent/store_dashboard.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"
#include "cmagent/unassign.h"

static struct entity new_entity(enum entity_kind kind, const char *name)
{
    struct entity e = { 0 };
    e.kind = kind;
    e.name = name ? strdup(name) : NULL;
    return e;
}

static int create_entity(struct world *w, const struct user *as, enum entity_kind kind, const char *name,
                         struct entity *out)
{
    *out = new_entity(kind, name);
    act_as(&w->ctx, as);
    return TX(&w->ctx, entity_create(&w->ctx, out));
}

static void entities_validate_and_keep_names_unique_per_tenant(void)
{
    struct world w;
    struct entity e;
    world_open(&w);

    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, NULL, &e), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Device name should be specified!");
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_ASSET, " ", &e), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Asset name should be specified!");
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "Thermostat", &e), ERR_OK);
    CHECK_STR(e.type, "default");
    CHECK_INT(e.version, 1);
    CHECK_STR(e.customer_id, "");
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "Thermostat", &e), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Device with such name already exists!");
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_ASSET, "Thermostat", &e), ERR_OK); /* another kind */
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_b, ENTITY_DEVICE, "Thermostat", &e), ERR_OK); /* another tenant */
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_EDGE, "Gateway", &e), ERR_OK);
    CHECK(e.routing_key != NULL && uuid_parse(e.routing_key, NULL));
    CHECK(e.secret != NULL && strlen(e.secret) == 20);
    entity_release(&e);

    /* a customer user creates nothing */
    struct user cu;
    CHECK_INT(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu), ERR_OK);
    CHECK_INT(create_entity(&w, &cu, ENTITY_DEVICE, "Mine", &e), ERR_FORBIDDEN);
    entity_release(&e);
    user_release(&cu);
    world_close(&w);
}

static void entity_limits_answer_403_41(void)
{
    struct world w;
    struct entity e;
    world_open(&w);
    w.tenant_a.limits.max_devices = 1;
    w.tenant_a.version++; /* an update writes the next version over the one it read */
    CHECK_INT(store_tenant_update(w.ctx.store, &w.tenant_a), STORE_OK);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "one", &e), ERR_OK);
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "two", &e), ERR_LIMIT_REACHED);
    CHECK_STR(w.ctx.err.message, "Devices limit reached");
    CHECK_STR(w.ctx.err.entity_type, "DEVICE");
    CHECK_INT(w.ctx.err.limit, 1);
    entity_release(&e);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_ASSET, "asset", &e), ERR_OK); /* other kinds unaffected */
    entity_release(&e);
    world_close(&w);
}

static void assignment_moves_one_owner_and_emits_events(void)
{
    struct world w;
    struct entity d, out;
    struct customer second;
    char buf[4096];
    world_open(&w);
    world_customer(&w, &second, "Second", &w.admin_a);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "Meter", &d), ERR_OK);

    size_t before = event_count(&w.ctx);
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, d.id, w.customer_a.id, &out)), ERR_OK);
    CHECK_STR(out.customer_id, w.customer_a.id);
    CHECK_INT(out.version, 2);
    entity_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 1);
    CHECK(strncmp(last_event(&w.ctx, buf, sizeof buf), "ENTITY_ASSIGNED DEVICE", 22) == 0);

    /* A -> B directly: one ENTITY_ASSIGNED, no ENTITY_UNASSIGNED */
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, d.id, second.id, &out)), ERR_OK);
    CHECK_STR(out.customer_id, second.id);
    CHECK_INT(out.version, 3);
    entity_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 2);
    CHECK(strstr(last_event(&w.ctx, buf, sizeof buf), second.id) != NULL);

    /* the same owner again: no save, still an event */
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, d.id, second.id, &out)), ERR_OK);
    CHECK_INT(out.version, 3);
    entity_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 3);

    CHECK_INT(TX(&w.ctx, entity_unassign(&w.ctx, ENTITY_DEVICE, d.id, &out)), ERR_OK);
    CHECK_STR(out.customer_id, "");
    entity_release(&out);
    CHECK(strncmp(last_event(&w.ctx, buf, sizeof buf), "ENTITY_UNASSIGNED DEVICE", 24) == 0);
    CHECK_INT(TX(&w.ctx, entity_unassign(&w.ctx, ENTITY_DEVICE, d.id, &out)), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Device isn't assigned to any customer!");
    entity_release(&out);

    /* another tenant's customer: 403 before anything changes */
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, d.id, w.customer_b.id, &out)), ERR_FORBIDDEN);
    entity_release(&out);
    act_as(&w.ctx, &w.admin_b);
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, d.id, w.customer_b.id, &out)), ERR_FORBIDDEN);
    entity_release(&out);

    entity_release(&d);
    customer_release(&second);
    world_close(&w);
}

static void public_customer_is_created_once_per_tenant(void)
{
    struct world w;
    struct entity d1, d2, out1, out2;
    struct customer pub;
    world_open(&w);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, "p1", &d1), ERR_OK);
    CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_ASSET, "p2", &d2), ERR_OK);
    CHECK_INT(TX(&w.ctx, entity_make_public(&w.ctx, ENTITY_DEVICE, d1.id, &out1)), ERR_OK);
    CHECK_INT(TX(&w.ctx, entity_make_public(&w.ctx, ENTITY_ASSET, d2.id, &out2)), ERR_OK);
    CHECK_STR(out1.customer_id, out2.customer_id);
    CHECK_INT(TX(&w.ctx, customer_public(&w.ctx, &pub)), ERR_OK);
    CHECK_STR(pub.id, out1.customer_id);
    CHECK_STR(pub.title, "Public");
    CHECK(pub.is_public);
    CHECK_STR(pub.additional_info, "{\"isPublic\":true}");
    customer_release(&pub);
    act_as(&w.ctx, &w.admin_b);
    CHECK_INT(TX(&w.ctx, customer_public(&w.ctx, &pub)), ERR_OK);
    CHECK(strcmp(pub.id, out1.customer_id) != 0);
    customer_release(&pub);
    entity_release(&d1);
    entity_release(&d2);
    entity_release(&out1);
    entity_release(&out2);
    world_close(&w);
}

static void dashboards_diff_their_customers(void)
{
    struct world w;
    struct dashboard d = { 0 }, out;
    struct customer c2, c3;
    char ids[3][UUID_STR_LEN];
    world_open(&w);
    world_customer(&w, &c2, "C2", &w.admin_a);
    world_customer(&w, &c3, "C3", &w.admin_a);
    strcpy(ids[0], w.customer_a.id);
    strcpy(ids[1], c2.id);
    strcpy(ids[2], c3.id);

    act_as(&w.ctx, &w.admin_a);
    CHECK_INT(TX(&w.ctx, dashboard_create(&w.ctx, &d)), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Dashboard title should be specified!");
    d.title = strdup("Overview");
    CHECK_INT(TX(&w.ctx, dashboard_create(&w.ctx, &d)), ERR_OK);

    size_t before = event_count(&w.ctx);
    CHECK_INT(TX(&w.ctx, dashboard_update_customers(&w.ctx, d.id, DASHBOARD_SET, ids, 2, &out)), ERR_OK);
    CHECK_INT(out.n_assigned, 2);
    dashboard_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 2);
    CHECK_INT(TX(&w.ctx, dashboard_update_customers(&w.ctx, d.id, DASHBOARD_SET, ids + 1, 2, &out)), ERR_OK);
    CHECK_INT(out.n_assigned, 2);
    dashboard_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 4); /* C3 added, customer A removed */
    CHECK_INT(TX(&w.ctx, dashboard_update_customers(&w.ctx, d.id, DASHBOARD_ADD, ids + 1, 2, &out)), ERR_OK);
    dashboard_release(&out);
    CHECK_INT(event_count(&w.ctx), before + 4); /* nothing new */

    /* a rename shows in assignedCustomers at once */
    free(c2.title);
    c2.title = strdup("C2 renamed");
    const struct name_conflict fail = { NAME_CONFLICT_FAIL, NULL, UNIQUIFY_RANDOM };
    CHECK_INT(TX(&w.ctx, customer_update(&w.ctx, &c2, 0, &fail)), ERR_OK);
    CHECK_INT(TX(&w.ctx, dashboard_get(&w.ctx, d.id, &out)), ERR_OK);
    CHECK_STR(out.assigned[0].title, "C2 renamed");
    int64_t version = out.version;
    dashboard_release(&out);
    CHECK_INT(TX(&w.ctx, customer_update(&w.ctx, &c2, 0, &fail)), ERR_OK); /* same title: no re-save */
    CHECK_INT(TX(&w.ctx, dashboard_get(&w.ctx, d.id, &out)), ERR_OK);
    CHECK_INT(out.version, version);
    dashboard_release(&out);

    /* a customer user reads it only while its customer is assigned */
    struct user cu;
    CHECK_INT(make_customer_user(&w, &w.admin_a, &c3, "c3@a.example.com", &cu), ERR_OK);
    act_as(&w.ctx, &cu);
    CHECK_INT(TX(&w.ctx, dashboard_get(&w.ctx, d.id, &out)), ERR_OK);
    dashboard_release(&out);
    act_as(&w.ctx, &w.admin_a);
    CHECK_INT(TX(&w.ctx, dashboard_update_customers(&w.ctx, d.id, DASHBOARD_REMOVE, ids + 2, 1, &out)), ERR_OK);
    dashboard_release(&out);
    act_as(&w.ctx, &cu);
    CHECK_INT(TX(&w.ctx, dashboard_get(&w.ctx, d.id, &out)), ERR_FORBIDDEN);
    dashboard_release(&out);

    user_release(&cu);
    dashboard_release(&d);
    customer_release(&c2);
    customer_release(&c3);
    world_close(&w);
}

static void customer_delete_unassigns_everything_with_one_event(void)
{
    struct world w;
    struct entity e, got;
    struct dashboard d = { 0 }, gd;
    char cid[UUID_STR_LEN];
    world_open(&w);
    strcpy(cid, w.customer_a.id);
    act_as(&w.ctx, &w.admin_a);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof name, "dev-%d", i);
        e = new_entity(i % 3 == 0 ? ENTITY_ASSET : ENTITY_DEVICE, name);
        strcpy(e.customer_id, cid);
        CHECK_INT(TX(&w.ctx, entity_create(&w.ctx, &e)), ERR_OK);
        entity_release(&e);
    }
    e = new_entity(ENTITY_DEVICE, "watched");
    strcpy(e.customer_id, cid);
    CHECK_INT(TX(&w.ctx, entity_create(&w.ctx, &e)), ERR_OK);
    d.title = strdup("Shared");
    CHECK_INT(TX(&w.ctx, dashboard_create(&w.ctx, &d)), ERR_OK);
    CHECK_INT(TX(&w.ctx, dashboard_assign(&w.ctx, d.id, cid, &gd)), ERR_OK);
    dashboard_release(&gd);

    size_t before = event_count(&w.ctx);
    CHECK_INT(TX(&w.ctx, customer_delete(&w.ctx, cid)), ERR_OK);
    CHECK_INT(event_count(&w.ctx), before + 1);
    CHECK_INT(TX(&w.ctx, entity_get(&w.ctx, ENTITY_DEVICE, e.id, &got)), ERR_OK);
    CHECK_STR(got.customer_id, "");
    CHECK_INT(got.version, e.version + 1);
    entity_release(&got);
    CHECK_INT(TX(&w.ctx, dashboard_get(&w.ctx, d.id, &gd)), ERR_OK);
    CHECK_INT(gd.n_assigned, 0);
    CHECK_INT(gd.version, 3);
    dashboard_release(&gd);
    int64_t n = 0;
    CHECK_INT(store_entity_count(w.ctx.store, ENTITY_DEVICE, w.tenant_a.id, &n), STORE_OK);
    CHECK_INT(n, 34); /* 33 devices of the 50, and "watched": none deleted */

    entity_release(&e);
    dashboard_release(&d);
    world_close(&w);
}

static int run_unassign_chunk(struct world *w, int64_t limit, struct unassign_chunk *c)
{
    CHECK_INT(store_begin(w->ctx.store), STORE_OK);
    int rc = unassign_run_chunk(w->ctx.store, limit, c);
    CHECK_INT(store_commit(w->ctx.store), STORE_OK);
    return rc;
}

/* The entities of a deleted customer are unassigned later, in chunks; until a chunk reaches a row,
 * every read shows it as the chunk will leave it, and writes to it behave as if it were unassigned. */
static void customer_delete_defers_unassignment_in_chunks(void)
{
    struct world w;
    struct entity e[14], got, kept;
    struct customer second;
    struct unassign_chunk c;
    char cid[UUID_STR_LEN];
    world_open(&w);
    world_customer(&w, &second, "Second", &w.admin_a);
    strcpy(cid, w.customer_a.id);
    act_as(&w.ctx, &w.admin_a);
    for (int i = 0; i < 14; i++) {
        char name[32];
        snprintf(name, sizeof name, "thing-%d", i);
        e[i] = new_entity(i < 10 ? ENTITY_DEVICE : i < 13 ? ENTITY_ASSET : ENTITY_EDGE, name);
        strcpy(e[i].customer_id, cid);
        CHECK_INT(TX(&w.ctx, entity_create(&w.ctx, &e[i])), ERR_OK);
    }
    kept = new_entity(ENTITY_DEVICE, "kept");
    strcpy(kept.customer_id, second.id);
    CHECK_INT(TX(&w.ctx, entity_create(&w.ctx, &kept)), ERR_OK);

    size_t before = event_count(&w.ctx);
    CHECK_INT(TX(&w.ctx, customer_delete(&w.ctx, cid)), ERR_OK);
    CHECK_INT(event_count(&w.ctx), before + 1);
    /* the rows are not written yet ... */
    CHECK_INT(store_entity_get(w.ctx.store, ENTITY_DEVICE, e[0].id, &got), STORE_OK);
    CHECK_STR(got.customer_id, cid);
    entity_release(&got);
    /* ... but read as unassigned, version + 1, one by one and in pages */
    CHECK_INT(TX(&w.ctx, entity_get(&w.ctx, ENTITY_DEVICE, e[0].id, &got)), ERR_OK);
    CHECK_STR(got.customer_id, "");
    CHECK_INT(got.version, 2);
    entity_release(&got);
    struct page_request p = { .page_size = 100 };
    struct page_info info;
    struct entity *items = NULL;
    size_t n = 0;
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_OK);
    CHECK_INT(n, 11);
    for (size_t i = 0; i < n; i++) {
        bool other = strcmp(items[i].id, kept.id) == 0;
        CHECK_STR(items[i].customer_id, other ? second.id : "");
        CHECK_INT(items[i].version, other ? 1 : 2);
    }
    entities_free(items, n);
    /* an update with the version read succeeds; re-assigning to another customer works; unassigning
     * answers as for any unassigned device */
    got = new_entity(ENTITY_DEVICE, "renamed");
    strcpy(got.id, e[1].id);
    got.version = 2;
    CHECK_INT(TX(&w.ctx, entity_update(&w.ctx, &got, UPDATE_CHECK_VERSION, true)), ERR_OK);
    CHECK_STR(got.customer_id, "");
    CHECK_INT(got.version, 3);
    entity_release(&got);
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, e[2].id, second.id, &got)), ERR_OK);
    CHECK_INT(got.version, 3);
    entity_release(&got);
    CHECK_INT(TX(&w.ctx, entity_unassign(&w.ctx, ENTITY_DEVICE, e[3].id, &got)), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Device isn't assigned to any customer!");
    entity_release(&got);

    /* chunks of 4: 12 rows left (two were rewritten above), then the job is gone */
    before = event_count(&w.ctx);
    int64_t total = 0;
    int chunks = 0;
    do {
        CHECK_INT(run_unassign_chunk(&w, 4, &c), STORE_OK);
        CHECK(!c.idle && c.rows <= 4);
        CHECK_STR(c.job.customer_id, cid);
        total += c.rows;
        chunks++;
    } while (!c.finished && chunks < 10);
    CHECK(c.finished);
    CHECK_INT(total, 12);
    CHECK_INT(c.job.unassigned, 12);
    CHECK_INT(run_unassign_chunk(&w, 4, &c), STORE_OK);
    CHECK(c.idle);
    CHECK_INT(event_count(&w.ctx), before); /* no event per row, as before */
    static const struct { int i; int64_t version; } expect[] = { { 0, 2 }, { 1, 3 }, { 9, 2 }, { 12, 2 }, { 13, 2 } };
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        CHECK_INT(store_entity_get(w.ctx.store, e[expect[k].i].kind, e[expect[k].i].id, &got), STORE_OK);
        CHECK_STR(got.customer_id, "");
        CHECK_INT(got.version, expect[k].version);
        entity_release(&got);
    }
    CHECK_INT(store_entity_get(w.ctx.store, ENTITY_DEVICE, e[2].id, &got), STORE_OK);
    CHECK_STR(got.customer_id, second.id);
    CHECK_INT(got.version, 3);
    entity_release(&got);
    CHECK_INT(store_entity_get(w.ctx.store, ENTITY_DEVICE, kept.id, &got), STORE_OK);
    CHECK_STR(got.customer_id, second.id);
    CHECK_INT(got.version, 1);
    entity_release(&got);

    for (int i = 0; i < 14; i++)
        entity_release(&e[i]);
    entity_release(&kept);
    customer_release(&second);
    world_close(&w);
}

/* The cascade must stay fast for a customer with a million devices: its UPDATE has to find the rows
 * through the partial customer index, never by scanning the table. */
static void cascade_statements_use_the_customer_index(void)
{
    static const char *const plans[][2] = {
        { "SELECT rowid FROM device WHERE customer_id = ?1 LIMIT ?2", "device_customer" },
        { "SELECT rowid FROM asset WHERE customer_id = ?1 LIMIT ?2", "asset_customer" },
        { "SELECT rowid FROM edge WHERE customer_id = ?1 LIMIT ?2", "edge_customer" },
        { "DELETE FROM dashboard_customer WHERE customer_id = ?", "dashboard_customer_customer" },
        { "SELECT id FROM device WHERE customer_id = ?2 AND tenant_id = ?1 ORDER BY id LIMIT 10", "device_customer" },
    };
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        char detail[2048];
        CHECK_INT(store_query_plan(w.ctx.store, plans[i][0], detail, sizeof detail), STORE_OK);
        if (strstr(detail, plans[i][1]) == NULL)
            fprintf(stderr, "plan of %s: %s\n", plans[i][0], detail);
        CHECK(strstr(detail, plans[i][1]) != NULL);
    }
    world_close(&w);
}

/* The kept count of an unfiltered listing against a COUNT of the same rows: a type filter ("default"
 * is every entity's type here) and an empty text search make the store count them. */
static int64_t listing_total(struct world *w, enum entity_kind kind, const char *customer_id, const char *type)
{
    struct page_request p = { .page_size = 1 };
    struct page_info info = { 0 };
    struct entity *items = NULL;
    size_t n = 0;
    int rc = customer_id != NULL ? entity_list_by_customer(&w->ctx, kind, customer_id, type, &p, &items, &n, &info)
                                 : entity_list(&w->ctx, kind, type, &p, &items, &n, &info);
    CHECK_INT(rc, ERR_OK);
    entities_free(items, n);
    return info.total_elements;
}

static void check_kept_counts(struct world *w, const char *customer_id, int64_t tenant_devices,
                              int64_t customer_devices)
{
    struct page_request p = { .page_size = 1 }, searched = { .page_size = 1, .text_search = (char *)"" };
    struct page_info kept = { 0 }, counted = { 0 };
    struct customer *items = NULL;
    size_t n = 0;

    act_as(&w->ctx, &w->admin_a);
    for (enum entity_kind k = 0; k < ENTITY_KINDS; k++)
        CHECK_INT(listing_total(w, k, NULL, NULL), listing_total(w, k, NULL, "default"));
    CHECK_INT(listing_total(w, ENTITY_DEVICE, NULL, NULL), tenant_devices);
    if (customer_id != NULL) {
        for (enum entity_kind k = 0; k < ENTITY_KINDS; k++)
            CHECK_INT(listing_total(w, k, customer_id, NULL), listing_total(w, k, customer_id, "default"));
        CHECK_INT(listing_total(w, ENTITY_DEVICE, customer_id, NULL), customer_devices);
    }
    CHECK_INT(customer_list(&w->ctx, &p, &items, &n, &kept), ERR_OK);
    customers_free(items, n);
    CHECK_INT(customer_list(&w->ctx, &searched, &items, &n, &counted), ERR_OK);
    customers_free(items, n);
    CHECK_INT(kept.total_elements, counted.total_elements);
}

/* totalElements of an unfiltered listing comes from counts the store keeps with triggers; they must
 * equal a COUNT after every kind of write, the set-based cascade included. */
static void kept_counts_follow_every_write(void)
{
    struct world w;
    struct customer second;
    struct entity e[12], got;
    char cid[UUID_STR_LEN];
    world_open(&w);
    strcpy(cid, w.customer_a.id);
    world_customer(&w, &second, "Second", &w.admin_a);
    check_kept_counts(&w, cid, 0, 0);
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof name, "counted-%d", i);
        e[i] = new_entity(i % 4 == 3 ? ENTITY_ASSET : ENTITY_DEVICE, name);
        if (i % 2 == 0)
            strcpy(e[i].customer_id, cid);
        act_as(&w.ctx, &w.admin_a);
        CHECK_INT(TX(&w.ctx, entity_create(&w.ctx, &e[i])), ERR_OK);
    }
    check_kept_counts(&w, cid, 9, 6); /* devices 0,1,2,4,5,6,8,9,10; assigned 0,2,4,6,8,10 */
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, e[1].id, cid, &got)), ERR_OK);
    entity_release(&got);
    CHECK_INT(TX(&w.ctx, entity_assign(&w.ctx, ENTITY_DEVICE, e[0].id, second.id, &got)), ERR_OK);
    entity_release(&got);
    check_kept_counts(&w, cid, 9, 6);
    check_kept_counts(&w, second.id, 9, 1);
    CHECK_INT(TX(&w.ctx, entity_unassign(&w.ctx, ENTITY_DEVICE, e[2].id, &got)), ERR_OK);
    entity_release(&got);
    CHECK_INT(TX(&w.ctx, entity_delete(&w.ctx, ENTITY_DEVICE, e[4].id)), ERR_OK);
    CHECK_INT(TX(&w.ctx, entity_delete(&w.ctx, ENTITY_DEVICE, e[5].id)), ERR_OK);
    check_kept_counts(&w, cid, 7, 4);
    CHECK_INT(TX(&w.ctx, entity_make_public(&w.ctx, ENTITY_DEVICE, e[6].id, &got)), ERR_OK);
    entity_release(&got);
    check_kept_counts(&w, cid, 7, 3);
    CHECK_INT(TX(&w.ctx, customer_delete(&w.ctx, cid)), ERR_OK);
    check_kept_counts(&w, NULL, 7, 0);
    check_kept_counts(&w, second.id, 7, 1);
    for (int i = 0; i < 12; i++)
        entity_release(&e[i]);
    customer_release(&second);
    world_close(&w);
}

/* Every listing order a cursor continues, and the first page by offset, must read an index range
 * of the owner (tenant or customer) in that order: never the whole table, never the tenant's rows
 * for one customer's listing, and a filtered COUNT an index range too. The statements are the ones
 * store_entity.c writes. */
static void listing_statements_use_an_index_per_order(void)
{
#define T " FROM device WHERE tenant_id = ?1"
#define C " FROM device WHERE customer_id = ?2 AND +tenant_id = ?1"
    static const char *const plans[][2] = {
        { "SELECT id" T " ORDER BY created_time DESC, id ASC LIMIT ?5 OFFSET ?6", "device_tenant_created" },
        { "SELECT id" T " AND created_time <= ?6 AND (created_time < ?6 OR id > ?7) ORDER BY created_time DESC, id ASC LIMIT ?5",
          "device_tenant_created (tenant_id=? AND created_time<?)" },
        { "SELECT id" T " AND name >= ?6 AND (name > ?6 OR id > ?7) ORDER BY name ASC, id ASC LIMIT ?5",
          "(tenant_id=? AND name>?)" },
        { "SELECT id" T " AND id > ?7 ORDER BY id ASC LIMIT ?5", "device_tenant (tenant_id=? AND id>?)" },
        { "SELECT id" C " ORDER BY created_time DESC, id ASC LIMIT ?5 OFFSET ?6", "device_customer_created" },
        { "SELECT id" C " AND created_time >= ?6 AND (created_time > ?6 OR id > ?7) ORDER BY created_time ASC, id ASC LIMIT ?5",
          "device_customer_created (customer_id=? AND created_time>?)" },
        { "SELECT id" C " AND id < ?7 ORDER BY id DESC LIMIT ?5", "device_customer (customer_id=? AND id<?)" },
        { "SELECT id" C " AND type = ?3 ORDER BY id ASC LIMIT ?5 OFFSET ?6", "device_customer" },
        { "SELECT count(*)" T " AND type = ?3", "device_tenant_type (tenant_id=? AND type=?)" },
        { "SELECT count(*)" C " AND type = ?3", "device_customer" },
        { "SELECT id FROM customer WHERE tenant_id = ?1 AND (?2 IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')"
          " ORDER BY created_time DESC, id ASC LIMIT ?3 OFFSET ?4", "customer_tenant_created" },
        { "SELECT n FROM row_count WHERE owner_id = ?1 AND kind = ?2", "PRIMARY KEY" },
    };
#undef T
#undef C
    struct world w;
    world_open(&w);
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        char detail[2048];
        CHECK_INT(store_query_plan(w.ctx.store, plans[i][0], detail, sizeof detail), STORE_OK);
        bool ok = strstr(detail, plans[i][1]) != NULL && strstr(detail, "SCAN") == NULL &&
                  strstr(detail, "TEMP B-TREE FOR ORDER BY") == NULL;
        if (!ok)
            fprintf(stderr, "plan of %s: %s\n", plans[i][0], detail);
        CHECK(ok);
    }
    world_close(&w);
}

/* The read budget (store.h) and the page bounds (core_settings): a listing that would read more
 * bytes of rows than the budget stops with 413 naming max_reply, having kept nothing; one within
 * it reads every row; the budget spans every query until it is cleared; and pages larger or
 * deeper than the settings are refused before anything is read. */
static void listings_stop_at_the_read_budget_and_the_page_bounds(void)
{
    struct world w;
    struct entity e;
    struct page_request p = { .page_size = 100 };
    struct page_info info;
    struct entity *items = NULL;
    size_t n = 0;
    world_open(&w);
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "Budget %02d", i);
        CHECK_INT(create_entity(&w, &w.admin_a, ENTITY_DEVICE, name, &e), ERR_OK);
        entity_release(&e);
    }
    act_as(&w.ctx, &w.admin_a);
    store_budget_set(w.ctx.store, 1000); /* a few rows' worth */
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_TOO_LARGE);
    CHECK_STR(w.ctx.err.message, "The request would read more than max_reply (1000 bytes) of rows: ask for fewer (a "
                                 "smaller pageSize or limit, fewer ids or commands)");
    CHECK(items == NULL);
    CHECK_INT(n, 0);
    store_budget_set(w.ctx.store, 1000000);
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_OK);
    CHECK_INT(n, 20);
    entities_free(items, n);
    /* the budget is what is left of it: the second query of the same budget gets what the first left */
    store_budget_set(w.ctx.store, 8000);
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_OK);
    entities_free(items, n);
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_TOO_LARGE);
    store_budget_set(w.ctx.store, 0);
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_OK);
    CHECK_INT(n, 20);
    entities_free(items, n);

    struct core_settings bounded = fixture_settings;
    bounded.max_page_size = 50;
    bounded.max_page_offset = 200;
    w.ctx.settings = &bounded;
    p.page_size = 51;
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Incorrect page link page size '51'. Page size must be at most 50 (max_page_size).");
    p.page_size = 50;
    p.page = 4; /* starts at row 200: still allowed */
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_OK);
    CHECK_INT(n, 0);
    p.page = 5;
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_BAD_REQUEST);
    CHECK_STR(w.ctx.err.message, "Page 5 of size 50 starts deeper than max_page_offset (200 rows): continue with "
                                 "pageToken where the listing offers it, or narrow it with textSearch");
    p.page = INT64_C(9007199254740991); /* page x pageSize would overflow: compared by division */
    CHECK_INT(TX(&w.ctx, entity_list(&w.ctx, ENTITY_DEVICE, NULL, &p, &items, &n, &info)), ERR_BAD_REQUEST);
    w.ctx.settings = &fixture_settings;
    world_close(&w);
}

int main(void)
{
    RUN(entities_validate_and_keep_names_unique_per_tenant);
    RUN(entity_limits_answer_403_41);
    RUN(assignment_moves_one_owner_and_emits_events);
    RUN(public_customer_is_created_once_per_tenant);
    RUN(dashboards_diff_their_customers);
    RUN(customer_delete_unassigns_everything_with_one_event);
    RUN(customer_delete_defers_unassignment_in_chunks);
    RUN(cascade_statements_use_the_customer_index);
    RUN(kept_counts_follow_every_write);
    RUN(listing_statements_use_an_index_per_order);
    RUN(listings_stop_at_the_read_budget_and_the_page_bounds);
    return test_report("test_entities");
}
