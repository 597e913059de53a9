/* tenant.c: the rules of tenant management, reserved to the system administrator: validation
 * (TenantDataValidator), limits, optimistic locking, reads, listings and the delete cascade, which
 * deletes the users at once and the rest in chunks afterwards (tenant_delete_run_chunk). */
#include "cmagent/tenant.h"

#include "cmagent/events.h"
#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/store_tenant.h"
#include "cmagent/store_tenant_job.h"
#include "cmagent/validate.h"

#include <string.h>

static const struct sort_column tenant_sort[] = {
    { "createdTime", "created_time" }, { "title", "title" }, { "email", "email" },
    { "country", "country" }, { "city", "city" }, { "id", "id" },
    { NULL, NULL },
};

/* Every limit is a count, 0 meaning none: a negative one is refused, naming it. */
static int validate_limits(struct ctx *ctx, const struct tenant_limits *l)
{
    const struct { const char *name; int64_t value; } limits[] = {
        { "maxCustomers", l->max_customers }, { "maxUsers", l->max_users },
        { "maxDevices", l->max_devices }, { "maxAssets", l->max_assets },
        { "maxEdges", l->max_edges }, { "maxDashboards", l->max_dashboards },
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (limits[i].value < 0)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "limits.%s must be zero (no limit) or positive",
                             limits[i].name);
    return ERR_OK;
}

/* Field constraints first (sorted, joined), then TenantDataValidator's own checks. */
static int validate_tenant(struct ctx *ctx, const struct tenant *t)
{
    struct violations v = { 0 };
    const struct contact *k = &t->contact;

    check_contact_fields(&v, ctx, t->title, k, t->additional_info);
    if (violations_report(ctx, &v) != ERR_OK)
        return ctx->err.kind;
    if (require_string(ctx, "Tenant title", t->title) != ERR_OK)
        return ctx->err.kind;
    if (k->email != NULL && k->email[0] != '\0' && !email_is_valid(k->email))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid email address format '%s'!", k->email);
    return validate_limits(ctx, &t->limits);
}

static int emit_tenant_event(struct ctx *ctx, const char *type, const struct tenant *t)
{
    struct event ev = { 0 };
    ev.type = type;
    ev.entity_type = "TENANT";
    strcpy(ev.entity_id, t->id);
    strcpy(ev.tenant_id, t->id);
    events_resolve_customer(ctx, NULL, ev.customer_id);
    ev.entity_name = t->title;
    ev.entity = t;
    return events_emit(ctx, &ev);
}

static int load_tenant(struct ctx *ctx, const char *id, struct tenant *out)
{
    int rc = store_tenant_get(ctx->store, id, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Tenant with id [%s] is not found", id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return ERR_OK;
}

int tenant_create(struct ctx *ctx, struct tenant *t)
{
    if (perm_tenant(ctx) != ERR_OK || validate_tenant(ctx, t) != ERR_OK)
        return ctx->err.kind;
    uuid_generate(t->id);
    t->created_time = ctx->now;
    t->version = 1;
    int rc = store_tenant_insert(ctx->store, t);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return emit_tenant_event(ctx, "ENTITY_CREATED", t);
}

/* What a client can set of a tenant, for ifEqual "skip". */
static const struct field_spec tenant_fields[] = {
    FIELD_TEXT_OF(struct tenant, title),
    FIELD_CONTACT_OF(struct tenant, contact),
    FIELD_TEXT_OF(struct tenant, additional_info),
    FIELD_INT64_OF(struct tenant, limits.max_customers),
    FIELD_INT64_OF(struct tenant, limits.max_users),
    FIELD_INT64_OF(struct tenant, limits.max_devices),
    FIELD_INT64_OF(struct tenant, limits.max_assets),
    FIELD_INT64_OF(struct tenant, limits.max_edges),
    FIELD_INT64_OF(struct tenant, limits.max_dashboards),
    FIELDS_END,
};

int tenant_update(struct ctx *ctx, struct tenant *t, unsigned how)
{
    struct tenant old = { 0 };

    if (perm_tenant(ctx) != ERR_OK || load_tenant(ctx, t->id, &old) != ERR_OK)
        return ctx->err.kind;
    if (update_check_version(ctx, how, t->version, old.version, "Tenant") != ERR_OK) {
        tenant_release(&old);
        return ctx->err.kind;
    }
    if (update_unchanged(how, t, &old, tenant_fields)) {
        tenant_release(t);
        *t = old; /* the stored tenant, its version kept; no write, no event */
        return ERR_OK;
    }
    int64_t stored_version = old.version;
    t->created_time = old.created_time;
    tenant_release(&old);
    if (validate_tenant(ctx, t) != ERR_OK)
        return ctx->err.kind;
    t->version = stored_version + 1;
    int rc = store_tenant_update(ctx->store, t);
    if (rc == STORE_NOT_FOUND) /* another agent changed the row since it was read */
        return error_set(&ctx->err, ERR_CONFLICT, "Tenant was already changed by someone else");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return emit_tenant_event(ctx, "ENTITY_UPDATED", t);
}

int tenant_get(struct ctx *ctx, const char *id, struct tenant *out)
{
    memset(out, 0, sizeof *out);
    if (perm_tenant(ctx) != ERR_OK)
        return ctx->err.kind;
    return load_tenant(ctx, id, out);
}

int tenant_delete(struct ctx *ctx, const char *id)
{
    struct tenant t = { 0 };

    if (perm_tenant(ctx) != ERR_OK || load_tenant(ctx, id, &t) != ERR_OK)
        return ctx->err.kind;
    /* The users go now (their tokens stop working), the rest in chunks: the tenant reads as gone. */
    int rc = store_tenant_job_add(ctx->store, t.id, ctx->now);
    if (rc != STORE_OK)
        rc = ctx_store_failed(ctx, rc);
    else
        rc = emit_tenant_event(ctx, "ENTITY_DELETED", &t);
    tenant_release(&t);
    return rc;
}

int tenant_list(struct ctx *ctx, const struct page_request *p, struct tenant **items, size_t *n,
                struct page_info *info)
{
    const char *column;
    int64_t total = 0;

    *items = NULL;
    *n = 0;
    if (perm_tenant(ctx) != ERR_OK || paging_validate(ctx, p, tenant_sort, &column) != ERR_OK)
        return ctx->err.kind;
    int rc = store_tenant_page(ctx->store, p->text_search, column, p->descending, p->page_size,
                               paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}

int tenant_delete_run_chunk(struct store *s, int64_t limit, struct tenant_delete_chunk *out)
{
    int64_t left = limit;
    int rc;

    memset(out, 0, sizeof *out);
    rc = store_tenant_job_oldest(s, &out->job);
    if (rc == STORE_NOT_FOUND) {
        out->idle = true;
        return STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    /* The tables in order: one that gives fewer rows than asked for has none left. */
    for (int k = 0; k < TENANT_JOB_TABLES && left > 0; k++) {
        int64_t changed = 0;
        rc = store_tenant_job_delete_rows(s, k, out->job.tenant_id, left, &changed);
        if (rc != STORE_OK)
            return rc;
        left -= changed;
    }
    out->rows = limit - left;
    out->job.deleted += out->rows;
    if (left > 0) {
        out->finished = true;
        return store_tenant_job_finish(s, out->job.tenant_id);
    }
    return store_tenant_job_progress(s, out->job.tenant_id, out->rows);
}
