/* fuzz_request.c: the libFuzzer harness of the request path. One input is one request,
 * "<op>\n<payload>": the operation name (the last topic level) and the MQTT payload, run through
 * api_handle exactly as the agent's writer runs it (verifier run first for password operations,
 * a savepoint per request, the kept writes of a failed one, the rolled-back first run and the second
 * run of a request that awaited its mails, each mail sent or failed by the input's length) on a
 * real SQLite file.
 *
 * The database holds a fixture built once per process through the same API: a system
 * administrator, two tenants with an administrator and a customer each (tenant B at its limits,
 * so that its creations fail), in tenant A a second
 * customer, an activated customer user and a pending one, two devices, an asset, an edge and a
 * dashboard assigned to the first customer, an API key, a refresh, an activation and a reset
 * token, listing cursors, and a request made with the envelope id "fixture-1". Placeholders in
 * the payload ($TA, $CUST, ... see fixture_names) are replaced by the fixture's tokens, ids and
 * e-mails, so that inputs get past authentication into every operation's argument readers and
 * handlers. Every input runs inside one transaction that is rolled back afterwards: each run
 * starts from the same database.
 *
 * Besides what ASan, UBSan and LeakSanitizer report, the harness aborts when a reply breaks the
 * error model: every request gets a JSON object with the status it reports, and an error reply
 * has errorCode and message. */
#include "cmagent/api.h"
#include "cmagent/alloc.h"
#include "cmagent/clock.h"
#include "cmagent/context.h"
#include "cmagent/hash_work.h"
#include "cmagent/log.h"
#include "cmagent/store.h"
#include "cmagent/store_user.h"
#include "cmagent/user.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HOUR_MS (3600 * 1000LL)
#define PASSWORD "Fuzz-secret-1"

static const struct core_settings settings = {
    .base_url = "https://cm.example.com/",
    .access_token_ttl_ms = 24 * HOUR_MS,
    .refresh_token_ttl_ms = 7 * 24 * HOUR_MS,
    .activation_token_ttl_ms = 24 * HOUR_MS,
    .password_hash_cost = 1,
    .event_retention_ms = 7 * 24 * HOUR_MS,
    .audit_retention_ms = 30 * 24 * HOUR_MS,
    .idempotency_window_ms = 24 * HOUR_MS,
    .mail_configured = true,
    .reset_token_ttl_ms = 24 * HOUR_MS,
    .max_failed_login_attempts = 5,
    .max_json_field_size = 16384,
    .max_text_field_length = 1024,
    .max_dashboard_configuration_size = 262144,
    .max_api_keys_per_user = 100,
    .max_page_size = 1000,
    .max_page_offset = 100000,
    /* broker.credentials issues accounts (the broker hears of them from the agent, not here) */
    .broker_acl = true,
    .broker_name_prefix = "cm-",
    .topic_prefix = "cm/v1",
};

/* max_payload is smaller than the agent's default, so that inputs of libFuzzer's sizes reach the
 * 413 path too. */
static const struct api_settings api = {
    .max_payload = 4096,
    .rate_limit_per_second = 0,
    .max_batch_commands = 100,
    .reply = { .prefix = "cm/v1", .max_bytes = 1024 },
    .reply_prefix = "cm/v1/reply/",
    .max_reply = 2097152,
    .max_batch_rows = 2000,
    .import_max_rows = 100000,
    .import_chunk_rows = 200,
    .import_max_atomic_rows = 1000,
};

/* The placeholders a payload may use, and what they stand for (filled by fixture_build). */
enum fixture_name {
    F_SYS, F_TA, F_TB, F_CU, F_AK, F_REFRESH, F_ACT, F_RESET,           /* tokens */
    F_TENANT, F_TENANTB, F_CUST, F_CUSTB, F_SYSUSER, F_TAUSER, F_TBUSER, /* ids */
    F_CUUSER, F_PENDING, F_DEV, F_ASSET, F_EDGE, F_DASH, F_AKID,
    F_TAMAIL, F_CUMAIL, F_PMAIL,                                          /* e-mails */
    F_CPAGE, F_DPAGE,                                                     /* cursors */
    F_COUNT
};

