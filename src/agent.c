/* agent.c: the agent's threads and the life of a request. The paho callback thread only copies a
 * message onto the work queue. The writer thread owns the SQLite connection: it takes every waiting
 * request (up to max_group_commit) into one transaction, each request in its own savepoint so a
 * failure rolls back that request alone, commits once (durably), and only then publishes the
 * replies and the new events of the outbox (from the copies the requests kept in memory when they
 * are exactly the outbox's next ones, else read back from it). Broker acknowledgements of events
 * are collected as they arrive and marked in the outbox, in ranges of consecutive seq, by the
 * writer's next writing transaction (or after a second without requests, so they cost no commit of
 * their own), so events not acknowledged before a crash or a disconnect are published again, in
 * seq order. The main thread handles signals and reconnects.
 *
 * Mail. The writer never waits on SMTP: the mails the core asks for (ctx->mails) are handed to the
 * mailer thread after the transaction that made them committed. A request whose reply depends on
 * its mails (user.create with sendActivationMail, user.sendActivationMail, or a batch holding any
 * number of them) runs twice. The first run does everything, each mailing command composing its
 * own mail with its own user id and activation token (ctx->command tells the commands of a batch
 * apart), and is then rolled back whole: nothing of it lasts, not the users, not a batch's other
 * commands, not their events or audit rows. Its reply is parked (the work item is not freed) with
 * the mails of the commands that succeeded; an atomic batch that failed, or a command that failed,
 * composed none and a request left without awaited mails is answered at once. The mailer sends
 * each mail, records each outcome in the work item and puts it back on the writer's queue. The
 * second run repeats every command and check as a new request would, and each mailing command
 * takes its own mail: sent, the user is created with the id and token that mail carries (or the
 * mailed token is stored, for user.sendActivationMail); failed, the command answers 500 "Couldn't
 * send user activation email" (which fails an atomic batch: committed false, nothing kept). So
 * every command of a batch is applied once, no user exists whose mail failed, no link activates
 * another user than the one it was mailed to, nothing has to be undone, and a crash between the
 * runs leaves no trace but mails whose links lead nowhere. In an atomic batch the mails after a
 * failed one are not sent. Mails nobody waits for (password reset) are handed over after the
 * commit and only logged.
 *
 * Kept writes. A failed request's savepoint is rolled back, then ctx_apply_kept() writes what must
 * survive the failure in a savepoint of its own: the failed-login count (and lockout) and the
 * failed write's audit row.
 *
 * Password hashes. A yescrypt hash or check costs about 100 ms; on the writer every login would
 * stall every other tenant's requests that long. So a request that checks or sets a password
 * (api_prepares) goes first to a verifier thread (password_hash_threads of them), which runs its
 * checks up to its first write against a read-only connection of its own (api_prepare) and records
 * every crypt() answer in the work item (hash_work.h); then it joins the writer's queue. The
 * writer runs the request as any other, from the start and on the committed data, and takes each
 * answer from the record when the question is the same: the same password against the same stored
 * hash. When the stored hash changed in between, the question is new and the writer computes it,
 * so the outcome is always the committed data's. Lockout counting, audit rows and the equal cost
 * of unknown e-mails (a dummy hash, on the verifier too) are unchanged.
 *
 * Admission and fairness. Before an authentication request is queued, the receiving thread admits
 * it (api_admit): an anonymous one past its client's or its e-mail's budget is answered 429 there
 * and then, before anything is read or hashed, so a flood costs no hashing and no writer time. A
 * request with hash work is told the tenant of the account it names (one indexed read on the
 * admission reader; unknown accounts share one bucket) and waits in that tenant's bucket of the
 * verifiers' fair queue (fairq.h), at most password_queue_per_tenant of them (429 past that). The
 * verifiers serve a bucket that had nothing waiting first and the busy ones in turn, so one
 * tenant's flood (or one of unknown e-mails) delays another tenant's login by about the hashes
 * being computed, not by the whole flood. Within a bucket, requests reach the writer in the order
 * they arrived, whichever verifier finished first, so a login sent after a password change of
 * the same account sees the new password; requests of different buckets, and these requests
 * against others, may be applied in another order than they arrived, as a mailed user.create is.
 * Refused requests are answered by the replier thread: paho's thread, which receives, must not
 * wait for room among the publishes in flight, whose acknowledgements it delivers. */
#include "cmagent/agent.h"

#include "cmagent/api.h"
#include "cmagent/clock.h"
#include "cmagent/audit.h"
#include "cmagent/broker_sync.h"
#include "cmagent/dynsec.h"
#include "cmagent/events.h"
#include "cmagent/fairq.h"
#include "cmagent/hash_work.h"
#include "cmagent/idempotency.h"
#include "cmagent/log.h"
#include "cmagent/mailer.h"
#include "cmagent/metrics.h"
#include "cmagent/metrics_http.h"
#include "cmagent/queue.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"
#include "cmagent/store_checkpoint.h"
#include "cmagent/store_outbox.h"
#include "cmagent/store_token.h"
#include "cmagent/transport.h"
#include "cmagent/unassign.h"
#include "cmagent/user.h"
#include "cmagent/uuid.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum work_kind { WORK_REQUEST, WORK_CONNECTED, WORK_STOP, WORK_BROKER };

struct work {
    struct queue_node node;       /* first member: a queue_node pointer is a work pointer */
    enum work_kind kind;
    struct transport_message *msg; /* WORK_REQUEST */
    bool parked;                   /* its reply waits for its mails: the mailer owns the item */
    struct mail_list mailed;       /* for the second run: the first run's mails and their outcomes */
    struct hash_work *hash_work;   /* the verifier's answers, or NULL */
    struct fairq_item waiting;     /* its place in the verifiers' queue */
    char *refusal;                 /* admission refused it: the 429 message (WORK_REQUEST), for the replier */
};

