/* test_tenants.c: tenant management (core/tenant.c over store_tenant.c) against an in-memory store:
 * validation, the system administrator's monopoly, versions, listings, the delete cascade (users at
 * once, the rest in chunks) and the TENANT events. */
#include "fixture.h"

#include "cmagent/apikey.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_tenant.h"
#include "cmagent/store_token.h"

#include <stdlib.h>

static struct world w;
static struct ctx *ctx = &w.ctx;

static int create_tenant(const char *title, struct tenant *t)
{
    memset(t, 0, sizeof *t);
    t->title = title ? strdup(title) : NULL;
    act_as(ctx, &w.sysadmin);
    return TX(ctx, tenant_create(ctx, t));
}

static void create_should_validate_and_emit(void)
{
    struct tenant t;
    char ev[1024], expected[1024];

    world_open(&w);
    CHECK(create_tenant(NULL, &t) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Tenant title should be specified!");
    tenant_release(&t);
    CHECK(create_tenant(" ", &t) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Tenant title should be specified!");
    tenant_release(&t);

    memset(&t, 0, sizeof t);
    t.title = strdup("Acme");
    t.contact.email = strdup("not-an-email");
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_create(ctx, &t)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Invalid email address format 'not-an-email'!");
    free(t.contact.email);
    t.contact.email = strdup("ops@acme.example.com");
    t.contact.city = strdup("<b>Town</b>");
    CHECK(TX(ctx, tenant_create(ctx, &t)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Validation error: city is malformed");
    free(t.contact.city);
    t.contact.city = NULL;
    t.limits.max_users = -1;
    CHECK(TX(ctx, tenant_create(ctx, &t)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "limits.maxUsers must be zero (no limit) or positive");
    t.limits.max_users = 10;

    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, tenant_create(ctx, &t)) == ERR_FORBIDDEN);
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_create(ctx, &t)) == ERR_OK);
    CHECK(t.id[0] != '\0' && t.version == 1 && t.created_time == ctx->now);
    snprintf(expected, sizeof expected, "ENTITY_CREATED TENANT %s - Acme by sysadmin@example.com", t.id);
    CHECK_STR(last_event(ctx, ev, sizeof ev), expected);

    struct tenant stored = { 0 };
    CHECK(TX(ctx, tenant_get(ctx, t.id, &stored)) == ERR_OK);
    CHECK_STR(stored.title, "Acme");
    CHECK_STR(stored.contact.email, "ops@acme.example.com");
    CHECK(stored.limits.max_users == 10);
    tenant_release(&stored);
    tenant_release(&t);
    world_close(&w);
}

static void get_and_update_should_follow_versions(void)
{
    struct tenant t = { 0 };
    static const char unknown[] = "0190a0a0-0000-7000-8000-00000000000f";

    world_open(&w);
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_get(ctx, unknown, &t)) == ERR_NOT_FOUND);
    CHECK_STR(ctx->err.message, "Tenant with id [0190a0a0-0000-7000-8000-00000000000f] is not found");
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, tenant_get(ctx, w.tenant_a.id, &t)) == ERR_FORBIDDEN);

    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_get(ctx, w.tenant_a.id, &t)) == ERR_OK);
    int64_t created = t.created_time;
    free(t.title);
    t.title = strdup("Tenant A renamed");
    t.created_time = 1;
    CHECK(TX(ctx, tenant_update(ctx, &t, UPDATE_CHECK_VERSION)) == ERR_OK);
    CHECK(t.version == 2 && t.created_time == created);
    t.version = 1;
    CHECK(TX(ctx, tenant_update(ctx, &t, UPDATE_CHECK_VERSION)) == ERR_CONFLICT);
    CHECK_STR(ctx->err.message, "Tenant was already changed by someone else");
    free(t.title);
    t.title = NULL;
    CHECK(TX(ctx, tenant_update(ctx, &t, 0)) == ERR_BAD_REQUEST);
    CHECK(t.version == 1);
    t.title = strdup("Tenant A again");
    CHECK(TX(ctx, tenant_update(ctx, &t, 0)) == ERR_OK);
    CHECK(t.version == 3);
    strcpy(t.id, unknown);
    CHECK(TX(ctx, tenant_update(ctx, &t, 0)) == ERR_NOT_FOUND);
    tenant_release(&t);
    world_close(&w);
}

static const char *titles(struct tenant *items, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", items[i].title);
    tenants_free(items, n);
    return buf;
}