static const char *const fixture_names[F_COUNT] = {
    "SYS", "TA", "TB", "CU", "AK", "REFRESH", "ACT", "RESET",
    "TENANT", "TENANTB", "CUST", "CUSTB", "SYSUSER", "TAUSER", "TBUSER",
    "CUUSER", "PENDING", "DEV", "ASSET", "EDGE", "DASH", "AKID",
    "TAMAIL", "CUMAIL", "PMAIL",
    "CPAGE", "DPAGE",
};

static char *fixture_values[F_COUNT];
static bool verbose; /* CMAGENT_FUZZ_LOG set: debug logs and every reply on stderr */
static struct store *store, *reader;
static char workdir[512], dbpath[600];

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_request: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* ---- one request, as the agent's writer runs it ---- */

static void ctx_init(struct ctx *ctx, struct store *s)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = s;
    ctx->settings = &settings;
    ctx->render_event = api_render_event;
    ctx->render_audit = api_render_audit;
    ctx->now = clock_now_ms();
    ctx->keep_events = true;
}

/* The verifier thread's run of a password operation on the read-only connection. */
static struct hash_work *verify(const struct api_request *req)
{
    struct ctx ctx;

    if (!api_prepares(req))
        return NULL;
    ctx_init(&ctx, reader);
    ctx.render_event = NULL;
    ctx.render_audit = NULL;
    ctx.keep_events = false;
    ctx.hash_work = hash_work_new();
    api_prepare(&ctx, req);
    ctx_release(&ctx);
    return ctx.hash_work;
}

/* A JSON object with a numeric status equal to the reported one, and for an error an errorCode
 * and a message naming the problem. */
static void check_reply(const struct api_request *req, const struct api_reply *r)
{
    if (r->deferred)
        return;
    if (r->refused) {
        /* a refused reply destination: nothing ran, nothing may be published */
        if (r->body != NULL || r->reply_to != NULL || r->refusal[0] == '\0')
            fail("a refused request carries a reply or no reason", req->op);
        return;
    }
    if (r->body == NULL)
        fail("a request got no reply body", req->op);
    cJSON *root = cJSON_Parse(r->body);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    if (!cJSON_IsObject(root) || !cJSON_IsNumber(status) || status->valueint != r->status)
        fail("a reply is not a JSON object with its status", r->body);
    if (r->failed) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "errorCode");
        const cJSON *message = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (r->status < 400 || !cJSON_IsNumber(code) || !cJSON_IsString(message) || message->valuestring[0] == '\0')
            fail("an error reply lacks status, errorCode or message", r->body);
    } else if (r->status != 200) {
        fail("a successful reply does not say 200", r->body);
    }
    cJSON_Delete(root);
}

/* One run of req in its own savepoint (src/agent/writer.c's handle_request); ctx and reply stay for the
 * caller to read and release. */
static void run_once(struct ctx *ctx, const struct api_request *req, struct api_reply *reply)
{
    store_savepoint(store);
    api_handle(ctx, req, reply);
    /* A deferred first run is rolled back whole: the second run applies the request. */
    if (store_in_transaction(store)) {
        if (!reply->failed && !reply->deferred) {
            store_savepoint_release(store);
        } else {
            store_savepoint_rollback(store);
            if (reply->failed)
                kept_writes_apply(ctx);
        }
    }
    check_reply(req, reply);
}

/* The awaited mails a deferred run composed, as the mailer hands them back to the second run:
 * mail i failed when bit i of failures is set (and every later one of an atomic batch after a
 * failure, which the mailer does not send). Takes them from ctx. */
