/* op_dashboard.c: the dashboard.* operations, customer.dashboards, and the home dashboard:
 * JSON in, core/dashboard.c, JSON out. */
#include "ops.h"

#include "cmagent/dashboard.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#define PAGING_KEYS "pageSize", "page", "textSearch", "sortProperty", "sortOrder"
#define DASHBOARD_FIELDS "title", "configuration"
/* Read-only members a client may send back from a read; they are ignored (assignedCustomers is
 * changed only through the assignment operations). */
#define READ_ONLY_FIELDS "createdTime", "tenantId", "name", "assignedCustomers"

static int read_fields(struct call *c, struct dashboard *d)
{
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(c->data, "configuration");
    if (arg_string(c, "title", false, &d->title))
        return call_failed(c);
    if (conf != NULL && !cJSON_IsNull(conf))
        d->configuration = cJSON_PrintUnformatted(conf);
    return ERR_OK;
}

static int reply_dashboard(struct call *c, int rc, struct dashboard *d)
{
    if (rc == ERR_OK)
        c->result = render_dashboard(d, true, false);
    dashboard_release(d);
    return rc;
}

int op_dashboard_create(struct call *c)
{
    static const char *const keys[] = { DASHBOARD_FIELDS, READ_ONLY_FIELDS, "version", CONFLICT_OPTIONS, NULL };
    struct dashboard d = { 0 };
    struct name_conflict nc;
    char *separator = NULL;
    int rc;

    if (cJSON_GetObjectItemCaseSensitive(c->data, "id") != NULL)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST,
                         "Unknown key 'id' in data: dashboard.create makes a new id; use dashboard.update to save one");
    if (args_allow(c, keys) || read_fields(c, &d) || arg_name_conflict(c, &nc, &separator))
        rc = call_failed(c);
    else
        rc = dashboard_create_named(c->ctx, &d, &nc);
    free(separator);
    return reply_dashboard(c, rc, &d);
}

int op_dashboard_update(struct call *c)
{
    static const char *const keys[] = { "id", "version", DASHBOARD_FIELDS, READ_ONLY_FIELDS, "ifEqual", NULL };
    struct dashboard d = { 0 };
    bool has_version = false;
    unsigned how = 0;
    int rc;

    if (args_allow(c, keys) || arg_id(c, "id", true, d.id) || arg_int(c, "version", false, &d.version, &has_version) ||
        read_fields(c, &d) || arg_update_how(c, has_version, &how))
        rc = call_failed(c);
    else
        rc = dashboard_update(c->ctx, &d, how);
    return reply_dashboard(c, rc, &d);
}

static int read_id(struct call *c, char id[UUID_STR_LEN])
{
    static const char *const keys[] = { "id", NULL };
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return ERR_OK;
}

int op_dashboard_get(struct call *c)
{
    struct dashboard d = { 0 };
    char id[UUID_STR_LEN];
    if (read_id(c, id))
        return call_failed(c);
    return reply_dashboard(c, dashboard_get(c->ctx, id, &d), &d);
}

int op_dashboard_delete(struct call *c)
{
    char id[UUID_STR_LEN];
    if (read_id(c, id) || dashboard_delete(c->ctx, id))
        return call_failed(c);
    return ERR_OK;
}

static int reply_page(struct call *c, int rc, struct dashboard *items, size_t n, const struct page_info *info)
{
    if (rc == ERR_OK) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, render_dashboard(&items[i], false, false));
        c->result = json_page(a, info);
    }
    dashboards_free(items, n);
    return rc;
}

int op_dashboard_list(struct call *c)
{
    static const char *const keys[] = { PAGING_KEYS, NULL };
    struct page_request p;
    struct page_info info;
    struct dashboard *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_paging(c, &p))
        return call_failed(c);
    int rc = dashboard_list(c->ctx, &p, &items, &n, &info);
    page_request_release(&p);
    return reply_page(c, rc, items, n, &info);
}

int op_customer_dashboards(struct call *c)
{
    static const char *const keys[] = { "customerId", PAGING_KEYS, NULL };
    char customer_id[UUID_STR_LEN];
    struct page_request p;
    struct page_info info;
    struct dashboard *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_id(c, "customerId", true, customer_id) || arg_paging(c, &p))
        return call_failed(c);
    int rc = dashboard_list_by_customer(c->ctx, customer_id, &p, &items, &n, &info);
    page_request_release(&p);
    return reply_page(c, rc, items, n, &info);
}

/* ---- assignment ---- */

static int finish_item(int rc, struct dashboard *d, cJSON **data)
{
    if (rc == ERR_OK)
        *data = render_dashboard(d, true, false);
    dashboard_release(d);
    return rc;
}

