/* sql_pg.c: the PostgreSQL engine of the store's SQL layer (sql.h), through libpq: a connection
 * to a postgresql:// URI, statements prepared once per connection (named server-side statements)
 * or run once (dynamic SQL), text parameters and results, SQLSTATE mapped to STORE_* codes,
 * transactions and the schema version kept in a one-row table. A lost connection is reopened
 * between transactions, and the statements are prepared again on the new one. */
#include "store_int.h"

#include "cmagent/log.h"
#include "cmagent/model.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_OID 25 /* pg_type's text */

struct pg_conn {
    PGconn *pg;
    int64_t changes;     /* rows the last statement changed */
    unsigned generation; /* counts reconnections: a statement prepared on an older one is re-prepared */
    unsigned next_name;
};

struct pg_stmt {
    struct sql_stmt base;
    char *sql; /* with $N placeholders */
    int nparams;
    Oid *types; /* text for a number the statement skips (PostgreSQL cannot type it), else 0 */
    char **values;
    bool persistent;
    bool guarded; /* a write: in a transaction it runs in a savepoint of its own */
    char name[24];
    unsigned generation; /* of the connection it was prepared on; 0: not prepared */
    PGresult *res;
    int row; /* the current row of res */
};

static struct pg_conn *conn_of(struct store *s) { return s->conn; }
static struct pg_stmt *pg_st(sql_stmt *st) { return (struct pg_stmt *)st; }

bool sql_is_postgres_uri(const char *database)
{
    return database != NULL &&
           (strncmp(database, "postgresql://", 13) == 0 || strncmp(database, "postgres://", 11) == 0);
}

/* A message of libpq's without its trailing newline. */
static void set_error(struct store *s, const char *prefix, const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(s->errmsg, sizeof s->errmsg, "%s%.*s", prefix, (int)n, msg);
}

/* Maps a failed result to STORE_*: a unique violation is STORE_DUPLICATE, anything else
 * STORE_ERROR with PostgreSQL's message. */
static int result_error(struct store *s, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "23505") == 0) {
        set_error(s, "", PQresultErrorMessage(res));
        return STORE_DUPLICATE;
    }
    if (PQstatus(conn_of(s)->pg) == CONNECTION_BAD) {
        set_error(s, "the PostgreSQL server is unreachable: ", PQerrorMessage(conn_of(s)->pg));
        return STORE_ERROR;
    }
    set_error(s, "", res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn_of(s)->pg));
    return STORE_ERROR;
}

/* Reopens a lost connection when no transaction was open on it (one that was is lost with it:
 * the caller's error stands). */
static void reconnect_if_lost(struct store *s)
{
    struct pg_conn *c = conn_of(s);
    if (PQstatus(c->pg) != CONNECTION_BAD)
        return;
    PQreset(c->pg);
    if (PQstatus(c->pg) == CONNECTION_OK) {
        c->generation++;
        log_info("Reconnected to PostgreSQL.");
    }
}

/* Counts the rows a command changed, from its tag ("UPDATE 3"). */
static void note_changes(struct pg_conn *c, PGresult *res)
{
    const char *n = PQcmdTuples(res);
    c->changes = (n != NULL && n[0] != '\0') ? strtoll(n, NULL, 10) : 0;
}

/* ---- placeholders ---- */

/* Whether c, the next character of a statement, is part of a quoted string or name (its quotes
 * included); *quote is the open quote character, 0 outside quotes. */
static bool in_quotes(char *quote, char c)
{
    if (*quote != 0) {
        if (c == *quote)
            *quote = 0;
        return true;
    }
    if (c == '\'' || c == '"') {
        *quote = c;
        return true;
    }
    return false;
}

