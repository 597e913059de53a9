/* auth_tokens.c: the tokens of a session (protocol §4). Tokens are opaque random strings ("cma_"
 * access, "cmr_" refresh) of which only the SHA-256 digest is stored; an access and a refresh
 * token issued together share a pair id; the pair of a login as (user.token) also names the user
 * who acts through it, which authentication puts in the principal. Authenticating a request by its
 * token, refresh, logout, and the tenant a request's token or e-mail belongs to (its admission
 * queue). API keys are apikey.c's; logins auth_login.c's; login as auth_login_as.c's; passwords
 * auth_password.c's. */
#include "cmagent/auth.h"

#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "cmagent/utf8.h"
#include "auth_int.h"

#include <stdio.h>
#include <string.h>

#define ACCESS_PREFIX "cma_"
#define REFRESH_PREFIX "cmr_"
#define TOKEN_BYTES 32
#define INVALID_TOKEN "Invalid or revoked token"

/* now + ttl, saturated; a ttl of 0 or less means the token never expires (0). */
int64_t auth_expiry(int64_t now, int64_t ttl_ms)
{
    if (ttl_ms <= 0)
        return 0;
    return now > INT64_MAX - ttl_ms ? INT64_MAX : now + ttl_ms;
}

static bool token_expired(const struct ctx *ctx, const struct token *t)
{
    return t->expires_at != 0 && t->expires_at <= ctx->now;
}

/* ctx->who becomes the user u, authenticated by token t. */
void auth_fill_principal(struct ctx *ctx, const struct user *u, const struct token *t)
{
    struct principal *w = &ctx->who;

    memset(w, 0, sizeof *w);
    w->authority = u->authority;
    strcpy(w->user_id, u->id);
    strcpy(w->tenant_id, u->tenant_id);
    strcpy(w->customer_id, u->customer_id);
    utf8_copy(w->email, sizeof w->email, u->email ? u->email : "");
    utf8_copy(w->first_name, sizeof w->first_name, u->first_name ? u->first_name : "");
    utf8_copy(w->last_name, sizeof w->last_name, u->last_name ? u->last_name : "");
    strcpy(w->token_id, t->id);
    strcpy(w->pair_id, t->pair_id);
    w->token_kind = t->kind;
    strcpy(w->acting_user_id, t->acting_user_id);
}

/* Makes a new secret with prefix, stores its digest as a token of kind (acting for acting_user_id
 * when not ""), returns the row in out. */
static int store_new_token(struct ctx *ctx, const char *user_id, const char *acting_user_id, enum token_kind kind,
                           const char *pair_id, int64_t ttl_ms, const char *prefix, char secret[SECRET_TOKEN_MAX],
                           struct token *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->acting_user_id, sizeof out->acting_user_id, "%s", acting_user_id);
    secret_token(secret, prefix, TOKEN_BYTES);
    secret_digest(secret, out->digest);
    uuid_generate(out->id);
    strcpy(out->user_id, user_id);
    out->kind = kind;
    strcpy(out->pair_id, pair_id);
    out->created_time = ctx->now;
    out->expires_at = auth_expiry(ctx->now, ttl_ms);
    int rc = store_token_insert(ctx->store, out);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Issues an access and a refresh token sharing a new pair id. access (optional) receives the
 * access token's row. */
int auth_issue_pair(struct ctx *ctx, const char *user_id, struct token_pair *out, struct token *access)
{
    return auth_issue_pair_for(ctx, user_id, "", out, access);
}

int auth_issue_pair_for(struct ctx *ctx, const char *user_id, const char *acting_user_id, struct token_pair *out,
                        struct token *access)
{
    const struct core_settings *cfg = ctx->settings;
    char pair_id[UUID_STR_LEN];
    struct token a, r;

    memset(out, 0, sizeof *out);
    uuid_generate(pair_id);
    if (store_new_token(ctx, user_id, acting_user_id, TOKEN_ACCESS, pair_id, cfg->access_token_ttl_ms, ACCESS_PREFIX,
                        out->token, &a) != ERR_OK ||
        store_new_token(ctx, user_id, acting_user_id, TOKEN_REFRESH, pair_id, cfg->refresh_token_ttl_ms,
                        REFRESH_PREFIX, out->refresh_token, &r) != ERR_OK) {
        memset(out, 0, sizeof *out);
        return ctx->err.kind;
    }
    out->expires_in_ms = cfg->access_token_ttl_ms;
    if (access != NULL)
        *access = a;
    return ERR_OK;
}

