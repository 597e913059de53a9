/* events.h: change events (protocol §6). Each committed write adds its event to the outbox table in
 * the same transaction, with the next gapless seq; the writer publishes it after commit. */
#ifndef CMAGENT_EVENTS_H
#define CMAGENT_EVENTS_H

#include "cmagent/context.h"
#include "cmagent/store_outbox.h"

#include <stddef.h>
#include <stdint.h>

/* One event, as the core describes it; the api's renderer turns it into JSON. */
struct event {
    int64_t seq;                      /* set by events_emit when it stores the event, else 0 */
    int64_t serial;                   /* set by events_emit: distinct for every event of the process */
    int64_t ts;                       /* set by events_emit */
    const char *type;                 /* ENTITY_CREATED, ENTITY_UPDATED, ENTITY_DELETED, ... */
    const char *entity_type;          /* CUSTOMER, USER, TENANT, ... */
    char entity_id[UUID_STR_LEN];
    char tenant_id[UUID_STR_LEN];
    char customer_id[UUID_STR_LEN];   /* "" or NULL_UUID: null */
    const char *entity_name;
    const char *assigned_customer_id, *assigned_customer_name;
    const char *unassigned_customer_id, *unassigned_customer_name;
    const void *entity;               /* struct customer / user / tenant: the entity after the change */
};

/* Renders ev's body and writes its audit row. With ctx->keep_events the event goes to
 * ctx->emitted, for the writer to store with its batch's others (events_store) just before the
 * commit; else it is numbered and stored at once. */
int events_emit(struct ctx *ctx, struct event *ev);

/* Numbers n events in their order (seq over the database, tenantSeq over each one's tenant, from
 * the counter rows, in the caller's transaction), puts the two numbers first in each payload and
 * inserts them into the outbox. STORE_OK or the failure (the transaction must then be rolled
 * back). */
int events_store(struct store *s, struct outbox_event *evs, size_t n);

/* The caller's customer id as ThingsBoard's EntityActionService resolves it: the given id when it
 * names a customer, otherwise the acting user's own customer id. */
void events_resolve_customer(const struct ctx *ctx, const char *given, char out[UUID_STR_LEN]);

/* The caller's tenant's events with seq > after_seq, oldest first, at most limit (1..1000).
 * TENANT_ADMIN only. */
int events_replay(struct ctx *ctx, int64_t after_seq, int64_t limit, struct outbox_event **out, size_t *n);

#endif
