/* mqtt.c: the only file that includes paho. Connects with a persistent session (clean start off,
 * session expiry), re-subscribes and re-announces the online status on every connect, sets
 * TCP_NODELAY on the broker socket (paho 1.3.12 never does, which costs ~44 ms per QoS 1 hop on
 * Nagle plus delayed ACK), copies arriving messages out of paho, and publishes. */
#include "cmagent/transport.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "cmagent/alloc.h"

#include <MQTTAsync.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct transport {
    MQTTAsync client;
    struct transport_options opt;
    struct transport_callbacks cb;
    int broker_port;
    atomic_bool connected;
    atomic_bool connecting;
    atomic_bool stopping;
    int64_t next_attempt_ms;      /* monotonic */
    int64_t backoff_ms;
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
};

struct publish_ctx {
    struct transport *t;
    uint64_t tag;
};

static int publish(struct transport *t, const char *topic, const void *payload, size_t len, int qos, bool retain,
                   const void *corr, size_t corr_len, uint64_t tag, bool may_wait);

static int port_of(const char *uri)
{
    const char *host = strstr(uri, "://");
    host = host ? host + 3 : uri;
    const char *colon = strrchr(host, ':');
    if (colon != NULL && strchr(colon, ']') == NULL)
        return atoi(colon + 1);
    return strncmp(uri, "ssl://", 6) == 0 || strncmp(uri, "mqtts://", 8) == 0 ? 8883 : 1883;
}

/* Sets TCP_NODELAY on every connected TCP socket of this process whose peer port is the broker's.
 * paho exposes no socket hook, so the socket is found by its peer (paho issue #530). */
static void set_nodelay_on_broker_socket(int port)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int set = 0;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name), type = 0, one = 1;
        socklen_t len = sizeof type;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;

        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
            continue;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
            continue;
        int peer_port = peer.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
                      : peer.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&peer)->sin6_port) : -1;
        if (peer_port == port && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
            set++;
    }
    closedir(d);
    if (set == 0)
        log_warn("Could not find the broker socket to set TCP_NODELAY; replies may be slow.");
}

static void inflight_done(struct transport *t)
{
    pthread_mutex_lock(&t->flow_lock);
    if (t->inflight > 0)
        t->inflight--;
    pthread_cond_signal(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
}

/* Counts one more QoS 1 publish; with may_wait (never on paho's own threads, which deliver the
 * PUBACKs) first waits, boundedly, until the broker has room for it. */
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

static void on_reply_done(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    inflight_done(context);
}

static void on_reply_done5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    inflight_done(context);
}

static void on_reply_failed(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    inflight_done(context);
}

static void on_reply_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    inflight_done(context);
}

static void finish_wait(struct transport *t)
{
    pthread_mutex_lock(&t->wait_lock);
    t->pending_done++;
    pthread_cond_broadcast(&t->wait_cond);
    pthread_mutex_unlock(&t->wait_lock);
}

static void on_subscribed(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    struct transport *t = context;
    log_info("Subscribed to %s.", t->opt.request_filter);
}

static void on_subscribed5(void *context, MQTTAsync_successData5 *resp)
{
    struct transport *t = context;
    if (resp != NULL && resp->reasonCode >= 0x80)
        log_error("The broker refused the subscription to %s (reason %d).", t->opt.request_filter,
                  resp->reasonCode);
    else
        log_info("Subscribed to %s.", t->opt.request_filter);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData *resp)
{
    struct transport *t = context;
    log_error("Subscribing to %s failed (%d).", t->opt.request_filter, resp ? resp->code : 0);
}

static void on_subscribe_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    struct transport *t = context;
    log_error("Subscribing to %s failed (%d).", t->opt.request_filter, resp ? resp->code : 0);
}