static void list_should_search_titles_sort_and_page(void)
{
    struct tenant t, *items = NULL;
    struct page_request p = { .page_size = 2 };
    struct page_info info;
    size_t n = 0;
    char buf[256];
    static char by_title[] = "title", by_name[] = "name", search[] = "TENANT";

    world_open(&w);
    CHECK(create_tenant("50% Tenant", &t) == ERR_OK);
    tenant_release(&t);
    CHECK(create_tenant("Other", &t) == ERR_OK);
    tenant_release(&t);

    act_as(ctx, &w.sysadmin);
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_OK);
    CHECK(n == 2 && strcmp(items[0].id, items[1].id) < 0); /* no sortProperty: id ASC */
    tenants_free(items, n);
    CHECK(info.total_elements == 4 && info.total_pages == 2 && info.has_next);
    p.page = 1;
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_OK);
    CHECK(n == 2 && !info.has_next);
    tenants_free(items, n);
    p.page = 0;
    p.sort_property = by_title;
    p.descending = true;
    p.page_size = 10;
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(titles(items, n, buf, sizeof buf), "Tenant B,Tenant A,Other,50% Tenant");
    p.text_search = search;
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(titles(items, n, buf, sizeof buf), "Tenant B,Tenant A,50% Tenant");
    CHECK(info.total_elements == 3);
    static char percent[] = "0%";
    p.text_search = percent;
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(titles(items, n, buf, sizeof buf), "50% Tenant");
    p.text_search = NULL;
    p.sort_property = by_name;
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_BAD_REQUEST);
    p.sort_property = NULL;
    act_as(ctx, &w.admin_a);
    CHECK(tenant_list(ctx, &p, &items, &n, &info) == ERR_FORBIDDEN);
    world_close(&w);
}

static void delete_should_cascade_over_customers_users_and_tokens(void)
{
    struct user cu, found = { 0 };
    struct customer c = { 0 };
    struct token key_row = { 0 }, gone = { 0 };
    struct tenant t = { 0 };
    char key[SECRET_TOKEN_MAX], ev[1024], expected[1024];
    int64_t count = 0;

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    CHECK(activate(ctx, cu.id, "secret-password") == ERR_OK);
    act_as(ctx, &cu);
    CHECK(TX(ctx, apikey_create(ctx, "k", 0, key, &key_row)) == ERR_OK);

    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, tenant_delete(ctx, w.tenant_a.id)) == ERR_FORBIDDEN);
    act_as(ctx, &w.sysadmin);
    size_t events_before = event_count(ctx);
    CHECK(TX(ctx, tenant_delete(ctx, w.tenant_a.id)) == ERR_OK);
    CHECK(event_count(ctx) == events_before + 1);
    snprintf(expected, sizeof expected, "ENTITY_DELETED TENANT %s - Tenant A by sysadmin@example.com", w.tenant_a.id);
    CHECK_STR(last_event(ctx, ev, sizeof ev), expected);

    /* the tenant reads as gone and its users are gone at once; the rest goes in chunks */
    CHECK(store_tenant_get(ctx->store, w.tenant_a.id, &t) == STORE_NOT_FOUND);
    CHECK(store_customer_get(ctx->store, w.customer_a.id, &c) == STORE_OK);
    customer_release(&c);
    struct tenant_delete_chunk chunk;
    int chunks = 0;
    do {
        CHECK(store_begin(ctx->store) == STORE_OK);
        CHECK(tenant_delete_run_chunk(ctx->store, 1, &chunk) == STORE_OK);
        CHECK(store_commit(ctx->store) == STORE_OK);
        CHECK(chunk.idle || chunk.rows <= 1);
    } while (!chunk.idle && !chunk.finished && ++chunks < 100);
    CHECK(chunk.finished && strcmp(chunk.job.tenant_id, w.tenant_a.id) == 0 && chunk.job.deleted >= 1);
    CHECK(store_begin(ctx->store) == STORE_OK);
    CHECK(tenant_delete_run_chunk(ctx->store, 1, &chunk) == STORE_OK && chunk.idle);
    CHECK(store_commit(ctx->store) == STORE_OK);
    CHECK(store_customer_get(ctx->store, w.customer_a.id, &c) == STORE_NOT_FOUND);
    CHECK(store_user_get(ctx->store, cu.id, &found) == STORE_NOT_FOUND);
    CHECK(store_user_get(ctx->store, w.admin_a.id, &found) == STORE_NOT_FOUND);
    CHECK(store_token_get(ctx->store, key_row.id, &gone) == STORE_NOT_FOUND);
    CHECK(store_user_count_by_tenant(ctx->store, w.tenant_b.id, &count) == STORE_OK && count == 1);
    CHECK(store_customer_count(ctx->store, w.tenant_b.id, &count) == STORE_OK && count == 1);
    CHECK(store_tenant_count(ctx->store, &count) == STORE_OK && count == 1);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_authenticate(ctx, key)) == ERR_UNAUTHORIZED);
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_delete(ctx, w.tenant_a.id)) == ERR_NOT_FOUND);
    token_release(&key_row);
    user_release(&cu);
    world_close(&w);
}

int main(void)
{
    RUN(create_should_validate_and_emit);
    RUN(get_and_update_should_follow_versions);
    RUN(list_should_search_titles_sort_and_page);
    RUN(delete_should_cascade_over_customers_users_and_tokens);
    return test_report("test_tenants");
}