/* The mails of one request, for the mailer thread. */
struct mail_job {
    struct queue_node node;        /* first member */
    struct mail_list mails;
    struct work *w;                /* the parked request to run again, or NULL */
    bool stop;                     /* ends the mailer thread */
};

struct pending_reply {
    char *topic;
    char *body;
    const struct transport_message *msg;
    struct mail_job *job;          /* handed to the mailer once the batch committed */
};

/* A verifier thread and its read-only connection. */
struct verifier {
    struct agent *agent;
    struct store *reader;
    pthread_t thread;
};

struct agent {
    const struct config *cfg;
    struct store *store;
    struct core_settings settings;
    struct transport *transport;
    struct queue queue;
    char req_prefix[512];          /* "<prefix>/req/" */
    char event_prefix[512];        /* "<prefix>/event/" */
    int64_t last_sent_seq;         /* events up to here were handed to the transport */
    pthread_mutex_t acks_lock;     /* guards acks: the seqs the broker acknowledged, not yet marked */
    int64_t *acks;
    size_t nacks, acks_cap;
    struct outbox_event *batch_events; /* the events the batch's requests wrote, in seq order */
    size_t nbatch_events, batch_events_cap;
    int64_t next_purge_ms;
    struct mailer_options mail_opts;
    struct queue mail_queue;
    pthread_t mailer;
    bool mailer_stopped;           /* after shutdown mails are sent by the writer itself */
    struct queue refusals;         /* requests admission refused, for the replier thread to answer */
    pthread_t replier;
    /* Test hook (env CMAGENT_TEST_EXIT_AFTER_COMMIT=N): the process exits right after the N-th
     * commit that wrote events, before any reply or event of that batch is published. */
    long exit_after_commit;
    struct fairq *verify_queue;    /* requests with password hash work, for the verifiers */
    struct verifier *verifiers;
    size_t nverifiers;
    pthread_mutex_t route_lock;    /* verifiers_running, the admission reader and the pushes onto verify_queue */
    bool verifiers_running;
    struct store *admit_reader;    /* finds the tenant a request's account belongs to, or NULL */
    struct store_checkpointer *checkpointer;
    bool unassign_waiting;         /* a deleted customer's entities are still to be unassigned */
    int batches_since_unassign;
    struct log_throttle refusal_log; /* the log lines of refused reply destinations */
    struct broker_sync *broker;    /* broker_acl dynsec, else NULL */
    char stats_topic[512];         /* "<prefix>/stats/<agent_id>", retained figures every stats_interval */
    int64_t next_stats_ms;
    struct metrics_http *metrics_http; /* the Prometheus endpoint, or NULL */
};

#define PURGE_INTERVAL_MS (3600 * 1000)
#define EVENTS_PER_PUBLISH_QUERY 1000

static struct work *work_new(enum work_kind kind)
{
    struct work *w = xcalloc(1, sizeof *w);
    w->kind = kind;
    return w;
}

/* The operation a request names: the last level of its topic. */
static const char *op_of(const struct agent *a, const struct transport_message *m)
{
    size_t plen = strlen(a->req_prefix);
    return strncmp(m->topic, a->req_prefix, plen) == 0 ? m->topic + plen : m->topic;
}

/* The api's view of a received request: its operation, payload and Response Topic. */
static void request_of(const struct agent *a, const struct transport_message *m, struct api_request *req)
{
    memset(req, 0, sizeof *req);
    req->op = op_of(a, m);
    req->payload = m->payload;
    req->payload_len = m->payload_len;
    req->response_topic = m->response_topic;
    req->response_topic_len = m->response_topic_len;
}

/* A request whose reply destination was refused: counted, and logged at most once a second. */
static void refused_destination(struct agent *a, const char *op, const char *refusal)
{
    uint64_t left_out = 0;
    stats_record_refused_reply();
    if (log_throttle_pass(&a->refusal_log, clock_mono_ms(), &left_out))
        log_warn("Refused the reply destination of %.64s: %s; the request was not applied and nothing was "
                 "published (%llu more refused since the last such line).", op, refusal, (unsigned long long)left_out);
}

/* Publishes a request's reply (to topic; NULL: it has nowhere to go) and records it in the metrics.
 * Every reply of a request leaves through here, whichever thread made it. A reply larger than the
 * broker's Maximum Packet Size would be dropped by the broker (and the connection with it): it
 * becomes a 413 error reply instead. */
static void send_reply(struct agent *a, const struct transport_message *m, const char *topic, const char *body)
{
    struct transport_publish_options po = { .qos = 1, .correlation = m->correlation,
                                            .correlation_len = m->correlation_len };
    char msg[300];
    if (topic == NULL || transport_publish(a->transport, topic, body, strlen(body), &po) != TRANSPORT_TOO_LARGE) {
        metrics_record_reply(op_of(a, m), api_reply_status(body), m->received_us);
        return;
    }
    snprintf(msg, sizeof msg, "The reply of %zu bytes exceeds the broker's Maximum Packet Size of %u bytes: ask for "
             "fewer rows (a smaller pageSize or limit, fewer ids or commands)", strlen(body),
             (unsigned)transport_max_packet(a->transport));
    log_warn("%s; answered 413 instead (set max_reply below the broker's max_packet_size).", msg);
    char *err = api_error_body(ERR_TOO_LARGE, msg, m->payload, m->payload_len);
    metrics_record_reply(op_of(a, m), api_reply_status(err), m->received_us);
    transport_publish(a->transport, topic, err, strlen(err), &po);
    free(err);
}

/* ---- callbacks from the transport (paho's threads): enqueue only ---- */

static char *reply_topic_of(struct agent *a, const struct transport_message *m);