/* Every successful connect, including paho's automatic reconnects. */
static void on_connected(void *context, char *cause)
{
    struct transport *t = context;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

    (void)cause;
    set_nodelay_on_broker_socket(t->broker_port);
    t->connected = true;
    t->connecting = false;
    t->backoff_ms = 1000;
    log_info("Connected to %s as %s.", t->opt.broker, t->opt.client_id);
    /* what was in flight on the old connection completes, or is resent, on its own */
    pthread_mutex_lock(&t->flow_lock);
    t->inflight = 0;
    pthread_cond_broadcast(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
    ro.context = t;
    if (t->opt.mqtt_version == 5) {
        ro.onSuccess5 = on_subscribed5;
        ro.onFailure5 = on_subscribe_failed5;
    } else {
        ro.onSuccess = on_subscribed;
        ro.onFailure = on_subscribe_failed;
    }
    int rc = MQTTAsync_subscribe(t->client, t->opt.request_filter, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("Subscribing to %s failed: %s.", t->opt.request_filter, MQTTAsync_strerror(rc));
    if (t->opt.extra_filter != NULL) {
        MQTTAsync_responseOptions extra = MQTTAsync_responseOptions_initializer;
        rc = MQTTAsync_subscribe(t->client, t->opt.extra_filter, 1, &extra);
        if (rc != MQTTASYNC_SUCCESS)
            log_error("Subscribing to %s failed: %s.", t->opt.extra_filter, MQTTAsync_strerror(rc));
    }
    publish(t, t->opt.status_topic, t->opt.online_payload, strlen(t->opt.online_payload), 1, true, NULL, 0, 0,
            false);
    if (t->cb.on_connected != NULL)
        t->cb.on_connected(t->cb.context);
}

static void on_connection_lost(void *context, char *cause)
{
    struct transport *t = context;
    pthread_mutex_lock(&t->flow_lock);
    t->connected = false;
    pthread_cond_broadcast(&t->flow_cond);
    pthread_mutex_unlock(&t->flow_lock);
    if (!t->stopping)
        log_warn("Connection to %s lost%s%s; reconnecting.", t->opt.broker, cause ? ": " : "", cause ? cause : "");
}

static void on_connect_failed(void *context, MQTTAsync_failureData *resp)
{
    struct transport *t = context;
    t->connecting = false;
    t->next_attempt_ms = clock_mono_ms() + t->backoff_ms;
    log_warn("Connecting to %s failed (%s); retrying in %lld ms.", t->opt.broker,
             resp && resp->message ? resp->message : MQTTAsync_strerror(resp ? resp->code : -1),
             (long long)t->backoff_ms);
    t->backoff_ms = t->backoff_ms * 2 > 30000 ? 30000 : t->backoff_ms * 2;
}

static void on_connect_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    MQTTAsync_failureData legacy = { 0 };
    if (resp != NULL) {
        legacy.code = resp->code;
        legacy.message = resp->message;
    }
    on_connect_failed(context, &legacy);
}

static char *copy_bytes(const void *src, size_t len)
{
    char *p = xcalloc(len + 1, 1);
    memcpy(p, src, len);
    return p;
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct transport *t = context;
    struct transport_message *msg = xcalloc(1, sizeof *msg);

    msg->received_us = clock_mono_us();
    msg->topic = topic_len > 0 ? copy_bytes(topic, (size_t)topic_len) : xstrdup_or_null(topic);
    msg->payload = copy_bytes(m->payload, (size_t)m->payloadlen);
    msg->payload_len = (size_t)m->payloadlen;
    if (t->opt.mqtt_version == 5) {
        MQTTProperty *rt = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
        MQTTProperty *cd = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
        if (rt != NULL && rt->value.data.len > 0) {
            msg->response_topic = copy_bytes(rt->value.data.data, (size_t)rt->value.data.len);
            msg->response_topic_len = (size_t)rt->value.data.len;
        }
        if (cd != NULL && cd->value.data.len > 0) {
            msg->correlation = copy_bytes(cd->value.data.data, (size_t)cd->value.data.len);
            msg->correlation_len = (size_t)cd->value.data.len;
        }
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    t->cb.on_message(t->cb.context, msg);
    return 1;
}

void transport_message_free(struct transport_message *m)
{
    if (m == NULL)
        return;
    free(m->topic);
    free(m->payload);
    free(m->response_topic);
    free(m->correlation);
    free(m);
}

static void on_published(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    struct publish_ctx *pc = context;
    inflight_done(pc->t);
    if (pc->t->cb.on_acked != NULL)
        pc->t->cb.on_acked(pc->t->cb.context, pc->tag);
    free(pc);
}

static void on_published5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    on_published(context, NULL);
}

static void on_publish_failed(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    struct publish_ctx *pc = context;
    inflight_done(pc->t);
    free(pc); /* the outbox publishes the event again after the next connect */
}

static void on_publish_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    on_publish_failed(context, NULL);
}

