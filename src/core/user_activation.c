/* user_activation.c: a user's activation (thingsboard-customers.md §4): the activation token of
 * pending credentials (40 characters, renewed under 15 minutes before expiry), the activation link
 * and its awaited mail (user.activationLink, user.sendActivationMail, user.create's mail), and
 * enabling or disabling credentials. The password an activation sets is auth_password.c's. */
#include "cmagent/user.h"

#include "cmagent/perm.h"
#include "cmagent/secret.h"
#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "user_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACTIVATION_RENEW_BEFORE_MS (15 * 60 * 1000)

/* ---------------------------------------------------------------- activation tokens */

/* Replaces the credentials' activation token with a fresh one (or preset: the token a mail already
 * carries) valid for the configured TTL. */
static void new_activation_token(const struct ctx *ctx, struct credentials *c, const char *preset)
{
    char token[SECRET_TOKEN_MAX];
    if (preset != NULL && preset[0] != '\0')
        snprintf(token, sizeof token, "%s", preset);
    else
        secret_token(token, "", ACTIVATION_TOKEN_BYTES);
    free(c->activate_token);
    c->activate_token = xstrdup_or_null(token);
    c->activate_token_exp = ctx->now + ctx->settings->activation_token_ttl_ms;
}

/* A new user's credentials: disabled, no password, a pending activation token. */
int user_insert_pending_credentials(struct ctx *ctx, const char *user_id, const char *preset_token)
{
    struct credentials c = { 0 };
    strcpy(c.user_id, user_id);
    new_activation_token(ctx, &c, preset_token);
    int rc = store_credentials_insert(ctx->store, &c);
    credentials_release(&c);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

static char *activation_link(const struct ctx *ctx, const char *token)
{
    return ctx_link(ctx, "/api/noauth/activate?activateToken=", token);
}

/* Composes the activation mail of user_id (email) with token; await: the reply waits for it, else
 * it is queued (ctx_queue_mail: a database error is returned). */
static int compose_activation_mail(struct ctx *ctx, const char *user_id, const char *email, const char *token,
                                   int64_t ttl_ms, bool await)
{
    char body[2048];
    char *link = activation_link(ctx, token);
    snprintf(body, sizeof body,
             "Hello,\r\n\r\nAn account was created for you (%s).\r\n"
             "Open this link to set your password and activate it (valid for %lld hours):\r\n\r\n%s\r\n",
             email, (long long)(ttl_ms / 3600000), link);
    free(link);
    if (!await)
        return ctx_queue_mail(ctx, email, "Your account activation", body, ttl_ms);
    struct outgoing_mail *m = ctx_want_mail(ctx, email, "Your account activation", body, true);
    snprintf(m->user_id, sizeof m->user_id, "%s", user_id);
    snprintf(m->token, sizeof m->token, "%s", token);
    return ERR_OK;
}

void user_want_activation_mail(struct ctx *ctx, const char *user_id, const char *email, const char *token,
                               int64_t ttl_ms)
{
    (void)compose_activation_mail(ctx, user_id, email, token, ttl_ms, true);
}


static int activation_mail_failed(struct ctx *ctx)
{
    return error_set(&ctx->err, ERR_INTERNAL, "Couldn't send user activation email");
}

/* The second run of a request that awaited its mails: the mail the first run composed for this
 * command, which must have gone out. A command that composed none then (it failed in the first run
 * and passes now, the data having changed in between) was mailed nothing and is not applied. */
int user_mailed_for_command(struct ctx *ctx, const char *email, const struct outgoing_mail **out)
{
    const struct outgoing_mail *m = ctx_mailed(ctx);

    *out = NULL;
    if (m == NULL || strcmp(m->to, email) != 0)
        return error_set(&ctx->err, ERR_CONFLICT,
                         "No activation email was sent: the data changed while the request waited for its mails");
    if (m->outcome != MAIL_SENT)
        return activation_mail_failed(ctx);
    *out = m;
    return ERR_OK;
}

/* ---------------------------------------------------------------- activation link and mail */

/* The pending credentials of u, with a token valid for at least 15 more minutes, saved: mailed, the
 * token an activation mail carries, which becomes the stored one when it is not already (the first
 * run of the request that mailed it renewed it, and was rolled back); NULL: a token with under 15
 * minutes left is renewed. 400 "User is already activated!" once activated. */
static int pending_activation(struct ctx *ctx, const struct user *u, const char *mailed, struct credentials *c)
{
    int rc = user_load_credentials(ctx, u->id, c);

    if (rc != ERR_OK)
        return rc;
    if (c->enabled || c->activate_token == NULL)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "User is already activated!");
    if (mailed != NULL ? strcmp(c->activate_token, mailed) != 0
                       : c->activate_token_exp - ctx->now < ACTIVATION_RENEW_BEFORE_MS) {
        new_activation_token(ctx, c, mailed);
        rc = user_save_credentials(ctx, c);
    }
    return rc;
}

