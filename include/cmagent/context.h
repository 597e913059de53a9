/* context.h: what every core operation receives: the store, the settings, the authenticated
 * caller, the request's clock and the error slot. One context serves one request. */
#ifndef CMAGENT_CONTEXT_H
#define CMAGENT_CONTEXT_H

#include "cmagent/error.h"
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
};

/* The settings the domain rules read (a subset of struct config, in domain units). */
struct core_settings {
    const char *base_url;          /* activation links: <base_url>/api/noauth/activate?activateToken= */
    int64_t access_token_ttl_ms;
    int64_t refresh_token_ttl_ms;
    int64_t activation_token_ttl_ms;
    unsigned long password_hash_cost;
    int64_t event_retention_ms;
    int64_t idempotency_window_ms; /* a repeated request id is answered from its first reply this long */
    bool mail_configured;          /* smtp_url set */
};

struct event;

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
    int64_t item_events_mark;      /* events_written when the current item began */
};

/* Records a store failure: STORE_ERROR becomes ERR_DATABASE ("Database error: ..."). Returns the
 * error kind. Use only for codes the caller did not expect (not NOT_FOUND it handles itself). */
int ctx_store_failed(struct ctx *ctx, int store_rc);

/* One item of a many-ids request runs between these, in its own savepoint: keep == false rolls
 * back that item's writes alone (the events it emitted included). */
void ctx_item_begin(struct ctx *ctx);
void ctx_item_end(struct ctx *ctx, bool keep);

#endif
