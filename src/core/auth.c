/* auth.c: authentication (protocol §4). Tokens are opaque random strings ("cma_" access, "cmr_"
 * refresh) of which only the SHA-256 digest is stored; an access and a refresh token issued
 * together share a pair id. Also login, refresh, logout, password change and activation. API keys
 * are apikey.c's; user management is user.c's. */
#include "cmagent/auth.h"

#include "cmagent/events.h"
#include "cmagent/perm.h"
#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"

#include <stdlib.h>
#include <string.h>

#define ACCESS_PREFIX "cma_"
#define REFRESH_PREFIX "cmr_"
#define TOKEN_BYTES 32
#define PASSWORD_MIN_LENGTH 6
#define PASSWORD_MAX_LENGTH 72

#define INVALID_TOKEN "Invalid or revoked token"
#define INVALID_LOGIN "Invalid username or password"
#define NOT_ACTIVE "User account is not active"

/* now + ttl, saturated; a ttl of 0 or less means the token never expires (0). */
static int64_t expiry(int64_t now, int64_t ttl_ms)
{
    if (ttl_ms <= 0)
        return 0;
    return now > INT64_MAX - ttl_ms ? INT64_MAX : now + ttl_ms;
}

static bool token_expired(const struct ctx *ctx, const struct token *t)
{
    return t->expires_at != 0 && t->expires_at <= ctx->now;
}

/* Copies src into dst (size bytes), cutting at a UTF-8 character boundary when it does not fit. */
static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ctx->who becomes the user u, authenticated by token t. */
static void fill_principal(struct ctx *ctx, const struct user *u, const struct token *t)
{
    struct principal *w = &ctx->who;

    memset(w, 0, sizeof *w);
    w->authority = u->authority;
    strcpy(w->user_id, u->id);
    strcpy(w->tenant_id, u->tenant_id);
    strcpy(w->customer_id, u->customer_id);
    copy_text(w->email, sizeof w->email, u->email);
    copy_text(w->first_name, sizeof w->first_name, u->first_name);
    copy_text(w->last_name, sizeof w->last_name, u->last_name);
    strcpy(w->token_id, t->id);
    strcpy(w->pair_id, t->pair_id);
    w->token_kind = t->kind;
}