struct transport *transport_new(const struct transport_options *opt, const struct transport_callbacks *cb,
                                char *err, size_t errlen)
{
    struct transport *t = xcalloc(1, sizeof *t);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    int rc;

    t->opt = *opt;
    t->cb = *cb;
    t->broker_port = port_of(opt->broker);
    t->backoff_ms = 1000;
    pthread_mutex_init(&t->wait_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* wait_steps' deadlines ignore clock changes */
    pthread_cond_init(&t->wait_cond, &attr);
    pthread_mutex_init(&t->flow_lock, NULL);
    pthread_cond_init(&t->flow_cond, &attr);
    pthread_condattr_destroy(&attr);
    /* MQTT 5 brokers announce their Receive Maximum in CONNACK (read in on_connect_done5); until
     * then assume mosquitto's default. MQTT 3.1.1 has no such limit. */
    t->max_inflight = opt->mqtt_version == 5 ? 20 : 65535;
    co.MQTTVersion = opt->mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    co.sendWhileDisconnected = 1;
    co.maxBufferedMessages = 1000000;
    co.deleteOldestMessages = 0;
    rc = MQTTAsync_createWithOptions(&t->client, opt->broker, opt->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot create the MQTT client for %s: %s", opt->broker, MQTTAsync_strerror(rc));
        free(t);
        return NULL;
    }
    MQTTAsync_setCallbacks(t->client, t, on_connection_lost, on_message, NULL);
    MQTTAsync_setConnected(t->client, t, on_connected);
    return t;
}

static void on_connect_done5(void *context, MQTTAsync_successData5 *resp)
{
    struct transport *t = context;
    if (resp == NULL)
        return;
    MQTTProperty *rm = MQTTProperties_getProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
    pthread_mutex_lock(&t->flow_lock);
    t->max_inflight = rm != NULL && rm->value.integer2 > 0 ? rm->value.integer2 : 65535;
    pthread_mutex_unlock(&t->flow_lock);
}

static int connect_now(struct transport *t)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *c = t->opt.mqtt_version == 5 ? &co5 : &co;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty p;
    int rc;

    c->keepAliveInterval = t->opt.keepalive;
    c->automaticReconnect = 1;
    c->minRetryInterval = 1;
    c->maxRetryInterval = 30;
    c->context = t;
    will.topicName = t->opt.status_topic;
    will.message = t->opt.offline_payload;
    will.retained = 1;
    will.qos = 1;
    c->will = &will;
    if (t->opt.username[0] != '\0')
        c->username = t->opt.username;
    if (t->opt.password[0] != '\0')
        c->password = t->opt.password;
    if (strncmp(t->opt.broker, "ssl://", 6) == 0 || strncmp(t->opt.broker, "mqtts://", 8) == 0) {
        ssl.trustStore = t->opt.cafile[0] ? t->opt.cafile : NULL;
        ssl.keyStore = t->opt.certfile[0] ? t->opt.certfile : NULL;
        ssl.privateKey = t->opt.keyfile[0] ? t->opt.keyfile : NULL;
        ssl.enableServerCertAuth = 1;
        c->ssl = &ssl;
    }
    if (t->opt.mqtt_version == 5) {
        c->cleanstart = 0;
        p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
        p.value.integer4 = (unsigned int)t->opt.session_expiry;
        MQTTProperties_add(&props, &p);
        c->connectProperties = &props;
        c->onFailure5 = on_connect_failed5;
        c->onSuccess5 = on_connect_done5;
    } else {
        c->cleansession = 0;
        c->onFailure = on_connect_failed;
    }
    t->connecting = true;
    rc = MQTTAsync_connect(t->client, c);
    MQTTProperties_free(&props);
    if (rc != MQTTASYNC_SUCCESS) {
        t->connecting = false;
        t->next_attempt_ms = clock_mono_ms() + t->backoff_ms;
        log_warn("Connecting to %s failed: %s.", t->opt.broker, MQTTAsync_strerror(rc));
        return -1;
    }
    return 0;
}

int transport_start(struct transport *t)
{
    return connect_now(t);
}

void transport_tick(struct transport *t)
{
    if (t->stopping || t->connected || t->connecting || MQTTAsync_isConnected(t->client))
        return;
    if (clock_mono_ms() >= t->next_attempt_ms)
        connect_now(t);
}

bool transport_connected(struct transport *t)
{
    return t->connected && MQTTAsync_isConnected(t->client);
}

