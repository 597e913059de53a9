/* entity.c: the rules of devices, assets and edges (DeviceDataValidator and its siblings, the
 * assign/unassign services): validation with ThingsBoard's messages, unique names, limits,
 * versions, permissions, single-owner assignment and its events. */
#include "cmagent/entity.h"

#include "cmagent/customer.h"
#include "cmagent/events.h"
#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/secret.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"
#include "cmagent/unassign.h"
#include "cmagent/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sort_column entity_sort[] = {
    { "createdTime", "created_time" }, { "name", "name" }, { "type", "type" }, { "label", "label" },
    { "id", "id" }, { NULL, NULL },
};

static const char *const plural[ENTITY_KINDS] = { "Devices", "Assets", "Edges" };
static const char *const lower[ENTITY_KINDS] = { "device", "asset", "edge" };

static bool has_customer(const char *id) { return id[0] != '\0' && strcmp(id, NULL_UUID) != 0; }

static int validate_entity(struct ctx *ctx, struct entity *e)
{
    struct violations v = { 0 };
    const char *label = entity_kind_label(e->kind);
    char what[64];

    check_field(&v, "name", e->name);
    check_field(&v, "type", e->type);
    check_field(&v, "label", e->label);
    check_free_json(&v, ctx, "additionalInfo", e->additional_info);
    if (e->kind == ENTITY_EDGE) {
        check_field(&v, "routingKey", e->routing_key);
        check_field(&v, "secret", e->secret);
    }
    if (violations_report(ctx, &v) != ERR_OK)
        return ctx->err.kind;
    snprintf(what, sizeof what, "%s name", label);
    if (require_string(ctx, what, e->name) != ERR_OK)
        return ctx->err.kind;
    snprintf(what, sizeof what, "%s type", label);
    if (require_string(ctx, what, e->type) != ERR_OK)
        return ctx->err.kind;
    if (e->kind == ENTITY_EDGE) {
        if (require_string(ctx, "Edge routingKey", e->routing_key) != ERR_OK ||
            require_string(ctx, "Edge secret", e->secret) != ERR_OK)
            return ctx->err.kind;
    }
    return ERR_OK;
}

/* The owner named in a create or update must be a customer of the same tenant. */
static int check_owner(struct ctx *ctx, struct entity *e)
{
    struct customer c = { 0 };

    if (!has_customer(e->customer_id)) {
        e->customer_id[0] = '\0';
        return ERR_OK;
    }
    int rc = store_customer_get(ctx->store, e->customer_id, &c);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Can't assign %s to non-existent customer!", lower[e->kind]);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    bool same = strcmp(c.tenant_id, e->tenant_id) == 0;
    customer_release(&c);
    if (!same)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Can't assign %s to customer from different tenant!",
                         lower[e->kind]);
    return ERR_OK;
}

static int check_unique_name(struct ctx *ctx, const struct entity *e)
{
    struct entity other = { 0 };
    int rc = store_entity_get_by_name(ctx->store, e->kind, e->tenant_id, e->name, &other);
    if (rc == STORE_OK) {
        bool same = strcmp(other.id, e->id) == 0;
        entity_release(&other);
        if (!same)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "%s with such name already exists!",
                             entity_kind_label(e->kind));
        return ERR_OK;
    }
    return rc == STORE_NOT_FOUND ? ERR_OK : ctx_store_failed(ctx, rc);
}

static int check_limit(struct ctx *ctx, enum entity_kind kind)
{
    struct tenant t = { 0 };
    int64_t count = 0, limit;
    int rc = store_tenant_get(ctx->store, ctx->who.tenant_id, &t);

    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s is referencing to non-existent tenant!",
                         entity_kind_label(kind));
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    limit = kind == ENTITY_DEVICE ? t.limits.max_devices
          : kind == ENTITY_ASSET  ? t.limits.max_assets
                                  : t.limits.max_edges;
    tenant_release(&t);
    if (limit <= 0)
        return ERR_OK;
    rc = store_tenant_lock(ctx->store, ctx->who.tenant_id); /* the count below sees other agents' commits */
    if (rc == STORE_OK)
        rc = store_entity_count(ctx->store, kind, ctx->who.tenant_id, &count);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (count >= limit)
        return error_limit_reached(&ctx->err, plural[kind], entity_kind_type(kind), limit);
    return ERR_OK;
}

