/* sql_sqlite.c: the SQLite engine of the store's SQL layer (sql.h): a database file, opened
 * read-write (WAL, synchronous=FULL, foreign keys) or read-only for a reader thread; statements,
 * SQLite's result codes mapped to STORE_* codes, transactions and the schema version kept in
 * PRAGMA user_version. The checks at opening (empty file, quick_check) are in sql_sqlite_check.c. */
#include "sql_sqlite.h"
#include "store_int.h"

#include "cmagent/log.h"
#include "cmagent/model.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lite_conn {
    sqlite3 *db;
    bool unsynced; /* the open transaction began with store_begin_unsynced */
};

struct lite_stmt {
    struct sql_stmt base;
    sqlite3_stmt *st;
};

static sqlite3 *db_of(struct store *s) { return ((struct lite_conn *)s->conn)->db; }
static sqlite3_stmt *raw(sql_stmt *st) { return ((struct lite_stmt *)st)->st; }

sqlite3 *sql_sqlite_db(struct store *s)
{
    return s->eng != NULL && s->eng->dialect == SQL_SQLITE ? db_of(s) : NULL;
}

int sql_sqlite_rc(struct store *s, sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return STORE_DUPLICATE;
        break;
    default:
        break;
    }
    const char *hint = "";
    switch (rc & 0xff) {
    case SQLITE_FULL:
        hint = "the disk is full or the database reached its size limit: ";
        break;
    case SQLITE_IOERR:
        hint = "the database file cannot be written (disk full, file size limit or I/O failure): ";
        break;
    case SQLITE_READONLY:
        hint = "the database is read-only: ";
        break;
    default:
        break;
    }
    snprintf(s->errmsg, sizeof s->errmsg, "%s%s (%s)", hint, sqlite3_errmsg(db), sqlite3_errstr(rc));
    return STORE_ERROR;
}

/* ---- statements ---- */

static int lite_step(sql_stmt *st)
{
    int rc = sqlite3_step(raw(st));
    if (rc == SQLITE_ROW)
        return SQL_ROW;
    if (rc == SQLITE_DONE)
        return SQL_DONE;
    return sql_sqlite_rc(st->s, db_of(st->s), rc);
}

static void lite_reset(sql_stmt *st)
{
    sqlite3_reset(raw(st));
    sqlite3_clear_bindings(raw(st));
}

static void lite_finalize(sql_stmt *st)
{
    sqlite3_finalize(raw(st));
    free(st);
}

static void lite_bind_text(sql_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(raw(st), i);
    else
        sqlite3_bind_text(raw(st), i, v, -1, SQLITE_TRANSIENT);
}

static void lite_bind_int64(sql_stmt *st, int i, int64_t v) { sqlite3_bind_int64(raw(st), i, v); }
static int lite_column_count(sql_stmt *st) { return sqlite3_column_count(raw(st)); }
static bool lite_column_null(sql_stmt *st, int i) { return sqlite3_column_type(raw(st), i) == SQLITE_NULL; }
static const char *lite_column_text(sql_stmt *st, int i) { return (const char *)sqlite3_column_text(raw(st), i); }
static int64_t lite_column_int64(sql_stmt *st, int i) { return sqlite3_column_int64(raw(st), i); }

/* sqlite3_column_bytes() would turn a number into text: only text and blobs are measured. */
static int lite_column_bytes(sql_stmt *st, int i)
{
    int type = sqlite3_column_type(raw(st), i);
    return type == SQLITE_TEXT || type == SQLITE_BLOB ? sqlite3_column_bytes(raw(st), i) : 8;
}

static const struct sql_stmt_ops lite_stmt_ops = {
    .step = lite_step,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .bind_text = lite_bind_text,
    .bind_int64 = lite_bind_int64,
    .column_count = lite_column_count,
    .column_null = lite_column_null,
    .column_text = lite_column_text,
    .column_int64 = lite_column_int64,
    .column_bytes = lite_column_bytes,
};

