/* ratelimit.h: token buckets keyed by text (protocol §3: 429 errorCode 33). One table holds the
 * per-principal request limit, others the budgets of anonymous authentication requests per e-mail
 * and per client (admit.h). A table has a fixed number of slots and a lock of its own, so any
 * thread may take from it. */
#ifndef CMAGENT_API_RATELIMIT_H
#define CMAGENT_API_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;
struct store;

/* A table of buckets; name (a short static string: "client", "email", "user") names its buckets in
 * the database when they are shared. */
struct ratelimit *ratelimit_new(const char *name);
void ratelimit_free(struct ratelimit *t); /* NULL-safe */

/* True when key may make one more request at now_ms: its bucket holds at most burst requests and
 * is refilled with burst requests every period_ms. burst 0 (or an empty key): always true. A key
 * not seen for a whole period starts with a full bucket. */
bool ratelimit_take(struct ratelimit *t, const char *key, int64_t burst, int64_t period_ms, int64_t now_ms);

/* From now on every table takes from buckets in the database of s (store_rate.h) instead of its
 * memory, at the wall clock (clock_now_ms; now_ms is then not used), so that every agent on the
 * database spends one budget per key. s is a connection of its own, used under a lock by whichever
 * thread takes. A take the database fails is taken from memory (logged). NULL: memory again. */
void ratelimit_share(struct store *s);

#endif
