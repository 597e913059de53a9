/* idempotency.h: at-most-once application of write requests that carry an envelope id (protocol
 * section 7). The first successful reply is stored, in the same transaction as the write, under
 * the caller's principal (the authenticated user id, "" when anonymous) and that id; a repeat
 * within idempotency_window is answered with the stored reply and changes nothing. */
#ifndef CMAGENT_IDEMPOTENCY_H
#define CMAGENT_IDEMPOTENCY_H

#include "cmagent/context.h"

/* Looks up a stored reply for ctx->who and request_id, or claims the id for this request of op
 * when there is none (store_idem_claim: in the request's transaction, so the claim goes with a
 * write rolled back, and an agent receiving the same id meanwhile waits for this one's outcome).
 * Sets *reply (heap, the caller frees) and *op (heap, the operation that produced it) when one
 * exists within the window, both NULL when the id is this request's. Returns ERR_OK, or
 * ERR_DATABASE with ctx->err set. */
int idem_find(struct ctx *ctx, const char *request_id, const char *this_op, char **op, char **reply);
/* A request whose reply waits for its mails is rolled back whole, then its id claimed again
 * (committed, no reply) until its second run stores the reply: meanwhile the id, sent again to this
 * agent or another, answers 409 instead of being applied (and mailed) a second time. A claim
 * pending for IDEM_PENDING_STALE_MS (an agent that died before its second run) may be taken over.
 * idem_release deletes a pending claim whose second run failed. */
#define IDEM_PENDING_STALE_MS (5 * 60 * 1000)
/* *kept is false when another run holds the id (another agent's run that claimed it since this
 * one was rolled back): this run must then not send its mails. */
int idem_keep_pending(struct ctx *ctx, const char *request_id, const char *op, bool *kept);
int idem_release(struct ctx *ctx, const char *request_id);

/* Stores reply as the first reply of (ctx->who, request_id) for op. Returns ERR_OK, or
 * ERR_DATABASE with ctx->err set (the caller then rolls the request back). */
int idem_record(struct ctx *ctx, const char *request_id, const char *op, const char *reply);

/* Deletes the replies that left the window before now. *deleted receives how many. */
int idem_purge(struct store *store, int64_t window_ms, int64_t now, int64_t *deleted);

#endif
