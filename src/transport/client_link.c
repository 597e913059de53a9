/* client_link.c: a client's MQTT 5 connection to cmagent (paho MQTTAsync), what cmctl talks
 * through: a client id and a reply topic of its own,
 * <prefix>/reply/<broker username>/<nonce> when it connects with broker credentials and
 * <prefix>/reply/anon/<nonce> for requests without a token, and without credentials (what a broker
 * locked down by cmagent's broker_acl dynsec lets each read, and where the agent answers each; the
 * nonce is 128 random bits), one request at a time with its Correlation Data matched
 * on the reply, and a queue of event messages for --follow (the callbacks only queue; whoever
 * waits reads). */
#include "cmagent/client_link.h"

#include "cmagent/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <MQTTAsync.h>

struct event_msg {
    struct event_msg *next;
    char *topic, *payload;
};

struct client_link {
    MQTTAsync client;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int step;            /* 0 waiting, 1 done, -1 failed: connect and subscribe */
    char step_err[256];
    bool lost;
    char client_id[64];
    char prefix[128];
    char reply_topic[512]; /* for requests with a token */
    char anon_topic[512];  /* for requests without; the same without broker credentials */
    char corr[40];       /* the pending request's correlation data */
    unsigned long seq;
    char *reply;         /* the reply to corr, once it came */
    char event_filter[256];
    struct event_msg *events, *events_tail;
    double timeout_s;
};

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)s;
    ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits for l->step to leave 0 (the lock held); 0 done, -1 failed or timed out. */
static int wait_step(struct client_link *l)
{
    struct timespec ts;
    int rc = 0;
    deadline_in(&ts, l->timeout_s);
    while (l->step == 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cond, &l->mu, &ts);
    if (l->step == 0)
        snprintf(l->step_err, sizeof l->step_err, "no answer from the broker within %g s", l->timeout_s);
    return l->step == 1 ? 0 : -1;
}

static void step_done(struct client_link *l, int v, const char *err)
{
    pthread_mutex_lock(&l->mu);
    l->step = v;
    if (err != NULL)
        snprintf(l->step_err, sizeof l->step_err, "%s", err);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
}

static void on_ok5(void *ctx, MQTTAsync_successData5 *r)
{
    char err[128];
    if (r != NULL && r->reasonCode >= 0x80) {
        snprintf(err, sizeof err, "the broker refused: %s", MQTTReasonCode_toString(r->reasonCode));
        step_done(ctx, -1, err);
        return;
    }
    step_done(ctx, 1, NULL);
}

static void on_fail5(void *ctx, MQTTAsync_failureData5 *r)
{
    char err[256];
    snprintf(err, sizeof err, "%s%s%s", r && r->message ? r->message : MQTTAsync_strerror(r ? r->code : -1),
             r && r->reasonCode ? ": " : "", r && r->reasonCode ? MQTTReasonCode_toString(r->reasonCode) : "");
    step_done(ctx, -1, err);
}

