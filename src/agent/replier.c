/* replier.c: the replier thread, which answers the requests admission refused (429) on the
 * thread that received them: paho's thread, which receives, must not wait for room among the
 * publishes in flight, whose acknowledgements it delivers. Such a request wrote nothing, so its
 * reply waits for no commit and no writer. */
#include "agent_int.h"

#include "cmagent/stats.h"

#include <stdlib.h>
#include <string.h>

/* Hands a request admission refused to the replier thread. */
void agent_refuse(struct agent *a, struct work *w, const char *why)
{
    stats_record_throttled();
    log_debug("%s -> 429 before queueing: %s", agent_op_of(a, w->msg), why);
    w->refusal = xstrdup_or_null(why);
    queue_push(&a->refusals, &w->node);
}

/* Answers a refused request: it wrote nothing, so its reply waits for no commit and no writer. */
static void answer_refusal(struct agent *a, struct work *w)
{
    const struct transport_message *m = w->msg;
    char *topic = agent_reply_topic_of(a, m);
    char *body = api_error_body(ERR_RATE_LIMITED, w->refusal, m->payload, m->payload_len);

    agent_send_reply(a, m, topic, body);
    free(topic);
    free(body);
}

void *agent_replier_main(void *arg)
{
    struct agent *a = arg;
    for (;;) {
        size_t n = 0;
        struct queue_node *node = queue_pop_many(&a->refusals, 256, -1, &n);
        while (node != NULL) {
            struct work *w = (struct work *)node;
            node = node->next;
            if (w->kind == WORK_STOP) {
                free(w);
                return NULL; /* pushed after the last refusal */
            }
            answer_refusal(a, w);
            transport_message_free(w->msg);
            free(w->refusal);
            free(w);
        }
    }
}