static int store_write_failed(struct ctx *ctx, const struct entity *e, int rc)
{
    if (rc == STORE_DUPLICATE) {
        if (e->kind == ENTITY_EDGE) {
            struct entity other = { 0 };
            int src = store_entity_get_by_name(ctx->store, e->kind, e->tenant_id, e->name, &other);
            entity_release(&other);
            if (src == STORE_NOT_FOUND)
                return error_set(&ctx->err, ERR_BAD_REQUEST, "Edge with such routingKey already exists!");
        }
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s with such name already exists!",
                         entity_kind_label(e->kind));
    }
    if (rc == STORE_NOT_FOUND) /* an update whose row another agent changed since it was read */
        return error_set(&ctx->err, ERR_CONFLICT, "%s was already changed by someone else", entity_kind_label(e->kind));
    return ctx_store_failed(ctx, rc);
}

struct owner_names {
    const char *assigned_id, *assigned_name, *unassigned_id, *unassigned_name;
};

static int emit(struct ctx *ctx, const char *type, const struct entity *e, const char *customer_id,
                const struct owner_names *names)
{
    struct event ev = { 0 };
    ev.type = type;
    ev.entity_type = entity_kind_type(e->kind);
    strcpy(ev.entity_id, e->id);
    strcpy(ev.tenant_id, e->tenant_id);
    events_resolve_customer(ctx, customer_id, ev.customer_id);
    ev.entity_name = e->name;
    if (names != NULL) {
        ev.assigned_customer_id = names->assigned_id;
        ev.assigned_customer_name = names->assigned_name;
        ev.unassigned_customer_id = names->unassigned_id;
        ev.unassigned_customer_name = names->unassigned_name;
    }
    ev.entity = e;
    return events_emit(ctx, &ev);
}

static void random_secret(char *out, size_t len)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[64];
    if (len > sizeof r)
        len = sizeof r;
    secret_random(r, len - 1);
    for (size_t i = 0; i + 1 < len; i++)
        out[i] = alnum[r[i] % (sizeof alnum - 1)];
    out[len - 1] = '\0';
}

/* UNIQUIFY against every name of the tenant's entities of e's kind that starts with e's. */
static int uniquify_name(struct ctx *ctx, struct entity *e, const struct name_conflict *nc)
{
    char **names = NULL;
    size_t n = 0;
    /* under the tenant's lock: another agent's UNIQUIFY in the tenant reads after this one's commit */
    int rc = store_tenant_lock(ctx->store, e->tenant_id);
    if (rc == STORE_OK)
        rc = store_entity_names_with_prefix(ctx->store, e->kind, e->tenant_id, e->name, &names, &n);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    name_uniquify(&e->name, nc, names, n);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (utf8_length(e->name) > FIELD_MAX_LENGTH)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Validation error: name length must be equal or less than 255");
    return ERR_OK;
}

int entity_create(struct ctx *ctx, struct entity *e) { return entity_create_named(ctx, e, NULL); }

