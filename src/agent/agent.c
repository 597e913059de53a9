/* agent.c: the agent's wiring and the life of a request: the transport's callbacks, which only
 * route a message to the queue of the thread that runs it (a reader for a request that writes
 * nothing, else the writer, or the verifiers first), start-up, signals and shutdown. Each thread
 * has its own file (agent_int.h lists them). Reads run on the reader threads' read-only
 * connections, in a fresh read transaction each, beside the writer (readers.c). The writer thread
 * owns the read-write SQLite connection: it takes every waiting
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
 * failed one are not sent. Mails nobody waits for (password reset, two-factor code, an import
 * job's activation mails) are queued in the database in the transaction of the write that composed
 * them (ctx_queue_mail, store_mail.h) and handed to the mailer after the commit; the writer deletes
 * a sent one's row, reschedules a failed one, and claims the due rows of a dead agent once their
 * claim ran out (mail_queue.c): they are delivered at least once, whichever agent lives.
 *
 * Kept writes. A failed request's savepoint is rolled back, then kept_writes_apply() writes what must
 * survive the failure in a savepoint of its own: the failed-login count (and lockout) and the
 * failed write's audit row. A first run that waits for its mails keeps its request id claimed the
 * same way, so that no agent applies (and mails) the id again before the second run; when another
 * agent's run holds the id already, this one sends nothing and answers 409 (api_reply_pending_lost).
 *
 * Several agents on one PostgreSQL database share every state above through it: the idempotency
 * claims, the counts, the rate limits' buckets (a connection of their own, store_rate.h), the jobs
 * (SKIP LOCKED); docs/protocol.md, "Running several agents: what they share".
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

#include "agent_int.h"
#include "cmagent/broker_sync.h"
#include "cmagent/clock.h"
#include "cmagent/dynsec.h"
#include "cmagent/hash_work.h"
#include "cmagent/metrics.h"
#include "cmagent/metrics_http.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"
#include "cmagent/store_checkpoint.h"
#include "cmagent/store_rate.h"
#include "cmagent/user.h"
#include "cmagent/uuid.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The operation a request names: the last level of its topic. */
const char *agent_op_of(const struct agent *a, const struct transport_message *m)
{
    size_t plen = strlen(a->req_prefix);
    return strncmp(m->topic, a->req_prefix, plen) == 0 ? m->topic + plen : m->topic;
}

/* The api's view of a received request: its operation, payload and Response Topic. */
void agent_request_of(const struct agent *a, const struct transport_message *m, struct api_request *req)
{
    memset(req, 0, sizeof *req);
    req->op = agent_op_of(a, m);
    req->payload = m->payload;
    req->payload_len = m->payload_len;
    req->response_topic = m->response_topic;
    req->response_topic_len = m->response_topic_len;
}

/* Admits an authentication request (api_admit) and queues it: a request with password hash work
 * in its tenant's bucket of the verifiers' queue, any other straight for the writer. */
