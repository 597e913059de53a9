/* store.h: the database behind the agent: opening, schema migrations, transactions. The database
 * setting chooses the engine: a file path is SQLite, a postgresql:// URI PostgreSQL. Only the store
 * layer includes an engine's header; callers see struct store and STORE_* codes. One thread
 * owns a store handle: the writer the read-write one, each password verifier a read-only one. The
 * tables' queries have their own headers (store_*.h). */
#ifndef CMAGENT_STORE_H
#define CMAGENT_STORE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum store_rc {
    STORE_OK = 0,
    STORE_NOT_FOUND,   /* no such row */
    STORE_DUPLICATE,   /* a UNIQUE constraint refused the write */
    STORE_ERROR,       /* anything else: I/O, disk full, read-only, corrupt; see store_errmsg() */
    STORE_TOO_LARGE,   /* the rows would exceed the read budget (store_budget_set) */
    STORE_RETRY,       /* PostgreSQL chose the statement as a deadlock's (or serialization conflict's)
                        * victim: the request applies nothing and may run again in a new transaction */
    STORE_UNAVAILABLE, /* the database server cannot be reached (PostgreSQL: connection lost or refused) */
};

struct store;

/* Opens the database at path (":memory:" for tests), creating it when the file does not exist, sets
 * WAL and synchronous=FULL, enables foreign keys and runs the pending migrations. An existing file
 * of 0 bytes is refused, never made a new database. Returns the handle, or NULL with the reason in
 * err. */
struct store *store_open(const char *path, char *err, unsigned long errlen);

/* store_open, and with check, first PRAGMA quick_check over the whole file: a damaged file is
 * refused (NULL, SQLite's findings in err) before anything is written to it. Reads every page, the
 * file in order first: 0.6 s for 778 MB from the page cache, 1.0 to 1.4 s from disk here
 * (docs/benchmarks.md). */
struct store *store_open_checked(const char *path, bool check, char *err, unsigned long errlen);
void store_close(struct store *s); /* NULL-safe */
/* The database setting as logs may show it: a URI's password replaced by ***. Returns buf. */
const char *store_database_shown(const char *database, char *buf, size_t len);

/* A second, read-only connection to the database at path, which store_open already created and
 * migrated. WAL lets it read the last committed state while the writer writes; the store's query
 * functions work on it as on the writer's handle (writes fail with STORE_ERROR). One thread owns
 * it, as any handle. */
struct store *store_open_reader(const char *path, char *err, unsigned long errlen);

/* The schema version (PRAGMA user_version) after migrations. */
int store_schema_version(struct store *s);

/* The message of the last failed call, for logs and 500 replies. Never NULL. */
const char *store_errmsg(struct store *s);

/* Whether the database server was unreachable when last tried (STORE_UNAVAILABLE): its connection
 * is lost and not yet reopened. Always false on SQLite. A request that fails so answers 503. */
bool store_unavailable(struct store *s);

/* Transactions. begin takes the write lock (BEGIN IMMEDIATE). A savepoint nests inside; each
 * request of a group commit runs in one, so a failure rolls back that request alone. */
int store_begin(struct store *s);
/* A read transaction (BEGIN DEFERRED, for a reader's handle): its first read takes the snapshot
 * of the last commit, which every later read of it sees. End it with store_rollback. */
int store_begin_read(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);
/* Begins a transaction whose commit does not wait for the disk (synchronous=NORMAL until it ends
 * with store_commit or store_rollback): it stays atomic and survives a crash of the process, but a
 * power failure may lose it until the next durable commit. For work whose progress is written in
 * the same transaction and that is redone when lost. */
int store_begin_unsynced(struct store *s);
int store_savepoint(struct store *s);
int store_savepoint_release(struct store *s);
int store_savepoint_rollback(struct store *s);

/* The database's publisher lock: exactly one connection among the agents sharing a database holds
 * it, and that agent alone publishes the outbox. want takes it when it is free (or keeps it), !want
 * gives it up; *held says whether this connection holds it after the call. Only between
 * transactions. On PostgreSQL a session-level advisory lock, released by the server when the
 * session ends (a dead agent's is free at once); on SQLite always held. */
int store_publisher_lock(struct store *s, bool want, bool *held);
/* Whether other agents may share the database (PostgreSQL): the publisher reads what they wrote
 * from the outbox, and the others try for the lock, every few hundred ms. */
bool store_shared(struct store *s);

/* Whether a transaction is open. SQLite ends one by itself on some errors (disk full, I/O):
 * the writer then knows that the requests of its batch were rolled back. */
bool store_in_transaction(struct store *s);

/* A read budget bounds what one request may read into memory: while one is set, the rows that the
 * store's queries return may total at most limit bytes (their text and blob columns' sizes, 16 bytes
 * more for each column); the query that would go past it stops there, frees what it read and fails
 * with STORE_TOO_LARGE. limit 0 clears the budget (nothing is counted). */
void store_budget_set(struct store *s, int64_t limit);
/* The budget's limit (0: none), for messages. */
int64_t store_budget_limit(const struct store *s);

/* Number of rows changed by the last statement. */
int64_t store_changes(struct store *s);

/* The query plan SQLite picks for sql (EXPLAIN QUERY PLAN, the details joined with "; "), for
 * tests and diagnostics that must prove a statement uses an index. */
int store_query_plan(struct store *s, const char *sql, char *out, size_t len);

#endif
