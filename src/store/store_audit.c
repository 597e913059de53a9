/* store_audit.c: SQL of the audit_log table (append, filtered pages, retention purge) and of the
 * password_history table. */
#include "cmagent/store_audit.h"

#include "cmagent/model.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void audit_row_release(struct audit_row *r)
{
    if (r == NULL)
        return;
    free(r->entity_name);
    free(r->user_name);
    free(r->action_data);
    free(r->failure_details);
    free(r->acting_user_name);
    r->entity_name = r->user_name = r->action_data = r->failure_details = r->acting_user_name = NULL;
}

void audit_rows_free(struct audit_row *rows, size_t n)
{
    if (rows == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        audit_row_release(&rows[i]);
    free(rows);
}

int store_audit_insert(struct store *s, const struct audit_row *r)
{
    static const char sql[] =
        "INSERT INTO audit_log(id, created_time, tenant_id, customer_id, entity_type, entity_id, entity_name,"
        " user_id, user_name, action_type, action_data, action_status, action_failure_details, acting_user_id,"
        " acting_user_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, r->id);
    bind_int64(st, 2, r->created_time);
    bind_text(st, 3, r->tenant_id);
    bind_id(st, 4, r->customer_id);
    bind_id(st, 5, r->entity_type);
    bind_id(st, 6, r->entity_id);
    bind_text(st, 7, r->entity_name);
    bind_id(st, 8, r->user_id);
    bind_text(st, 9, r->user_name);
    bind_text(st, 10, r->action_type);
    bind_text(st, 11, r->action_data);
    bind_text(st, 12, r->action_status);
    bind_text(st, 13, r->failure_details);
    bind_id(st, 14, r->acting_user_id);
    bind_text(st, 15, r->acting_user_name);
    return store_exec_stmt(s, st);
}

/* The casts tell PostgreSQL the type of a parameter it first meets in "IS NULL" or "= 0". */
#define AUDIT_WHERE                                                                                 \
    " WHERE tenant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR entity_type = ?2)"                      \
    " AND (CAST(?3 AS TEXT) IS NULL OR entity_id = ?3)"                                             \
    " AND (CAST(?4 AS TEXT) IS NULL OR customer_id = ?4) AND (CAST(?5 AS TEXT) IS NULL OR user_id = ?5)" \
    " AND (CAST(?6 AS BIGINT) = 0 OR created_time >= ?6) AND (CAST(?7 AS BIGINT) = 0 OR created_time <= ?7)"   \
    " AND (CAST(?8 AS TEXT) IS NULL OR acting_user_id = ?8)"
#define AUDIT_COLUMNS                                                                                  \
    "SELECT id, created_time, tenant_id, customer_id, entity_type, entity_id, entity_name, user_id,"   \
    " user_name, action_type, action_data, action_status, action_failure_details, acting_user_id,"      \
    " acting_user_name FROM audit_log"

static void bind_filter(sql_stmt *st, const char *tenant_id, const struct audit_filter *f)
{
    bind_text(st, 1, tenant_id);
    bind_id(st, 2, f->entity_type);
    bind_id(st, 3, f->entity_id);
    bind_id(st, 4, f->customer_id);
    bind_id(st, 5, f->user_id);
    bind_int64(st, 6, f->start_time);
    bind_int64(st, 7, f->end_time);
    bind_id(st, 8, f->acting_user_id);
}

static void copy_column(sql_stmt *st, int i, char *out, size_t size)
{
    const char *t = column_text_ref(st, i);
    snprintf(out, size, "%s", t == NULL ? "" : t);
}

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct audit_row *r = row;
    (void)arg;
    column_id(st, 0, r->id);
    r->created_time = column_int64(st, 1);
    column_id(st, 2, r->tenant_id);
    column_id(st, 3, r->customer_id);
    copy_column(st, 4, r->entity_type, sizeof r->entity_type);
    column_id(st, 5, r->entity_id);
    r->entity_name = column_text(st, 6);
    column_id(st, 7, r->user_id);
    r->user_name = column_text(st, 8);
    copy_column(st, 9, r->action_type, sizeof r->action_type);
    r->action_data = column_text(st, 10);
    copy_column(st, 11, r->action_status, sizeof r->action_status);
    r->failure_details = column_text(st, 12);
    column_id(st, 13, r->acting_user_id);
    r->acting_user_name = column_text(st, 14);
}

static void free_rows(void *rows, size_t n) { audit_rows_free(rows, n); }

int store_audit_page(struct store *s, const char *tenant_id, const struct audit_filter *f, int descending,
                     int64_t limit, int64_t offset, struct audit_row **items, size_t *n, int64_t *total)
{
    static const char count_sql[] = "SELECT COUNT(*) FROM audit_log" AUDIT_WHERE;
    static const char asc_sql[] = AUDIT_COLUMNS AUDIT_WHERE " ORDER BY created_time, id LIMIT ?9 OFFSET ?10";
    static const char desc_sql[] =
        AUDIT_COLUMNS AUDIT_WHERE " ORDER BY created_time DESC, id DESC LIMIT ?9 OFFSET ?10";
    sql_stmt *st = store_stmt(s, count_sql);
    void *rows;
    int rc;

    *items = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_filter(st, tenant_id, f);
    rc = store_query_int(s, st, total);
    if (rc != STORE_OK)
        return rc;
    st = store_stmt(s, descending ? desc_sql : asc_sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_filter(st, tenant_id, f);
    bind_int64(st, 9, limit);
    bind_int64(st, 10, offset);
    rc = store_collect(s, st, sizeof **items, read_row, NULL, free_rows, &rows, n);
    *items = rows;
    return rc;
}

int store_audit_purge(struct store *s, int64_t before_ts, int64_t *deleted)
{
    static const char sql[] = "DELETE FROM audit_log WHERE created_time < ?";
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

int store_password_history_add(struct store *s, const char *user_id, const char *hash, int64_t ts)
{
    static const char sql[] = "INSERT INTO password_history(user_id, password_hash, ts) VALUES (?, ?, ?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    bind_text(st, 2, hash);
    bind_int64(st, 3, ts);
    return store_exec_stmt(s, st);
}

int store_password_history_prune(struct store *s, const char *user_id, int64_t before_ts)
{
    static const char sql[] = "DELETE FROM password_history WHERE user_id = ? AND ts < ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    bind_int64(st, 2, before_ts);
    return store_exec_stmt(s, st);
}

int store_password_history_since(struct store *s, const char *user_id, int64_t since_ts, char ***hashes,
                                 size_t *n)
{
    static const char sql[] = "SELECT password_hash FROM password_history WHERE user_id = ? AND ts >= ?"
                              " ORDER BY ts DESC LIMIT 100";
    sql_stmt *st = store_stmt(s, sql);
    size_t count = 0;
    char **out = NULL;
    int rc;

    *hashes = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    bind_int64(st, 2, since_ts);
    out = xcalloc(100, sizeof *out);
    while ((rc = sql_step(st)) == SQL_ROW && count < 100)
        out[count++] = column_text(st, 0);
    sql_reset(st);
    if (rc != SQL_DONE && rc != SQL_ROW) {
        password_hashes_free(out, count);
        return rc;
    }
    *hashes = out;
    *n = count;
    return STORE_OK;
}

void password_hashes_free(char **hashes, size_t n)
{
    if (hashes == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(hashes[i]);
    free(hashes);
}
