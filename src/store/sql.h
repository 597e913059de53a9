/* sql.h: the store's SQL engine layer: one interface to prepare, bind, step and read statements and
 * to run transactions, with an engine behind it (sql_sqlite.c: a file path; sql_pg.c: a
 * postgresql:// URI). The table files (store_*.c) use only this and store_int.h, never an engine's
 * own API. Statements are written with ? or ?N placeholders; the PostgreSQL engine rewrites them
 * to $N. Never included outside src/store/. */
#ifndef CMAGENT_STORE_SQL_H
#define CMAGENT_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* What sql_step returns besides the STORE_* error codes (which are all smaller). */
enum { SQL_ROW = 100, SQL_DONE = 101 };

/* Which SQL an engine speaks, for the few statements written twice (store_stmt_dialect). */
enum sql_dialect { SQL_SQLITE, SQL_POSTGRES };

typedef struct sql_stmt sql_stmt;

/* A statement's operations, one table per engine. */
struct sql_stmt_ops {
    int (*step)(sql_stmt *st); /* SQL_ROW, SQL_DONE or a STORE_* error (the store's errmsg set) */
    void (*reset)(sql_stmt *st); /* back to before the first step, bindings cleared */
    void (*finalize)(sql_stmt *st);
    void (*bind_text)(sql_stmt *st, int i, const char *v); /* NULL binds SQL NULL */
    void (*bind_int64)(sql_stmt *st, int i, int64_t v);
    int (*column_count)(sql_stmt *st);
    bool (*column_null)(sql_stmt *st, int i);
    const char *(*column_text)(sql_stmt *st, int i); /* valid until the next step or reset */
    int64_t (*column_int64)(sql_stmt *st, int i);
    int (*column_bytes)(sql_stmt *st, int i); /* a text column's length; 8 for a number */
};

/* Every engine's statement starts with this. */
struct sql_stmt {
    const struct sql_stmt_ops *ops;
    struct store *s;
};

/* Transaction kinds of sql_engine.begin. */
enum sql_begin { SQL_BEGIN_WRITE, SQL_BEGIN_READ, SQL_BEGIN_UNSYNCED };

/* A connection's operations, one table per engine. */
struct sql_engine {
    const char *name;
    enum sql_dialect dialect;
    /* A new statement for sql (persistent: it is cached for the connection's life); NULL on an
     * error, with errmsg set. */
    sql_stmt *(*prepare)(struct store *s, const char *sql, bool persistent);
    int (*exec)(struct store *s, const char *script); /* statements without parameters */
    int64_t (*changes)(struct store *s);               /* rows changed by the last statement */
    bool (*in_transaction)(struct store *s);
    int (*begin)(struct store *s, enum sql_begin kind);
    int (*commit)(struct store *s);
    int (*rollback)(struct store *s);
    int (*schema_version)(struct store *s); /* -1 on an error */
    int (*migrate_step)(struct store *s, const char *script, int version); /* in its own transaction */
    int (*query_plan)(struct store *s, const char *sql, char *out, size_t len);
    /* Takes (want) or gives up the database's publisher lock for this connection, between
     * transactions; *held says whether the connection holds it after the call (store.h). */
    int (*publisher_lock)(struct store *s, bool want, bool *held);
    void (*close)(struct store *s);
};

/* The engines' openers: fill s->eng and s->conn, or return STORE_ERROR with the reason in err. */
int sql_sqlite_open(struct store *s, const char *path, bool reader, bool check, char *err, size_t errlen);
int sql_pg_open(struct store *s, const char *uri, bool reader, char *err, size_t errlen);
/* Whether a database setting names a PostgreSQL database. */
bool sql_is_postgres_uri(const char *database);

/* Steps, resets and frees a statement (NULL-safe where an error left none). */
static inline int sql_step(sql_stmt *st) { return st->ops->step(st); }
static inline void sql_reset(sql_stmt *st) { st->ops->reset(st); }
static inline void sql_finalize(sql_stmt *st)
{
    if (st != NULL)
        st->ops->finalize(st);
}

/* Binding (parameters count from 1) and reading (columns count from 0). */
static inline void bind_text(sql_stmt *st, int i, const char *v) { st->ops->bind_text(st, i, v); }
static inline void bind_int64(sql_stmt *st, int i, int64_t v) { st->ops->bind_int64(st, i, v); }
static inline void bind_int(sql_stmt *st, int i, int v) { st->ops->bind_int64(st, i, v); }
static inline void bind_null(sql_stmt *st, int i) { st->ops->bind_text(st, i, NULL); }
static inline void bind_id(sql_stmt *st, int i, const char *id) /* "" binds SQL NULL */
{
    st->ops->bind_text(st, i, (id == NULL || id[0] == '\0') ? NULL : id);
}
static inline int column_count(sql_stmt *st) { return st->ops->column_count(st); }
static inline bool column_null(sql_stmt *st, int i) { return st->ops->column_null(st, i); }
static inline const char *column_text_ref(sql_stmt *st, int i) { return st->ops->column_text(st, i); }
static inline int64_t column_int64(sql_stmt *st, int i) { return st->ops->column_int64(st, i); }
static inline int column_int(sql_stmt *st, int i) { return (int)st->ops->column_int64(st, i); }
char *column_text(sql_stmt *st, int i);            /* heap copy, NULL for SQL NULL */
void column_id(sql_stmt *st, int i, char out[37]); /* "" for SQL NULL */

/* An uncached statement for SQL built at run time: STORE_OK with *st, or the error. Free it with
 * sql_finalize. */
int sql_prepare(struct store *s, const char *sql, sql_stmt **st);

/* Rewrites ? and ?N placeholders to $N outside quotes (the PostgreSQL engine). Heap copy. */
char *sql_numbered_params(const char *sql);

#endif
