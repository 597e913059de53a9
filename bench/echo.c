/* bench/echo.c: cm-echo, the physical floor for cmagent's latency. An MQTT 5 client that answers
 * every request on the request topic filter by publishing its payload, unchanged, to the request's
 * Response Topic with the Correlation Data copied: the same broker round trip as the agent, with no
 * work in between. With --event-topic it also publishes each request's payload there, so that every
 * request costs the three QoS 1 messages of a customer.create (request, reply, event). */
#include "nodelay.h"

#include <MQTTAsync.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A reply waiting for room under the broker's Receive Maximum. */
struct reply {
    struct reply *next;
    char *topic;
    void *payload;
    int payload_len;
    void *corr; /* NULL: the request had no Correlation Data */
    int corr_len;
};

struct echo {
    MQTTAsync client;
    const char *broker;
    const char *topic;
    const char *event_topic; /* NULL: replies only */
    int qos;
    int nodelay;
    int broker_port;
    int verbose;
    atomic_int exit_code;
    atomic_ulong echoed;
    atomic_ulong events;
    atomic_ulong no_reply_topic;
    atomic_ulong send_failed;

    /* QoS 1/2 replies not yet acknowledged by the broker are kept below its Receive Maximum, the
     * rest wait here: past it paho 1.3.12 parks publishes in its own queue and, since a PUBACK does
     * not wake its send thread, may leave them there for up to a second. */
    pthread_mutex_t mu;
    int unacked;
    int recv_max;
    struct reply *head, *tail;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cm-echo [OPTION]...\n"
            "Answer every MQTT 5 request with its own payload: subscribe to a topic filter and publish\n"
            "each message back to its Response Topic with the Correlation Data copied. The physical\n"
            "floor for cmagent's request latency. Runs until SIGINT or SIGTERM, then exits 0.\n"
            "\n"
            "  -b, --broker URI      broker to connect to (default tcp://127.0.0.1:1883)\n"
            "  -t, --topic FILTER    request topic filter to subscribe (default cm/v1/req/+)\n"
            "  -q, --qos N           QoS of the subscription and of the replies, 0..2 (default 1)\n"
            "  -i, --client-id ID    MQTT client identifier (default cm-echo-<pid>)\n"
            "  -e, --event-topic T   also publish each request's payload to topic T (no Correlation\n"
            "                        Data), after its reply: the three QoS 1 messages of a write\n"
            "                        (request, reply, event)\n"
            "  -v, --verbose         log each reply's topic on stderr\n"
            "      --no-nodelay      leave Nagle's algorithm on (to measure what TCP_NODELAY saves)\n"
            "  -h, --help            show this help and exit\n"
            "\n"
            "Messages without a Response Topic are counted and dropped. Prints \"cm-echo: ready\" on\n"
            "stderr once subscribed, and totals on exit. A lost connection is re-established (and\n"
            "subscribed again) automatically. Exit status: 0 after a signal, 1 when the broker cannot\n"
            "be reached at start or refuses the subscription, 2 on a usage error. QoS 1/2 replies and\n"
            "events are kept under the broker's Receive Maximum (its CONNACK; mosquitto's default is\n"
            "20), the rest queued in order until a PUBACK makes room.\n");
}

/* Ends the sigwait() in main with the given exit status. */
static void stop_with(struct echo *e, int code)
{
    atomic_store(&e->exit_code, code);
    kill(getpid(), SIGTERM);
}

static void on_published(void *context, MQTTAsync_successData5 *resp);
static void on_publish_failed(void *context, MQTTAsync_failureData5 *resp);