static void mail_outcomes(struct ctx *ctx, unsigned failures, struct mail_list *out)
{
    bool failed = false;

    *out = ctx->mails;
    memset(&ctx->mails, 0, sizeof ctx->mails);
    mail_list_keep_awaited(out);
    for (size_t i = 0; i < out->n; i++) {
        failed = (failed && out->stop_at_failure) || (i < 32 && (failures >> i) & 1u);
        out->items[i].outcome = failed ? MAIL_FAILED : MAIL_SENT;
    }
}

/* Runs req; a request that awaits its mails runs a second time with their outcomes, as the agent
 * does once the mailer has tried (failures: see mail_outcomes). Fills ctx (the last run's) and
 * reply. */
static void run_request(struct ctx *ctx, const struct api_request *req, unsigned failures, struct api_reply *reply)
{
    struct hash_work *work = verify(req);
    struct mail_list mailed;

    ctx_init(ctx, store);
    ctx->hash_work = work;
    hash_work_reset_count(work);
    run_once(ctx, req, reply);
    if (reply->deferred) {
        if (!ctx_awaits_mail(ctx))
            fail("a deferred reply awaits no mail", req->op);
        mail_outcomes(ctx, failures, &mailed);
        ctx_release(ctx);
        api_reply_release(reply);
        ctx_init(ctx, store);
        ctx->hash_work = work;
        ctx->mailed = &mailed;
        run_once(ctx, req, reply);
        if (reply->deferred)
            fail("a request awaited its mails twice", req->op);
        ctx->mailed = NULL;
        mail_list_release(&mailed);
    }
    hash_work_free(work);
    ctx->hash_work = NULL;
}

/* ---- the fixture ---- */

/* Runs one set-up request and commits it; returns the parsed reply (the caller deletes it) and
 * points *data at its data. Any failure ends the process: the fixture must be complete.
 * *mail_body gets the body of a mail the request asked for, when mail_body is not NULL. */
static cJSON *setup(const char *op, const char *payload, const cJSON **data, char **mail_body)
{
    struct api_request req = { .op = op, .payload = payload, .payload_len = strlen(payload) };
    struct api_reply reply;
    struct ctx ctx;

    if (store_begin(store) != STORE_OK)
        fail("BEGIN failed", store_errmsg(store));
    run_request(&ctx, &req, 0, &reply);
    if (reply.failed || store_commit(store) != STORE_OK)
        fail(op, reply.body);
    cJSON *root = cJSON_Parse(reply.body);
    *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (mail_body != NULL)
        *mail_body = ctx.mails.n > 0 && ctx.mails.items[0].body != NULL ? xstrdup(ctx.mails.items[0].body) : NULL;
    ctx_release(&ctx);
    api_reply_release(&reply);
    return root;
}

/* data.<a>[.<b>] as a heap string. */
static char *member(const cJSON *data, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, a);
    if (b != NULL)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (!cJSON_IsString(v))
        fail("a set-up reply lacks the member", a);
    return xstrdup(v->valuestring);
}

/* A set-up request whose payload is a format; sets fixture_values[slot] to data.<a>[.<b>] (a
 * NULL: keeps nothing). */