/* Hands a request admission refused to the replier thread. */
static void refuse(struct agent *a, struct work *w, const char *why)
{
    stats_record_throttled();
    log_debug("%s -> 429 before queueing: %s", op_of(a, w->msg), why);
    w->refusal = xstrdup_or_null(why);
    queue_push(&a->refusals, &w->node);
}

/* Answers a refused request: it wrote nothing, so its reply waits for no commit and no writer. */
static void answer_refusal(struct agent *a, struct work *w)
{
    const struct transport_message *m = w->msg;
    char *topic = reply_topic_of(a, m);
    char *body = api_error_body(ERR_RATE_LIMITED, w->refusal, m->payload, m->payload_len);

    send_reply(a, m, topic, body);
    free(topic);
    free(body);
}

static void *replier_main(void *arg)
{
    struct agent *a = arg;
    for (;;) {
        size_t n = 0;
        struct queue_node *node = queue_pop_many(&a->refusals, 256, -1, &n);
        while (node != NULL) {
            struct work *w = (struct work *)node;
            node = node->next;
            if (w->kind == WORK_STOP) {
                free(w);
                return NULL; /* pushed after the last refusal */
            }
            answer_refusal(a, w);
            transport_message_free(w->msg);
            free(w->refusal);
            free(w);
        }
    }
}

/* Admits an authentication request (api_admit) and queues it: a request with password hash work
 * in its tenant's bucket of the verifiers' queue, any other straight for the writer. */
static void route_request(struct agent *a, struct work *w)
{
    const char *op = op_of(a, w->msg);
    struct api_admission adm = { 0 };
    bool prepares = api_prepares(op);

    if (!api_admits(op) && !prepares) {
        queue_push(&a->queue, &w->node);
        return;
    }
    pthread_mutex_lock(&a->route_lock);
    struct ctx ctx;
    struct api_request req;
    request_of(a, w->msg, &req);
    memset(&ctx, 0, sizeof ctx);
    ctx.store = a->verifiers_running && prepares ? a->admit_reader : NULL;
    ctx.settings = &a->settings;
    ctx.now = clock_now_ms();
    api_admit(&ctx, &req, w->msg->response_topic, &adm);
    ctx_release(&ctx);
    bool queued = false, full = false;
    if (adm.refusal[0] == '\0' && prepares && a->verifiers_running) {
        queued = fairq_push(a->verify_queue, adm.queue, &w->waiting);
        full = !queued;
    }
    pthread_mutex_unlock(&a->route_lock);
    if (full)
        snprintf(adm.refusal, sizeof adm.refusal,
                 "Too many password checks are waiting: at most %ld for one tenant (password_queue_per_tenant)",
                 a->cfg->password_queue_per_tenant);
    if (adm.refusal[0] != '\0')
        refuse(a, w, adm.refusal);
    else if (!queued)
        queue_push(&a->queue, &w->node);
}

static void on_message(void *context, struct transport_message *msg)
{
    struct agent *a = context;
    if (strcmp(msg->topic, DYNSEC_RESPONSE_TOPIC) == 0) {
        if (a->broker != NULL && broker_sync_on_response(a->broker, msg->payload, msg->payload_len))
            queue_push(&a->queue, &work_new(WORK_BROKER)->node);
        transport_message_free(msg);
        return;
    }
    struct work *w = work_new(WORK_REQUEST);
    w->msg = msg;
    route_request(a, w);
}

static void on_connected(void *context)
{
    struct agent *a = context;
    metrics_gauge_set(METRICS_BROKER_CONNECTED, 1); /* the main thread's tick sees a loss */
    queue_push(&a->queue, &work_new(WORK_CONNECTED)->node);
}

/* Only records the seq: a work item per acknowledgement woke the writer for a transaction of its
 * own, and at one request in flight that commit's fsync delayed the next request. */
static void on_acked(void *context, uint64_t tag)
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

/* ---- the writer ---- */

/* Takes the acknowledged seqs collected so far (NULL when there are none). */
static int64_t *take_acks(struct agent *a, size_t *n)
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
static void give_back_acks(struct agent *a, const int64_t *acks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        on_acked(a, (uint64_t)acks[i]);
}

static bool have_acks(struct agent *a)
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
static int mark_acked(struct agent *a, int64_t *acks, size_t n)
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

static void work_free(struct work *w)
{
    transport_message_free(w->msg);
    hash_work_free(w->hash_work);
    mail_list_release(&w->mailed);
    free(w);
}

static void mail_job_free(struct mail_job *j)
{
    if (j == NULL)
        return;
    mail_list_release(&j->mails);
    free(j);
}

/* A job with the mails the request composed (taken from ctx): a deferred request's awaited ones
 * (the others are composed again by its second run), any other request's all. NULL when none. */
static struct mail_job *take_mails(struct ctx *ctx, bool deferred)
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

/* Moves the events a request wrote to the batch's, to be published once the batch commits. */
static void keep_request_events(struct agent *a, struct ctx *ctx)
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

static void forget_batch_events(struct agent *a)
{
    outbox_events_free_items(a->batch_events, a->nbatch_events);
    a->nbatch_events = 0;
}

