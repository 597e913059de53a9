/* store_idem.c: SQL of the idempotency table. */
#include "cmagent/store_idem.h"

#include "store_int.h"

#include <stdlib.h>

int store_idem_get(struct store *s, const char *principal, const char *request_id, int64_t since, char **op,
                   char **reply)
{
    static const char sql[] =
        "SELECT op, reply FROM idempotency WHERE principal = ? AND request_id = ? AND created_time >= ?";
    sql_stmt *st = store_stmt(s, sql);
    int rc, out;

    *op = NULL;
    *reply = NULL;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, principal);
    bind_text(st, 2, request_id);
    bind_int64(st, 3, since);
    rc = sql_step(st);
    if (rc == SQL_ROW) {
        *op = column_text(st, 0);
        *reply = column_text(st, 1);
        out = STORE_OK;
    } else {
        out = rc == SQL_DONE ? STORE_NOT_FOUND : rc;
    }
    sql_reset(st);
    return out;
}

/* The statement sql with a row's first four columns bound (principal, request id, op, time). */
static sql_stmt *idem_row_stmt(struct store *s, const char *sql, const char *principal, const char *request_id,
                               const char *op, int64_t created)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return NULL;
    bind_text(st, 1, principal);
    bind_text(st, 2, request_id);
    bind_text(st, 3, op);
    bind_int64(st, 4, created);
    return st;
}

int store_idem_claim(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                     int64_t since, int64_t pending_before, bool *claimed)
{
    static const char sql[] =
        "INSERT INTO idempotency(principal, request_id, op, created_time, reply) VALUES (?1, ?2, ?3, ?4, '')"
        " ON CONFLICT(principal, request_id) DO UPDATE SET op = excluded.op, created_time = excluded.created_time,"
        " reply = '' WHERE idempotency.created_time < ?5"
        " OR (idempotency.reply = '' AND idempotency.created_time < ?6)";
    sql_stmt *st = idem_row_stmt(s, sql, principal, request_id, op, created);
    *claimed = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 5, since);
    bind_int64(st, 6, pending_before);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *claimed = store_changes(s) > 0;
    return rc;
}

int store_idem_release(struct store *s, const char *principal, const char *request_id)
{
    static const char sql[] = "DELETE FROM idempotency WHERE principal = ? AND request_id = ? AND reply = ''";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, principal);
    bind_text(st, 2, request_id);
    return store_exec_stmt(s, st);
}

int store_idem_put(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                   const char *reply)
{
    static const char sql[] =
        "INSERT INTO idempotency(principal, request_id, op, created_time, reply) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(principal, request_id) DO UPDATE SET op = excluded.op, created_time = excluded.created_time,"
        " reply = excluded.reply";
    sql_stmt *st = idem_row_stmt(s, sql, principal, request_id, op, created);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 5, reply);
    return store_exec_stmt(s, st);
}

int store_idem_purge(struct store *s, int64_t before_ts, int64_t *deleted)
{
    static const char sql[] = "DELETE FROM idempotency WHERE created_time < ?";
    sql_stmt *st = store_stmt(s, sql);
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, before_ts);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
