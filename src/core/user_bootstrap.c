/* user_bootstrap.c: the system administrator created at start-up on an empty user table, with the
 * configured password or a generated one (checked for length only). */
#include "cmagent/user.h"

#include "cmagent/auth.h"
#include "cmagent/secret.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"

#include <stdio.h>
#include <string.h>

#define GENERATED_PASSWORD_BYTES 12              /* 16 base64url characters */

/* The bootstrap password (configured, or generated) obeys the length rules only: a generated one
 * cannot promise character classes, and the administrator changes it through the full policy. */
static int check_bootstrap_password(struct ctx *ctx, const char *password)
{
    struct core_settings lengths_only = *ctx->settings;
    const struct core_settings *saved = ctx->settings;
    struct password_policy p = { 0 };

    p.min_length = saved->password.min_length;
    p.max_length = saved->password.max_length;
    lengths_only.password = p;
    ctx->settings = &lengths_only;
    int rc = auth_check_password_policy(ctx, password);
    ctx->settings = saved;
    return rc;
}

static int insert_sysadmin(struct ctx *ctx, const char *email, const char *password)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    char hash[SECRET_HASH_MAX];
    int rc;

    if (require_string(ctx, "User email", email) != ERR_OK)
        return ctx->err.kind;
    if (!email_is_valid(email))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid email address format '%s'!", email);
    if (check_bootstrap_password(ctx, password) != ERR_OK)
        return ctx->err.kind;
    if (secret_hash_password(password, ctx->settings->password_hash_cost, hash) != 0)
        return error_set(&ctx->err, ERR_INTERNAL, "Couldn't hash the system administrator's password");
    uuid_generate(u.id);
    u.created_time = ctx->now;
    strcpy(u.tenant_id, NULL_UUID);
    strcpy(u.customer_id, NULL_UUID);
    u.email = xstrdup_or_null(email);
    u.authority = AUTHORITY_SYS_ADMIN;
    u.version = 1;
    strcpy(c.user_id, u.id);
    c.enabled = true;
    c.password_hash = xstrdup_or_null(hash);
    rc = store_user_insert(ctx->store, &u);
    if (rc == STORE_OK)
        rc = store_credentials_insert(ctx->store, &c);
    user_release(&u);
    credentials_release(&c);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Creates the system administrator when no user exists yet. */
static int bootstrap_if_empty(struct ctx *ctx, const char *email, const char *password, char generated[64])
{
    char random_password[SECRET_TOKEN_MAX];
    int64_t users = 0;
    int rc = store_user_count_all(ctx->store, &users);

    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (users > 0)
        return ERR_OK;
    if (password == NULL || password[0] == '\0') {
        secret_token(random_password, "", GENERATED_PASSWORD_BYTES);
        snprintf(generated, 64, "%.63s", random_password);
        password = generated;
    }
    return insert_sysadmin(ctx, email, password);
}

int user_bootstrap_sysadmin(struct ctx *ctx, const char *email, const char *password, char generated[64])
{
    generated[0] = '\0';
    int rc = store_begin(ctx->store);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (bootstrap_if_empty(ctx, email, password, generated) != ERR_OK) {
        store_rollback(ctx->store);
        generated[0] = '\0';
        return ctx->err.kind;
    }
    rc = store_commit(ctx->store);
    if (rc != STORE_OK) {
        store_rollback(ctx->store);
        generated[0] = '\0';
        return ctx_store_failed(ctx, rc);
    }
    return ERR_OK;
}