/* Runs one request in its own savepoint. Returns the number of events it committed to the outbox. */
static int64_t handle_request(struct agent *a, struct work *w, struct pending_reply *out)
{
    struct transport_message *m = w->msg;
    struct ctx ctx;
    struct api_request req;
    struct api_reply reply;

    memset(&ctx, 0, sizeof ctx);
    ctx.store = a->store;
    ctx.settings = &a->settings;
    ctx.render_event = api_render_event;
    ctx.render_audit = api_render_audit;
    ctx.now = clock_now_ms();
    ctx.keep_events = true;
    ctx.mailed = w->mailed.n > 0 ? &w->mailed : NULL;
    ctx.hash_work = w->hash_work;
    hash_work_reset_count(w->hash_work);
    w->parked = false;
    request_of(a, m, &req);

    store_savepoint(a->store);
    api_handle(&ctx, &req, &reply);
    /* After some errors (disk full, I/O) SQLite has already rolled the whole transaction back. A
     * deferred first run is rolled back whole: the second run applies the request. */
    bool applied = !reply.failed && !reply.deferred;
    if (store_in_transaction(a->store)) {
        if (applied) {
            store_savepoint_release(a->store);
        } else {
            store_savepoint_rollback(a->store);
            if (reply.failed)
                ctx_apply_kept(&ctx);
        }
    }
    if (reply.replayed)
        stats_record_replayed();
    if (reply.refused)
        refused_destination(a, req.op, reply.refusal);
    if (hash_work_computed(w->hash_work) > 0)
        log_debug("%s: %zu password hash(es) computed on the writer: the stored hash changed after the "
                  "verifier's run", req.op, hash_work_computed(w->hash_work));
    log_debug("%s -> %d%s", req.op, reply.status,
              reply.replayed ? " (repeated id: first reply)" : reply.deferred ? " (waits for its mail)" : "");

    out->msg = m;
    if (!reply.failed) {
        out->job = take_mails(&ctx, reply.deferred);
        if (reply.deferred && out->job != NULL) {
            out->job->w = w;
            w->parked = true;
        }
    }
    if (applied)
        keep_request_events(a, &ctx);
    ctx_release(&ctx);
    out->body = reply.body;
    reply.body = NULL;
    out->topic = reply.reply_to;
    reply.reply_to = NULL;
    return applied ? ctx.events_written : 0;
}

/* ---- the mailer thread ---- */

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
        int rc = mailer_send(&a->mail_opts, m->to, m->subject, m->body, err, sizeof err);
        if (rc == 0)
            log_info("Mail \"%s\" sent to %s.", m->subject, m->to);
        else
            log_warn("Mail \"%s\" to %s failed: %s", m->subject, m->to, err);
        m->outcome = rc == 0 ? MAIL_SENT : MAIL_FAILED;
        failed = failed || rc != 0;
    }
    if (j->w != NULL) {
        mail_list_release(&j->w->mailed);
        j->w->mailed = j->mails;
        memset(&j->mails, 0, sizeof j->mails);
        queue_push(&a->queue, &j->w->node);
    }
    mail_job_free(j);
}

static void *mailer_main(void *arg)
{
    struct agent *a = arg;
    for (;;) {
        size_t n = 0;
        struct mail_job *j = (struct mail_job *)queue_pop_many(&a->mail_queue, 1, -1, &n);
        if (j == NULL)
            continue;
        if (j->stop) {
            mail_job_free(j);
            return NULL;
        }
        run_mail_job(a, j);
    }
}

static void submit_mail(struct agent *a, struct mail_job *j)
{
    if (a->mailer_stopped)
        run_mail_job(a, j); /* shutting down: the writer's drain sends what is left */
    else
        queue_push(&a->mail_queue, &j->node);
}

/* Where a request's reply goes when it was never handled: its Response Topic, else its replyTo,
 * as the api checks them (NULL: nowhere, a refusal is counted and logged). */
static char *reply_topic_of(struct agent *a, const struct transport_message *m)
{
    struct api_request req;
    struct api_reply dest;
    request_of(a, m, &req);
    api_reply_destination(&req, &dest);
    if (dest.refused)
        refused_destination(a, req.op, dest.refusal);
    return dest.reply_to;
}

static void publish_replies(struct agent *a, struct pending_reply *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].body != NULL)
            send_reply(a, r[i].msg, r[i].topic, r[i].body);
        free(r[i].topic);
        free(r[i].body);
    }
}

/* Every reply of a batch whose commit failed becomes a database error: nothing was applied. */
static void fail_replies(struct agent *a, struct pending_reply *r, size_t n, const char *why)
{
    char msg[700];
    snprintf(msg, sizeof msg, "Database error: the transaction could not be committed, nothing was applied: %s", why);
    log_error("%s", msg);
    for (size_t i = 0; i < n; i++) {
        free(r[i].body);
        r[i].body = api_error_body(ERR_DATABASE, msg, r[i].msg->payload, r[i].msg->payload_len);
        if (r[i].job != NULL && r[i].job->w != NULL) {
            r[i].job->w->parked = false; /* nothing committed: answer now, send nothing */
            if (r[i].topic == NULL)
                r[i].topic = reply_topic_of(a, r[i].msg);
        }
        mail_job_free(r[i].job);
        r[i].job = NULL;
    }
}

