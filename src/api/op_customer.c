/* op_customer.c: the customer.* operations: JSON in, core/customer.c, JSON out. */
#include "ops.h"

#include "cmagent/customer.h"
#include "cmagent/dashboard.h"
#include "cmagent/user.h"
#include "cmagent/validate.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#define CUSTOMER_FIELDS "title", "country", "state", "city", "address", "address2", "zip", "phone", \
                        "email", "additionalInfo", "externalId"
/* Read-only members a client may send back from a read; they are ignored. */
#define READ_ONLY_FIELDS "createdTime", "tenantId", "name"

static int read_customer_fields(struct call *c, struct customer *cu)
{
    struct contact *k = &cu->contact;
    const cJSON *info;

    if (arg_string(c, "title", false, &cu->title) || arg_string(c, "country", false, &k->country) ||
        arg_string(c, "state", false, &k->state) || arg_string(c, "city", false, &k->city) ||
        arg_string(c, "address", false, &k->address) || arg_string(c, "address2", false, &k->address2) ||
        arg_string(c, "zip", false, &k->zip) || arg_string(c, "phone", false, &k->phone) ||
        arg_string(c, "email", false, &k->email) || arg_object_text(c, "additionalInfo", &cu->additional_info) ||
        arg_id(c, "externalId", false, cu->external_id))
        return call_failed(c);
    info = cJSON_GetObjectItemCaseSensitive(c->data, "additionalInfo");
    cu->is_public = cJSON_IsObject(info) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "isPublic"));
    return ERR_OK;
}

static int reply_customer(struct call *c, int rc, struct customer *cu)
{
    if (rc == ERR_OK)
        c->result = render_customer_reply(cu);
    customer_release(cu);
    return rc;
}

int op_customer_create(struct call *c)
{
    static const char *const keys[] = { CUSTOMER_FIELDS, READ_ONLY_FIELDS, "version", CONFLICT_OPTIONS, NULL };
    struct customer cu = { 0 };
    struct name_conflict nc;
    char *separator = NULL;
    int rc;

    if (cJSON_GetObjectItemCaseSensitive(c->data, "id") != NULL)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST,
                         "Unknown key 'id' in data: customer.create makes a new id; use customer.update to save one");
    if (args_allow(c, keys) || read_customer_fields(c, &cu) || arg_name_conflict(c, &nc, &separator))
        rc = call_failed(c);
    else
        rc = customer_create(c->ctx, &cu, &nc);
    free(separator);
    return reply_customer(c, rc, &cu);
}

/* Saves the customer described by c->data (which has id and maybe version). */
static int save_customer(struct call *c)
{
    struct customer cu = { 0 };
    struct name_conflict nc;
    char *separator = NULL;
    bool has_version = false;
    unsigned how = 0;
    int rc;

    if (arg_id(c, "id", true, cu.id) || arg_int(c, "version", false, &cu.version, &has_version) ||
        read_customer_fields(c, &cu) || arg_name_conflict(c, &nc, &separator) ||
        arg_update_how(c, has_version, &how))
        rc = call_failed(c);
    else
        rc = customer_update(c->ctx, &cu, how, &nc);
    free(separator);
    return reply_customer(c, rc, &cu);
}

int op_customer_update(struct call *c)
{
    static const char *const keys[] = { "id", "version", CUSTOMER_FIELDS, READ_ONLY_FIELDS, CONFLICT_OPTIONS,
                                        "ifEqual", NULL };
    if (args_allow(c, keys))
        return call_failed(c);
    return save_customer(c);
}

/* RFC 7386 JSON merge patch of patch onto target (both objects). */
static void merge_patch(cJSON *target, const cJSON *patch)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, patch) {
        if (cJSON_IsNull(p)) {
            cJSON_DeleteItemFromObjectCaseSensitive(target, p->string);
        } else if (cJSON_IsObject(p)) {
            cJSON *t = cJSON_GetObjectItemCaseSensitive(target, p->string);
            if (!cJSON_IsObject(t)) {
                t = cJSON_CreateObject();
                if (cJSON_GetObjectItemCaseSensitive(target, p->string) != NULL)
                    cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, t);
                else
                    cJSON_AddItemToObject(target, p->string, t);
            }
            merge_patch(t, p);
        } else {
            cJSON *copy = cJSON_Duplicate(p, 1);
            if (cJSON_GetObjectItemCaseSensitive(target, p->string) != NULL)
                cJSON_ReplaceItemInObjectCaseSensitive(target, p->string, copy);
            else
                cJSON_AddItemToObject(target, p->string, copy);
        }
    }
}

