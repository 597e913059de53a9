/* store.c: opening the database, migrations keyed by PRAGMA user_version, transactions, the
 * prepared-statement cache and the mapping of SQLite result codes to STORE_* codes. */
#include "store_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "cmagent/model.h"
#include "store_schema.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int store_rc(struct store *s, int rc)
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
    snprintf(s->errmsg, sizeof s->errmsg, "%s%s (%s)", hint, sqlite3_errmsg(s->db), sqlite3_errstr(rc));
    return STORE_ERROR;
}

const char *store_errmsg(struct store *s) { return s->errmsg; }

static int exec_sql(struct store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : store_rc(s, rc);
}

sqlite3_stmt *store_stmt(struct store *s, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) & (STMT_CACHE_SIZE - 1);
    for (size_t probe = 0; probe < STMT_CACHE_SIZE; probe++, h = (h + 1) & (STMT_CACHE_SIZE - 1)) {
        if (s->stmt_sql[h] == sql) {
            sqlite3_reset(s->stmt[h]);
            sqlite3_clear_bindings(s->stmt[h]);
            return s->stmt[h];
        }
        if (s->stmt_sql[h] == NULL) {
            sqlite3_stmt *st = NULL;
            int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
            if (rc != SQLITE_OK) {
                store_rc(s, rc);
                log_error("Preparing SQL failed: %s: %s", s->errmsg, sql);
                return NULL;
            }
            s->stmt_sql[h] = sql;
            s->stmt[h] = st;
            return st;
        }
    }
    log_error("The statement cache is full; raise STMT_CACHE_SIZE.");
    abort();
}

int store_exec_stmt(struct store *s, sqlite3_stmt *st)
{
    if (st == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    int out = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? STORE_OK : store_rc(s, rc);
    sqlite3_reset(st);
    return out;
}

int store_exec_changing(struct store *s, sqlite3_stmt *st)
{
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK && sqlite3_changes64(s->db) == 0)
        return STORE_NOT_FOUND;
    return rc;
}

void store_budget_set(struct store *s, int64_t limit)
{
    if (s == NULL)
        return;
    s->budget_limit = limit > 0 ? limit : 0;
    s->budget_left = s->budget_limit;
}

int64_t store_budget_limit(const struct store *s) { return s->budget_limit; }

#define BUDGET_PER_COLUMN 16 /* a column's share of a rendered row beyond its bytes: its key, quotes */

/* Charges the current row of st to the read budget. Returns false when the row goes past it. Only
 * text and blob columns are measured: sqlite3_column_bytes() would turn a number into text. */
static bool budget_take_row(struct store *s, sqlite3_stmt *st)
{
    if (s->budget_limit == 0)
        return true;
    int64_t bytes = 0;
    int ncol = sqlite3_column_count(st);
    for (int i = 0; i < ncol; i++) {
        int type = sqlite3_column_type(st, i);
        bytes += BUDGET_PER_COLUMN + (type == SQLITE_TEXT || type == SQLITE_BLOB ? sqlite3_column_bytes(st, i) : 8);
    }
    if (bytes > s->budget_left) {
        s->budget_left = 0;
        snprintf(s->errmsg, sizeof s->errmsg, "the rows read exceed the read budget of %lld bytes",
                 (long long)s->budget_limit);
        return false;
    }
    s->budget_left -= bytes;
    return true;
}

int store_collect(struct store *s, sqlite3_stmt *st, size_t row_size, store_row_reader read, const void *arg,
                  store_rows_freer free_rows, void **rows, size_t *n)
{
    size_t cap = 0, count = 0;
    char *out = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!budget_take_row(s, st))
            break;
        if (count == cap) {
            cap = cap == 0 ? 16 : 2 * cap;
            out = xrealloc(out, cap * row_size);
        }
        memset(out + count * row_size, 0, row_size);
        read(st, out + count * row_size, arg);
        count++;
    }
    if (rc != SQLITE_DONE) {
        int mapped = rc == SQLITE_ROW ? STORE_TOO_LARGE : store_rc(s, rc);
        sqlite3_reset(st);
        if (out != NULL)
            free_rows(out, count);
        return mapped;
    }
    sqlite3_reset(st);
    *rows = out;
    *n = count;
    return STORE_OK;
}

void store_read_text(sqlite3_stmt *st, void *row, const void *arg)
{
    (void)arg;
    *(char **)row = column_text(st, 0);
}

void store_texts_free(void *rows, size_t n)
{
    char **texts = rows;
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

int store_get_one(struct store *s, sqlite3_stmt *st, store_row_reader read, const void *arg, void *row)
{
    if (st == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && !budget_take_row(s, st)) {
        sqlite3_reset(st);
        return STORE_TOO_LARGE;
    }
    if (rc == SQLITE_ROW) {
        read(st, row, arg);
        sqlite3_reset(st);
        return STORE_OK;
    }
    int mapped = rc == SQLITE_DONE ? STORE_NOT_FOUND : store_rc(s, rc);
    sqlite3_reset(st);
    return mapped;
}

int store_query_int(struct store *s, sqlite3_stmt *st, int64_t *out)
{
    *out = 0;
    if (st == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return STORE_OK;
    }
    int mapped = rc == SQLITE_DONE ? STORE_NOT_FOUND : store_rc(s, rc);
    sqlite3_reset(st);
    return mapped;
}

int store_row_count(struct store *s, const char *owner_id, const char *table, int64_t *count)
{
    static const char sql[] = "SELECT coalesce((SELECT n FROM row_count WHERE owner_id = ?1 AND kind = ?2), 0)";
    sqlite3_stmt *st = store_stmt(s, sql);
    *count = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, owner_id);
    bind_text(st, 2, table);
    return store_query_int(s, st, count);
}

