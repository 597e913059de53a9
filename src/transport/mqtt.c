/* mqtt.c: the connection through paho (with mqtt_publish.c and mqtt_report.c the only files that
 * include paho). Connects with a persistent session (clean start off, session expiry; a member of
 * a shared subscription with a session that ends with its connection), over TLS
 * for ssl:// and mqtts:// (server certificate and host name verified), re-subscribes on every
 * connect and announces the online status once the status check (status_guard.h) passed, logs
 * the broker's DISCONNECT reason codes, sets TCP_NODELAY on the broker socket (paho 1.3.12 never
 * does, which costs ~44 ms per QoS 1 hop on Nagle plus delayed ACK) and copies arriving messages
 * out of paho. */
#include "transport_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "cmagent/alloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static void finish_wait(struct transport *t)
{
    pthread_mutex_lock(&t->wait_lock);
    t->pending_done++;
    pthread_cond_broadcast(&t->wait_cond);
    pthread_mutex_unlock(&t->wait_lock);
}

static void subscribed_ok(void *context, MQTTAsync_successData *resp)
{
    (void)resp;
    struct transport *t = context;
    log_info("Subscribed to %s.", t->opt.request_filter);
}

static void subscribed_ok5(void *context, MQTTAsync_successData5 *resp)
{
    struct transport *t = context;
    char words[160];
    if (resp != NULL && resp->reasonCode >= 0x80)
        log_error("The broker refused the subscription to %s: SUBACK %s.", t->opt.request_filter,
                  transport_reason_text(5, resp->reasonCode, words, sizeof words));
    else
        log_info("Subscribed to %s.", t->opt.request_filter);
}

static void subscribed_fail(void *context, MQTTAsync_failureData *resp)
{
    struct transport *t = context;
    log_error("Subscribing to %s failed (%d).", t->opt.request_filter, resp ? resp->code : 0);
}

static void subscribed_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    struct transport *t = context;
    log_error("Subscribing to %s failed (%d).", t->opt.request_filter, resp ? resp->code : 0);
}

static void subscribe_requests(struct transport *t)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = t;
    PAHO_SET(&ro, t->opt.mqtt_version == 5, subscribed);
    int rc = MQTTAsync_subscribe(t->client, t->opt.request_filter, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_error("Subscribing to %s failed: %s.", t->opt.request_filter, MQTTAsync_strerror(rc));
    if (t->opt.extra_filter != NULL) {
        MQTTAsync_responseOptions extra = MQTTAsync_responseOptions_initializer;
        rc = MQTTAsync_subscribe(t->client, t->opt.extra_filter, 1, &extra);
        if (rc != MQTTASYNC_SUCCESS)
            log_error("Subscribing to %s failed: %s.", t->opt.extra_filter, MQTTAsync_strerror(rc));
    }
}

/* Every successful connect, including paho's automatic reconnects. */
static void on_connected(void *context, char *cause)
{
    struct transport *t = context;

    (void)cause;
    set_nodelay_on_broker_socket(t->broker_port);
    transport_flow_connected(t);
    t->connecting = false;
    t->ever_connected = true;
    t->backoff_ms = 1000;
    t->connected_ms = clock_mono_ms();
    log_info("Connected to %s as %s.", t->opt.broker, t->opt.client_id);
    transport_status_connected(t);
    subscribe_requests(t);
    if (t->cb.on_connected != NULL)
        t->cb.on_connected(t->cb.context);
}

static void on_connection_lost(void *context, char *cause)
{
    struct transport *t = context;
    transport_flow_disconnected(t);
    transport_status_lost(t);
    if (!t->stopping)
        log_warn("Connection to %s lost after %lld ms%s%s; reconnecting.", t->opt.broker,
                 (long long)(clock_mono_ms() - t->connected_ms), cause ? ": " : "", cause ? cause : "");
}

/* MQTT 5: the broker sent DISCONNECT (on_connection_lost follows). */
static void on_disconnected(void *context, MQTTProperties *props, enum MQTTReasonCodes code)
{
    struct transport *t = context;
    char words[160];
    MQTTProperty *rs = props != NULL ? MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_REASON_STRING) : NULL;
    log_warn("The broker %s disconnected the agent: DISCONNECT %s%s%.*s%s.", t->opt.broker,
             transport_reason_text(5, code, words, sizeof words), rs != NULL ? " (\"" : "",
             rs != NULL ? rs->value.data.len : 0, rs != NULL ? rs->value.data.data : "", rs != NULL ? "\")" : "");
    if (code == MQTTREASONCODE_SESSION_TAKEN_OVER)
        log_warn("Another client connected with the client id %s; if it is another agent with agent_id %s, the "
                 "status check at the next connect stops this one.", t->opt.client_id, t->opt.agent_id);
}

static void on_connect_failed(void *context, MQTTAsync_failureData *resp)
{
    transport_report_connect_failed(context, resp != NULL ? resp->code : -1, resp != NULL ? resp->message : NULL);
}

static void on_connect_failed5(void *context, MQTTAsync_failureData5 *resp)
{
    transport_report_connect_failed(context, resp != NULL ? resp->code : -1, resp != NULL ? resp->message : NULL);
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
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);

    if (tlen == strlen(t->opt.status_topic) && memcmp(topic, t->opt.status_topic, tlen) == 0) {
        transport_status_message(t, m->payload, (size_t)m->payloadlen, m->retained != 0);
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
    }
    struct transport_message *msg = xcalloc(1, sizeof *msg);
    msg->received_us = clock_mono_us();
    msg->topic = copy_bytes(topic, tlen);
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

