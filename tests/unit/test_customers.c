/* test_customers.c: the customer rules of core/customer.c against an in-memory store: validation
 * messages, uniqueness and UNIQUIFY, versions, limits, permissions, paging, delete and its event. */
#include "test.h"

#include "cmagent/clock.h"
#include "cmagent/customer.h"
#include "cmagent/events.h"
#include "cmagent/store_outbox.h"
#include "cmagent/store_tenant.h"

#include <stdlib.h>

static struct store *db;
static struct core_settings settings = { .base_url = "http://localhost", .activation_token_ttl_ms = 3600000 };
static const char *tenant_a = "00000000-0000-7000-8000-00000000000a";
static const char *tenant_b = "00000000-0000-7000-8000-00000000000b";

static char *render_nothing(const struct event *ev, const struct principal *who)
{
    (void)ev;
    (void)who;
    return strdup("{}");
}

static void make_tenant(const char *id, int64_t max_customers)
{
    struct tenant t = { 0 };
    strcpy(t.id, id);
    t.title = strdup(id);
    t.created_time = clock_now_ms();
    t.version = 1;
    t.limits.max_customers = max_customers;
    store_begin(db);
    CHECK_INT(store_tenant_insert(db, &t), STORE_OK);
    store_commit(db);
    tenant_release(&t);
}

static void as_admin(struct ctx *ctx, const char *tenant)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = db;
    ctx->settings = &settings;
    ctx->render_event = render_nothing;
    ctx->now = clock_now_ms();
    ctx->who.authority = AUTHORITY_TENANT_ADMIN;
    strcpy(ctx->who.tenant_id, tenant);
    strcpy(ctx->who.customer_id, NULL_UUID);
    strcpy(ctx->who.user_id, "00000000-0000-7000-8000-0000000000ff");
}

static const struct name_conflict fail_on_conflict = { NAME_CONFLICT_FAIL, "_", UNIQUIFY_RANDOM };

/* Creates a customer titled title in ctx's tenant; returns the error kind. */
static int create(struct ctx *ctx, const char *title, struct customer *out, const struct name_conflict *nc)
{
    memset(out, 0, sizeof *out);
    out->title = title ? strdup(title) : NULL;
    store_begin(db);
    int rc = customer_create(ctx, out, nc ? nc : &fail_on_conflict);
    store_commit(db);
    return rc;
}

static void creates_with_version_one_and_an_event(void)
{
    struct ctx ctx;
    struct customer c;
    int64_t before = 0, after = 0;
    as_admin(&ctx, tenant_a);
    store_outbox_next_seq(db, &before);
    CHECK_INT(create(&ctx, "Acme", &c, NULL), ERR_OK);
    CHECK_INT(c.version, 1);
    CHECK_STR(c.tenant_id, tenant_a);
    CHECK(uuid_parse(c.id, NULL));
    CHECK_INT(ctx.events_written, 1);
    store_outbox_next_seq(db, &after);
    CHECK_INT(after, before + 2); /* one event in between, no gap */
    customer_release(&c);
}

static void rejects_bad_fields_with_thingsboard_messages(void)
{
    struct ctx ctx;
    struct customer c;
    char long_title[300];
    as_admin(&ctx, tenant_a);

    CHECK_INT(create(&ctx, NULL, &c, NULL), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "Customer title should be specified!");
    customer_release(&c);
    CHECK_INT(create(&ctx, "   ", &c, NULL), ERR_BAD_REQUEST);
    customer_release(&c);
    CHECK_INT(create(&ctx, "Public", &c, NULL), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "'Public' title for customer is system reserved!");
    customer_release(&c);
    memset(long_title, 'x', 256);
    long_title[256] = '\0';
    CHECK_INT(create(&ctx, long_title, &c, NULL), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "Validation error: title length must be equal or less than 255");
    customer_release(&c);
    CHECK_INT(create(&ctx, "<script>alert(1)</script>", &c, NULL), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "Validation error: title is malformed");
    customer_release(&c);

    memset(&c, 0, sizeof c);
    c.title = strdup("Mail");
    c.contact.email = strdup("not-an-email");
    c.contact.zip = malloc(300);
    memset(c.contact.zip, '1', 299);
    c.contact.zip[299] = '\0';
    store_begin(db);
    CHECK_INT(customer_create(&ctx, &c, &fail_on_conflict), ERR_BAD_REQUEST);
    store_commit(db);
    CHECK_STR(ctx.err.message, "Validation error: zip or postal code length must be equal or less than 255");
    free(c.contact.zip);
    c.contact.zip = NULL;
    store_begin(db);
    CHECK_INT(customer_create(&ctx, &c, &fail_on_conflict), ERR_BAD_REQUEST);
    store_commit(db);
    CHECK_STR(ctx.err.message, "Invalid email address format 'not-an-email'!");
    customer_release(&c);
}

