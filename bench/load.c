/* bench/load.c: cm-load, the load generator and latency tool for cmagent (or anything answering the
 * same MQTT 5 request/reply contract, such as cm-echo). Sends a bounded number of requests with a fixed
 * number in flight and reports round-trip latency percentiles and throughput. */
#include "nodelay.h"

#include <MQTTAsync.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum slot_state { SLOT_UNSENT = 0, SLOT_PENDING, SLOT_DONE, SLOT_TIMEDOUT, SLOT_FAILED };

struct slot {
    uint64_t t0; /* CLOCK_MONOTONIC ns at the publish call */
    unsigned char state;
};

struct opts {
    const char *broker;
    const char *prefix;
    const char *op;
    const char *data;
    const char *token;
    const char *label;
    const char *client_id;
    long count;
    long warmup;
    long window;
    long timeout_ms;
    int qos;
    int expect_status; /* 0: do not check */
    int json;
    int nodelay;
};

struct run {
    struct opts o;
    MQTTAsync client;
    char run_id[17];
    char reply_topic[512];
    char request_topic[512];
    int broker_port;

    /* the envelope with each "{n}" of --data still in it, and where those placeholders sit */
    char *envelope;
    size_t envelope_len;
    size_t *holes;
    size_t nholes;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* everything below is guarded by mu */
    int connect_state;   /* 0 waiting, 1 connected, -1 failed */
    int subscribe_state; /* 0 waiting, 1 subscribed, -1 failed */
    int stop;            /* set by a signal or a lost connection */
    const char *stop_reason;
    struct slot *slots; /* index = sequence number - 1 */
    size_t total;       /* warmup + count */
    size_t measured_from; /* sequence numbers above this are measured */
    size_t phase_end;   /* sequence numbers up to this may be sent now */
    size_t next;        /* next sequence number to send (1-based) */
    size_t low;         /* every slot below this index is finished */
    size_t inflight;
    size_t finished;
    uint64_t *lat;      /* measured latencies, ns */
    size_t nlat;
    uint64_t t_start, t_last;
    unsigned long errors, timeouts, late, strays, send_failures;
    size_t unanswered, unsent; /* when the run was cut short */
    /* QoS 1/2 requests not yet acknowledged by the broker, kept below its Receive Maximum: past it
     * paho 1.3.12 parks publishes in its queue and, since a PUBACK does not wake its send thread,
     * may leave them there for up to a second */
    size_t unacked;
    size_t recv_max;
};

/* The run; the publish callbacks get a slot as context and find the run here. */
static struct run g_run;

static volatile sig_atomic_t g_signalled;

static void on_signal(int sig)
{
    g_signalled = sig;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cm-load [OPTION]...\n"
            "Send COUNT MQTT 5 requests to PREFIX/req/OP, WINDOW at a time, and report round-trip\n"
            "latency (publish call to reply arrival, CLOCK_MONOTONIC) and throughput.\n"
            "Each request carries a Response Topic unique to the run (<prefix>/reply/anon/cmload<run>) and\n"
            "Correlation Data = its sequence number; the payload is {\"token\":TOKEN,\"data\":DATA}.\n"
            "\n"
            "  -b, --broker URI        broker (default tcp://127.0.0.1:1883)\n"
            "  -p, --prefix P          topic prefix (default cm/v1)\n"
            "  -o, --op OP             operation (default agent.ping)\n"
            "  -d, --data JSON         the envelope's data member; \"{n}\" is replaced by the request's\n"
            "                          sequence number (1, 2, ...) and \"{run}\" by the run id, e.g.\n"
            "                          --data '{\"title\":\"bench {run} {n}\"}' (default: no data)\n"
            "  -k, --token TOKEN       the envelope's token (default: no token)\n"
            "  -n, --count N           measured requests (default 1000)\n"
            "  -w, --window W          requests in flight (default 1)\n"
            "      --warmup N          requests sent and awaited first, not measured (default 0)\n"
            "  -q, --qos N             QoS of requests and of the reply subscription (default 1)\n"
            "  -T, --timeout-ms MS     per-request reply timeout; a late reply is ignored (default 10000)\n"
            "  -s, --expect-status N   count replies whose JSON \"status\" is not N as errors; 0 does not\n"
            "                          look at replies (for cm-echo) (default 200)\n"
            "  -l, --label TEXT        label printed with the results\n"
            "  -j, --json              print one JSON line of results instead of text\n"
            "  -i, --client-id ID      MQTT client identifier (default cm-load-<run>)\n"
            "      --no-nodelay        leave Nagle's algorithm on (to measure what TCP_NODELAY saves)\n"
            "  -h, --help              show this help and exit\n"
            "\n"
            "Errors and timeouts cover warmup requests too; latency, elapsed time and throughput cover\n"
            "the measured requests only; the JSON line's cpu_ms is cm-load's own CPU time (user +\n"
            "system, all threads, the whole run). A run cut short (SIGINT, SIGTERM, lost connection) reports what it\n"
            "measured plus how many requests were unanswered or never sent. Exit status: 0 when every\n"
            "request got a good reply in time, 1 otherwise (errors, timeouts, no connection, cut short),\n"
            "2 on a usage error.\n");
}

