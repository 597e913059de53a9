/* test_writer.c: the writer's batch processing (src/agent/writer.c) over an in-memory store, with
 * the agent's messages recorded instead of published: one transaction for a batch of requests, each
 * request in its own savepoint (a failed one rolls back alone and keeps its FAILURE audit row),
 * replies before events and in the requests' order, events in seq order with their seq as the
 * acknowledgement tag and tenantSeq per tenant, acknowledgements marked in the outbox by the next
 * transaction, an agent that does not hold the publisher lock publishing no event, and WORK_STOP
 * ending the loop. */
#include "test.h"

#include "agent_int.h"
#include "cmagent/clock.h"
#include "cmagent/events.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"
#include "cmagent/store_outbox.h"
#include "cmagent/user.h"

#include <stdlib.h>
#include <string.h>

#define REPLY_TOPIC "cm/v1/reply/writer-test"

struct sent {
    char *topic, *body;
    uint64_t tag;
};

static struct sent sent[64];
static size_t nsent;

static int record(void *arg, const char *topic, const char *body, size_t len, const void *corr, size_t corr_len,
                  uint64_t tag)
{
    (void)arg;
    (void)corr;
    (void)corr_len;
    if (nsent < sizeof sent / sizeof sent[0]) {
        sent[nsent].topic = strdup(topic);
        sent[nsent].body = strndup(body, len);
        sent[nsent].tag = tag;
        nsent++;
    }
    return 0;
}

static void forget_sent(void)
{
    for (size_t i = 0; i < nsent; i++) {
        free(sent[i].topic);
        free(sent[i].body);
    }
    nsent = 0;
}

static struct work *request(const char *op, const char *payload)
{
    struct work *w = work_new(WORK_REQUEST);
    struct transport_message *m = calloc(1, sizeof *m);
    size_t len = strlen("cm/v1/req/") + strlen(op) + 1;
    m->topic = malloc(len);
    snprintf(m->topic, len, "cm/v1/req/%s", op);
    m->payload = strdup(payload);
    m->payload_len = strlen(payload);
    m->response_topic = strdup(REPLY_TOPIC);
    m->response_topic_len = strlen(REPLY_TOPIC);
    w->msg = m;
    return w;
}

/* Runs the works as one batch, chained in order. Returns whether a WORK_STOP ended it. */
static bool run_batch(struct agent *a, struct work **ws, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        ws[i]->node.next = &ws[i + 1]->node;
    ws[n - 1]->node.next = NULL;
    return agent_process_batch(a, &ws[0]->node, n);
}

/* The value of "key":"..." in text, copied into out. */
static const char *string_member(const char *text, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *p = text != NULL ? strstr(text, pattern) : NULL;
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(pattern);
        size_t len = strcspn(p, "\"");
        snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
    }
    return out;
}

static struct config cfg;
static struct agent agent;
static char token[1024];

static void setup(void)
{
    char err[600], generated[64] = "";
    struct store *store = store_open(":memory:", err, sizeof err);
    CHECK(store != NULL);
    CHECK(config_init(&cfg) == 0);
    CHECK(config_set(&cfg, "password_hash_cost", "1", err, sizeof err) == 0);
    CHECK(config_set(&cfg, "rate_limit_per_second", "0", err, sizeof err) == 0);
    agent_state_init(&agent, &cfg, store);
    agent.publish = record;

    struct ctx ctx = { .store = store, .settings = &agent.settings, .render_event = api_render_event };
    ctx.now = clock_now_ms();
    CHECK(user_bootstrap_sysadmin(&ctx, "sys@writer.test", "Secret-pass-1", generated) == ERR_OK);
    ctx_release(&ctx);

    struct work *login = request("auth.login", "{\"data\":{\"email\":\"sys@writer.test\",\"password\":\"Secret-pass-1\"}}");
    CHECK(!run_batch(&agent, &login, 1));
    CHECK_INT(nsent, 1);
    CHECK_STR(sent[0].topic, REPLY_TOPIC);
    string_member(sent[0].body, "token", token, sizeof token);
    CHECK(token[0] != '\0');
    forget_sent();
}

static char *tenant_create(const char *title)
{
    static char buf[2048];
    if (title != NULL)
        snprintf(buf, sizeof buf, "{\"token\":\"%s\",\"data\":{\"title\":\"%s\"}}", token, title);
    else
        snprintf(buf, sizeof buf, "{\"token\":\"%s\",\"data\":{}}", token);
    return buf;
}