static void on_lost(void *ctx, char *cause)
{
    struct client_link *l = ctx;
    (void)cause;
    pthread_mutex_lock(&l->mu);
    l->lost = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct client_link *l = ctx;
    char *payload = xmalloc((size_t)m->payloadlen + 1);
    memcpy(payload, m->payload, (size_t)m->payloadlen);
    payload[m->payloadlen] = '\0';
    pthread_mutex_lock(&l->mu);
    if (strcmp(topic, l->reply_topic) == 0 || strcmp(topic, l->anon_topic) == 0) {
        MQTTProperty *cd = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
        if (cd != NULL && l->reply == NULL && (size_t)cd->value.data.len == strlen(l->corr) &&
            memcmp(cd->value.data.data, l->corr, strlen(l->corr)) == 0) {
            l->reply = payload;
            payload = NULL;
        }
    } else if (l->event_filter[0]) {
        struct event_msg *e = xcalloc(1, sizeof *e);
        size_t len = topic_len > 0 ? (size_t)topic_len : strlen(topic);
        e->topic = xmalloc(len + 1);
        memcpy(e->topic, topic, len);
        e->topic[len] = '\0';
        e->payload = payload;
        payload = NULL;
        if (l->events_tail)
            l->events_tail->next = e;
        else
            l->events = e;
        l->events_tail = e;
    }
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    free(payload); /* a stale or foreign reply */
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

/* An option that is set: neither NULL nor empty. */
static bool given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool is_tls(const char *uri)
{
    return strncmp(uri, "ssl://", 6) == 0 || strncmp(uri, "mqtts://", 8) == 0 || strncmp(uri, "wss://", 6) == 0;
}

static int do_connect(struct client_link *l, const struct client_link_options *s)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    int rc;
    co.keepAliveInterval = 30;
    co.cleanstart = 1;
    co.context = l;
    co.onSuccess5 = on_ok5;
    co.onFailure5 = on_fail5;
    co.connectTimeout = (int)(s->timeout_s + 0.999);
    if (given(s->username))
        co.username = s->username;
    if (given(s->password))
        co.password = s->password;
    if (is_tls(s->broker)) {
        ssl.trustStore = given(s->cafile) ? s->cafile : NULL;
        ssl.keyStore = given(s->certfile) ? s->certfile : NULL;
        ssl.privateKey = given(s->keyfile) ? s->keyfile : NULL;
        ssl.enableServerCertAuth = !s->insecure;
        ssl.verify = !s->insecure;
        co.ssl = &ssl;
    }
    l->step = 0;
    rc = MQTTAsync_connect(l->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(l->step_err, sizeof l->step_err, "%s", MQTTAsync_strerror(rc));
        return -1;
    }
    return wait_step(l);
}

static int do_subscribe(struct client_link *l, const char *topic)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc;
    ro.context = l;
    ro.onSuccess5 = on_ok5;
    ro.onFailure5 = on_fail5;
    l->step = 0;
    rc = MQTTAsync_subscribe(l->client, topic, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(l->step_err, sizeof l->step_err, "%s", MQTTAsync_strerror(rc));
        return -1;
    }
    return wait_step(l);
}

struct client_link *client_link_open(const struct client_link_options *s, char *err, size_t errlen)
{
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    struct client_link *l = xcalloc(1, sizeof *l);
    unsigned char rnd[24] = { 0 };
    char nonce[33];
    int rc;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        snprintf(err, errlen, "no random bytes for the reply topic's nonce");
        free(l);
        return NULL;
    }
    snprintf(l->client_id, sizeof l->client_id, "cmctl-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[16], rnd[17], rnd[18],
             rnd[19], rnd[20], rnd[21], rnd[22], rnd[23]);
    for (int i = 0; i < 16; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    snprintf(l->prefix, sizeof l->prefix, "%s", s->prefix);
    snprintf(l->reply_topic, sizeof l->reply_topic, "%s/reply/%s/%s", s->prefix,
             given(s->username) ? s->username : "anon", nonce);
    snprintf(l->anon_topic, sizeof l->anon_topic, "%s/reply/anon/%s", s->prefix, nonce);
    l->timeout_s = s->timeout_s;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    cro.MQTTVersion = MQTTVERSION_5;
    rc = MQTTAsync_createWithOptions(&l->client, s->broker, l->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot use the broker URI '%s': %s", s->broker, MQTTAsync_strerror(rc));
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cond);
        free(l);
        return NULL;
    }
    MQTTAsync_setCallbacks(l->client, l, on_lost, on_message, NULL);
    pthread_mutex_lock(&l->mu);
    rc = do_connect(l, s);
    if (rc == 0 && do_subscribe(l, l->reply_topic) != 0) {
        snprintf(err, errlen, "cannot subscribe to %s on %s: %s", l->reply_topic, s->broker, l->step_err);
        rc = 1;
    } else if (rc == 0 && strcmp(l->anon_topic, l->reply_topic) != 0 && do_subscribe(l, l->anon_topic) != 0) {
        snprintf(err, errlen, "cannot subscribe to %s on %s: %s", l->anon_topic, s->broker, l->step_err);
        rc = 1;
    } else if (rc != 0)
        snprintf(err, errlen, "cannot connect to %s: %s", s->broker, l->step_err);
    pthread_mutex_unlock(&l->mu);
    if (rc != 0) {
        client_link_close(l);
        return NULL;
    }
    return l;
}

