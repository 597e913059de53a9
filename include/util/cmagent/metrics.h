/* metrics.h: the agent's operational figures for an operator: per operation the replies sent, the
 * error replies by status and a histogram of the time from a request's receipt to its reply (the
 * Prometheus default buckets); and the gauges queue depth, events not yet acknowledged by the
 * broker and the broker connection. Every counter is atomic on its own: any thread records, any
 * thread reads (a snapshot may be mid-request, never torn). Rendered in the Prometheus text format
 * (version 0.0.4) together with the group-commit figures of stats.h. */
#ifndef CMAGENT_METRICS_H
#define CMAGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_OPS_MAX 160
/* Upper bounds in seconds: 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10, then +Inf. */
#define METRICS_LATENCY_BUCKETS 12
/* The error statuses counted by name (400 401 403 404 409 413 424 429 500 503), then any other. */
#define METRICS_STATUS_SLOTS 11

/* The operation names replies are counted by, sorted by strcmp; they must outlive the process.
 * Called once before any thread records. A name not among them is counted as "unknown", so a
 * client cannot make a series of its own by sending to a topic of its choosing. */
void metrics_register_ops(const char *const *names, size_t n);

/* THE hook: one reply (its operation name, the status its body carries, and when the request
 * arrived, clock_mono_us(); 0 when unknown: then no latency is recorded). */
void metrics_record_reply(const char *op, int status, int64_t received_mono_us);

/* The gauges, and one counter kept the same way (events handed to the broker, resends included). */
enum metrics_gauge {
    METRICS_QUEUE_DEPTH, METRICS_EVENTS_UNACKED, METRICS_BROKER_CONNECTED, METRICS_EVENTS_PUBLISHED, METRICS_GAUGES
};
void metrics_gauge_set(enum metrics_gauge g, int64_t v);
void metrics_gauge_add(enum metrics_gauge g, int64_t delta); /* never below 0 */
int64_t metrics_gauge(enum metrics_gauge g);

/* One operation's figures (latency buckets not cumulative; the last is above 10 s). */
struct metrics_op {
    const char *name;
    uint64_t replies;
    uint64_t errors[METRICS_STATUS_SLOTS];
    uint64_t latency[METRICS_LATENCY_BUCKETS];
    uint64_t latency_us_sum;
    uint64_t latency_count;   /* replies whose receipt time was known */
};

/* Fills out with operation i of the registered ones (i == the count: "unknown"); returns false
 * past it. */
bool metrics_op_at(size_t i, struct metrics_op *out);

/* The status an error slot counts (0 for the last: any other). */
int metrics_status_of_slot(size_t slot);

/* The upper bound of latency bucket i in seconds (0 for the last, +Inf). */
double metrics_latency_bound(size_t i);

/* Every figure in the Prometheus text format: a malloc'd NUL-terminated string. */
char *metrics_render_prometheus(void);

#endif
