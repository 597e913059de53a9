/* op_entity.c: the device.*, asset.* and edge.* operations and the customer.devices / assets /
 * edges listings: JSON in, core/entity.c, JSON out. The three families share every handler; the
 * kind is fixed by thin wrappers generated at the end of the file. */
#include "ops.h"

#include "cmagent/entity.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#define PAGING_KEYS "pageSize", "page", "textSearch", "sortProperty", "sortOrder"
#define ENTITY_FIELDS "name", "type", "label", "additionalInfo", "customerId"
#define EDGE_FIELDS "routingKey", "secret"
/* Read-only members a client may send back from a read; they are ignored. */
#define READ_ONLY_FIELDS "createdTime", "tenantId"

static int read_fields(struct call *c, struct entity *e, bool *customer_given)
{
    *customer_given = cJSON_GetObjectItemCaseSensitive(c->data, "customerId") != NULL;
    if (arg_string(c, "name", false, &e->name) || arg_string(c, "type", false, &e->type) ||
        arg_string(c, "label", false, &e->label) || arg_object_text(c, "additionalInfo", &e->additional_info) ||
        arg_id(c, "customerId", false, e->customer_id))
        return call_failed(c);
    if (e->kind == ENTITY_EDGE &&
        (arg_string(c, "routingKey", false, &e->routing_key) || arg_string(c, "secret", false, &e->secret)))
        return call_failed(c);
    return ERR_OK;
}

static int reply_entity(struct call *c, int rc, struct entity *e)
{
    if (rc == ERR_OK)
        c->result = render_entity_reply(e);
    entity_release(e);
    return rc;
}

static int entity_op_create(struct call *c, enum entity_kind kind)
{
    static const char *const keys[] = { ENTITY_FIELDS, READ_ONLY_FIELDS, "version", CONFLICT_OPTIONS, NULL };
    static const char *const edge_keys[] = { ENTITY_FIELDS, EDGE_FIELDS, READ_ONLY_FIELDS, "version", CONFLICT_OPTIONS,
                                             NULL };
    struct entity e = { 0 };
    struct name_conflict nc;
    char *separator = NULL;
    bool given;
    int rc;

    e.kind = kind;
    if (cJSON_GetObjectItemCaseSensitive(c->data, "id") != NULL)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST,
                         "Unknown key 'id' in data: %s.create makes a new id; use %s.update to save one",
                         kind == ENTITY_DEVICE ? "device" : kind == ENTITY_ASSET ? "asset" : "edge",
                         kind == ENTITY_DEVICE ? "device" : kind == ENTITY_ASSET ? "asset" : "edge");
    if (args_allow(c, kind == ENTITY_EDGE ? edge_keys : keys) || read_fields(c, &e, &given) ||
        arg_name_conflict(c, &nc, &separator))
        rc = call_failed(c);
    else
        rc = entity_create_named(c->ctx, &e, &nc);
    free(separator);
    return reply_entity(c, rc, &e);
}

static int entity_op_update(struct call *c, enum entity_kind kind)
{
    static const char *const keys[] = { "id", "version", ENTITY_FIELDS, READ_ONLY_FIELDS, "ifEqual", NULL };
    static const char *const edge_keys[] = { "id", "version", ENTITY_FIELDS, EDGE_FIELDS, READ_ONLY_FIELDS, "ifEqual",
                                             NULL };
    struct entity e = { 0 };
    bool has_version = false, given = false;
    unsigned how = 0;
    int rc;

    e.kind = kind;
    if (args_allow(c, kind == ENTITY_EDGE ? edge_keys : keys) || arg_id(c, "id", true, e.id) ||
        arg_int(c, "version", false, &e.version, &has_version) || read_fields(c, &e, &given) ||
        arg_update_how(c, has_version, &how))
        rc = call_failed(c);
    else
        rc = entity_update(c->ctx, &e, how, !given);
    return reply_entity(c, rc, &e);
}

static int read_id(struct call *c, char id[UUID_STR_LEN])
{
    static const char *const keys[] = { "id", NULL };
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return ERR_OK;
}

static int entity_op_get(struct call *c, enum entity_kind kind)
{
    struct entity e = { 0 };
    char id[UUID_STR_LEN];
    if (read_id(c, id))
        return call_failed(c);
    return reply_entity(c, entity_get(c->ctx, kind, id, &e), &e);
}

static int entity_op_delete(struct call *c, enum entity_kind kind)
{
    char id[UUID_STR_LEN];
    if (read_id(c, id) || entity_delete(c->ctx, kind, id))
        return call_failed(c);
    return ERR_OK;
}

/* Offset paging answers ThingsBoard's PageData; with pageToken (a cursor) the page after it,
 * {"data","hasNext","nextPageToken"} without totals. Both give nextPageToken while hasNext.
 * customer_id NULL lists the tenant's entities. */
