/* op_agent.c: agent.ping, agent.ops and agent.stats, the operations about the agent itself. */
#include "ops.h"

#include "cmagent/clock.h"
#include "cmagent/model.h"
#include "cmagent/perm.h"

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

    if (args_allow(c, keys))
        return call_failed(c);
    c->result = api_stats_object();
    return ERR_OK;
}
