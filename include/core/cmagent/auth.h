/* auth.h: authentication (protocol §4): opaque random tokens stored only as SHA-256 digests,
 * login, login as (user.token), refresh, logout, password change, activation. */
#ifndef CMAGENT_AUTH_H
#define CMAGENT_AUTH_H

#include "cmagent/context.h"
#include "cmagent/secret.h"
#include "cmagent/store_user.h"

#include <stdbool.h>

struct token_pair {
    char token[SECRET_TOKEN_MAX];          /* access token, "cma_..." */
    char refresh_token[SECRET_TOKEN_MAX];  /* "cmr_..." */
    int64_t expires_in_ms;                 /* lifetime of the access token */
    /* Nonzero (bits 1 << twofa.h's providers): token is a login's pre-verification token ("cmp_"),
     * refresh_token is empty, and the login ends with auth.twoFa.verify. */
    unsigned twofa_providers;
    /* token is an MFA configuration token ("cmc_"): the platform enforces two-factor authentication
     * on the user, who has no provider yet; twofa_providers are those it may configure. */
    bool twofa_config;
};

/* Resolves an access token or API key into ctx->who. 401 errorCode 10 when missing, unknown,
 * revoked or the user is disabled; 401 errorCode 11 "Token has expired" when expired. */
int auth_authenticate(struct ctx *ctx, const char *token);

/* 401 "Invalid username or password" for an unknown e-mail or a wrong password (same time spent);
 * 401 "User account is not active" for a disabled or never activated account. */
int auth_login(struct ctx *ctx, const char *email, const char *password, struct token_pair *out);

/* user.token ("login as", ThingsBoard's GET /api/user/{userId}/token): a pair of user_id for a
 * system administrator asking for a tenant administrator, or a tenant administrator for a customer
 * user of its tenant, when user_token_access_enabled is on; no second factor applies. The tokens
 * name the caller as the acting user (or the user the caller's own session acts for), and so do
 * the audit rows of their requests; a LOGIN row records the session. 403 "You don't have
 * permission to perform this operation!" (the setting off, another tenant's user, ThingsBoard's
 * refusals), 403 for a system administrator or a fellow tenant administrator as the target, 403
 * "User account is not active" for a disabled, locked or never activated one; 404. */
int auth_user_token(struct ctx *ctx, const char *user_id, struct token_pair *out);

/* Exchanges a refresh token for a new pair; the old pair is revoked. */
int auth_refresh(struct ctx *ctx, const char *refresh_token, struct token_pair *out);

/* Revokes the calling access token and its refresh token (for an API key: nothing, 400). */
int auth_logout(struct ctx *ctx);

/* Checks currentPassword, applies the password policy to newPassword, stores it, revokes the
 * user's other access and refresh tokens and returns a fresh pair. */
int auth_change_password(struct ctx *ctx, const char *current, const char *next, struct token_pair *out);

/* Sets the first password of a user from its activation token, enables it, returns a pair.
 * 400 "Unable to find user credentials by activateToken [T]", "User credentials already
 * activated", "Activation token expired". Emits USER_ACTIVATED. */
int auth_activate(struct ctx *ctx, const char *activate_token, const char *password, struct token_pair *out);

/* 200 for a valid token, 409 (errorCode 35) for an unknown one, 400 "Activation token expired". */
int auth_check_activate_token(struct ctx *ctx, const char *activate_token);

/* The password policy of ctx->settings (ThingsBoard's defaults: 6 to 72 characters): 400 with
 * every violated rule named, passay's messages joined by '\n'. */
int auth_check_password_policy(struct ctx *ctx, const char *password);

/* Counts one failed login of user_id (called for a failed request through ctx->kept, so the count
 * survives the request's rollback). The miss past max_failed_login_attempts locks the account:
 * credentials disabled, tokens revoked, a LOCKOUT audit row. */
int auth_count_failed_login(struct ctx *ctx, const char *user_id);

/* auth.resetPasswordByEmail: ERR_OK whether or not the e-mail exists; for an active user a reset
 * token (TTL reset_token_ttl_ms) is stored and a mail with the link
 * <base_url>/api/noauth/resetPassword?resetToken=T is queued (not awaited). */
int auth_request_password_reset(struct ctx *ctx, const char *email);

/* auth.resetPassword: 404 "Invalid reset token!", 400 "Password reset token expired", the policy,
 * the reuse rule; then the new password, the token cleared, sessions revoked and a new pair. */
int auth_reset_password(struct ctx *ctx, const char *reset_token, const char *password, struct token_pair *out);

/* The checks of auth_login, auth_change_password, auth_activate and auth_reset_password up to
 * their first write: the reads and every password hash and check they make, recorded in
 * ctx->hash_work (hash_work.h), which the operation's own run then answers from. They write
 * nothing, report nothing and work on a read-only store, so they can run on another thread than
 * the writer (ctx->who set by auth_authenticate for the change of password). */
void auth_login_prepare(struct ctx *ctx, const char *email, const char *password);
void auth_change_password_prepare(struct ctx *ctx, const char *current, const char *next);
void auth_activate_prepare(struct ctx *ctx, const char *activate_token, const char *password);
void auth_reset_password_prepare(struct ctx *ctx, const char *reset_token, const char *password);

/* The tenant whose password queue a request waits in (agent.c): the tenant of the user that key
 * (an e-mail, an activation or reset token, or an access token, as by tells) names, read alone;
 * "" when it names none or the read fails. Reads only, on any store. */
void auth_queue_tenant(struct ctx *ctx, enum user_key by, const char *key, char tenant_id[UUID_STR_LEN]);

#endif
