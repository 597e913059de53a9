/* store_idem.h: queries of the idempotency table: the first reply of each write request that
 * carried an envelope id, keyed by the principal and that id (protocol section 7). */
#ifndef CMAGENT_STORE_IDEM_H
#define CMAGENT_STORE_IDEM_H

#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

/* The reply stored for (principal, request_id) no older than since (ms). STORE_NOT_FOUND when
 * there is none. On STORE_OK the caller frees *op and *reply. */
int store_idem_get(struct store *s, const char *principal, const char *request_id, int64_t since, char **op,
                   char **reply);

/* Claims (principal, request_id) for op, made at created: a row with an empty reply, or an expired
 * row (older than since) or a pending one (empty reply, kept while a request's mails are sent)
 * older than pending_before taken over. *claimed is false when a live row is there. On PostgreSQL
 * the INSERT waits for another agent's transaction that claimed the same id and is still open, and
 * then finds its row (committed) or claims the id itself (rolled back): the id is applied once. */
int store_idem_claim(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                     int64_t since, int64_t pending_before, bool *claimed);
/* Deletes the claim of (principal, request_id) when it is still pending (no reply stored). */
int store_idem_release(struct store *s, const char *principal, const char *request_id);
/* Stores (or replaces an expired) reply for (principal, request_id). */
int store_idem_put(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                   const char *reply);

/* Deletes the replies stored before before_ts; *deleted receives how many. */
int store_idem_purge(struct store *s, int64_t before_ts, int64_t *deleted);

#endif
