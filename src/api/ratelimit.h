/* ratelimit.h: token buckets keyed by text (protocol §3: 429 errorCode 33). One table holds the
 * per-principal request limit, others the budgets of anonymous authentication requests per e-mail
 * and per client (admit.h). A table has a fixed number of slots and a lock of its own, so any
 * thread may take from it. */
#ifndef CMAGENT_API_RATELIMIT_H
#define CMAGENT_API_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *t); /* NULL-safe */

/* True when key may make one more request at now_ms: its bucket holds at most burst requests and
 * is refilled with burst requests every period_ms. burst 0 (or an empty key): always true. A key
 * not seen for a whole period starts with a full bucket. */
bool ratelimit_take(struct ratelimit *t, const char *key, int64_t burst, int64_t period_ms, int64_t now_ms);

#endif
