/* customer.c: the rules of customer management: validation (CustomerDataValidator), title
 * uniqueness and UNIQUIFY, optimistic locking, tenant limits, reads, listings and the delete cascade. */
#include "cmagent/customer.h"

#include "cmagent/events.h"
#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_dashboard.h"
#include "cmagent/store_tenant.h"
#include "cmagent/store_user.h"
#include "cmagent/unassign.h"
#include "cmagent/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sort_column customer_sort[] = {
    { "createdTime", "created_time" }, { "title", "title" }, { "email", "email COLLATE NOCASE" },
    { "country", "country COLLATE NOCASE" }, { "state", "state" }, { "city", "city COLLATE NOCASE" },
    { "address", "address" }, { "address2", "address2" }, { "zip", "zip" }, { "phone", "phone COLLATE NOCASE" },
    { "id", "id" },
    { NULL, NULL },
};

#define PUBLIC_CUSTOMER_TITLE "Public"

/* Field constraints first (sorted, joined), then CustomerDataValidator's own checks. */
static int validate_customer(struct ctx *ctx, const struct customer *c)
{
    struct violations v = { 0 };
    const struct contact *k = &c->contact;

    check_contact_fields(&v, ctx, c->title, k, c->additional_info);
    if (violations_report(ctx, &v) != ERR_OK)
        return ctx->err.kind;
    if (require_string(ctx, "Customer title", c->title) != ERR_OK)
        return ctx->err.kind;
    if (strcmp(c->title, PUBLIC_CUSTOMER_TITLE) == 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "'Public' title for customer is system reserved!");
    if (k->email != NULL && k->email[0] != '\0' && !email_is_valid(k->email))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid email address format '%s'!", k->email);
    return ERR_OK;
}

/* UNIQUIFY against every title of the tenant that starts with c's (uniquify.h). */
static int uniquify_title(struct ctx *ctx, struct customer *c, const struct name_conflict *nc)
{
    char **titles = NULL;
    size_t n = 0;
    /* under the tenant's lock: another agent's UNIQUIFY in the tenant reads after this one's commit */
    int rc = store_tenant_lock(ctx->store, ctx->who.tenant_id);
    if (rc == STORE_OK)
        rc = store_customer_titles_with_prefix(ctx->store, ctx->who.tenant_id, c->title, &titles, &n);

    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    name_uniquify(&c->title, nc, titles, n);
    for (size_t i = 0; i < n; i++)
        free(titles[i]);
    free(titles);
    return ERR_OK;
}

/* The title must be free in the tenant (case-sensitive), and the external id too. */
static int check_unique(struct ctx *ctx, const struct customer *c)
{
    struct customer other = { 0 };
    int exists = 0;
    int rc = store_customer_get_by_title(ctx->store, c->tenant_id, c->title, &other);

    if (rc == STORE_OK) {
        bool same = strcmp(other.id, c->id) == 0;
        customer_release(&other);
        if (!same)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer with such title already exists!");
    } else if (rc != STORE_NOT_FOUND) {
        return ctx_store_failed(ctx, rc);
    }
    if (c->external_id[0] != '\0') {
        rc = store_customer_exists_external_id(ctx->store, c->tenant_id, c->external_id, c->id, &exists);
        if (rc != STORE_OK)
            return ctx_store_failed(ctx, rc);
        if (exists)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer with such external id already exists!");
    }
    return ERR_OK;
}

static int check_customer_limit(struct ctx *ctx)
{
    struct tenant t = { 0 };
    int64_t count = 0;
    int rc = store_tenant_get(ctx->store, ctx->who.tenant_id, &t);

    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer is referencing to non-existent tenant!");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    int64_t limit = t.limits.max_customers;
    tenant_release(&t);
    if (limit <= 0)
        return ERR_OK;
    rc = store_tenant_lock(ctx->store, ctx->who.tenant_id); /* the count below sees other agents' commits */
    if (rc == STORE_OK)
        rc = store_customer_count(ctx->store, ctx->who.tenant_id, &count);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (count >= limit)
        return error_limit_reached(&ctx->err, "Customers", "CUSTOMER", limit);
    return ERR_OK;
}

static int emit_customer_event(struct ctx *ctx, const char *type, const struct customer *c, const char *customer_id)
{
    struct event ev = { 0 };
    ev.type = type;
    ev.entity_type = "CUSTOMER";
    strcpy(ev.entity_id, c->id);
    strcpy(ev.tenant_id, c->tenant_id);
    events_resolve_customer(ctx, customer_id, ev.customer_id);
    ev.entity_name = c->title;
    ev.entity = c;
    return events_emit(ctx, &ev);
}