/* ---------- payload ---------- */

/* Appends s as a JSON string literal. */
static int json_quote(char **buf, size_t *len, size_t *cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t need = *len + 2 + strlen(s) * 6 + 1;

    if (need > *cap || *buf == NULL) {
        char *nb = realloc(*buf, need);

        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = need;
    }
    (*buf)[(*len)++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char *o = *buf + *len;

        if (*p == '"' || *p == '\\') {
            o[0] = '\\';
            o[1] = (char)*p;
            *len += 2;
        } else if (*p < 0x20) {
            o[0] = '\\';
            o[1] = 'u';
            o[2] = '0';
            o[3] = '0';
            o[4] = hex[*p >> 4];
            o[5] = hex[*p & 15];
            *len += 6;
        } else {
            o[0] = (char)*p;
            *len += 1;
        }
    }
    (*buf)[(*len)++] = '"';
    (*buf)[*len] = '\0';
    return 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *nb = realloc(*buf, ncap);

        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Builds {"token":T,"data":D} with "{run}" in D replaced and the offsets of each "{n}" recorded. */
static int build_envelope(struct run *r)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    size_t maxholes;
    int members = 0;

    if (append(&buf, &len, &cap, "{", 1) != 0)
        goto fail;
    if (r->o.token != NULL) {
        if (append(&buf, &len, &cap, "\"token\":", 8) != 0 || json_quote(&buf, &len, &cap, r->o.token) != 0)
            goto fail;
        members++;
    }
    maxholes = r->o.data != NULL ? strlen(r->o.data) / 3 + 1 : 1;
    r->holes = calloc(maxholes, sizeof *r->holes);
    if (r->holes == NULL)
        goto fail;
    if (r->o.data != NULL) {
        const char *p = r->o.data;

        if ((members && append(&buf, &len, &cap, ",", 1) != 0) || append(&buf, &len, &cap, "\"data\":", 7) != 0)
            goto fail;
        while (*p) {
            if (strncmp(p, "{n}", 3) == 0) {
                r->holes[r->nholes++] = len;
                if (append(&buf, &len, &cap, p, 3) != 0)
                    goto fail;
                p += 3;
            } else if (strncmp(p, "{run}", 5) == 0) {
                if (append(&buf, &len, &cap, r->run_id, strlen(r->run_id)) != 0)
                    goto fail;
                p += 5;
            } else {
                if (append(&buf, &len, &cap, p, 1) != 0)
                    goto fail;
                p++;
            }
        }
    }
    if (append(&buf, &len, &cap, "}", 1) != 0)
        goto fail;
    r->envelope = buf;
    r->envelope_len = len;
    return 0;
fail:
    free(buf);
    return -1;
}