static sql_stmt *lite_prepare(struct store *s, const char *sql, bool persistent)
{
    sqlite3_stmt *raw_st = NULL;
    int rc = sqlite3_prepare_v3(db_of(s), sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw_st, NULL);
    if (rc != SQLITE_OK) {
        sql_sqlite_rc(s, db_of(s), rc);
        sqlite3_finalize(raw_st);
        return NULL;
    }
    struct lite_stmt *st = xcalloc(1, sizeof *st);
    st->base.ops = &lite_stmt_ops;
    st->base.s = s;
    st->st = raw_st;
    return &st->base;
}

/* ---- the connection ---- */

static int lite_exec(struct store *s, const char *script)
{
    int rc = sqlite3_exec(db_of(s), script, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : sql_sqlite_rc(s, db_of(s), rc);
}

static int64_t lite_changes(struct store *s) { return sqlite3_changes64(db_of(s)); }
static bool lite_in_transaction(struct store *s) { return !sqlite3_get_autocommit(db_of(s)); }

/* Transaction control runs several times per request: prepared once, like every other statement
 * (sqlite3_exec would parse the text on every call). */
static int exec_cached(struct store *s, const char *sql) { return store_exec_stmt(s, store_stmt(s, sql)); }

static const char begin_sql[] = "BEGIN IMMEDIATE";
static const char begin_read_sql[] = "BEGIN DEFERRED";
static const char commit_sql[] = "COMMIT";
static const char rollback_sql[] = "ROLLBACK";
static const char unsynced_sql[] = "PRAGMA synchronous=NORMAL";
static const char synced_sql[] = "PRAGMA synchronous=FULL";

/* SQLite refuses to change the safety level inside a transaction: set before, restored after. */
static int end_unsynced(struct store *s, int rc)
{
    struct lite_conn *c = s->conn;
    if (!c->unsynced)
        return rc;
    c->unsynced = false;
    if (exec_cached(s, synced_sql) != STORE_OK)
        return STORE_ERROR;
    return rc;
}

static int lite_begin(struct store *s, enum sql_begin kind)
{
    if (kind == SQL_BEGIN_READ)
        return exec_cached(s, begin_read_sql);
    if (kind == SQL_BEGIN_WRITE)
        return exec_cached(s, begin_sql);
    if (exec_cached(s, unsynced_sql) != STORE_OK)
        return STORE_ERROR;
    ((struct lite_conn *)s->conn)->unsynced = true;
    int rc = exec_cached(s, begin_sql);
    return rc == STORE_OK ? rc : end_unsynced(s, rc);
}

static int lite_commit(struct store *s)
{
    int rc = exec_cached(s, commit_sql);
    return sqlite3_get_autocommit(db_of(s)) ? end_unsynced(s, rc) : rc;
}

static int lite_rollback(struct store *s)
{
    int rc = STORE_OK;
    if (!sqlite3_get_autocommit(db_of(s))) /* else SQLite already rolled back (e.g. after SQLITE_FULL) */
        rc = exec_cached(s, rollback_sql);
    return end_unsynced(s, rc);
}

static int lite_schema_version(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db_of(s), "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int lite_migrate_step(struct store *s, const char *script, int version)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", version);
    if (lite_exec(s, "BEGIN IMMEDIATE") != STORE_OK)
        return STORE_ERROR;
    if (lite_exec(s, script) != STORE_OK || lite_exec(s, pragma) != STORE_OK) {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        lite_exec(s, "ROLLBACK");
        snprintf(s->errmsg, sizeof s->errmsg, "%s", why);
        return STORE_ERROR;
    }
    return lite_exec(s, "COMMIT");
}

