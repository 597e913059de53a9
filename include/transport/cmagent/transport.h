/* transport.h: the agent's MQTT connection (paho MQTTAsync behind an opaque handle): a persistent
 * session, TLS, reconnects with backoff, the request subscription, the retained online/offline
 * status with a Last Will and the check that no other agent holds the same agent_id, replies with
 * Correlation Data, and publishes acknowledged by tag. No business rules live here. */
#ifndef CMAGENT_TRANSPORT_H
#define CMAGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transport_options {
    const char *broker;           /* tcp://host:port or ssl://host:port */
    const char *client_id;
    const char *agent_id;         /* for the log */
    const char *username, *password;            /* "" = none */
    /* TLS (ssl:// and mqtts:// brokers), "" = none: the broker's certificate is verified against
     * cafile and/or capath, else the system's trust store, and must name the broker's host;
     * certfile/keyfile (keyfile_password) are the client certificate of mutual TLS. */
    const char *cafile, *capath, *certfile, *keyfile, *keyfile_password;
    int mqtt_version;             /* 5 or 3 */
    int keepalive;                /* seconds */
    long session_expiry;          /* seconds (MQTT 5) */
    /* The session ends with the connection (MQTT 5 clean start and expiry 0, 3.1.1 clean session):
     * for a member of a shared subscription, whose persistent session would go on receiving its
     * share of the requests while the agent is away. */
    bool session_ends_with_connection;
    const char *request_filter;   /* e.g. "cm/v1/req/+" or "$share/g/cm/v1/req/+" */
    const char *extra_filter;     /* one more subscription (the dynamic-security responses), or NULL */
    const char *status_topic;
    const char *online_payload;   /* retained on every connect, once the status check passed */
    const char *offline_payload;  /* the Last Will, and published on a clean stop */
    /* This process's instance id, which online_payload carries as "instance":"<id>": a retained
     * status naming another instance online tells that another agent took the client id. */
    const char *instance;
};

/* Why the transport gave up (transport_tick); the values are the agent's exit codes. */
enum transport_failure {
    TRANSPORT_RUNNING = 0,
    TRANSPORT_TLS_FAILED = 3,     /* the TLS files, or the first connect failed for a TLS reason */
    TRANSPORT_TAKEN_OVER = 4,     /* another agent with the same agent_id took the client id */
};

/* transport_publish's result when the publish would exceed the broker's Maximum Packet Size
 * (MQTT 5 CONNACK): nothing was sent. */
#define TRANSPORT_TOO_LARGE (-2)

struct transport_publish_options {
    int qos;
    bool retain;
    const void *correlation;      /* MQTT 5 Correlation Data to attach, or NULL */
    size_t correlation_len;
    uint64_t tag;                 /* non-zero: the broker's acknowledgement is reported through on_acked */
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
/* Retries, names why a TLS connect failed, finishes the status check. Returns TRANSPORT_RUNNING,
 * or why the agent must stop (logged; the connection is already closed without a status). */
enum transport_failure transport_tick(struct transport *t);
bool transport_connected(struct transport *t);

/* Publishes payload as opt says. Returns 0 when paho accepted it (sent or buffered while
 * disconnected), TRANSPORT_TOO_LARGE when the broker announced a smaller Maximum Packet Size, -1
 * otherwise. Thread-safe. */
int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len,
                      const struct transport_publish_options *opt);
/* The broker's Maximum Packet Size (MQTT 5 CONNACK), 0 when it announced none. */
uint32_t transport_max_packet(struct transport *t);

/* Publishes the offline status and disconnects cleanly (no Last Will), waiting up to timeout_ms.
 * After TRANSPORT_TAKEN_OVER the status belongs to the other agent: nothing is published. */
void transport_stop(struct transport *t, int timeout_ms);
void transport_free(struct transport *t);

void transport_message_free(struct transport_message *m);

#endif