/* Publishes one reply; the bytes are copied by paho before this returns. */
static void send_reply(struct echo *e, const char *topic, void *payload, int payload_len, void *corr, int corr_len)
{
    MQTTAsync_message out = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc;

    out.payload = payload;
    out.payloadlen = payload_len;
    out.qos = e->qos;
    if (corr != NULL) {
        MQTTProperty p;

        memset(&p, 0, sizeof p);
        p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
        p.value.data.data = corr; /* MQTTProperties_add copies the bytes */
        p.value.data.len = corr_len;
        MQTTProperties_add(&out.properties, &p);
    }
    if (e->qos > 0) {
        ro.onSuccess5 = on_published;
        ro.onFailure5 = on_publish_failed;
        ro.context = e;
    }
    /* paho only sends a message's properties when a responseOptions is given */
    rc = MQTTAsync_sendMessage(e->client, topic, &out, &ro);
    MQTTProperties_free(&out.properties);
    if (rc == MQTTASYNC_SUCCESS) {
        atomic_fetch_add(e->event_topic != NULL && strcmp(topic, e->event_topic) == 0 ? &e->events : &e->echoed, 1);
        if (e->verbose)
            fprintf(stderr, "cm-echo: reply to %s (%d bytes)\n", topic, payload_len);
        return;
    }
    atomic_fetch_add(&e->send_failed, 1);
    fprintf(stderr, "cm-echo: reply to %s failed: %s\n", topic, MQTTAsync_strerror(rc));
    if (e->qos > 0) {
        pthread_mutex_lock(&e->mu);
        if (e->unacked > 0)
            e->unacked--;
        pthread_mutex_unlock(&e->mu);
    }
}

static void free_reply(struct reply *q)
{
    free(q->topic);
    free(q->payload);
    free(q->corr);
    free(q);
}

/* Sends queued replies while there is room under the broker's Receive Maximum. */
static void drain(struct echo *e)
{
    for (;;) {
        struct reply *q;

        pthread_mutex_lock(&e->mu);
        q = e->head;
        if (q == NULL || e->unacked >= e->recv_max) {
            pthread_mutex_unlock(&e->mu);
            return;
        }
        e->head = q->next;
        if (e->head == NULL)
            e->tail = NULL;
        e->unacked++;
        pthread_mutex_unlock(&e->mu);
        send_reply(e, q->topic, q->payload, q->payload_len, q->corr, q->corr_len);
        free_reply(q);
    }
}

static void on_published(void *context, MQTTAsync_successData5 *resp)
{
    struct echo *e = context;

    (void)resp;
    pthread_mutex_lock(&e->mu);
    if (e->unacked > 0)
        e->unacked--;
    pthread_mutex_unlock(&e->mu);
    drain(e);
}

static void on_publish_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct echo *e = context;

    atomic_fetch_add(&e->send_failed, 1);
    if (resp->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        fprintf(stderr, "cm-echo: reply refused by the broker: %s\n", MQTTReasonCode_toString(resp->reasonCode));
    else
        fprintf(stderr, "cm-echo: reply not delivered: %s\n",
                resp->message ? resp->message : MQTTAsync_strerror(resp->code));
    pthread_mutex_lock(&e->mu);
    if (e->unacked > 0)
        e->unacked--;
    pthread_mutex_unlock(&e->mu);
    drain(e);
}

