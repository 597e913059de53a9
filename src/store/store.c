/* store.c: opening the database through its engine (sql_sqlite.c or sql_pg.c, chosen by the
 * database setting), migrations keyed by the schema version, transactions, the prepared-statement
 * cache and the row helpers every table file uses. Knows no engine's own API. */
#include "store_int.h"

#include "cmagent/log.h"
#include "cmagent/model.h"
#include "store_schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_errmsg(struct store *s) { return s->errmsg; }

sql_stmt *store_stmt(struct store *s, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) & (STMT_CACHE_SIZE - 1);
    for (size_t probe = 0; probe < STMT_CACHE_SIZE; probe++, h = (h + 1) & (STMT_CACHE_SIZE - 1)) {
        if (s->stmt_sql[h] == sql) {
            sql_reset(s->stmt[h]);
            return s->stmt[h];
        }
        if (s->stmt_sql[h] == NULL) {
            sql_stmt *st = s->eng->prepare(s, sql, true);
            if (st == NULL) {
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

sql_stmt *store_stmt_dialect(struct store *s, const char *sqlite_sql, const char *pg_sql)
{
    return store_stmt(s, s->eng->dialect == SQL_POSTGRES ? pg_sql : sqlite_sql);
}

int sql_prepare(struct store *s, const char *sql, sql_stmt **st)
{
    *st = s->eng->prepare(s, sql, false);
    return *st == NULL ? STORE_ERROR : STORE_OK;
}

int store_exec_stmt(struct store *s, sql_stmt *st)
{
    if (st == NULL)
        return STORE_ERROR;
    (void)s;
    int rc = sql_step(st);
    sql_reset(st);
    return (rc == SQL_DONE || rc == SQL_ROW) ? STORE_OK : rc;
}

int store_exec_changing(struct store *s, sql_stmt *st)
{
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK && store_changes(s) == 0)
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
 * text columns are measured; a number counts 8 bytes. */
static bool budget_take_row(struct store *s, sql_stmt *st)
{
    if (s->budget_limit == 0)
        return true;
    int64_t bytes = 0;
    int ncol = column_count(st);
    for (int i = 0; i < ncol; i++)
        bytes += BUDGET_PER_COLUMN + st->ops->column_bytes(st, i);
    if (bytes > s->budget_left) {
        s->budget_left = 0;
        snprintf(s->errmsg, sizeof s->errmsg, "the rows read exceed the read budget of %lld bytes",
                 (long long)s->budget_limit);
        return false;
    }
    s->budget_left -= bytes;
    return true;
}

int store_collect(struct store *s, sql_stmt *st, size_t row_size, store_row_reader read, const void *arg,
                  store_rows_freer free_rows, void **rows, size_t *n)
{
    size_t cap = 0, count = 0;
    char *out = NULL;
    int rc;

    *rows = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    while ((rc = sql_step(st)) == SQL_ROW) {
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
    if (rc != SQL_DONE) {
        int mapped = rc == SQL_ROW ? STORE_TOO_LARGE : rc;
        sql_reset(st);
        if (out != NULL)
            free_rows(out, count);
        return mapped;
    }
    sql_reset(st);
    *rows = out;
    *n = count;
    return STORE_OK;
}

void store_read_text(sql_stmt *st, void *row, const void *arg)
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

int store_get_one(struct store *s, sql_stmt *st, store_row_reader read, const void *arg, void *row)
{
    if (st == NULL)
        return STORE_ERROR;
    int rc = sql_step(st);
    if (rc == SQL_ROW && !budget_take_row(s, st)) {
        sql_reset(st);
        return STORE_TOO_LARGE;
    }
    if (rc == SQL_ROW) {
        read(st, row, arg);
        sql_reset(st);
        return STORE_OK;
    }
    sql_reset(st);
    return rc == SQL_DONE ? STORE_NOT_FOUND : rc;
}

void store_read_layout(sql_stmt *st, void *row, const void *layout)
{
    const struct store_row_layout *l = layout;
    int col = 0;
    memset(row, 0, l->size);
    for (size_t i = 0; i < l->n_ids; i++)
        column_id(st, col++, (char *)row + l->ids[i]);
    for (size_t i = 0; i < l->n_ints; i++)
        *(int64_t *)(void *)((char *)row + l->ints[i]) = column_int64(st, col++);
}

int store_query_true(struct store *s, sql_stmt *st, bool *out)
{
    int64_t n = 0;
    int rc = store_query_int(s, st, &n);
    *out = rc == STORE_OK && n != 0;
    return rc;
}

void store_column_contact(sql_stmt *st, int first, struct contact *k)
{
    char **fields[] = { &k->country, &k->state, &k->city, &k->address,
                        &k->address2, &k->zip, &k->phone, &k->email };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = column_text(st, first + (int)i);
}

void store_bind_contact(sql_stmt *st, int first, const struct contact *k)
{
    const char *fields[] = { k->country, k->state, k->city, k->address, k->address2, k->zip, k->phone, k->email };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        bind_text(st, first + (int)i, fields[i]);
}

int store_query_int(struct store *s, sql_stmt *st, int64_t *out)
{
    *out = 0;
    if (st == NULL)
        return STORE_ERROR;
    (void)s;
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        *out = column_int64(st, 0);
        sql_reset(st);
        return STORE_OK;
    }
    sql_reset(st);
    return rc == SQL_DONE ? STORE_NOT_FOUND : rc;
}

int store_row_count(struct store *s, const char *owner_id, const char *table, int64_t *count)
{
    static const char sql[] = "SELECT coalesce((SELECT n FROM row_count WHERE owner_id = ?1 AND kind = ?2), 0)";
    sql_stmt *st = store_stmt(s, sql);
    *count = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, owner_id);
    bind_text(st, 2, table);
    return store_query_int(s, st, count);
}

int store_row_count_add(struct store *s, const char *owner_id, const char *table)
{
    static const char create_sql[] =
        "INSERT INTO row_count(owner_id, kind, n) VALUES (?1, ?2, 0) ON CONFLICT DO NOTHING";
    static const char add_sql[] = "UPDATE row_count SET n = n + 1 WHERE owner_id = ?1 AND kind = ?2";
    const char *const steps[] = { create_sql, add_sql };

    if (owner_id == NULL || owner_id[0] == '\0')
        return STORE_OK;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sql_stmt *st = store_stmt(s, steps[i]);
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

char *column_text(sql_stmt *st, int i)
{
    const char *t = column_text_ref(st, i);
    return t == NULL ? NULL : xstrdup_or_null(t);
}

void column_id(sql_stmt *st, int i, char out[37])
{
    const char *t = column_text_ref(st, i);
    snprintf(out, 37, "%s", t == NULL ? "" : t);
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

int store_schema_version(struct store *s) { return s->eng->schema_version(s); }

static int migrate(struct store *s)
{
    int current = store_schema_version(s);
    size_t count = 0;
    const char *const *steps = store_schema_migrations(s->eng->dialect, &count);

    if (current < 0)
        return STORE_ERROR;
    if ((size_t)current > count) {
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the database has schema version %d, newer than this agent's %zu", current, count);
        return STORE_ERROR;
    }
    for (size_t v = (size_t)current; v < count; v++) {
        if (s->eng->migrate_step(s, steps[v], (int)v + 1) != STORE_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", s->errmsg);
            snprintf(s->errmsg, sizeof s->errmsg, "migration to schema version %zu failed: %s", v + 1, why);
            return STORE_ERROR;
        }
        log_info("Database migrated to schema version %zu.", v + 1);
    }
    return STORE_OK;
}

/* Opens a connection with the engine the database setting names. */
static struct store *open_engine(const char *database, bool reader, bool check, char *err, unsigned long errlen)
{
    struct store *s = xcalloc(1, sizeof *s);
    int rc = sql_is_postgres_uri(database) ? sql_pg_open(s, database, reader, err, errlen)
                                           : sql_sqlite_open(s, database, reader, check, err, errlen);
    if (rc != STORE_OK) {
        store_close(s);
        return NULL;
    }
    return s;
}

struct store *store_open(const char *path, char *err, unsigned long errlen)
{
    return store_open_checked(path, false, err, errlen);
}

const char *store_database_shown(const char *database, char *buf, size_t len)
{
    const char *scheme = strstr(database, "://");
    const char *at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme != NULL ? strchr(scheme + 3, ':') : NULL;
    if (!sql_is_postgres_uri(database) || at == NULL || colon == NULL || colon > at)
        snprintf(buf, len, "%s", database);
    else
        snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - database), database, at);
    return buf;
}

struct store *store_open_checked(const char *path, bool check, char *err, unsigned long errlen)
{
    struct store *s = open_engine(path, false, check, err, errlen);
    if (s != NULL && migrate(s) != STORE_OK) {
        char shown[512];
        snprintf(err, errlen, "database %s: %s", store_database_shown(path, shown, sizeof shown), s->errmsg);
        store_close(s);
        return NULL;
    }
    return s;
}

struct store *store_open_reader(const char *path, char *err, unsigned long errlen)
{
    return open_engine(path, true, false, err, errlen);
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < STMT_CACHE_SIZE; i++)
        sql_finalize(s->stmt[i]);
    if (s->eng != NULL)
        s->eng->close(s);
    free(s);
}

/* Savepoints run several times per request: prepared once, like every other statement. */
static int exec_cached(struct store *s, const char *sql) { return store_exec_stmt(s, store_stmt(s, sql)); }

static const char savepoint_sql[] = "SAVEPOINT request";
static const char release_sql[] = "RELEASE request";
static const char rollback_to_sql[] = "ROLLBACK TO request";

int store_begin(struct store *s) { return s->eng->begin(s, SQL_BEGIN_WRITE); }
int store_begin_read(struct store *s) { return s->eng->begin(s, SQL_BEGIN_READ); }
int store_begin_unsynced(struct store *s) { return s->eng->begin(s, SQL_BEGIN_UNSYNCED); }
int store_commit(struct store *s) { return s->eng->commit(s); }
int store_rollback(struct store *s) { return s->eng->rollback(s); }
int store_savepoint(struct store *s) { return exec_cached(s, savepoint_sql); }
int store_savepoint_release(struct store *s) { return exec_cached(s, release_sql); }
int store_savepoint_rollback(struct store *s)
{
    if (exec_cached(s, rollback_to_sql) != STORE_OK)
        return STORE_ERROR;
    return exec_cached(s, release_sql);
}

bool store_in_transaction(struct store *s) { return s->eng->in_transaction(s); }

int64_t store_changes(struct store *s) { return s->eng->changes(s); }

int store_query_plan(struct store *s, const char *sql, char *out, size_t len)
{
    return s->eng->query_plan(s, sql, out, len);
}
