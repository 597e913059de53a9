/* broker_access.c: the broker accounts and their rights (broker_access.h). */
#include "cmagent/broker_access.h"

#include "cmagent/perm.h"
#include "cmagent/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The operations an anonymous client may publish: what an unauthenticated login (with its second
 * factor), activation and password reset need, a liveness ping, and broker.credentials (which
 * still takes a token). */
static const char *const anonymous_ops[] = {
    "auth.login", "auth.refresh", "auth.activate", "auth.checkActivateToken",
    "auth.resetPassword", "auth.resetPasswordByEmail", "auth.twoFa.providers", "auth.twoFa.sendCode",
    "auth.twoFa.verify", "agent.ping", "broker.credentials",
};

#define ANON_READ_ACLS 6 /* add_anon_reads: two literal denials and two reads of two entries each */
_Static_assert(sizeof anonymous_ops / sizeof anonymous_ops[0] + ANON_READ_ACLS <= BROKER_ACLS_MAX,
               "the anonymous role's ACLs do not fit in BROKER_ACLS_MAX: raise it");

void broker_username(const struct broker_names *names, const struct principal *who, char out[BROKER_NAME_MAX])
{
    out[0] = '\0';
    if (who->authority == AUTHORITY_NONE)
        return;
    if (who->token_kind == TOKEN_API_KEY)
        snprintf(out, BROKER_NAME_MAX, "%sk-%s", names->name_prefix, who->token_id);
    else
        snprintf(out, BROKER_NAME_MAX, "%su-%s", names->name_prefix, who->user_id);
}

void broker_role_name(const struct broker_names *names, const char *which, char out[BROKER_NAME_MAX])
{
    snprintf(out, BROKER_NAME_MAX, "%s%s", names->name_prefix, which);
}

static void add(struct broker_acl_list *l, const char *type, bool allow, int priority, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(struct broker_acl_list *l, const char *type, bool allow, int priority, const char *fmt, ...)
{
    if (l->n >= BROKER_ACLS_MAX) {
        /* the lists are built from this file's fixed tables: a role that does not fit is a bug,
         * and a role silently missing a right (once, the status read) must not reach a broker */
        fprintf(stderr, "cmagent: broker role past BROKER_ACLS_MAX (%d) at %s\n", BROKER_ACLS_MAX, fmt);
        abort();
    }
    struct broker_acl *a = &l->items[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->topic, sizeof a->topic, fmt, ap);
    va_end(ap);
    a->type = type;
    a->allow = allow;
    a->priority = priority;
}

/* Subscribing to a filter under pattern, and receiving what it matches. */
static void add_read(struct broker_acl_list *l, const char *pattern)
{
    add(l, "subscribePattern", true, 0, "%s", pattern);
    add(l, "publishClientReceive", true, 0, "%s", pattern);
}

/* P/reply/anon/<nonce>: one level, never a wildcard level (the literal denials come first), so a
 * client reads only the nonces it knows; the status topic is readable by everyone. */
static void add_anon_reads(const struct broker_names *names, struct broker_acl_list *l)
{
    char t[384];
    add(l, "subscribeLiteral", false, 10, "%s/reply/anon/+", names->topic_prefix);
    add(l, "subscribeLiteral", false, 10, "%s/reply/anon/#", names->topic_prefix);
    snprintf(t, sizeof t, "%s/reply/anon/+", names->topic_prefix);
    add_read(l, t);
    snprintf(t, sizeof t, "%s/status/+", names->topic_prefix);
    add_read(l, t);
}

void broker_client_acls(const struct broker_names *names, struct broker_acl_list *out)
{
    memset(out, 0, sizeof *out);
    add(out, "publishClientSend", true, 0, "%s/req/+", names->topic_prefix);
    add_anon_reads(names, out);
}

void broker_anon_acls(const struct broker_names *names, struct broker_acl_list *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof anonymous_ops / sizeof anonymous_ops[0]; i++)
        add(out, "publishClientSend", true, 0, "%s/req/%s", names->topic_prefix, anonymous_ops[i]);
    add_anon_reads(names, out);
}

void broker_agent_acls(const struct broker_names *names, struct broker_acl_list *out)
{
    memset(out, 0, sizeof *out);
    add(out, "publishClientSend", true, 0, "%s/#", names->topic_prefix);
    add(out, "subscribePattern", true, 0, "%s/req/+", names->topic_prefix);
    add(out, "subscribePattern", true, 0, "$share/+/%s/req/+", names->topic_prefix);
    add(out, "subscribePattern", true, 0, "%s/status/+", names->topic_prefix); /* another agent's id */
    add(out, "publishClientReceive", true, 0, "%s/#", names->topic_prefix);
}

void broker_account_acls(const struct broker_names *names, const struct broker_state *st, struct broker_acl_list *out)
{
    char t[384];
    const char *p = names->topic_prefix;

    memset(out, 0, sizeof *out);
    snprintf(t, sizeof t, "%s/reply/%s/#", p, st->username);
    add_read(out, t);
    switch (st->authority) {
    case AUTHORITY_SYS_ADMIN:
        snprintf(t, sizeof t, "%s/event/+/TENANT/#", p);
        add_read(out, t);
        snprintf(t, sizeof t, "%s/event/%s/#", p, NULL_UUID);
        add_read(out, t);
        snprintf(t, sizeof t, "%s/stats/+", p); /* the agent's figures (stats_interval) */
        add_read(out, t);
        break;
    case AUTHORITY_TENANT_ADMIN:
        snprintf(t, sizeof t, "%s/event/%s/#", p, st->tenant_id);
        add_read(out, t);
        snprintf(t, sizeof t, "%s/cevent/%s/#", p, st->tenant_id);
        add_read(out, t);
        break;
    case AUTHORITY_CUSTOMER_USER:
        snprintf(t, sizeof t, "%s/cevent/%s/%s/#", p, st->tenant_id, st->customer_id);
        add_read(out, t);
        break;
    case AUTHORITY_NONE:
        break;
    }
}

bool broker_reply_level_is_anon(const char *rest)
{
    if (strncmp(rest, "anon/", 5) != 0)
        return false;
    size_t n = strlen(rest + 5);
    return n >= 16 && n <= 128 &&
           strspn(rest + 5, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int broker_credentials(struct ctx *ctx, char username[BROKER_NAME_MAX], char password[BROKER_PASSWORD_MAX])
{
    char token[SECRET_TOKEN_MAX];
    username[0] = password[0] = '\0';
    if (perm_require(ctx, AUTH_ANY_USER) != ERR_OK)
        return ctx->err.kind;
    if (ctx->settings == NULL || !ctx->settings->broker_acl)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "The agent runs with broker_acl none: the broker has no accounts to issue");
    /* The user's broker password outlives a login as and would end the user's own broker sessions. */
    if (ctx->who.acting_user_id[0] != '\0')
        return error_set(&ctx->err, ERR_FORBIDDEN, "Broker credentials can't be issued to a token of user.token");
    struct broker_names names = { ctx->settings->topic_prefix, ctx->settings->broker_name_prefix };
    broker_username(&names, &ctx->who, username);
    secret_token(token, "", 24);
    snprintf(password, BROKER_PASSWORD_MAX, "%s", token);
    int rc = store_broker_issue(ctx->store, username, ctx->who.user_id,
                                ctx->who.token_kind == TOKEN_API_KEY ? ctx->who.token_id : "", password);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    snprintf(ctx->audit_entity_id, sizeof ctx->audit_entity_id, "%s", ctx->who.user_id);
    return ERR_OK;
}
