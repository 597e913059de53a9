/* context.h: what every core operation receives: the store, the settings, the authenticated
 * caller, the request's clock and the error slot. One context serves one request. */
#ifndef CMAGENT_CONTEXT_H
#define CMAGENT_CONTEXT_H

#include "cmagent/error.h"
#include "cmagent/kept_writes.h"
#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

/* The authenticated caller. authority is AUTHORITY_NONE for anonymous requests. */
struct principal {
    enum authority authority;
    char user_id[UUID_STR_LEN];
    char tenant_id[UUID_STR_LEN];
    char customer_id[UUID_STR_LEN];
    char email[256];
    char first_name[256];
    char last_name[256];
    char token_id[UUID_STR_LEN];  /* the token that authenticated this request */
    char pair_id[UUID_STR_LEN];   /* its access/refresh pair, for logout */
    enum token_kind token_kind;
    /* A token of user.token ("login as"): the user who asked for it and acts through it, named in
     * the audit row of every request made with it; "" for every other token. */
    char acting_user_id[UUID_STR_LEN];
    char acting_email[256];
};

/* The password policy (ThingsBoard's UserPasswordPolicy). Zero lengths mean ThingsBoard's defaults
 * (6 and 72); zero minimums mean no rule. */
struct password_policy {
    int64_t min_length, max_length;
    int64_t min_uppercase, min_lowercase, min_digits, min_special;
    bool forbid_whitespace;
    int64_t reuse_days;            /* 0: a password may be reused at once */
};

/* The settings the domain rules read (a subset of struct config, in domain units). */
struct core_settings {
    const char *base_url;          /* activation links: <base_url>/api/noauth/activate?activateToken= */
    int64_t access_token_ttl_ms;
    int64_t refresh_token_ttl_ms;
    int64_t activation_token_ttl_ms;
    unsigned long password_hash_cost;
    int64_t event_retention_ms;
    int64_t audit_retention_ms;    /* 0: audit rows are kept forever */
    int64_t idempotency_window_ms; /* a repeated request id is answered from its first reply this long */
    bool mail_configured;          /* smtp_url set */
    int64_t reset_token_ttl_ms;    /* password reset links */
    int64_t max_failed_login_attempts; /* 0: no lockout */
    struct password_policy password;
    /* The free-form fields' limits (validate.h), 0: none. */
    int64_t max_json_field_size;   /* bytes of an additionalInfo's compact JSON */
    int64_t max_text_field_length; /* characters of an address or address2 */
    int64_t max_dashboard_configuration_size; /* bytes of a dashboard's configuration JSON */
    int64_t max_api_keys_per_user; /* 0: no limit */
    bool user_token_access;        /* user.token ("login as") is allowed (user_token_access_enabled) */
    int64_t max_page_size;         /* the largest pageSize of a listing; 0: no limit */
    int64_t max_page_offset;       /* the deepest first row (page x pageSize) of an offset page; 0: no limit */
    /* broker_acl dynsec: the agent provisions the broker's accounts (broker_access.h). */
    bool broker_acl;
    const char *broker_name_prefix;
    const char *topic_prefix;
    /* The mail queue (ctx_queue_mail): the agent that claims a mail its request queued (NULL:
     * queued unclaimed, for any agent's writer) and for how long. */
    const char *mail_claimer;
    int64_t mail_claim_ms;
};

/* The outcome of an awaited mail, given to the second run of the request that asked for it. */
enum mail_outcome { MAIL_NONE = 0, MAIL_SENT, MAIL_FAILED };

/* A mail the core wants sent. The core only composes it; the agent's mailer thread sends it after
 * the request's transaction committed, so the writer never waits on SMTP. A request composes one
 * per command that mails (a batch may hold many), each with its own id, token and outcome. */
struct outgoing_mail {
    char *to, *subject, *body;     /* heap */
    bool await;                    /* the reply waits for the outcome: the request runs again with it */
    size_t command;                /* the batch command that composed it (0 outside a batch) */
    char user_id[UUID_STR_LEN];    /* the user the mail is for (user.create: the id it will get) */
    char token[128];               /* the activation token its link carries */
    enum mail_outcome outcome;     /* set by the mailer, read by the second run */
    /* A mail of the queue (ctx_queue_mail, store_mail.h): its row's id ("" for an awaited mail or
     * one that is not queued), when it expires and how many sends of it failed before. */
    char queue_id[UUID_STR_LEN];
    int64_t expires_at;
    int64_t attempts;
};

/* A request's mails, in the order its commands composed them. */
struct mail_list {
    struct outgoing_mail *items;
    size_t n, cap;
    bool stop_at_failure;          /* an atomic batch: after one failure the others are not sent */
};

void mail_list_release(struct mail_list *l);

/* Drops (frees) the mails nobody waits for, keeping the awaited ones in order: what a deferred
 * run hands to the mailer, the others being composed again by its second run. */
void mail_list_keep_awaited(struct mail_list *l);

struct event;
struct audit_row;
struct outbox_event;
struct hash_work;

/* Renders an event's JSON body (protocol §6). Supplied by the api layer so that the core stays
 * free of JSON; returns a heap string the caller frees. */
