/* auth.c: authentication (protocol §4). Tokens are opaque random strings ("cma_" access, "cmr_"
 * refresh) of which only the SHA-256 digest is stored; an access and a refresh token issued
 * together share a pair id. Also login, refresh, logout, password change and activation. API keys
 * are apikey.c's; user management is user.c's. */
#include "cmagent/auth.h"

#include "cmagent/audit.h"
#include "cmagent/events.h"
#include "cmagent/hash_work.h"
#include "cmagent/log.h"
#include "cmagent/perm.h"
#include "cmagent/store_audit.h"
#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "cmagent/utf8.h"
#include "cmagent/validate.h"

#include <ctype.h>
#include <stdio.h>
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
#define LOCKED "User account is locked due to security policy"
#define RESET_TOKEN_BYTES 30
#define DAY_MS (24 * 3600 * 1000LL)

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

/* ctx->who becomes the user u, authenticated by token t. */
static void fill_principal(struct ctx *ctx, const struct user *u, const struct token *t)
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

/* Every crypt() of this file goes through these two, so that the writer's run of a request finds
 * the answers its verifier run computed (hash_work.h). */
static bool password_matches(struct ctx *ctx, const char *password, const char *hash)
{
    return hash_work_check(ctx->hash_work, password, hash);
}

static int hash_new_password(struct ctx *ctx, const char *password, char hash[SECRET_HASH_MAX])
{
    if (hash_work_hash(ctx->hash_work, password, ctx->settings->password_hash_cost, hash) != 0)
        return error_set(&ctx->err, ERR_INTERNAL, "Couldn't hash the password");
    return ERR_OK;
}

/* Replaces the stored password hash with hash (of the new password) and records it in the history,
 * which keeps only what the reuse rule looks at (the passwords of the last reuse_days days), so a
 * user's rows do not pile up with every change. */
