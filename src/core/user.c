/* user.c: the rules of user management (thingsboard-customers.md §4): validation
 * (UserDataValidator), global e-mail uniqueness, the maxUsers limit, immutable
 * tenant/customer/authority, create, update, get, delete rules and listings, and what the other
 * user files share (user_int.h). Activation and enable/disable are user_activation.c's, the
 * system administrator's bootstrap user_bootstrap.c's; passwords and sessions are auth*.c's. */
#include "cmagent/user.h"

#include "cmagent/customer.h"
#include "cmagent/events.h"
#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/secret.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_tenant.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"
#include "user_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sort_column user_sort[] = {
    { "createdTime", "created_time" }, { "firstName", "first_name" }, { "lastName", "last_name" },
    { "email", "email" }, { "id", "id" },
    { NULL, NULL },
};

static bool is_null_id(const char *id)
{
    return id[0] == '\0' || strcmp(id, NULL_UUID) == 0;
}

/* ThingsBoard stores "no tenant" and "no customer" as NULL_UUID; an absent id means the same. */
static void normalize_ids(struct user *u)
{
    if (u->tenant_id[0] == '\0')
        strcpy(u->tenant_id, NULL_UUID);
    if (u->customer_id[0] == '\0')
        strcpy(u->customer_id, NULL_UUID);
}

/* ---------------------------------------------------------------- validation */

/* The @Length and @NoXss annotations of User, reported together. */
static int validate_fields(struct ctx *ctx, const struct user *u)
{
    struct violations v = { 0 };

    check_field(&v, "email", u->email);
    check_field(&v, "first name", u->first_name);
    check_field(&v, "last name", u->last_name);
    check_field(&v, "phone", u->phone);
    check_free_json(&v, ctx, "additionalInfo", u->additional_info);
    return violations_report(ctx, &v);
}

/* The authority decides which of tenant and customer must be set. */
static int validate_assignment(struct ctx *ctx, const struct user *u)
{
    bool no_tenant = is_null_id(u->tenant_id), no_customer = is_null_id(u->customer_id);

    switch (u->authority) {
    case AUTHORITY_SYS_ADMIN:
        if (!no_tenant || !no_customer)
            return error_set(&ctx->err, ERR_BAD_REQUEST,
                             "System administrator can't be assigned neither to tenant nor to customer!");
        return ERR_OK;
    case AUTHORITY_TENANT_ADMIN:
        if (no_tenant)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Tenant administrator should be assigned to tenant!");
        if (!no_customer)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Tenant administrator can't be assigned to customer!");
        return ERR_OK;
    case AUTHORITY_CUSTOMER_USER:
        if (no_tenant || no_customer)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Customer user should be assigned to customer!");
        return ERR_OK;
    case AUTHORITY_NONE:
        break;
    }
    return error_set(&ctx->err, ERR_BAD_REQUEST, "User authority isn't defined!");
}

/* The tenant and the customer the user names must exist, the customer in that tenant. */
static int validate_references(struct ctx *ctx, const struct user *u)
{
    struct tenant t = { 0 };
    struct customer c = { 0 };
    int rc;

    if (!is_null_id(u->tenant_id)) {
        rc = store_tenant_get(ctx->store, u->tenant_id, &t);
        if (rc == STORE_NOT_FOUND)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "User is referencing to non-existent tenant!");
        if (rc != STORE_OK)
            return ctx_store_failed(ctx, rc);
        tenant_release(&t);
    }
    if (is_null_id(u->customer_id))
        return ERR_OK;
    rc = store_customer_get(ctx->store, u->customer_id, &c);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "User is referencing to non-existent customer!");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    bool same_tenant = strcmp(c.tenant_id, u->tenant_id) == 0;
    customer_release(&c);
    if (!same_tenant)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "User can't be assigned to customer from different tenant!");
    return ERR_OK;
}

/* DataValidator's order: field constraints, then UserDataValidator.validateDataImpl. */
static int validate_user(struct ctx *ctx, const struct user *u)
{
    if (validate_fields(ctx, u) != ERR_OK || require_string(ctx, "User email", u->email) != ERR_OK)
        return ctx->err.kind;
    if (!email_is_valid(u->email))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid email address format '%s'!", u->email);
    if (validate_assignment(ctx, u) != ERR_OK)
        return ctx->err.kind;
    return validate_references(ctx, u);
}

