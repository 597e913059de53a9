/* mail_queue.c: the writer's side of the mail queue (store_mail.h), keeping the rule of one writer
 * per agent. A mail nobody waits for is queued in the transaction of the write that composed it
 * (ctx_queue_mail), claimed for this agent, and handed to the mailer right after the commit, as
 * before the queue existed (no latency is added). The mailer gives each queued mail's outcome back
 * here (agent_mail_queue_outcomes), and the writer, between batches, deletes the sent rows and
 * reschedules the failed ones (mail_retry_s, doubling up to an hour, mail_max_attempts at most,
 * never past the mail's expiry), in one durable transaction (an outcome lost with the process is
 * a mail sent again; a sent mail's secret should not outlive it on disk). About once a second it also claims due rows (at most MAIL_CLAIM_MAX): retries,
 * and the mails of an agent that died with them claimed, once the claim ran out. Delivery is thus
 * at least once: a mail whose agent dies after sending it and before its row is deleted is sent
 * again by whichever agent claims it next. */
#include "agent_int.h"

#include "cmagent/clock.h"
#include "cmagent/store.h"
#include "cmagent/store_mail.h"

#include <stdlib.h>
#include <string.h>

#define MAIL_POLL_MS 1000
#define MAIL_CLAIM_MAX 8
#define MAIL_RETRY_MAX_MS (3600 * 1000)

void agent_mail_queue_start(struct agent *a)
{
    int64_t released = 0;

    if (store_shared(a->store))
        return; /* another agent may be sending them: their claims run out by themselves */
    if (store_begin(a->store) != STORE_OK || store_mail_release_claims(a->store, &released) != STORE_OK ||
        store_commit(a->store) != STORE_OK) {
        log_warn("Releasing the claims of the queued mails failed (%s): they are sent once the claims run out.",
                 store_errmsg(a->store));
        store_rollback(a->store);
        return;
    }
    if (released > 0)
        log_info("%lld queued mails were claimed by the agent's previous run and not sent: they are sent now.",
                 (long long)released);
}

static void mail_list_push(struct mail_list *l, struct outgoing_mail *m)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = *m;
    memset(m, 0, sizeof *m);
}

void agent_mail_queue_outcomes(struct agent *a, struct mail_list *mails)
{
    bool any = false;

    pthread_mutex_lock(&a->mailq_lock);
    for (size_t i = 0; i < mails->n; i++) {
        if (mails->items[i].queue_id[0] != '\0') {
            mail_list_push(&a->mailq_done, &mails->items[i]);
            any = true;
        }
    }
    pthread_mutex_unlock(&a->mailq_lock);
    if (any)
        queue_push(&a->queue, &work_new(WORK_MAIL)->node);
}

static struct mail_list take_outcomes(struct agent *a)
{
    pthread_mutex_lock(&a->mailq_lock);
    struct mail_list l = a->mailq_done;
    memset(&a->mailq_done, 0, sizeof a->mailq_done);
    pthread_mutex_unlock(&a->mailq_lock);
    return l;
}

/* After a failed transaction the outcomes wait for the next one. */
static void give_back_outcomes(struct agent *a, struct mail_list *l)
{
    pthread_mutex_lock(&a->mailq_lock);
    for (size_t i = 0; i < l->n; i++)
        mail_list_push(&a->mailq_done, &l->items[i]);
    pthread_mutex_unlock(&a->mailq_lock);
    mail_list_release(l);
}

static int64_t retry_delay_ms(const struct agent *a, int64_t attempts)
{
    int64_t d = a->cfg->mail_retry_s * 1000;
    for (int64_t i = 1; i < attempts && d < MAIL_RETRY_MAX_MS; i++)
        d *= 2;
    return d < MAIL_RETRY_MAX_MS ? d : MAIL_RETRY_MAX_MS;
}

