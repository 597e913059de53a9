/* sql_pg.c: the PostgreSQL engine of the store's SQL layer (sql.h), through libpq: statements
 * prepared once per connection (named server-side statements) or run once (dynamic SQL), text
 * parameters and results, SQLSTATE mapped to STORE_* codes, transactions and the schema version
 * kept in a one-row table. In a transaction, a write runs in a savepoint of its own, and the
 * request's savepoint commands wait for the next statement: both go out with it in one round trip
 * (libpq's pipeline mode). The connection's life (opening, a loss, reopening: STORE_UNAVAILABLE
 * meanwhile) is sql_pg_conn.c's; a statement prepared on an older connection is prepared again. */
#include "sql_pg.h"
#include "store_int.h"

#include "cmagent/log.h"
#include "cmagent/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_OID 25 /* pg_type's text */

struct pg_stmt {
    struct sql_stmt base;
    char *sql; /* with $N placeholders */
    int nparams;
    Oid *types; /* text for a number the statement skips (PostgreSQL cannot type it), else 0 */
    char **values;
    bool persistent;
    bool guarded; /* a write: in a transaction it runs in a savepoint of its own */
    const char *deferrable; /* one of the request's savepoint commands: queued in a transaction */
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

/* Maps a failed result to STORE_*: a unique violation is STORE_DUPLICATE, a deadlock's victim or
 * a serialization failure STORE_RETRY, a lost connection or a server shutting down
 * STORE_UNAVAILABLE, anything else STORE_ERROR with PostgreSQL's message. */
static int result_error(struct store *s, const PGresult *res)
{
    struct pg_conn *c = conn_of(s);
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "23505") == 0) {
        pg_one_line(PQresultErrorMessage(res), s->errmsg, sizeof s->errmsg);
        return STORE_DUPLICATE;
    }
    if (state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)) {
        pg_one_line(PQresultErrorMessage(res), s->errmsg, sizeof s->errmsg);
        return STORE_RETRY;
    }
    if (pg_conn_failure(c, res))
        return pg_conn_lost(s, c->in_txn ? "the connection to the PostgreSQL server was lost during the transaction"
                                         : "the PostgreSQL server is unreachable");
    pg_one_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c->pg), s->errmsg, sizeof s->errmsg);
    return STORE_ERROR;
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

static int send_statement(struct pg_conn *c, const struct pg_stmt *st)
{
    const char *const *values = (const char *const *)st->values;
    return st->persistent ? PQsendQueryPrepared(c->pg, st->name, st->nparams, values, NULL, NULL, 0)
                          : PQsendQueryParams(c->pg, st->sql, st->nparams, st->types, values, NULL, NULL, 0);
}

static int send_simple(struct pg_conn *c, const char *sql)
{
    return PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* The request's savepoint commands (store.c's SAVEPOINT / RELEASE / ROLLBACK TO request) wait in
 * the connection's queue and go out in front of the next statement, in its round trip. A
 * SAVEPOINT released before any statement ran is dropped from the queue with its RELEASE. */
static const char *const request_savepoint_ops[] = { "SAVEPOINT request", "RELEASE request", "ROLLBACK TO request" };

static const char *deferrable_op(const char *sql)
{
    for (size_t i = 0; i < sizeof request_savepoint_ops / sizeof *request_savepoint_ops; i++)
        if (strcmp(sql, request_savepoint_ops[i]) == 0)
            return request_savepoint_ops[i];
    return NULL;
}

/* Reads a pipeline's results up to its sync point: each query's results end with a NULL, the
 * sync gives PGRES_PIPELINE_SYNC. Keeps the first result of each of the n queries in res (NULL
 * for one that gave none). Returns false when the connection failed before the sync (two NULLs
 * in a row: nothing more will come). */
static bool read_pipeline(struct pg_conn *c, PGresult **res, int n)
{
    int query = 0;
    bool after_null = false;
    for (int i = 0; i < n; i++)
        res[i] = NULL;
    for (;;) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            if (after_null || PQstatus(c->pg) == CONNECTION_BAD)
                return false;
            after_null = true;
            query++;
            continue;
        }
        after_null = false;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return true;
        }
        if (query < n && res[query] == NULL)
            res[query] = r;
        else
            PQclear(r);
    }
}

static bool command_ok(const PGresult *r) { return PQresultStatus(r) == PGRES_COMMAND_OK; }

