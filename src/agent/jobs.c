/* jobs.c: the writer's work of its own, between batches of requests: the hourly purge of rows past
 * their retention, and the chunks of the deferred work of customer.delete (unassign.h) and
 * tenant.delete (tenant.h), and of import jobs (import.run, api_import_run_chunk), which yield to
 * requests. */
#include "agent_int.h"

#include "cmagent/audit.h"
#include "cmagent/clock.h"
#include "cmagent/idempotency.h"
#include "cmagent/store_import.h"
#include "cmagent/store.h"
#include "cmagent/store_rate.h"
#include "cmagent/store_token.h"
#include "cmagent/tenant.h"
#include "cmagent/unassign.h"

#include <string.h>

/* A shared rate limit's bucket idle this long is full again (the longest period is a minute). */
#define PURGE_BUCKETS_IDLE_MS (3600 * 1000)

/* The hourly housekeeping, in one transaction: published events past their retention period,
 * expired tokens, audit rows past theirs, stored replies past the idempotency window, shared
 * rate limit buckets idle for an hour and import jobs finished before the event retention. */
void agent_purge_expired(struct agent *a)
{
    int64_t events = 0, tokens = 0, audits = 0, replies = 0, buckets = 0, imports = 0, now = clock_now_ms();
    int64_t audit_retention = a->settings.audit_retention_ms;
    if (store_begin(a->store) != STORE_OK)
        return;
    if (store_outbox_purge(a->store, now - a->settings.event_retention_ms, &events) == STORE_OK &&
        store_token_purge_expired(a->store, now, &tokens) == STORE_OK &&
        (audit_retention <= 0 || audit_purge(a->store, now - audit_retention, &audits) == STORE_OK) &&
        idem_purge(a->store, a->settings.idempotency_window_ms, now, &replies) == ERR_OK &&
        store_rate_purge(a->store, now - PURGE_BUCKETS_IDLE_MS, &buckets) == STORE_OK &&
        store_import_job_purge(a->store, now - a->settings.event_retention_ms, &imports) == STORE_OK &&
        store_commit(a->store) == STORE_OK) {
        if (events > 0 || tokens > 0 || audits > 0 || replies > 0 || imports > 0 || buckets > 0)
            log_info("Purged %lld published events past retention, %lld expired tokens, %lld audit rows past "
                     "retention, %lld stored replies past the idempotency window, %lld import jobs finished "
                     "before the event retention and %lld rate-limit buckets unused for %d minutes.",
                     (long long)events, (long long)tokens, (long long)audits, (long long)replies, (long long)imports,
                     (long long)buckets, PURGE_BUCKETS_IDLE_MS / 60000);
    } else {
        log_warn("Purging expired rows failed (%s); trying again in an hour.", store_errmsg(a->store));
        store_rollback(a->store);
    }
}

#define JOB_EVERY_BATCHES 4
#define IDLE_WAIT_MS 1000

/* One chunk of unassign_chunk_size rows of the oldest job: a deleted customer's unassignment
 * (unassign.h) first, else a deleted tenant's deletion (tenant.h). Sets *idle when neither had any. */
static int run_one_chunk(struct agent *a, bool *idle)
{
    struct unassign_chunk u;
    struct tenant_delete_chunk t;
    int rc = unassign_run_chunk(a->store, a->cfg->unassign_chunk_size, &u);

    *idle = false;
    if (rc != STORE_OK)
        return rc;
    if (!u.idle) {
        log_debug("Unassign chunk: %lld rows of deleted customer %s (%lld so far).", (long long)u.rows,
                  u.job.customer_id, (long long)u.job.unassigned);
        if (u.finished)
            log_info("Unassigned the %lld devices, assets and edges of deleted customer %s in %lld ms.",
                     (long long)u.job.unassigned, u.job.customer_id, (long long)(clock_now_ms() - u.job.created_time));
        return STORE_OK;
    }
    rc = tenant_delete_run_chunk(a->store, a->cfg->unassign_chunk_size, &t);
    if (rc != STORE_OK)
        return rc;
    *idle = t.idle;
    if (!t.idle)
        log_debug("Tenant delete chunk: %lld rows of deleted tenant %s (%lld so far).", (long long)t.rows,
                  t.job.tenant_id, (long long)t.job.deleted);
    if (t.finished)
        log_info("Deleted the %lld devices, assets, edges, dashboards and customers of deleted tenant %s in %lld ms.",
                 (long long)t.job.deleted, t.job.tenant_id, (long long)(clock_now_ms() - t.job.created_time));
    return STORE_OK;
}

