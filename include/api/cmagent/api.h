/* api.h: the JSON face of the agent. Takes one request (operation name, payload, whether MQTT
 * gave a Response Topic), runs it through the operation table and returns the reply body. Knows
 * cJSON, the envelope and the error model (protocol §2, §3); knows nothing of MQTT or SQLite. */
#ifndef CMAGENT_API_H
#define CMAGENT_API_H

#include "cmagent/context.h"
#include "cmagent/reply_topic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct api_settings {
    size_t max_payload;       /* bytes; larger payloads get 413 */
    int64_t rate_limit_per_second; /* requests per principal per second; 0: no limit */
    int64_t started_mono_ms;  /* for agent.ping's uptimeMs */
    size_t max_batch_commands; /* the most commands one batch may hold */
    const char *reply_prefix; /* "<topic_prefix>/reply/": the client of a request is the level after it */
    int64_t auth_rate_per_client; /* anonymous authentication requests per client per minute; 0: no limit */
    int64_t auth_rate_per_email;  /* ... naming one e-mail per minute; 0: no limit */
    struct reply_rules reply; /* where replies may go (reply_topic.h) */
    size_t max_reply;         /* bytes of a reply, and of the rows one request may read; 0: no limit */
    int64_t max_batch_rows;   /* the sum of pageSize, limit and ids over a batch's commands; 0: none */
    int64_t import_max_rows;  /* rows one import.run may hold */
    int64_t import_chunk_rows; /* rows run in the request, and per chunk of an import job */
    int64_t import_max_atomic_rows; /* rows of an atomic import or a dry run */
};

struct api_request {
    const char *op;           /* the last topic level: "customer.create" */
    const char *payload;      /* not NUL-terminated */
    size_t payload_len;
    const char *response_topic; /* the MQTT 5 Response Topic (response_topic_len bytes), or NULL */
    size_t response_topic_len;
};

#define API_REFUSAL_MAX 400

struct api_reply {
    char *body;               /* JSON reply text (heap) */
    char *reply_to;           /* where the reply goes: the Response Topic, else the replyTo, checked
                               * by reply_topic.h; NULL: nowhere (heap) */
    const char *reply_source; /* "Response Topic" or "replyTo" (static) */
    /* The reply destination was refused (reply_topic.h): nothing of the request ran, body and
     * reply_to are NULL and nothing may be published for it. refusal says which destination and
     * why, printable ("Response Topic 'cm/v1/reply/#' contains a wildcard (+ or #)"). */
    bool refused;
    char refusal[API_REFUSAL_MAX];
    bool failed;              /* the reply is an error: the caller rolls the request's writes back */
    bool deferred;            /* no reply yet: it waits for the outcome of ctx->mails (body is NULL);
                               * the caller rolls this run's writes back */
    bool replayed;            /* a repeated request id: the stored first reply, nothing applied */
    int status;
};

void api_init(const struct api_settings *settings);

/* The customers an event (its JSON body) concerns, at most max of them: the customer it is about,
 * the event's customerId, its entity's owner, the customers an assignment names and a dashboard's
 * assigned customers. Events of the Public customer are its own as any other's. */
size_t api_event_customers(const char *payload, char (*out)[UUID_STR_LEN], size_t max);

/* Shares the rate limits (rate_limit_per_second, auth_rate_per_client, auth_rate_per_email)
 * through the database of s, a connection of their own (ratelimit.h), or keeps them in memory
 * again (NULL). */
void api_share_rate_limits(struct store *s);

/* Frees what api_init made. */
void api_release(void);

/* Runs one request in ctx (whose store, settings and now are set; who is filled by
 * authentication here). Always fills out with a reply body, whatever the input. */
void api_handle(struct ctx *ctx, const struct api_request *req, struct api_reply *out);

void api_reply_release(struct api_reply *r);

/* Turns the deferred reply of req (its run rolled back to await its mails) into a 409 failure
 * when its request id could not be kept claimed (ctx->kept.pending_lost: another agent's run of
 * the same id holds it): its mails are not sent, and the id is answered by that run. */
