/* ratelimit.c: token buckets in a fixed open-addressing table. Keys are kept as 64-bit hashes with
 * a random seed per table, so a slot is small and no key can be crafted to collide with another.
 * A key looks at PROBES slots from its hash: its own, an empty one, or one whose bucket is full
 * again (idle for a whole period) is taken; when every slot there is in use, the fullest bucket is
 * evicted, so the buckets a flood of new keys pushes out are the ones that lose nothing by it and
 * a key that spent its budget keeps its empty bucket. With ratelimit_share the buckets are rows of
 * the database instead, one statement per take (agents on one PostgreSQL database). */
#include "ratelimit.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "cmagent/model.h"
#include "cmagent/secret.h"
#include "cmagent/store_rate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 16384 /* a power of two */
#define PROBES 32

struct slot {
    uint64_t key;   /* 0: empty */
    double tokens;
    int64_t last_ms;
};

struct ratelimit {
    pthread_mutex_t lock;
    uint64_t seed;
    const char *name;
    struct slot slots[SLOTS];
};

/* The database connection the buckets are shared through (ratelimit_share), and its lock. */
static struct store *shared;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t shared_failure_logged_ms, shared_retry_at_ms;

void ratelimit_share(struct store *s)
{
    pthread_mutex_lock(&shared_lock);
    shared = s;
    pthread_mutex_unlock(&shared_lock);
}

struct ratelimit *ratelimit_new(const char *name)
{
    struct ratelimit *t = xcalloc(1, sizeof *t);
    t->name = name;
    pthread_mutex_init(&t->lock, NULL);
    secret_random(&t->seed, sizeof t->seed);
    return t;
}

void ratelimit_free(struct ratelimit *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* FNV-1a over the seed and the key, then splitmix64's finalizer; never 0. */
static uint64_t hash_key(uint64_t seed, const char *s)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h != 0 ? h : 1;
}

/* The tokens slot s holds at now_ms, refilled at burst per period_ms and capped at burst. */
static double refilled(const struct slot *s, double burst, int64_t period_ms, int64_t now_ms)
{
    int64_t idle = now_ms - s->last_ms;
    if (idle >= period_ms)
        return burst;
    double t = s->tokens + (idle > 0 ? (double)idle * burst / (double)period_ms : 0.0);
    return t > burst ? burst : t;
}

static struct slot *find_slot(struct ratelimit *t, uint64_t key, double burst, int64_t period_ms, int64_t now_ms)
{
    struct slot *reuse = NULL, *fullest = NULL;
    double most = -1.0;
    size_t h = (size_t)key & (SLOTS - 1);

    for (size_t i = 0; i < PROBES; i++, h = (h + 1) & (SLOTS - 1)) {
        struct slot *s = &t->slots[h];
        if (s->key == key)
            return s;
        if (s->key == 0 || refilled(s, burst, period_ms, now_ms) >= burst) {
            if (reuse == NULL)
                reuse = s;
            continue;
        }
        double left = refilled(s, burst, period_ms, now_ms);
        if (left > most) {
            most = left;
            fullest = s;
        }
    }
    struct slot *s = reuse != NULL ? reuse : fullest;
    s->key = key;
    s->tokens = burst;
    s->last_ms = now_ms;
    return s;
}

/* The take from the shared bucket "<table>:<SHA-256 of key>": 1 granted, 0 refused, -1 no shared
 * bucket (none set, or the database failed: logged at most once a minute, and not asked again for
 * a second, so that an unreachable server does not hold the threads that take). */
static int take_shared(const struct ratelimit *t, const char *key, int64_t burst, int64_t period_ms)
{
    char digest[SECRET_DIGEST_HEX], name[SECRET_DIGEST_HEX + 32];
    bool granted = true;
    int out = -1;

    pthread_mutex_lock(&shared_lock);
    int64_t now = clock_now_ms();
    if (shared != NULL && now >= shared_retry_at_ms) {
        secret_digest(key, digest);
        snprintf(name, sizeof name, "%.24s:%s", t->name != NULL ? t->name : "", digest);
        if (store_rate_take(shared, name, burst, period_ms, now, &granted) == STORE_OK) {
            out = granted ? 1 : 0;
        } else {
            shared_retry_at_ms = now + 1000;
            if (now - shared_failure_logged_ms >= 60 * 1000) {
                shared_failure_logged_ms = now;
                log_warn("The shared rate limits failed (%s); this agent counts in its own memory meanwhile.",
                         store_errmsg(shared));
            }
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return out;
}

bool ratelimit_take(struct ratelimit *t, const char *key, int64_t burst, int64_t period_ms, int64_t now_ms)
{
    if (t == NULL || burst <= 0 || period_ms <= 0 || key == NULL || key[0] == '\0')
        return true;
    int from_database = take_shared(t, key, burst, period_ms);
    if (from_database >= 0)
        return from_database == 1;
    uint64_t k = hash_key(t->seed, key);
    pthread_mutex_lock(&t->lock);
    struct slot *s = find_slot(t, k, (double)burst, period_ms, now_ms);
    s->tokens = refilled(s, (double)burst, period_ms, now_ms);
    s->last_ms = now_ms;
    bool ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    pthread_mutex_unlock(&t->lock);
    return ok;
}
