/* stats.c: the group-commit counters, the reads, the password hashes and the count of refused reply
 * destinations. The agent's threads update them and readers take relaxed
 * snapshots, so each counter is atomic on its own (a snapshot may be mid-batch, never torn). */
#include "cmagent/stats.h"

#include <stdatomic.h>
#include <stdio.h>

static _Atomic uint64_t batches, requests, max_batch, failed_commits, replayed, commit_us, max_commit_us;
static _Atomic uint64_t throttled, password_hashes;
static _Atomic uint64_t refused_replies, reads, writer_password_hashes;
static _Atomic uint64_t buckets[STATS_BATCH_BUCKETS];

static size_t bucket_of(size_t n)
{
    size_t i = 0;
    while (i + 1 < STATS_BATCH_BUCKETS && ((uint64_t)1 << i) < n)
        i++;
    return i;
}

uint64_t stats_bucket_upper(size_t i) { return (uint64_t)1 << i; }

static void raise_max(_Atomic uint64_t *m, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed, memory_order_relaxed))
        ;
}

void stats_record_batch(size_t n, uint64_t us, bool committed)
{
    atomic_fetch_add_explicit(&batches, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&requests, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&buckets[bucket_of(n)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&commit_us, us, memory_order_relaxed);
    raise_max(&max_batch, n);
    raise_max(&max_commit_us, us);
    if (!committed)
        atomic_fetch_add_explicit(&failed_commits, 1, memory_order_relaxed);
}

void stats_record_replayed(void) { atomic_fetch_add_explicit(&replayed, 1, memory_order_relaxed); }
void stats_record_throttled(void) { atomic_fetch_add_explicit(&throttled, 1, memory_order_relaxed); }
void stats_record_password_hash(void) { atomic_fetch_add_explicit(&password_hashes, 1, memory_order_relaxed); }

void stats_record_read(void) { atomic_fetch_add_explicit(&reads, 1, memory_order_relaxed); }
void stats_record_writer_password_hashes(size_t n)
{
    atomic_fetch_add_explicit(&writer_password_hashes, n, memory_order_relaxed);
}

void stats_record_refused_reply(void) { atomic_fetch_add_explicit(&refused_replies, 1, memory_order_relaxed); }

void stats_snapshot(struct stats_snapshot *out)
{
    out->batches = atomic_load_explicit(&batches, memory_order_relaxed);
    out->requests = atomic_load_explicit(&requests, memory_order_relaxed);
    out->max_batch = atomic_load_explicit(&max_batch, memory_order_relaxed);
    out->failed_commits = atomic_load_explicit(&failed_commits, memory_order_relaxed);
    out->replayed = atomic_load_explicit(&replayed, memory_order_relaxed);
    out->throttled = atomic_load_explicit(&throttled, memory_order_relaxed);
    out->password_hashes = atomic_load_explicit(&password_hashes, memory_order_relaxed);
    out->refused_replies = atomic_load_explicit(&refused_replies, memory_order_relaxed);
    out->reads = atomic_load_explicit(&reads, memory_order_relaxed);
    out->writer_password_hashes = atomic_load_explicit(&writer_password_hashes, memory_order_relaxed);
    out->commit_us = atomic_load_explicit(&commit_us, memory_order_relaxed);
    out->max_commit_us = atomic_load_explicit(&max_commit_us, memory_order_relaxed);
    for (size_t i = 0; i < STATS_BATCH_BUCKETS; i++)
        out->buckets[i] = atomic_load_explicit(&buckets[i], memory_order_relaxed);
}

void stats_format(const struct stats_snapshot *s, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%llu requests in %llu transactions (mean %.1f, max %llu, %llu failed); sizes",
                     (unsigned long long)s->requests, (unsigned long long)s->batches,
                     s->batches ? (double)s->requests / (double)s->batches : 0.0,
                     (unsigned long long)s->max_batch, (unsigned long long)s->failed_commits);
    for (size_t i = 0; i < STATS_BATCH_BUCKETS && n > 0 && (size_t)n < len; i++)
        if (s->buckets[i] != 0)
            n += snprintf(buf + n, len - (size_t)n, " <=%llu:%llu", (unsigned long long)stats_bucket_upper(i),
                          (unsigned long long)s->buckets[i]);
}