/* The user and its credentials; a user that vanished is reported as not_found_message (401). */
static int load_account(struct ctx *ctx, const char *user_id, const char *not_found_message, struct user *u,
                        struct credentials *c)
{
    memset(u, 0, sizeof *u);
    memset(c, 0, sizeof *c);
    int rc = store_user_get(ctx->store, user_id, u);
    if (rc == STORE_OK)
        rc = store_credentials_get(ctx->store, user_id, c);
    if (rc == STORE_NOT_FOUND) {
        user_release(u);
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "%s", not_found_message);
    }
    if (rc != STORE_OK) {
        user_release(u);
        return ctx_store_failed(ctx, rc);
    }
    return ERR_OK;
}

/* The token a secret names and its owner, who must be enabled: 401 for an unknown token, one of
 * the other kind (an access token or API key to refresh, a refresh token to authenticate), or an
 * owner disabled or gone; 401 TOKEN_EXPIRED for an expired one. The caller releases t and u. */
static int load_session(struct ctx *ctx, const char *secret, bool refresh, struct token *t, struct user *u)
{
    char digest[SECRET_DIGEST_HEX];
    struct credentials c = { 0 };

    secret_digest(secret, digest);
    int rc = store_token_get_by_digest(ctx->store, digest, t);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (refresh != (t->kind == TOKEN_REFRESH))
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, "%s",
                       refresh ? INVALID_TOKEN : "A refresh token can't be used as an access token");
    else if (token_expired(ctx, t))
        rc = error_set(&ctx->err, ERR_TOKEN_EXPIRED, "Token has expired");
    else
        rc = load_account(ctx, t->user_id, INVALID_TOKEN, u, &c);
    if (rc == ERR_OK && !c.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    credentials_release(&c);
    return rc;
}

/* The e-mail of the user a user.token token acts for, into ctx->who (the token goes with that
 * user, so a missing one is only a race with its delete). */
static int load_acting_user(struct ctx *ctx)
{
    struct user a = { 0 };
    int rc = store_user_get(ctx->store, ctx->who.acting_user_id, &a);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    utf8_copy(ctx->who.acting_email, sizeof ctx->who.acting_email, a.email ? a.email : "");
    user_release(&a);
    return ERR_OK;
}

int auth_authenticate(struct ctx *ctx, const char *token)
{
    struct token t = { 0 };
    struct user u = { 0 };

    if (token == NULL || token[0] == '\0')
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Authentication token is missing");
    int rc = load_session(ctx, token, false, &t, &u);
    if (rc == ERR_OK)
        auth_fill_principal(ctx, &u, &t);
    if (rc == ERR_OK && t.acting_user_id[0] != '\0' && load_acting_user(ctx) != ERR_OK) {
        rc = ctx->err.kind;
        memset(&ctx->who, 0, sizeof ctx->who);
    }
    token_release(&t);
    user_release(&u);
    return rc;
}

int auth_refresh(struct ctx *ctx, const char *refresh_token, struct token_pair *out)
{
    struct token t = { 0 };
    struct user u = { 0 };

    memset(out, 0, sizeof *out);
    if (refresh_token == NULL || refresh_token[0] == '\0')
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Refresh token is missing");
    int rc = load_session(ctx, refresh_token, true, &t, &u);
    if (rc == ERR_OK) {
        /* The refresh token itself first: of two agents refreshing it at once, one finds it gone. */
        int src = store_token_delete(ctx->store, t.id);
        if (src == STORE_OK)
            src = store_token_delete_pair(ctx->store, t.pair_id);
        if (src == STORE_NOT_FOUND)
            rc = error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
        else
            rc = src == STORE_OK ? auth_issue_pair_for(ctx, u.id, t.acting_user_id, out, NULL) : ctx_store_failed(ctx, src);
    }
    token_release(&t);
    user_release(&u);
    return rc;
}

int auth_logout(struct ctx *ctx)
{
    const struct principal *w = &ctx->who;
    int rc;

    if (w->authority == AUTHORITY_NONE)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Authentication token is missing");
    if (w->token_kind == TOKEN_API_KEY)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "An API key can't be revoked by logout; use apiKey.delete");
    if (w->pair_id[0] != '\0')
        rc = store_token_delete_pair(ctx->store, w->pair_id);
    else
        rc = store_token_delete(ctx->store, w->token_id);
    if (rc != STORE_OK && rc != STORE_NOT_FOUND)
        return ctx_store_failed(ctx, rc);
    return ERR_OK;
}

void auth_queue_tenant(struct ctx *ctx, enum user_key by, const char *key, char tenant_id[UUID_STR_LEN])
{
    char digest[SECRET_DIGEST_HEX];

    if (by == USER_BY_TOKEN_DIGEST) {
        secret_digest(key != NULL ? key : "", digest);
        key = digest;
    }
    if (store_user_tenant_of(ctx->store, by, key != NULL ? key : "", tenant_id) != STORE_OK)
        tenant_id[0] = '\0';
}