static int assign_item(struct call *c, const char *id, cJSON **data)
{
    char customer_id[UUID_STR_LEN];
    struct dashboard d = { 0 };
    if (arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    return finish_item(dashboard_assign(c->ctx, id, customer_id, &d), &d, data);
}

static int unassign_item(struct call *c, const char *id, cJSON **data)
{
    char customer_id[UUID_STR_LEN];
    struct dashboard d = { 0 };
    if (arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    return finish_item(dashboard_unassign(c->ctx, id, customer_id, &d), &d, data);
}

static int public_item(struct call *c, const char *id, cJSON **data)
{
    struct dashboard d = { 0 };
    return finish_item(dashboard_make_public(c->ctx, id, &d), &d, data);
}

static int private_item(struct call *c, const char *id, cJSON **data)
{
    struct dashboard d = { 0 };
    return finish_item(dashboard_make_private(c->ctx, id, &d), &d, data);
}

static int customers_item(struct call *c, const char *id, cJSON **data, enum dashboard_customers_mode mode)
{
    char(*ids)[UUID_STR_LEN] = NULL;
    size_t n = 0;
    struct dashboard d = { 0 };
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->data, "customerIds");

    /* setCustomers takes a missing or null list as empty, as ThingsBoard's optional body does. */
    if (mode == DASHBOARD_SET && (v == NULL || cJSON_IsNull(v)))
        ids = xcalloc(1, UUID_STR_LEN);
    else if (arg_ids(c, "customerIds", MAX_IDS, &ids, &n))
        return call_failed(c);
    int rc = dashboard_update_customers(c->ctx, id, mode, ids, n, &d);
    free(ids);
    return finish_item(rc, &d, data);
}

static int set_item(struct call *c, const char *id, cJSON **data) { return customers_item(c, id, data, DASHBOARD_SET); }
static int add_item(struct call *c, const char *id, cJSON **data) { return customers_item(c, id, data, DASHBOARD_ADD); }
static int remove_item(struct call *c, const char *id, cJSON **data)
{
    return customers_item(c, id, data, DASHBOARD_REMOVE);
}

static const char *const assign_keys[] = { "id", "ids", "customerId", NULL };
static const char *const customers_keys[] = { "id", "ids", "customerIds", NULL };
static const char *const id_keys[] = { "id", "ids", NULL };

/* Checks the arguments every item shares once, so that a bad one fails the request as a whole. */
static int with_customer(struct call *c, item_fn *fn)
{
    char customer_id[UUID_STR_LEN];
    if (args_allow(c, assign_keys) || arg_id(c, "customerId", true, customer_id))
        return call_failed(c);
    return run_one_or_many(c, assign_keys, fn);
}

static int with_customers(struct call *c, item_fn *fn, bool required)
{
    char(*ids)[UUID_STR_LEN] = NULL;
    size_t n = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->data, "customerIds");
    if (args_allow(c, customers_keys))
        return call_failed(c);
    if (required || (v != NULL && !cJSON_IsNull(v))) {
        if (arg_ids(c, "customerIds", MAX_IDS, &ids, &n))
            return call_failed(c);
        free(ids);
    }
    return run_one_or_many(c, customers_keys, fn);
}

int op_dashboard_assign(struct call *c) { return with_customer(c, assign_item); }
int op_dashboard_unassign(struct call *c) { return with_customer(c, unassign_item); }
int op_dashboard_set_customers(struct call *c) { return with_customers(c, set_item, false); }
int op_dashboard_add_customers(struct call *c) { return with_customers(c, add_item, true); }
int op_dashboard_remove_customers(struct call *c) { return with_customers(c, remove_item, true); }
int op_dashboard_make_public(struct call *c) { return run_one_or_many(c, id_keys, public_item); }
int op_dashboard_make_private(struct call *c) { return run_one_or_many(c, id_keys, private_item); }

/* ---- home dashboard ---- */

/* The home dashboard an additionalInfo names, if it names an existing dashboard of the tenant. */
static bool pick_home(struct call *c, const char *info_text, char id[UUID_STR_LEN], bool *hide)
{
    cJSON *info = info_text ? cJSON_Parse(info_text) : NULL;
    const cJSON *v = cJSON_IsObject(info) ? cJSON_GetObjectItemCaseSensitive(info, "homeDashboardId") : NULL;
    bool found = false, exists = false;

    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (cJSON_IsString(v) && uuid_parse(v->valuestring, id) &&
        dashboard_exists(c->ctx, c->ctx->who.tenant_id, id, &exists) == ERR_OK && exists) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(info, "homeDashboardHideToolbar");
        *hide = cJSON_IsBool(h) ? cJSON_IsTrue(h) : true;
        found = true;
    }
    cJSON_Delete(info);
    return found;
}

int op_dashboard_home(struct call *c)
{
    static const char *const keys[] = { NULL };
    char *sources[3] = { NULL, NULL, NULL };
    char id[UUID_STR_LEN] = "";
    bool hide = true, found = false;

    if (args_allow(c, keys))
        return call_failed(c);
    int rc = dashboard_home_sources(c->ctx, &sources[0], &sources[1], &sources[2]);
    for (int i = 0; i < 3 && rc == ERR_OK && !found; i++)
        found = pick_home(c, sources[i], id, &hide);
    for (int i = 0; i < 3; i++)
        free(sources[i]);
    if (rc != ERR_OK)
        return rc;
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "dashboardId", found ? cJSON_CreateString(id) : cJSON_CreateNull());
    cJSON_AddBoolToObject(c->result, "hideDashboardToolbar", found ? hide : true);
    return ERR_OK;
}