int entity_create_named(struct ctx *ctx, struct entity *e, const struct name_conflict *nc)
{
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    strcpy(e->tenant_id, ctx->who.tenant_id);
    e->id[0] = '\0';
    if (e->type == NULL)
        e->type = xstrdup_or_null("default");
    if (e->kind == ENTITY_EDGE) {
        if (e->routing_key == NULL) {
            char key[UUID_STR_LEN];
            uuid_generate(key);
            e->routing_key = xstrdup_or_null(key);
        }
        if (e->secret == NULL) {
            char secret[21];
            random_secret(secret, sizeof secret);
            e->secret = xstrdup_or_null(secret);
        }
    }
    if (validate_entity(ctx, e) != ERR_OK || check_owner(ctx, e) != ERR_OK || check_limit(ctx, e->kind) != ERR_OK)
        return ctx->err.kind;
    if (nc != NULL && nc->policy == NAME_CONFLICT_UNIQUIFY && uniquify_name(ctx, e, nc) != ERR_OK)
        return ctx->err.kind;
    if (check_unique_name(ctx, e) != ERR_OK)
        return ctx->err.kind;
    uuid_generate(e->id);
    e->created_time = ctx->now;
    e->version = 1;
    int rc = store_entity_insert(ctx->store, e);
    if (rc != STORE_OK)
        return store_write_failed(ctx, e, rc);
    return emit(ctx, "ENTITY_CREATED", e, e->customer_id, NULL);
}

static int load(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out)
{
    int rc = store_entity_get(ctx->store, kind, id, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "%s with id [%s] is not found", entity_kind_label(kind), id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (unassign_settle(ctx, out) != ERR_OK) {
        entity_release(out);
        return ctx->err.kind;
    }
    return ERR_OK;
}

/* Loads an entity for a write by the tenant's admin (404, then 403 for another tenant's). */
static int load_for_write(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || load(ctx, kind, id, out) != ERR_OK)
        return ctx->err.kind;
    if (strcmp(out->tenant_id, ctx->who.tenant_id) != 0) {
        entity_release(out);
        return error_forbidden(&ctx->err);
    }
    return ERR_OK;
}

/* What a client can set of a device, asset or edge, for ifEqual "skip" (routingKey and secret are
 * NULL but for edges). */
static const struct field_spec entity_fields[] = {
    FIELD_TEXT_OF(struct entity, name),
    FIELD_TEXT_OF(struct entity, type),
    FIELD_TEXT_OF(struct entity, label),
    FIELD_TEXT_OF(struct entity, additional_info),
    FIELD_ID_OF(struct entity, customer_id),
    FIELD_TEXT_OF(struct entity, routing_key),
    FIELD_TEXT_OF(struct entity, secret),
    FIELDS_END,
};

int entity_update(struct ctx *ctx, struct entity *e, unsigned how, bool keep_customer)
{
    struct entity old;

    if (load_for_write(ctx, e->kind, e->id, &old) != ERR_OK)
        return ctx->err.kind;
    if (update_check_version(ctx, how, e->version, old.version, entity_kind_label(e->kind)) != ERR_OK) {
        entity_release(&old);
        return ctx->err.kind;
    }
    strcpy(e->tenant_id, old.tenant_id);
    e->created_time = old.created_time;
    e->version = old.version + 1;
    e->stored_version = old.stored_version;
    if (keep_customer)
        strcpy(e->customer_id, old.customer_id);
    if (e->type == NULL)
        e->type = xstrdup_or_null("default");
    if (e->kind == ENTITY_EDGE) {
        if (e->routing_key == NULL)
            e->routing_key = xstrdup_or_null(old.routing_key);
        if (e->secret == NULL)
            e->secret = xstrdup_or_null(old.secret);
    }
    if (update_unchanged(how, e, &old, entity_fields)) {
        entity_release(e);
        *e = old; /* the stored entity, its version kept; no write, no event */
        return ERR_OK;
    }
    entity_release(&old);
    if (validate_entity(ctx, e) != ERR_OK || check_owner(ctx, e) != ERR_OK || check_unique_name(ctx, e) != ERR_OK)
        return ctx->err.kind;
    int rc = store_entity_update(ctx->store, e);
    if (rc != STORE_OK)
        return store_write_failed(ctx, e, rc);
    return emit(ctx, "ENTITY_UPDATED", e, e->customer_id, NULL);
}