/* Makes a new secret with prefix, stores its digest as a token of kind, returns the row in out. */
static int store_new_token(struct ctx *ctx, const char *user_id, enum token_kind kind, const char *pair_id,
                           int64_t ttl_ms, const char *prefix, char secret[SECRET_TOKEN_MAX], struct token *out)
{
    memset(out, 0, sizeof *out);
    secret_token(secret, prefix, TOKEN_BYTES);
    secret_digest(secret, out->digest);
    uuid_generate(out->id);
    strcpy(out->user_id, user_id);
    out->kind = kind;
    strcpy(out->pair_id, pair_id);
    out->created_time = ctx->now;
    out->expires_at = expiry(ctx->now, ttl_ms);
    int rc = store_token_insert(ctx->store, out);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Issues an access and a refresh token sharing a new pair id. access (optional) receives the
 * access token's row. */
static int issue_pair(struct ctx *ctx, const char *user_id, struct token_pair *out, struct token *access)
{
    const struct core_settings *cfg = ctx->settings;
    char pair_id[UUID_STR_LEN];
    struct token a, r;

    memset(out, 0, sizeof *out);
    uuid_generate(pair_id);
    if (store_new_token(ctx, user_id, TOKEN_ACCESS, pair_id, cfg->access_token_ttl_ms, ACCESS_PREFIX, out->token,
                        &a) != ERR_OK ||
        store_new_token(ctx, user_id, TOKEN_REFRESH, pair_id, cfg->refresh_token_ttl_ms, REFRESH_PREFIX,
                        out->refresh_token, &r) != ERR_OK) {
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

static int save_credentials(struct ctx *ctx, const struct credentials *c)
{
    int rc = store_credentials_update(ctx->store, c);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Replaces the stored password hash with one of password. */
static int set_password(struct ctx *ctx, struct credentials *c, const char *password)
{
    char hash[SECRET_HASH_MAX];
    if (secret_hash_password(password, ctx->settings->password_hash_cost, hash) != 0)
        return error_set(&ctx->err, ERR_INTERNAL, "Couldn't hash the password");
    free(c->password_hash);
    c->password_hash = xstrdup_or_null(hash);
    return ERR_OK;
}

int auth_check_password_policy(struct ctx *ctx, const char *password)
{
    size_t n = password ? utf8_length(password) : 0;
    if (n < PASSWORD_MIN_LENGTH || n > PASSWORD_MAX_LENGTH)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Password must be %d to %d characters long",
                         PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
    return ERR_OK;
}

int auth_authenticate(struct ctx *ctx, const char *token)
{
    char digest[SECRET_DIGEST_HEX];
    struct token t = { 0 };
    struct user u = { 0 };
    struct credentials c = { 0 };
    int rc;

    if (token == NULL || token[0] == '\0')
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Authentication token is missing");
    secret_digest(token, digest);
    rc = store_token_get_by_digest(ctx->store, digest, &t);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (t.kind == TOKEN_REFRESH)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, "A refresh token can't be used as an access token");
    else if (token_expired(ctx, &t))
        rc = error_set(&ctx->err, ERR_TOKEN_EXPIRED, "Token has expired");
    else
        rc = load_account(ctx, t.user_id, INVALID_TOKEN, &u, &c);
    if (rc == ERR_OK && !c.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (rc == ERR_OK)
        fill_principal(ctx, &u, &t);
    token_release(&t);
    user_release(&u);
    credentials_release(&c);
    return rc;
}

/* Checks password against the account; a miss is counted in failed_login_attempts. */
static int check_login_password(struct ctx *ctx, struct credentials *c, const char *password)
{
    if (c->password_hash == NULL) {
        secret_check_password(password, secret_dummy_hash());
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    }
    if (!secret_check_password(password, c->password_hash)) {
        c->failed_login_attempts++;
        if (save_credentials(ctx, c) != ERR_OK)
            return ctx->err.kind;
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_LOGIN);
    }
    if (!c->enabled)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    return ERR_OK;
}

int auth_login(struct ctx *ctx, const char *email, const char *password, struct token_pair *out)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    const char *pw = password ? password : "";
    int rc;

    memset(out, 0, sizeof *out);
    rc = store_user_get_by_email(ctx->store, email ? email : "", &u);
    if (rc == STORE_NOT_FOUND) {
        secret_check_password(pw, secret_dummy_hash());
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_LOGIN);
    }
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    rc = store_credentials_get(ctx->store, u.id, &c);
    if (rc != STORE_OK)
        rc = ctx_store_failed(ctx, rc);
    else
        rc = check_login_password(ctx, &c, pw);
    if (rc == ERR_OK) {
        c.last_login_ts = ctx->now;
        c.failed_login_attempts = 0;
        rc = save_credentials(ctx, &c);
    }
    if (rc == ERR_OK)
        rc = issue_pair(ctx, u.id, out, NULL);
    user_release(&u);
    credentials_release(&c);
    return rc;
}

int auth_refresh(struct ctx *ctx, const char *refresh_token, struct token_pair *out)
{
    char digest[SECRET_DIGEST_HEX];
    struct token t = { 0 };
    struct user u = { 0 };
    struct credentials c = { 0 };
    int rc;

    memset(out, 0, sizeof *out);
    if (refresh_token == NULL || refresh_token[0] == '\0')
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Refresh token is missing");
    secret_digest(refresh_token, digest);
    rc = store_token_get_by_digest(ctx->store, digest, &t);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (t.kind != TOKEN_REFRESH)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_TOKEN);
    else if (token_expired(ctx, &t))
        rc = error_set(&ctx->err, ERR_TOKEN_EXPIRED, "Token has expired");
    else
        rc = load_account(ctx, t.user_id, INVALID_TOKEN, &u, &c);
    if (rc == ERR_OK && !c.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (rc == ERR_OK) {
        int src = store_token_delete_pair(ctx->store, t.pair_id);
        rc = src == STORE_OK ? issue_pair(ctx, u.id, out, NULL) : ctx_store_failed(ctx, src);
    }
    token_release(&t);
    user_release(&u);
    credentials_release(&c);
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

/* AuthController.changePassword's checks, then the new hash in c. */
static int apply_password_change(struct ctx *ctx, struct credentials *c, const char *current, const char *next)
{
    if (c->password_hash == NULL || !secret_check_password(current ? current : "", c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Current password doesn't match!");
    if (auth_check_password_policy(ctx, next) != ERR_OK)
        return ctx->err.kind;
    if (secret_check_password(next, c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "New password should be different from existing!");
    return set_password(ctx, c, next);
}

int auth_change_password(struct ctx *ctx, const char *current, const char *next, struct token_pair *out)
{
    struct credentials c = { 0 };
    int rc;

    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    rc = store_credentials_get(ctx->store, ctx->who.user_id, &c);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    rc = apply_password_change(ctx, &c, current, next);
    if (rc == ERR_OK)
        rc = save_credentials(ctx, &c);
    if (rc == ERR_OK) {
        int src = store_token_delete_by_user(ctx->store, ctx->who.user_id, true);
        rc = src == STORE_OK ? issue_pair(ctx, ctx->who.user_id, out, NULL) : ctx_store_failed(ctx, src);
    }
    credentials_release(&c);
    return rc;
}

/* The credentials holding a still valid activation token; 400 otherwise. */
static int find_activation(struct ctx *ctx, const char *activate_token, enum error_kind unknown_kind,
                           struct credentials *c)
{
    memset(c, 0, sizeof *c);
    int rc = store_credentials_get_by_activate_token(ctx->store, activate_token ? activate_token : "", c);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, unknown_kind, "Unable to find user credentials by activateToken [%s]",
                         activate_token ? activate_token : "");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (c->enabled)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "User credentials already activated");
    else if (c->activate_token_exp <= ctx->now)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "Activation token expired");
    if (rc != ERR_OK)
        credentials_release(c);
    return rc;
}

static int emit_activated(struct ctx *ctx, const struct user *u)
{
    struct event ev = { 0 };
    ev.type = "USER_ACTIVATED";
    ev.entity_type = "USER";
    strcpy(ev.entity_id, u->id);
    strcpy(ev.tenant_id, u->tenant_id);
    events_resolve_customer(ctx, NULL, ev.customer_id);
    ev.entity_name = u->email;
    ev.entity = u;
    return events_emit(ctx, &ev);
}

int auth_activate(struct ctx *ctx, const char *activate_token, const char *password, struct token_pair *out)
{
    struct credentials c = { 0 };
    struct user u = { 0 };
    struct token access;
    int rc;

    memset(out, 0, sizeof *out);
    if (auth_check_password_policy(ctx, password) != ERR_OK ||
        find_activation(ctx, activate_token, ERR_BAD_REQUEST, &c) != ERR_OK)
        return ctx->err.kind;
    rc = set_password(ctx, &c, password);
    if (rc == ERR_OK) {
        c.enabled = true;
        free(c.activate_token);
        c.activate_token = NULL;
        c.activate_token_exp = 0;
        rc = save_credentials(ctx, &c);
    }
    if (rc == ERR_OK) {
        int src = store_user_get(ctx->store, c.user_id, &u);
        rc = src == STORE_OK ? issue_pair(ctx, u.id, out, &access) : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK) {
        fill_principal(ctx, &u, &access); /* the event names the activated user as the actor */
        rc = emit_activated(ctx, &u);
    }
    if (rc != ERR_OK)
        memset(out, 0, sizeof *out);
    credentials_release(&c);
    user_release(&u);
    return rc;
}

int auth_check_activate_token(struct ctx *ctx, const char *activate_token)
{
    struct credentials c;
    if (find_activation(ctx, activate_token, ERR_CONFLICT, &c) != ERR_OK)
        return ctx->err.kind;
    credentials_release(&c);
    return ERR_OK;
}
