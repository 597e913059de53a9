/* store_rate.h: token buckets of the rate limits in the rate_bucket table (migration 13), for
 * agents that share one PostgreSQL database: a bucket is one row, taken from by one statement
 * (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so requests reaching different agents spend
 * one budget. A single agent on SQLite keeps its buckets in memory instead (api's ratelimit.c). */
#ifndef CMAGENT_STORE_RATE_H
#define CMAGENT_STORE_RATE_H

#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether agents on this database setting share their rate limits' buckets through it: a
 * PostgreSQL URI. */
bool store_shares_buckets(const char *database);

/* Readies a connection of its own for the takes: its commits do not wait for the server's disk
 * (synchronous_commit off: a server crash may forget the last takes, giving a few requests back;
 * a connection the engine reopens after a loss commits synchronously again, which is only slower). */
int store_rate_connection(struct store *s);

/* Takes one request from the bucket name at now_ms: it holds at most burst requests and is
 * refilled with burst every period_ms (a bucket not seen yet is full). *granted is false when it
 * was empty (nothing taken). Outside a transaction the statement commits by itself. */
int store_rate_take(struct store *s, const char *name, int64_t burst, int64_t period_ms, int64_t now_ms,
                    bool *granted);

/* Deletes the buckets last used before before_ms (full again by then); *deleted receives how many. */
int store_rate_purge(struct store *s, int64_t before_ms, int64_t *deleted);

#endif