int entity_get(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out)
{
    const struct principal *w = &ctx->who;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT | AUTH_CUSTOMER) != ERR_OK || load(ctx, kind, id, out) != ERR_OK)
        return ctx->err.kind;
    bool same_tenant = strcmp(out->tenant_id, w->tenant_id) == 0;
    if ((w->authority == AUTHORITY_TENANT_ADMIN && same_tenant) ||
        (w->authority == AUTHORITY_CUSTOMER_USER && same_tenant && strcmp(out->customer_id, w->customer_id) == 0))
        return ERR_OK;
    entity_release(out);
    return error_forbidden(&ctx->err);
}

int entity_delete(struct ctx *ctx, enum entity_kind kind, const char *id)
{
    struct entity e;
    if (load_for_write(ctx, kind, id, &e) != ERR_OK)
        return ctx->err.kind;
    int rc = store_entity_delete(ctx->store, kind, e.id);
    if (rc == STORE_OK)
        rc = emit(ctx, "ENTITY_DELETED", &e, e.customer_id, NULL);
    else
        rc = ctx_store_failed(ctx, rc);
    entity_release(&e);
    return rc;
}

/* Orders a cursor can continue: a column that is never NULL, with an index per owner. A tenant's
 * entities have one by name (the unique name), a customer's do not. */
static const struct sort_column tenant_cursor_sort[] = {
    { "createdTime", "created_time" }, { "name", "name" }, { "id", "id" }, { NULL, NULL },
};
static const struct sort_column customer_cursor_sort[] = {
    { "createdTime", "created_time" }, { "id", "id" }, { NULL, NULL },
};

static const struct sort_column *cursor_sort(const char *customer_id)
{
    return customer_id != NULL ? customer_cursor_sort : tenant_cursor_sort;
}

static void listing_of(struct ctx *ctx, const char *customer_id, const char *type, const struct page_request *p,
                       const char *column, struct entity_listing *l)
{
    l->tenant_id = ctx->who.tenant_id;
    l->customer_id = customer_id;
    l->type = type;
    l->text_search = p->text_search;
    l->sort_column = column;
    l->descending = p->descending;
}

/* A page's rows of deleted customers still waiting for their unassignment read as unassigned. */
static int settle_page(struct ctx *ctx, struct entity **items, size_t *n)
{
    if (unassign_settle_page(ctx, *items, *n) == ERR_OK)
        return ERR_OK;
    entities_free(*items, *n);
    *items = NULL;
    *n = 0;
    return ctx->err.kind;
}