struct transport *transport_new(const struct transport_options *opt, const struct transport_callbacks *cb,
                                char *err, size_t errlen)
{
    struct transport *t = xcalloc(1, sizeof *t);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    int rc;

    t->opt = *opt;
    t->cb = *cb;
    t->broker_port = port_of(opt->broker);
    t->tls = strncmp(opt->broker, "ssl://", 6) == 0 || strncmp(opt->broker, "mqtts://", 8) == 0;
    t->backoff_ms = 1000;
    pthread_mutex_init(&t->wait_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* wait_steps' deadlines ignore clock changes */
    pthread_cond_init(&t->wait_cond, &attr);
    pthread_mutex_init(&t->flow_lock, NULL);
    pthread_cond_init(&t->flow_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&t->guard_lock, NULL);
    pthread_mutex_init(&t->report_lock, NULL);
    guard_init(&t->guard, opt->instance);
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
    if (opt->mqtt_version == 5)
        MQTTAsync_setDisconnected(t->client, t, on_disconnected);
    return t;
}

/* paho calls this for the first successful connect only (it forgets the callback after). */
static void on_connect_done5(void *context, MQTTAsync_successData5 *resp)
{
    struct transport *t = context;
    if (resp == NULL)
        return;
    MQTTProperty *rm = MQTTProperties_getProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
    MQTTProperty *mp = MQTTProperties_getProperty(&resp->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
    pthread_mutex_lock(&t->flow_lock);
    t->max_inflight = rm != NULL && rm->value.integer2 > 0 ? rm->value.integer2 : 65535;
    pthread_mutex_unlock(&t->flow_lock);
    t->max_packet = mp != NULL ? mp->value.integer4 : 0;
    if (mp != NULL)
        log_info("The broker's Maximum Packet Size is %u bytes: a larger reply is answered 413 instead.",
                 mp->value.integer4);
}

static int on_ssl_error(const char *str, size_t len, void *u)
{
    (void)u;
    log_debug("OpenSSL (in paho): %.*s", (int)len, str);
    return 0;
}

static void set_tls(const struct transport *t, MQTTAsync_SSLOptions *ssl)
{
    const struct transport_options *o = &t->opt;
    ssl->trustStore = o->cafile[0] ? o->cafile : NULL;
    ssl->CApath = o->capath[0] ? o->capath : NULL;
    ssl->keyStore = o->certfile[0] ? o->certfile : NULL;
    ssl->privateKey = o->keyfile[0] ? o->keyfile : NULL;
    ssl->privateKeyPassword = o->keyfile_password[0] ? o->keyfile_password : NULL;
    ssl->enableServerCertAuth = 1; /* the chain, against cafile/capath or the system's trust store */
    ssl->verify = 1;               /* and the host name (or IP address) of the broker URI */
    ssl->ssl_error_cb = on_ssl_error;
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
    if (t->tls) {
        set_tls(t, &ssl);
        c->ssl = &ssl;
    }
    if (t->opt.mqtt_version == 5) {
        c->cleanstart = t->opt.session_ends_with_connection;
        p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
        p.value.integer4 = t->opt.session_ends_with_connection ? 0 : (unsigned int)t->opt.session_expiry;
        MQTTProperties_add(&props, &p);
        c->connectProperties = &props;
        c->onFailure5 = on_connect_failed5;
        c->onSuccess5 = on_connect_done5;
    } else {
        c->cleansession = t->opt.session_ends_with_connection;
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
    if (transport_report_check_files(t) != 0)
        return -1;
    return connect_now(t);
}

/* The transport gave up: no more reconnects, and the connection (when there is one) closes with
 * a normal DISCONNECT, which discards the Last Will: the status is left as it is. */
static void retire(struct transport *t)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
    if (t->stopping)
        return;
    t->stopping = true;
    MQTTAsync_disconnect(t->client, t->opt.mqtt_version == 5 ? &d5 : &d);
}

enum transport_failure transport_tick(struct transport *t)
{
    if (t->failure == TRANSPORT_RUNNING)
        transport_report_tick(t);
    if (t->failure != TRANSPORT_RUNNING) {
        retire(t);
        return (enum transport_failure)t->failure;
    }
    transport_status_tick(t);
    if (t->stopping || t->connected || t->connecting || MQTTAsync_isConnected(t->client))
        return TRANSPORT_RUNNING;
    if (clock_mono_ms() >= t->next_attempt_ms)
        connect_now(t);
    return TRANSPORT_RUNNING;
}

bool transport_connected(struct transport *t)
{
    return t->connected && MQTTAsync_isConnected(t->client);
}

/* A step of the stop (the offline status, the disconnect) is done, whether it worked or not. */
PAHO_CALLBACKS(stop_step, finish_wait, finish_wait)

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

    if (t->failure != TRANSPORT_RUNNING)
        retire(t); /* the status belongs to the other agent, or was never announced */
    t->stopping = true;
    if (t->failure != TRANSPORT_RUNNING || !MQTTAsync_isConnected(t->client))
        return;
    msg.payload = (void *)t->opt.offline_payload;
    msg.payloadlen = (int)strlen(t->opt.offline_payload);
    msg.qos = 1;
    msg.retained = 1;
    ro.context = t;
    PAHO_SET(&ro, t->opt.mqtt_version == 5, stop_step);
    PAHO_SET(d, t->opt.mqtt_version == 5, stop_step);
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
    pthread_mutex_destroy(&t->guard_lock);
    pthread_mutex_destroy(&t->report_lock);
    free(t);
}

