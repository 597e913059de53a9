/* auth_login_as.c: user.token, ThingsBoard's "login as" (GET /api/user/{userId}/token): a system
 * administrator gets a token pair of a tenant administrator, a tenant administrator one of a
 * customer user of its tenant, behind the setting user_token_access_enabled. The pair is a normal
 * session of that user (same lifetimes, refresh and logout; no second factor, as in ThingsBoard)
 * whose tokens also name the user who asked for them: every audit row of a request made with them
 * carries that user as the acting user, and so does the LOGIN row written here. */
#include "cmagent/auth.h"

#include "cmagent/audit.h"
#include "cmagent/perm.h"
#include "cmagent/store_user.h"
#include "auth_int.h"

#include <stdio.h>
#include <string.h>

#define SYS_ONLY_TENANT_ADMINS "A system administrator can only log in as a tenant administrator"
#define TENANT_ONLY_CUSTOMER_USERS "A tenant administrator can only log in as a customer user of its tenant"

/* ThingsBoard's checkUserId first (another tenant's user, a customer user for a system
 * administrator, a system administrator for a tenant administrator: its 403), then what it lets
 * through and this agent does not: a system administrator or a fellow tenant administrator. */
static int check_target(struct ctx *ctx, const struct user *u)
{
    if (perm_user(ctx, PERM_READ, u) != ERR_OK)
        return ctx->err.kind;
    if (ctx->who.authority == AUTHORITY_SYS_ADMIN && u->authority != AUTHORITY_TENANT_ADMIN)
        return error_set(&ctx->err, ERR_FORBIDDEN, SYS_ONLY_TENANT_ADMINS);
    if (ctx->who.authority == AUTHORITY_TENANT_ADMIN && u->authority != AUTHORITY_CUSTOMER_USER)
        return error_set(&ctx->err, ERR_FORBIDDEN, TENANT_ONLY_CUSTOMER_USERS);
    return ERR_OK;
}

/* A disabled, locked or never activated account gets no session from anyone. */
static int check_active(struct ctx *ctx, const char *user_id)
{
    struct credentials c = { 0 };
    int rc = store_credentials_get(ctx->store, user_id, &c);
    if (rc == STORE_OK && (!c.enabled || c.password_hash == NULL))
        rc = error_set(&ctx->err, ERR_FORBIDDEN, NOT_ACTIVE);
    else if (rc != STORE_OK)
        rc = rc == STORE_NOT_FOUND ? error_set(&ctx->err, ERR_FORBIDDEN, NOT_ACTIVE) : ctx_store_failed(ctx, rc);
    credentials_release(&c);
    return rc;
}

/* The LOGIN row of the new session: u logged in, acting_user_id acting (the row lands in u's tenant,
 * with the requests made in the session). */
static int audit_login_as(struct ctx *ctx, const struct user *u, const char *acting_user_id, const char *acting_email)
{
    struct audit_row r = { 0 };

    snprintf(r.tenant_id, sizeof r.tenant_id, "%s", u->tenant_id);
    if (strcmp(u->customer_id, NULL_UUID) != 0)
        snprintf(r.customer_id, sizeof r.customer_id, "%s", u->customer_id);
    strcpy(r.entity_type, "USER");
    strcpy(r.entity_id, u->id);
    r.entity_name = xstrdup_or_null(u->email);
    strcpy(r.user_id, u->id);
    r.user_name = xstrdup_or_null(u->email);
    strcpy(r.action_type, "LOGIN");
    snprintf(r.acting_user_id, sizeof r.acting_user_id, "%s", acting_user_id);
    r.acting_user_name = xstrdup_or_null(acting_email);
    int rc = audit_append(ctx, &r);
    audit_row_release(&r);
    return rc;
}

int auth_user_token(struct ctx *ctx, const char *user_id, struct token_pair *out)
{
    const struct principal *w = &ctx->who;
    struct user u = { 0 };

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_SYS | AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    snprintf(ctx->audit_entity_id, sizeof ctx->audit_entity_id, "%s", user_id);
    if (!ctx->settings->user_token_access)
        return error_forbidden(&ctx->err);
    int rc = store_user_get(ctx->store, user_id, &u);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "User with id [%s] is not found", user_id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    rc = check_target(ctx, &u);
    if (rc == ERR_OK)
        rc = check_active(ctx, u.id);
    /* A session got this way that asks for another acts for the user who asked first. */
    bool chained = w->acting_user_id[0] != '\0';
    const char *acting = chained ? w->acting_user_id : w->user_id;
    const char *acting_email = chained ? w->acting_email : w->email;
    if (rc == ERR_OK)
        rc = auth_issue_pair_for(ctx, u.id, acting, out, NULL);
    if (rc == ERR_OK)
        rc = audit_login_as(ctx, &u, acting, acting_email);
    if (rc != ERR_OK)
        memset(out, 0, sizeof *out);
    user_release(&u);
    return rc;
}