static int publish(struct transport *t, const char *topic, const void *payload, size_t len, int qos, bool retain,
                   const void *corr, size_t corr_len, uint64_t tag, bool may_wait)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    struct publish_ctx *pc = NULL;
    MQTTProperty p;
    int rc;

    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = qos;
    msg.retained = retain;
    if (corr != NULL && t->opt.mqtt_version == 5) {
        p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
        p.value.data.data = (char *)corr;
        p.value.data.len = (int)corr_len;
        MQTTProperties_add(&msg.properties, &p);
    }
    if (qos > 0 && tag == 0) {
        ro.context = t;
        if (t->opt.mqtt_version == 5) {
            ro.onSuccess5 = on_reply_done5;
            ro.onFailure5 = on_reply_failed5;
        } else {
            ro.onSuccess = on_reply_done;
            ro.onFailure = on_reply_failed;
        }
    }
    if (tag != 0) {
        pc = xcalloc(1, sizeof *pc);
        pc->t = t;
        pc->tag = tag;
        ro.context = pc;
        if (t->opt.mqtt_version == 5) {
            ro.onSuccess5 = on_published5;
            ro.onFailure5 = on_publish_failed5;
        } else {
            ro.onSuccess = on_published;
            ro.onFailure = on_publish_failed;
        }
    }
    if (qos > 0)
        inflight_take(t, may_wait);
    rc = MQTTAsync_sendMessage(t->client, topic, &msg, &ro);
    MQTTProperties_free(&msg.properties);
    if (rc != MQTTASYNC_SUCCESS) {
        if (qos > 0)
            inflight_done(t);
        free(pc);
        log_warn("Publishing to %s failed: %s.", topic, MQTTAsync_strerror(rc));
        return -1;
    }
    return 0;
}

static void on_stop_step(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    finish_wait(context);
}

static void on_stop_step5(void *context, MQTTAsync_successData5 *resp)
{
    (void)resp;
    finish_wait(context);
}

static void on_stop_failed(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    finish_wait(context);
}

static void on_stop_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    finish_wait(context);
}

/* Waits until want asynchronous steps have finished (finish_wait) or timeout_ms have passed. */
static void wait_steps(struct transport *t, int want, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->wait_lock);
    while (t->pending_done < want) {
        if (pthread_cond_timedwait(&t->wait_cond, &t->wait_lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&t->wait_lock);
}

void transport_stop(struct transport *t, int timeout_ms)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnectOptions dopt5 = MQTTAsync_disconnectOptions_initializer5;
    MQTTAsync_disconnectOptions *d = t->opt.mqtt_version == 5 ? &dopt5 : &dopt;

    t->stopping = true;
    if (!MQTTAsync_isConnected(t->client))
        return;
    msg.payload = (void *)t->opt.offline_payload;
    msg.payloadlen = (int)strlen(t->opt.offline_payload);
    msg.qos = 1;
    msg.retained = 1;
    ro.context = t;
    if (t->opt.mqtt_version == 5) {
        ro.onSuccess5 = on_stop_step5;
        ro.onFailure5 = on_stop_failed5;
        d->onSuccess5 = on_stop_step5;
        d->onFailure5 = on_stop_failed5;
    } else {
        ro.onSuccess = on_stop_step;
        ro.onFailure = on_stop_failed;
        d->onSuccess = on_stop_step;
        d->onFailure = on_stop_failed;
    }
    t->pending_done = 0;
    if (MQTTAsync_sendMessage(t->client, t->opt.status_topic, &msg, &ro) == MQTTASYNC_SUCCESS)
        wait_steps(t, 1, timeout_ms);
    t->pending_done = 0;
    d->context = t;
    d->timeout = timeout_ms;
    if (MQTTAsync_disconnect(t->client, d) == MQTTASYNC_SUCCESS)
        wait_steps(t, 1, timeout_ms);
    t->connected = false;
}

void transport_free(struct transport *t)
{
    if (t == NULL)
        return;
    MQTTAsync_destroy(&t->client);
    pthread_mutex_destroy(&t->wait_lock);
    pthread_cond_destroy(&t->wait_cond);
    pthread_mutex_destroy(&t->flow_lock);
    pthread_cond_destroy(&t->flow_cond);
    free(t);
}

int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len, int qos,
                      bool retain, const void *corr, size_t corr_len, uint64_t tag)
{
    return publish(t, topic, payload, len, qos, retain, corr, corr_len, tag, true);
}
