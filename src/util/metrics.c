/* metrics.c: the per-operation reply counters, error counts by status and latency histograms, the
 * gauges, and their rendering in the Prometheus text format with the group-commit figures of
 * stats.c. Lock-free: relaxed atomics, one per figure. */
#include "cmagent/metrics.h"

#include "cmagent/alloc.h"
#include "cmagent/clock.h"
#include "cmagent/stats.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct op_counters {
    _Atomic uint64_t replies;
    _Atomic uint64_t errors[METRICS_STATUS_SLOTS];
    _Atomic uint64_t latency[METRICS_LATENCY_BUCKETS];
    _Atomic uint64_t latency_us_sum;
    _Atomic uint64_t latency_count;
};

static const char *const *op_names;
static size_t nops;
static struct op_counters counters[METRICS_OPS_MAX + 1]; /* the last used one: "unknown" */
static _Atomic int64_t gauges[METRICS_GAUGES];

static const int status_slots[METRICS_STATUS_SLOTS - 1] = { 400, 401, 403, 404, 409, 413, 424, 429, 500, 503 };
static const uint64_t latency_bounds_us[METRICS_LATENCY_BUCKETS - 1] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const latency_labels[METRICS_LATENCY_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
};

void metrics_register_ops(const char *const *names, size_t n)
{
    op_names = names;
    nops = n < METRICS_OPS_MAX ? n : METRICS_OPS_MAX;
}

static size_t op_index(const char *op)
{
    size_t lo = 0, hi = nops;
    while (op != NULL && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(op, op_names[mid]);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return nops;
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < METRICS_STATUS_SLOTS - 1; i++)
        if (status_slots[i] == status)
            return i;
    return METRICS_STATUS_SLOTS - 1;
}

static size_t latency_bucket(uint64_t us)
{
    size_t i = 0;
    while (i < METRICS_LATENCY_BUCKETS - 1 && us > latency_bounds_us[i])
        i++;
    return i;
}