static void titles_are_unique_per_tenant_and_uniquify(void)
{
    struct ctx a, b;
    struct customer c1, c2, c3, c4;
    struct name_conflict inc = { NAME_CONFLICT_UNIQUIFY, "_", UNIQUIFY_INCREMENTAL };
    struct name_conflict rnd = { NAME_CONFLICT_UNIQUIFY, "-", UNIQUIFY_RANDOM };
    as_admin(&a, tenant_a);
    as_admin(&b, tenant_b);

    CHECK_INT(create(&a, "My unique customer", &c1, NULL), ERR_OK);
    CHECK_INT(create(&a, "My unique customer", &c2, NULL), ERR_BAD_REQUEST);
    CHECK_STR(a.err.message, "Customer with such title already exists!");
    customer_release(&c2);
    CHECK_INT(create(&b, "My unique customer", &c2, NULL), ERR_OK); /* another tenant may */
    customer_release(&c2);
    CHECK_INT(create(&a, "My unique customer", &c2, &inc), ERR_OK);
    CHECK_STR(c2.title, "My unique customer_1");
    CHECK_INT(create(&a, "My unique customer", &c3, &inc), ERR_OK);
    CHECK_STR(c3.title, "My unique customer_2");
    CHECK_INT(create(&a, "My unique customer", &c4, &rnd), ERR_OK);
    CHECK_INT(strlen(c4.title), strlen("My unique customer-") + 6);
    customer_release(&c4);
    CHECK_INT(create(&a, "my unique customer", &c4, NULL), ERR_OK); /* case-sensitive */
    customer_release(&c1);
    customer_release(&c2);
    customer_release(&c3);
    customer_release(&c4);
}

static void versions_rise_and_stale_versions_conflict(void)
{
    struct ctx ctx;
    struct customer c, upd = { 0 };
    as_admin(&ctx, tenant_a);
    CHECK_INT(create(&ctx, "Versioned", &c, NULL), ERR_OK);

    strcpy(upd.id, c.id);
    upd.title = strdup("Versioned 2");
    upd.version = 1;
    store_begin(db);
    CHECK_INT(customer_update(&ctx, &upd, UPDATE_CHECK_VERSION, &fail_on_conflict), ERR_OK);
    CHECK_INT(upd.version, 2);
    CHECK_INT(upd.created_time, c.created_time);
    upd.version = 1;
    CHECK_INT(customer_update(&ctx, &upd, UPDATE_CHECK_VERSION, &fail_on_conflict), ERR_CONFLICT);
    CHECK_STR(ctx.err.message, "Customer was already changed by someone else");
    CHECK_INT(customer_update(&ctx, &upd, 0, &fail_on_conflict), ERR_OK); /* forced overwrite */
    CHECK_INT(upd.version, 3);
    store_commit(db);
    customer_release(&c);
    customer_release(&upd);
}

/* ifEqual "skip" (update.h): the stored customer comes back, version and events untouched; empty
 * text and null count as equal, and so do a missing external id and NULL_UUID. */
static void equal_saves_are_skipped_when_asked(void)
{
    struct ctx ctx;
    struct customer c, upd = { 0 };
    int64_t events = 0;
    as_admin(&ctx, tenant_a);
    CHECK_INT(create(&ctx, "Skipped", &c, NULL), ERR_OK);

    strcpy(upd.id, c.id);
    upd.title = strdup("Skipped");
    upd.contact.city = strdup("");
    strcpy(upd.external_id, NULL_UUID);
    store_begin(db);
    events = ctx.events_written;
    CHECK_INT(customer_update(&ctx, &upd, UPDATE_SKIP_EQUAL, &fail_on_conflict), ERR_OK);
    CHECK_INT(upd.version, 1);
    CHECK(ctx.events_written == events);
    free(upd.contact.city);
    upd.contact.city = strdup("Lviv");
    CHECK_INT(customer_update(&ctx, &upd, UPDATE_SKIP_EQUAL | UPDATE_CHECK_VERSION, &fail_on_conflict), ERR_OK);
    CHECK_INT(upd.version, 2);
    CHECK(ctx.events_written == events + 1);
    upd.version = 1; /* the version check comes first, even for an equal save */
    CHECK_INT(customer_update(&ctx, &upd, UPDATE_SKIP_EQUAL | UPDATE_CHECK_VERSION, &fail_on_conflict),
              ERR_CONFLICT);
    store_commit(db);
    customer_release(&c);
    customer_release(&upd);
}

