/* stats.h: counters of the writer's group commit: how many requests each committed transaction
 * carried (a histogram in powers of two), commit time, replayed repeats; of the login protection:
 * requests throttled before queueing, password hashes computed (and those on the writer); the
 * requests the reader threads answered; and requests refused for their
 * reply destination. The threads record; the agent.stats operation and the shutdown log read a snapshot. */
#ifndef CMAGENT_STATS_H
#define CMAGENT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bucket i counts batches of 2^(i-1)+1 .. 2^i requests (bucket 0: exactly 1). */
#define STATS_BATCH_BUCKETS 15

struct stats_snapshot {
    uint64_t batches;          /* transactions that carried at least one request */
    uint64_t requests;         /* requests in them */
    uint64_t max_batch;
    uint64_t failed_commits;   /* batches whose commit failed (every reply became a database error) */
    uint64_t replayed;         /* repeats answered from a stored first reply */
    uint64_t throttled;        /* authentication requests answered 429 before they were queued */
    uint64_t password_hashes;  /* crypt() calls: passwords hashed or checked */
    uint64_t refused_replies;  /* requests not applied because their reply destination was refused */
    uint64_t reads;            /* requests the reader threads answered (never in a transaction above) */
    uint64_t writer_password_hashes; /* crypt() calls the writer made itself (the verifiers did not) */
    uint64_t commit_us;        /* total time in COMMIT (the fsync), microseconds */
    uint64_t max_commit_us;
    uint64_t buckets[STATS_BATCH_BUCKETS];
};

/* One transaction of the writer with n requests (n >= 1). */
void stats_record_batch(size_t n, uint64_t commit_us, bool committed);
void stats_record_replayed(void);
void stats_record_throttled(void);
void stats_record_password_hash(void);
void stats_record_refused_reply(void);
void stats_record_read(void);
void stats_record_writer_password_hashes(size_t n);
void stats_snapshot(struct stats_snapshot *out);

/* The largest batch size bucket i holds (1, 2, 4, 8, ...). */
uint64_t stats_bucket_upper(size_t i);

/* One log line: "N requests in M transactions (mean x, max y); sizes <=1:a <=2:b ...". */
void stats_format(const struct stats_snapshot *s, char *buf, size_t len);

#endif