int op_customer_patch(struct call *c)
{
    static const char *const keys[] = { "id", "version", CUSTOMER_FIELDS, CONFLICT_OPTIONS, "ifEqual", NULL };
    struct customer current;
    char id[UUID_STR_LEN];
    int rc;

    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    if (customer_get_for_write(c->ctx, id, &current) != ERR_OK)
        return call_failed(c);
    cJSON *merged = render_customer(&current);
    customer_release(&current);
    cJSON_DeleteItemFromObjectCaseSensitive(merged, "version");
    merge_patch(merged, c->data);
    const cJSON *saved_data = c->data;
    c->data = merged;
    rc = save_customer(c);
    c->data = saved_data;
    cJSON_Delete(merged);
    return rc;
}

static int read_id(struct call *c, char id[UUID_STR_LEN])
{
    static const char *const keys[] = { "id", NULL };
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return ERR_OK;
}

/* ThingsBoard's checkDashboardInfo: a homeDashboardId naming no dashboard of the customer's tenant
 * is left out of the reply (the stored document keeps it). */
static int drop_dangling_home(struct call *c, const struct customer *cu, cJSON *rendered)
{
    cJSON *info = cJSON_GetObjectItemCaseSensitive(rendered, "additionalInfo");
    const cJSON *home = cJSON_IsObject(info) ? cJSON_GetObjectItemCaseSensitive(info, "homeDashboardId") : NULL;
    char id[UUID_STR_LEN];
    bool exists = false;

    if (home == NULL || cJSON_IsNull(home))
        return ERR_OK;
    if (cJSON_IsObject(home))
        home = cJSON_GetObjectItemCaseSensitive(home, "id");
    if (cJSON_IsString(home) && uuid_parse(home->valuestring, id)) {
        if (dashboard_exists(c->ctx, cu->tenant_id, id, &exists) != ERR_OK)
            return call_failed(c);
        if (!exists)
            cJSON_DeleteItemFromObjectCaseSensitive(info, "homeDashboardId");
    }
    return ERR_OK;
}

int op_customer_get(struct call *c)
{
    struct customer cu = { 0 };
    char id[UUID_STR_LEN];
    int rc;
    if (read_id(c, id))
        return call_failed(c);
    rc = customer_get(c->ctx, id, &cu);
    if (rc == ERR_OK) {
        c->result = render_customer(&cu);
        rc = drop_dangling_home(c, &cu, c->result);
    }
    customer_release(&cu);
    return rc;
}

int op_customer_short_info(struct call *c)
{
    struct customer cu = { 0 };
    char id[UUID_STR_LEN];
    if (read_id(c, id) || customer_get(c->ctx, id, &cu))
        return call_failed(c);
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "title", cu.title);
    cJSON_AddBoolToObject(c->result, "isPublic", cu.is_public);
    customer_release(&cu);
    return ERR_OK;
}

int op_customer_title(struct call *c)
{
    struct customer cu = { 0 };
    char id[UUID_STR_LEN];
    if (read_id(c, id) || customer_get(c->ctx, id, &cu))
        return call_failed(c);
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "title", cu.title);
    customer_release(&cu);
    return ERR_OK;
}

static cJSON *render_customers(const struct customer *items, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, render_customer(&items[i]));
    return a;
}

#define PAGING_KEYS "pageSize", "page", "textSearch", "sortProperty", "sortOrder"

/* Offset paging answers ThingsBoard's PageData; with pageToken (a cursor) the page after it,
 * {"data","hasNext","nextPageToken"} without totals. Both give nextPageToken while hasNext. */
#define FILTER_KEYS "email", "phone", "city", "country"

/* The contact filters of customer.list: optional strings of at most 255 characters; "" is none. */
static int read_filter(struct call *c, char *v[4], bool *any)
{
    static const char *const names[] = { FILTER_KEYS };
    *any = false;
    for (size_t i = 0; i < 4; i++) {
        v[i] = NULL;
        if (arg_string(c, names[i], false, &v[i]))
            return ERR_BAD_REQUEST;
        if (v[i] != NULL && utf8_length(v[i]) > FIELD_MAX_LENGTH)
            return error_set(&c->ctx->err, ERR_BAD_REQUEST, "%s length must be equal or less than %d", names[i],
                             FIELD_MAX_LENGTH);
        if (v[i] != NULL && v[i][0] == '\0') {
            free(v[i]);
            v[i] = NULL;
        }
        *any = *any || v[i] != NULL;
    }
    return ERR_OK;
}