static void other_tenants_and_customer_users_are_refused(void)
{
    struct ctx a, b, user;
    struct customer c, got;
    as_admin(&a, tenant_a);
    as_admin(&b, tenant_b);
    CHECK_INT(create(&a, "Private", &c, NULL), ERR_OK);

    CHECK_INT(customer_get(&b, c.id, &got), ERR_FORBIDDEN);
    CHECK_STR(b.err.message, "You don't have permission to perform this operation!");
    CHECK_INT(customer_get(&b, "00000000-0000-7000-8000-000000000123", &got), ERR_NOT_FOUND);
    CHECK_STR(b.err.message, "Customer with id [00000000-0000-7000-8000-000000000123] is not found");

    as_admin(&user, tenant_a);
    user.who.authority = AUTHORITY_CUSTOMER_USER;
    strcpy(user.who.customer_id, c.id);
    CHECK_INT(customer_get(&user, c.id, &got), ERR_OK);
    customer_release(&got);
    store_begin(db);
    CHECK_INT(customer_delete(&user, c.id), ERR_FORBIDDEN);
    store_commit(db);
    user.who.authority = AUTHORITY_SYS_ADMIN;
    CHECK_INT(customer_get(&user, c.id, &got), ERR_FORBIDDEN);
    customer_release(&c);
}

static void limit_is_enforced(void)
{
    static const char *limited = "00000000-0000-7000-8000-0000000000cc";
    struct ctx ctx;
    struct customer c;
    make_tenant(limited, 2);
    as_admin(&ctx, limited);
    CHECK_INT(create(&ctx, "one", &c, NULL), ERR_OK);
    customer_release(&c);
    CHECK_INT(create(&ctx, "two", &c, NULL), ERR_OK);
    customer_release(&c);
    CHECK_INT(create(&ctx, "three", &c, NULL), ERR_LIMIT_REACHED);
    CHECK_STR(ctx.err.message, "Customers limit reached");
    CHECK_INT(ctx.err.limit, 2);
    customer_release(&c);
}

static void pages_search_and_sort(void)
{
    static const char *paged = "00000000-0000-7000-8000-0000000000dd";
    struct ctx ctx;
    struct customer c, *items = NULL;
    struct page_request p = { .page_size = 23 };
    struct page_info info;
    size_t n = 0, seen = 0;
    make_tenant(paged, 0);
    as_admin(&ctx, paged);
    for (int i = 0; i < 135; i++) {
        char title[64];
        snprintf(title, sizeof title, "%s %03d", i % 2 ? "Odd" : "Even", i);
        CHECK_INT(create(&ctx, title, &c, NULL), ERR_OK);
        customer_release(&c);
    }
    for (p.page = 0;; p.page++) {
        CHECK_INT(customer_list(&ctx, &p, &items, &n, &info), ERR_OK);
        seen += n;
        customers_free(items, n);
        if (!info.has_next)
            break;
    }
    CHECK_INT(seen, 135);
    CHECK_INT(info.total_pages, 6);
    CHECK_INT(info.total_elements, 135);

    p.page = 0;
    p.page_size = 100;
    p.text_search = strdup("odd");
    p.sort_property = strdup("title");
    p.descending = true;
    CHECK_INT(customer_list(&ctx, &p, &items, &n, &info), ERR_OK);
    CHECK_INT(info.total_elements, 67);
    CHECK_STR(items[0].title, "Odd 133");
    customers_free(items, n);
    page_request_release(&p);

    p.page_size = 0;
    CHECK_INT(customer_list(&ctx, &p, &items, &n, &info), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "Incorrect page link page size '0'. Page size must be greater than zero.");
    p.page_size = 10;
    p.sort_property = strdup("title;drop");
    CHECK_INT(customer_list(&ctx, &p, &items, &n, &info), ERR_BAD_REQUEST);
    CHECK_STR(ctx.err.message, "Invalid sort property");
    page_request_release(&p);
}

static void delete_then_not_found(void)
{
    struct ctx ctx;
    struct customer c, got;
    as_admin(&ctx, tenant_a);
    CHECK_INT(create(&ctx, "Doomed", &c, NULL), ERR_OK);
    store_begin(db);
    CHECK_INT(customer_delete(&ctx, c.id), ERR_OK);
    store_commit(db);
    CHECK_INT(ctx.events_written, 2);
    CHECK_INT(customer_get(&ctx, c.id, &got), ERR_NOT_FOUND);
    customer_release(&c);
}

int main(void)
{
    char err[256];
    db = store_open(":memory:", err, sizeof err);
    if (db == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    make_tenant(tenant_a, 0);
    make_tenant(tenant_b, 0);
    RUN(creates_with_version_one_and_an_event);
    RUN(rejects_bad_fields_with_thingsboard_messages);
    RUN(titles_are_unique_per_tenant_and_uniquify);
    RUN(versions_rise_and_stale_versions_conflict);
    RUN(equal_saves_are_skipped_when_asked);
    RUN(other_tenants_and_customer_users_are_refused);
    RUN(limit_is_enforced);
    RUN(pages_search_and_sort);
    RUN(delete_then_not_found);
    store_close(db);
    return test_report("test_customers");
}
