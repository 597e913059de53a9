/* jobs.c: the writer's work of its own, between batches of requests: the hourly purge of rows past
 * their retention, and the chunks of a deleted customer's unassignment (unassign.h), which yield to
 * requests. */
#include "agent_int.h"

#include "cmagent/audit.h"
#include "cmagent/clock.h"
#include "cmagent/idempotency.h"
#include "cmagent/store.h"
#include "cmagent/store_token.h"
#include "cmagent/unassign.h"

/* The hourly housekeeping, in one transaction: published events past their retention period,
 * expired tokens, audit rows past theirs and stored replies past the idempotency window. */
void agent_purge_expired(struct agent *a)
{
    int64_t events = 0, tokens = 0, audits = 0, replies = 0, now = clock_now_ms();
    int64_t audit_retention = a->settings.audit_retention_ms;
    if (store_begin(a->store) != STORE_OK)
        return;
    if (store_outbox_purge(a->store, now - a->settings.event_retention_ms, &events) == STORE_OK &&
        store_token_purge_expired(a->store, now, &tokens) == STORE_OK &&
        (audit_retention <= 0 || audit_purge(a->store, now - audit_retention, &audits) == STORE_OK) &&
        idem_purge(a->store, a->settings.idempotency_window_ms, now, &replies) == ERR_OK &&
        store_commit(a->store) == STORE_OK) {
        if (events > 0 || tokens > 0 || audits > 0 || replies > 0)
            log_info("Purged %lld published events past retention, %lld expired tokens, %lld audit rows past "
                     "retention and %lld stored replies past the idempotency window.", (long long)events,
                     (long long)tokens, (long long)audits, (long long)replies);
    } else {
        log_warn("Purging expired rows failed (%s); trying again in an hour.", store_errmsg(a->store));
        store_rollback(a->store);
        log_warn("Purging expired events, tokens and audit rows failed; trying again in an hour.");
    }
}

#define UNASSIGN_EVERY_BATCHES 4
#define IDLE_WAIT_MS 1000

/* Deleted customers' devices, assets and edges (unassign.h): one chunk of unassign_chunk_size rows in
 * a transaction of its own, run when the queue was empty or, under steady load, after every
 * UNASSIGN_EVERY_BATCHES batches, so that requests go first and a job still ends. With no job known
 * it only looks whether one appeared (after every batch, and every second of quiet). A failed chunk
 * is rolled back and tried again the same way. Returns how long the writer may wait for a request. */
int agent_unassign_deleted_customers(struct agent *a, bool queue_was_empty)
{
    struct unassign_chunk c;
    bool any = false;

    if (!a->unassign_waiting) {
        if (store_unassign_job_any(a->store, &any) != STORE_OK || !any)
            return IDLE_WAIT_MS;
        a->unassign_waiting = true;
    }
    if (!queue_was_empty && ++a->batches_since_unassign < UNASSIGN_EVERY_BATCHES)
        return 0;
    a->batches_since_unassign = 0;
    if (store_begin_unsynced(a->store) != STORE_OK ||
        unassign_run_chunk(a->store, a->cfg->unassign_chunk_size, &c) != STORE_OK ||
        store_commit(a->store) != STORE_OK) {
        log_warn("Unassigning a deleted customer's entities failed (%s); trying again later.", store_errmsg(a->store));
        store_rollback(a->store);
        a->unassign_waiting = false;
        return IDLE_WAIT_MS;
    }
    if (!c.idle)
        log_debug("Unassign chunk: %lld rows of deleted customer %s (%lld so far).", (long long)c.rows,
                  c.job.customer_id, (long long)c.job.unassigned);
    if (c.finished)
        log_info("Unassigned the %lld devices, assets and edges of deleted customer %s in %lld ms.",
                 (long long)c.job.unassigned, c.job.customer_id, (long long)(clock_now_ms() - c.job.created_time));
    a->unassign_waiting = !c.idle;
    return a->unassign_waiting ? 0 : IDLE_WAIT_MS;
}