static int page(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                const struct page_request *p, struct entity **items, size_t *n, struct page_info *info)
{
    const char *column;
    struct entity_listing l;
    int64_t total = 0;

    if (paging_validate(ctx, p, entity_sort, &column) != ERR_OK)
        return ctx->err.kind;
    listing_of(ctx, customer_id, type, p, column, &l);
    int rc = store_entity_page(ctx->store, kind, &l, p->page_size, paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (settle_page(ctx, items, n) != ERR_OK)
        return ctx->err.kind;
    paging_info(p, total, info);
    return ERR_OK;
}

static int page_after(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                      const struct page_request *p, const char *page_token, struct entity **items, size_t *n,
                      bool *has_next)
{
    const char *column;
    struct entity_listing l;
    struct page_cursor cur;

    if (paging_validate(ctx, p, entity_sort, &column) != ERR_OK)
        return ctx->err.kind;
    if (paging_cursor_column(p, cursor_sort(customer_id)) == NULL)
        return error_set(&ctx->err, ERR_BAD_REQUEST, customer_id != NULL
                                                         ? "pageToken works with sortProperty createdTime or id"
                                                         : "pageToken works with sortProperty createdTime, name or id");
    if (paging_cursor_decode(ctx, page_token, p, &cur) != ERR_OK)
        return ctx->err.kind;
    listing_of(ctx, customer_id, type, p, column, &l);
    int64_t limit = p->page_size < INT64_MAX ? p->page_size + 1 : p->page_size;
    int rc = store_entity_page_after(ctx->store, kind, &l, cur.last_value, cur.last_id, limit, items, n);
    paging_cursor_release(&cur);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if ((int64_t)*n > p->page_size) {
        entity_release(&(*items)[*n - 1]);
        (*n)--;
        *has_next = true;
    }
    return settle_page(ctx, items, n);
}

int entity_list(struct ctx *ctx, enum entity_kind kind, const char *type, const struct page_request *p,
                struct entity **items, size_t *n, struct page_info *info)
{
    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    return page(ctx, kind, NULL, type, p, items, n, info);
}

int entity_list_by_customer(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                            const struct page_request *p, struct entity **items, size_t *n,
                            struct page_info *info)
{
    struct customer c;

    *items = NULL;
    *n = 0;
    if (customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    customer_release(&c);
    return page(ctx, kind, customer_id, type, p, items, n, info);
}

int entity_list_after(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                      const struct page_request *p, const char *page_token, struct entity **items, size_t *n,
                      bool *has_next)
{
    struct customer c;

    *items = NULL;
    *n = 0;
    *has_next = false;
    if (customer_id == NULL) {
        if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
            return ctx->err.kind;
    } else {
        if (customer_get(ctx, customer_id, &c) != ERR_OK)
            return ctx->err.kind;
        customer_release(&c);
    }
    return page_after(ctx, kind, customer_id, type, p, page_token, items, n, has_next);
}

char *entity_page_token(const struct page_request *p, const char *customer_id, const struct entity *last)
{
    if (last == NULL)
        return NULL;
    return paging_next_token(p, paging_cursor_column(p, cursor_sort(customer_id)), last->id, last->created_time,
                             last->name);
}

/* Sets the owner to c (already checked to be the tenant's) and emits ENTITY_ASSIGNED. */
static int assign_to(struct ctx *ctx, struct entity *e, const struct customer *c)
{
    if (strcmp(e->customer_id, c->id) != 0) {
        strcpy(e->customer_id, c->id);
        e->version++;
        int rc = store_entity_update(ctx->store, e);
        if (rc != STORE_OK)
            return store_write_failed(ctx, e, rc);
    }
    struct owner_names names = { c->id, c->title, NULL, NULL };
    return emit(ctx, "ENTITY_ASSIGNED", e, c->id, &names);
}

int entity_assign(struct ctx *ctx, enum entity_kind kind, const char *id, const char *customer_id,
                  struct entity *out)
{
    struct customer c;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    int rc = load_for_write(ctx, kind, id, out);
    if (rc == ERR_OK)
        rc = assign_to(ctx, out, &c);
    customer_release(&c);
    return rc;
}

int entity_unassign(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out)
{
    struct customer c = { 0 };
    char previous[UUID_STR_LEN];

    if (load_for_write(ctx, kind, id, out) != ERR_OK)
        return ctx->err.kind;
    if (!has_customer(out->customer_id))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s isn't assigned to any customer!", entity_kind_label(kind));
    strcpy(previous, out->customer_id);
    int rc = store_customer_get(ctx->store, previous, &c);
    if (rc != STORE_OK && rc != STORE_NOT_FOUND)
        return ctx_store_failed(ctx, rc);
    out->customer_id[0] = '\0';
    out->version++;
    rc = store_entity_update(ctx->store, out);
    if (rc != STORE_OK) {
        customer_release(&c);
        return store_write_failed(ctx, out, rc);
    }
    struct owner_names names = { NULL, NULL, previous, c.title };
    rc = emit(ctx, "ENTITY_UNASSIGNED", out, previous, &names);
    customer_release(&c);
    return rc;
}

int entity_make_public(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out)
{
    struct customer pub;

    if (load_for_write(ctx, kind, id, out) != ERR_OK)
        return ctx->err.kind;
    int rc = customer_public(ctx, &pub);
    if (rc == ERR_OK)
        rc = assign_to(ctx, out, &pub);
    customer_release(&pub);
    return rc;
}