/* The envelope of request `seq`, malloc'ed; *out_len gets its length. */
static char *payload_for(const struct run *r, size_t seq, size_t *out_len)
{
    char num[24];
    int nlen = snprintf(num, sizeof num, "%zu", seq);
    size_t len = r->envelope_len + r->nholes * ((size_t)nlen - 3);
    char *p = malloc(len + 1);
    size_t from = 0, o = 0;

    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < r->nholes; i++) {
        memcpy(p + o, r->envelope + from, r->holes[i] - from);
        o += r->holes[i] - from;
        memcpy(p + o, num, (size_t)nlen);
        o += (size_t)nlen;
        from = r->holes[i] + 3;
    }
    memcpy(p + o, r->envelope + from, r->envelope_len - from);
    o += r->envelope_len - from;
    p[o] = '\0';
    *out_len = o;
    return p;
}

/* ---------- request / reply ---------- */

/* Marks a pending request finished; called with mu held. */
static void finish_locked(struct run *r, size_t seq, int state, uint64_t t)
{
    struct slot *s = &r->slots[seq - 1];

    s->state = (unsigned char)state;
    r->inflight--;
    r->finished++;
    r->t_last = t;
    while (r->low + 1 < r->next && r->slots[r->low].state >= SLOT_DONE)
        r->low++;
    if (r->finished >= r->phase_end)
        pthread_cond_broadcast(&r->cv);
}

static void pump(struct run *r);

/* The broker acknowledged a QoS 1/2 request: room under its Receive Maximum again. */
static void on_published(void *context, MQTTAsync_successData5 *resp)
{
    struct run *r = &g_run;

    (void)context;
    (void)resp;
    pthread_mutex_lock(&r->mu);
    if (r->unacked > 0)
        r->unacked--;
    pthread_mutex_unlock(&r->mu);
    pump(r);
}

static void on_publish_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct run *r = &g_run;
    size_t seq = (size_t)((struct slot *)context - r->slots) + 1;

    pthread_mutex_lock(&r->mu);
    if (r->unacked > 0)
        r->unacked--;
    if (!r->stop && r->slots[seq - 1].state == SLOT_PENDING) {
        if (r->send_failures == 0)
            fprintf(stderr, "cm-load: request %zu refused by the broker: %s\n", seq,
                    resp->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR
                        ? MQTTReasonCode_toString(resp->reasonCode)
                        : (resp->message ? resp->message : MQTTAsync_strerror(resp->code)));
        r->send_failures++;
        r->errors++;
        finish_locked(r, seq, SLOT_FAILED, now_ns());
    }
    pthread_mutex_unlock(&r->mu);
    pump(r);
}

/* Sends requests until the window is full or the phase has nothing left to send. Never called with
 * mu held: paho's receive thread holds paho's own lock while it runs on_message, which takes mu. */
static void pump(struct run *r)
{
    for (;;) {
        MQTTAsync_message msg = MQTTAsync_message_initializer;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        MQTTProperty prop;
        char corr[24];
        size_t seq, plen = 0;
        char *payload;
        int rc;

        pthread_mutex_lock(&r->mu);
        if (r->stop || r->inflight >= (size_t)r->o.window || r->next > r->phase_end ||
            (r->o.qos > 0 && r->unacked >= r->recv_max)) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
        seq = r->next++;
        r->inflight++;
        if (r->o.qos > 0)
            r->unacked++;
        pthread_mutex_unlock(&r->mu);

        payload = payload_for(r, seq, &plen);
        memset(&prop, 0, sizeof prop);
        prop.identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC;
        prop.value.data.data = r->reply_topic;
        prop.value.data.len = (int)strlen(r->reply_topic);
        MQTTProperties_add(&msg.properties, &prop);
        memset(&prop, 0, sizeof prop);
        prop.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
        prop.value.data.data = corr;
        prop.value.data.len = snprintf(corr, sizeof corr, "%zu", seq);
        MQTTProperties_add(&msg.properties, &prop);
        msg.payload = payload;
        msg.payloadlen = (int)plen;
        msg.qos = r->o.qos;
        if (r->o.qos > 0) {
            ro.onSuccess5 = on_published;
            ro.onFailure5 = on_publish_failed;
            ro.context = &r->slots[seq - 1];
        }

        pthread_mutex_lock(&r->mu);
        r->slots[seq - 1].state = SLOT_PENDING;
        r->slots[seq - 1].t0 = now_ns();
        pthread_mutex_unlock(&r->mu);

        /* paho only sends a message's properties when a responseOptions is given */
        rc = payload != NULL ? MQTTAsync_sendMessage(r->client, r->request_topic, &msg, &ro) : MQTTASYNC_FAILURE;
        MQTTProperties_free(&msg.properties);
        free(payload);
        if (rc != MQTTASYNC_SUCCESS) {
            pthread_mutex_lock(&r->mu);
            if (r->o.qos > 0)
                r->unacked--;
            if (r->slots[seq - 1].state == SLOT_PENDING) {
                if (r->send_failures == 0)
                    fprintf(stderr, "cm-load: publish to %s failed: %s\n", r->request_topic,
                            MQTTAsync_strerror(rc));
                r->send_failures++;
                r->errors++;
                finish_locked(r, seq, SLOT_FAILED, now_ns());
            }
            pthread_mutex_unlock(&r->mu);
        }
    }
}

