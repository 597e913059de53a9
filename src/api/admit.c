/* admit.c: what happens to an authentication request before it is queued, on the thread that
 * received it (protocol: "Logins: lockout, throttling, fairness"). The anonymous authentication
 * operations spend a budget of their client (the first level of the reply destination under
 * P/reply/) and, when they name one, of the e-mail; a request past either is answered 429 at once,
 * before anything is read or hashed, so a flood of them costs no password hash. A request with
 * password hash work is told which tenant's queue it waits in: the tenant of the account it names
 * (by e-mail, activation or reset token, or its own access token), "" when it names none. */
#include "cmagent/api.h"

#include "cmagent/auth.h"
#include "cmagent/clock.h"
#include "ops.h"
#include "ratelimit.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MINUTE_MS (60 * 1000)
#define CLIENT_KEY_MAX 256

/* The operations admission looks at. email: the data member with the e-mail whose budget the
 * request spends; subject: the member naming the account whose tenant's queue it joins (in data,
 * or the envelope's token), read by. anonymous: it spends its client's budget. */
static const struct admitted_op {
    const char *name;
    const char *email;
    const char *subject;
    bool subject_in_envelope;
    enum user_key by;
    bool anonymous;
} admitted_ops[] = {
    { "auth.activate", NULL, "activateToken", false, USER_BY_ACTIVATE_TOKEN, true },
    { "auth.changePassword", NULL, "token", true, USER_BY_TOKEN_DIGEST, false },
    { "auth.checkActivateToken", NULL, NULL, false, USER_BY_EMAIL, true },
    { "auth.login", "email", "email", false, USER_BY_EMAIL, true },
    { "auth.refresh", NULL, NULL, false, USER_BY_EMAIL, true },
    { "auth.resetPassword", NULL, "resetToken", false, USER_BY_RESET_TOKEN, true },
    { "auth.resetPasswordByEmail", "email", NULL, false, USER_BY_EMAIL, true },
    { "auth.twoFa.providers", NULL, NULL, false, USER_BY_EMAIL, true },
    { "auth.twoFa.sendCode", NULL, NULL, false, USER_BY_EMAIL, true },
    { "auth.twoFa.verify", NULL, NULL, false, USER_BY_EMAIL, true },
    /* a batch with a password change waits in its caller's tenant's queue (api_prepares) */
    { "batch", NULL, "token", true, USER_BY_TOKEN_DIGEST, false },
};

static struct ratelimit *per_email, *per_client;

void admit_init(void)
{
    per_email = ratelimit_new("email");
    per_client = ratelimit_new("client");
}

void admit_release(void)
{
    ratelimit_free(per_email);
    ratelimit_free(per_client);
    per_email = per_client = NULL;
}

static const struct admitted_op *admitted_op_of(const char *name)
{
    for (size_t i = 0; i < sizeof admitted_ops / sizeof admitted_ops[0]; i++)
        if (strcmp(admitted_ops[i].name, name) == 0)
            return &admitted_ops[i];
    return NULL;
}

bool api_admits(const char *op_name) { return admitted_op_of(op_name) != NULL; }

/* The client a request comes from, as far as the agent can tell from its reply destination: the
 * level after reply_prefix ("anon/<nonce>" for the anonymous form, whose first level all anonymous
 * clients share), the whole destination when it lies elsewhere, "none" without one. */
static void client_key(const char *destination, const char *reply_prefix, char out[CLIENT_KEY_MAX])
{
    size_t plen = strlen(reply_prefix);
    const char *level, *end;

    if (destination == NULL || destination[0] == '\0') {
        snprintf(out, CLIENT_KEY_MAX, "none");
        return;
    }
    if (plen == 0 || strncmp(destination, reply_prefix, plen) != 0) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a of the whole destination, however long */
        for (const char *p = destination; *p != '\0'; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(out, CLIENT_KEY_MAX, "other:%016llx", (unsigned long long)h);
        return;
    }
    level = destination + plen;
    end = strchr(level, '/');
    if (end != NULL && (size_t)(end - level) == 4 && strncmp(level, "anon", 4) == 0)
        end = strchr(end + 1, '/');
    snprintf(out, CLIENT_KEY_MAX, "%.*s", (int)(end ? (size_t)(end - level) : strlen(level)), level);
}

/* The e-mail's budget key: lower-cased, so that case variants of one address share it. */
static void email_key(const char *email, char out[CLIENT_KEY_MAX])
{
    size_t i = 0;
    for (; email[i] != '\0' && i + 1 < CLIENT_KEY_MAX; i++)
        out[i] = (char)tolower((unsigned char)email[i]);
    out[i] = '\0';
}

static const char *string_member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The budgets: the client's first (a client over its own budget spends no e-mail's), then the
 * e-mail's. Fills out->refusal when one is spent. */
static void spend_budgets(const struct admitted_op *op, const cJSON *root, const cJSON *data,
                          const char *response_topic, const struct api_settings *s, struct api_admission *out)
{
    char key[CLIENT_KEY_MAX];
    int64_t now = clock_mono_ms();
    const char *destination = response_topic != NULL ? response_topic : string_member(root, "replyTo");
    const char *email = op->email != NULL ? string_member(data, op->email) : NULL;

    client_key(destination, s->reply_prefix, key);
    if (!ratelimit_take(per_client, key, s->auth_rate_per_client, MINUTE_MS, now)) {
        snprintf(out->refusal, sizeof out->refusal,
                 "Too many authentication requests from this client: at most %lld a minute (auth_rate_per_client)",
                 (long long)s->auth_rate_per_client);
        return;
    }
    if (email == NULL || email[0] == '\0')
        return;
    email_key(email, key);
    if (!ratelimit_take(per_email, key, s->auth_rate_per_email, MINUTE_MS, now))
        snprintf(out->refusal, sizeof out->refusal,
                 "Too many authentication requests for this e-mail: at most %lld a minute (auth_rate_per_email)",
                 (long long)s->auth_rate_per_email);
}

void api_admit(struct ctx *ctx, const struct api_request *req, const char *response_topic,
               struct api_admission *out)
{
    const struct api_settings *s = api_current_settings();
    const struct admitted_op *op = admitted_op_of(req->op);
    cJSON *root = NULL;

    memset(out, 0, sizeof *out);
    /* What fails these is answered by the writer without any hashing; so is an unknown op. */
    if (op == NULL || req->payload_len > s->max_payload)
        return;
    root = cJSON_ParseWithLength(req->payload, req->payload_len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (op->anonymous)
        spend_budgets(op, root, data, response_topic, s, out);
    if (out->refusal[0] == '\0' && ctx != NULL && ctx->store != NULL && op->subject != NULL) {
        const char *subject = string_member(op->subject_in_envelope ? root : data, op->subject);
        if (subject != NULL && subject[0] != '\0')
            auth_queue_tenant(ctx, op->by, subject, out->queue);
    }
    cJSON_Delete(root);
}