char *sql_numbered_params(const char *sql)
{
    size_t n = strlen(sql);
    char *out = xcalloc(3 * n + 1, 1), *o = out;
    int highest = 0;
    char quote = 0;

    for (const char *p = sql; *p != '\0'; p++) {
        if (in_quotes(&quote, *p)) {
            *o++ = *p;
        } else if (*p == '?') {
            int num = 0;
            while (p[1] >= '0' && p[1] <= '9')
                num = num * 10 + (*++p - '0');
            if (num == 0)
                num = highest + 1;
            if (num > highest)
                highest = num;
            o += sprintf(o, "$%d", num);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* The number of the highest $N of a rewritten statement; used[N - 1] (up to max) says which
 * appear in it. */
static int count_params(const char *sql, bool *used, int max)
{
    int highest = 0;
    char quote = 0;
    for (const char *p = sql; *p != '\0'; p++) {
        if (in_quotes(&quote, *p))
            continue;
        if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            int num = (int)strtol(p + 1, NULL, 10);
            if (num > highest)
                highest = num;
            if (used != NULL && num <= max)
                used[num - 1] = true;
        }
    }
    return highest;
}

/* Words (outside quotes) whose meaning differs, and PostgreSQL's for SQLite's: SQLite's LIKE
 * ignores ASCII case, as ILIKE does; SQLite sorts NULL first ascending and last descending,
 * PostgreSQL the other way round unless told. So the table files write each statement once. */
static const struct {
    const char *from, *to;
} dialect_words[] = {
    { " LIKE ", " ILIKE " },
    { " ASC,", " ASC NULLS FIRST," },
    { " DESC,", " DESC NULLS LAST," },
    { " ASC ", " ASC NULLS FIRST " },
    { " DESC ", " DESC NULLS LAST " },
};
#define DIALECT_WORDS (sizeof dialect_words / sizeof dialect_words[0])

static char *dialect_rewrite(char *sql)
{
    size_t n = strlen(sql);
    char *out = xcalloc(4 * n + 16, 1), *o = out;
    char quote = 0;
    /* A trailing ASC or DESC (the end of an ORDER BY) counts as followed by a space. */
    char *src = xcalloc(n + 2, 1);
    memcpy(src, sql, n);
    src[n] = ' ';
    free(sql);
    for (const char *p = src; *p != '\0'; p++) {
        if (!in_quotes(&quote, *p)) {
            size_t w = 0;
            while (w < DIALECT_WORDS && strncmp(p, dialect_words[w].from, strlen(dialect_words[w].from)) != 0)
                w++;
            if (w < DIALECT_WORDS) {
                size_t from = strlen(dialect_words[w].from), to = strlen(dialect_words[w].to);
                memcpy(o, dialect_words[w].to, to);
                o += to - 1; /* the last character is written by the next round: it may start a word */
                p += from - 2;
                continue;
            }
        }
        *o++ = *p;
    }
    *o = '\0';
    free(src);
    return out;
}

/* ---- statements ---- */

static void clear_result(struct pg_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
}

static int prepare_on_server(struct store *s, struct pg_stmt *st)
{
    struct pg_conn *c = conn_of(s);
    PGresult *res = PQprepare(c->pg, st->name, st->sql, st->nparams, st->types);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : result_error(s, res);
    PQclear(res);
    if (rc == STORE_OK)
        st->generation = c->generation;
    return rc;
}

/* Runs a statement without parameters or rows (savepoints). */
static int simple(struct pg_conn *c, const char *sql)
{
    PGresult *res = PQexec(c->pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : STORE_ERROR;
    PQclear(res);
    return rc;
}

/* A failed statement of PostgreSQL's aborts the whole transaction; SQLite's undoes only itself,
 * and the rules rely on that (a duplicate name is found out by the INSERT, then the request reads
 * on to say which name). So a write runs in a savepoint of its own when a transaction is open. */
static bool is_write(const char *sql)
{
    while (*sql == ' ')
        sql++;
    return strncmp(sql, "INSERT", 6) == 0 || strncmp(sql, "UPDATE", 6) == 0 || strncmp(sql, "DELETE", 6) == 0;
}

static int pg_step(sql_stmt *base)
{
    struct pg_stmt *st = pg_st(base);
    struct store *s = base->s;
    struct pg_conn *c = conn_of(s);

    if (st->res != NULL) {
        if (++st->row < PQntuples(st->res))
            return SQL_ROW;
        return SQL_DONE;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD && PQtransactionStatus(c->pg) != PQTRANS_INTRANS)
        reconnect_if_lost(s);
    if (st->persistent && st->generation != c->generation && prepare_on_server(s, st) != STORE_OK)
        return STORE_ERROR;
    bool guard = st->guarded && PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
    if (guard && simple(c, "SAVEPOINT cm_statement") != STORE_OK)
        return result_error(s, NULL);
    const char *const *values = (const char *const *)st->values;
    PGresult *res = st->persistent ? PQexecPrepared(c->pg, st->name, st->nparams, values, NULL, NULL, 0)
                                   : PQexecParams(c->pg, st->sql, st->nparams, st->types, values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        int rc = result_error(s, res);
        PQclear(res);
        if (guard)
            simple(c, "ROLLBACK TO cm_statement; RELEASE cm_statement");
        return rc;
    }
    if (guard)
        simple(c, "RELEASE cm_statement");
    note_changes(c, res);
    st->res = res;
    st->row = 0;
    return PQntuples(res) > 0 ? SQL_ROW : SQL_DONE;
}

static void pg_reset(sql_stmt *base)
{
    struct pg_stmt *st = pg_st(base);
    clear_result(st);
    for (int i = 0; i < st->nparams; i++) {
        free(st->values[i]);
        st->values[i] = NULL;
    }
}

static void pg_finalize(sql_stmt *base)
{
    struct pg_stmt *st = pg_st(base);
    pg_reset(base);
    free(st->values);
    free(st->types);
    free(st->sql);
    free(st);
}

static void pg_bind_text(sql_stmt *base, int i, const char *v)
{
    struct pg_stmt *st = pg_st(base);
    if (i < 1 || i > st->nparams)
        return;
    free(st->values[i - 1]);
    st->values[i - 1] = v != NULL ? xstrdup_or_null(v) : NULL;
}

static void pg_bind_int64(sql_stmt *base, int i, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    pg_bind_text(base, i, text);
}

static bool in_row(struct pg_stmt *st, int i)
{
    return st->res != NULL && st->row >= 0 && st->row < PQntuples(st->res) && i >= 0 && i < PQnfields(st->res);
}

static int pg_column_count(sql_stmt *base)
{
    struct pg_stmt *st = pg_st(base);
    return st->res != NULL ? PQnfields(st->res) : 0;
}

static bool pg_column_null(sql_stmt *base, int i)
{
    struct pg_stmt *st = pg_st(base);
    return !in_row(st, i) || PQgetisnull(st->res, st->row, i);
}

static const char *pg_column_text(sql_stmt *base, int i)
{
    struct pg_stmt *st = pg_st(base);
    return pg_column_null(base, i) ? NULL : PQgetvalue(st->res, st->row, i);
}

/* Numbers come as text; a boolean as "t" or "f". */
static int64_t pg_column_int64(sql_stmt *base, int i)
{
    const char *t = pg_column_text(base, i);
    if (t == NULL)
        return 0;
    if (t[0] == 't')
        return 1;
    return strtoll(t, NULL, 10);
}

static int pg_column_bytes(sql_stmt *base, int i)
{
    struct pg_stmt *st = pg_st(base);
    return pg_column_null(base, i) ? 0 : PQgetlength(st->res, st->row, i);
}

static const struct sql_stmt_ops pg_stmt_ops = {
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .column_count = pg_column_count,
    .column_null = pg_column_null,
    .column_text = pg_column_text,
    .column_int64 = pg_column_int64,
    .column_bytes = pg_column_bytes,
};

static sql_stmt *pg_prepare(struct store *s, const char *sql, bool persistent)
{
    struct pg_conn *c = conn_of(s);
    struct pg_stmt *st = xcalloc(1, sizeof *st);

    st->base.ops = &pg_stmt_ops;
    st->base.s = s;
    st->sql = dialect_rewrite(sql_numbered_params(sql));
    st->nparams = count_params(st->sql, NULL, 0);
    st->values = xcalloc((size_t)st->nparams + 1, sizeof *st->values);
    st->types = xcalloc((size_t)st->nparams + 1, sizeof *st->types);
    bool *used = xcalloc((size_t)st->nparams + 1, sizeof *used);
    count_params(st->sql, used, st->nparams);
    for (int i = 0; i < st->nparams; i++)
        st->types[i] = used[i] ? 0 : TEXT_OID;
    free(used);
    st->persistent = persistent;
    st->guarded = is_write(st->sql);
    st->row = -1;
    if (persistent) {
        snprintf(st->name, sizeof st->name, "s%u", ++c->next_name);
        if (prepare_on_server(s, st) != STORE_OK) {
            pg_finalize(&st->base);
            return NULL;
        }
    }
    return &st->base;
}

/* ---- the connection ---- */

static int pg_exec(struct store *s, const char *script)
{
    struct pg_conn *c = conn_of(s);
    PGresult *res = PQexec(c->pg, script);
    ExecStatusType status = PQresultStatus(res);
    int rc = (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) ? STORE_OK : result_error(s, res);
    if (rc == STORE_OK)
        note_changes(c, res);
    PQclear(res);
    return rc;
}

static int64_t pg_changes(struct store *s) { return conn_of(s)->changes; }

static bool pg_in_transaction(struct store *s)
{
    PGTransactionStatusType t = PQtransactionStatus(conn_of(s)->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int exec_cached(struct store *s, const char *sql) { return store_exec_stmt(s, store_stmt(s, sql)); }

static const char begin_sql[] = "BEGIN";
static const char begin_read_sql[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char unsynced_sql[] = "SET LOCAL synchronous_commit = off";
static const char commit_sql[] = "COMMIT";
static const char rollback_sql[] = "ROLLBACK";

static int pg_begin(struct store *s, enum sql_begin kind)
{
    if (PQtransactionStatus(conn_of(s)->pg) == PQTRANS_UNKNOWN)
        reconnect_if_lost(s);
    if (kind == SQL_BEGIN_READ)
        return exec_cached(s, begin_read_sql);
    int rc = exec_cached(s, begin_sql);
    if (rc == STORE_OK && kind == SQL_BEGIN_UNSYNCED)
        rc = exec_cached(s, unsynced_sql);
    return rc;
}

static int pg_commit(struct store *s)
{
    /* COMMIT of a transaction in error is a ROLLBACK that reports success: not one here. */
    if (PQtransactionStatus(conn_of(s)->pg) == PQTRANS_INERROR) {
        exec_cached(s, rollback_sql);
        snprintf(s->errmsg, sizeof s->errmsg, "the transaction failed and was rolled back");
        return STORE_ERROR;
    }
    return exec_cached(s, commit_sql);
}

static int pg_rollback(struct store *s)
{
    if (!pg_in_transaction(s))
        return STORE_OK;
    return exec_cached(s, rollback_sql);
}

static int pg_schema_version(struct store *s)
{
    if (pg_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                   " INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)") !=
        STORE_OK)
        return -1;
    PGresult *res = PQexec(conn_of(s)->pg, "SELECT version FROM schema_version");
    int v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    else
        result_error(s, res);
    PQclear(res);
    return v;
}

/* Several agents may start at once on one database: an advisory lock makes them migrate one at a
 * time, and a step another one has run already is skipped. */
static int pg_migrate_step(struct store *s, const char *script, int version)
{
    char sql[128];
    if (pg_exec(s, "BEGIN; SELECT pg_advisory_xact_lock(7142014)") != STORE_OK)
        return STORE_ERROR;
    PGresult *res = PQexec(conn_of(s)->pg, "SELECT version FROM schema_version");
    int current = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                      ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10)
                      : -1;
    PQclear(res);
    if (current >= version)
        return pg_exec(s, "COMMIT");
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", version);
    if (current != version - 1 || pg_exec(s, script) != STORE_OK || pg_exec(s, sql) != STORE_OK) {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", current != version - 1 ? "the schema version changed meanwhile" : s->errmsg);
        pg_exec(s, "ROLLBACK");
        snprintf(s->errmsg, sizeof s->errmsg, "%s", why);
        return STORE_ERROR;
    }
    return pg_exec(s, "COMMIT");
}

static int pg_query_plan(struct store *s, const char *sql, char *out, size_t len)
{
    if (len == 0)
        return STORE_ERROR;
    out[0] = '\0';
    char *numbered = sql_numbered_params(sql);
    size_t n = strlen(numbered) + sizeof "EXPLAIN ";
    char *explain = xcalloc(n, 1);
    snprintf(explain, n, "EXPLAIN %s", numbered);
    free(numbered);
    PGresult *res = PQexec(conn_of(s)->pg, explain);
    free(explain);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? STORE_OK : result_error(s, res);
    for (int i = 0; rc == STORE_OK && i < PQntuples(res); i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "; " : "", PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return rc;
}

static void pg_close(struct store *s)
{
    struct pg_conn *c = conn_of(s);
    if (c == NULL)
        return;
    PQfinish(c->pg);
    free(c);
    s->conn = NULL;
}

static const struct sql_engine pg_engine = {
    .name = "postgresql",
    .dialect = SQL_POSTGRES,
    .prepare = pg_prepare,
    .exec = pg_exec,
    .changes = pg_changes,
    .in_transaction = pg_in_transaction,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .schema_version = pg_schema_version,
    .migrate_step = pg_migrate_step,
    .query_plan = pg_query_plan,
    .close = pg_close,
};

/* Notices (e.g. "relation already exists, skipping") are not the agent's log's business. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int sql_pg_open(struct store *s, const char *uri, bool reader, char *err, size_t errlen)
{
    struct pg_conn *c = xcalloc(1, sizeof *c);
    s->eng = &pg_engine;
    s->conn = c;
    c->pg = PQconnectdb(uri);
    c->generation = 1;
    if (PQstatus(c->pg) != CONNECTION_OK) {
        set_error(s, "", PQerrorMessage(c->pg));
        snprintf(err, errlen, "cannot connect to the PostgreSQL database%s: %s", reader ? " for reading" : "",
                 s->errmsg);
        return STORE_ERROR;
    }
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    if (pg_exec(s, "SET client_min_messages = warning; SET TIME ZONE 'UTC'") != STORE_OK) {
        snprintf(err, errlen, "PostgreSQL database: %s", s->errmsg);
        return STORE_ERROR;
    }
    return STORE_OK;
}