/* UserDataValidator.validateUpdate: tenant, authority and customer are fixed at creation. */
static int validate_immutable(struct ctx *ctx, const struct user *old, const struct user *u)
{
    if (strcmp(old->tenant_id, u->tenant_id) != 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Can't update user tenant id!");
    if (old->authority != u->authority)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Can't update user authority!");
    if (strcmp(old->customer_id, u->customer_id) != 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Can't update user customer id!");
    return ERR_OK;
}

static int email_taken(struct ctx *ctx, const struct user *u)
{
    return error_set(&ctx->err, ERR_BAD_REQUEST, "User with email '%s' already present in database!", u->email);
}

/* E-mails are unique across every tenant; the user itself may keep its own. */
static int check_email_free(struct ctx *ctx, const struct user *u)
{
    struct user other = { 0 };
    int rc = store_user_get_by_email(ctx->store, u->email, &other);

    if (rc == STORE_NOT_FOUND)
        return ERR_OK;
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    bool same = strcmp(other.id, u->id) == 0;
    user_release(&other);
    return same ? ERR_OK : email_taken(ctx, u);
}

/* The tenant's maxUsers counts every user of the tenant; system administrators have no limit. */
static int check_user_limit(struct ctx *ctx, const char *tenant_id)
{
    struct tenant t = { 0 };
    int64_t count = 0;

    if (is_null_id(tenant_id))
        return ERR_OK;
    int rc = store_tenant_get(ctx->store, tenant_id, &t);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    int64_t limit = t.limits.max_users;
    tenant_release(&t);
    if (limit <= 0)
        return ERR_OK;
    rc = store_tenant_lock(ctx->store, tenant_id); /* the count below sees other agents' commits */
    if (rc == STORE_OK)
        rc = store_user_count_by_tenant(ctx->store, tenant_id, &count);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (count < limit)
        return ERR_OK;
    return error_limit_reached(&ctx->err, "Users", "USER", limit);
}

/* ---------------------------------------------------------------- loading */

static int load_user(struct ctx *ctx, const char *id, struct user *out)
{
    int rc = store_user_get(ctx->store, id, out);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "User with id [%s] is not found", id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return ERR_OK;
}

/* The authority check of the operation, then the user (404), then the per-user permission (403). */
int user_load_for(struct ctx *ctx, unsigned authorities, enum perm_op op, const char *id, struct user *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, authorities) != ERR_OK || load_user(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    if (perm_user(ctx, op, out) != ERR_OK) {
        user_release(out);
        return ctx->err.kind;
    }
    return ERR_OK;
}

int user_load_credentials(struct ctx *ctx, const char *user_id, struct credentials *out)
{
    memset(out, 0, sizeof *out);
    int rc = store_credentials_get_for_update(ctx->store, user_id, out);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int user_save_credentials(struct ctx *ctx, const struct credentials *c)
{
    int rc = store_credentials_update(ctx->store, c);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* ---------------------------------------------------------------- events */

/* ThingsBoard logs user actions with the caller's customer, not the user's. */
int user_emit_event(struct ctx *ctx, const char *type, const struct user *u)
{
    struct event ev = { 0 };
    ev.type = type;
    ev.entity_type = "USER";
    strcpy(ev.entity_id, u->id);
    strcpy(ev.tenant_id, u->tenant_id);
    events_resolve_customer(ctx, NULL, ev.customer_id);
    ev.entity_name = u->email;
    ev.entity = u;
    return events_emit(ctx, &ev);
}

/* ---------------------------------------------------------------- operations */

int user_create(struct ctx *ctx, struct user *u, bool send_activation_mail)
{
    if (perm_require(ctx, AUTH_SYS | AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    if (ctx->who.authority == AUTHORITY_TENANT_ADMIN)
        strcpy(u->tenant_id, ctx->who.tenant_id);
    normalize_ids(u);
    u->id[0] = '\0';
    if (perm_user(ctx, PERM_CREATE, u) != ERR_OK || validate_user(ctx, u) != ERR_OK ||
        check_user_limit(ctx, u->tenant_id) != ERR_OK || check_email_free(ctx, u) != ERR_OK)
        return ctx->err.kind;
    const char *token = NULL;
    char fresh_token[SECRET_TOKEN_MAX];
    const struct outgoing_mail *sent = NULL;
    if (send_activation_mail && ctx->mailed == NULL) {
        /* First run: the user is created with a new id and token and the mail composed with them;
         * the writer rolls the run back, sends the mail, and the second run creates the user with
         * the same id and token (see agent.c). */
        uuid_generate(u->id);
        secret_token(fresh_token, "", ACTIVATION_TOKEN_BYTES);
        token = fresh_token;
    } else if (send_activation_mail) {
        if (user_mailed_for_command(ctx, u->email, &sent) != ERR_OK)
            return ctx->err.kind;
        snprintf(u->id, sizeof u->id, "%s", sent->user_id);
        token = sent->token;
    } else {
        uuid_generate(u->id);
    }
    u->created_time = ctx->now;
    u->version = 1;
    int rc = store_user_insert(ctx->store, u);
    if (rc == STORE_DUPLICATE)
        return email_taken(ctx, u);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (user_insert_pending_credentials(ctx, u->id, token) != ERR_OK)
        return ctx->err.kind;
    if (send_activation_mail && ctx->mailed == NULL)
        user_want_activation_mail(ctx, u->id, u->email, token, ctx->settings->activation_token_ttl_ms);
    return user_emit_event(ctx, "ENTITY_CREATED", u);
}

/* What a client can set of a user, for ifEqual "skip" (the authority is compared apart). */
static const struct field_spec user_fields[] = {
    FIELD_TEXT_OF(struct user, email),
    FIELD_TEXT_OF(struct user, first_name),
    FIELD_TEXT_OF(struct user, last_name),
    FIELD_TEXT_OF(struct user, phone),
    FIELD_TEXT_OF(struct user, additional_info),
    FIELD_ID_OF(struct user, tenant_id),
    FIELD_ID_OF(struct user, customer_id),
    FIELDS_END,
};

int user_update(struct ctx *ctx, struct user *u, unsigned how)
{
    struct user old;
    int rc;

    if (user_load_for(ctx, AUTH_ANY_USER, PERM_WRITE, u->id, &old) != ERR_OK)
        return ctx->err.kind;
    if (update_check_version(ctx, how, u->version, old.version, "User") != ERR_OK) {
        user_release(&old);
        return ctx->err.kind;
    }
    /* ThingsBoard's UserController.saveUser forces the caller's tenant for everyone but SYS_ADMIN. */
    if (ctx->who.authority != AUTHORITY_SYS_ADMIN)
        strcpy(u->tenant_id, ctx->who.tenant_id);
    normalize_ids(u);
    if (u->authority == old.authority && update_unchanged(how, u, &old, user_fields)) {
        user_release(u);
        *u = old; /* the stored user, its version kept; no write, no event */
        return ERR_OK;
    }
    rc = validate_user(ctx, u);
    if (rc == ERR_OK)
        rc = validate_immutable(ctx, &old, u);
    if (rc == ERR_OK)
        rc = check_email_free(ctx, u);
    int64_t created_time = old.created_time, next_version = old.version + 1;
    user_release(&old);
    if (rc != ERR_OK)
        return rc;
    u->created_time = created_time;
    u->version = next_version;
    rc = store_user_update(ctx->store, u);
    if (rc == STORE_DUPLICATE)
        return email_taken(ctx, u);
    if (rc == STORE_NOT_FOUND) /* another agent changed the row since it was read */
        return error_set(&ctx->err, ERR_CONFLICT, "User was already changed by someone else");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return user_emit_event(ctx, "ENTITY_UPDATED", u);
}

int user_get(struct ctx *ctx, const char *id, struct user *out, struct credentials *cred)
{
    if (cred != NULL)
        memset(cred, 0, sizeof *cred);
    if (user_load_for(ctx, AUTH_ANY_USER, PERM_READ, id, out) != ERR_OK)
        return ctx->err.kind;
    if (cred != NULL && user_load_credentials(ctx, out->id, cred) != ERR_OK) {
        user_release(out);
        return ctx->err.kind;
    }
    return ERR_OK;
}

/* A tenant keeps at least one administrator. */
static int check_not_last_tenant_admin(struct ctx *ctx, const struct user *u)
{
    int64_t admins = 0;

    if (u->authority != AUTHORITY_TENANT_ADMIN)
        return ERR_OK;
    int rc = store_user_count_tenant_admins(ctx->store, u->tenant_id, &admins);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (admins <= 1)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "At least one tenant administrator must remain!");
    return ERR_OK;
}

int user_delete(struct ctx *ctx, const char *id)
{
    struct user u;
    int rc;

    if (user_load_for(ctx, AUTH_SYS | AUTH_TENANT, PERM_DELETE, id, &u) != ERR_OK)
        return ctx->err.kind;
    if (u.authority == AUTHORITY_SYS_ADMIN && strcmp(u.id, ctx->who.user_id) == 0)
        rc = error_set(&ctx->err, ERR_FORBIDDEN, "Sysadmin is not allowed to delete himself");
    else
        rc = check_not_last_tenant_admin(ctx, &u);
    if (rc == ERR_OK) {
        int src = store_user_delete(ctx->store, u.id);
        rc = src == STORE_OK ? user_emit_event(ctx, "ENTITY_DELETED", &u) : ctx_store_failed(ctx, src);
    }
    user_release(&u);
    return rc;
}

/* SYS_ADMIN names the tenant, which must exist; the others list within their own tenant only. */
static int check_list_tenant(struct ctx *ctx, const char *tenant_id)
{
    struct tenant t = { 0 };

    if (ctx->who.authority != AUTHORITY_SYS_ADMIN) {
        if (tenant_id != NULL && tenant_id[0] != '\0' && strcmp(tenant_id, ctx->who.tenant_id) != 0)
            return error_forbidden(&ctx->err);
        return ERR_OK;
    }
    if (tenant_id == NULL || tenant_id[0] == '\0')
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Parameter 'tenantId' can't be empty!");
    int rc = store_tenant_get(ctx->store, tenant_id, &t);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Tenant with id [%s] is not found", tenant_id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    tenant_release(&t);
    return ERR_OK;
}

int user_list(struct ctx *ctx, const char *tenant_id, const struct page_request *p, struct user **items,
              size_t *n, struct page_info *info)
{
    const char *column;
    int64_t total = 0, limit = p->page_size, offset = paging_offset(p);
    int rc;

    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK || check_list_tenant(ctx, tenant_id) != ERR_OK ||
        paging_validate(ctx, p, user_sort, &column) != ERR_OK)
        return ctx->err.kind;
    switch (ctx->who.authority) {
    case AUTHORITY_SYS_ADMIN:
        rc = store_user_page_tenant_admins(ctx->store, tenant_id, p->text_search, column, p->descending, limit,
                                           offset, items, n, &total);
        break;
    case AUTHORITY_TENANT_ADMIN:
        rc = store_user_page_by_tenant(ctx->store, ctx->who.tenant_id, p->text_search, column, p->descending,
                                       limit, offset, items, n, &total);
        break;
    default:
        rc = store_user_page_by_customer(ctx->store, ctx->who.customer_id, p->text_search, column,
                                         p->descending, limit, offset, items, n, &total);
        break;
    }
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}

int user_list_by_customer(struct ctx *ctx, const char *customer_id, const struct page_request *p,
                          struct user **items, size_t *n, struct page_info *info)
{
    struct customer c;
    const char *column;
    int64_t total = 0;

    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK || customer_get(ctx, customer_id, &c) != ERR_OK)
        return ctx->err.kind;
    customer_release(&c);
    if (paging_validate(ctx, p, user_sort, &column) != ERR_OK)
        return ctx->err.kind;
    int rc = store_user_page_by_customer(ctx->store, customer_id, p->text_search, column, p->descending,
                                         p->page_size, paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}