/* Three requests, one transaction: the failed middle one rolls back alone. */
static void test_one_transaction_per_batch(void)
{
    struct stats_snapshot before, after;
    struct work *ws[3];
    stats_snapshot(&before);
    ws[0] = request("tenant.create", tenant_create("First"));
    ws[1] = request("tenant.create", tenant_create(NULL));
    ws[2] = request("tenant.create", tenant_create("Third"));
    CHECK(!run_batch(&agent, ws, 3));
    stats_snapshot(&after);
    CHECK_INT(after.batches - before.batches, 1);
    CHECK_INT(after.requests - before.requests, 3);

    /* the three replies first, in order, then the two events in seq order */
    CHECK_INT(nsent, 5);
    if (nsent != 5)
        return;
    for (size_t i = 0; i < 3; i++) {
        CHECK_STR(sent[i].topic, REPLY_TOPIC);
        CHECK_INT(sent[i].tag, 0);
    }
    CHECK(strstr(sent[0].body, "\"status\":200") != NULL && strstr(sent[0].body, "First") != NULL);
    CHECK(strstr(sent[1].body, "\"status\":400") != NULL);
    CHECK(strstr(sent[2].body, "\"status\":200") != NULL && strstr(sent[2].body, "Third") != NULL);
    CHECK(strncmp(sent[3].topic, "cm/v1/event/", 12) == 0 && strstr(sent[3].topic, "/TENANT/ENTITY_CREATED") != NULL);
    CHECK(strstr(sent[3].body, "First") != NULL);
    CHECK(strstr(sent[4].body, "Third") != NULL);
    CHECK(sent[3].tag > 0);
    CHECK_INT(sent[4].tag, sent[3].tag + 1);
    /* numbered first in the body: seq, then the tenant's own count (each tenant's first event) */
    char head[64];
    snprintf(head, sizeof head, "{\"seq\":%llu,\"tenantSeq\":1,\"ts\":", (unsigned long long)sent[3].tag);
    CHECK(strncmp(sent[3].body, head, strlen(head)) == 0);

    /* the failed request's audit row survived its rollback */
    struct outbox_event *evs = NULL;
    size_t n = 0;
    CHECK(store_outbox_unpublished(agent.store, 0, 100, &evs, &n) == STORE_OK);
    CHECK_INT(n, 2);
    outbox_events_free(evs, n);
    forget_sent();

    char audit[2048];
    snprintf(audit, sizeof audit, "{\"token\":\"%s\",\"data\":{\"pageSize\":10}}", token);
    struct work *list = request("audit.list", audit);
    CHECK(!run_batch(&agent, &list, 1));
    CHECK_INT(nsent, 1);
    CHECK(nsent == 1 && strstr(sent[0].body, "\"actionStatus\":\"FAILURE\"") != NULL &&
          strstr(sent[0].body, "\"entityType\":\"TENANT\"") != NULL);
    forget_sent();
}

/* Acknowledged events are marked published by the next transaction, even one without requests. */
static void test_acks_marked(void)
{
    struct outbox_event *evs = NULL;
    size_t n = 0;
    CHECK(store_outbox_unpublished(agent.store, 0, 100, &evs, &n) == STORE_OK);
    CHECK_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        agent_on_acked(&agent, (uint64_t)evs[i].seq);
    outbox_events_free(evs, n);
    CHECK(agent_have_acks(&agent));
    CHECK(!agent_process_batch(&agent, NULL, 0));
    CHECK(!agent_have_acks(&agent));
    CHECK(store_outbox_unpublished(agent.store, 0, 100, &evs, &n) == STORE_OK);
    CHECK_INT(n, 0);
    outbox_events_free(evs, n);
    CHECK_INT(nsent, 0);
}

/* events_store numbers a batch's events: seq in their order, tenantSeq gapless per tenant. */
static void test_tenant_seq(void)
{
    struct outbox_event evs[3];
    const char *tenants[3] = { "0000000a-0000-0000-0000-000000000001", "0000000b-0000-0000-0000-000000000002",
                               "0000000a-0000-0000-0000-000000000001" };
    int64_t before = 0;
    CHECK(store_outbox_last_seq(agent.store, &before) == STORE_OK);
    for (int round = 0; round < 2; round++) {
        memset(evs, 0, sizeof evs);
        for (int i = 0; i < 3; i++) {
            snprintf(evs[i].tenant_id, sizeof evs[i].tenant_id, "%s", tenants[i]);
            evs[i].entity_type = strdup("CUSTOMER");
            evs[i].event_type = strdup("ENTITY_CREATED");
            evs[i].payload = strdup("{\"ts\":1}");
        }
        CHECK(store_begin(agent.store) == STORE_OK);
        CHECK(events_store(agent.store, evs, 3) == STORE_OK);
        CHECK(store_commit(agent.store) == STORE_OK);
        for (int i = 0; i < 3; i++)
            CHECK_INT(evs[i].seq, before + 3 * round + i + 1);
        CHECK_INT(evs[0].tenant_seq, 2 * round + 1);
        CHECK_INT(evs[1].tenant_seq, round + 1);
        CHECK_INT(evs[2].tenant_seq, 2 * round + 2);
        char want[96];
        snprintf(want, sizeof want, "{\"seq\":%lld,\"tenantSeq\":%d,\"ts\":1}", (long long)evs[2].seq, 2 * round + 2);
        CHECK_STR(evs[2].payload, want);
        outbox_events_free_items(evs, 3);
    }
}

/* An agent without the publisher lock writes its events to the outbox and publishes none; the
 * publisher publishes them from there. */
static void test_only_the_publisher_publishes(void)
{
    struct work *w = request("tenant.create", tenant_create("Quiet"));
    agent.publisher = false;
    CHECK(!run_batch(&agent, &w, 1));
    CHECK_INT(nsent, 1);
    CHECK(nsent == 1 && strcmp(sent[0].topic, REPLY_TOPIC) == 0);
    forget_sent();
    agent.publisher = true;
    agent_publish_events(&agent);
    CHECK(nsent >= 1 && strstr(sent[nsent - 1].topic, "/TENANT/ENTITY_CREATED") != NULL &&
          strstr(sent[nsent - 1].body, "Quiet") != NULL);
    forget_sent();
}

/* A WORK_STOP ends the loop after the requests of its batch are answered. */
static void test_stop(void)
{
    struct work *ws[2];
    ws[0] = request("agent.ping", "{}");
    ws[1] = work_new(WORK_STOP);
    CHECK(run_batch(&agent, ws, 2));
    CHECK_INT(nsent, 1);
    CHECK(nsent == 1 && strstr(sent[0].body, "\"status\":200") != NULL);
    forget_sent();
}

int main(void)
{
    setup();
    RUN(test_one_transaction_per_batch);
    RUN(test_acks_marked);
    RUN(test_tenant_seq);
    RUN(test_only_the_publisher_publishes);
    RUN(test_stop);
    struct store *store = agent.store;
    agent_state_release(&agent);
    store_close(store);
    config_release(&cfg);
    return test_report("test_writer");
}
