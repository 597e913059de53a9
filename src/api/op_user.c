/* op_user.c: the user.* operations. */
#include "ops.h"

#include "cmagent/user.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#define USER_FIELDS "email", "authority", "firstName", "lastName", "phone", "additionalInfo", "tenantId", "customerId"
#define PAGING_KEYS "pageSize", "page", "textSearch", "sortProperty", "sortOrder"

static int read_user_fields(struct call *c, struct user *u)
{
    char *authority = NULL;
    int rc = ERR_OK;

    if (arg_string(c, "email", false, &u->email) || arg_string(c, "authority", false, &authority) ||
        arg_string(c, "firstName", false, &u->first_name) || arg_string(c, "lastName", false, &u->last_name) ||
        arg_string(c, "phone", false, &u->phone) || arg_object_text(c, "additionalInfo", &u->additional_info) ||
        arg_id(c, "tenantId", false, u->tenant_id) || arg_id(c, "customerId", false, u->customer_id)) {
        rc = call_failed(c);
        goto out;
    }
    render_user_strip_derived(&u->additional_info);
    if (authority != NULL) {
        u->authority = authority_parse(authority);
        if (u->authority == AUTHORITY_NONE)
            rc = error_set(&c->ctx->err, ERR_BAD_REQUEST,
                           "authority must be SYS_ADMIN, TENANT_ADMIN or CUSTOMER_USER, not '%.64s'", authority);
    }
out:
    free(authority);
    return rc;
}

static int reply_user(struct call *c, int rc, struct user *u, const struct credentials *cred)
{
    if (rc == ERR_OK)
        c->result = cred != NULL ? render_user(u, cred) : render_user_reply(u);
    user_release(u);
    return rc;
}

int op_user_create(struct call *c)
{
    static const char *const keys[] = { USER_FIELDS, "sendActivationMail", "createdTime", "name", "version", NULL };
    struct user u = { 0 };
    bool send_mail = false;
    if (args_allow(c, keys) || read_user_fields(c, &u) || arg_bool(c, "sendActivationMail", false, &send_mail, NULL))
        return reply_user(c, call_failed(c), &u, NULL);
    return reply_user(c, user_create(c->ctx, &u, send_mail), &u, NULL);
}

int op_user_update(struct call *c)
{
    static const char *const keys[] = { "id", "version", USER_FIELDS, "createdTime", "name", "ifEqual", NULL };
    struct user u = { 0 };
    bool has_version = false;
    unsigned how = 0;
    if (args_allow(c, keys) || arg_id(c, "id", true, u.id) || arg_int(c, "version", false, &u.version, &has_version) ||
        read_user_fields(c, &u) || arg_update_how(c, has_version, &how))
        return reply_user(c, call_failed(c), &u, NULL);
    return reply_user(c, user_update(c->ctx, &u, how), &u, NULL);
}

static int read_id(struct call *c, char id[UUID_STR_LEN])
{
    static const char *const keys[] = { "id", NULL };
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return ERR_OK;
}

int op_user_get(struct call *c)
{
    struct user u = { 0 };
    struct credentials cred = { 0 };
    char id[UUID_STR_LEN];
    if (read_id(c, id))
        return call_failed(c);
    int rc = reply_user(c, user_get(c->ctx, id, &u, &cred), &u, &cred);
    credentials_release(&cred);
    return rc;
}

int op_user_delete(struct call *c)
{
    char id[UUID_STR_LEN];
    if (read_id(c, id))
        return call_failed(c);
    return user_delete(c->ctx, id);
}

int op_user_list(struct call *c)
{
    static const char *const keys[] = { "tenantId", PAGING_KEYS, NULL };
    char tenant_id[UUID_STR_LEN] = "";
    struct page_request p;
    struct page_info info;
    struct user *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_id(c, "tenantId", false, tenant_id) || arg_paging(c, &p))
        return call_failed(c);
    int rc = user_list(c->ctx, tenant_id, &p, &items, &n, &info);
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

int op_user_activation_link(struct call *c)
{
    char id[UUID_STR_LEN];
    char *link = NULL;
    int64_t ttl = 0;
    if (read_id(c, id) || user_activation_link(c->ctx, id, &link, &ttl))
        return call_failed(c);
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "value", link);
    cJSON_AddNumberToObject(c->result, "ttlMs", (double)ttl);
    free(link);
    return ERR_OK;
}

int op_user_set_enabled(struct call *c)
{
    static const char *const keys[] = { "id", "enabled", NULL };
    char id[UUID_STR_LEN];
    bool enabled = false;
    if (args_allow(c, keys) || arg_id(c, "id", true, id) || arg_bool(c, "enabled", true, &enabled, NULL))
        return call_failed(c);
    return user_set_enabled(c->ctx, id, enabled);
}

int op_user_send_activation_mail(struct call *c)
{
    static const char *const keys[] = { "email", NULL };
    char *email = NULL;
    int rc = args_allow(c, keys) || arg_string(c, "email", true, &email) ? call_failed(c)
                                                                          : user_send_activation_mail(c->ctx, email);
    free(email);
    return rc;
}