static int publish_event(struct agent *a, const struct outbox_event *ev)
{
    char topic[1024];
    snprintf(topic, sizeof topic, "%s%s/%s/%s", a->event_prefix, ev->tenant_id, ev->entity_type, ev->event_type);
    struct transport_publish_options po = { .qos = 1, .tag = (uint64_t)ev->seq };
    metrics_gauge_add(METRICS_EVENTS_UNACKED, 1); /* before: the acknowledgement may come first */
    int rc = transport_publish(a->transport, topic, ev->payload, strlen(ev->payload), &po);
    if (rc == TRANSPORT_TOO_LARGE) {
        /* the broker would drop it and the connection with it, at every reconnect again */
        log_error("Event %lld (%s) of %zu bytes exceeds the broker's Maximum Packet Size of %u bytes: not published "
                  "live; event.replay still returns it.", (long long)ev->seq, topic, strlen(ev->payload),
                  (unsigned)transport_max_packet(a->transport));
        on_acked(a, (uint64_t)ev->seq);
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

static void publish_events(struct agent *a)
{
    bool done = publish_batch_events(a);
    forget_batch_events(a);
    if (done)
        return;
    for (;;) {
        struct outbox_event *evs = NULL;
        size_t n = 0;
        if (store_outbox_unpublished(a->store, a->last_sent_seq, EVENTS_PER_PUBLISH_QUERY, &evs, &n) != STORE_OK) {
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

/* The hourly housekeeping, in one transaction: published events past their retention period,
 * expired tokens, audit rows past theirs and stored replies past the idempotency window. */
static void purge_expired(struct agent *a)
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

/* Processes one batch of work (none: only marks the acknowledged events). Returns true when a
 * WORK_STOP was in it. */
static bool process_batch(struct agent *a, struct queue_node *first, size_t n)
{
    struct pending_reply *replies = xcalloc(n, sizeof *replies);
    struct work **done = xcalloc(n, sizeof *done);
    size_t nreplies = 0, ndone = 0, nacks = 0;
    int64_t events = 0;
    int64_t *acks = take_acks(a, &nacks);
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
        if (!began) {
            began = true;
            begin_failed = store_begin(a->store) != STORE_OK;
            if (begin_failed)
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
        }
        if (begin_failed || lost) {
            replies[nreplies].msg = w->msg;
            replies[nreplies].topic = reply_topic_of(a, w->msg);
            nreplies++;
        } else {
            events += handle_request(a, w, &replies[nreplies++]);
            if (!store_in_transaction(a->store)) {
                /* the database rolled the whole batch back: the requests before this one too */
                lost = true;
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
                log_error("The database rolled the transaction back: %s", why);
            }
        }
    }
    /* The marks ride on a commit that writes anyway: a batch of reads commits nothing, and must
     * not fail because of them when the disk is full. A batch without requests writes only them. */
    if (nacks > 0 && events == 0 && nreplies > 0) {
        give_back_acks(a, acks, nacks);
        nacks = 0;
    }
    if (nacks > 0 && !began) {
        began = true;
        begin_failed = store_begin(a->store) != STORE_OK;
        if (begin_failed)
            snprintf(why, sizeof why, "%s", store_errmsg(a->store));
    }
    if (nacks > 0 && !begin_failed && !lost && mark_acked(a, acks, nacks) != STORE_OK &&
        !store_in_transaction(a->store)) {
        lost = true;
        snprintf(why, sizeof why, "%s", store_errmsg(a->store));
        log_error("The database rolled the transaction back: %s", why);
    }
    if (began) {
        int64_t t0 = clock_mono_us();
        if (begin_failed || lost || store_commit(a->store) != STORE_OK) {
            if (why[0] == '\0')
                snprintf(why, sizeof why, "%s", store_errmsg(a->store));
            store_rollback(a->store);
            forget_batch_events(a);
            committed = false;
            if (nreplies > 0) {
                fail_replies(a, replies, nreplies, why);
                give_back_acks(a, acks, nacks); /* the next batch tries again */
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
        if (replies[i].job != NULL)
            submit_mail(a, replies[i].job);
        replies[i].job = NULL;
    }
    /* The broker hears of changed accounts on the agent's one connection, so it applies them in
     * this order with the replies: revocations and new accounts before, new passwords of existing
     * accounts (which end their sessions, the asking one included) after (broker_sync.h). */
    bool synced = a->broker != NULL && began && committed;
    if (synced)
        broker_sync_after_commit(a->broker, false);
    publish_replies(a, replies, nreplies);
    if (synced)
        broker_sync_after_commit(a->broker, true);
    if (a->broker != NULL && resend)
        broker_sync_connected(a->broker);
    if (resend) {
        a->last_sent_seq = 0;
        metrics_gauge_set(METRICS_EVENTS_UNACKED, 0); /* everything not acknowledged goes out again */
    }
    publish_events(a);
    if (a->broker != NULL && broker)
        broker_sync_apply(a->broker);
    for (size_t i = 0; i < ndone; i++) {
        if (done[i]->parked)
            continue; /* the mailer gives it back */
        work_free(done[i]);
    }
    free(done);
    free(replies);
    free(acks);
    return stop;
}

#define UNASSIGN_EVERY_BATCHES 4
#define IDLE_WAIT_MS 1000

/* Deleted customers' devices, assets and edges (unassign.h): one chunk of unassign_chunk_size rows in
 * a transaction of its own, run when the queue was empty or, under steady load, after every
 * UNASSIGN_EVERY_BATCHES batches, so that requests go first and a job still ends. With no job known
 * it only looks whether one appeared (after every batch, and every second of quiet). A failed chunk
 * is rolled back and tried again the same way. Returns how long the writer may wait for a request. */
static int unassign_deleted_customers(struct agent *a, bool queue_was_empty)
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

static void *writer_main(void *arg)
{
    struct agent *a = arg;
    int wait_ms = 0; /* a job left by the last run resumes at once */
    for (;;) {
        size_t n = 0;
        struct queue_node *first = queue_pop_many(&a->queue, (size_t)a->cfg->max_group_commit, wait_ms, &n);
        if (clock_mono_ms() >= a->next_purge_ms) {
            purge_expired(a);
            a->next_purge_ms = clock_mono_ms() + PURGE_INTERVAL_MS;
        }
        if (first != NULL ? process_batch(a, first, n) : have_acks(a) && process_batch(a, NULL, 0))
            return NULL;
        if (a->broker != NULL)
            broker_sync_tick(a->broker);
        wait_ms = unassign_deleted_customers(a, first == NULL);
    }
}

/* ---- the verifiers ---- */

/* Runs the request's checks up to its first write on the reader, recording its hash work. */
static void verify_request(struct agent *a, struct store *reader, struct work *w)
{
    struct ctx ctx;
    struct api_request req;

    memset(&ctx, 0, sizeof ctx);
    ctx.store = reader;
    ctx.settings = &a->settings;
    ctx.now = clock_now_ms();
    ctx.hash_work = w->hash_work = hash_work_new();
    request_of(a, w->msg, &req);
    api_prepare(&ctx, &req);
    ctx_release(&ctx);
}

#define WORK_OF_WAITING(item) ((struct work *)((char *)(item) - offsetof(struct work, waiting)))

/* Called by the fair queue, in each bucket's order, for the verified requests whose turn came. */
static void hand_to_writer(void *arg, struct fairq_item *item)
{
    struct agent *a = arg;
    queue_push(&a->queue, &WORK_OF_WAITING(item)->node);
}

static void *verifier_main(void *arg)
{
    struct verifier *v = arg;
    struct agent *a = v->agent;
    struct fairq_item *item;
    while ((item = fairq_take(a->verify_queue)) != NULL) {
        verify_request(a, v->reader, WORK_OF_WAITING(item));
        fairq_finish(a->verify_queue, item, hand_to_writer, a);
    }
    return NULL;
}

/* Opens a reader per verifier and starts them. Without a reader (a database that cannot be opened
 * twice) the writer does the hash work itself, as it can always do. */
static void start_verifiers(struct agent *a)
{
    char err[600];
    size_t want = (size_t)a->cfg->password_hash_threads;

    a->verifiers = xcalloc(want, sizeof *a->verifiers);
    for (size_t i = 0; i < want; i++) {
        struct verifier *v = &a->verifiers[a->nverifiers];
        v->agent = a;
        v->reader = store_open_reader(a->cfg->database, err, sizeof err);
        if (v->reader == NULL) {
            log_warn("Password hashes run on the writer: %s", err);
            break;
        }
        a->nverifiers++;
    }
    if (a->nverifiers > 0) {
        a->admit_reader = store_open_reader(a->cfg->database, err, sizeof err);
        if (a->admit_reader == NULL)
            log_warn("Password requests of every tenant share one queue: %s", err);
    }
    for (size_t i = 0; i < a->nverifiers; i++)
        pthread_create(&a->verifiers[i].thread, NULL, verifier_main, &a->verifiers[i]);
    pthread_mutex_lock(&a->route_lock);
    a->verifiers_running = a->nverifiers > 0;
    pthread_mutex_unlock(&a->route_lock);
}

/* The verifiers finish what they hold and pass it to the writer; later requests go straight to it. */
static void stop_verifiers(struct agent *a)
{
    pthread_mutex_lock(&a->route_lock);
    a->verifiers_running = false;
    pthread_mutex_unlock(&a->route_lock);
    fairq_close(a->verify_queue);
    for (size_t i = 0; i < a->nverifiers; i++) {
        pthread_join(a->verifiers[i].thread, NULL);
        store_close(a->verifiers[i].reader);
    }
    store_close(a->admit_reader);
    a->admit_reader = NULL;
    free(a->verifiers);
    a->verifiers = NULL;
    a->nverifiers = 0;
}

/* ---- start and stop ---- */

static void settings_from_config(struct core_settings *s, const struct config *cfg)
{
    s->base_url = cfg->base_url;
    s->access_token_ttl_ms = cfg->access_token_ttl * 1000;
    s->refresh_token_ttl_ms = cfg->refresh_token_ttl * 1000;
    s->activation_token_ttl_ms = cfg->activation_token_ttl * 3600 * 1000;
    s->password_hash_cost = (unsigned long)cfg->password_hash_cost;
    s->event_retention_ms = cfg->event_retention_days * 24 * 3600 * 1000;
    s->idempotency_window_ms = cfg->idempotency_window * 1000;
    s->mail_configured = cfg->smtp_url[0] != '\0';
    s->reset_token_ttl_ms = cfg->password_reset_token_ttl * 3600 * 1000;
    s->max_failed_login_attempts = cfg->max_failed_login_attempts;
    s->audit_retention_ms = cfg->audit_retention_days * 24 * 3600 * 1000;
    s->password.min_length = cfg->password_min_length;
    s->password.max_length = cfg->password_max_length;
    s->password.min_uppercase = cfg->password_min_uppercase;
    s->password.min_lowercase = cfg->password_min_lowercase;
    s->password.min_digits = cfg->password_min_digits;
    s->password.min_special = cfg->password_min_special;
    s->password.forbid_whitespace = cfg->password_allow_whitespace == 0;
    s->password.reuse_days = cfg->password_reuse_days;
    s->max_json_field_size = cfg->max_json_field_size;
    s->max_text_field_length = cfg->max_text_field_length;
    s->max_dashboard_configuration_size = cfg->max_dashboard_configuration_size;
    s->max_api_keys_per_user = cfg->max_api_keys_per_user;
    s->max_page_size = cfg->max_page_size;
    s->max_page_offset = cfg->max_page_offset;
    s->broker_acl = strcmp(cfg->broker_acl, "dynsec") == 0;
    s->broker_name_prefix = cfg->broker_name_prefix;
    s->topic_prefix = cfg->topic_prefix;
}

/* What an open broker leaves unprotected, said once at start. */
static void warn_open_broker(const struct config *cfg)
{
    log_warn("broker_acl none: the broker is not provisioned by the agent. Unless its own ACL does so, any "
             "client can read every reply (login tokens included) under %s/reply/#, every tenant's events under "
             "%s/event/#, every request (passwords included) under %s/req/#, and publish forged events and "
             "status; the agent still checks every token. Use broker_acl dynsec (docs/broker-acl.md).",
             cfg->topic_prefix, cfg->topic_prefix, cfg->topic_prefix);
}

static int bootstrap(struct agent *a)
{
    struct ctx ctx;
    char generated[64] = "";

    memset(&ctx, 0, sizeof ctx);
    ctx.store = a->store;
    ctx.settings = &a->settings;
    ctx.render_event = api_render_event;
    ctx.now = clock_now_ms();
    if (user_bootstrap_sysadmin(&ctx, a->cfg->sysadmin_email, a->cfg->sysadmin_password, generated) != ERR_OK) {
        log_error("Creating the system administrator failed: %s", ctx.err.message);
        return -1;
    }
    if (generated[0] != '\0')
        log_warn("System administrator created: %s password %s (change it with auth.changePassword)",
                 a->cfg->sysadmin_email, generated);
    return 0;
}

static void drain_after_stop(struct agent *a)
{
    size_t n = 0;
    struct queue_node *rest;
    while ((rest = queue_pop_many(&a->queue, (size_t)a->cfg->max_group_commit, 0, &n)) != NULL)
        process_batch(a, rest, n);
    if (have_acks(a))
        process_batch(a, NULL, 0);
}

/* The gauges sampled every tick (for the endpoint, the stats topic and agent.stats), and the
 * retained stats topic every stats_interval seconds. */
static void tick_metrics(struct agent *a)
{
    struct transport_publish_options po = { .qos = 1, .retain = true };
    metrics_gauge_set(METRICS_QUEUE_DEPTH, (int64_t)queue_length(&a->queue));
    metrics_gauge_set(METRICS_BROKER_CONNECTED, transport_connected(a->transport) ? 1 : 0);
    if (a->cfg->stats_interval <= 0 || clock_mono_ms() < a->next_stats_ms || !transport_connected(a->transport))
        return;
    a->next_stats_ms = clock_mono_ms() + a->cfg->stats_interval * 1000;
    char *payload = api_stats_payload(a->cfg->agent_id, clock_now_ms());
    transport_publish(a->transport, a->stats_topic, payload, strlen(payload), &po);
    free(payload);
}

/* Until SIGINT or SIGTERM (returned), or until the transport gives up (0, and *failure says why:
 * the agent's exit code). */
static int wait_for_signal(struct agent *a, const sigset_t *signals, enum transport_failure *failure)
{
    struct timespec tick = { 0, 100 * 1000000L };
    for (;;) {
        int sig = sigtimedwait(signals, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        *failure = transport_tick(a->transport);
        if (*failure != TRANSPORT_RUNNING)
            return 0;
        tick_metrics(a);
    }
}

/* glibc's default is to hand freed memory back to the kernel as soon as 128 KiB sit free at the
 * top of a thread's heap. The writer allocates and frees a few hundred KiB per batch, so every
 * batch paid for madvise, a TLB shootdown on every core and the page faults to get the memory
 * back (a fifth of the agent's time under load, measured with perf). Keep it instead. */
static void tune_malloc(void)
{
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
}

int agent_run(const struct config *cfg)
{
    struct agent a;
    char err[600], status_topic[512], filter[640], online[512], offline[320], reply_prefix[512];
    char instance[UUID_STR_LEN];
    sigset_t signals;
    pthread_t writer;
    struct api_settings api;

    /* Signals are taken synchronously by the main thread; every other thread blocks them, so the
     * mask is set before the first thread (the checkpointer) is created: threads inherit it. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    /* Past a file size limit a write fails with EFBIG (answered 500 like a full disk) instead of
     * the signal ending the process. */
    signal(SIGXFSZ, SIG_IGN);
    tune_malloc();
    memset(&a, 0, sizeof a);
    a.cfg = cfg;
    settings_from_config(&a.settings, cfg);
    a.store = store_open_checked(cfg->database, strcmp(cfg->database_check, "quick") == 0, err, sizeof err);
    if (a.store == NULL) {
        log_error("%s", err);
        return 1;
    }
    if (bootstrap(&a) != 0) {
        store_close(a.store);
        return 1;
    }
    a.checkpointer = store_checkpointer_start(a.store, cfg->database, err, sizeof err);
    if (a.checkpointer == NULL)
        log_warn("%s; the writer checkpoints the WAL itself.", err);
    api.max_payload = (size_t)cfg->max_payload;
    api.rate_limit_per_second = cfg->rate_limit_per_second;
    api.started_mono_ms = clock_mono_ms();
    api.max_batch_commands = (size_t)cfg->max_batch_commands;
    snprintf(reply_prefix, sizeof reply_prefix, "%s/reply/", cfg->topic_prefix);
    api.reply_prefix = reply_prefix;
    api.auth_rate_per_client = cfg->auth_rate_per_client;
    api.auth_rate_per_email = cfg->auth_rate_per_email;
    api.reply.prefix = cfg->topic_prefix;
    api.reply.max_bytes = (size_t)cfg->max_reply_topic;
    api.reply.bound = a.settings.broker_acl;
    api.reply.names.topic_prefix = cfg->topic_prefix;
    api.reply.names.name_prefix = cfg->broker_name_prefix;
    api.max_reply = (size_t)cfg->max_reply;
    api.max_batch_rows = cfg->max_batch_rows;
    api_init(&api);
    api_register_metrics();
    a.refusal_log.period_ms = 1000;
    queue_init(&a.queue);
    queue_init(&a.mail_queue);
    queue_init(&a.refusals);
    pthread_mutex_init(&a.acks_lock, NULL);
    a.verify_queue = fairq_new((size_t)cfg->password_queue_per_tenant);
    pthread_mutex_init(&a.route_lock, NULL);
    a.mail_opts.url = cfg->smtp_url;
    a.mail_opts.from = cfg->smtp_from;
    a.mail_opts.username = cfg->smtp_username;
    a.mail_opts.password = cfg->smtp_password;
    a.mail_opts.timeout_s = cfg->smtp_timeout;
    mailer_global_init();
    const char *hook = getenv("CMAGENT_TEST_EXIT_AFTER_COMMIT");
    a.exit_after_commit = hook != NULL ? strtol(hook, NULL, 10) : 0;
    snprintf(a.req_prefix, sizeof a.req_prefix, "%s/req/", cfg->topic_prefix);
    snprintf(a.event_prefix, sizeof a.event_prefix, "%s/event/", cfg->topic_prefix);
    snprintf(status_topic, sizeof status_topic, "%s/status/%s", cfg->topic_prefix, cfg->agent_id);
    snprintf(a.stats_topic, sizeof a.stats_topic, "%s/stats/%s", cfg->topic_prefix, cfg->agent_id);
    if (cfg->share_group[0] != '\0')
        snprintf(filter, sizeof filter, "$share/%s/%s/req/+", cfg->share_group, cfg->topic_prefix);
    else
        snprintf(filter, sizeof filter, "%s/req/+", cfg->topic_prefix);
    /* a new instance id for every process: another one online on this status topic is another agent */
    uuid_generate(instance);
    snprintf(online, sizeof online,
             "{\"state\":\"online\",\"agentId\":\"%s\",\"version\":\"%s\",\"startedAt\":%lld,\"instance\":\"%s\"}",
             cfg->agent_id, CMAGENT_VERSION, (long long)clock_now_ms(), instance);
    snprintf(offline, sizeof offline, "{\"state\":\"offline\",\"agentId\":\"%s\",\"instance\":\"%s\"}", cfg->agent_id,
             instance);

    struct transport_options to = {
        .broker = cfg->broker, .client_id = cfg->client_id, .agent_id = cfg->agent_id, .username = cfg->username,
        .password = cfg->password,
        .cafile = cfg->cafile, .capath = cfg->capath, .certfile = cfg->certfile, .keyfile = cfg->keyfile,
        .keyfile_password = cfg->keyfile_password, .instance = instance,
        .mqtt_version = (int)cfg->mqtt_version, .keepalive = (int)cfg->keepalive,
        .session_expiry = cfg->session_expiry, .request_filter = filter, .status_topic = status_topic,
        .online_payload = online, .offline_payload = offline,
        .extra_filter = a.settings.broker_acl ? DYNSEC_RESPONSE_TOPIC : NULL,
    };
    struct transport_callbacks cb = { .context = &a, .on_message = on_message, .on_connected = on_connected,
                                      .on_acked = on_acked };

    a.transport = transport_new(&to, &cb, err, sizeof err);
    if (a.transport == NULL) {
        log_error("%s", err);
        queue_release(&a.queue);
        queue_release(&a.mail_queue);
        queue_release(&a.refusals);
        fairq_free(a.verify_queue);
        pthread_mutex_destroy(&a.route_lock);
        api_release();
        store_checkpointer_stop(a.checkpointer, a.store);
        store_close(a.store);
        mailer_global_cleanup();
        return 1;
    }
    if (a.settings.broker_acl) {
        struct broker_names names = { cfg->topic_prefix, cfg->broker_name_prefix };
        a.broker = broker_sync_new(&names, cfg->username, cfg->broker_reconcile_interval * 1000, a.store, a.transport);
        log_info("broker_acl dynsec: provisioning the broker's dynamic security as %s.", cfg->username);
    } else {
        warn_open_broker(cfg);
    }
    if (cfg->metrics_listen[0] != '\0') {
        a.metrics_http = metrics_http_start(cfg->metrics_listen, err, sizeof err);
        if (a.metrics_http == NULL)
            log_warn("%s; no metrics endpoint, the figures are still in agent.stats.", err);
        else
            log_info("Metrics at http://%s/metrics.", cfg->metrics_listen);
    }
    pthread_create(&a.mailer, NULL, mailer_main, &a);
    pthread_create(&a.replier, NULL, replier_main, &a);
    start_verifiers(&a);
    pthread_create(&writer, NULL, writer_main, &a);
    log_info("cmagent %s serving %s on %s with database %s.", CMAGENT_VERSION, filter, cfg->broker, cfg->database);
    transport_start(a.transport);

    enum transport_failure failure = TRANSPORT_RUNNING;
    int sig = wait_for_signal(&a, &signals, &failure);
    if (sig != 0)
        log_info("Received %s: finishing in-flight requests.", sig == SIGINT ? "SIGINT" : "SIGTERM");
    else
        log_info("Stopping (exit %d): finishing in-flight requests.", (int)failure);
    stop_verifiers(&a);
    queue_push(&a.queue, &work_new(WORK_STOP)->node);
    pthread_join(writer, NULL);
    /* The mailer finishes the mails it has; parked requests come back and are answered. */
    struct mail_job *stop = xcalloc(1, sizeof *stop);
    stop->stop = true;
    queue_push(&a.mail_queue, &stop->node);
    pthread_join(a.mailer, NULL);
    a.mailer_stopped = true;
    drain_after_stop(&a);
    transport_stop(a.transport, 3000);
    queue_push(&a.refusals, &work_new(WORK_STOP)->node); /* no request arrives after the stop */
    pthread_join(a.replier, NULL);
    drain_after_stop(&a);
    transport_free(a.transport);
    broker_sync_free(a.broker);
    metrics_http_stop(a.metrics_http);
    struct stats_snapshot st;
    char line[1024];
    stats_snapshot(&st);
    stats_format(&st, line, sizeof line);
    log_info("Group commit: %s.", line);
    if (st.refused_replies > 0)
        log_info("%llu requests were refused for their reply destination.", (unsigned long long)st.refused_replies);
    queue_release(&a.queue);
    queue_release(&a.mail_queue);
    queue_release(&a.refusals);
    pthread_mutex_destroy(&a.acks_lock);
    free(a.acks);
    free(a.batch_events);
    fairq_free(a.verify_queue);
    pthread_mutex_destroy(&a.route_lock);
    api_release();
    store_checkpointer_stop(a.checkpointer, a.store);
    store_close(a.store);
    mailer_global_cleanup();
    log_info("Stopped.");
    return (int)failure;
}