static bool statement_ok(const PGresult *r)
{
    ExecStatusType status = PQresultStatus(r);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/* Which query of a pipeline is which (-1: not sent). */
struct pipeline {
    int n, savepoint, statement, release;
};

/* Sends the queued savepoint commands, then st (NULL: none), inside a SAVEPOINT / RELEASE
 * cm_statement pair of its own when guard, and a sync. Returns whether all of it was sent. */
static bool send_pipeline(struct pg_conn *c, struct pg_stmt *st, bool guard, struct pipeline *p)
{
    *p = (struct pipeline){ 0, -1, -1, -1 };
    bool sent = PQenterPipelineMode(c->pg) == 1;
    for (int i = 0; sent && i < c->nqueued; i++, p->n++)
        sent = send_simple(c, c->queued[i]) == 1;
    if (sent && guard) {
        sent = send_simple(c, "SAVEPOINT cm_statement") == 1;
        p->savepoint = p->n++;
    }
    if (sent && st != NULL) {
        sent = send_statement(c, st) == 1;
        p->statement = p->n++;
    }
    if (sent && guard) {
        sent = send_simple(c, "RELEASE cm_statement") == 1;
        p->release = p->n++;
    }
    return sent && PQpipelineSync(c->pg) == 1;
}

/* The first failure of a pipeline's results, in the order they ran (STORE_OK: none). A failed
 * guarded statement is rolled back to its savepoint (a second round trip); PostgreSQL skipped
 * the rest. */
static int pipeline_error(struct store *s, PGresult **res, const struct pipeline *p, int queued)
{
    for (int i = 0; i < queued; i++)
        if (!command_ok(res[i]))
            return result_error(s, res[i]);
    if (p->savepoint >= 0 && !command_ok(res[p->savepoint]))
        return result_error(s, res[p->savepoint]); /* no savepoint: nothing to roll back to */
    if (p->statement >= 0 && !statement_ok(res[p->statement])) {
        int rc = result_error(s, res[p->statement]);
        if (p->savepoint >= 0 && rc != STORE_UNAVAILABLE)
            simple(conn_of(s), "ROLLBACK TO cm_statement; RELEASE cm_statement");
        return rc;
    }
    if (p->release >= 0 && !command_ok(res[p->release]))
        return result_error(s, res[p->release]); /* the transaction is in error: its COMMIT fails */
    return STORE_OK;
}

#define MAX_QUEUED ((int)(sizeof ((struct pg_conn *)0)->queued / sizeof *((struct pg_conn *)0)->queued))
#define MAX_PIPELINE (MAX_QUEUED + 3)

/* The queued commands and st (NULL: the queue alone) in one round trip of libpq's pipeline mode,
 * st in a savepoint of its own when guard: a write in a transaction costs one round trip, not
 * three, and the request's savepoint commands cost none of their own. Sets *out to st's result
 * when it succeeded. Returns STORE_OK or the first failure. */
static int run_pipeline(struct store *s, struct pg_stmt *st, bool guard, PGresult **out)
{
    struct pg_conn *c = conn_of(s);
    PGresult *res[MAX_PIPELINE] = { NULL };
    struct pipeline p;
    int queued = c->nqueued;
    bool synced = send_pipeline(c, st, guard, &p) && read_pipeline(c, res, p.n);
    c->nqueued = 0;
    int rc;
    if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && (!synced || PQexitPipelineMode(c->pg) != 1))
        /* the transaction is lost with the session; the next connect (PQreset) leaves pipeline mode */
        rc = pg_conn_lost(s, "the connection to the PostgreSQL server was lost during the transaction");
    else
        rc = synced ? pipeline_error(s, res, &p, queued) : result_error(s, NULL);
    PGresult *kept = rc == STORE_OK && p.statement >= 0 ? res[p.statement] : NULL;
    for (int i = 0; i < MAX_PIPELINE; i++)
        if (res[i] != kept)
            PQclear(res[i]);
    *out = kept;
    return rc;
}

/* Queues one of the request's savepoint commands (see request_savepoint_ops). */
static int queue_command(struct store *s, const char *op)
{
    struct pg_conn *c = conn_of(s);
    PGresult *none = NULL;
    c->changes = 0;
    if (c->nqueued > 0 && op == request_savepoint_ops[1] && c->queued[c->nqueued - 1] == request_savepoint_ops[0]) {
        c->nqueued--; /* a savepoint nothing ran in */
        return SQL_DONE;
    }
    if (c->nqueued == MAX_QUEUED) {
        int rc = run_pipeline(s, NULL, false, &none);
        if (rc != STORE_OK)
            return rc;
    }
    c->queued[c->nqueued++] = op;
    return SQL_DONE;
}

/* Runs the statement once on the connection as it is: SQL_ROW, SQL_DONE or the error. */
static int execute(struct store *s, struct pg_stmt *st)
{
    struct pg_conn *c = conn_of(s);
    if (st->persistent && st->generation != c->generation) {
        int rc = prepare_on_server(s, st);
        if (rc != STORE_OK)
            return rc;
    }
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    /* in error, the queue may hold the ROLLBACK TO that ends it */
    bool guard = st->guarded && (t == PQTRANS_INTRANS || (t == PQTRANS_INERROR && c->nqueued > 0));
    PGresult *res;
    if (guard || c->nqueued > 0) {
        int rc = run_pipeline(s, st, guard, &res);
        if (rc != STORE_OK)
            return rc;
    } else {
        const char *const *values = (const char *const *)st->values;
        res = st->persistent ? PQexecPrepared(c->pg, st->name, st->nparams, values, NULL, NULL, 0)
                             : PQexecParams(c->pg, st->sql, st->nparams, st->types, values, NULL, NULL, 0);
        if (!statement_ok(res)) {
            int rc = result_error(s, res);
            PQclear(res);
            return rc;
        }
    }
    note_changes(c, res);
    st->res = res;
    st->row = 0;
    return PQntuples(res) > 0 ? SQL_ROW : SQL_DONE;
}