/* One mail's outcome: sent or past help, its row deleted; else due again after the backoff. */
static int apply_outcome(struct agent *a, const struct outgoing_mail *m, int64_t now)
{
    if (m->outcome == MAIL_SENT)
        return store_mail_delete(a->store, m->queue_id);
    int64_t attempts = m->attempts + 1, next = now + retry_delay_ms(a, attempts);
    if (attempts >= a->cfg->mail_max_attempts || next >= m->expires_at) {
        log_warn("Mail \"%s\" to %s dropped unsent after %lld failed attempts%s.", m->subject, m->to,
                 (long long)attempts, attempts >= a->cfg->mail_max_attempts ? " (mail_max_attempts)"
                                                                             : ": it expires before the next one");
        return store_mail_delete(a->store, m->queue_id);
    }
    log_info("Mail \"%s\" to %s is tried again in %lld s (attempt %lld of %ld).", m->subject, m->to,
             (long long)((next - now) / 1000), (long long)attempts + 1, a->cfg->mail_max_attempts);
    return store_mail_retry(a->store, m->queue_id, attempts, next);
}

/* The claimed rows as a job for the mailer (the rows' texts move into it). */
static struct mail_job *job_of(struct queued_mail *rows, size_t n)
{
    struct mail_job *j = xcalloc(1, sizeof *j);
    j->mails.items = xcalloc(n, sizeof *j->mails.items);
    j->mails.n = j->mails.cap = n;
    for (size_t i = 0; i < n; i++) {
        struct outgoing_mail *m = &j->mails.items[i];
        m->to = rows[i].to;
        m->subject = rows[i].subject;
        m->body = rows[i].body;
        rows[i].to = rows[i].subject = rows[i].body = NULL;
        memcpy(m->queue_id, rows[i].id, sizeof m->queue_id);
        m->expires_at = rows[i].expires_at;
        m->attempts = rows[i].attempts;
    }
    return j;
}

/* Whether it is time to look for due rows: about once a second, when mail can be sent at all and
 * the mailer has taken every job it was given (a full claim looks again at once). */
static bool time_to_claim(struct agent *a, int64_t mono)
{
    return a->cfg->smtp_url[0] != '\0' && mono >= a->mailq_next_poll_ms && queue_length(&a->mail_queue) == 0;
}

bool agent_mail_queue_tick(struct agent *a, bool claim)
{
    struct mail_list done = take_outcomes(a);
    int64_t mono = clock_mono_ms(), now = clock_now_ms(), expired = 0;
    struct queued_mail *rows = NULL;
    size_t n = 0;

    claim = claim && time_to_claim(a, mono);
    if (done.n == 0 && !claim)
        return false;
    int rc = store_begin(a->store);
    for (size_t i = 0; rc == STORE_OK && i < done.n; i++)
        rc = apply_outcome(a, &done.items[i], now);
    /* a claim's lease: its mails are sent one after the other, each within smtp_timeout */
    int64_t until = now + (a->cfg->mail_claim_s + MAIL_CLAIM_MAX * a->cfg->smtp_timeout) * 1000;
    if (rc == STORE_OK && claim)
        rc = store_mail_claim(a->store, a->cfg->agent_id, now, until, MAIL_CLAIM_MAX, &rows, &n, &expired);
    if (rc == STORE_OK)
        rc = store_commit(a->store);
    if (claim)
        a->mailq_next_poll_ms = mono + (rc == STORE_OK && n == MAIL_CLAIM_MAX ? 0 : MAIL_POLL_MS);
    if (rc != STORE_OK) {
        if (!a->mailq_failing)
            log_warn("The mail queue could not be read or updated (%s); trying again every second.",
                     store_errmsg(a->store));
        a->mailq_failing = true;
        store_rollback(a->store);
        store_mail_rows_free(rows, n);
        give_back_outcomes(a, &done);
        return false;
    }
    a->mailq_failing = false;
    if (expired > 0)
        log_info("%lld queued mails expired before they could be sent: dropped unsent.", (long long)expired);
    if (n > 0) {
        log_debug("Claimed %zu queued mails for sending.", n);
        agent_submit_mail(a, job_of(rows, n));
    }
    store_mail_rows_free(rows, n);
    bool applied = done.n > 0;
    mail_list_release(&done);
    return applied;
}
