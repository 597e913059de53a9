/* store_idem.h: queries of the idempotency table: the first reply of each write request that
 * carried an envelope id, keyed by the principal and that id (protocol section 7). */
#ifndef CMAGENT_STORE_IDEM_H
#define CMAGENT_STORE_IDEM_H

#include "cmagent/store.h"

#include <stdint.h>

/* The reply stored for (principal, request_id) no older than since (ms). STORE_NOT_FOUND when
 * there is none. On STORE_OK the caller frees *op and *reply. */
int store_idem_get(struct store *s, const char *principal, const char *request_id, int64_t since, char **op,
                   char **reply);

/* Stores (or replaces an expired) reply for (principal, request_id). */
int store_idem_put(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                   const char *reply);

/* Deletes the replies stored before before_ts; *deleted receives how many. */
int store_idem_purge(struct store *s, int64_t before_ts, int64_t *deleted);

#endif
