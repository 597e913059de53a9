/* transport_int.h: what the transport's own files share: the handle and the functions one file
 * gives the others. Never included outside src/transport/. */
#ifndef CMAGENT_TRANSPORT_INT_H
#define CMAGENT_TRANSPORT_INT_H

#include "cmagent/transport.h"

#include "status_guard.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdatomic.h>

struct transport {
    MQTTAsync client;
    struct transport_options opt;
    struct transport_callbacks cb;
    int broker_port;
    bool tls;                     /* an ssl:// or mqtts:// broker */
    atomic_bool connected;
    atomic_bool connecting;
    atomic_bool stopping;
    atomic_bool ever_connected;   /* a connect of this process succeeded */
    int64_t next_attempt_ms;      /* monotonic */
    int64_t backoff_ms;
    int64_t connected_ms;         /* monotonic, of the last connect */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    int pending_done;             /* completions awaited by transport_stop */
    /* Flow control of QoS 1 publishes. Past the broker's Receive Maximum paho holds a publish
     * until its send thread wakes, which without other traffic is up to a second later (measured:
     * 1 s stalls at 64 requests in flight against mosquitto's default of 20). The writer waits for
     * a PUBACK instead, which on a nearby broker takes a fraction of a millisecond. */
    pthread_mutex_t flow_lock;
    pthread_cond_t flow_cond;     /* signalled on every completed QoS 1 publish */
    int inflight;                 /* QoS 1 publishes handed to paho and not yet completed */
    int max_inflight;             /* the broker's Receive Maximum */
    atomic_uint max_packet;       /* the broker's Maximum Packet Size, 0: none announced */
    /* The status check (status_guard.h), under guard_lock. */
    pthread_mutex_t guard_lock;
    struct status_guard guard;
    /* A failed connect whose reason the main thread is to find out and log (mqtt_report.c). */
    pthread_mutex_t report_lock;
    bool report_pending;
    char report_paho[256];        /* paho's words for it */
    /* Why the transport gave up (transport_tick returns it). */
    atomic_int failure;
};

/* Paho's MQTT 3 and MQTT 5 completion callbacks differ in their data's type alone. For a call whose
 * data nobody reads, PAHO_CALLBACKS(name, ok, fail) defines the four callbacks name_ok, name_ok5,
 * name_fail and name_fail5, which call ok(context) or fail(context); PAHO_SET(opts, v5, name) puts the
 * pair of the connection's MQTT version into a response or disconnect options struct. */
#define PAHO_CALLBACKS(name, ok, fail)                                                                  \
    static void name##_ok(void *c, MQTTAsync_successData *r) { (void)r; ok(c); }                       \
    static void name##_ok5(void *c, MQTTAsync_successData5 *r) { (void)r; ok(c); }                     \
    static void name##_fail(void *c, MQTTAsync_failureData *r) { (void)r; fail(c); }                   \
    static void name##_fail5(void *c, MQTTAsync_failureData5 *r) { (void)r; fail(c); }
#define PAHO_SET(opts, v5, name)                                                                        \
    do {                                                                                                \
        if (v5) {                                                                                       \
            (opts)->onSuccess5 = name##_ok5;                                                            \
            (opts)->onFailure5 = name##_fail5;                                                          \
        } else {                                                                                        \
            (opts)->onSuccess = name##_ok;                                                              \
            (opts)->onFailure = name##_fail;                                                            \
        }                                                                                               \
    } while (0)

/* mqtt_publish.c */
int transport_publish_now(struct transport *t, const char *topic, const void *payload, size_t len,
                          const struct transport_publish_options *opt, bool may_wait);
void transport_flow_connected(struct transport *t);
void transport_flow_disconnected(struct transport *t);

/* mqtt_status.c */
void transport_status_connected(struct transport *t);
void transport_status_lost(struct transport *t);
void transport_status_message(struct transport *t, const char *payload, size_t len, bool retained);
void transport_status_tick(struct transport *t);

/* mqtt_report.c */
/* "0x86 Bad User Name or Password" (MQTT 5 reason codes) or the MQTT 3.1.1 CONNACK return code's words. */
const char *transport_reason_text(int mqtt_version, int code, char *buf, size_t len);
/* A connect failed (paho's thread): a refusal in CONNACK is logged at once; a TLS connect's
 * failure is left to transport_report_tick, which finds out why. */
void transport_report_connect_failed(struct transport *t, int code, const char *message);
/* The main thread: names why the last TLS connect failed; on the first connect of the process, a
 * TLS reason sets failure TRANSPORT_TLS_FAILED. */
void transport_report_tick(struct transport *t);
/* Checks the TLS files before the first connect; a problem sets failure TRANSPORT_TLS_FAILED. */
int transport_report_check_files(struct transport *t);

#endif