static int store_password(struct ctx *ctx, struct credentials *c, const char *hash)
{
    int64_t days = ctx->settings->password.reuse_days;
    free(c->password_hash);
    c->password_hash = xstrdup_or_null(hash);
    int rc = store_password_history_prune(ctx->store, c->user_id, ctx->now - (days > 0 ? days * DAY_MS : 0));
    if (rc == STORE_OK)
        rc = store_password_history_add(ctx->store, c->user_id, hash, ctx->now);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Appends one passay-style violation to the message, lines joined by '\n' as ThingsBoard does. */
static void add_violation(char *msg, size_t size, const char *fmt, int64_t n)
{
    size_t len = strlen(msg);
    if (len > 0 && len + 1 < size)
        msg[len++] = '\n';
    snprintf(msg + len, size - len, fmt, (long long)n);
}

int auth_check_password_policy(struct ctx *ctx, const char *password)
{
    static const struct password_policy none = { 0 };
    const struct password_policy *pp = ctx->settings != NULL ? &ctx->settings->password : &none;
    int64_t min = pp->min_length > 0 ? pp->min_length : PASSWORD_MIN_LENGTH;
    int64_t max = pp->max_length > 0 ? pp->max_length : PASSWORD_MAX_LENGTH;
    int64_t upper = 0, lower = 0, digits = 0, special = 0, spaces = 0;
    char msg[ERROR_MESSAGE_MAX] = "";
    const char *pw = password ? password : "";
    int64_t n = (int64_t)utf8_length(pw);

    for (const unsigned char *p = (const unsigned char *)pw; *p != '\0'; p++) {
        if (*p >= 0x80)
            continue;
        if (isupper(*p))
            upper++;
        else if (islower(*p))
            lower++;
        else if (isdigit(*p))
            digits++;
        else if (isspace(*p))
            spaces++;
        else if (ispunct(*p))
            special++;
    }
    if (n < min)
        add_violation(msg, sizeof msg, "Password must be %lld or more characters in length.", min);
    if (n > max)
        add_violation(msg, sizeof msg, "Password must be no more than %lld characters in length.", max);
    if (upper < pp->min_uppercase)
        add_violation(msg, sizeof msg, "Password must contain %lld or more uppercase characters.", pp->min_uppercase);
    if (lower < pp->min_lowercase)
        add_violation(msg, sizeof msg, "Password must contain %lld or more lowercase characters.", pp->min_lowercase);
    if (digits < pp->min_digits)
        add_violation(msg, sizeof msg, "Password must contain %lld or more digit characters.", pp->min_digits);
    if (special < pp->min_special)
        add_violation(msg, sizeof msg, "Password must contain %lld or more special characters.", pp->min_special);
    if (pp->forbid_whitespace && spaces > 0)
        add_violation(msg, sizeof msg, "Password contains a whitespace character.%.0lld", 0);
    if (msg[0] != '\0')
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s", msg);
    return ERR_OK;
}

/* The reuse rule: none of the passwords set in the last reuse_days days may come back. */
static int check_password_reuse(struct ctx *ctx, const char *user_id, const char *password)
{
    int64_t days = ctx->settings->password.reuse_days;
    char **hashes = NULL;
    size_t n = 0;
    bool used = false;

    if (days <= 0)
        return ERR_OK;
    int rc = store_password_history_since(ctx->store, user_id, ctx->now - days * DAY_MS, &hashes, &n);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    for (size_t i = 0; i < n && !used; i++)
        used = password_matches(ctx, password, hashes[i]);
    password_hashes_free(hashes, n);
    if (used)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Password was already used for the last %lld days",
                         (long long)days);
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

/* Checks password against the account as ThingsBoard's validateUserCredentials does: a disabled
 * account (never activated, locked, or disabled by an administrator) answers "User account is not
 * active" whatever the password and counts nothing; it still costs one hash, as a wrong password
 * does. A miss is counted in failed_login_attempts by a write kept despite the failure
 * (ctx->kept); the miss past max_failed_login_attempts locks the account. */
static int check_login_password(struct ctx *ctx, const struct credentials *c, const char *password)
{
    int64_t max = ctx->settings->max_failed_login_attempts;

    if (!c->enabled || c->password_hash == NULL) {
        password_matches(ctx, password, secret_dummy_hash(ctx->settings->password_hash_cost));
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    }
    if (!password_matches(ctx, password, c->password_hash)) {
        strcpy(ctx->kept.failed_login_user, c->user_id);
        if (max > 0 && c->failed_login_attempts + 1 > max)
            return error_set(&ctx->err, ERR_UNAUTHORIZED, LOCKED);
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_LOGIN);
    }
    return ERR_OK;
}

/* A login's checks, reads and hash work only: u and c receive the user of email and its
 * credentials when they exist (the caller releases them). An unknown e-mail costs one hash, as a
 * wrong password does. */
static int verify_login(struct ctx *ctx, const char *email, const char *pw, struct user *u, struct credentials *c)
{
    int rc = store_user_get_by_email(ctx->store, email ? email : "", u);
    if (rc == STORE_NOT_FOUND) {
        password_matches(ctx, pw, secret_dummy_hash(ctx->settings->password_hash_cost));
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_LOGIN);
    }
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    ctx_audit_subject(ctx, u);
    rc = store_credentials_get(ctx->store, u->id, c);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return check_login_password(ctx, c, pw);
}

void auth_login_prepare(struct ctx *ctx, const char *email, const char *password)
{
    struct user u = { 0 };
    struct credentials c = { 0 };

    (void)verify_login(ctx, email, password ? password : "", &u, &c);
    user_release(&u);
    credentials_release(&c);
}

int auth_login(struct ctx *ctx, const char *email, const char *password, struct token_pair *out)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    int rc;

    memset(out, 0, sizeof *out);
    rc = verify_login(ctx, email, password ? password : "", &u, &c);
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