int op_customer_list(struct call *c)
{
    static const char *const keys[] = { PAGING_KEYS, "pageToken", FILTER_KEYS, NULL };
    struct page_request p;
    struct page_info info;
    struct customer *items = NULL;
    size_t n = 0;
    char *token = NULL, *next = NULL, *fv[4] = { NULL, NULL, NULL, NULL };
    bool has_next = false, filtered = false;
    int rc;

    if (args_allow(c, keys) || arg_string(c, "pageToken", false, &token) || read_filter(c, fv, &filtered) ||
        arg_paging(c, &p)) {
        free(token);
        for (size_t i = 0; i < 4; i++)
            free(fv[i]);
        return call_failed(c);
    }
    struct customer_filter filter = { fv[0], fv[1], fv[2], fv[3] };
    if (token != NULL && p.page != 0) {
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "Use either page or pageToken, not both");
        goto out;
    }
    if (token != NULL && filtered) {
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "pageToken does not combine with email, phone, city or country");
        goto out;
    }
    if (token != NULL) {
        rc = customer_list_after(c->ctx, &p, token, &items, &n, &has_next);
    } else {
        rc = customer_search(c->ctx, &p, filtered ? &filter : NULL, &items, &n, &info);
        has_next = rc == ERR_OK && info.has_next;
    }
    if (rc != ERR_OK)
        goto out;
    if (has_next && n > 0)
        next = customer_page_token(&p, &items[n - 1]);
    if (token != NULL) {
        c->result = cJSON_CreateObject();
        cJSON_AddItemToObject(c->result, "data", render_customers(items, n));
        cJSON_AddBoolToObject(c->result, "hasNext", has_next);
    } else {
        c->result = json_page(render_customers(items, n), &info);
    }
    if (next != NULL)
        cJSON_AddStringToObject(c->result, "nextPageToken", next);
out:
    page_request_release(&p);
    customers_free(items, n);
    free(token);
    free(next);
    for (size_t i = 0; i < 4; i++)
        free(fv[i]);
    return rc;
}

int op_customer_find_by_title(struct call *c)
{
    static const char *const keys[] = { "title", NULL };
    struct customer cu = { 0 };
    char *title = NULL;
    if (args_allow(c, keys) || arg_string(c, "title", true, &title))
        return call_failed(c);
    int rc = customer_find_by_title(c->ctx, title, &cu);
    free(title);
    return reply_customer(c, rc, &cu);
}

int op_customer_get_by_ids(struct call *c)
{
    static const char *const keys[] = { "ids", NULL };
    char(*ids)[UUID_STR_LEN] = NULL;
    struct customer *items = NULL;
    size_t nids = 0, n = 0;

    if (args_allow(c, keys) || arg_ids(c, "ids", MAX_IDS, &ids, &nids))
        return call_failed(c);
    int rc = customer_get_by_ids(c->ctx, ids, nids, &items, &n);
    free(ids);
    if (rc == ERR_OK)
        c->result = render_customers(items, n);
    customers_free(items, n);
    return rc;
}

static int delete_one(struct call *c, const char *id, cJSON **data)
{
    (void)data;
    return customer_delete(c->ctx, id);
}

int op_customer_delete(struct call *c)
{
    static const char *const keys[] = { "id", "ids", NULL };
    return run_one_or_many(c, keys, delete_one);
}

int op_customer_users(struct call *c)
{
    static const char *const keys[] = { "customerId", PAGING_KEYS, NULL };
    char customer_id[UUID_STR_LEN];
    struct page_request p;
    struct page_info info;
    struct user *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_id(c, "customerId", true, customer_id) || arg_paging(c, &p))
        return call_failed(c);
    int rc = user_list_by_customer(c->ctx, customer_id, &p, &items, &n, &info);
    page_request_release(&p);
    if (rc == ERR_OK) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, render_user(&items[i], NULL));
        c->result = json_page(a, &info);
    }
    users_free(items, n);
    return rc;
}
