/* publisher.c: what the agent sends and what the broker acknowledges: replies (after their
 * batch committed), the events of the outbox in seq order (from the copies the requests kept in
 * memory when they are exactly the outbox's next ones, else read back from it), and the
 * acknowledgements of events, collected as they arrive and marked in the outbox, in ranges of
 * consecutive seq, by the writer's next writing transaction (or after a second without requests,
 * so they cost no commit of their own). Events not acknowledged before a crash or a disconnect are
 * published again, in seq order. Of the agents sharing one database exactly one publishes: the
 * holder of the database's publisher lock (store_publisher_lock); the others drop their copies,
 * and the publisher reads what they committed from the outbox. */
#include "agent_int.h"

#include "cmagent/broker_sync.h"
#include "cmagent/clock.h"
#include "cmagent/metrics.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_PER_PUBLISH_QUERY 1000
#define PUBLISHER_POLL_MS 250

int agent_publish(struct agent *a, const char *topic, const char *body, const void *corr, size_t corr_len,
                  uint64_t tag)
{
    return a->publish(a->publish_arg, topic, body, strlen(body), corr, corr_len, tag);
}

void agent_refused_destination(struct agent *a, const char *op, const char *refusal)
{
    uint64_t left_out = 0;
    stats_record_refused_reply();
    if (log_throttle_pass(&a->refusal_log, clock_mono_ms(), &left_out))
        log_warn("Refused the reply destination of %.64s: %s; the request was not applied and nothing was "
                 "published (%llu more refused since the last such line).", op, refusal, (unsigned long long)left_out);
}

/* A reply larger than the broker's Maximum Packet Size would be dropped by the broker (and the
 * connection with it): it becomes a 413 error reply instead. */
void agent_send_reply(struct agent *a, const struct transport_message *m, const char *topic, const char *body)
{
    char msg[300];
    if (topic == NULL || agent_publish(a, topic, body, m->correlation, m->correlation_len, 0) != TRANSPORT_TOO_LARGE) {
        metrics_record_reply(agent_op_of(a, m), api_reply_status(body), m->received_us);
        return;
    }
    snprintf(msg, sizeof msg, "The reply of %zu bytes exceeds the broker's Maximum Packet Size of %u bytes: ask for "
             "fewer rows (a smaller pageSize or limit, fewer ids or commands)", strlen(body),
             (unsigned)transport_max_packet(a->transport));
    log_warn("%s; answered 413 instead (set max_reply below the broker's max_packet_size).", msg);
    char *err = api_error_body(ERR_TOO_LARGE, msg, m->payload, m->payload_len);
    metrics_record_reply(agent_op_of(a, m), api_reply_status(err), m->received_us);
    agent_publish(a, topic, err, m->correlation, m->correlation_len, 0);
    free(err);
}

/* Only records the seq: a work item per acknowledgement woke the writer for a transaction of its
 * own, and at one request in flight that commit's fsync delayed the next request. */
void agent_on_acked(void *context, uint64_t tag)
{
    struct agent *a = context;
    pthread_mutex_lock(&a->acks_lock);
    if (a->nacks == a->acks_cap) {
        a->acks_cap = a->acks_cap ? a->acks_cap * 2 : 256;
        a->acks = xrealloc(a->acks, a->acks_cap * sizeof *a->acks);
    }
    a->acks[a->nacks++] = (int64_t)tag;
    pthread_mutex_unlock(&a->acks_lock);
    metrics_gauge_add(METRICS_EVENTS_UNACKED, -1);
}

/* Takes the acknowledged seqs collected so far (NULL when there are none). */
int64_t *agent_take_acks(struct agent *a, size_t *n)
{
    pthread_mutex_lock(&a->acks_lock);
    int64_t *acks = a->acks;
    *n = a->nacks;
    if (*n == 0) {
        acks = NULL;
    } else {
        a->acks = NULL;
        a->nacks = a->acks_cap = 0;
    }
    pthread_mutex_unlock(&a->acks_lock);
    return acks;
}

/* Puts back the seqs of a transaction that did not commit, to be marked by the next one. */
void agent_give_back_acks(struct agent *a, const int64_t *acks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        agent_on_acked(a, (uint64_t)acks[i]);
}