static int list_entities(struct call *c, enum entity_kind kind, const char *customer_id)
{
    struct page_request p;
    struct page_info info;
    struct entity *items = NULL;
    char *type = NULL, *token = NULL, *next = NULL;
    const char *only_type;
    size_t n = 0;
    bool has_next = false;
    int rc;

    if (arg_string(c, "type", false, &type) || arg_string(c, "pageToken", false, &token) || arg_paging(c, &p)) {
        free(type);
        free(token);
        return call_failed(c);
    }
    only_type = type && type[0] ? type : NULL;
    if (token != NULL && p.page != 0) {
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "Use either page or pageToken, not both");
        goto out;
    }
    if (token != NULL)
        rc = entity_list_after(c->ctx, kind, customer_id, only_type, &p, token, &items, &n, &has_next);
    else if (customer_id != NULL)
        rc = entity_list_by_customer(c->ctx, kind, customer_id, only_type, &p, &items, &n, &info);
    else
        rc = entity_list(c->ctx, kind, only_type, &p, &items, &n, &info);
    if (rc != ERR_OK)
        goto out;
    if (token == NULL)
        has_next = info.has_next;
    if (has_next && n > 0)
        next = entity_page_token(&p, customer_id, &items[n - 1]);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, render_entity(&items[i]));
    if (token != NULL) {
        c->result = cJSON_CreateObject();
        cJSON_AddItemToObject(c->result, "data", a);
        cJSON_AddBoolToObject(c->result, "hasNext", has_next);
    } else {
        c->result = json_page(a, &info);
    }
    if (next != NULL)
        cJSON_AddStringToObject(c->result, "nextPageToken", next);
out:
    page_request_release(&p);
    entities_free(items, n);
    free(type);
    free(token);
    free(next);
    return rc;
}

static int entity_op_list(struct call *c, enum entity_kind kind)
{
    static const char *const keys[] = { PAGING_KEYS, "type", "pageToken", NULL };
    if (args_allow(c, keys))
        return call_failed(c);
    return list_entities(c, kind, NULL);
}

static int customer_op_entities(struct call *c, enum entity_kind kind)
{
    static const char *const keys[] = { "customerId", PAGING_KEYS, "type", "pageToken", NULL };
    char customer_id[UUID_STR_LEN];

    if (args_allow(c, keys) || arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    return list_entities(c, kind, customer_id);
}

/* ---- assignment: one id, or ids with one result each (run_one_or_many) ---- */

static int assign_item(struct call *c, enum entity_kind kind, const char *id, cJSON **data)
{
    char customer_id[UUID_STR_LEN];
    struct entity e = { 0 };
    if (arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    int rc = entity_assign(c->ctx, kind, id, customer_id, &e);
    if (rc == ERR_OK)
        *data = render_entity_reply(&e);
    entity_release(&e);
    return rc;
}

static int unassign_item(struct call *c, enum entity_kind kind, const char *id, cJSON **data)
{
    struct entity e = { 0 };
    int rc = entity_unassign(c->ctx, kind, id, &e);
    if (rc == ERR_OK)
        *data = render_entity_reply(&e);
    entity_release(&e);
    return rc;
}

static int public_item(struct call *c, enum entity_kind kind, const char *id, cJSON **data)
{
    struct entity e = { 0 };
    int rc = entity_make_public(c->ctx, kind, id, &e);
    if (rc == ERR_OK)
        *data = render_entity_reply(&e);
    entity_release(&e);
    return rc;
}

static const char *const assign_keys[] = { "id", "ids", "customerId", NULL };
static const char *const id_keys[] = { "id", "ids", NULL };

/* The customer is checked once, before any item, so a bad one fails the request as a whole. */
static int assign_op(struct call *c, item_fn *fn)
{
    char customer_id[UUID_STR_LEN];
    if (args_allow(c, assign_keys) || arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    return run_one_or_many(c, assign_keys, fn);
}

#define ENTITY_OPS(family, KIND)                                                                               \
    int op_##family##_create(struct call *c) { return entity_op_create(c, KIND); }                             \
    int op_##family##_update(struct call *c) { return entity_op_update(c, KIND); }                             \
    int op_##family##_get(struct call *c) { return entity_op_get(c, KIND); }                                   \
    int op_##family##_delete(struct call *c) { return entity_op_delete(c, KIND); }                             \
    int op_##family##_list(struct call *c) { return entity_op_list(c, KIND); }                                 \
    int op_customer_##family##s(struct call *c) { return customer_op_entities(c, KIND); }                      \
    static int family##_assign_item(struct call *c, const char *id, cJSON **d) { return assign_item(c, KIND, id, d); } \
    static int family##_unassign_item(struct call *c, const char *id, cJSON **d) { return unassign_item(c, KIND, id, d); } \
    static int family##_public_item(struct call *c, const char *id, cJSON **d) { return public_item(c, KIND, id, d); } \
    int op_##family##_assign(struct call *c) { return assign_op(c, family##_assign_item); }                    \
    int op_##family##_unassign(struct call *c) { return run_one_or_many(c, id_keys, family##_unassign_item); } \
    int op_##family##_make_public(struct call *c) { return run_one_or_many(c, id_keys, family##_public_item); }

ENTITY_OPS(device, ENTITY_DEVICE)
ENTITY_OPS(asset, ENTITY_ASSET)
ENTITY_OPS(edge, ENTITY_EDGE)