/* The reply's "status" member when it is a JSON object with an integer status, else -1. */
static int reply_status(const MQTTAsync_message *msg)
{
    cJSON *doc = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
    const cJSON *st = doc != NULL ? cJSON_GetObjectItemCaseSensitive(doc, "status") : NULL;
    int status = st != NULL && cJSON_IsNumber(st) ? st->valueint : -1;

    cJSON_Delete(doc);
    return status;
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct run *r = context;
    uint64_t t = now_ns();
    MQTTProperty *cd = MQTTProperties_getProperty(&msg->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
    size_t seq = 0;
    int bad = 0;

    (void)topic_len;
    if (cd != NULL && cd->value.data.len > 0 && cd->value.data.len < 21) {
        for (int i = 0; i < cd->value.data.len; i++) {
            char c = cd->value.data.data[i];

            if (c < '0' || c > '9') {
                seq = 0;
                break;
            }
            seq = seq * 10 + (size_t)(c - '0');
        }
    }
    if (r->o.expect_status != 0 && reply_status(msg) != r->o.expect_status)
        bad = 1;

    pthread_mutex_lock(&r->mu);
    if (r->stop) {
        r->late++; /* the run is over (or interrupted): the figures are final */
    } else if (seq >= 1 && seq <= r->total && r->slots[seq - 1].state == SLOT_PENDING) {
        if (seq > r->measured_from)
            r->lat[r->nlat++] = t - r->slots[seq - 1].t0;
        if (bad) {
            if (r->errors == 0)
                fprintf(stderr, "cm-load: request %zu: unexpected reply: %.*s\n", seq,
                        msg->payloadlen > 300 ? 300 : msg->payloadlen, (const char *)msg->payload);
            r->errors++;
        }
        finish_locked(r, seq, SLOT_DONE, t);
    } else if (seq >= 1 && seq <= r->total && r->slots[seq - 1].state == SLOT_TIMEDOUT) {
        r->late++;
    } else {
        r->strays++;
    }
    pthread_mutex_unlock(&r->mu);

    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    pump(r);
    return 1;
}

static void on_connection_lost(void *context, char *cause)
{
    struct run *r = context;

    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    r->stop_reason = "connection lost";
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    fprintf(stderr, "cm-load: connection to %s lost: %s\n", r->o.broker, cause ? cause : "no reason given");
}

static void on_connected(void *context, MQTTAsync_successData5 *resp)
{
    struct run *r = context;
    int n = r->o.nodelay ? cm_nodelay_apply(r->broker_port) : 0;
    size_t recv_max = 65535; /* MQTT 5 default when the broker does not say */

    if (MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        int v = MQTTProperties_getNumericValue(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);

        if (v > 0)
            recv_max = (size_t)v;
    }
    if (r->o.nodelay && n <= 0)
        fprintf(stderr, "cm-load: warning: no TCP socket to port %d found, TCP_NODELAY not set\n",
                r->broker_port);
    pthread_mutex_lock(&r->mu);
    r->recv_max = recv_max;
    r->connect_state = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct run *r = context;

    fprintf(stderr, "cm-load: cannot connect to %s: %s\n", r->o.broker,
            resp->message ? resp->message : MQTTAsync_strerror(resp->code));
    pthread_mutex_lock(&r->mu);
    r->connect_state = -1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_subscribed(void *context, MQTTAsync_successData5 *resp)
{
    struct run *r = context;
    int granted = (int)resp->reasonCode; /* one topic: the granted QoS or a failure code */

    if (granted >= 0x80)
        fprintf(stderr, "cm-load: subscription to %s refused: %s\n", r->reply_topic,
                MQTTReasonCode_toString((enum MQTTReasonCodes)granted));
    pthread_mutex_lock(&r->mu);
    r->subscribe_state = granted >= 0x80 ? -1 : 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *resp)
{
    struct run *r = context;

    fprintf(stderr, "cm-load: subscribe to %s failed: %s\n", r->reply_topic,
            resp->message ? resp->message : MQTTAsync_strerror(resp->code));
    pthread_mutex_lock(&r->mu);
    r->subscribe_state = -1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void deadline_in(struct timespec *ts, uint64_t at_ns)
{
    ts->tv_sec = (time_t)(at_ns / 1000000000u);
    ts->tv_nsec = (long)(at_ns % 1000000000u);
}

/* Waits with mu held until *state leaves 0, a signal arrives, or timeout_ms passes. */
static int wait_state_locked(struct run *r, const int *state, long timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;

    while (*state == 0 && !g_signalled) {
        uint64_t t = now_ns();
        struct timespec ts;

        if (t >= end)
            return 0;
        deadline_in(&ts, t + 100000000u < end ? t + 100000000u : end);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    return *state;
}

/* Runs sequence numbers up to `end`, waiting until every one of them is answered, timed out or
 * failed; expires overdue requests, which frees their place in the window. */
static void run_phase(struct run *r, size_t end)
{
    uint64_t tmo = (uint64_t)r->o.timeout_ms * 1000000u;

    pthread_mutex_lock(&r->mu);
    r->phase_end = end;
    pthread_mutex_unlock(&r->mu);
    pump(r);

    pthread_mutex_lock(&r->mu);
    while (r->finished < r->phase_end && !r->stop) {
        uint64_t t = now_ns();
        uint64_t wake = t + 100000000u; /* look at signals at least every 100 ms */
        size_t expired = 0;
        struct timespec ts;

        if (g_signalled) {
            r->stop = 1;
            r->stop_reason = "interrupted";
            break;
        }
        for (size_t i = r->low; i < r->next - 1; i++) {
            struct slot *s = &r->slots[i];

            if (s->state != SLOT_PENDING)
                continue;
            if (t - s->t0 >= tmo) {
                r->timeouts++;
                expired++;
                finish_locked(r, i + 1, SLOT_TIMEDOUT, t);
            } else if (s->t0 + tmo < wake) {
                wake = s->t0 + tmo;
            }
        }
        if (expired > 0) {
            pthread_mutex_unlock(&r->mu);
            pump(r);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        deadline_in(&ts, wake);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
}

/* ---------- results ---------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v, in ms. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0.0;
    rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e6;
}

static void print_json_string(const char *s)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (s == NULL || json_quote(&buf, &len, &cap, s) != 0)
        fputs("null", stdout);
    else
        fputs(buf, stdout);
    free(buf);
}

/* CPU time (user + system, all threads) this process has used so far, in ms. */
static double own_cpu_ms(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void report(struct run *r)
{
    double elapsed = r->t_last > r->t_start ? (double)(r->t_last - r->t_start) / 1e9 : 0.0;
    double rps = elapsed > 0 ? (double)r->nlat / elapsed : 0.0;
    double p50, p90, p99, pmax;

    qsort(r->lat, r->nlat, sizeof *r->lat, cmp_u64);
    p50 = pct_ms(r->lat, r->nlat, 50);
    p90 = pct_ms(r->lat, r->nlat, 90);
    p99 = pct_ms(r->lat, r->nlat, 99);
    pmax = r->nlat > 0 ? (double)r->lat[r->nlat - 1] / 1e6 : 0.0;

    if (r->o.json) {
        fputs("{\"label\":", stdout);
        print_json_string(r->o.label);
        fputs(",\"op\":", stdout);
        print_json_string(r->o.op);
        printf(",\"count\":%ld,\"replies\":%zu,\"warmup\":%ld,\"window\":%ld,\"qos\":%d,\"nodelay\":%s,"
               "\"errors\":%lu,\"timeouts\":%lu,\"elapsed_s\":%.3f,\"throughput_rps\":%.1f,"
               "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f",
               r->o.count, r->nlat, r->o.warmup, r->o.window, r->o.qos, r->o.nodelay ? "true" : "false",
               r->errors, r->timeouts, elapsed, rps, p50, p90, p99, pmax);
        printf(",\"cpu_ms\":%.1f", own_cpu_ms());
        if (r->late > 0 || r->strays > 0)
            printf(",\"late\":%lu,\"strays\":%lu", r->late, r->strays);
        if (r->stop_reason != NULL) {
            fputs(",\"aborted\":", stdout);
            print_json_string(r->stop_reason);
            printf(",\"unanswered\":%zu,\"unsent\":%zu", r->unanswered, r->unsent);
        }
        fputs("}\n", stdout);
    } else {
        if (r->o.label != NULL)
            printf("label       %s\n", r->o.label);
        printf("op          %s  (window %ld, qos %d, warmup %ld, nodelay %s)\n", r->o.op, r->o.window, r->o.qos,
               r->o.warmup, r->o.nodelay ? "on" : "off");
        printf("count       %ld  (%zu replies measured)\n", r->o.count, r->nlat);
        printf("errors      %lu\n", r->errors);
        printf("timeouts    %lu\n", r->timeouts);
        if (r->late > 0 || r->strays > 0)
            printf("late/stray  %lu / %lu\n", r->late, r->strays);
        printf("elapsed     %.3f s\n", elapsed);
        printf("throughput  %.1f req/s\n", rps);
        printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50, p90, p99, pmax);
        if (r->stop_reason != NULL)
            printf("aborted     %s (%zu unanswered, %zu never sent)\n", r->stop_reason, r->unanswered, r->unsent);
    }
    fflush(stdout);
}

/* ---------- main ---------- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_WARMUP = 256, OPT_NO_NODELAY };
    static const struct option longopts[] = {
        {"broker", required_argument, NULL, 'b'},
        {"prefix", required_argument, NULL, 'p'},
        {"op", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'd'},
        {"token", required_argument, NULL, 'k'},
        {"count", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'w'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"qos", required_argument, NULL, 'q'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"expect-status", required_argument, NULL, 's'},
        {"label", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"client-id", required_argument, NULL, 'i'},
        {"no-nodelay", no_argument, NULL, OPT_NO_NODELAY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    long v;

    while ((opt = getopt_long(argc, argv, "b:p:o:d:k:n:w:q:T:s:l:ji:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b': o->broker = optarg; break;
        case 'p': o->prefix = optarg; break;
        case 'o': o->op = optarg; break;
        case 'd': o->data = optarg; break;
        case 'k': o->token = optarg; break;
        case 'l': o->label = optarg; break;
        case 'j': o->json = 1; break;
        case 'i': o->client_id = optarg; break;
        case OPT_NO_NODELAY: o->nodelay = 0; break;
        case 'n':
            if (parse_long(optarg, 1, 100000000L, &o->count) != 0) {
                fprintf(stderr, "cm-load: --count must be 1..100000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            if (parse_long(optarg, 1, 65535, &o->window) != 0) {
                fprintf(stderr, "cm-load: --window must be 1..65535, not '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_WARMUP:
            if (parse_long(optarg, 0, 100000000L, &o->warmup) != 0) {
                fprintf(stderr, "cm-load: --warmup must be 0..100000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'q':
            if (parse_long(optarg, 0, 2, &v) != 0) {
                fprintf(stderr, "cm-load: --qos must be 0, 1 or 2, not '%s'\n", optarg);
                return 2;
            }
            o->qos = (int)v;
            break;
        case 'T':
            if (parse_long(optarg, 1, 3600000L, &o->timeout_ms) != 0) {
                fprintf(stderr, "cm-load: --timeout-ms must be 1..3600000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (parse_long(optarg, 0, 999, &v) != 0) {
                fprintf(stderr, "cm-load: --expect-status must be 0..999, not '%s'\n", optarg);
                return 2;
            }
            o->expect_status = (int)v;
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
        fprintf(stderr, "cm-load: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (*o->op == '\0' || strpbrk(o->op, "/+#") != NULL) {
        fprintf(stderr, "cm-load: --op must be a non-empty name without '/', '+' or '#'\n");
        return 2;
    }
    if (strpbrk(o->prefix, "+#") != NULL) {
        fprintf(stderr, "cm-load: --prefix must not contain '+' or '#'\n");
        return 2;
    }
    return -1;
}

/* Checks that --data is JSON once its placeholders are filled in. */
static int check_data(const struct run *r)
{
    size_t len = 0;
    char *sample = payload_for(r, 1, &len);
    cJSON *doc = sample != NULL ? cJSON_ParseWithLength(sample, len) : NULL;
    int ok = doc != NULL;

    if (!ok)
        fprintf(stderr, "cm-load: --data is not valid JSON (request 1 would be: %s)\n", sample ? sample : "?");
    cJSON_Delete(doc);
    free(sample);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct run *r = &g_run;
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_responseOptions sub = MQTTAsync_responseOptions_initializer;
    MQTTAsync_disconnectOptions disc = MQTTAsync_disconnectOptions_initializer5;
    pthread_condattr_t ca;
    struct sigaction sa;
    unsigned char rnd[8];
    char client_id[64];
    int rc, st;

    r->o.broker = "tcp://127.0.0.1:1883";
    r->o.prefix = "cm/v1";
    r->o.op = "agent.ping";
    r->o.count = 1000;
    r->o.window = 1;
    r->o.qos = 1;
    r->o.timeout_ms = 10000;
    r->o.expect_status = 200;
    r->o.nodelay = 1;
    rc = parse_args(argc, argv, &r->o);
    if (rc >= 0)
        return rc;

    r->broker_port = cm_broker_port(r->o.broker);
    if (r->broker_port < 0) {
        fprintf(stderr, "cm-load: cannot tell the port of broker URI '%s'\n", r->o.broker);
        return 2;
    }
    if (r->broker_port == 0)
        r->o.nodelay = 0; /* not TCP: nothing to do */
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t x = now_ns() ^ ((uint64_t)getpid() << 32);

        memcpy(rnd, &x, sizeof rnd);
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(r->run_id + 2 * i, 3, "%02x", rnd[i]);
    /* The agent answers only under <prefix>/reply/; the anonymous form works with every broker_acl. */
    snprintf(r->reply_topic, sizeof r->reply_topic, "%s%sreply/anon/cmload%.16s", r->o.prefix, *r->o.prefix ? "/" : "",
             r->run_id);
    if (snprintf(r->request_topic, sizeof r->request_topic, "%s%sreq/%s", r->o.prefix, *r->o.prefix ? "/" : "",
                 r->o.op) >= (int)sizeof r->request_topic) {
        fprintf(stderr, "cm-load: --prefix and --op are too long\n");
        return 2;
    }
    if (r->o.client_id == NULL) {
        snprintf(client_id, sizeof client_id, "cm-load-%.16s", r->run_id);
        r->o.client_id = client_id;
    }
    if (build_envelope(r) != 0) {
        fprintf(stderr, "cm-load: out of memory\n");
        return 1;
    }
    if (r->o.data != NULL && check_data(r) != 0)
        return 2;

    r->total = (size_t)r->o.warmup + (size_t)r->o.count;
    r->measured_from = (size_t)r->o.warmup;
    r->slots = calloc(r->total, sizeof *r->slots);
    r->lat = calloc((size_t)r->o.count, sizeof *r->lat);
    if (r->slots == NULL || r->lat == NULL) {
        fprintf(stderr, "cm-load: out of memory for %zu requests\n", r->total);
        return 1;
    }
    r->next = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* paho refuses publishes beyond maxBufferedMessages queued commands, even while connected */
    co.maxBufferedMessages = (int)r->o.window + 1000;
    rc = MQTTAsync_createWithOptions(&r->client, r->o.broker, r->o.client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "cm-load: cannot create client for %s: %s\n", r->o.broker, MQTTAsync_strerror(rc));
        return 1;
    }
    MQTTAsync_setCallbacks(r->client, r, on_connection_lost, on_message, NULL);
    conn.keepAliveInterval = 30;
    conn.cleanstart = 1;
    conn.connectTimeout = 10;
    conn.onSuccess5 = on_connected;
    conn.onFailure5 = on_connect_failed;
    conn.context = r;

    /* never call paho holding mu: its callbacks run under paho's lock and take mu */
    rc = MQTTAsync_connect(r->client, &conn);
    st = 0;
    if (rc == MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&r->mu);
        st = wait_state_locked(r, &r->connect_state, 15000);
        pthread_mutex_unlock(&r->mu);
    }
    if (st != 1) {
        if (rc != MQTTASYNC_SUCCESS)
            fprintf(stderr, "cm-load: cannot connect to %s: %s\n", r->o.broker, MQTTAsync_strerror(rc));
        else if (st == 0)
            fprintf(stderr, "cm-load: no connection to %s (%s)\n", r->o.broker,
                    g_signalled ? "interrupted" : "timed out");
        MQTTAsync_destroy(&r->client);
        return 1;
    }

    sub.onSuccess5 = on_subscribed;
    sub.onFailure5 = on_subscribe_failed;
    sub.context = r;
    rc = MQTTAsync_subscribe(r->client, r->reply_topic, r->o.qos, &sub);
    st = 0;
    if (rc == MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&r->mu);
        st = wait_state_locked(r, &r->subscribe_state, 15000);
        pthread_mutex_unlock(&r->mu);
    }
    if (st != 1) {
        if (rc != MQTTASYNC_SUCCESS)
            fprintf(stderr, "cm-load: subscribe to %s failed: %s\n", r->reply_topic, MQTTAsync_strerror(rc));
        else if (st == 0)
            fprintf(stderr, "cm-load: no answer to the subscription to %s (%s)\n", r->reply_topic,
                    g_signalled ? "interrupted" : "timed out");
        MQTTAsync_disconnect(r->client, &disc);
        MQTTAsync_destroy(&r->client);
        return 1;
    }

    if (r->o.qos > 0 && (size_t)r->o.window > r->recv_max)
        fprintf(stderr, "cm-load: note: the broker's Receive Maximum is %zu; past it a request waits for a PUBACK "
                "before it is published\n", r->recv_max);
    if (r->o.warmup > 0)
        run_phase(r, r->measured_from);
    pthread_mutex_lock(&r->mu);
    r->t_start = now_ns();
    r->t_last = r->t_start;
    pthread_mutex_unlock(&r->mu);
    run_phase(r, r->total);

    /* stop the flow before reading the figures: a late reply must not race with the report */
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    r->unsent = r->total - (r->next - 1);
    r->unanswered = (r->next - 1) - r->finished;
    pthread_mutex_unlock(&r->mu);
    disc.timeout = 1000;
    MQTTAsync_disconnect(r->client, &disc);
    for (int i = 0; i < 100 && MQTTAsync_isConnected(r->client); i++)
        usleep(10000);
    MQTTAsync_destroy(&r->client);

    report(r);
    free(r->slots);
    free(r->lat);
    free(r->holes);
    free(r->envelope);
    return (r->errors == 0 && r->timeouts == 0 && r->stop_reason == NULL) ? 0 : 1;
}