/* Whether any job waits (one index probe each). */
static bool any_job(struct agent *a)
{
    bool customers = false, tenants = false, imports = false;
    if (store_unassign_job_any(a->store, &customers) != STORE_OK)
        return false;
    if (!customers && store_tenant_job_any(a->store, &tenants) != STORE_OK)
        return false;
    if (!customers && !tenants && store_import_job_any(a->store, &imports) != STORE_OK)
        return false;
    return customers || tenants || imports;
}

/* One chunk of import_chunk_rows rows of the oldest import job, in a durable transaction of its own
 * run as a request is: its events published and its mails handed to the mailer after the commit.
 * Sets *idle when no import job runs. Returns false when the chunk failed (rolled back). */
static bool run_import_chunk(struct agent *a, bool *idle)
{
    struct ctx ctx;
    struct api_import_chunk out;
    int64_t t0 = clock_mono_us();

    agent_writer_ctx_init(a, &ctx);
    *idle = false;
    if (store_begin(a->store) != STORE_OK) {
        log_warn("An import job's chunk could not begin (%s); trying again later.", store_errmsg(a->store));
        return false;
    }
    int rc = api_import_run_chunk(&ctx, a->cfg->import_chunk_rows, a->cfg->import_chunk_ms * 1000, &out);
    if (rc == ERR_OK)
        agent_keep_request_events(a, &ctx);
    int64_t t_commit = clock_mono_us();
    if (rc != ERR_OK || agent_store_batch_events(a) != STORE_OK || store_commit(a->store) != STORE_OK) {
        log_warn("A chunk of import job %s failed (%s); trying again later.", out.job_id,
                 rc != ERR_OK ? ctx.err.message : store_errmsg(a->store));
        store_rollback(a->store);
        agent_forget_batch_events(a);
        ctx_release(&ctx);
        return false;
    }
    struct mail_job *mails = agent_take_mails(&ctx, false);
    if (mails != NULL)
        agent_submit_mail(a, mails);
    agent_publish_events(a);
    ctx_release(&ctx);
    *idle = out.idle;
    if (!out.idle)
        log_debug("Import chunk: %lld rows of job %s in %lld us, %lld us of them committing (%lld of %lld so far).",
                  (long long)out.rows, out.job_id, (long long)(clock_mono_us() - t0),
                  (long long)(clock_mono_us() - t_commit), (long long)out.done, (long long)out.total);
    if (out.finished)
        log_info("Import job %s finished: %lld of %lld rows created, %lld failed, in %lld ms.", out.job_id,
                 (long long)out.created, (long long)out.total, (long long)out.failed,
                 (long long)(clock_now_ms() - out.created_time));
    return true;
}

/* The deferred work of customer.delete and tenant.delete: one chunk in a transaction of its own,
 * run when the queue was empty or, under steady load, after every JOB_EVERY_BATCHES batches, so
 * that requests go first and a job still ends. With no job known it only looks whether one
 * appeared (after every batch, and every second of quiet). A failed chunk is rolled back and tried
 * again the same way. Returns how long the writer may wait for a request. */
int agent_run_jobs(struct agent *a, bool queue_was_empty)
{
    bool idle = false;

    if (!a->jobs_waiting) {
        if (!any_job(a))
            return IDLE_WAIT_MS;
        a->jobs_waiting = true;
    }
    if (!queue_was_empty && ++a->batches_since_job < JOB_EVERY_BATCHES)
        return 0;
    a->batches_since_job = 0;
    if (store_begin_unsynced(a->store) != STORE_OK || run_one_chunk(a, &idle) != STORE_OK ||
        store_commit(a->store) != STORE_OK) {
        log_warn("A chunk of a deleted customer's or tenant's rows failed (%s); trying again later.",
                 store_errmsg(a->store));
        store_rollback(a->store);
        a->jobs_waiting = false;
        return IDLE_WAIT_MS;
    }
    if (idle && !run_import_chunk(a, &idle)) {
        a->jobs_waiting = false;
        return IDLE_WAIT_MS;
    }
    a->jobs_waiting = !idle;
    return a->jobs_waiting ? 0 : IDLE_WAIT_MS;
}
