/* store_idem.c: SQL of the idempotency table. */
#include "cmagent/store_idem.h"

#include "store_int.h"

#include <stdlib.h>

int store_idem_get(struct store *s, const char *principal, const char *request_id, int64_t since, char **op,
                   char **reply)
{
    static const char sql[] =
        "SELECT op, reply FROM idempotency WHERE principal = ? AND request_id = ? AND created_time >= ?";
    sqlite3_stmt *st = store_stmt(s, sql);
    int rc, out;

    *op = NULL;
    *reply = NULL;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, principal);
    bind_text(st, 2, request_id);
    sqlite3_bind_int64(st, 3, since);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *op = column_text(st, 0);
        *reply = column_text(st, 1);
        out = STORE_OK;
    } else {
        out = rc == SQLITE_DONE ? STORE_NOT_FOUND : store_rc(s, rc);
    }
    sqlite3_reset(st);
    return out;
}

int store_idem_put(struct store *s, const char *principal, const char *request_id, const char *op, int64_t created,
                   const char *reply)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO idempotency(principal, request_id, op, created_time, reply) VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, principal);
    bind_text(st, 2, request_id);
    bind_text(st, 3, op);
    sqlite3_bind_int64(st, 4, created);
    bind_text(st, 5, reply);
    return store_exec_stmt(s, st);
}

int store_idem_purge(struct store *s, int64_t before_ts, int64_t *deleted)
{
    static const char sql[] = "DELETE FROM idempotency WHERE created_time < ?";
    sqlite3_stmt *st = store_stmt(s, sql);
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, before_ts);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
