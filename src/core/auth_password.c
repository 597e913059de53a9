/* auth_password.c: every way a password is set, and its rules: ThingsBoard's password policy and
 * reuse rule, auth.changePassword, auth.activate (the activation token of user_activation.c) and
 * the password reset (its link mailed, then auth.resetPassword). Each crypt() goes through
 * hash_work.h, so that the writer's run finds what the verifier run computed. */
#include "cmagent/auth.h"

#include "cmagent/hash_work.h"
#include "cmagent/perm.h"
#include "cmagent/store_audit.h"
#include "cmagent/store_token.h"
#include "cmagent/store_twofa.h"
#include "cmagent/store_user.h"
#include "cmagent/validate.h"
#include "auth_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_MIN_LENGTH 6
#define PASSWORD_MAX_LENGTH 72
#define RESET_TOKEN_BYTES 30
#define DAY_MS (24 * 3600 * 1000LL)

bool auth_password_matches(struct ctx *ctx, const char *password, const char *hash)
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
 * user's rows do not pile up with every change. The logins waiting for a second factor were opened
 * with the old password: they end here, as the sessions do. */
static int store_password(struct ctx *ctx, struct credentials *c, const char *hash)
{
    int64_t days = ctx->settings->password.reuse_days;
    free(c->password_hash);
    c->password_hash = xstrdup_or_null(hash);
    int rc = store_password_history_prune(ctx->store, c->user_id, ctx->now - (days > 0 ? days * DAY_MS : 0));
    if (rc == STORE_OK)
        rc = store_password_history_add(ctx->store, c->user_id, hash, ctx->now);
    if (rc == STORE_OK)
        rc = store_twofa_challenge_delete_by_user(ctx->store, c->user_id);
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
        used = auth_password_matches(ctx, password, hashes[i]);
    password_hashes_free(hashes, n);
    if (used)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Password was already used for the last %lld days",
                         (long long)days);
    return ERR_OK;
}

/* A new password for the credentials c: the policy, not the current one, not one of the reuse
 * window's. */
static int check_new_password(struct ctx *ctx, const struct credentials *c, const char *next)
{
    if (auth_check_password_policy(ctx, next) != ERR_OK)
        return ctx->err.kind;
    if (c->password_hash != NULL && auth_password_matches(ctx, next, c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "New password should be different from existing!");
    return check_password_reuse(ctx, c->user_id, next);
}

/* AuthController.changePassword's checks on the caller's credentials (read into c, which the
 * caller releases), then the new password's hash. */
static int verify_password_change(struct ctx *ctx, const char *current, const char *next, struct credentials *c,
                                  char hash[SECRET_HASH_MAX])
{
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    int rc = store_credentials_get_for_update(ctx->store, ctx->who.user_id, c);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (c->password_hash == NULL || !auth_password_matches(ctx, current ? current : "", c->password_hash))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Current password doesn't match!");
    if (check_new_password(ctx, c, next) != ERR_OK)
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
        rc = user_save_credentials(ctx, &c);
    if (rc == ERR_OK) {
        int src = store_token_delete_by_user(ctx->store, ctx->who.user_id, true);
        rc = src == STORE_OK ? auth_issue_pair_for(ctx, ctx->who.user_id, ctx->who.acting_user_id, out, NULL)
                             : ctx_store_failed(ctx, src);
    }
    credentials_release(&c);
    return rc;
}

/* ---------------------------------------------------------------- activation */

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
        rc = user_save_credentials(ctx, &c);
    }
    if (rc == ERR_OK) {
        int src = store_user_get(ctx->store, c.user_id, &u);
        rc = src == STORE_OK ? auth_issue_pair(ctx, u.id, out, &access) : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK) {
        auth_fill_principal(ctx, &u, &access); /* the event names the activated user as the actor */
        rc = user_emit_event(ctx, "USER_ACTIVATED", &u);
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
    rc = store_credentials_get_for_update(ctx->store, u.id, &c);
    if (rc != STORE_OK) {
        rc = ctx_store_failed(ctx, rc);
    } else if (c.enabled) {
        secret_token(token, "", RESET_TOKEN_BYTES);
        free(c.reset_token);
        c.reset_token = xstrdup_or_null(token);
        c.reset_token_exp = auth_expiry(ctx->now, ctx->settings->reset_token_ttl_ms);
        rc = user_save_credentials(ctx, &c);
        if (rc == ERR_OK) {
            char *link = ctx_link(ctx, "/api/noauth/resetPassword?resetToken=", token);
            snprintf(body, sizeof body,
                     "Hello,\r\n\r\nA password reset was requested for your account %s.\r\n"
                     "Open this link to choose a new password (valid for %lld hours):\r\n\r\n%s\r\n\r\n"
                     "If you did not ask for it, ignore this message.\r\n",
                     u.email, (long long)(ctx->settings->reset_token_ttl_ms / 3600000), link);
            rc = ctx_queue_mail(ctx, u.email, "Password reset request", body, ctx->settings->reset_token_ttl_ms);
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
    if (check_new_password(ctx, c, password) != ERR_OK)
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
        rc = user_save_credentials(ctx, &c);
    }
    if (rc == ERR_OK) {
        int src = store_token_delete_by_user(ctx->store, c.user_id, true);
        rc = src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK && !c.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (rc == ERR_OK)
        rc = auth_issue_pair(ctx, c.user_id, out, NULL);
    credentials_release(&c);
    return rc;
}