/* Sends what the queue holds (before a COMMIT decides on the transaction's state). */
static int flush_queue(struct store *s)
{
    PGresult *none = NULL;
    return conn_of(s)->nqueued > 0 ? run_pipeline(s, NULL, false, &none) : STORE_OK;
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
    int rc = pg_conn_ensure(s, false);
    if (rc != STORE_OK)
        return rc;
    if (st->deferrable != NULL && c->in_txn)
        return queue_command(s, st->deferrable);
    rc = execute(s, st);
    /* The first statement after the server restarted finds the old connection closed. Outside a
     * transaction one that writes nothing (a BEGIN among them) runs again on a new connection; a
     * write may have been applied, and one inside a transaction is lost with it. */
    if (rc == STORE_UNAVAILABLE && !c->in_txn && !st->guarded && pg_conn_ensure(s, true) == STORE_OK)
        rc = execute(s, st);
    return rc;
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
    st->deferrable = deferrable_op(sql);
    st->row = -1;
    if (persistent) {
        snprintf(st->name, sizeof st->name, "s%u", ++c->next_name);
        /* on a lost connection it is prepared by its first step, once the connection is back */
        int rc = c->lost ? STORE_UNAVAILABLE : prepare_on_server(s, st);
        if (rc != STORE_OK && rc != STORE_UNAVAILABLE) {
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
    struct pg_conn *c = conn_of(s);
    c->nqueued = 0;
    int rc = exec_cached(s, kind == SQL_BEGIN_READ ? begin_read_sql : begin_sql);
    if (rc != STORE_OK)
        return rc;
    c->in_txn = true;
    if (kind == SQL_BEGIN_UNSYNCED)
        rc = exec_cached(s, unsynced_sql);
    return rc;
}

static int pg_commit(struct store *s)
{
    struct pg_conn *c = conn_of(s);
    /* in error, the queue may hold the ROLLBACK TO that ends the error */
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR && flush_queue(s) == STORE_UNAVAILABLE) {
        c->in_txn = false;
        return STORE_UNAVAILABLE;
    }
    /* COMMIT of a transaction in error is a ROLLBACK that reports success: not one here. */
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        exec_cached(s, rollback_sql);
        c->in_txn = false;
        snprintf(s->errmsg, sizeof s->errmsg, "the transaction failed and was rolled back");
        return STORE_ERROR;
    }
    int rc = exec_cached(s, commit_sql);
    c->in_txn = false;
    if (rc == STORE_UNAVAILABLE)
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the connection to the PostgreSQL server was lost during COMMIT, so whether the transaction "
                 "was applied is unknown (a resend with the same id answers what it did): %s", c->reason);
    return rc;
}

static int pg_rollback(struct store *s)
{
    struct pg_conn *c = conn_of(s);
    bool was_in_txn = c->in_txn;
    c->in_txn = false;
    c->nqueued = 0; /* what they would have done, the ROLLBACK undoes */
    /* A transaction that vanished with its connection, which no statement has noticed yet */
    if (was_in_txn && PQstatus(c->pg) == CONNECTION_BAD)
        return pg_conn_lost(s, "the connection to the PostgreSQL server was lost during the transaction");
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

/* A session-level advisory lock: PostgreSQL releases it when the session ends, so an agent that
 * died or lost its connection is no longer the publisher, and another one's next try takes it. */
static int pg_publisher_lock(struct store *s, bool want, bool *held)
{
    struct pg_conn *c = conn_of(s);
    if (!c->in_txn)
        pg_conn_ensure(s, false);
    if (PQstatus(c->pg) == CONNECTION_BAD || c->publisher != c->generation)
        c->publisher = 0; /* lost with the session */
    *held = c->publisher != 0;
    if (want == *held || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return want == *held ? STORE_OK : STORE_ERROR;
    PGresult *res = PQexec(c->pg, want ? "SELECT pg_try_advisory_lock(7142015)" : "SELECT pg_advisory_unlock(7142015)");
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? STORE_OK : result_error(s, res);
    if (rc == STORE_OK && want && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        c->publisher = c->generation;
    else if (!want)
        c->publisher = 0;
    PQclear(res);
    *held = c->publisher != 0;
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
    .publisher_lock = pg_publisher_lock,
    .close = pg_close,
};

int sql_pg_open(struct store *s, const char *uri, bool reader, char *err, size_t errlen)
{
    struct pg_conn *c = xcalloc(1, sizeof *c);
    s->eng = &pg_engine;
    s->conn = c;
    c->generation = 1;
    c->reader = reader;
    if (pg_conn_open(s, c, uri) != STORE_OK) {
        snprintf(err, errlen, "cannot connect to the PostgreSQL database%s: %s", reader ? " for reading" : "",
                 s->errmsg);
        return STORE_ERROR;
    }
    return STORE_OK;
}