int store_row_count_add(struct store *s, const char *owner_id, const char *table)
{
    static const char create_sql[] = "INSERT OR IGNORE INTO row_count(owner_id, kind, n) VALUES (?1, ?2, 0)";
    static const char add_sql[] = "UPDATE row_count SET n = n + 1 WHERE owner_id = ?1 AND kind = ?2";
    const char *const steps[] = { create_sql, add_sql };

    if (owner_id == NULL || owner_id[0] == '\0')
        return STORE_OK;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = store_stmt(s, steps[i]);
        if (st == NULL)
            return STORE_ERROR;
        bind_text(st, 1, owner_id);
        bind_text(st, 2, table);
        int rc = store_exec_stmt(s, st);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

void bind_id(sqlite3_stmt *st, int i, const char *id)
{
    bind_text(st, i, (id == NULL || id[0] == '\0') ? NULL : id);
}

char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t == NULL ? NULL : xstrdup_or_null((const char *)t);
}

void column_id(sqlite3_stmt *st, int i, char out[37])
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, 37, "%s", t == NULL ? "" : (const char *)t);
}

char *like_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(2 * n + 1, 1), *o = out;
    for (; *s != '\0'; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

int store_schema_version(struct store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int migrate(struct store *s)
{
    int current = store_schema_version(s);
    size_t count = 0;
    const char *const *steps = store_schema_migrations(&count);

    if (current < 0)
        return STORE_ERROR;
    if ((size_t)current > count) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the database has schema version %d, newer than this agent's %zu", current, count);
        return STORE_ERROR;
    }
    for (size_t v = (size_t)current; v < count; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu;", v + 1);
        if (exec_sql(s, "BEGIN IMMEDIATE") != STORE_OK)
            return STORE_ERROR;
        if (exec_sql(s, steps[v]) != STORE_OK || exec_sql(s, pragma) != STORE_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", s->errmsg);
            exec_sql(s, "ROLLBACK");
            snprintf(s->errmsg, sizeof s->errmsg, "migration to schema version %zu failed: %s", v + 1, why);
            return STORE_ERROR;
        }
        if (exec_sql(s, "COMMIT") != STORE_OK)
            return STORE_ERROR;
        log_info("Database migrated to schema version %zu.", v + 1);
    }
    return STORE_OK;
}

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

/* An existing file of 0 bytes is not a database SQLite would refuse: it would quietly become a new
 * one, with a new system administrator, hiding whatever emptied it (a failed restore, a truncating
 * copy, a full disk). Only a missing file is a first start. */
static int refuse_empty_file(const char *path, char *err, unsigned long errlen)
{
    struct stat st;

    if (strcmp(path, ":memory:") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 0)
        return 0;
    snprintf(err, errlen,
             "database %s is an empty file (0 bytes), not a database: refusing to start a new database in its "
             "place. Restore it from a backup, or remove it to start with a new database.",
             path);
    return -1;
}

/* Appends quick_check's text, one finding a line, to buf as "finding; finding", without the line
 * that only names the schema ("*** in database main ***"). */
static void append_findings(char *buf, size_t cap, size_t *len, const char *text)
{
    while (*text != '\0') {
        size_t n = strcspn(text, "\n");
        bool schema_line = n > 3 && strncmp(text, "***", 3) == 0;
        if (!schema_line && n > 0 && *len + 3 < cap)
            *len += (size_t)snprintf(buf + *len, cap - *len, "%s%.*s", *len > 0 ? "; " : "", (int)n, text);
        text += n;
        if (*text == '\n')
            text++;
    }
}

/* quick_check visits the pages in b-tree order, which on a cold page cache is a random read of the
 * whole file: 11 s for a 778 MB database on a disk that reads it in order in 1.5 s. So the file is
 * read once in order first (when it fits in half the free memory; a larger one would only push
 * itself out again), and the check then runs from memory: 2.1 s in all (docs/benchmarks.md). */
static void read_file_in_order(const char *path)
{
    enum { CHUNK = 1 << 20 };
    struct stat st;
    long free_pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && free_pages > 0 && page > 0 && st.st_size < (off_t)free_pages * page / 2) {
        char *buf = xcalloc(CHUNK, 1);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (read(fd, buf, CHUNK) > 0)
            ;
        free(buf);
    }
    close(fd);
}

/* PRAGMA quick_check: every page and b-tree of the file is well formed (it does not compare indexes
 * with their tables, as integrity_check does). Returns STORE_OK, or STORE_ERROR with SQLite's first
 * findings in s->errmsg. */
