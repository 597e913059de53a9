/* dashboard.c: the rules of dashboards (DashboardDataValidator, DashboardServiceImpl): title,
 * limits, versions, permissions, assignment to many customers with one event per change, the
 * Public customer, and the sources of the home dashboard. */
#include "cmagent/dashboard.h"

#include "cmagent/customer.h"
#include "cmagent/events.h"
#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_dashboard.h"
#include "cmagent/store_tenant.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sort_column dashboard_sort[] = {
    { "createdTime", "created_time" }, { "title", "title" }, { "name", "title" }, { "id", "id" }, { NULL, NULL },
};

static int validate_dashboard(struct ctx *ctx, const struct dashboard *d)
{
    struct violations v = { 0 };
    check_field(&v, "title", d->title);
    check_configuration_size(&v, ctx, d->configuration);
    if (violations_report(ctx, &v) != ERR_OK)
        return ctx->err.kind;
    return require_string(ctx, "Dashboard title", d->title);
}

static int check_limit(struct ctx *ctx)
{
    struct tenant t = { 0 };
    int64_t count = 0;
    int rc = store_tenant_get(ctx->store, ctx->who.tenant_id, &t);

    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Dashboard is referencing to non-existent tenant!");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    int64_t limit = t.limits.max_dashboards;
    tenant_release(&t);
    if (limit <= 0)
        return ERR_OK;
    rc = store_tenant_lock(ctx->store, ctx->who.tenant_id); /* the count below sees other agents' commits */
    if (rc == STORE_OK)
        rc = store_dashboard_count(ctx->store, ctx->who.tenant_id, &count);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (count >= limit)
        return error_limit_reached(&ctx->err, "Dashboards", "DASHBOARD", limit);
    return ERR_OK;
}

static int emit(struct ctx *ctx, const char *type, const struct dashboard *d, const char *customer_id,
                const struct customer *assigned, const struct customer *unassigned)
{
    struct event ev = { 0 };
    ev.type = type;
    ev.entity_type = "DASHBOARD";
    strcpy(ev.entity_id, d->id);
    strcpy(ev.tenant_id, d->tenant_id);
    events_resolve_customer(ctx, customer_id, ev.customer_id);
    ev.entity_name = d->title;
    if (assigned != NULL) {
        ev.assigned_customer_id = assigned->id;
        ev.assigned_customer_name = assigned->title;
    }
    if (unassigned != NULL) {
        ev.unassigned_customer_id = unassigned->id;
        ev.unassigned_customer_name = unassigned->title;
    }
    ev.entity = d;
    return events_emit(ctx, &ev);
}

/* UNIQUIFY against every dashboard title of the tenant that starts with d's. Titles need not be
 * unique (ThingsBoard has no such rule), so FAIL checks nothing. */
static int uniquify_title(struct ctx *ctx, struct dashboard *d, const struct name_conflict *nc)
{
    char **titles = NULL;
    size_t n = 0;
    /* under the tenant's lock: another agent's UNIQUIFY in the tenant reads after this one's commit */
    int rc = store_tenant_lock(ctx->store, d->tenant_id);
    if (rc == STORE_OK)
        rc = store_dashboard_titles_with_prefix(ctx->store, d->tenant_id, d->title, &titles, &n);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    name_uniquify(&d->title, nc, titles, n);
    for (size_t i = 0; i < n; i++)
        free(titles[i]);
    free(titles);
    if (utf8_length(d->title) > FIELD_MAX_LENGTH)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Validation error: title length must be equal or less than 255");
    return ERR_OK;
}

int dashboard_create(struct ctx *ctx, struct dashboard *d) { return dashboard_create_named(ctx, d, NULL); }

