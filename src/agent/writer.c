/* writer.c: the writer thread, the one owner of the read-write SQLite connection. It takes every
 * waiting request (up to max_group_commit) into one transaction, each request in its own savepoint
 * so a failure rolls back that request alone, commits once (durably), and only then hands the
 * replies and the new events to the publisher. The batch's events are numbered and written to the
 * outbox after its last request, just before the commit (events_store). A failed request's
 * savepoint is rolled back, then kept_writes_apply() writes what must survive the failure in a
 * savepoint of its own (the failed-login count and the failed write's audit row). A request whose
 * reply waits for its mails is rolled back whole (its request id kept claimed the same way) and
 * parked with the mail worker, which gives it back for its second run (agent.c tells the whole
 * story). Between batches the writer runs its own jobs (jobs.c) and, on a shared database, the
 * publisher's tick (publisher.c). A batch whose database cannot be reached (PostgreSQL down or
 * restarting) answers 503 "Database unavailable" at once, nothing applied; the next batch after
 * the server is back reconnects (sql_pg_conn.c). */
#include "agent_int.h"

#include "cmagent/broker_sync.h"
#include "cmagent/clock.h"
#include "cmagent/events.h"
#include "cmagent/hash_work.h"
#include "cmagent/metrics.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct work *work_new(enum work_kind kind)
{
    struct work *w = xcalloc(1, sizeof *w);
    w->kind = kind;
    return w;
}

void work_free(struct work *w)
{
    transport_message_free(w->msg);
    hash_work_free(w->hash_work);
    mail_list_release(&w->mailed);
    free(w);
}

#define PURGE_INTERVAL_MS (3600 * 1000)
/* On a shared PostgreSQL database two agents' batches may wait on each other's rows (the kept
 * counts of two tenants taken in opposite orders); the server then fails one statement of one of
 * them. That request is rolled back alone and runs again in a later batch, up to this many times,
 * before its 500 is answered. */
#define DEADLOCK_RUNS 8

int agent_store_batch_events(struct agent *a)
{
    return a->nbatch_events > 0 ? events_store(a->store, a->batch_events, a->nbatch_events) : STORE_OK;
}

void agent_writer_ctx_init(struct agent *a, struct ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->store = a->store;
    ctx->settings = &a->settings;
    ctx->render_event = api_render_event;
    ctx->render_audit = api_render_audit;
    ctx->now = clock_now_ms();
    ctx->keep_events = true;
}

/* Runs one request in its own savepoint. Returns the number of events it committed to the outbox. */
static int64_t handle_request(struct agent *a, struct work *w, struct pending_reply *out)
{
    struct transport_message *m = w->msg;
    struct ctx ctx;
    struct api_request req;
    struct api_reply reply;

    agent_writer_ctx_init(a, &ctx);
    ctx.mailed = w->mailed.n > 0 ? &w->mailed : NULL;
    /* A request the verifiers did not see (a batch, or no verifier) records in the writer's own. */
    hash_work_clear(a->writer_hash_work);
    ctx.hash_work = w->hash_work != NULL ? w->hash_work : a->writer_hash_work;
    hash_work_reset_count(w->hash_work);
    w->parked = false;
    agent_request_of(a, m, &req);

    store_savepoint(a->store);
    api_handle(&ctx, &req, &reply);
    /* After some errors (disk full, I/O) SQLite has already rolled the whole transaction back. A
     * deferred first run is rolled back whole: the second run applies the request. */
    bool applied = !reply.failed && !reply.deferred;
    w->again = reply.failed && ctx.store_retry && ++w->runs_lost < DEADLOCK_RUNS && store_in_transaction(a->store);
    if (store_in_transaction(a->store)) {
        if (applied) {
            store_savepoint_release(a->store);
        } else {
            store_savepoint_rollback(a->store);
            if (!w->again) /* a lost deadlock runs again whole: nothing of this run is kept */
                kept_writes_apply(&ctx); /* a failure's count and audit row, a deferred run's request id */
            if (reply.deferred && ctx.kept.pending_lost)
                api_reply_pending_lost(&ctx, &req, &reply);
        }
    }
    if (w->again) {
        log_info("%s lost a deadlock with another agent's transaction (%s): it runs again.", req.op, ctx.err.message);
        free(reply.body); /* no reply for this run */
        reply.body = NULL;
        free(reply.reply_to);
        reply.reply_to = NULL;
    }
    if (reply.replayed)
        stats_record_replayed();
    if (reply.refused)
        agent_refused_destination(a, req.op, reply.refusal);
    if (hash_work_computed(ctx.hash_work) > 0) {
        stats_record_writer_password_hashes(hash_work_computed(ctx.hash_work));
        log_debug("%s: %zu password hash(es) computed on the writer%s", req.op, hash_work_computed(ctx.hash_work),
                  w->hash_work != NULL ? ": the stored hash changed after the verifier's run" : "");
    }
    log_debug("%s -> %d%s", req.op, reply.status,
              reply.replayed ? " (repeated id: first reply)" : reply.deferred ? " (waits for its mail)" : "");

    out->msg = m;
    if (!reply.failed) {
        out->job = agent_take_mails(&ctx, reply.deferred);
        if (reply.deferred && out->job != NULL) {
            out->job->w = w;
            w->parked = true;
        }
    }
    if (applied)
        agent_keep_request_events(a, &ctx);
    ctx_release(&ctx);
    out->body = reply.body;
    reply.body = NULL;
    out->topic = reply.reply_to;
    reply.reply_to = NULL;
    return applied ? ctx.events_written : 0;
}