static void setup_value(enum fixture_name slot, const char *a, const char *b, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void setup_value(enum fixture_name slot, const char *a, const char *b, const char *op, const char *fmt, ...)
{
    char payload[2048];
    const cJSON *data;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(payload, sizeof payload, fmt, ap);
    va_end(ap);
    cJSON *root = setup(op, payload, &data, NULL);
    if (a != NULL)
        fixture_values[slot] = member(data, a, b);
    cJSON_Delete(root);
}

/* The token after "name=" in text (heap). */
static char *link_token(const char *text, const char *name)
{
    const char *p = text != NULL ? strstr(text, name) : NULL;
    if (p == NULL)
        fail("no link token", name);
    p += strlen(name);
    size_t n = strcspn(p, "\r\n \"&");
    char *t = xmalloc(n + 1);
    memcpy(t, p, n);
    t[n] = '\0';
    return t;
}

/* Creates a user as admin_token (its id goes to fixture_values[id_slot]) and activates it with
 * PASSWORD (its access token goes to token_slot); with token_slot F_ACT it stays pending and its
 * activation token goes there instead. */
static void setup_user(enum fixture_name id_slot, enum fixture_name token_slot, const char *admin_token,
                       const char *email, const char *authority, const char *owner_key, const char *owner_id)
{
    char payload[2048];
    const cJSON *data;

    setup_value(id_slot, "id", "id", "user.create",
                "{\"token\":\"%s\",\"data\":{\"email\":\"%s\",\"authority\":\"%s\",\"%s\":\"%s\","
                "\"firstName\":\"Fuzz\"}}",
                admin_token, email, authority, owner_key, owner_id);
    snprintf(payload, sizeof payload, "{\"token\":\"%s\",\"data\":{\"id\":\"%s\"}}", admin_token,
             fixture_values[id_slot]);
    cJSON *root = setup("user.activationLink", payload, &data, NULL);
    char *link = member(data, "value", NULL);
    char *activate_token = link_token(link, "activateToken=");
    free(link);
    cJSON_Delete(root);
    if (token_slot == F_ACT) {
        fixture_values[F_ACT] = activate_token;
        return;
    }
    setup_value(token_slot, "token", NULL, "auth.activate",
                "{\"data\":{\"activateToken\":\"%s\",\"password\":\"%s\"}}", activate_token, PASSWORD);
    free(activate_token);
}

/* "Tenant <name>" with its administrator (activated) and "Customer <name>"; extra is appended
 * to tenant.create's data (limits). */
static void setup_tenant(enum fixture_name tenant, enum fixture_name admin, enum fixture_name admin_token,
                         enum fixture_name customer, const char *name, const char *admin_email, const char *extra)
{
    setup_value(tenant, "id", "id", "tenant.create", "{\"token\":\"%s\",\"data\":{\"title\":\"Tenant %s\"%s}}",
                fixture_values[F_SYS], name, extra);
    setup_user(admin, admin_token, fixture_values[F_SYS], admin_email, "TENANT_ADMIN", "tenantId",
               fixture_values[tenant]);
    setup_value(customer, "id", "id", "customer.create", "{\"token\":\"%s\",\"data\":{\"title\":\"Customer %s\"}}",
                fixture_values[admin_token], name);
}

static void fixture_build(void)
{
    char generated[64] = "", payload[1024];
    struct ctx ctx;
    struct user sysadmin;
    const cJSON *data;
    char *mail = NULL;

    ctx_init(&ctx, store);
    if (user_bootstrap_sysadmin(&ctx, "sysadmin@fuzz.example", PASSWORD, generated) != ERR_OK)
        fail("bootstrap", ctx.err.message);
    ctx_release(&ctx);
    fixture_values[F_TAMAIL] = xstrdup("admin@a.fuzz.example");
    fixture_values[F_CUMAIL] = xstrdup("user@a.fuzz.example");
    fixture_values[F_PMAIL] = xstrdup("pending@a.fuzz.example");

    setup_value(F_SYS, "token", NULL, "auth.login",
                "{\"data\":{\"email\":\"sysadmin@fuzz.example\",\"password\":\"%s\"}}", PASSWORD);
    if (store_user_get_by_email(store, "sysadmin@fuzz.example", &sysadmin) != STORE_OK)
        fail("the system administrator is missing", store_errmsg(store));
    fixture_values[F_SYSUSER] = xstrdup(sysadmin.id);
    user_release(&sysadmin);

    /* Tenant B is at its limits: its creations answer 403 "... limit reached". */
    setup_tenant(F_TENANT, F_TAUSER, F_TA, F_CUST, "A", fixture_values[F_TAMAIL], "");
    setup_tenant(F_TENANTB, F_TBUSER, F_TB, F_CUSTB, "B", "admin@b.fuzz.example",
                 ",\"limits\":{\"maxCustomers\":1,\"maxUsers\":1,\"maxDevices\":1,\"maxAssets\":1,"
                 "\"maxEdges\":1,\"maxDashboards\":1}");
    /* A refresh token of tenant A's administrator, from a second login. */
    setup_value(F_REFRESH, "refreshToken", NULL, "auth.login", "{\"data\":{\"email\":\"%s\",\"password\":\"%s\"}}",
                fixture_values[F_TAMAIL], PASSWORD);
    setup_user(F_CUUSER, F_CU, fixture_values[F_TA], fixture_values[F_CUMAIL], "CUSTOMER_USER", "customerId",
               fixture_values[F_CUST]);
    setup_user(F_PENDING, F_ACT, fixture_values[F_TA], fixture_values[F_PMAIL], "CUSTOMER_USER", "customerId",
               fixture_values[F_CUST]);

    static const struct {
        enum fixture_name slot;
        const char *family, *extra;
    } entities[] = {
        { F_DEV, "device", ",\"type\":\"thermostat\"" },
        { F_ASSET, "asset", ",\"type\":\"building\"" },
        { F_EDGE, "edge", ",\"type\":\"gateway\",\"routingKey\":\"rk-1\",\"secret\":\"s-1\"" },
    };
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        char op[64];
        snprintf(op, sizeof op, "%s.create", entities[i].family);
        setup_value(entities[i].slot, "id", "id", op, "{\"token\":\"%s\",\"data\":{\"name\":\"%s 1\"%s}}",
                    fixture_values[F_TA], entities[i].family, entities[i].extra);
        snprintf(op, sizeof op, "%s.assign", entities[i].family);
        setup_value(entities[i].slot, NULL, NULL, op, "{\"token\":\"%s\",\"data\":{\"id\":\"%s\",\"customerId\":\"%s\"}}",
                    fixture_values[F_TA], fixture_values[entities[i].slot], fixture_values[F_CUST]);
    }
    /* A second customer and device, so that the first page of a listing has a cursor; the request
     * with the envelope id "fixture-1" makes a repeat of that id a replay. */
    setup_value(F_CPAGE, NULL, NULL, "customer.create",
                "{\"token\":\"%s\",\"id\":\"fixture-1\",\"data\":{\"title\":\"Customer A2\"}}",
                fixture_values[F_TA]);
    setup_value(F_CPAGE, "nextPageToken", NULL, "customer.list",
                "{\"token\":\"%s\",\"data\":{\"pageSize\":1,\"sortProperty\":\"title\"}}", fixture_values[F_TA]);
    setup_value(F_DPAGE, NULL, NULL, "device.create",
                "{\"token\":\"%s\",\"data\":{\"name\":\"device 2\",\"type\":\"thermostat\",\"customerId\":\"%s\"}}",
                fixture_values[F_TA], fixture_values[F_CUST]);
    setup_value(F_DPAGE, "nextPageToken", NULL, "device.list",
                "{\"token\":\"%s\",\"data\":{\"pageSize\":1,\"sortProperty\":\"name\"}}", fixture_values[F_TA]);
    setup_value(F_DASH, "id", "id", "dashboard.create",
                "{\"token\":\"%s\",\"data\":{\"title\":\"Dashboard 1\",\"configuration\":{\"widgets\":{}}}}",
                fixture_values[F_TA]);
    setup_value(F_DASH, NULL, NULL, "dashboard.assign", "{\"token\":\"%s\",\"data\":{\"id\":\"%s\",\"customerId\":\"%s\"}}",
                fixture_values[F_TA], fixture_values[F_DASH], fixture_values[F_CUST]);
    snprintf(payload, sizeof payload, "{\"token\":\"%s\",\"data\":{\"description\":\"fuzz\"}}",
             fixture_values[F_TA]);
    cJSON *root = setup("apiKey.create", payload, &data, NULL);
    fixture_values[F_AK] = member(data, "key", NULL);
    fixture_values[F_AKID] = member(data, "id", NULL);
    cJSON_Delete(root);

    /* A reset token of the customer user, from the mail the reset request composes. */
    snprintf(payload, sizeof payload, "{\"data\":{\"email\":\"%s\"}}", fixture_values[F_CUMAIL]);
    root = setup("auth.resetPasswordByEmail", payload, &data, &mail);
    cJSON_Delete(root);
    fixture_values[F_RESET] = link_token(mail, "resetToken=");
    free(mail);
}

