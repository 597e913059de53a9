/* ratelimit.h: the per-principal request rate limit (protocol §3: 429 errorCode 33). Used by the
 * writer thread only, so it needs no lock. */
#ifndef CMAGENT_API_RATELIMIT_H
#define CMAGENT_API_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* True when principal (a user id) may make one more request at now_ms with at most per_second
 * requests per second (a token bucket holding one second's worth). per_second 0: always true. */
bool ratelimit_take(const char *principal, int64_t per_second, int64_t now_ms);

#endif