/* Processes one batch of work (none: only marks the acknowledged events). Returns true when a
 * WORK_STOP was in it. */
bool agent_process_batch(struct agent *a, struct queue_node *first, size_t n)
{
    struct pending_reply *replies = xcalloc(n, sizeof *replies);
    struct work **done = xcalloc(n, sizeof *done);
    size_t nreplies = 0, ndone = 0, nacks = 0;
    int64_t events = 0;
    int64_t *acks = agent_take_acks(a, &nacks);
    bool stop = false, resend = false, broker = false, began = false, begin_failed = false, lost = false, committed = true;
    char why[512] = "";

    for (struct queue_node *node = first; node != NULL;) {
        struct work *w = (struct work *)node;
        node = node->next;
        done[ndone++] = w;
        if (w->kind == WORK_STOP) {
            stop = true;
            continue;
        }
        if (w->kind == WORK_CONNECTED) {
            resend = true;
            continue;
        }
        if (w->kind == WORK_BROKER) {
            broker = true;
            continue;
        }
        if (w->kind == WORK_MAIL)
            continue; /* a wake-up: the outcomes are applied after the batch (mail_queue.c) */
        if (!began) {
            began = true;
            begin_failed = store_begin(a->store) != STORE_OK;
            if (begin_failed)
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
        }
        if (begin_failed || lost) {
            replies[nreplies].msg = w->msg;
            replies[nreplies].topic = agent_reply_topic_of(a, w->msg);
            nreplies++;
        } else {
            events += handle_request(a, w, &replies[nreplies++]);
            if (!store_in_transaction(a->store)) {
                /* the database rolled the whole batch back: the requests before this one too */
                lost = true;
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
                if (!store_unavailable(a->store))
                    log_error("The database rolled the transaction back: %s", why);
            }
        }
    }
    /* The batch's events are numbered and stored last, so that the counter rows are locked from
     * here to the commit only (events.c). */
    if (!begin_failed && !lost && agent_store_batch_events(a) != STORE_OK) {
        lost = true;
        snprintf(why, sizeof why, "writing the events to the outbox failed: %s", store_errmsg(a->store));
        log_error("The batch is rolled back: %s", why);
    }
    /* The marks ride on a commit that writes anyway: a batch of reads commits nothing, and must
     * not fail because of them when the disk is full. A batch without requests writes only them. */
    if (nacks > 0 && events == 0 && nreplies > 0) {
        agent_give_back_acks(a, acks, nacks);
        nacks = 0;
    }
    if (nacks > 0 && !began) {
        began = true;
        begin_failed = store_begin(a->store) != STORE_OK;
        if (begin_failed)
            snprintf(why, sizeof why, "%s", store_errmsg(a->store));
    }
    if (nacks > 0 && !begin_failed && !lost && agent_mark_acked(a, acks, nacks) != STORE_OK &&
        !store_in_transaction(a->store)) {
        lost = true;
        snprintf(why, sizeof why, "%s", store_errmsg(a->store));
        log_error("The database rolled the transaction back: %s", why);
    }
    if (began) {
        int64_t t0 = clock_mono_us();
        bool failed = begin_failed || lost;
        bool at_commit = !failed && store_commit(a->store) != STORE_OK;
        if (failed || at_commit) {
            if (why[0] == '\0')
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
            bool down = store_unavailable(a->store);
            store_rollback(a->store);
            if (!down && store_unavailable(a->store)) {
                /* the transaction vanished with the connection, found out by the ROLLBACK */
                down = true;
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
            }
            agent_forget_batch_events(a);
            committed = false;
            if (nreplies > 0) {
                agent_fail_replies(a, replies, nreplies, why, down, at_commit);
                agent_give_back_acks(a, acks, nacks); /* the next batch tries again */
            } else {
                log_warn("Marking %zu acknowledged events published failed (%s); they are published again "
                         "after a reconnect or a restart.", nacks, why);
            }
        }
        if (nreplies > 0)
            stats_record_batch(nreplies, (uint64_t)(clock_mono_us() - t0), committed);
    }
    if (committed && events > 0 && a->exit_after_commit > 0 && --a->exit_after_commit == 0) {
        log_warn("Test hook CMAGENT_TEST_EXIT_AFTER_COMMIT: exiting after a commit, before publishing.");
        _exit(70);
    }
    for (size_t i = 0; i < nreplies; i++) {
        /* Mails of a batch that did not commit were rolled back with it, queue rows and all; only a
         * parked request's awaited mails go (its second run decides). */
        if (replies[i].job != NULL && (committed || replies[i].job->w != NULL))
            agent_submit_mail(a, replies[i].job);
        else
            agent_mail_job_free(replies[i].job);
        replies[i].job = NULL;
    }
    /* The broker hears of changed accounts on the agent's one connection, so it applies them in
     * this order with the replies: revocations and new accounts before, new passwords of existing
     * accounts (which end their sessions, the asking one included) after (broker_sync.h). */
    bool synced = a->broker != NULL && began && committed;
    if (synced)
        broker_sync_after_commit(a->broker, false);
    agent_publish_replies(a, replies, nreplies);
    if (synced)
        broker_sync_after_commit(a->broker, true);
    if (a->broker != NULL && resend)
        broker_sync_connected(a->broker);
    if (resend) {
        a->last_sent_seq = 0;
        metrics_gauge_set(METRICS_EVENTS_UNACKED, 0); /* everything not acknowledged goes out again */
    }
    agent_publish_events(a);
    if (a->broker != NULL && broker)
        broker_sync_apply(a->broker);
    for (size_t i = 0; i < ndone; i++) {
        if (done[i]->parked)
            continue; /* the mailer gives it back */
        if (done[i]->again) {
            done[i]->again = false;
            queue_push(&a->queue, &done[i]->node);
            continue;
        }
        work_free(done[i]);
    }
    free(done);
    free(replies);
    free(acks);
    return stop;
}