int auth_count_failed_login(struct ctx *ctx, const char *user_id)
{
    struct credentials c = { 0 };
    struct user u = { 0 };
    int64_t max = ctx->settings->max_failed_login_attempts;
    int rc = store_credentials_get(ctx->store, user_id, &c);

    if (rc == STORE_NOT_FOUND)
        return ERR_OK; /* deleted meanwhile: nothing to count */
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    c.failed_login_attempts++;
    bool lock = max > 0 && c.failed_login_attempts > max && c.enabled;
    if (lock)
        c.enabled = false;
    rc = save_credentials(ctx, &c);
    if (rc == ERR_OK && lock) {
        int src = store_token_delete_by_user(ctx->store, user_id, false);
        if (src == STORE_OK)
            src = store_user_get(ctx->store, user_id, &u);
        rc = src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK && lock) {
        struct audit_row r = { 0 };
        snprintf(r.tenant_id, sizeof r.tenant_id, "%s", u.tenant_id);
        strcpy(r.entity_type, "USER");
        strcpy(r.entity_id, u.id);
        r.entity_name = xstrdup_or_null(u.email);
        strcpy(r.user_id, u.id);
        r.user_name = xstrdup_or_null(u.email);
        strcpy(r.action_type, "LOCKOUT");
        rc = audit_append(ctx, &r);
        audit_row_release(&r);
        log_warn("User %s locked after %lld failed login attempts.", u.email, (long long)c.failed_login_attempts);
    }
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

/* AuthController.changePassword's checks on the caller's credentials (read into c, which the
 * caller releases), then the new password's hash. */
static int verify_password_change(struct ctx *ctx, const char *current, const char *next, struct credentials *c,
                                  char hash[SECRET_HASH_MAX])
{
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    int rc = store_credentials_get(ctx->store, ctx->who.user_id, c);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (c->password_hash == NULL || !password_matches(ctx, current ? current : "", c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Current password doesn't match!");
    if (auth_check_password_policy(ctx, next) != ERR_OK)
        return ctx->err.kind;
    if (password_matches(ctx, next, c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "New password should be different from existing!");
    if (check_password_reuse(ctx, c->user_id, next) != ERR_OK)
        return ctx->err.kind;
    return hash_new_password(ctx, next, hash);
}

void auth_change_password_prepare(struct ctx *ctx, const char *current, const char *next)
{
    struct credentials c = { 0 };
    char hash[SECRET_HASH_MAX];

    (void)verify_password_change(ctx, current, next, &c, hash);
    credentials_release(&c);
}

int auth_change_password(struct ctx *ctx, const char *current, const char *next, struct token_pair *out)
{
    struct credentials c = { 0 };
    char hash[SECRET_HASH_MAX];
    int rc;

    memset(out, 0, sizeof *out);
    rc = verify_password_change(ctx, current, next, &c, hash);
    if (rc == ERR_OK)
        rc = store_password(ctx, &c, hash);
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

/* auth.activate's checks (c receives the credentials, which the caller releases), then the
 * password's hash. */
static int verify_activation(struct ctx *ctx, const char *activate_token, const char *password,
                             struct credentials *c, char hash[SECRET_HASH_MAX])
{
    memset(c, 0, sizeof *c);
    if (auth_check_password_policy(ctx, password) != ERR_OK ||
        find_activation(ctx, activate_token, ERR_BAD_REQUEST, c) != ERR_OK)
        return ctx->err.kind;
    return hash_new_password(ctx, password, hash);
}

void auth_activate_prepare(struct ctx *ctx, const char *activate_token, const char *password)
{
    struct credentials c;
    char hash[SECRET_HASH_MAX];

    (void)verify_activation(ctx, activate_token, password, &c, hash);
    credentials_release(&c);
}

int auth_activate(struct ctx *ctx, const char *activate_token, const char *password, struct token_pair *out)
{
    struct credentials c = { 0 };
    struct user u = { 0 };
    struct token access;
    char hash[SECRET_HASH_MAX];
    int rc;

    memset(out, 0, sizeof *out);
    rc = verify_activation(ctx, activate_token, password, &c, hash);
    if (rc != ERR_OK) {
        credentials_release(&c);
        return rc;
    }
    rc = store_password(ctx, &c, hash);
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

/* ---------------------------------------------------------------- password reset */

int auth_request_password_reset(struct ctx *ctx, const char *email)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    char token[SECRET_TOKEN_MAX], body[2048];
    int rc;

    if (email == NULL || email[0] == '\0')
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Email is required");
    if (utf8_length(email) > 255)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "email length must be equal or less than 255");
    rc = store_user_get_by_email(ctx->store, email, &u);
    if (rc == STORE_NOT_FOUND)
        return ERR_OK; /* always 200: the reply must not tell which e-mails exist */
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    ctx_audit_subject(ctx, &u);
    rc = store_credentials_get(ctx->store, u.id, &c);
    if (rc != STORE_OK) {
        rc = ctx_store_failed(ctx, rc);
    } else if (c.enabled) {
        secret_token(token, "", RESET_TOKEN_BYTES);
        free(c.reset_token);
        c.reset_token = xstrdup_or_null(token);
        c.reset_token_exp = expiry(ctx->now, ctx->settings->reset_token_ttl_ms);
        rc = save_credentials(ctx, &c);
        if (rc == ERR_OK) {
            char *link = ctx_link(ctx, "/api/noauth/resetPassword?resetToken=", token);
            snprintf(body, sizeof body,
                     "Hello,\r\n\r\nA password reset was requested for your account %s.\r\n"
                     "Open this link to choose a new password (valid for %lld hours):\r\n\r\n%s\r\n\r\n"
                     "If you did not ask for it, ignore this message.\r\n",
                     u.email, (long long)(ctx->settings->reset_token_ttl_ms / 3600000), link);
            ctx_want_mail(ctx, u.email, "Password reset request", body, false);
            free(link);
        }
    }
    user_release(&u);
    credentials_release(&c);
    return rc;
}

/* auth.resetPassword's checks (c receives the credentials of the token, which the caller
 * releases), then the new password's hash. */
static int verify_reset(struct ctx *ctx, const char *reset_token, const char *password, struct credentials *c,
                        char hash[SECRET_HASH_MAX])
{
    int rc;

    memset(c, 0, sizeof *c);
    if (reset_token == NULL || reset_token[0] == '\0' || strlen(reset_token) > 128)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Invalid reset token!");
    rc = store_credentials_get_by_reset_token(ctx->store, reset_token, c);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Invalid reset token!");
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    snprintf(ctx->audit_entity_id, sizeof ctx->audit_entity_id, "%s", c->user_id);
    if (c->reset_token_exp != 0 && c->reset_token_exp <= ctx->now)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Password reset token expired");
    if (auth_check_password_policy(ctx, password) != ERR_OK)
        return ctx->err.kind;
    if (c->password_hash != NULL && password_matches(ctx, password, c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "New password should be different from existing!");
    if (check_password_reuse(ctx, c->user_id, password) != ERR_OK)
        return ctx->err.kind;
    return hash_new_password(ctx, password, hash);
}

void auth_reset_password_prepare(struct ctx *ctx, const char *reset_token, const char *password)
{
    struct credentials c;
    char hash[SECRET_HASH_MAX];

    (void)verify_reset(ctx, reset_token, password, &c, hash);
    credentials_release(&c);
}

int auth_reset_password(struct ctx *ctx, const char *reset_token, const char *password, struct token_pair *out)
{
    struct credentials c;
    char hash[SECRET_HASH_MAX];
    int rc;

    memset(out, 0, sizeof *out);
    rc = verify_reset(ctx, reset_token, password, &c, hash);
    if (rc == ERR_OK)
        rc = store_password(ctx, &c, hash);
    if (rc == ERR_OK) {
        free(c.reset_token);
        c.reset_token = NULL;
        c.reset_token_exp = 0;
        rc = save_credentials(ctx, &c);
    }
    if (rc == ERR_OK) {
        int src = store_token_delete_by_user(ctx->store, c.user_id, true);
        rc = src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK && !c.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (rc == ERR_OK)
        rc = issue_pair(ctx, c.user_id, out, NULL);
    credentials_release(&c);
    return rc;
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
