/* agent_int.h: what the agent's threads share (src/agent/): the work item that carries a request
 * from the transport's thread to the one that answers it, the agent's state, and each thread's
 * entry points. One file per thread: intake (agent.c: the transport's callbacks and the wiring),
 * the writer (writer.c: group commit), its background jobs (jobs.c), the publisher (publisher.c:
 * replies, events, acknowledgements), the readers (readers.c: requests that write nothing), the
 * verifiers (verifiers.c: password hashing), the mail worker (mail_worker.c) and the replier
 * (replier.c: requests admission refused). */
#ifndef CMAGENT_AGENT_INT_H
#define CMAGENT_AGENT_INT_H

#include "cmagent/api.h"
#include "cmagent/config.h"
#include "cmagent/context.h"
#include "cmagent/fairq.h"
#include "cmagent/log.h"
#include "cmagent/mailer.h"
#include "cmagent/queue.h"
#include "cmagent/store_outbox.h"
#include "cmagent/transport.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* WORK_MAIL only wakes the writer: the mailer has outcomes of queued mails for it (mail_queue.c). */
enum work_kind { WORK_REQUEST, WORK_CONNECTED, WORK_STOP, WORK_BROKER, WORK_MAIL };

struct work {
    struct queue_node node;       /* first member: a queue_node pointer is a work pointer */
    enum work_kind kind;
    struct transport_message *msg; /* WORK_REQUEST */
    bool parked;                   /* its reply waits for its mails: the mailer owns the item */
    bool again;                    /* lost a deadlock: queued again after the batch (writer.c) */
    int runs_lost;                 /* how many of its runs lost a deadlock */
    struct mail_list mailed;       /* for the second run: the first run's mails and their outcomes */
    struct hash_work *hash_work;   /* the verifier's answers, or NULL */
    struct fairq_item waiting;     /* its place in the verifiers' queue */
    char *refusal;                 /* admission refused it: the 429 message (WORK_REQUEST), for the replier */
};