void metrics_record_reply(const char *op, int status, int64_t received_mono_us)
{
    struct op_counters *c = &counters[op_index(op)];
    atomic_fetch_add_explicit(&c->replies, 1, memory_order_relaxed);
    if (status != 200)
        atomic_fetch_add_explicit(&c->errors[status_slot(status)], 1, memory_order_relaxed);
    if (received_mono_us <= 0)
        return;
    int64_t now = clock_mono_us();
    uint64_t us = now > received_mono_us ? (uint64_t)(now - received_mono_us) : 0;
    atomic_fetch_add_explicit(&c->latency[latency_bucket(us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->latency_us_sum, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->latency_count, 1, memory_order_relaxed);
}

void metrics_gauge_set(enum metrics_gauge g, int64_t v) { atomic_store_explicit(&gauges[g], v, memory_order_relaxed); }

void metrics_gauge_add(enum metrics_gauge g, int64_t delta)
{
    int64_t cur = atomic_load_explicit(&gauges[g], memory_order_relaxed), next;
    do {
        next = cur + delta < 0 ? 0 : cur + delta;
    } while (!atomic_compare_exchange_weak_explicit(&gauges[g], &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

int64_t metrics_gauge(enum metrics_gauge g) { return atomic_load_explicit(&gauges[g], memory_order_relaxed); }

bool metrics_op_at(size_t i, struct metrics_op *out)
{
    if (i > nops)
        return false;
    const struct op_counters *c = &counters[i];
    out->name = i < nops ? op_names[i] : "unknown";
    out->replies = atomic_load_explicit(&c->replies, memory_order_relaxed);
    for (size_t s = 0; s < METRICS_STATUS_SLOTS; s++)
        out->errors[s] = atomic_load_explicit(&c->errors[s], memory_order_relaxed);
    for (size_t b = 0; b < METRICS_LATENCY_BUCKETS; b++)
        out->latency[b] = atomic_load_explicit(&c->latency[b], memory_order_relaxed);
    out->latency_us_sum = atomic_load_explicit(&c->latency_us_sum, memory_order_relaxed);
    out->latency_count = atomic_load_explicit(&c->latency_count, memory_order_relaxed);
    return true;
}

int metrics_status_of_slot(size_t slot) { return slot < METRICS_STATUS_SLOTS - 1 ? status_slots[slot] : 0; }

double metrics_latency_bound(size_t i)
{
    return i < METRICS_LATENCY_BUCKETS - 1 ? (double)latency_bounds_us[i] / 1e6 : 0.0;
}

/* ---- the Prometheus text format ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_ops(FILE *f, const struct metrics_op *ops, size_t n)
{
    family(f, "cmagent_requests_total", "counter", "Requests answered, by operation (the last topic level).");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "cmagent_requests_total{op=\"%s\"} %llu\n", ops[i].name, (unsigned long long)ops[i].replies);
    family(f, "cmagent_request_errors_total", "counter", "Error replies, by operation and status.");
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < METRICS_STATUS_SLOTS; s++) {
            if (ops[i].errors[s] == 0)
                continue;
            int status = metrics_status_of_slot(s);
            char label[16];
            snprintf(label, sizeof label, status != 0 ? "%d" : "other", status);
            fprintf(f, "cmagent_request_errors_total{op=\"%s\",status=\"%s\"} %llu\n", ops[i].name, label,
                    (unsigned long long)ops[i].errors[s]);
        }
    family(f, "cmagent_request_duration_seconds", "histogram",
           "Time from a request's receipt to its reply (queueing, the commit and any mail included).");
    for (size_t i = 0; i < n; i++) {
        uint64_t cumulative = 0;
        for (size_t b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
            cumulative += ops[i].latency[b];
            fprintf(f, "cmagent_request_duration_seconds_bucket{op=\"%s\",le=\"%s\"} %llu\n", ops[i].name,
                    latency_labels[b], (unsigned long long)cumulative);
        }
        fprintf(f, "cmagent_request_duration_seconds_sum{op=\"%s\"} %.6f\n", ops[i].name,
                (double)ops[i].latency_us_sum / 1e6);
        fprintf(f, "cmagent_request_duration_seconds_count{op=\"%s\"} %llu\n", ops[i].name,
                (unsigned long long)cumulative);
    }
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    family(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(FILE *f, const char *name, const char *help, int64_t v)
{
    family(f, name, "gauge", help);
    fprintf(f, "%s %lld\n", name, (long long)v);
}

static void render_group_commit(FILE *f, const struct stats_snapshot *s)
{
    uint64_t cumulative = 0;
    family(f, "cmagent_group_commit_size", "histogram", "Requests per committed transaction of the writer.");
    for (size_t i = 0; i < STATS_BATCH_BUCKETS; i++) {
        cumulative += s->buckets[i];
        fprintf(f, "cmagent_group_commit_size_bucket{le=\"%llu\"} %llu\n", (unsigned long long)stats_bucket_upper(i),
                (unsigned long long)cumulative);
    }
    fprintf(f, "cmagent_group_commit_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cumulative);
    fprintf(f, "cmagent_group_commit_size_sum %llu\n", (unsigned long long)s->requests);
    fprintf(f, "cmagent_group_commit_size_count %llu\n", (unsigned long long)cumulative);
    counter(f, "cmagent_group_commit_failures_total", "Transactions whose commit failed.", s->failed_commits);
    family(f, "cmagent_commit_seconds_total", "counter", "Time spent in COMMIT (the fsync).");
    fprintf(f, "cmagent_commit_seconds_total %.6f\n", (double)s->commit_us / 1e6);
    counter(f, "cmagent_replayed_total", "Repeated request ids answered with the stored first reply.", s->replayed);
    counter(f, "cmagent_throttled_total", "Authentication requests answered 429 before they were queued.",
            s->throttled);
    counter(f, "cmagent_password_hashes_total", "Passwords hashed or checked.", s->password_hashes);
    counter(f, "cmagent_refused_replies_total", "Requests not applied because their reply destination was refused.",
            s->refused_replies);
}

char *metrics_render_prometheus(void)
{
    struct metrics_op *ops = xcalloc(nops + 1, sizeof *ops);
    char *text = NULL;
    size_t len = 0, n = 0;
    struct stats_snapshot st;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        abort();
    for (size_t i = 0; metrics_op_at(i, &ops[n]); i++)
        if (ops[n].replies > 0)
            n++; /* series appear with an operation's first reply */
    render_ops(f, ops, n);
    stats_snapshot(&st);
    render_group_commit(f, &st);
    gauge(f, "cmagent_queue_depth", "Requests waiting for the writer.", metrics_gauge(METRICS_QUEUE_DEPTH));
    counter(f, "cmagent_events_published_total", "Events handed to the broker (again after a reconnect).",
            (uint64_t)metrics_gauge(METRICS_EVENTS_PUBLISHED));
    gauge(f, "cmagent_events_unacknowledged", "Events published and not yet acknowledged by the broker.",
          metrics_gauge(METRICS_EVENTS_UNACKED));
    gauge(f, "cmagent_broker_connected", "1 while connected to the broker, else 0.",
          metrics_gauge(METRICS_BROKER_CONNECTED));
    fclose(f);
    free(ops);
    return text;
}