int customer_create(struct ctx *ctx, struct customer *c, const struct name_conflict *nc)
{
    int rc;

    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    strcpy(c->tenant_id, ctx->who.tenant_id);
    c->id[0] = '\0';
    if (validate_customer(ctx, c) != ERR_OK || check_customer_limit(ctx) != ERR_OK)
        return ctx->err.kind;
    if (nc->policy == NAME_CONFLICT_UNIQUIFY && uniquify_title(ctx, c, nc) != ERR_OK)
        return ctx->err.kind;
    if (utf8_length(c->title) > FIELD_MAX_LENGTH)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Validation error: title length must be equal or less than 255");
    if (check_unique(ctx, c) != ERR_OK)
        return ctx->err.kind;
    uuid_generate(c->id);
    c->created_time = ctx->now;
    c->version = 1;
    rc = store_customer_insert(ctx->store, c);
    if (rc == STORE_DUPLICATE)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer with such title already exists!");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return emit_customer_event(ctx, "ENTITY_CREATED", c, NULL);
}

static int load_customer(struct ctx *ctx, const char *id, struct customer *out)
{
    int rc = store_customer_get(ctx->store, id, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Customer with id [%s] is not found", id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return ERR_OK;
}

int customer_get_for_write(struct ctx *ctx, const char *id, struct customer *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || load_customer(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    if (perm_customer(ctx, PERM_WRITE, out) != ERR_OK) {
        customer_release(out);
        return ctx->err.kind;
    }
    return ERR_OK;
}

/* What a client can set of a customer, for ifEqual "skip". */
static const struct field_spec customer_fields[] = {
    FIELD_TEXT_OF(struct customer, title),
    FIELD_CONTACT_OF(struct customer, contact),
    FIELD_TEXT_OF(struct customer, additional_info),
    FIELD_ID_OF(struct customer, external_id),
    FIELDS_END,
};

int customer_update(struct ctx *ctx, struct customer *c, unsigned how, const struct name_conflict *nc)
{
    struct customer old;
    int rc;

    if (customer_get_for_write(ctx, c->id, &old) != ERR_OK)
        return ctx->err.kind;
    if (update_check_version(ctx, how, c->version, old.version, "Customer") != ERR_OK) {
        customer_release(&old);
        return ctx->err.kind;
    }
    if (update_unchanged(how, c, &old, customer_fields)) {
        customer_release(c);
        *c = old; /* the stored customer, its version kept; no write, no event */
        return ERR_OK;
    }
    strcpy(c->tenant_id, old.tenant_id);
    c->created_time = old.created_time;
    c->version = old.version + 1;
    bool renamed = old.title == NULL || c->title == NULL || strcmp(old.title, c->title) != 0;
    customer_release(&old);
    if (validate_customer(ctx, c) != ERR_OK)
        return ctx->err.kind;
    if (renamed && nc->policy == NAME_CONFLICT_UNIQUIFY && uniquify_title(ctx, c, nc) != ERR_OK)
        return ctx->err.kind;
    if (check_unique(ctx, c) != ERR_OK)
        return ctx->err.kind;
    rc = store_customer_update(ctx->store, c);
    if (rc == STORE_DUPLICATE)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer with such title already exists!");
    if (rc == STORE_NOT_FOUND) /* another agent changed the row since it was read */
        return error_set(&ctx->err, ERR_CONFLICT, "Customer was already changed by someone else");
    /* A rename re-saves the dashboards that show the title (ThingsBoard, non-public customers). */
    if (rc == STORE_OK && renamed && !c->is_public)
        rc = store_dashboard_touch_customer(ctx->store, c->id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return emit_customer_event(ctx, "ENTITY_UPDATED", c, NULL);
}

int customer_get(struct ctx *ctx, const char *id, struct customer *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT | AUTH_CUSTOMER) != ERR_OK || load_customer(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    if (perm_customer(ctx, PERM_READ, out) != ERR_OK) {
        customer_release(out);
        return ctx->err.kind;
    }
    return ERR_OK;
}

int customer_find_by_title(struct ctx *ctx, const char *title, struct customer *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    int rc = store_customer_get_by_title(ctx->store, ctx->who.tenant_id, title, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Customer with title [%s] is not found", title);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int customer_get_by_ids(struct ctx *ctx, char (*ids)[UUID_STR_LEN], size_t nids, struct customer **out, size_t *n)
{
    struct customer *found;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    found = xcalloc(nids ? nids : 1, sizeof *found);
    for (size_t i = 0; i < nids; i++) {
        int rc = store_customer_get(ctx->store, ids[i], &found[count]);
        if (rc == STORE_NOT_FOUND)
            continue;
        if (rc != STORE_OK) {
            customers_free(found, count);
            return ctx_store_failed(ctx, rc);
        }
        if (strcmp(found[count].tenant_id, ctx->who.tenant_id) != 0) {
            customer_release(&found[count]);
            continue;
        }
        count++;
    }
    *out = found;
    *n = count;
    return ERR_OK;
}

int customer_list(struct ctx *ctx, const struct page_request *p, struct customer **items, size_t *n,
                  struct page_info *info)
{
    return customer_search(ctx, p, NULL, items, n, info);
}

int customer_search(struct ctx *ctx, const struct page_request *p, const struct customer_filter *f,
                    struct customer **items, size_t *n, struct page_info *info)
{
    const char *column;
    int64_t total = 0;

    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || paging_validate(ctx, p, customer_sort, &column) != ERR_OK)
        return ctx->err.kind;
    int rc = store_customer_search(ctx->store, ctx->who.tenant_id, p->text_search, f, column, p->descending,
                                   p->page_size, paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}

/* Cursors need a sort column that is never NULL and an index that starts with it. */
static const char *cursor_column(const struct page_request *p)
{
    const char *prop = p->sort_property != NULL ? p->sort_property : "id";
    if (strcmp(prop, "createdTime") == 0)
        return "created_time";
    if (strcmp(prop, "title") == 0 || strcmp(prop, "id") == 0)
        return prop;
    return NULL;
}

char *customer_page_token(const struct page_request *p, const struct customer *last)
{
    if (last == NULL)
        return NULL;
    return paging_next_token(p, cursor_column(p), last->id, last->created_time, last->title);
}

int customer_list_after(struct ctx *ctx, const struct page_request *p, const char *page_token,
                        struct customer **items, size_t *n, bool *has_next)
{
    const char *column;
    struct page_cursor cur;

    *items = NULL;
    *n = 0;
    *has_next = false;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || paging_validate(ctx, p, customer_sort, &column) != ERR_OK)
        return ctx->err.kind;
    if (cursor_column(p) == NULL)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "pageToken works with sortProperty createdTime, title or id");
    if (paging_cursor_decode(ctx, page_token, p, &cur) != ERR_OK)
        return ctx->err.kind;
    int64_t limit = p->page_size < INT64_MAX ? p->page_size + 1 : p->page_size;
    int rc = store_customer_page_after(ctx->store, ctx->who.tenant_id, p->text_search, column, p->descending,
                                       cur.last_value, cur.last_id, limit, items, n);
    paging_cursor_release(&cur);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if ((int64_t)*n > p->page_size) {
        customer_release(&(*items)[*n - 1]);
        (*n)--;
        *has_next = true;
    }
    return ERR_OK;
}

int customer_delete(struct ctx *ctx, const char *id)
{
    struct customer c;
    int rc;

    if (customer_get_for_write(ctx, id, &c) != ERR_OK)
        return ctx->err.kind;
    /* Users and dashboard assignments go now, each with one set-based statement. The devices,
     * assets and edges, of which a customer may own millions, are unassigned later in short
     * transactions of their own (unassign.h); they read as unassigned from this commit on. */
    rc = store_customer_lock(ctx->store, c.id); /* before its users are read and deleted */
    if (rc == STORE_OK)
        rc = store_user_delete_by_customer(ctx->store, c.id);
    if (rc == STORE_OK) {
        int64_t changed = 0;
        rc = store_dashboard_unassign_customer(ctx->store, c.id, &changed);
    }
    if (rc == STORE_OK)
        rc = store_customer_delete(ctx->store, c.id);
    if (rc != STORE_OK) {
        customer_release(&c);
        return ctx_store_failed(ctx, rc);
    }
    rc = unassign_schedule(ctx, c.id, c.tenant_id);
    if (rc == ERR_OK)
        rc = emit_customer_event(ctx, "ENTITY_DELETED", &c, c.id);
    customer_release(&c);
    return rc;
}

int customer_public(struct ctx *ctx, struct customer *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    int rc = store_customer_get_public(ctx->store, ctx->who.tenant_id, out);
    if (rc == STORE_OK)
        return ERR_OK;
    if (rc != STORE_NOT_FOUND)
        return ctx_store_failed(ctx, rc);
    uuid_generate(out->id);
    strcpy(out->tenant_id, ctx->who.tenant_id);
    out->title = xstrdup_or_null(PUBLIC_CUSTOMER_TITLE);
    out->additional_info = xstrdup_or_null("{\"isPublic\":true}");
    out->is_public = true;
    out->created_time = ctx->now;
    out->version = 1;
    rc = store_customer_insert(ctx->store, out);
    if (rc == STORE_DUPLICATE) {
        customer_release(out);
        rc = store_customer_get_by_title(ctx->store, ctx->who.tenant_id, PUBLIC_CUSTOMER_TITLE, out);
        return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
    }
    if (rc != STORE_OK) {
        customer_release(out);
        return ctx_store_failed(ctx, rc);
    }
    return emit_customer_event(ctx, "ENTITY_CREATED", out, NULL);
}
