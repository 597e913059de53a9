/* sql_sqlite.h: what the SQLite engine's own files share (sql_sqlite.c, sql_sqlite_check.c,
 * store_checkpoint.c, store_walbuf.c): the connection's handle and the result-code mapping. */
#ifndef CMAGENT_STORE_SQL_SQLITE_H
#define CMAGENT_STORE_SQL_SQLITE_H

#include <sqlite3.h>
#include <stddef.h>

struct store;

/* The SQLite handle of s, or NULL when s is not an SQLite connection. */
sqlite3 *sql_sqlite_db(struct store *s);
/* Maps an SQLite result code to STORE_*, recording sqlite3_errmsg() for STORE_ERROR. */
int sql_sqlite_rc(struct store *s, sqlite3 *db, int rc);
/* 0, or -1 with the reason in err when path is an existing file of 0 bytes. */
int sql_sqlite_refuse_empty_file(const char *path, char *err, unsigned long errlen);
/* PRAGMA quick_check of the open database at path: STORE_OK or STORE_ERROR with the findings. */
int sql_sqlite_quick_check(struct store *s, sqlite3 *db, const char *path);

#endif
