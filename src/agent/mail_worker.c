/* mail_worker.c: the mailer thread. The writer never waits on SMTP: the mails the core asks for
 * (ctx->mails) are handed here after the transaction that made them committed, and so are the
 * queued mails the writer claimed (mail_queue.c). It sends each job's mails in order through
 * mailer.h; a queued mail past its expiry is not sent. The outcomes of queued mails go back to the
 * writer (agent_mail_queue_outcomes), which deletes or reschedules their rows; for a request parked
 * until its mails' outcomes are known, it records each outcome in the work item and puts it back
 * on the writer's queue for its second run. */
#include "agent_int.h"

#include "cmagent/clock.h"

#include <stdlib.h>
#include <string.h>

void agent_mail_job_free(struct mail_job *j)
{
    if (j == NULL)
        return;
    mail_list_release(&j->mails);
    free(j);
}

/* A job with the mails the request composed (taken from ctx): a deferred request's awaited ones
 * (the others are composed again by its second run), any other request's all. NULL when none. */
struct mail_job *agent_take_mails(struct ctx *ctx, bool deferred)
{
    struct mail_list *l = &ctx->mails;

    if (deferred)
        mail_list_keep_awaited(l);
    if (l->n == 0) {
        mail_list_release(l);
        return NULL;
    }
    struct mail_job *j = xcalloc(1, sizeof *j);
    j->mails = *l;
    memset(l, 0, sizeof *l);
    return j;
}

/* Sends one job's mails in order, recording each outcome (after a failure, an atomic batch's others
 * are not sent and count as failed) and, for a parked request, puts it back on the writer's queue
 * with them. */
static void run_mail_job(struct agent *a, struct mail_job *j)
{
    char err[512];
    bool failed = false;

    for (size_t i = 0; i < j->mails.n; i++) {
        struct outgoing_mail *m = &j->mails.items[i];
        if (failed && j->mails.stop_at_failure) {
            m->outcome = MAIL_FAILED;
            log_info("Mail \"%s\" to %s not sent: an earlier mail of its atomic batch failed.", m->subject, m->to);
            continue;
        }
        if (m->queue_id[0] != '\0' && clock_now_ms() >= m->expires_at) {
            m->outcome = MAIL_FAILED; /* the writer drops its row */
            log_info("Mail \"%s\" to %s not sent: it expired before it could be.", m->subject, m->to);
            continue;
        }
        int rc = mailer_send(&a->mail_opts, m->to, m->subject, m->body, err, sizeof err);
        if (rc == 0)
            log_info("Mail \"%s\" sent to %s.", m->subject, m->to);
        else
            log_warn("Mail \"%s\" to %s failed: %s", m->subject, m->to, err);
        m->outcome = rc == 0 ? MAIL_SENT : MAIL_FAILED;
        failed = failed || rc != 0;
    }
    agent_mail_queue_outcomes(a, &j->mails);
    if (j->w != NULL) {
        mail_list_release(&j->w->mailed);
        j->w->mailed = j->mails;
        memset(&j->mails, 0, sizeof j->mails);
        queue_push(&a->queue, &j->w->node);
    }
    agent_mail_job_free(j);
}

void *agent_mailer_main(void *arg)
{
    struct agent *a = arg;
    for (;;) {
        size_t n = 0;
        struct mail_job *j = (struct mail_job *)queue_pop_many(&a->mail_queue, 1, -1, &n);
        if (j == NULL)
            continue;
        if (j->stop) {
            agent_mail_job_free(j);
            return NULL;
        }
        run_mail_job(a, j);
    }
}

void agent_submit_mail(struct agent *a, struct mail_job *j)
{
    if (a->mailer_stopped)
        run_mail_job(a, j); /* shutting down: the writer's drain sends what is left */
    else
        queue_push(&a->mail_queue, &j->node);
}
