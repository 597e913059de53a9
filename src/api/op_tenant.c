/* op_tenant.c: the tenant.* operations (system administrator only). */
#include "ops.h"

#include "cmagent/tenant.h"
#include "render.h"

#include <string.h>

#define TENANT_FIELDS "title", "country", "state", "city", "address", "address2", "zip", "phone", "email", \
                      "additionalInfo", "limits"
#define PAGING_KEYS "pageSize", "page", "textSearch", "sortProperty", "sortOrder"

static int read_limits(struct call *c, struct tenant_limits *l)
{
    static const char *const keys[] = { "maxCustomers", "maxUsers", "maxDevices", "maxAssets", "maxEdges",
                                        "maxDashboards", NULL };
    int64_t *fields[] = { &l->max_customers, &l->max_users, &l->max_devices, &l->max_assets, &l->max_edges,
                          &l->max_dashboards };
    const cJSON *limits = cJSON_GetObjectItemCaseSensitive(c->data, "limits");
    const cJSON *saved = c->data;
    int rc = ERR_OK;

    if (limits == NULL || cJSON_IsNull(limits))
        return ERR_OK;
    if (!cJSON_IsObject(limits))
        return error_set(&c->ctx->err, ERR_BAD_REQUEST, "'limits' must be a JSON object");
    c->data = limits;
    if (args_allow(c, keys) != ERR_OK)
        rc = call_failed(c);
    for (size_t i = 0; rc == ERR_OK && keys[i] != NULL; i++) {
        if (arg_int(c, keys[i], false, fields[i], NULL) != ERR_OK)
            rc = call_failed(c);
    }
    c->data = saved;
    return rc;
}

static int read_tenant_fields(struct call *c, struct tenant *t)
{
    struct contact *k = &t->contact;
    if (arg_string(c, "title", false, &t->title) || arg_string(c, "country", false, &k->country) ||
        arg_string(c, "state", false, &k->state) || arg_string(c, "city", false, &k->city) ||
        arg_string(c, "address", false, &k->address) || arg_string(c, "address2", false, &k->address2) ||
        arg_string(c, "zip", false, &k->zip) || arg_string(c, "phone", false, &k->phone) ||
        arg_string(c, "email", false, &k->email) || arg_object_text(c, "additionalInfo", &t->additional_info) ||
        read_limits(c, &t->limits))
        return call_failed(c);
    return ERR_OK;
}

static int reply_tenant(struct call *c, int rc, struct tenant *t)
{
    if (rc == ERR_OK)
        c->result = render_tenant_reply(t);
    tenant_release(t);
    return rc;
}

int op_tenant_create(struct call *c)
{
    static const char *const keys[] = { TENANT_FIELDS, "createdTime", "name", "version", NULL };
    struct tenant t = { 0 };
    if (args_allow(c, keys) || read_tenant_fields(c, &t))
        return reply_tenant(c, call_failed(c), &t);
    return reply_tenant(c, tenant_create(c->ctx, &t), &t);
}

int op_tenant_update(struct call *c)
{
    static const char *const keys[] = { "id", "version", TENANT_FIELDS, "createdTime", "name", "ifEqual", NULL };
    struct tenant t = { 0 };
    bool has_version = false;
    unsigned how = 0;
    if (args_allow(c, keys) || arg_id(c, "id", true, t.id) || arg_int(c, "version", false, &t.version, &has_version) ||
        read_tenant_fields(c, &t) || arg_update_how(c, has_version, &how))
        return reply_tenant(c, call_failed(c), &t);
    return reply_tenant(c, tenant_update(c->ctx, &t, how), &t);
}

int op_tenant_get(struct call *c)
{
    static const char *const keys[] = { "id", NULL };
    struct tenant t = { 0 };
    char id[UUID_STR_LEN];
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return reply_tenant(c, tenant_get(c->ctx, id, &t), &t);
}

int op_tenant_delete(struct call *c)
{
    static const char *const keys[] = { "id", NULL };
    char id[UUID_STR_LEN];
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return tenant_delete(c->ctx, id);
}

int op_tenant_list(struct call *c)
{
    static const char *const keys[] = { PAGING_KEYS, NULL };
    struct page_request p;
    struct page_info info;
    struct tenant *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_paging(c, &p))
        return call_failed(c);
    int rc = tenant_list(c->ctx, &p, &items, &n, &info);
    page_request_release(&p);
    if (rc == ERR_OK) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, render_tenant(&items[i]));
        c->result = json_page(a, &info);
    }
    tenants_free(items, n);
    return rc;
}