/* ---- placeholders ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *s, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* The value of the placeholder name[0..n), or NULL. */
static const char *fixture_value(const uint8_t *name, size_t n)
{
    for (size_t k = 0; k < F_COUNT; k++)
        if (strlen(fixture_names[k]) == n && memcmp(fixture_names[k], name, n) == 0)
            return fixture_values[k];
    return NULL;
}

/* payload with every $NAME of fixture_names replaced by its value, other bytes as they are, in a
 * heap block of exactly *out_len bytes (no terminating NUL, like an MQTT payload: ASan sees any
 * read past its end). */
static char *substitute(const uint8_t *payload, size_t n, size_t *out_len)
{
    struct buf b = { 0 };

    for (size_t i = 0; i < n;) {
        const uint8_t *dollar = memchr(payload + i, '$', n - i);
        size_t plain = dollar != NULL ? (size_t)(dollar - payload) - i : n - i;
        buf_add(&b, payload + i, plain);
        i += plain;
        if (i == n)
            break;
        size_t j = i + 1;
        while (j < n && payload[j] >= 'A' && payload[j] <= 'Z')
            j++;
        const char *value = fixture_value(payload + i + 1, j - i - 1);
        if (value != NULL) {
            buf_add(&b, value, strlen(value));
            i = j;
        } else {
            buf_add(&b, "$", 1);
            i++;
        }
    }
    char *exact = xmalloc(b.len ? b.len : 1);
    if (b.len > 0)
        memcpy(exact, b.p, b.len);
    free(b.p);
    *out_len = b.len;
    return exact;
}

