/* op_agent.c: agent.ping, agent.ops and agent.stats, the operations about the agent itself. */
#include "ops.h"

#include "cmagent/clock.h"
#include "cmagent/model.h"
#include "cmagent/perm.h"
#include "cmagent/stats.h"

int64_t api_started_mono_ms(void);

int op_agent_ping(struct call *c)
{
    static const char *const keys[] = { NULL };
    if (args_allow(c, keys))
        return call_failed(c);
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "version", CMAGENT_VERSION);
    cJSON_AddNumberToObject(c->result, "uptimeMs", (double)(clock_mono_ms() - api_started_mono_ms()));
    return ERR_OK;
}

int op_agent_ops(struct call *c)
{
    static const char *const keys[] = { NULL };
    static const enum authority all[] = { AUTHORITY_SYS_ADMIN, AUTHORITY_TENANT_ADMIN, AUTHORITY_CUSTOMER_USER };
    size_t n;
    const struct op *table = ops_table(&n);

    if (args_allow(c, keys))
        return call_failed(c);
    cJSON *ops = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *auth = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "name", table[i].name);
        if (table[i].flags & OP_ANONYMOUS)
            cJSON_AddItemToArray(auth, cJSON_CreateString("ANONYMOUS"));
        for (size_t a = 0; a < 3; a++)
            if (table[i].authorities & AUTH_BIT(all[a]))
                cJSON_AddItemToArray(auth, cJSON_CreateString(authority_name(all[a])));
        cJSON_AddItemToObject(o, "authorities", auth);
        cJSON_AddStringToObject(o, "summary", table[i].summary);
        cJSON_AddBoolToObject(o, "idempotent", (table[i].flags & OP_IDEMPOTENT) != 0);
        cJSON_AddBoolToObject(o, "read", (table[i].flags & OP_READ) != 0);
        cJSON_AddItemToArray(ops, o);
    }
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "ops", ops);
    return ERR_OK;
}

int op_agent_stats(struct call *c)
{
    static const char *const keys[] = { NULL };
    struct stats_snapshot st;

    if (args_allow(c, keys))
        return call_failed(c);
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
    c->result = cJSON_CreateObject();
    cJSON_AddNumberToObject(c->result, "transactions", (double)st.batches);
    cJSON_AddNumberToObject(c->result, "requests", (double)st.requests);
    cJSON_AddNumberToObject(c->result, "meanBatch", st.batches ? (double)st.requests / (double)st.batches : 0.0);
    cJSON_AddNumberToObject(c->result, "maxBatch", (double)st.max_batch);
    cJSON_AddNumberToObject(c->result, "failedCommits", (double)st.failed_commits);
    cJSON_AddNumberToObject(c->result, "replayed", (double)st.replayed);
    cJSON_AddNumberToObject(c->result, "throttled", (double)st.throttled);
    cJSON_AddNumberToObject(c->result, "passwordHashes", (double)st.password_hashes);
    cJSON_AddNumberToObject(c->result, "writerPasswordHashes", (double)st.writer_password_hashes);
    cJSON_AddNumberToObject(c->result, "refusedReplies", (double)st.refused_replies);
    cJSON_AddNumberToObject(c->result, "reads", (double)st.reads);
    cJSON_AddNumberToObject(c->result, "commitUsTotal", (double)st.commit_us);
    cJSON_AddNumberToObject(c->result, "commitUsMax", (double)st.max_commit_us);
    cJSON_AddItemToObject(c->result, "batchSizes", sizes);
    return ERR_OK;
}
