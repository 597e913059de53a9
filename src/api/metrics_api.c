/* metrics_api.c: what the api gives the metrics (metrics.h): the operation names replies are
 * counted by, the status a reply body carries, and every figure as one JSON object, the data of
 * agent.stats and the payload of the stats topic. */
#include "ops.h"

#include "cmagent/metrics.h"
#include "cmagent/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_register_metrics(void)
{
    static const char *names[METRICS_OPS_MAX];
    size_t n;
    const struct op *table = ops_table(&n);

    if (n > METRICS_OPS_MAX)
        n = METRICS_OPS_MAX;
    for (size_t i = 0; i < n; i++)
        names[i] = table[i].name; /* sorted, as the table is */
    metrics_register_ops(names, n);
}

int api_reply_status(const char *body)
{
    static const char lead[] = "{\"status\":";
    if (body == NULL || strncmp(body, lead, sizeof lead - 1) != 0)
        return 0; /* every reply the api makes starts so; 0 counts as "other" */
    return (int)strtol(body + sizeof lead - 1, NULL, 10);
}

static cJSON *op_object(const struct metrics_op *m)
{
    cJSON *o = cJSON_CreateObject(), *errors = cJSON_CreateObject(), *buckets = cJSON_CreateArray();
    uint64_t cumulative = 0;

    cJSON_AddStringToObject(o, "op", m->name);
    cJSON_AddNumberToObject(o, "requests", (double)m->replies);
    for (size_t s = 0; s < METRICS_STATUS_SLOTS; s++) {
        if (m->errors[s] == 0)
            continue;
        char status[16];
        int code = metrics_status_of_slot(s);
        snprintf(status, sizeof status, code != 0 ? "%d" : "other", code);
        cJSON_AddNumberToObject(errors, status, (double)m->errors[s]);
    }
    cJSON_AddItemToObject(o, "errors", errors);
    for (size_t b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
        cumulative += m->latency[b];
        if (b + 1 == METRICS_LATENCY_BUCKETS)
            break; /* +Inf is the count */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "le", metrics_latency_bound(b));
        cJSON_AddNumberToObject(e, "count", (double)cumulative);
        cJSON_AddItemToArray(buckets, e);
    }
    cJSON_AddNumberToObject(o, "latencyCount", (double)cumulative);
    cJSON_AddNumberToObject(o, "latencySumMs", (double)m->latency_us_sum / 1000.0);
    cJSON_AddItemToObject(o, "latencyBuckets", buckets);
    return o;
}

static void add_group_commit(cJSON *o)
{
    struct stats_snapshot st;
    stats_snapshot(&st);
    cJSON *sizes = cJSON_CreateArray();
    for (size_t i = 0; i < STATS_BATCH_BUCKETS; i++) {
        if (st.buckets[i] == 0)
            continue;
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "upTo", (double)stats_bucket_upper(i));
        cJSON_AddNumberToObject(b, "transactions", (double)st.buckets[i]);
        cJSON_AddItemToArray(sizes, b);
    }
    cJSON_AddNumberToObject(o, "transactions", (double)st.batches);
    cJSON_AddNumberToObject(o, "requests", (double)st.requests);
    cJSON_AddNumberToObject(o, "meanBatch", st.batches ? (double)st.requests / (double)st.batches : 0.0);
    cJSON_AddNumberToObject(o, "maxBatch", (double)st.max_batch);
    cJSON_AddNumberToObject(o, "failedCommits", (double)st.failed_commits);
    cJSON_AddNumberToObject(o, "replayed", (double)st.replayed);
    cJSON_AddNumberToObject(o, "throttled", (double)st.throttled);
    cJSON_AddNumberToObject(o, "passwordHashes", (double)st.password_hashes);
    cJSON_AddNumberToObject(o, "writerPasswordHashes", (double)st.writer_password_hashes);
    cJSON_AddNumberToObject(o, "refusedReplies", (double)st.refused_replies);
    cJSON_AddNumberToObject(o, "reads", (double)st.reads);
    cJSON_AddNumberToObject(o, "commitUsTotal", (double)st.commit_us);
    cJSON_AddNumberToObject(o, "commitUsMax", (double)st.max_commit_us);
    cJSON_AddItemToObject(o, "batchSizes", sizes);
}

cJSON *api_stats_object(void)
{
    cJSON *o = cJSON_CreateObject(), *ops = cJSON_CreateArray();
    struct metrics_op m;

    add_group_commit(o);
    cJSON_AddNumberToObject(o, "queueDepth", (double)metrics_gauge(METRICS_QUEUE_DEPTH));
    cJSON_AddNumberToObject(o, "eventsPublished", (double)metrics_gauge(METRICS_EVENTS_PUBLISHED));
    cJSON_AddNumberToObject(o, "eventsUnacknowledged", (double)metrics_gauge(METRICS_EVENTS_UNACKED));
    cJSON_AddBoolToObject(o, "brokerConnected", metrics_gauge(METRICS_BROKER_CONNECTED) != 0);
    for (size_t i = 0; metrics_op_at(i, &m); i++)
        if (m.replies > 0)
            cJSON_AddItemToArray(ops, op_object(&m));
    cJSON_AddItemToObject(o, "operations", ops);
    return o;
}

char *api_stats_payload(const char *agent_id, int64_t now_ms)
{
    cJSON *o = api_stats_object();
    cJSON_AddStringToObject(o, "agentId", agent_id);
    cJSON_AddNumberToObject(o, "timestamp", (double)now_ms);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