int user_activation_link(struct ctx *ctx, const char *id, char **link, int64_t *ttl_ms)
{
    struct user u;
    struct credentials c;

    *link = NULL;
    *ttl_ms = 0;
    if (user_load_for(ctx, AUTH_SYS | AUTH_TENANT, PERM_READ, id, &u) != ERR_OK)
        return ctx->err.kind;
    int rc = pending_activation(ctx, &u, NULL, &c);
    if (rc == ERR_OK) {
        *link = activation_link(ctx, c.activate_token);
        *ttl_ms = c.activate_token_exp - ctx->now;
    }
    credentials_release(&c);
    user_release(&u);
    return rc;
}

int user_mail_activation_after_commit(struct ctx *ctx, const char *user_id)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    int rc = store_user_get(ctx->store, user_id, &u);

    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "User with id [%s] is not found", user_id);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    rc = pending_activation(ctx, &u, NULL, &c);
    if (rc == ERR_OK)
        rc = compose_activation_mail(ctx, u.id, u.email, c.activate_token, c.activate_token_exp - ctx->now, false);
    credentials_release(&c);
    user_release(&u);
    return rc;
}

/* The user with this e-mail when the caller may read it. Another tenant's user (or any the caller
 * may not read) answers exactly as a missing one, so an e-mail address tells the caller nothing
 * about users it may not see; the message does not repeat the address, which the caller's failed
 * audit row records. */
static int load_readable_user_by_email(struct ctx *ctx, const char *email, struct user *out)
{
    int rc = store_user_get_by_email(ctx->store, email, out);

    if (rc == STORE_OK && perm_user(ctx, PERM_READ, out) != ERR_OK) {
        user_release(out);
        memset(out, 0, sizeof *out);
        rc = STORE_NOT_FOUND;
    }
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "User with the given email is not found");
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int user_send_activation_mail(struct ctx *ctx, const char *email)
{
    struct user u = { 0 };
    struct credentials c = { 0 };
    const struct outgoing_mail *sent = NULL;

    if (perm_require(ctx, AUTH_SYS | AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    if (email == NULL || email[0] == '\0')
        return error_set(&ctx->err, ERR_BAD_REQUEST, "User email should be specified!");
    if (load_readable_user_by_email(ctx, email, &u) != ERR_OK)
        return ctx->err.kind;
    ctx_audit_subject(ctx, &u);
    int rc = ctx->mailed != NULL ? user_mailed_for_command(ctx, u.email, &sent) : ERR_OK;
    if (rc == ERR_OK)
        rc = pending_activation(ctx, &u, sent != NULL ? sent->token : NULL, &c);
    if (rc == ERR_OK && ctx->mailed == NULL)
        user_want_activation_mail(ctx, u.id, u.email, c.activate_token, c.activate_token_exp - ctx->now);
    credentials_release(&c);
    user_release(&u);
    return rc;
}

/* ---------------------------------------------------------------- enable / disable */

/* UserCredentialsDataValidator: enabled credentials have a password and no pending activation. */
static int check_can_enable(struct ctx *ctx, const struct credentials *c)
{
    if (c->password_hash == NULL || c->password_hash[0] == '\0')
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Enabled user credentials should have password!");
    if (c->activate_token != NULL)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Enabled user credentials can't have activate token!");
    return ERR_OK;
}

int user_set_enabled(struct ctx *ctx, const char *id, bool enabled)
{
    struct user u;
    struct credentials c;
    int rc;

    if (user_load_for(ctx, AUTH_SYS | AUTH_TENANT, PERM_WRITE, id, &u) != ERR_OK)
        return ctx->err.kind;
    rc = user_load_credentials(ctx, u.id, &c);
    if (rc == ERR_OK && enabled) {
        rc = check_can_enable(ctx, &c);
        c.failed_login_attempts = 0;
    }
    if (rc == ERR_OK) {
        c.enabled = enabled;
        rc = user_save_credentials(ctx, &c);
    }
    if (rc == ERR_OK && !enabled) {
        int src = store_token_delete_by_user(ctx->store, u.id, false);
        if (src != STORE_OK)
            rc = ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK)
        rc = user_emit_event(ctx, enabled ? "USER_ENABLED" : "USER_DISABLED", &u);
    credentials_release(&c);
    user_release(&u);
    return rc;
}