void *agent_writer_main(void *arg)
{
    struct agent *a = arg;
    int wait_ms = 0; /* a job left by the last run resumes at once */
    for (;;) {
        size_t n = 0;
        struct queue_node *first = queue_pop_many(&a->queue, (size_t)a->cfg->max_group_commit, wait_ms, &n);
        if (clock_mono_ms() >= a->next_purge_ms) {
            agent_purge_expired(a);
            a->next_purge_ms = clock_mono_ms() + PURGE_INTERVAL_MS;
        }
        if (first != NULL ? agent_process_batch(a, first, n) : agent_have_acks(a) && agent_process_batch(a, NULL, 0))
            return NULL;
        if (a->broker != NULL)
            broker_sync_tick(a->broker);
        agent_mail_queue_tick(a, true);
        wait_ms = agent_run_jobs(a, first == NULL);
        int poll_ms = agent_publisher_tick(a);
        if (poll_ms < wait_ms)
            wait_ms = poll_ms;
    }
}

void agent_drain_after_stop(struct agent *a)
{
    size_t n = 0;
    struct queue_node *rest;
    do {
        while ((rest = queue_pop_many(&a->queue, (size_t)a->cfg->max_group_commit, 0, &n)) != NULL)
            agent_process_batch(a, rest, n);
        if (agent_have_acks(a))
            agent_process_batch(a, NULL, 0);
    } while (agent_mail_queue_tick(a, false)); /* the sent mails' rows deleted, no new claim */
}