/* The mails of one request, for the mail worker. */
struct mail_job {
    struct queue_node node;        /* first member */
    struct mail_list mails;
    struct work *w;                /* the parked request to run again, or NULL */
    bool stop;                     /* ends the mail worker */
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

/* A reader thread and its read-only connection. */
struct reader {
    struct agent *agent;
    struct store *store;
    pthread_t thread;
};

/* Where the agent's messages go: the transport, or a unit test's recorder. tag: as transport.h. */
typedef int agent_publisher(void *arg, const char *topic, const char *body, size_t len, const void *corr,
                            size_t corr_len, uint64_t tag);

struct agent {
    const struct config *cfg;
    struct store *store;
    struct core_settings settings;
    struct transport *transport;
    agent_publisher *publish;      /* agent_publish's sink (the transport unless a test sets another) */
    void *publish_arg;
    struct queue queue;
    char req_prefix[512];          /* "<prefix>/req/" */
    char event_prefix[512];        /* "<prefix>/event/" */
    char reply_prefix[512];        /* "<prefix>/reply/" */
    int64_t last_sent_seq;         /* events up to here were handed to the transport */
    bool publisher;                /* this agent publishes the outbox (holds the publisher lock) */
    int64_t next_publisher_ms;     /* the next try for the lock and look into the outbox (shared database) */
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
    pthread_mutex_t mailq_lock;    /* guards mailq_done */
    struct mail_list mailq_done;   /* queued mails the mailer tried, their outcomes for the writer */
    int64_t mailq_next_poll_ms;    /* when the writer looks for due queued mails next (monotonic) */
    bool mailq_failing;            /* the last look failed: logged once until one succeeds */
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
    struct store *limits_store;    /* the rate limits' buckets on a shared database (store_rate.h), or NULL */
    struct hash_work *writer_hash_work; /* the record of a request no verifier prepared */
    struct queue read_queue;       /* requests that write nothing, for the reader threads */
    struct reader *readers;
    size_t nreaders;
    bool readers_running;          /* under route_lock */
    struct store_checkpointer *checkpointer;
    bool jobs_waiting;             /* a deleted customer's or tenant's rows are still to be written */
    int batches_since_job;
    struct log_throttle refusal_log; /* the log lines of refused reply destinations */
    struct broker_sync *broker;    /* broker_acl dynsec, else NULL */
    char stats_topic[512];         /* "<prefix>/stats/<agent_id>", retained figures every stats_interval */
    int64_t next_stats_ms;
    struct metrics_http *metrics_http; /* the Prometheus endpoint, or NULL */
};

struct work *work_new(enum work_kind kind);
void work_free(struct work *w);

/* The api's view of a received request: its operation (the topic's last level), payload and
 * Response Topic. */
const char *agent_op_of(const struct agent *a, const struct transport_message *m);
void agent_request_of(const struct agent *a, const struct transport_message *m, struct api_request *req);

/* Sets up a's queues, locks, prefixes and the api (api_init) for cfg over the writer's store, and
 * frees them; no thread, no transport (a->publish is for the caller to set). */
void agent_state_init(struct agent *a, const struct config *cfg, struct store *store);
void agent_state_release(struct agent *a);

/* The core settings the configuration gives. */
void agent_settings_from_config(struct core_settings *s, const struct config *cfg);

/* ---- publisher.c ---- */
/* Publishes at QoS 1 through a->publish. Returns 0 when accepted, TRANSPORT_TOO_LARGE past the
 * broker's Maximum Packet Size. Any thread. */
int agent_publish(struct agent *a, const char *topic, const char *body, const void *corr, size_t corr_len,
                  uint64_t tag);
/* Publishes a request's reply (to topic; NULL: it has nowhere to go) and records it in the
 * metrics. Every reply of a request leaves through here, whichever thread made it; one past the
 * broker's Maximum Packet Size is answered 413 instead. */
void agent_send_reply(struct agent *a, const struct transport_message *m, const char *topic, const char *body);
/* The transport's on_acked: records the seq, marked published by the writer's next transaction. */
void agent_on_acked(void *context, uint64_t tag);
int64_t *agent_take_acks(struct agent *a, size_t *n);
void agent_give_back_acks(struct agent *a, const int64_t *acks, size_t n);
bool agent_have_acks(struct agent *a);
int agent_mark_acked(struct agent *a, int64_t *acks, size_t n);
/* A request whose reply destination was refused: counted, and logged at most once a second. */
void agent_refused_destination(struct agent *a, const char *op, const char *refusal);
/* Where a request's reply goes when it was never handled (NULL: nowhere). */
char *agent_reply_topic_of(struct agent *a, const struct transport_message *m);
void agent_keep_request_events(struct agent *a, struct ctx *ctx);
void agent_forget_batch_events(struct agent *a);
void agent_publish_replies(struct agent *a, struct pending_reply *r, size_t n);
/* Every reply of a batch that did not commit becomes an error naming why: 503 "Database unavailable"
 * when the database could not be reached (down: the store said so; at_commit: the connection was
 * lost during COMMIT, whose outcome why tells), else 500 "Database error". */
void agent_fail_replies(struct agent *a, struct pending_reply *r, size_t n, const char *why, bool down, bool at_commit);
/* The committed batch's events, from memory when they are the outbox's next ones, else from it. */
void agent_publish_events(struct agent *a);
/* On a shared database, every PUBLISHER_POLL_MS: takes the publisher lock when free and connected
 * to the broker, gives it up when disconnected, and as the publisher publishes what other agents
 * committed. Returns how long the writer may wait before the next call. */
int agent_publisher_tick(struct agent *a);

/* ---- writer.c ---- */
/* Processes one batch of work (none: only marks the acknowledged events) in one transaction.
 * Returns true when a WORK_STOP was in it. */
bool agent_process_batch(struct agent *a, struct queue_node *first, size_t n);
void *agent_writer_main(void *arg);
void agent_drain_after_stop(struct agent *a);
/* A context for a write on the writer's connection (a request's, or a job chunk's): its store,
 * settings, renderers and clock, events kept for the batch's outbox; the rest zero. */
void agent_writer_ctx_init(struct agent *a, struct ctx *ctx);
/* Numbers the events kept for the transaction (agent_keep_request_events) and writes them to the
 * outbox: the last thing before the commit, so that the counters' rows are locked from here to
 * the commit only (events.c). STORE_OK when there are none. */
int agent_store_batch_events(struct agent *a);

/* ---- jobs.c: the writer's work of its own ---- */
void agent_purge_expired(struct agent *a);
/* One chunk of the deferred work of customer.delete or tenant.delete when its turn came. Returns
 * how long the writer may wait for a request. */
int agent_run_jobs(struct agent *a, bool queue_was_empty);

/* ---- mail_queue.c: the writer's side of the mail queue (store_mail.h) ---- */
/* At start on a database of one agent (SQLite): the claims of the process before are released, its
 * unsent mails due again. */
void agent_mail_queue_start(struct agent *a);
/* Between batches: applies the outcomes the mailer gave back (sent: deleted; failed: due again
 * later, or dropped past mail_max_attempts or its expiry) and, when claim is set and its time has
 * come, claims due queued mails (other agents' whose claim ran out, retries) and hands them to the
 * mailer, all in one transaction. Returns whether it applied any outcome. */
bool agent_mail_queue_tick(struct agent *a, bool claim);
/* The mailer's side: hands the outcomes of j's queued mails to the writer and wakes it. */
void agent_mail_queue_outcomes(struct agent *a, struct mail_list *mails);

/* ---- mail_worker.c ---- */
/* A job with the mails ctx composed (a deferred request's awaited ones), or NULL when none. */
struct mail_job *agent_take_mails(struct ctx *ctx, bool deferred);
void agent_mail_job_free(struct mail_job *j);
void agent_submit_mail(struct agent *a, struct mail_job *j);
void *agent_mailer_main(void *arg);

/* ---- verifiers.c ---- */
void agent_start_verifiers(struct agent *a);
void agent_stop_verifiers(struct agent *a);

/* ---- readers.c ---- */
/* Opens reader_threads read-only connections and starts a thread on each; without any (reader_threads
 * 0, or a database that cannot be opened twice) the writer runs the reads. */
void agent_start_readers(struct agent *a);
/* Queues w for the readers when they run (true), else leaves it to the caller (false). */
bool agent_route_read(struct agent *a, struct work *w);
/* The readers answer what they hold; later reads go to the writer. */
void agent_stop_readers(struct agent *a);

/* ---- replier.c ---- */
/* Hands a request admission refused (429 why) to the replier thread. */
void agent_refuse(struct agent *a, struct work *w, const char *why);
void *agent_replier_main(void *arg);

#endif