void client_link_close(struct client_link *l)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    if (l == NULL)
        return;
    d.timeout = 1000;
    if (MQTTAsync_isConnected(l->client))
        MQTTAsync_disconnect(l->client, &d);
    MQTTAsync_destroy(&l->client);
    while (l->events) {
        struct event_msg *e = l->events;
        l->events = e->next;
        free(e->topic);
        free(e->payload);
        free(e);
    }
    free(l->reply);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
    free(l);
}

const char *client_link_prefix(const struct client_link *l)
{
    return l->prefix;
}

static int send_request(struct client_link *l, const char *op, const char *payload, bool anonymous, char *err,
                        size_t errlen)
{
    const char *reply_to = anonymous ? l->anon_topic : l->reply_topic;
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTProperty p;
    char topic[512];
    int rc;
    snprintf(topic, sizeof topic, "%s/req/%s", l->prefix, op);
    m.payload = (void *)payload;
    m.payloadlen = (int)strlen(payload);
    m.qos = 1;
    p.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC;
    p.value.data.data = (char *)reply_to;
    p.value.data.len = (int)strlen(reply_to);
    MQTTProperties_add(&m.properties, &p);
    p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
    p.value.data.data = l->corr;
    p.value.data.len = (int)strlen(l->corr);
    MQTTProperties_add(&m.properties, &p);
    rc = MQTTAsync_sendMessage(l->client, topic, &m, &ro);
    MQTTProperties_free(&m.properties);
    if (rc != MQTTASYNC_SUCCESS) {
        snprintf(err, errlen, "cannot publish to %s: %s", topic, MQTTAsync_strerror(rc));
        return -1;
    }
    return 0;
}

char *client_link_request(struct client_link *l, const char *op, const char *payload, bool anonymous, char *err,
                          size_t errlen)
{
    struct timespec ts;
    char *text;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    free(l->reply);
    l->reply = NULL;
    snprintf(l->corr, sizeof l->corr, "%s#%lu", l->client_id + 6, ++l->seq);
    pthread_mutex_unlock(&l->mu);
    if (send_request(l, op, payload, anonymous, err, errlen))
        return NULL;
    pthread_mutex_lock(&l->mu);
    deadline_in(&ts, l->timeout_s);
    while (l->reply == NULL && !l->lost && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&l->cond, &l->mu, &ts);
    text = l->reply;
    l->reply = NULL;
    l->corr[0] = '\0';
    if (text == NULL)
        snprintf(err, errlen, l->lost ? "%s: the connection to the broker was lost"
                                      : "%s: no reply within %g s (is cmagent running, with topic prefix %s?)",
                 op, l->timeout_s, l->prefix);
    pthread_mutex_unlock(&l->mu);
    return text;
}

int client_link_subscribe_events(struct client_link *l, const char *filter, char *err, size_t errlen)
{
    int rc;
    pthread_mutex_lock(&l->mu);
    snprintf(l->event_filter, sizeof l->event_filter, "%s", filter);
    rc = do_subscribe(l, filter);
    if (rc != 0)
        snprintf(err, errlen, "cannot subscribe to %s: %s", filter, l->step_err);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int client_link_next_event(struct client_link *l, int timeout_ms, char **topic, char **payload)
{
    struct timespec ts;
    int rc = 0, got;
    pthread_mutex_lock(&l->mu);
    if (timeout_ms >= 0)
        deadline_in(&ts, timeout_ms / 1000.0);
    while (l->events == NULL && !l->lost && rc != ETIMEDOUT)
        rc = timeout_ms >= 0 ? pthread_cond_timedwait(&l->cond, &l->mu, &ts) : pthread_cond_wait(&l->cond, &l->mu);
    got = l->events ? 1 : l->lost ? -1 : 0;
    if (l->events) {
        struct event_msg *e = l->events;
        l->events = e->next;
        if (l->events == NULL)
            l->events_tail = NULL;
        *topic = e->topic;
        *payload = e->payload;
        free(e);
    }
    pthread_mutex_unlock(&l->mu);
    return got;
}
