/* store_int.h: what the store's own files share: the handle (an engine and its connection), the
 * statement cache and the row helpers over sql.h. Never included outside src/store/. */
#ifndef CMAGENT_STORE_INT_H
#define CMAGENT_STORE_INT_H

#include "cmagent/store.h"

#include "sql.h"

#include <stdbool.h>

#define STMT_CACHE_SIZE 256 /* a power of two larger than the number of distinct statements */

struct store {
    const struct sql_engine *eng;
    void *conn; /* the engine's connection */
    /* Prepared statements, keyed by the address of their static SQL text. */
    const char *stmt_sql[STMT_CACHE_SIZE];
    sql_stmt *stmt[STMT_CACHE_SIZE];
    char errmsg[512];
    bool unavailable; /* store_unavailable(): the engine sets it when the server cannot be reached */
    int64_t budget_limit; /* store_budget_set: 0 when no budget is set */
    int64_t budget_left;  /* bytes of rows still allowed */
    bool reader;          /* store_open_reader's: its transactions are read-only */
};

/* Returns the cached, reset statement for sql (a string literal with static storage), preparing
 * it on first use; NULL on a prepare error (errmsg set). The statement stays owned by the cache. */
sql_stmt *store_stmt(struct store *s, const char *sql);
/* store_stmt of the variant the engine speaks, for the few statements whose SQL differs. */
sql_stmt *store_stmt_dialect(struct store *s, const char *sqlite_sql, const char *pg_sql);
/* A read of a row that the transaction goes on to change from what it read (credentials, a
 * two-factor account or challenge): on a PostgreSQL writer's connection the variant ending in FOR
 * UPDATE, so that agents sharing the database change the row one after the other, each from what
 * the one before committed (SQLite's write transaction holds the whole file; readers lock nothing).
 * Both texts are string literals, the second the first with " FOR UPDATE" (STORE_FOR_UPDATE) or
 * another locking clause. */
sql_stmt *store_stmt_for_update(struct store *s, const char *sql, const char *sql_for_update);
#define STORE_FOR_UPDATE(sql) sql " FOR UPDATE"
/* The two arguments sql, sql_for_update of a read that may lock (store_stmt_for_update's pair). */
#define STORE_SQL_AND_FOR_UPDATE(sql) sql, STORE_FOR_UPDATE(sql)
/* The variant for a row a write only refers to (the customer an entity or user is given to): it
 * cannot be deleted before the write's commit, and a write after the delete's commit finds it gone. */
#define STORE_FOR_KEY_SHARE(sql) sql " FOR KEY SHARE"

/* Steps a statement that returns no rows and resets it. Returns STORE_OK/DUPLICATE/ERROR. */
int store_exec_stmt(struct store *s, sql_stmt *st);

/* Steps a write statement that must change a row and resets it: STORE_NOT_FOUND when it changed
 * none (an UPDATE or DELETE by id of a row that is not there). */
int store_exec_changing(struct store *s, sql_stmt *st);

/* A table's row reader fills one element of an array (zeroed first by the caller) from the current
 * row of st; arg is the reader's own (e.g. which table the row came from). */
typedef void (*store_row_reader)(sql_stmt *st, void *row, const void *arg);
/* Frees the first n elements of a row array, then the array (a table's *_free function). */
typedef void (*store_rows_freer)(void *rows, size_t n);

/* Steps st to its end, reading every row with read into a growing array of row_size elements, and
 * resets st. STORE_OK with the array in *rows (NULL when there was no row) and its length in *n;
 * on an error, what was read is freed with free_rows and *rows is NULL. */
int store_collect(struct store *s, sql_stmt *st, size_t row_size, store_row_reader read, const void *arg,
                  store_rows_freer free_rows, void **rows, size_t *n);

/* A row reader for a statement whose only column is text: a heap copy into a char * element, and
 * the freer of such arrays. */
void store_read_text(sql_stmt *st, void *row, const void *arg);
void store_texts_free(void *rows, size_t n);

/* Steps st once and resets it: STORE_OK with the row read into *row, STORE_NOT_FOUND
 * when there is no row, or the error. */
int store_get_one(struct store *s, sql_stmt *st, store_row_reader read, const void *arg, void *row);

/* Runs a statement that returns one integer (e.g. COUNT). */
int store_query_int(struct store *s, sql_stmt *st, int64_t *out);

/* The kept count of owner_id's rows of a table (row_count, migration 6): a tenant's rows, or the
 * rows assigned to a customer. 0 when none. */
int store_row_count(struct store *s, const char *owner_id, const char *table, int64_t *count);
/* Counts a row just inserted into table for owner_id (nothing for an empty or NULL owner). Every
 * INSERT into a counted table calls it in the same transaction; deletes and changes of owner are
 * counted by triggers. */
int store_row_count_add(struct store *s, const char *owner_id, const char *table);

/* Where a row reader of a small fixed row (a job's row) puts each column: first the id columns
 * (UUID text into char[UUID_STR_LEN] members), then the integer columns (int64_t members), at these
 * offsets of a row of size bytes (zeroed first). store_read_layout is a store_row_reader whose arg
 * is the layout. */
struct store_row_layout {
    size_t size;
    size_t n_ids, ids[2];
    size_t n_ints, ints[2];
};
void store_read_layout(sql_stmt *st, void *row, const void *layout);

/* Runs a statement that returns one integer and says whether it was non-zero (an EXISTS). */
int store_query_true(struct store *s, sql_stmt *st, bool *out);

struct contact;
/* The 8 contact columns (country, state, city, address, address2, zip, phone, email) that tenants
 * and customers share, read from column first on (heap copies) or bound from parameter first on. */
void store_column_contact(sql_stmt *st, int first, struct contact *k);
void store_bind_contact(sql_stmt *st, int first, const struct contact *k);

/* store_stmt(sql) with ?1 bound to text and ?2 to n, the shape of the job tables' writes (an id and a
 * count or a time); NULL on a prepare error. */
static inline sql_stmt *store_stmt_text_int(struct store *s, const char *sql, const char *text, int64_t n)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st != NULL) {
        bind_text(st, 1, text);
        bind_int64(st, 2, n);
    }
    return st;
}

/* Registers the VFS that gathers the write-ahead log's writes (store_walbuf.c); returns its name,
 * or NULL when it could not (the default VFS is used then). */
const char *store_walbuf_register(void);

/* Escapes LIKE's wildcards in s with '\' for "... LIKE '%' || ? || '%' ESCAPE '\'". Heap copy. */
char *like_escape(const char *s);

#endif
