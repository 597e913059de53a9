/* call.c: the connection (with which broker account) and authenticated requests: the envelope (token, request id, data), the session's token
 * refreshed with auth.refresh before it expires or when the agent answers 401 "Token has expired",
 * and the outcome: the reply printed (a table, or raw with --json) or the error on stderr with a
 * non-zero exit status. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connects with the session's broker account, giving a password the agent has just re-issued a
 * moment to reach the broker (it is sent right after the reply that shows it). */
static int open_with_account(struct client *c, char *err, size_t errlen)
{
    struct settings ls = *c->s;
    const struct timespec pause = { 0, 200 * 1000000L };
    snprintf(ls.username, sizeof ls.username, "%s", c->ss.broker_user);
    snprintf(ls.password, sizeof ls.password, "%s", c->ss.broker_pass);
    for (int tries = 0; (c->link = link_open(&ls, err, errlen)) == NULL; tries++) {
        if (tries == 15)
            return -1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* The broker refused the session's account (its password was re-issued to another login, or
 * changed with the user's): takes what another cmctl saved meanwhile, or asks broker.credentials
 * anonymously for a new password. 0 connected, or an exit status. */
static int renew_account(struct client *c, const char *first_err)
{
    struct session now;
    char err[512];
    int rc;
    if (session_load(c->s, &now) == 0 && strcmp(now.broker_pass, c->ss.broker_pass) != 0 && now.broker_user[0]) {
        c->ss = now;
        if (open_with_account(c, err, sizeof err) == 0)
            return 0;
    }
    c->link = link_open(c->s, err, sizeof err);
    if (c->link == NULL) {
        fprintf(stderr, "cmctl: %s\n", first_err);
        return EXIT_LINK;
    }
    rc = client_fetch_broker_account(c);
    client_link_close(c->link);
    c->link = NULL;
    if (rc != 0)
        return rc;
    if ((c->ss.broker_user[0] ? open_with_account(c, err, sizeof err) : (c->link = link_open(c->s, err, sizeof err)) ? 0 : -1) != 0) {
        fprintf(stderr, "cmctl: %s\n", err);
        return EXIT_LINK;
    }
    return 0;
}

static int client_open_as(struct client *c, struct settings *s, bool session_account)
{
    char err[512];
    memset(c, 0, sizeof *c);
    c->s = s;
    if (!s->token[0]) {
        int rc = session_load(s, &c->ss);
        if (rc < 0)
            return EXIT_USAGE;
        c->have_session = rc == 0;
    }
    if (session_account && !s->username[0] && c->have_session && c->ss.broker_user[0]) {
        if (open_with_account(c, err, sizeof err) == 0)
            return 0;
        return renew_account(c, err);
    }
    c->link = link_open(s, err, sizeof err);
    if (c->link == NULL) {
        fprintf(stderr, "cmctl: %s\n", err);
        return EXIT_LINK;
    }
    return 0;
}

int client_open(struct client *c, struct settings *s)
{
    return client_open_as(c, s, true);
}

int client_open_anonymous(struct client *c, struct settings *s)
{
    return client_open_as(c, s, false);
}

void client_close(struct client *c)
{
    client_link_close(c->link);
    c->link = NULL;
}

static int reply_status(const cJSON *r)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
    return cJSON_IsNumber(st) ? st->valueint : 0;
}

static int reply_code(const cJSON *r)
{
    const cJSON *ec = cJSON_GetObjectItemCaseSensitive(r, "errorCode");
    return cJSON_IsNumber(ec) ? ec->valueint : 0;
}

int print_error_reply(const char *op, const cJSON *reply)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(reply, "message");
    fprintf(stderr, "cmctl: %s: %d (errorCode %d): %s\n", op, reply_status(reply), reply_code(reply),
            cJSON_IsString(msg) ? msg->valuestring : "(no message)");
    return EXIT_REPLY;
}