int dashboard_create_named(struct ctx *ctx, struct dashboard *d, const struct name_conflict *nc)
{
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    strcpy(d->tenant_id, ctx->who.tenant_id);
    if (validate_dashboard(ctx, d) != ERR_OK || check_limit(ctx) != ERR_OK)
        return ctx->err.kind;
    if (nc != NULL && nc->policy == NAME_CONFLICT_UNIQUIFY && uniquify_title(ctx, d, nc) != ERR_OK)
        return ctx->err.kind;
    uuid_generate(d->id);
    d->created_time = ctx->now;
    d->version = 1;
    int rc = store_dashboard_insert(ctx->store, d);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return emit(ctx, "ENTITY_CREATED", d, NULL, NULL, NULL);
}

static int load(struct ctx *ctx, const char *id, struct dashboard *out)
{
    int rc = store_dashboard_get(ctx->store, id, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Dashboard with id [%s] is not found", id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return ERR_OK;
}

static int load_for_write(struct ctx *ctx, const char *id, struct dashboard *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || load(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    if (strcmp(out->tenant_id, ctx->who.tenant_id) != 0) {
        dashboard_release(out);
        return error_forbidden(&ctx->err);
    }
    return ERR_OK;
}

/* Reloads d from the store (assignments and their titles included). */
static int reload(struct ctx *ctx, struct dashboard *d)
{
    char id[UUID_STR_LEN];
    strcpy(id, d->id);
    dashboard_release(d);
    return load(ctx, id, d);
}

/* An update refused because another agent changed the row since it was read answers 409. */
static int dashboard_write_failed(struct ctx *ctx, int rc)
{
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_CONFLICT, "Dashboard was already changed by someone else");
    return ctx_store_failed(ctx, rc);
}

/* What a client can set of a dashboard, for ifEqual "skip" (assignedCustomers is not saved here). */
static const struct field_spec dashboard_fields[] = {
    FIELD_TEXT_OF(struct dashboard, title),
    FIELD_TEXT_OF(struct dashboard, configuration),
    FIELDS_END,
};

int dashboard_update(struct ctx *ctx, struct dashboard *d, unsigned how)
{
    struct dashboard old;

    if (load_for_write(ctx, d->id, &old) != ERR_OK)
        return ctx->err.kind;
    if (update_check_version(ctx, how, d->version, old.version, "Dashboard") != ERR_OK) {
        dashboard_release(&old);
        return ctx->err.kind;
    }
    if (update_unchanged(how, d, &old, dashboard_fields)) {
        dashboard_release(d);
        *d = old; /* the stored dashboard, its version kept; no write, no event */
        return ERR_OK;
    }
    strcpy(d->tenant_id, old.tenant_id);
    d->created_time = old.created_time;
    d->version = old.version + 1;
    dashboard_release(&old);
    if (validate_dashboard(ctx, d) != ERR_OK)
        return ctx->err.kind;
    int rc = store_dashboard_update(ctx->store, d);
    if (rc != STORE_OK)
        return dashboard_write_failed(ctx, rc);
    if (reload(ctx, d) != ERR_OK)
        return ctx->err.kind;
    return emit(ctx, "ENTITY_UPDATED", d, NULL, NULL, NULL);
}

static bool assigned_to(const struct dashboard *d, const char *customer_id)
{
    for (size_t i = 0; i < d->n_assigned; i++)
        if (strcmp(d->assigned[i].customer_id, customer_id) == 0)
            return true;
    return false;
}

int dashboard_get(struct ctx *ctx, const char *id, struct dashboard *out)
{
    const struct principal *w = &ctx->who;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT | AUTH_CUSTOMER) != ERR_OK || load(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    bool same_tenant = strcmp(out->tenant_id, w->tenant_id) == 0;
    if ((w->authority == AUTHORITY_TENANT_ADMIN && same_tenant) ||
        (w->authority == AUTHORITY_CUSTOMER_USER && same_tenant && assigned_to(out, w->customer_id)))
        return ERR_OK;
    dashboard_release(out);
    return error_forbidden(&ctx->err);
}

int dashboard_delete(struct ctx *ctx, const char *id)
{
    struct dashboard d;
    if (load_for_write(ctx, id, &d) != ERR_OK)
        return ctx->err.kind;
    int rc = store_dashboard_delete(ctx->store, d.id);
    rc = rc == STORE_OK ? emit(ctx, "ENTITY_DELETED", &d, NULL, NULL, NULL) : ctx_store_failed(ctx, rc);
    dashboard_release(&d);
    return rc;
}

static int page(struct ctx *ctx, const char *customer_id, const struct page_request *p, struct dashboard **items,
                size_t *n, struct page_info *info)
{
    const char *column;
    int64_t total = 0;

    if (paging_validate(ctx, p, dashboard_sort, &column) != ERR_OK)
        return ctx->err.kind;
    int rc = store_dashboard_page(ctx->store, ctx->who.tenant_id, customer_id, p->text_search, column,
                                  p->descending, p->page_size, paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}

int dashboard_list(struct ctx *ctx, const struct page_request *p, struct dashboard **items, size_t *n,
                   struct page_info *info)
{
    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    return page(ctx, NULL, p, items, n, info);
}

int dashboard_list_by_customer(struct ctx *ctx, const char *customer_id, const struct page_request *p,
                               struct dashboard **items, size_t *n, struct page_info *info)
{
    struct customer c;

    *items = NULL;
    *n = 0;
    if (customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    customer_release(&c);
    return page(ctx, customer_id, p, items, n, info);
}

/* Raises the version once after the assignments changed, and reloads d. */
static int bump(struct ctx *ctx, struct dashboard *d)
{
    d->version++;
    int rc = store_dashboard_update(ctx->store, d);
    if (rc != STORE_OK)
        return dashboard_write_failed(ctx, rc);
    return reload(ctx, d);
}

static int assign_customer(struct ctx *ctx, struct dashboard *d, const struct customer *c, bool always_event)
{
    bool changed = false;
    int rc = store_dashboard_assign(ctx->store, d->id, c->id, &changed);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (changed && bump(ctx, d) != ERR_OK)
        return ctx->err.kind;
    if (!changed && !always_event)
        return ERR_OK;
    return emit(ctx, "ENTITY_ASSIGNED", d, c->id, c, NULL);
}

static int unassign_customer(struct ctx *ctx, struct dashboard *d, const struct customer *c, bool always_event)
{
    bool changed = false;
    int rc = store_dashboard_unassign(ctx->store, d->id, c->id, &changed);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (changed && bump(ctx, d) != ERR_OK)
        return ctx->err.kind;
    if (!changed && !always_event)
        return ERR_OK;
    return emit(ctx, "ENTITY_UNASSIGNED", d, c->id, NULL, c);
}

int dashboard_assign(struct ctx *ctx, const char *id, const char *customer_id, struct dashboard *out)
{
    struct customer c;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    int rc = load_for_write(ctx, id, out);
    if (rc == ERR_OK)
        rc = assign_customer(ctx, out, &c, true);
    customer_release(&c);
    return rc;
}

int dashboard_unassign(struct ctx *ctx, const char *id, const char *customer_id, struct dashboard *out)
{
    struct customer c;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    int rc = load_for_write(ctx, id, out);
    if (rc == ERR_OK)
        rc = unassign_customer(ctx, out, &c, true);
    customer_release(&c);
    return rc;
}

static bool listed(char (*ids)[UUID_STR_LEN], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

int dashboard_update_customers(struct ctx *ctx, const char *id, enum dashboard_customers_mode mode,
                               char (*customer_ids)[UUID_STR_LEN], size_t n, struct dashboard *out)
{
    struct customer *cs = NULL;
    size_t ncs = 0;
    int rc;

    if (load_for_write(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    cs = xcalloc(n ? n : 1, sizeof *cs);
    for (size_t i = 0; i < n; i++) {
        if (listed(customer_ids, i, customer_ids[i]))
            continue; /* a duplicate in the request */
        if (customer_get(ctx, customer_ids[i], &cs[ncs]) != ERR_OK) {
            rc = ctx->err.kind;
            goto out;
        }
        ncs++;
    }
    rc = ERR_OK;
    if (mode == DASHBOARD_SET || mode == DASHBOARD_ADD) {
        for (size_t i = 0; i < ncs && rc == ERR_OK; i++)
            rc = assign_customer(ctx, out, &cs[i], false);
    }
    if (mode == DASHBOARD_REMOVE) {
        for (size_t i = 0; i < ncs && rc == ERR_OK; i++)
            rc = unassign_customer(ctx, out, &cs[i], false);
    }
    if (mode == DASHBOARD_SET && rc == ERR_OK) {
        /* The customers assigned now but not listed go. Copy them first: out is reloaded on each change. */
        size_t nold = out->n_assigned, nremove = 0;
        char(*remove)[UUID_STR_LEN] = xcalloc(nold ? nold : 1, UUID_STR_LEN);
        for (size_t i = 0; i < nold; i++)
            if (!listed(customer_ids, n, out->assigned[i].customer_id))
                strcpy(remove[nremove++], out->assigned[i].customer_id);
        for (size_t i = 0; i < nremove && rc == ERR_OK; i++) {
            struct customer c = { 0 };
            int src = store_customer_get(ctx->store, remove[i], &c);
            rc = src == STORE_OK ? unassign_customer(ctx, out, &c, false) : ctx_store_failed(ctx, src);
            customer_release(&c);
        }
        free(remove);
    }
out:
    customers_free(cs, ncs);
    return rc;
}

int dashboard_make_public(struct ctx *ctx, const char *id, struct dashboard *out)
{
    struct customer pub;

    if (load_for_write(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    int rc = customer_public(ctx, &pub);
    if (rc == ERR_OK)
        rc = assign_customer(ctx, out, &pub, true);
    customer_release(&pub);
    return rc;
}

int dashboard_make_private(struct ctx *ctx, const char *id, struct dashboard *out)
{
    struct customer pub;

    if (load_for_write(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    int rc = customer_public(ctx, &pub);
    if (rc == ERR_OK)
        rc = unassign_customer(ctx, out, &pub, true);
    customer_release(&pub);
    return rc;
}

int dashboard_exists(struct ctx *ctx, const char *tenant_id, const char *id, bool *exists)
{
    int rc = store_dashboard_exists(ctx->store, tenant_id, id, exists);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int dashboard_home_sources(struct ctx *ctx, char **user_info, char **customer_info, char **tenant_info)
{
    const struct principal *w = &ctx->who;
    struct user u = { 0 };
    int rc;

    *user_info = *customer_info = *tenant_info = NULL;
    rc = store_user_get(ctx->store, w->user_id, &u);
    if (rc == STORE_OK) {
        *user_info = u.additional_info;
        u.additional_info = NULL;
        user_release(&u);
    } else if (rc != STORE_NOT_FOUND) {
        return ctx_store_failed(ctx, rc);
    }
    if (w->authority == AUTHORITY_CUSTOMER_USER && w->customer_id[0] != '\0' && strcmp(w->customer_id, NULL_UUID) != 0) {
        struct customer c = { 0 };
        rc = store_customer_get(ctx->store, w->customer_id, &c);
        if (rc == STORE_OK) {
            *customer_info = c.additional_info;
            c.additional_info = NULL;
            customer_release(&c);
        } else if (rc != STORE_NOT_FOUND) {
            return ctx_store_failed(ctx, rc);
        }
    }
    if (w->tenant_id[0] != '\0' && strcmp(w->tenant_id, NULL_UUID) != 0) {
        struct tenant t = { 0 };
        rc = store_tenant_get(ctx->store, w->tenant_id, &t);
        if (rc == STORE_OK) {
            *tenant_info = t.additional_info;
            t.additional_info = NULL;
            tenant_release(&t);
        } else if (rc != STORE_NOT_FOUND) {
            return ctx_store_failed(ctx, rc);
        }
    }
    return ERR_OK;
}
