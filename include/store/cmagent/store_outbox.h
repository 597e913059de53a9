/* store_outbox.h: queries of the outbox table (events waiting for, or kept after, publication)
 * and of the gapless event counters: seq over the database, tenantSeq per tenant. */
#ifndef CMAGENT_STORE_OUTBOX_H
#define CMAGENT_STORE_OUTBOX_H

#include "cmagent/store.h"
#include "cmagent/uuid.h"

#include <stddef.h>
#include <stdint.h>

/* A stored event, as the outbox holds it: for replay and publishing. */
struct outbox_event {
    int64_t seq;
    int64_t tenant_seq; /* set when numbered (events_store), not read back from the outbox */
    int64_t ts;         /* set when written, not read back from the outbox */
    char tenant_id[UUID_STR_LEN];
    char *entity_type, *event_type;
    char *payload;
};
void outbox_events_free(struct outbox_event *items, size_t n);
/* Frees what n events own, not the array. */
void outbox_events_free_items(struct outbox_event *items, size_t n);

/* Adds count to the event counter and returns its new value in *last: the seqs last-count+1..last
 * are the caller's. Rolled back with the transaction, so seq has no gaps; on PostgreSQL the row
 * stays locked until the commit, so another agent's transaction takes the next seqs only after
 * this one committed (seq order is commit order). */
int store_outbox_take_seqs(struct store *s, int64_t count, int64_t *last);
/* Increments and returns the event counter. */
int store_outbox_next_seq(struct store *s, int64_t *seq);
/* The same for one tenant's counter (created at its first event). */
int store_outbox_take_tenant_seqs(struct store *s, const char *tenant_id, int64_t count, int64_t *last);
int store_outbox_insert(struct store *s, const struct outbox_event *ev, int64_t ts);

/* The seq of the last event written (0 before the first). */
int store_outbox_last_seq(struct store *s, int64_t *seq);

/* Unpublished events with seq > after_seq, in seq order, at most limit. */
int store_outbox_unpublished(struct store *s, int64_t after_seq, int64_t limit, struct outbox_event **out, size_t *n);

/* One tenant's events with seq > after_seq, in seq order, at most limit. */
int store_outbox_for_tenant(struct store *s, const char *tenant_id, int64_t after_seq, int64_t limit,
                            struct outbox_event **out, size_t *n);

/* Marks the events with first <= seq <= last published (the broker acknowledged each of them). */
int store_outbox_mark_published(struct store *s, int64_t first, int64_t last);

/* Deletes published events older than before_ts. The counter is separate, so seq never restarts. */
int store_outbox_purge(struct store *s, int64_t before_ts, int64_t *deleted);

#endif