typedef char *event_renderer(const struct event *ev, const struct principal *who);

struct ctx {
    struct store *store;
    const struct core_settings *settings;
    event_renderer *render_event;
    struct principal who;
    int64_t now;                   /* ms, read once per request */
    struct error err;
    int64_t events_written;        /* events this request added to the outbox */
    bool keep_events;              /* keep each event in emitted, unnumbered and not yet stored: */
    struct outbox_event *emitted;  /* the writer stores its batch's at its end (events_store) and */
    size_t nemitted, emitted_cap;  /* publishes them after the commit; else stored at once */
    event_renderer *render_audit;  /* an event's audit actionData (JSON text), or NULL */
    bool store_retry;              /* a statement lost a deadlock (STORE_RETRY): the request may run again */
    int64_t audits_written;        /* audit rows this request added */
    struct mail_list mails;        /* the mails this run composed */
    /* The second run of a request that awaited its mails: the first run's mails with their
     * outcomes (agent.c). NULL in a first run, and for every request that awaits no mail. */
    const struct mail_list *mailed;
    size_t command;                /* the batch command running (0 outside a batch) */
    struct kept_writes kept;       /* written by kept_writes_apply after a failure */
    /* The request's password hash work (hash_work.h): recorded by its run on a verifier thread,
     * answered from there in the writer's run. NULL: every crypt() is computed where it is asked. */
    struct hash_work *hash_work;
    /* The entity an operation without events acted on (set by the core when it knows it), for the
     * audit row the api writes from the operation table: a login names the user who tried. */
    char audit_entity_id[UUID_STR_LEN];
    char audit_entity_name[256];
    char audit_tenant_id[UUID_STR_LEN];
    char audit_customer_id[UUID_STR_LEN];
};

/* Asks for a mail (copies the texts) for the running command; await makes the reply wait for the
 * mail's outcome. Returns the entry, for the caller to name the user and token it carries. */
struct outgoing_mail *ctx_want_mail(struct ctx *ctx, const char *to, const char *subject, const char *body,
                                    bool await);

/* Queues a mail nobody waits for (a password reset, a two-factor code, an import job's activation
 * mail): a row of the mail queue (store_mail.h) written in the request's transaction, so that a
 * rolled-back write (or savepoint) queues nothing and a committed one always has its mail, which
 * any agent delivers even when this one dies before sending it. The mail is also kept in
 * ctx->mails, claimed for this agent (settings->mail_claimer), for the writer to hand to the
 * mailer right after the commit. lifetime_ms: past it the mail is dropped, not sent (its link's or
 * code's validity). Without smtp_url nothing is queued: the mailer logs the mail as not sent, as
 * before. Returns ERR_OK or the database error. */
int ctx_queue_mail(struct ctx *ctx, const char *to, const char *subject, const char *body, int64_t lifetime_ms);

/* Whether the run composed a mail whose outcome the reply waits for. */
bool ctx_awaits_mail(const struct ctx *ctx);

/* In a second run: the awaited mail the first run composed for the running command, with its
 * outcome, or NULL when it composed none. Always NULL in a first run. */
const struct outgoing_mail *ctx_mailed(const struct ctx *ctx);

/* "<base_url><path><token>" without a doubled '/' (heap). */
char *ctx_link(const struct ctx *ctx, const char *path, const char *token);

/* Names u as the entity of the request's audit row, with its tenant and customer (which an
 * anonymous operation, a login or a reset, has no caller to take them from). Only for a user the
 * caller may see: the row is the caller's. */
void ctx_audit_subject(struct ctx *ctx, const struct user *u);

/* Frees what the context owns (mails, kept audit row, kept events). */
void ctx_release(struct ctx *ctx);

/* Records a store failure: STORE_ERROR becomes ERR_DATABASE ("Database error: ..."), STORE_RETRY
 * too, with ctx->store_retry set, STORE_UNAVAILABLE ERR_UNAVAILABLE ("Database unavailable: ...",
 * 503: the server cannot be reached), STORE_TOO_LARGE (the read budget, store.h) ERR_TOO_LARGE
 * naming max_reply. Returns the error kind. Use only for codes the caller did not expect (not
 * NOT_FOUND it handles itself). */
int ctx_store_failed(struct ctx *ctx, int store_rc);

/* What a request has produced so far, taken before a savepoint: rolling the savepoint back also
 * forgets the events and mails produced since (ctx_forget_since). */
struct ctx_mark {
    int64_t events;
    size_t mails;
};

struct ctx_mark ctx_mark(const struct ctx *ctx);
void ctx_forget_since(struct ctx *ctx, struct ctx_mark mark);

/* One item of a many-ids request, or one command of a batch, runs between these, in its own
 * savepoint: keep == false rolls back that item's writes alone (its events and mails included).
 * Items nest (a many-ids command inside a batch): each end takes its own begin's mark. */
struct ctx_mark ctx_item_begin(struct ctx *ctx);
void ctx_item_end(struct ctx *ctx, struct ctx_mark begun, bool keep);

#endif
