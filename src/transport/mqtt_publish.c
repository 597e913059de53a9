/* mqtt_publish.c: the transport's publishes: QoS 1 flow control against the broker's Receive
 * Maximum, Correlation Data, acknowledgements by tag, and the broker's Maximum Packet Size (a
 * publish larger than it is never handed to paho: the broker would drop it and close the
 * connection, and paho would send it again after every reconnect). */
#include "transport_int.h"

#include "cmagent/log.h"
#include "cmagent/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct publish_ctx {
    struct transport *t;
    uint64_t tag;
};

static void inflight_done(struct transport *t)
{
    pthread_mutex_lock(&t->flow_lock);
    if (t->inflight > 0)
        t->inflight--;
    pthread_cond_signal(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
}

/* Counts one more QoS 1 publish; with may_wait (never on paho's own threads, which deliver the
 * PUBACKs) first waits, boundedly, until the broker has room for it. Paho holds what exceeds the
 * room until its send thread wakes (a new publish, or a second later), so a publish that gave up
 * waiting is sent with the next one. */
static void inflight_take(struct transport *t, bool may_wait)
{
    pthread_mutex_lock(&t->flow_lock);
    if (may_wait && t->connected && t->inflight >= t->max_inflight) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += 200 * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (t->connected && t->inflight >= t->max_inflight)
            if (pthread_cond_timedwait(&t->flow_cond, &t->flow_lock, &deadline) != 0)
                break;
    }
    t->inflight++;
    pthread_mutex_unlock(&t->flow_lock);
}

/* The count is not reset at a connect: every publish handed to paho ends in exactly one of its
 * callbacks, also across a reconnect (what was in flight is resent and acknowledged, or failed by
 * a clean session) and after one (what was buffered while disconnected is sent then). Zeroing it
 * here let the writer hand paho more than the broker's Receive Maximum, and paho, whose send
 * thread a PUBACK does not wake, then sent the excess 20 a second: replies waited behind events
 * for tens of seconds after a restart. */
void transport_flow_connected(struct transport *t)
{
    pthread_mutex_lock(&t->flow_lock);
    t->connected = true;
    pthread_cond_broadcast(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
}

void transport_flow_disconnected(struct transport *t)
{
    pthread_mutex_lock(&t->flow_lock);
    t->connected = false;
    pthread_cond_broadcast(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
}

/* A reply's PUBACK, or its failure: one message fewer in flight (context: the transport). */
PAHO_CALLBACKS(reply, inflight_done, inflight_done)

static void event_acked(void *context)
{
    struct publish_ctx *pc = context;
    inflight_done(pc->t);
    if (pc->t->cb.on_acked != NULL)
        pc->t->cb.on_acked(pc->t->cb.context, pc->tag);
    free(pc);
}

static void event_failed(void *context)
{
    struct publish_ctx *pc = context;
    inflight_done(pc->t);
    free(pc); /* the outbox publishes the event again after the next connect */
}

/* An event's PUBACK (the outbox learns of it) or its failure (context: a publish_ctx). */
PAHO_CALLBACKS(event, event_acked, event_failed)

static size_t varint_size(size_t n)
{
    return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/* The size of the PUBLISH packet paho makes of it (MQTT 5: with its properties). */
static size_t packet_size(const struct transport *t, const char *topic, size_t len,
                          const struct transport_publish_options *o)
{
    size_t rest = 2 + strlen(topic) + (o->qos > 0 ? 2 : 0) + len;
    if (t->opt.mqtt_version == 5) {
        size_t props = o->correlation != NULL ? 3 + o->correlation_len : 0;
        rest += varint_size(props) + props;
    }
    return 1 + varint_size(rest) + rest;
}

static void set_callbacks(struct transport *t, MQTTAsync_responseOptions *ro, const struct transport_publish_options *o,
                          struct publish_ctx **pc)
{
    bool v5 = t->opt.mqtt_version == 5;
    if (o->tag != 0) {
        *pc = xcalloc(1, sizeof **pc);
        (*pc)->t = t;
        (*pc)->tag = o->tag;
        ro->context = *pc;
        PAHO_SET(ro, v5, event);
    } else if (o->qos > 0) {
        ro->context = t;
        PAHO_SET(ro, v5, reply);
    }
}

int transport_publish_now(struct transport *t, const char *topic, const void *payload, size_t len,
                          const struct transport_publish_options *o, bool may_wait)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    struct publish_ctx *pc = NULL;
    unsigned max = t->max_packet;
    int rc;

    if (max > 0 && packet_size(t, topic, len, o) > max)
        return TRANSPORT_TOO_LARGE;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = o->qos;
    msg.retained = o->retain;
    if (o->correlation != NULL && t->opt.mqtt_version == 5) {
        MQTTProperty p;
        p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
        p.value.data.data = (char *)o->correlation;
        p.value.data.len = (int)o->correlation_len;
        MQTTProperties_add(&msg.properties, &p);
    }
    set_callbacks(t, &ro, o, &pc);
    if (o->qos > 0)
        inflight_take(t, may_wait);
    rc = MQTTAsync_sendMessage(t->client, topic, &msg, &ro);
    MQTTProperties_free(&msg.properties);
    if (rc != MQTTASYNC_SUCCESS) {
        if (o->qos > 0)
            inflight_done(t);
        free(pc);
        log_warn("Publishing to %s failed: %s.", topic, MQTTAsync_strerror(rc));
        return -1;
    }
    return 0;
}

int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len,
                      const struct transport_publish_options *opt)
{
    return transport_publish_now(t, topic, payload, len, opt, true);
}

uint32_t transport_max_packet(struct transport *t)
{
    return t->max_packet;
}