void api_reply_pending_lost(struct ctx *ctx, const struct api_request *req, struct api_reply *out);

/* Whether the request checks or hashes a password (its operation has a preparer; a batch when one of
 * its commands has): such a request has hash work api_prepare can do ahead of the writer. Safe on
 * any thread. */
bool api_prepares(const struct api_request *req);

/* Whether the operation op_name writes nothing (OP_READ in the table): such a request may run on a
 * read-only connection in a fresh read transaction, beside the writer. Safe on any thread. */
bool api_reads_only(const char *op_name);

/* The verifier's run of a request (auth.h's *_prepare): in ctx, whose store is a read-only one and
 * whose hash_work receives the outcomes, the request's checks up to its first write, which it
 * never makes. Replies nothing; the writer's api_handle of the same request is the one that
 * counts. Safe on any thread with its own ctx and store. */
void api_prepare(struct ctx *ctx, const struct api_request *req);

/* Admission (admit.c): what is decided about an authentication request on the thread that
 * received it, before it is queued. */
struct api_admission {
    char refusal[256];            /* "": admitted; else the 429 message it is answered with at once */
    char queue[UUID_STR_LEN];     /* with password hash work: the tenant of the account it names, whose
                                   * queue it waits in; "" when it names none (unknown accounts share one) */
};

/* Whether api_admit has anything to decide about op_name (the anonymous authentication operations
 * and auth.changePassword). Safe on any thread. */
bool api_admits(const char *op_name);

/* Spends the request's budgets (per client, named by response_topic or the envelope's replyTo, and
 * per e-mail) and, when ctx has a store, finds its queue. Requests it cannot read (malformed,
 * oversized) are admitted: the writer answers them without hashing. Safe on any thread; ctx's
 * store is used by this thread alone. */
void api_admit(struct ctx *ctx, const struct api_request *req, const char *response_topic,
               struct api_admission *out);

/* One chunk of the oldest running import job (import.run, docs/protocol.md, Import), run by the
 * writer in a transaction of its own: up to limit of its rows, and no more once budget_us microseconds went
 * (at least one row), each as the single create it is, as the user who started the job, in ctx
 * (store, settings, renderers and now set, as for a request): their events, audit rows and (for
 * users) activation mails land in ctx like a request's. */
struct api_import_chunk {
    bool idle;                    /* no job is running */
    bool finished;                /* this chunk ran the job's last row (or the job stopped) */
    char job_id[UUID_STR_LEN];
    int64_t rows, done, total, created, failed, created_time;
};
int api_import_run_chunk(struct ctx *ctx, int64_t limit, int64_t budget_us, struct api_import_chunk *out);

/* The event renderer the core uses (protocol §6 body, without "seq" and "tenantSeq": events_store
 * puts them first when it numbers the event). */
char *api_render_event(const struct event *ev, const struct principal *who);

/* Frees what the renderers kept of the last event on this thread (after events rendered outside
 * api_handle, such as the bootstrap's). */
void api_render_done(void);

/* The audit actionData renderer the core uses (thingsboard-customers.md §7.3). */
char *api_render_audit(const struct event *ev, const struct principal *who);

/* The reply destination of a request that is answered without being handled (its batch could not
 * begin): out->reply_to, or out->refused, as api_handle would find them for an anonymous request. */
void api_reply_destination(const struct api_request *req, struct api_reply *out);

/* Metrics (metrics_api.c): registers the operation names replies are counted by (once, before
 * the threads start); the status a reply body carries (0 for a body that is not a reply); every
 * figure as the JSON text of the retained stats topic (agent.stats' data, agentId, timestamp). */
void api_register_metrics(void);
int api_reply_status(const char *body);
char *api_stats_payload(const char *agent_id, int64_t now_ms);

/* An error reply body for failures outside a request's handling (e.g. the commit failed). */
char *api_error_body(enum error_kind kind, const char *message, const char *payload, size_t payload_len);

#endif
