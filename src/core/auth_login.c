/* auth_login.c: auth.login (protocol §4) as ThingsBoard's validateUserCredentials checks it: an
 * unknown e-mail or a disabled account costs one hash as a wrong password does; a miss is counted
 * by a write kept despite the failure, and the miss past max_failed_login_attempts locks the
 * account (tokens revoked, a LOCKOUT audit row). */
#include "cmagent/auth.h"

#include "cmagent/audit.h"
#include "cmagent/log.h"
#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "cmagent/twofa.h"
#include "auth_int.h"

#include <stdio.h>
#include <string.h>

#define INVALID_LOGIN "Invalid username or password"
#define LOCKED "User account is locked due to security policy"

/* Checks password against the account as ThingsBoard's validateUserCredentials does: a disabled
 * account (never activated, locked, or disabled by an administrator) answers "User account is not
 * active" whatever the password and counts nothing; it still costs one hash, as a wrong password
 * does. A miss is counted in failed_login_attempts by a write kept despite the failure
 * (ctx->kept); the miss past max_failed_login_attempts locks the account. */
static int check_login_password(struct ctx *ctx, const struct credentials *c, const char *password)
{
    int64_t max = ctx->settings->max_failed_login_attempts;

    if (!c->enabled || c->password_hash == NULL) {
        auth_password_matches(ctx, password, secret_dummy_hash(ctx->settings->password_hash_cost));
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    }
    if (!auth_password_matches(ctx, password, c->password_hash)) {
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
        auth_password_matches(ctx, pw, secret_dummy_hash(ctx->settings->password_hash_cost));
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
    /* A user with a second factor gets a pre-verification token; the login is counted (failed
     * attempts reset) only once the code checked, so that the password alone cannot reset them. */
    bool challenged = false;
    if (rc == ERR_OK)
        rc = twofa_login_challenge(ctx, &u, out, &challenged);
    if (rc == ERR_OK && !challenged) {
        /* Only these two columns: another agent may have locked the account since it was read. */
        int src = store_credentials_login_ok(ctx->store, c.user_id, ctx->now);
        if (src == STORE_NOT_FOUND)
            rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
        else if (src != STORE_OK)
            rc = ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK && !challenged)
        rc = auth_issue_pair(ctx, u.id, out, NULL);
    user_release(&u);
    credentials_release(&c);
    return rc;
}

/* The LOCKOUT audit row and the log line of the account this miss locked. */
static int record_lockout(struct ctx *ctx, const char *user_id, int64_t attempts)
{
    struct user u = { 0 };
    int rc = store_token_delete_by_user(ctx->store, user_id, false);
    if (rc == STORE_OK)
        rc = store_user_get(ctx->store, user_id, &u);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
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
    log_warn("User %s locked after %lld failed login attempts.", u.email, (long long)attempts);
    user_release(&u);
    return rc;
}

/* The count is one UPDATE of the row (no read before it), so misses that agents on one database
 * count at once all count; the miss past max_failed_login_attempts disables the account, and of
 * several such misses at once only the one whose UPDATE disabled it writes the LOCKOUT row. */
int auth_count_failed_login(struct ctx *ctx, const char *user_id)
{
    int64_t max = ctx->settings->max_failed_login_attempts, attempts = 0;
    bool enabled = false;
    int rc = store_credentials_count_failed(ctx->store, user_id, &attempts, &enabled);

    if (rc == STORE_NOT_FOUND)
        return ERR_OK; /* deleted meanwhile: nothing to count */
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (max <= 0 || attempts <= max || !enabled)
        return ERR_OK;
    rc = store_credentials_lock(ctx->store, user_id);
    if (rc == STORE_NOT_FOUND)
        return ERR_OK; /* another miss locked it */
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    return record_lockout(ctx, user_id, attempts);
}
