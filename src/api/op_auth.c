/* op_auth.c: the auth.* operations: login, refresh, logout, password change, activation, and the
 * verifier's runs of those that hash passwords (auth.h's *_prepare). */
#include "ops.h"

#include "cmagent/auth.h"

#include <stdlib.h>

static void reply_pair(struct call *c, const struct token_pair *p)
{
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "token", p->token);
    cJSON_AddStringToObject(c->result, "refreshToken", p->refresh_token);
    cJSON_AddNumberToObject(c->result, "expiresIn", (double)p->expires_in_ms);
}

/* Reads two required strings a and b (after checking the allowed keys), runs fn. */
static int two_strings(struct call *c, const char *ka, const char *kb, char **a, char **b)
{
    const char *const keys[] = { ka, kb, NULL };
    if (args_allow(c, keys) || arg_string(c, ka, true, a) || (kb != NULL && arg_string(c, kb, true, b)))
        return call_failed(c);
    return ERR_OK;
}

int op_auth_login(struct call *c)
{
    char *email = NULL, *password = NULL;
    struct token_pair p;
    int rc = two_strings(c, "email", "password", &email, &password);
    if (rc == ERR_OK)
        rc = auth_login(c->ctx, email, password, &p);
    if (rc == ERR_OK && (p.twofa_providers != 0 || p.twofa_config))
        op_twofa_render_challenge(c, &p);
    else if (rc == ERR_OK)
        reply_pair(c, &p);
    free(email);
    free(password);
    return rc;
}

/* Runs fn with two required strings of data, when they are there. */
static void prepare_two_strings(struct call *c, const char *ka, const char *kb,
                                void (*fn)(struct ctx *, const char *, const char *))
{
    char *a = NULL, *b = NULL;
    if (two_strings(c, ka, kb, &a, &b) == ERR_OK)
        fn(c->ctx, a, b);
    free(a);
    free(b);
}

void op_auth_login_prepare(struct call *c)
{
    prepare_two_strings(c, "email", "password", auth_login_prepare);
}

void op_auth_change_password_prepare(struct call *c)
{
    prepare_two_strings(c, "currentPassword", "newPassword", auth_change_password_prepare);
}

void op_auth_activate_prepare(struct call *c)
{
    prepare_two_strings(c, "activateToken", "password", auth_activate_prepare);
}

void op_auth_reset_password_prepare(struct call *c)
{
    prepare_two_strings(c, "resetToken", "password", auth_reset_password_prepare);
}

int op_user_token(struct call *c)
{
    static const char *const keys[] = { "userId", NULL };
    char id[UUID_STR_LEN];
    struct token_pair p;
    if (args_allow(c, keys) || arg_id(c, "userId", true, id) || auth_user_token(c->ctx, id, &p) != ERR_OK)
        return call_failed(c);
    reply_pair(c, &p);
    return ERR_OK;
}

int op_auth_refresh(struct call *c)
{
    char *refresh = NULL;
    struct token_pair p;
    int rc = two_strings(c, "refreshToken", NULL, &refresh, NULL);
    if (rc == ERR_OK)
        rc = auth_refresh(c->ctx, refresh, &p);
    if (rc == ERR_OK)
        reply_pair(c, &p);
    free(refresh);
    return rc;
}

int op_auth_logout(struct call *c)
{
    static const char *const keys[] = { NULL };
    if (args_allow(c, keys))
        return call_failed(c);
    return auth_logout(c->ctx);
}

int op_auth_change_password(struct call *c)
{
    char *current = NULL, *next = NULL;
    struct token_pair p;
    int rc = two_strings(c, "currentPassword", "newPassword", &current, &next);
    if (rc == ERR_OK)
        rc = auth_change_password(c->ctx, current, next, &p);
    if (rc == ERR_OK)
        reply_pair(c, &p);
    free(current);
    free(next);
    return rc;
}

int op_auth_activate(struct call *c)
{
    char *token = NULL, *password = NULL;
    struct token_pair p;
    int rc = two_strings(c, "activateToken", "password", &token, &password);
    if (rc == ERR_OK)
        rc = auth_activate(c->ctx, token, password, &p);
    if (rc == ERR_OK)
        reply_pair(c, &p);
    free(token);
    free(password);
    return rc;
}

int op_auth_check_activate_token(struct call *c)
{
    char *token = NULL;
    int rc = two_strings(c, "activateToken", NULL, &token, NULL);
    if (rc == ERR_OK)
        rc = auth_check_activate_token(c->ctx, token);
    free(token);
    return rc;
}

int op_auth_reset_password_by_email(struct call *c)
{
    char *email = NULL;
    int rc = two_strings(c, "email", NULL, &email, NULL);
    if (rc == ERR_OK)
        rc = auth_request_password_reset(c->ctx, email);
    free(email);
    return rc;
}

int op_auth_reset_password(struct call *c)
{
    char *token = NULL, *password = NULL;
    struct token_pair p;
    int rc = two_strings(c, "resetToken", "password", &token, &password);
    if (rc == ERR_OK)
        rc = auth_reset_password(c->ctx, token, password, &p);
    if (rc == ERR_OK)
        reply_pair(c, &p);
    free(token);
    free(password);
    return rc;
}