bool agent_have_acks(struct agent *a)
{
    pthread_mutex_lock(&a->acks_lock);
    bool any = a->nacks > 0;
    pthread_mutex_unlock(&a->acks_lock);
    return any;
}

static int compare_seq(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Marks acknowledged events published, one UPDATE per run of consecutive seqs, in a savepoint of
 * its own inside the batch's transaction. Returns STORE_OK or the failure. */
int agent_mark_acked(struct agent *a, int64_t *acks, size_t n)
{
    int rc = store_savepoint(a->store);
    qsort(acks, n, sizeof *acks, compare_seq);
    for (size_t i = 0; i < n && rc == STORE_OK;) {
        size_t j = i;
        while (j + 1 < n && acks[j + 1] <= acks[j] + 1)
            j++;
        rc = store_outbox_mark_published(a->store, acks[i], acks[j]);
        i = j + 1;
    }
    if (!store_in_transaction(a->store))
        return rc != STORE_OK ? rc : STORE_ERROR;
    if (rc == STORE_OK)
        store_savepoint_release(a->store);
    else
        store_savepoint_rollback(a->store);
    return rc;
}

/* Moves the events a request wrote to the batch's, to be published once the batch commits. */
void agent_keep_request_events(struct agent *a, struct ctx *ctx)
{
    if (ctx->nemitted == 0)
        return;
    if (a->nbatch_events + ctx->nemitted > a->batch_events_cap) {
        a->batch_events_cap = (a->nbatch_events + ctx->nemitted) * 2;
        a->batch_events = xrealloc(a->batch_events, a->batch_events_cap * sizeof *a->batch_events);
    }
    memcpy(a->batch_events + a->nbatch_events, ctx->emitted, ctx->nemitted * sizeof *ctx->emitted);
    a->nbatch_events += ctx->nemitted;
    ctx->nemitted = 0;
}

void agent_forget_batch_events(struct agent *a)
{
    outbox_events_free_items(a->batch_events, a->nbatch_events);
    a->nbatch_events = 0;
}

/* Where a request's reply goes when it was never handled: its Response Topic, else its replyTo,
 * as the api checks them (NULL: nowhere, a refusal is counted and logged). */
char *agent_reply_topic_of(struct agent *a, const struct transport_message *m)
{
    struct api_request req;
    struct api_reply dest;
    agent_request_of(a, m, &req);
    api_reply_destination(&req, &dest);
    if (dest.refused)
        agent_refused_destination(a, req.op, dest.refusal);
    return dest.reply_to;
}

void agent_publish_replies(struct agent *a, struct pending_reply *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].body != NULL)
            agent_send_reply(a, r[i].msg, r[i].topic, r[i].body);
        free(r[i].topic);
        free(r[i].body);
    }
}

void agent_fail_replies(struct agent *a, struct pending_reply *r, size_t n, const char *why, bool down, bool at_commit)
{
    char msg[700];
    if (down) {
        snprintf(msg, sizeof msg, "Database unavailable: %s%s", at_commit ? "" : "nothing was applied: ", why);
        log_debug("%s", msg); /* the store logged the loss once; this is every request of the outage */
    } else {
        snprintf(msg, sizeof msg, "Database error: the transaction could not be committed, nothing was applied: %s",
                 why);
        log_error("%s", msg);
    }
    for (size_t i = 0; i < n; i++) {
        free(r[i].body);
        r[i].body = api_error_body(down ? ERR_UNAVAILABLE : ERR_DATABASE, msg, r[i].msg->payload, r[i].msg->payload_len);
        if (r[i].job != NULL && r[i].job->w != NULL) {
            r[i].job->w->parked = false; /* nothing committed: answer now, send nothing */
            if (r[i].topic == NULL)
                r[i].topic = agent_reply_topic_of(a, r[i].msg);
        }
        agent_mail_job_free(r[i].job);
        r[i].job = NULL;
    }
}

/* An event is not handed to paho while the broker is away: paho would buffer it and send it
 * after the connect past the broker's Receive Maximum, in bursts of 20 a second, with the
 * replies behind it. It stays in the outbox, which the connect publishes again from the first
 * unacknowledged event. */
