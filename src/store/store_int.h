/* store_int.h: what the store's own files share: the handle, the statement cache and the
 * binding/column helpers. Never included outside src/store/. */
#ifndef CMAGENT_STORE_INT_H
#define CMAGENT_STORE_INT_H

#include "cmagent/store.h"

#include <sqlite3.h>
#include <stdbool.h>

#define STMT_CACHE_SIZE 256 /* a power of two larger than the number of distinct statements */

struct store {
    sqlite3 *db;
    /* Prepared statements, keyed by the address of their static SQL text. */
    const char *stmt_sql[STMT_CACHE_SIZE];
    sqlite3_stmt *stmt[STMT_CACHE_SIZE];
    char errmsg[512];
};

/* Returns the cached, reset statement for sql (a string literal with static storage), preparing
 * it on first use; NULL on a prepare error (errmsg set). The statement stays owned by the cache. */
sqlite3_stmt *store_stmt(struct store *s, const char *sql);

/* Maps an SQLite result code to STORE_*, recording sqlite3_errmsg() for STORE_ERROR. */
int store_rc(struct store *s, int sqlite_rc);

/* Steps a statement that returns no rows and resets it. Returns STORE_OK/DUPLICATE/ERROR. */
int store_exec_stmt(struct store *s, sqlite3_stmt *st);

/* Runs a statement that returns one integer (e.g. COUNT). */
int store_query_int(struct store *s, sqlite3_stmt *st, int64_t *out);

void bind_text(sqlite3_stmt *st, int i, const char *v); /* NULL binds SQL NULL */
void bind_id(sqlite3_stmt *st, int i, const char *id);  /* "" binds SQL NULL */
char *column_text(sqlite3_stmt *st, int i);             /* heap copy, NULL for SQL NULL */
void column_id(sqlite3_stmt *st, int i, char out[37]);  /* "" for SQL NULL */

/* Registers the VFS that gathers the write-ahead log's writes (store_walbuf.c); returns its name,
 * or NULL when it could not (the default VFS is used then). */
const char *store_walbuf_register(void);

/* Escapes LIKE's wildcards in s with '\' for "... LIKE '%' || ? || '%' ESCAPE '\'". Heap copy. */
char *like_escape(const char *s);

#endif