static cJSON *send_once(struct client *c, const char *op, const cJSON *data, const char *token, char **raw,
                        int *exit_code)
{
    cJSON *env = cJSON_CreateObject(), *reply;
    char err[512], *payload;
    if (token != NULL && token[0])
        cJSON_AddStringToObject(env, "token", token);
    if (c->s->request_id[0])
        cJSON_AddStringToObject(env, "id", c->s->request_id);
    if (data != NULL)
        cJSON_AddItemReferenceToObject(env, "data", (cJSON *)data);
    payload = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    reply = link_request(c->link, op, payload, token == NULL || !token[0], raw, err, sizeof err);
    cJSON_free(payload);
    if (reply == NULL) {
        fprintf(stderr, "cmctl: %s\n", err);
        *exit_code = EXIT_LINK;
    }
    return reply;
}

/* Takes the pair of an auth.login / auth.refresh reply into the session and saves it. */
static int take_pair(struct client *c, const cJSON *reply)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "token");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "refreshToken");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "expiresIn");
    if (!cJSON_IsString(t) || !cJSON_IsString(r)) {
        fprintf(stderr, "cmctl: the reply holds no token pair\n");
        return EXIT_REPLY;
    }
    snprintf(c->ss.token, sizeof c->ss.token, "%s", t->valuestring);
    snprintf(c->ss.refresh, sizeof c->ss.refresh, "%s", r->valuestring);
    c->ss.expires_at_ms = cJSON_IsNumber(e) ? now_ms() + (long long)e->valuedouble : 0;
    snprintf(c->ss.broker, sizeof c->ss.broker, "%s", c->s->broker);
    c->have_session = true;
    return session_save(c->s, &c->ss) ? EXIT_USAGE : 0;
}

/* Exchanges the refresh token for a new pair, under the session lock; when another cmctl did so
 * meanwhile, takes its pair instead of spending the used refresh token. Returns 0 or an exit status. */
static int refresh_session(struct client *c)
{
    struct session now;
    char old[CMCTL_STR], *raw = NULL;
    int fd = session_lock(c->s), rc = 0;
    cJSON *data, *reply;
    if (fd < 0)
        return EXIT_USAGE;
    snprintf(old, sizeof old, "%s", c->ss.token);
    if (session_load(c->s, &now) == 0 && strcmp(now.token, old) != 0) {
        c->ss = now;
        session_unlock(fd);
        return 0;
    }
    data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "refreshToken", c->ss.refresh);
    reply = send_once(c, "auth.refresh", data, NULL, &raw, &rc);
    cJSON_Delete(data);
    if (reply != NULL && reply_status(reply) == 200)
        rc = take_pair(c, reply);
    else if (reply != NULL) {
        print_error_reply("auth.refresh", reply);
        fprintf(stderr, "cmctl: the session of %s cannot be renewed; log in again (cmctl login)\n",
                c->ss.email[0] ? c->ss.email : "this profile");
        rc = EXIT_REPLY;
    }
    cJSON_Delete(reply);
    free(raw);
    session_unlock(fd);
    return rc;
}

static bool near_expiry(const struct session *ss)
{
    return ss->expires_at_ms > 0 && now_ms() + 5000 >= ss->expires_at_ms;
}