/* Copies a message into the queue; 0 on success. corr NULL: no Correlation Data. */
static int enqueue(struct echo *e, const char *topic, const void *payload, int payload_len, const void *corr,
                   int corr_len)
{
    struct reply *q = calloc(1, sizeof *q);

    if (q == NULL)
        return -1;
    q->topic = strdup(topic);
    q->payload = malloc(payload_len > 0 ? (size_t)payload_len : 1);
    q->payload_len = payload_len;
    if (corr != NULL) {
        q->corr = malloc(corr_len > 0 ? (size_t)corr_len : 1);
        q->corr_len = corr_len;
    }
    if (q->topic == NULL || q->payload == NULL || (corr != NULL && q->corr == NULL)) {
        free_reply(q);
        return -1;
    }
    if (payload_len > 0)
        memcpy(q->payload, payload, (size_t)payload_len);
    if (corr != NULL && corr_len > 0)
        memcpy(q->corr, corr, (size_t)corr_len);
    pthread_mutex_lock(&e->mu);
    if (e->tail != NULL)
        e->tail->next = q;
    else
        e->head = q;
    e->tail = q;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

/* Publishes a message now when the broker has room for it and nothing waits before it, else queues
 * it behind the others. */
static void emit(struct echo *e, const char *topic, void *payload, int payload_len, void *corr, int corr_len)
{
    int now = 1;

    if (e->qos > 0) {
        pthread_mutex_lock(&e->mu);
        now = e->head == NULL && e->unacked < e->recv_max;
        if (now)
            e->unacked++;
        pthread_mutex_unlock(&e->mu);
    }
    if (now) {
        send_reply(e, topic, payload, payload_len, corr, corr_len);
    } else if (enqueue(e, topic, payload, payload_len, corr, corr_len) != 0) {
        atomic_fetch_add(&e->send_failed, 1);
        fprintf(stderr, "cm-echo: out of memory queueing a message to %s\n", topic);
    } else {
        drain(e); /* a PUBACK may have come in meanwhile */
    }
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct echo *e = context;
    MQTTProperty *rt = MQTTProperties_getProperty(&msg->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    MQTTProperty *cd = MQTTProperties_getProperty(&msg->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
    char *dest;

    (void)topic_len;
    if (rt == NULL || rt->value.data.len <= 0) {
        atomic_fetch_add(&e->no_reply_topic, 1);
        goto done;
    }
    dest = strndup(rt->value.data.data, (size_t)rt->value.data.len);
    if (dest == NULL) {
        atomic_fetch_add(&e->send_failed, 1);
        goto done;
    }
    emit(e, dest, msg->payload, msg->payloadlen, cd != NULL ? cd->value.data.data : NULL,
         cd != NULL ? cd->value.data.len : 0);
    if (e->event_topic != NULL)
        emit(e, e->event_topic, msg->payload, msg->payloadlen, NULL, 0);
    free(dest);
done:
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_subscribed(void *context, MQTTAsync_successData5 *resp)
{
    struct echo *e = context;
    int granted = (int)resp->reasonCode; /* one topic: the granted QoS or a failure code */
    int recv_max;

    if (granted >= 0x80) {
        fprintf(stderr, "cm-echo: subscription to %s refused: %s\n", e->topic,
                MQTTReasonCode_toString((enum MQTTReasonCodes)granted));
        stop_with(e, 1);
        return;
    }
    pthread_mutex_lock(&e->mu);
    recv_max = e->recv_max;
    pthread_mutex_unlock(&e->mu);
    fprintf(stderr,
            "cm-echo: ready (%s, topic %s, qos %d granted %d, broker receive maximum %d, nodelay %s, events %s)\n",
            e->broker, e->topic, e->qos, granted, recv_max, e->nodelay ? "on" : "off",
            e->event_topic != NULL ? e->event_topic : "off");
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct echo *e = context;

    fprintf(stderr, "cm-echo: subscribe to %s failed: %s\n", e->topic,
            resp->message ? resp->message : MQTTAsync_strerror(resp->code));
    stop_with(e, 1);
}

/* Called after every successful connect, the first and each automatic reconnect: the session is
 * clean, so the subscription is made again, and the new socket needs TCP_NODELAY again. */
static void on_connected(void *context, char *cause)
{
    struct echo *e = context;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc;

    (void)cause;
    pthread_mutex_lock(&e->mu);
    e->unacked = 0; /* a clean start forgets what was in flight */
    pthread_mutex_unlock(&e->mu);
    if (e->nodelay) {
        int n = cm_nodelay_apply(e->broker_port);

        if (n <= 0)
            fprintf(stderr, "cm-echo: warning: no TCP socket to port %d found, TCP_NODELAY not set\n",
                    e->broker_port);
    }
    ro.onSuccess5 = on_subscribed;
    ro.onFailure5 = on_subscribe_failed;
    ro.context = e;
    rc = MQTTAsync_subscribe(e->client, e->topic, e->qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "cm-echo: subscribe to %s failed: %s\n", e->topic, MQTTAsync_strerror(rc));
        stop_with(e, 1);
    }
    drain(e);
}

/* The first connect: learn the broker's Receive Maximum (reconnects keep it). */
static void on_connect_ok(void *context, MQTTAsync_successData5 *resp)
{
    struct echo *e = context;
    int recv_max = 65535; /* MQTT 5 default when the broker does not say */

    if (MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        int v = MQTTProperties_getNumericValue(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);

        if (v > 0)
            recv_max = v;
    }
    pthread_mutex_lock(&e->mu);
    e->recv_max = recv_max;
    pthread_mutex_unlock(&e->mu);
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct echo *e = context;

    fprintf(stderr, "cm-echo: cannot connect to %s: %s\n", e->broker,
            resp->message ? resp->message : MQTTAsync_strerror(resp->code));
    stop_with(e, 1);
}

static void on_connection_lost(void *context, char *cause)
{
    struct echo *e = context;

    fprintf(stderr, "cm-echo: connection to %s lost (%s), reconnecting\n", e->broker,
            cause ? cause : "no reason given");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_NO_NODELAY = 256 };
    static const struct option longopts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"qos", required_argument, NULL, 'q'},
        {"client-id", required_argument, NULL, 'i'},
        {"event-topic", required_argument, NULL, 'e'},
        {"verbose", no_argument, NULL, 'v'},
        {"no-nodelay", no_argument, NULL, OPT_NO_NODELAY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct echo e;
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_disconnectOptions disc = MQTTAsync_disconnectOptions_initializer5;
    const char *client_id = NULL;
    char default_id[64];
    sigset_t sigs;
    int sig = 0;
    int opt;
    int rc;

    e.broker = "tcp://127.0.0.1:1883";
    e.topic = "cm/v1/req/+";
    e.qos = 1;
    e.nodelay = 1;
    e.recv_max = 65535;
    pthread_mutex_init(&e.mu, NULL);
    while ((opt = getopt_long(argc, argv, "b:t:q:i:e:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            e.broker = optarg;
            break;
        case 't':
            e.topic = optarg;
            break;
        case 'q':
            if (parse_int(optarg, 0, 2, &e.qos) != 0) {
                fprintf(stderr, "cm-echo: --qos must be 0, 1 or 2, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i':
            client_id = optarg;
            break;
        case 'e':
            if (*optarg == '\0' || strpbrk(optarg, "+#") != NULL) {
                fprintf(stderr, "cm-echo: --event-topic must be a topic name without '+' or '#'\n");
                return 2;
            }
            e.event_topic = optarg;
            break;
        case 'v':
            e.verbose = 1;
            break;
        case OPT_NO_NODELAY:
            e.nodelay = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cm-echo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (*e.topic == '\0') {
        fprintf(stderr, "cm-echo: --topic must not be empty\n");
        return 2;
    }
    e.broker_port = cm_broker_port(e.broker);
    if (e.broker_port < 0) {
        fprintf(stderr, "cm-echo: cannot tell the port of broker URI '%s'\n", e.broker);
        return 2;
    }
    if (e.broker_port == 0)
        e.nodelay = 0; /* not TCP: nothing to do */
    if (client_id == NULL) {
        snprintf(default_id, sizeof default_id, "cm-echo-%ld", (long)getpid());
        client_id = default_id;
    }

    /* Signals are taken by sigwait() below; block them before paho starts its threads. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    co.maxBufferedMessages = 100000; /* it also bounds queued publishes while connected */
    rc = MQTTAsync_createWithOptions(&e.client, e.broker, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "cm-echo: cannot create client for %s: %s\n", e.broker, MQTTAsync_strerror(rc));
        return 1;
    }
    MQTTAsync_setCallbacks(e.client, &e, on_connection_lost, on_message, NULL);
    MQTTAsync_setConnected(e.client, &e, on_connected);

    conn.keepAliveInterval = 30;
    conn.cleanstart = 1;
    conn.connectTimeout = 10;
    conn.automaticReconnect = 1;
    conn.minRetryInterval = 1;
    conn.maxRetryInterval = 5;
    conn.onSuccess5 = on_connect_ok;
    conn.onFailure5 = on_connect_failed;
    conn.context = &e;
    rc = MQTTAsync_connect(e.client, &conn);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "cm-echo: cannot connect to %s: %s\n", e.broker, MQTTAsync_strerror(rc));
        MQTTAsync_destroy(&e.client);
        return 1;
    }

    sigwait(&sigs, &sig);

    disc.timeout = 2000;
    MQTTAsync_disconnect(e.client, &disc);
    /* give the DISCONNECT a moment to leave; the broker drops the session either way */
    for (int i = 0; i < 20 && MQTTAsync_isConnected(e.client); i++)
        usleep(10000);
    MQTTAsync_destroy(&e.client);
    while (e.head != NULL) {
        struct reply *q = e.head;

        e.head = q->next;
        free_reply(q);
    }
    fprintf(stderr, "cm-echo: echoed %lu, %lu events, dropped %lu without Response Topic, %lu failed sends\n",
            atomic_load(&e.echoed), atomic_load(&e.events), atomic_load(&e.no_reply_topic),
            atomic_load(&e.send_failed));
    return atomic_load(&e.exit_code);
}