static int quick_check(struct store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int64_t t0 = clock_mono_ms();
    size_t len = 0;

    read_file_in_order(path);
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(5)", -1, &st, NULL);

    if (rc != SQLITE_OK) {
        store_rc(s, rc);
        return STORE_ERROR;
    }
    s->errmsg[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (text == NULL || strcmp(text, "ok") == 0)
            continue;
        append_findings(s->errmsg, sizeof s->errmsg, &len, text);
    }
    if (rc != SQLITE_DONE && s->errmsg[0] == '\0')
        store_rc(s, rc);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || s->errmsg[0] != '\0') {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the file is damaged (PRAGMA quick_check: %s). Restore it from a backup; to start on it anyway, "
                 "set database_check off",
                 why);
        return STORE_ERROR;
    }
    log_info("Database %s checked (PRAGMA quick_check) in %lld ms.", path, (long long)(clock_mono_ms() - t0));
    return STORE_OK;
}

struct store *store_open(const char *path, char *err, unsigned long errlen)
{
    return store_open_checked(path, false, err, errlen);
}

struct store *store_open_checked(const char *path, bool check, char *err, unsigned long errlen)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    if (refuse_empty_file(path, err, errlen) != 0)
        return NULL;
    struct store *s = xcalloc(1, sizeof *s);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             vfs_name);

    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    /* A group commit of a few hundred writes dirties more pages than SQLite's default 2 MB cache
     * holds, which made it spill pages to the WAL in the middle of the transaction. */
    if (exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                    " PRAGMA cache_size=-16384;") != STORE_OK ||
        (check && quick_check(s, path) != STORE_OK) || migrate(s) != STORE_OK) {
        snprintf(err, errlen, "database %s: %s", path, s->errmsg);
        store_close(s);
        return NULL;
    }
    return s;
}

struct store *store_open_reader(const char *path, char *err, unsigned long errlen)
{
    struct store *s = xcalloc(1, sizeof *s);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s for reading: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    sqlite3_extended_result_codes(s->db, 1);
    return s;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

/* Transaction control runs several times per request: prepared once, like every other statement
 * (sqlite3_exec would parse the text on every call). */
static int exec_cached(struct store *s, const char *sql) { return store_exec_stmt(s, store_stmt(s, sql)); }

static const char begin_sql[] = "BEGIN IMMEDIATE";
static const char begin_read_sql[] = "BEGIN DEFERRED";
static const char commit_sql[] = "COMMIT";
static const char rollback_sql[] = "ROLLBACK";
static const char savepoint_sql[] = "SAVEPOINT request";
static const char release_sql[] = "RELEASE request";
static const char rollback_to_sql[] = "ROLLBACK TO request";

static const char unsynced_sql[] = "PRAGMA synchronous=NORMAL";
static const char synced_sql[] = "PRAGMA synchronous=FULL";

/* SQLite refuses to change the safety level inside a transaction: set before, restored after. */
static int end_unsynced(struct store *s, int rc)
{
    if (!s->unsynced)
        return rc;
    s->unsynced = false;
    if (exec_cached(s, synced_sql) != STORE_OK)
        return STORE_ERROR;
    return rc;
}

int store_begin(struct store *s) { return exec_cached(s, begin_sql); }
int store_begin_read(struct store *s) { return exec_cached(s, begin_read_sql); }
int store_begin_unsynced(struct store *s)
{
    if (exec_cached(s, unsynced_sql) != STORE_OK)
        return STORE_ERROR;
    s->unsynced = true;
    int rc = exec_cached(s, begin_sql);
    return rc == STORE_OK ? rc : end_unsynced(s, rc);
}
int store_commit(struct store *s)
{
    int rc = exec_cached(s, commit_sql);
    return sqlite3_get_autocommit(s->db) ? end_unsynced(s, rc) : rc;
}
int store_rollback(struct store *s)
{
    int rc = STORE_OK;
    if (!sqlite3_get_autocommit(s->db)) /* else SQLite already rolled back (e.g. after SQLITE_FULL) */
        rc = exec_cached(s, rollback_sql);
    return end_unsynced(s, rc);
}
int store_savepoint(struct store *s) { return exec_cached(s, savepoint_sql); }
int store_savepoint_release(struct store *s) { return exec_cached(s, release_sql); }
int store_savepoint_rollback(struct store *s)
{
    if (exec_cached(s, rollback_to_sql) != STORE_OK)
        return STORE_ERROR;
    return exec_cached(s, release_sql);
}

bool store_in_transaction(struct store *s) { return !sqlite3_get_autocommit(s->db); }

int64_t store_changes(struct store *s) { return sqlite3_changes64(s->db); }

int store_query_plan(struct store *s, const char *sql, char *out, size_t len)
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
    rc = sqlite3_prepare_v2(s->db, explain, -1, &st, NULL);
    free(explain);
    if (rc != SQLITE_OK)
        return store_rc(s, rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(st, 3);
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "; " : "", detail ? (const char *)detail : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : store_rc(s, rc);
}