static void route_request(struct agent *a, struct work *w)
{
    const char *op = agent_op_of(a, w->msg);
    struct api_admission adm = { 0 };
    struct api_request req;
    agent_request_of(a, w->msg, &req);

    if (api_reads_only(op) && agent_route_read(a, w))
        return;
    bool prepares = api_prepares(&req);
    if (!api_admits(op) && !prepares) {
        queue_push(&a->queue, &w->node);
        return;
    }
    pthread_mutex_lock(&a->route_lock);
    struct ctx ctx;
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
        agent_refuse(a, w, adm.refusal);
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

void agent_settings_from_config(struct core_settings *s, const struct config *cfg)
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
    s->user_token_access = cfg->user_token_access_enabled != 0;
    s->max_page_size = cfg->max_page_size;
    s->max_page_offset = cfg->max_page_offset;
    s->broker_acl = strcmp(cfg->broker_acl, "dynsec") == 0;
    s->broker_name_prefix = cfg->broker_name_prefix;
    s->topic_prefix = cfg->topic_prefix;
    s->mail_claimer = cfg->agent_id;
    s->mail_claim_ms = (cfg->mail_claim_s + cfg->smtp_timeout) * 1000; /* one mail's claim (mail_queue.c) */
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

void agent_state_init(struct agent *a, const struct config *cfg, struct store *store)
{
    struct api_settings api;

    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->store = store;
    a->publisher = !store_shared(store); /* on a shared database the writer takes the lock (publisher.c) */
    agent_settings_from_config(&a->settings, cfg);
    memset(&api, 0, sizeof api);
    api.max_payload = (size_t)cfg->max_payload;
    api.rate_limit_per_second = cfg->rate_limit_per_second;
    api.started_mono_ms = clock_mono_ms();
    api.max_batch_commands = (size_t)cfg->max_batch_commands;
    snprintf(a->reply_prefix, sizeof a->reply_prefix, "%s/reply/", cfg->topic_prefix);
    api.reply_prefix = a->reply_prefix;
    api.auth_rate_per_client = cfg->auth_rate_per_client;
    api.auth_rate_per_email = cfg->auth_rate_per_email;
    api.reply.prefix = cfg->topic_prefix;
    api.reply.max_bytes = (size_t)cfg->max_reply_topic;
    api.reply.bound = a->settings.broker_acl;
    api.reply.names.topic_prefix = cfg->topic_prefix;
    api.reply.names.name_prefix = cfg->broker_name_prefix;
    api.max_reply = (size_t)cfg->max_reply;
    api.max_batch_rows = cfg->max_batch_rows;
    api.import_max_rows = cfg->import_max_rows;
    api.import_chunk_rows = cfg->import_chunk_rows;
    api.import_max_atomic_rows = cfg->import_max_atomic_rows;
    api_init(&api);
    api_register_metrics();
    a->refusal_log.period_ms = 1000;
    queue_init(&a->queue);
    queue_init(&a->mail_queue);
    queue_init(&a->refusals);
    pthread_mutex_init(&a->acks_lock, NULL);
    pthread_mutex_init(&a->mailq_lock, NULL);
    a->verify_queue = fairq_new((size_t)cfg->password_queue_per_tenant);
    pthread_mutex_init(&a->route_lock, NULL);
    a->mail_opts.url = cfg->smtp_url;
    a->mail_opts.from = cfg->smtp_from;
    a->mail_opts.username = cfg->smtp_username;
    a->mail_opts.password = cfg->smtp_password;
    a->mail_opts.timeout_s = cfg->smtp_timeout;
    a->writer_hash_work = hash_work_new();
    queue_init(&a->read_queue);
    snprintf(a->req_prefix, sizeof a->req_prefix, "%s/req/", cfg->topic_prefix);
    snprintf(a->event_prefix, sizeof a->event_prefix, "%s/event/", cfg->topic_prefix);
    snprintf(a->stats_topic, sizeof a->stats_topic, "%s/stats/%s", cfg->topic_prefix, cfg->agent_id);
}

void agent_state_release(struct agent *a)
{
    queue_release(&a->queue);
    queue_release(&a->mail_queue);
    queue_release(&a->refusals);
    queue_release(&a->read_queue);
    hash_work_free(a->writer_hash_work);
    a->writer_hash_work = NULL;
    pthread_mutex_destroy(&a->acks_lock);
    pthread_mutex_destroy(&a->mailq_lock);
    mail_list_release(&a->mailq_done);
    free(a->acks);
    a->acks = NULL;
    free(a->batch_events);
    a->batch_events = NULL;
    fairq_free(a->verify_queue);
    a->verify_queue = NULL;
    pthread_mutex_destroy(&a->route_lock);
    api_release();
}

/* The agent's messages go out through the transport at QoS 1, never retained. */
static int publish_on_transport(void *arg, const char *topic, const char *body, size_t len, const void *corr,
                                size_t corr_len, uint64_t tag)
{
    struct transport_publish_options po = { .qos = 1, .correlation = corr, .correlation_len = corr_len, .tag = tag };
    return transport_publish(arg, topic, body, len, &po);
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
    int rc = user_bootstrap_sysadmin(&ctx, a->cfg->sysadmin_email, a->cfg->sysadmin_password, generated);
    api_render_done();
    if (rc != ERR_OK) {
        log_error("Creating the system administrator failed: %s", ctx.err.message);
        return -1;
    }
    if (generated[0] != '\0')
        log_warn("System administrator created: %s password %s (change it with auth.changePassword)",
                 a->cfg->sysadmin_email, generated);
    return 0;
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

/* On a database several agents may share (PostgreSQL), the rate limits' buckets live in it, taken
 * from through a connection of their own (store_rate.h); on SQLite they stay in memory. */
static int share_rate_limits(struct agent *a)
{
    char err[600];

    if (!store_shares_buckets(a->cfg->database))
        return 0;
    a->limits_store = store_open_reader(a->cfg->database, err, sizeof err);
    if (a->limits_store == NULL || store_rate_connection(a->limits_store) != STORE_OK) {
        log_error("%s", a->limits_store == NULL ? err : store_errmsg(a->limits_store));
        store_close(a->limits_store);
        a->limits_store = NULL;
        return 1;
    }
    api_share_rate_limits(a->limits_store);
    log_info("Rate limits are shared with the other agents of the database (table rate_bucket).");
    return 0;
}

int agent_run(const struct config *cfg)
{
    struct agent a;
    char err[600], status_topic[512], filter[640], online[512], offline[320];
    char instance[UUID_STR_LEN];
    sigset_t signals;
    pthread_t writer;

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
    a.store = store_open_checked(cfg->database, strcmp(cfg->database_check, "quick") == 0, err, sizeof err);
    if (a.store == NULL) {
        log_error("%s", err);
        return 1;
    }
    agent_state_init(&a, cfg, a.store);
    if (bootstrap(&a) != 0) {
        agent_state_release(&a);
        store_close(a.store);
        return 1;
    }
    agent_mail_queue_start(&a);
    if (share_rate_limits(&a) != 0) {
        agent_state_release(&a);
        store_close(a.store);
        return 1;
    }
    a.checkpointer = store_checkpointer_start(a.store, cfg->database, err, sizeof err);
    if (a.checkpointer == NULL)
        log_warn("%s; the writer checkpoints the WAL itself.", err);
    mailer_global_init();
    const char *hook = getenv("CMAGENT_TEST_EXIT_AFTER_COMMIT");
    a.exit_after_commit = hook != NULL ? strtol(hook, NULL, 10) : 0;
    snprintf(status_topic, sizeof status_topic, "%s/status/%s", cfg->topic_prefix, cfg->agent_id);
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
        .session_expiry = cfg->session_expiry, .session_ends_with_connection = cfg->share_group[0] != '\0',
        .request_filter = filter, .status_topic = status_topic,
        .online_payload = online, .offline_payload = offline,
        .extra_filter = a.settings.broker_acl ? DYNSEC_RESPONSE_TOPIC : NULL,
    };
    struct transport_callbacks cb = { .context = &a, .on_message = on_message, .on_connected = on_connected,
                                      .on_acked = agent_on_acked };

    a.transport = transport_new(&to, &cb, err, sizeof err);
    a.publish = publish_on_transport;
    a.publish_arg = a.transport;
    if (a.transport == NULL) {
        log_error("%s", err);
        agent_state_release(&a);
        store_close(a.limits_store);
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
    pthread_create(&a.mailer, NULL, agent_mailer_main, &a);
    pthread_create(&a.replier, NULL, agent_replier_main, &a);
    agent_start_verifiers(&a);
    agent_start_readers(&a);
    pthread_create(&writer, NULL, agent_writer_main, &a);
    char shown[512];
    log_info("cmagent %s serving %s on %s with database %s.", CMAGENT_VERSION, filter, cfg->broker,
             store_database_shown(cfg->database, shown, sizeof shown));
    if (cfg->share_group[0] != '\0')
        log_info("share_group %s: the broker session ends with the connection (session_expiry is not used): a "
                 "persistent one would go on receiving its share of the requests while this agent is away. A "
                 "request in flight when an agent dies is answered when its client sends it again with the same id.",
                 cfg->share_group);
    transport_start(a.transport);

    enum transport_failure failure = TRANSPORT_RUNNING;
    int sig = wait_for_signal(&a, &signals, &failure);
    if (sig != 0)
        log_info("Received %s: finishing in-flight requests.", sig == SIGINT ? "SIGINT" : "SIGTERM");
    else
        log_info("Stopping (exit %d): finishing in-flight requests.", (int)failure);
    agent_stop_readers(&a);
    agent_stop_verifiers(&a);
    queue_push(&a.queue, &work_new(WORK_STOP)->node);
    pthread_join(writer, NULL);
    /* The mailer finishes the mails it has; parked requests come back and are answered. */
    struct mail_job *stop = xcalloc(1, sizeof *stop);
    stop->stop = true;
    queue_push(&a.mail_queue, &stop->node);
    pthread_join(a.mailer, NULL);
    a.mailer_stopped = true;
    agent_drain_after_stop(&a);
    transport_stop(a.transport, 3000);
    queue_push(&a.refusals, &work_new(WORK_STOP)->node); /* no request arrives after the stop */
    pthread_join(a.replier, NULL);
    agent_drain_after_stop(&a);
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
    agent_state_release(&a);
    store_close(a.limits_store);
    store_checkpointer_stop(a.checkpointer, a.store);
    store_close(a.store);
    mailer_global_cleanup();
    log_info("Stopped.");
    return (int)failure;
}