static int lite_query_plan(struct store *s, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    char *explain = NULL;
    size_t n = strlen(sql) + sizeof "EXPLAIN QUERY PLAN ";
    int rc;

    if (len == 0)
        return STORE_ERROR;
    out[0] = '\0';
    explain = xcalloc(n, 1);
    snprintf(explain, n, "EXPLAIN QUERY PLAN %s", sql);
    rc = sqlite3_prepare_v2(db_of(s), explain, -1, &st, NULL);
    free(explain);
    if (rc != SQLITE_OK)
        return sql_sqlite_rc(s, db_of(s), rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(st, 3);
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "; " : "", detail ? (const char *)detail : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : sql_sqlite_rc(s, db_of(s), rc);
}

static void lite_close(struct store *s)
{
    struct lite_conn *c = s->conn;
    if (c == NULL)
        return;
    sqlite3_close(c->db);
    free(c);
    s->conn = NULL;
}

/* One agent per file: it is the publisher (two on one file each publish the outbox, as before). */
static int lite_publisher_lock(struct store *s, bool want, bool *held)
{
    (void)s;
    (void)want;
    *held = true;
    return STORE_OK;
}

static const struct sql_engine lite_engine = {
    .name = "sqlite",
    .dialect = SQL_SQLITE,
    .prepare = lite_prepare,
    .exec = lite_exec,
    .changes = lite_changes,
    .in_transaction = lite_in_transaction,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .schema_version = lite_schema_version,
    .migrate_step = lite_migrate_step,
    .query_plan = lite_query_plan,
    .publisher_lock = lite_publisher_lock,
    .close = lite_close,
};

/* Every request runs in a savepoint, so SQLite copies each page the request changes that the
 * batch had already changed into the statement journal, about 50 KiB per customer.create. Past
 * SQLite's default of 64 KiB that journal becomes a temporary file for the rest of the
 * transaction, and every later request of the batch paid a pwrite per copied page (perf: the
 * largest single cost of the writer at 64 in flight). The journal is emptied when a request's
 * savepoint is released (while it is in memory), so 124 KiB hold an ordinary request; a bigger
 * statement (a large set-based UPDATE or DELETE) still spills to a file.
 *
 * Why not more: SQLite's in-memory journal writes itself out, when it spills, in pieces of this
 * size, and the unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length to 17
 * bits), so a threshold of 4 MiB made every spill fail as "database or disk is full": an UPDATE of
 * 50,000 devices in one statement answered 500. unit.test_checkpoint runs such an UPDATE. Must run
 * before SQLite initialises itself. */
#define STATEMENT_JOURNAL_IN_MEMORY (124 * 1024)

static const char *vfs_name; /* NULL: SQLite's default */

static void configure_sqlite(void)
{
    if (sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_IN_MEMORY) != SQLITE_OK)
        log_warn("SQLite was initialised already: the statement journal spills at its default size.");
    vfs_name = store_walbuf_register();
    if (vfs_name == NULL)
        log_warn("Could not register the WAL write-gathering VFS; using SQLite's default.");
}


int sql_sqlite_open(struct store *s, const char *path, bool reader, bool check, char *err, size_t errlen)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    if (!reader && sql_sqlite_refuse_empty_file(path, err, errlen) != 0)
        return STORE_ERROR;
    struct lite_conn *c = xcalloc(1, sizeof *c);
    int flags = reader ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, reader ? NULL : vfs_name);

    s->eng = &lite_engine;
    s->conn = c;
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s%s: %s", path, reader ? " for reading" : "",
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        return STORE_ERROR;
    }
    sqlite3_busy_timeout(c->db, 5000);
    sqlite3_extended_result_codes(c->db, 1);
    if (reader)
        return STORE_OK;
    /* A group commit of a few hundred writes dirties more pages than SQLite's default 2 MB cache
     * holds, which made it spill pages to the WAL in the middle of the transaction. */
    if (lite_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                     " PRAGMA cache_size=-16384;") != STORE_OK ||
        (check && sql_sqlite_quick_check(s, c->db, path) != STORE_OK)) {
        snprintf(err, errlen, "database %s: %s", path, s->errmsg);
        return STORE_ERROR;
    }
    return STORE_OK;
}
