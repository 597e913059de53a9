/* test_metrics.c: the metrics counters (metrics.h): operations counted by the registered table's
 * names and the rest as "unknown", error slots by status, latency bucket bounds, the gauges'
 * floor at 0, the Prometheus text; and the status a reply body carries (api_reply_status). */
#include "test.h"

#include "cmagent/api.h"
#include "cmagent/clock.h"
#include "cmagent/metrics.h"

#include <stdlib.h>

static const char *const names[] = { "a.one", "b.two", "c.three" };

static const struct metrics_op *find(const char *name, struct metrics_op *m)
{
    for (size_t i = 0; metrics_op_at(i, m); i++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static void operations_statuses_and_unknown_names(void)
{
    struct metrics_op m;
    metrics_register_ops(names, 3);
    metrics_record_reply("b.two", 200, 0);
    metrics_record_reply("b.two", 404, 0);
    metrics_record_reply("b.two", 418, 0);
    metrics_record_reply("no.such", 400, 0);
    metrics_record_reply("zzz", 400, 0);
    metrics_record_reply(NULL, 0, 0);
    CHECK(find("b.two", &m) != NULL && m.replies == 3 && m.latency_count == 0);
    CHECK(metrics_status_of_slot(3) == 404 && m.errors[3] == 1);
    CHECK(metrics_status_of_slot(METRICS_STATUS_SLOTS - 1) == 0 && m.errors[METRICS_STATUS_SLOTS - 1] == 1);
    CHECK(find("unknown", &m) != NULL && m.replies == 3 && m.errors[0] == 2);
    CHECK(find("a.one", &m) != NULL && m.replies == 0);
    CHECK(!metrics_op_at(4, &m));
}

static void latency_buckets(void)
{
    struct metrics_op m;
    int64_t now = clock_mono_us();
    metrics_record_reply("c.three", 200, now);                 /* ~0 s: the first bucket */
    metrics_record_reply("c.three", 200, now - 300 * 1000);    /* 0.3 s: le 0.5 */
    metrics_record_reply("c.three", 200, now - 60 * 1000000LL); /* a minute: +Inf */
    CHECK(find("c.three", &m) != NULL && m.latency_count == 3);
    CHECK(m.latency[0] == 1 && m.latency[6] == 1 && m.latency[METRICS_LATENCY_BUCKETS - 1] == 1);
    CHECK(metrics_latency_bound(0) == 0.005 && metrics_latency_bound(10) == 10.0);
    CHECK(m.latency_us_sum >= 60 * 1000000ULL);
}

static void gauges_stay_at_or_above_zero(void)
{
    metrics_gauge_set(METRICS_EVENTS_UNACKED, 1);
    metrics_gauge_add(METRICS_EVENTS_UNACKED, -1);
    metrics_gauge_add(METRICS_EVENTS_UNACKED, -1);
    CHECK(metrics_gauge(METRICS_EVENTS_UNACKED) == 0);
    metrics_gauge_add(METRICS_EVENTS_UNACKED, 2);
    CHECK(metrics_gauge(METRICS_EVENTS_UNACKED) == 2);
}

static void prometheus_text(void)
{
    char *text = metrics_render_prometheus();
    CHECK(strstr(text, "# TYPE cmagent_requests_total counter\n") != NULL);
    CHECK(strstr(text, "cmagent_requests_total{op=\"b.two\"} 3\n") != NULL);
    CHECK(strstr(text, "cmagent_request_errors_total{op=\"b.two\",status=\"404\"} 1\n") != NULL);
    CHECK(strstr(text, "cmagent_request_errors_total{op=\"b.two\",status=\"other\"} 1\n") != NULL);
    CHECK(strstr(text, "cmagent_request_duration_seconds_bucket{op=\"c.three\",le=\"+Inf\"} 3\n") != NULL);
    CHECK(strstr(text, "cmagent_request_duration_seconds_count{op=\"c.three\"} 3\n") != NULL);
    CHECK(strstr(text, "op=\"a.one\"") == NULL); /* no series before the first reply */
    CHECK(strstr(text, "no.such") == NULL);
    CHECK(strstr(text, "cmagent_events_unacknowledged 2\n") != NULL);
    free(text);
}

static void reply_status(void)
{
    CHECK(api_reply_status("{\"status\":200,\"data\":{}}") == 200);
    CHECK(api_reply_status("{\"status\":429,\"errorCode\":33}") == 429);
    CHECK(api_reply_status("{\"data\":{}}") == 0);
    CHECK(api_reply_status(NULL) == 0);
    char *body = api_error_body(ERR_DATABASE, "Database error: x", "{\"id\":\"r1\"}", 11);
    CHECK(api_reply_status(body) == 500);
    free(body);
}

int main(void)
{
    RUN(operations_statuses_and_unknown_names);
    RUN(latency_buckets);
    RUN(gauges_stay_at_or_above_zero);
    RUN(prometheus_text);
    RUN(reply_status);
    return test_report("test_metrics");
}
