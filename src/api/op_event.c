/* op_event.c: event.replay, for listeners that saw a gap in seq. */
#include "ops.h"

#include "cmagent/events.h"

int op_event_replay(struct call *c)
{
    static const char *const keys[] = { "afterSeq", "limit", NULL };
    int64_t after = 0, limit = 100;
    struct outbox_event *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_int(c, "afterSeq", false, &after, NULL) ||
        arg_int(c, "limit", false, &limit, NULL))
        return call_failed(c);
    if (events_replay(c->ctx, after, limit, &items, &n) != ERR_OK)
        return call_failed(c);
    /* Each payload is the JSON text the agent rendered and published: it goes into the reply as it
     * is, without a parsed copy (a tree of 1000 events took several times their size). */
    cJSON *events = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(events, items[i].payload != NULL ? cJSON_CreateRaw(items[i].payload) : cJSON_CreateNull());
    outbox_events_free(items, n);
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "events", events);
    return ERR_OK;
}
