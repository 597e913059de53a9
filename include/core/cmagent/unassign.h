/* unassign.h: the unassignment of a deleted customer's devices, assets and edges, deferred so that no
 * transaction grows with the customer's size. customer_delete records a job; the agent's writer calls
 * unassign_run_chunk between requests, each call in its own short transaction, until none is left.
 * Meanwhile every read settles the rows of a deleted customer: they read as they will be written
 * (customerId NULL_UUID, version + 1), so the deferral is invisible to clients. */
#ifndef CMAGENT_UNASSIGN_H
#define CMAGENT_UNASSIGN_H

#include "cmagent/context.h"
#include "cmagent/store_unassign.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records that customer_id's entities are to be unassigned (in the caller's transaction). */
int unassign_schedule(struct ctx *ctx, const char *customer_id, const char *tenant_id);

/* If e's customer was deleted and its job has not reached e yet, e reads as the job will leave it:
 * no customer, version + 1. */
int unassign_settle(struct ctx *ctx, struct entity *e);

/* unassign_settle over a page of entities (one probe when no job is waiting). */
int unassign_settle_page(struct ctx *ctx, struct entity *items, size_t n);

/* What one chunk did. */
struct unassign_chunk {
    bool idle;               /* no job was waiting: nothing done */
    bool finished;           /* the job's last rows were unassigned and the job removed */
    int64_t rows;            /* rows unassigned by this chunk */
    struct unassign_job job; /* the job worked on (its unassigned count includes this chunk) */
};

/* Unassigns at most limit rows of the oldest job, inside the caller's transaction; removes the job
 * when nothing of its customer is left. Returns a STORE_* code. */
int unassign_run_chunk(struct store *s, int64_t limit, struct unassign_chunk *out);

#endif
