/* transport.h: the agent's MQTT connection (paho MQTTAsync behind an opaque handle): a persistent
 * session, reconnects with backoff, the request subscription, the retained online/offline status
 * with a Last Will, replies with Correlation Data, and publishes acknowledged by tag. No business
 * rules live here. */
#ifndef CMAGENT_TRANSPORT_H
#define CMAGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transport_options {
    const char *broker;           /* tcp://host:port or ssl://host:port */
    const char *client_id;
    const char *username, *password;            /* "" = none */
    const char *cafile, *certfile, *keyfile;    /* "" = none */
    int mqtt_version;             /* 5 or 3 */
    int keepalive;                /* seconds */
    long session_expiry;          /* seconds (MQTT 5) */
    const char *request_filter;   /* e.g. "cm/v1/req/+" or "$share/g/cm/v1/req/+" */
    const char *extra_filter;     /* one more subscription (the dynamic-security responses), or NULL */
    const char *status_topic;
    const char *online_payload;   /* retained on every connect */
    const char *offline_payload;  /* the Last Will, and published on a clean stop */
};

/* A received request. The receiver owns it and frees it with transport_message_free(). */
struct transport_message {
    char *topic;
    char *payload;                /* NUL-terminated for convenience; payload_len excludes the NUL */
    size_t payload_len;
    char *response_topic;         /* MQTT 5 Response Topic (NUL-terminated, as it came: unchecked), or NULL */
    size_t response_topic_len;
    void *correlation;            /* MQTT 5 Correlation Data, or NULL */
    size_t correlation_len;
    int64_t received_us;          /* when it arrived, clock_mono_us() */
};

struct transport_callbacks {
    void *context;
    /* A message arrived (paho's thread): take ownership quickly, do not block. */
    void (*on_message)(void *context, struct transport_message *msg);
    /* Connected (first time or again) and subscribed. */
    void (*on_connected)(void *context);
    /* The broker acknowledged a publish made with a non-zero tag. */
    void (*on_acked)(void *context, uint64_t tag);
};

struct transport;

struct transport *transport_new(const struct transport_options *opt, const struct transport_callbacks *cb,
                                char *err, size_t errlen);

/* Starts connecting. Returns at once; connection failures are retried with backoff (1 s doubling
 * to 30 s) by transport_tick(), which the main thread calls regularly. */
int transport_start(struct transport *t);
void transport_tick(struct transport *t);
bool transport_connected(struct transport *t);

/* Publishes payload. With corr (MQTT 5), the Correlation Data property is attached. A non-zero
 * tag reports the broker's acknowledgement through on_acked. Returns 0 when paho accepted it
 * (sent or buffered while disconnected), -1 otherwise. Thread-safe. */
int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len, int qos,
                      bool retain, const void *corr, size_t corr_len, uint64_t tag);

/* Publishes the offline status and disconnects cleanly (no Last Will), waiting up to timeout_ms. */
void transport_stop(struct transport *t, int timeout_ms);
void transport_free(struct transport *t);

void transport_message_free(struct transport_message *m);

#endif