/* ---- libFuzzer ---- */

static void remove_workdir(void)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
    char path[700];

    store_close(reader);
    store_close(store);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dbpath, suffixes[i]);
        unlink(path);
    }
    rmdir(workdir);
    for (size_t i = 0; i < F_COUNT; i++)
        free(fixture_values[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    verbose = getenv("CMAGENT_FUZZ_LOG") != NULL;
    log_threshold = verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR;
    snprintf(workdir, sizeof workdir, "%s/cmagent-fuzz-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(workdir) == NULL)
        fail("mkdtemp failed", workdir);
    snprintf(dbpath, sizeof dbpath, "%s/fuzz.db", workdir);
    store = store_open(dbpath, err, sizeof err);
    if (store == NULL)
        fail("store_open", err);
    reader = store_open_reader(dbpath, err, sizeof err);
    if (reader == NULL)
        fail("store_open_reader", err);
    api_init(&api);
    fixture_build();
    atexit(remove_workdir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t op_len = nl != NULL ? (size_t)(nl - data) : size;
    size_t payload_len = 0;
    struct api_reply reply;
    struct ctx ctx;

    /* The op is a topic level: a C string (MQTT forbids U+0000 in topics). */
    char *op = xmalloc(op_len + 1);
    memcpy(op, data, op_len);
    op[op_len] = '\0';
    char *payload = substitute(nl != NULL ? nl + 1 : data, nl != NULL ? size - op_len - 1 : 0, &payload_len);
    struct api_request req = { .op = op, .payload = payload, .payload_len = payload_len };

    if (store_begin(store) != STORE_OK)
        fail("BEGIN failed", store_errmsg(store));
    run_request(&ctx, &req, (unsigned)size, &reply);
    if (verbose)
        fprintf(stderr, "%s -> %s\n", op, reply.body);
    ctx_release(&ctx);
    api_reply_release(&reply);
    if (store_in_transaction(store))
        store_rollback(store);
    free(payload);
    free(op);
    return 0;
}