static int publish_event(struct agent *a, const struct outbox_event *ev)
{
    char topic[1024];
    if (a->transport != NULL && !transport_connected(a->transport))
        return -1;
    snprintf(topic, sizeof topic, "%s%s/%s/%s", a->event_prefix, ev->tenant_id, ev->entity_type, ev->event_type);
    metrics_gauge_add(METRICS_EVENTS_UNACKED, 1); /* before: the acknowledgement may come first */
    int rc = agent_publish(a, topic, ev->payload, NULL, 0, (uint64_t)ev->seq);
    if (rc == TRANSPORT_TOO_LARGE) {
        /* the broker would drop it and the connection with it, at every reconnect again */
        log_error("Event %lld (%s) of %zu bytes exceeds the broker's Maximum Packet Size of %u bytes: not published "
                  "live; event.replay still returns it.", (long long)ev->seq, topic, strlen(ev->payload),
                  (unsigned)transport_max_packet(a->transport));
        agent_on_acked(a, (uint64_t)ev->seq);
    } else if (rc != 0) {
        metrics_gauge_add(METRICS_EVENTS_UNACKED, -1);
        return -1;
    }
    a->last_sent_seq = ev->seq;
    metrics_gauge_add(METRICS_EVENTS_PUBLISHED, 1);
    if (a->broker != NULL)
        broker_sync_publish_cevents(a->broker, ev);
    return 0;
}

/* Publishes the events the committed batch wrote from memory, when they are exactly the outbox's
 * next ones: they follow the last event handed to the transport without a gap and end at the last
 * seq taken. Otherwise (after a reconnect or a failed publish, at start-up, or when anything else
 * wrote events) returns false and the outbox is read. */
static bool publish_batch_events(struct agent *a)
{
    size_t n = a->nbatch_events;
    int64_t last = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a->batch_events[i].seq != a->last_sent_seq + 1 + (int64_t)i)
            return false;
    if (store_outbox_last_seq(a->store, &last) != STORE_OK || last != a->batch_events[n - 1].seq)
        return false;
    for (size_t i = 0; i < n; i++)
        if (publish_event(a, &a->batch_events[i]) != 0)
            break; /* the rest goes out from the outbox after the next batch or reconnect */
    return true;
}

void agent_publish_events(struct agent *a)
{
    if (!a->publisher) {
        agent_forget_batch_events(a); /* the publisher reads them from the outbox */
        return;
    }
    bool done = publish_batch_events(a);
    agent_forget_batch_events(a);
    if (done)
        return;
    for (;;) {
        struct outbox_event *evs = NULL;
        size_t n = 0;
        if (store_outbox_unpublished(a->store, a->last_sent_seq, EVENTS_PER_PUBLISH_QUERY, &evs, &n) != STORE_OK) {
            if (!store_unavailable(a->store)) /* an outage is logged once by the store */
                log_error("Reading the outbox failed: %s", store_errmsg(a->store));
            return;
        }
        for (size_t i = 0; i < n; i++)
            if (publish_event(a, &evs[i]) != 0)
                break;
        outbox_events_free(evs, n);
        if (n < EVENTS_PER_PUBLISH_QUERY)
            return;
    }
}

/* Takes or gives up the role. A new publisher starts from the outbox's first unacknowledged event:
 * what the previous one published but had not marked goes out again (at least once). */
static void update_role(struct agent *a)
{
    bool connected = a->transport == NULL || transport_connected(a->transport);
    bool held = false;
    if (store_publisher_lock(a->store, connected, &held) != STORE_OK)
        log_debug("The publisher lock: %s", store_errmsg(a->store));
    if (held && !a->publisher) {
        log_info("This agent publishes the events now (it holds the database's publisher lock).");
        a->last_sent_seq = 0;
        metrics_gauge_set(METRICS_EVENTS_UNACKED, 0);
    } else if (!held && a->publisher) {
        log_warn("This agent no longer publishes the events (%s); another agent takes over.",
                 connected ? "its database session ended" : "it lost the broker");
    }
    a->publisher = held;
}

int agent_publisher_tick(struct agent *a)
{
    if (!store_shared(a->store))
        return 1000;
    int64_t now = clock_mono_ms();
    if (now < a->next_publisher_ms)
        return (int)(a->next_publisher_ms - now);
    a->next_publisher_ms = now + PUBLISHER_POLL_MS;
    update_role(a);
    if (a->publisher)
        agent_publish_events(a);
    return PUBLISHER_POLL_MS;
}