cJSON *client_call(struct client *c, const char *op, cJSON *data, bool anonymous, char **raw, int *exit_code)
{
    cJSON *reply;
    bool use_session = !anonymous && !c->s->token[0] && c->have_session;
    *raw = NULL;
    *exit_code = 0;
    if (!anonymous && !c->s->token[0] && !c->have_session) {
        fprintf(stderr, "cmctl: %s: not logged in%s%s; run cmctl login (or give --token)\n", op,
                c->s->profile[0] ? " with profile " : "", c->s->profile);
        *exit_code = EXIT_USAGE;
        return NULL;
    }
    if (use_session && near_expiry(&c->ss) && (*exit_code = refresh_session(c)) != 0)
        return NULL;
    reply = send_once(c, op, data, anonymous ? NULL : c->s->token[0] ? c->s->token : c->ss.token, raw, exit_code);
    if (reply != NULL && use_session && reply_status(reply) == 401 && strcmp(op, "auth.logout") != 0) {
        struct session now;
        bool changed = session_load(c->s, &now) == 0 && strcmp(now.token, c->ss.token) != 0;
        if (changed || reply_code(reply) == 11) { /* another cmctl refreshed it, or it expired */
            if (changed)
                c->ss = now;
            else if ((*exit_code = refresh_session(c)) != 0) {
                cJSON_Delete(reply);
                free(*raw);
                *raw = NULL;
                return NULL;
            }
            cJSON_Delete(reply);
            free(*raw);
            reply = send_once(c, op, data, c->ss.token, raw, exit_code);
        }
    }
    return reply;
}

/* The failed parts of a 200 reply that answers many (a batch's responses, customer.delete's and
 * import.run's results): each on stderr; returns how many failed. */
static int failed_parts(const char *op, const cJSON *reply)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(d, "responses");
    int i = 0, failed = 0;
    if (!cJSON_IsArray(parts))
        parts = cJSON_GetObjectItemCaseSensitive(d, "results");
    for (const cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; p; p = p->next, i++) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(p, "message");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
        const cJSON *row = cJSON_GetObjectItemCaseSensitive(p, "row"); /* an import's row, from 1 */
        if (reply_status(p) == 200)
            continue;
        failed++;
        if (cJSON_IsNumber(row))
            fprintf(stderr, "cmctl: %s: row %.0f: ", op, row->valuedouble);
        else if (cJSON_IsString(id))
            fprintf(stderr, "cmctl: %s: id %s: ", op, id->valuestring);
        else
            fprintf(stderr, "cmctl: %s: command %d: ", op, i);
        fprintf(stderr, "%d (errorCode %d): %s\n", reply_status(p), reply_code(p),
                cJSON_IsString(msg) ? msg->valuestring : "(no message)");
    }
    return failed;
}

int client_run(struct client *c, const char *op, cJSON *data, bool anonymous, const char *columns)
{
    char *raw = NULL;
    int rc;
    cJSON *reply = client_call(c, op, data, anonymous, &raw, &rc);
    if (reply == NULL)
        return rc;
    if (reply_status(reply) != 200)
        rc = print_error_reply(op, reply);
    else if (c->s->json)
        printf("%s\n", raw);
    else
        render_reply(reply, columns);
    fflush(stdout);
    if (rc == 0 && failed_parts(op, reply) > 0)
        rc = EXIT_REPLY;
    cJSON_Delete(reply);
    free(raw);
    return rc;
}

int client_take_pair(struct client *c, const cJSON *reply)
{
    return take_pair(c, reply);
}

int client_fetch_broker_account(struct client *c)
{
    char *raw = NULL;
    int rc;
    cJSON *reply = client_call(c, "broker.credentials", NULL, false, &raw, &rc);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(d, "username");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "password");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(reply, "message");
    if (reply == NULL)
        return rc;
    if (reply_status(reply) == 200 && cJSON_IsString(u) && cJSON_IsString(p)) {
        snprintf(c->ss.broker_user, sizeof c->ss.broker_user, "%s", u->valuestring);
        snprintf(c->ss.broker_pass, sizeof c->ss.broker_pass, "%s", p->valuestring);
        rc = session_save(c->s, &c->ss) ? EXIT_USAGE : 0;
    } else if (reply_status(reply) == 400 && cJSON_IsString(msg) && strstr(msg->valuestring, "broker_acl none")) {
        c->ss.broker_user[0] = c->ss.broker_pass[0] = '\0'; /* an open broker: anonymous it is */
        rc = session_save(c->s, &c->ss) ? EXIT_USAGE : 0;
    } else
        rc = print_error_reply("broker.credentials", reply);
    cJSON_Delete(reply);
    free(raw);
    return rc;
}
