/* apikey.c: API keys ("cmk_..."), long-lived tokens that act as their owner. Only the key's digest
 * is stored, so a key is shown once, at creation. Authenticating with a key is auth_tokens.c's. */
#include "cmagent/apikey.h"

#include "cmagent/perm.h"
#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"

#include <string.h>

#define APIKEY_PREFIX "cmk_"
#define APIKEY_BYTES 32
/* expiresAt stays a number a JSON reader holds exactly (below 2^53) */
#define APIKEY_MAX_EXPIRES_IN_MS (100LL * 365 * 24 * 3600 * 1000)

static int validate_key_request(struct ctx *ctx, const char *description, int64_t expires_in_ms)
{
    struct violations v = { 0 };

    check_field(&v, "description", description);
    if (violations_report(ctx, &v) != ERR_OK)
        return ctx->err.kind;
    if (expires_in_ms < 0 || expires_in_ms > APIKEY_MAX_EXPIRES_IN_MS)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "expiresIn must be zero (never) or a positive number of ms up to 100 years (%lld)",
                         (long long)APIKEY_MAX_EXPIRES_IN_MS);
    return ERR_OK;
}

/* At most max_api_keys_per_user keys per user (0: no limit), so that a user's keys are bounded as
 * the tenant's entities are: 403 errorCode 41 "API keys limit reached". */
static int check_key_limit(struct ctx *ctx)
{
    int64_t limit = ctx->settings != NULL ? ctx->settings->max_api_keys_per_user : 0, count = 0;
    if (limit <= 0)
        return ERR_OK;
    int rc = store_user_lock(ctx->store, ctx->who.user_id); /* the count sees other agents' commits */
    if (rc == STORE_OK)
        rc = store_token_count_api_keys(ctx->store, ctx->who.user_id, &count);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (count < limit)
        return ERR_OK;
    return error_limit_reached(&ctx->err, "API keys", "API_KEY", limit);
}

int apikey_create(struct ctx *ctx, const char *description, int64_t expires_in_ms,
                  char key[SECRET_TOKEN_MAX], struct token *out)
{
    memset(out, 0, sizeof *out);
    key[0] = '\0';
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    /* A key outlives the session and would act without naming who acts: not from a login as. */
    if (ctx->who.acting_user_id[0] != '\0')
        return error_set(&ctx->err, ERR_FORBIDDEN, "An API key can't be created with a token of user.token");
    if (validate_key_request(ctx, description, expires_in_ms) != ERR_OK || check_key_limit(ctx) != ERR_OK)
        return ctx->err.kind;
    secret_token(key, APIKEY_PREFIX, APIKEY_BYTES);
    secret_digest(key, out->digest);
    uuid_generate(out->id);
    strcpy(out->user_id, ctx->who.user_id);
    out->kind = TOKEN_API_KEY;
    out->created_time = ctx->now;
    if (expires_in_ms > 0)
        out->expires_at = ctx->now + expires_in_ms;
    out->description = xstrdup_or_null(description);
    int rc = store_token_insert(ctx->store, out);
    if (rc != STORE_OK) {
        token_release(out);
        key[0] = '\0';
        return ctx_store_failed(ctx, rc);
    }
    return ERR_OK;
}

int apikey_list(struct ctx *ctx, struct token **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    int rc = store_token_list_api_keys(ctx->store, ctx->who.user_id, items, n);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int apikey_delete(struct ctx *ctx, const char *id)
{
    struct token t = { 0 };

    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    int rc = store_token_get(ctx->store, id, &t);
    if (rc != STORE_OK && rc != STORE_NOT_FOUND)
        return ctx_store_failed(ctx, rc);
    bool mine = rc == STORE_OK && t.kind == TOKEN_API_KEY && strcmp(t.user_id, ctx->who.user_id) == 0;
    token_release(&t);
    if (!mine)
        return error_set(&ctx->err, ERR_NOT_FOUND, "API key with id [%s] is not found", id);
    rc = store_token_delete(ctx->store, id);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}
