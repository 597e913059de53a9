/* store_tenant_job.c: SQL of the tenant_delete_job table and the chunked deletes of a deleted
 * tenant's rows (store_tenant_job.h). */
#include "cmagent/store_tenant_job.h"

#include "store_int.h"

#include <stddef.h>

static int exec_for(struct store *s, const char *sql, const char *tenant_id)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_exec_stmt(s, st);
}

int store_tenant_job_add(struct store *s, const char *tenant_id, int64_t created_time)
{
    int rc = exec_for(s, "DELETE FROM tb_user WHERE tenant_id = ?", tenant_id);
    if (rc != STORE_OK)
        return rc;
    sql_stmt *st = store_stmt_text_int(s, "INSERT INTO tenant_delete_job(tenant_id, created_time) VALUES (?1, ?2)",
                                           tenant_id, created_time);
    return st != NULL ? store_exec_stmt(s, st) : STORE_ERROR;
}

int store_tenant_job_any(struct store *s, bool *any)
{
    return store_query_true(s, store_stmt(s, "SELECT EXISTS (SELECT 1 FROM tenant_delete_job)"), any);
}

int store_tenant_job_oldest(struct store *s, struct tenant_delete_job *out)
{
    static const struct store_row_layout layout = {
        sizeof(struct tenant_delete_job),
        1, { offsetof(struct tenant_delete_job, tenant_id) },
        2, { offsetof(struct tenant_delete_job, created_time), offsetof(struct tenant_delete_job, deleted) },
    };
    return store_get_one(s,
                         store_stmt(s, "SELECT tenant_id, created_time, deleted FROM tenant_delete_job"
                                       " ORDER BY created_time, tenant_id LIMIT 1"),
                         store_read_layout, &layout, out);
}

int store_tenant_job_delete_rows(struct store *s, int table, const char *tenant_id, int64_t limit, int64_t *changed)
{
    /* Each finds its rows through the (tenant_id, id) index. */
    /* SQLite finds the rows by rowid, PostgreSQL by id (it has no rowid). */
#define DELETE_SOME(table, key) \
    "DELETE FROM " table " WHERE " key " IN (SELECT " key " FROM " table " WHERE tenant_id = ?1 LIMIT ?2)"
    static const char *const sql[TENANT_JOB_TABLES] = {
        DELETE_SOME("device", "rowid"), DELETE_SOME("asset", "rowid"), DELETE_SOME("edge", "rowid"),
        DELETE_SOME("dashboard", "rowid"), DELETE_SOME("customer", "rowid"),
    };
    static const char *const pg_sql[TENANT_JOB_TABLES] = {
        DELETE_SOME("device", "id"), DELETE_SOME("asset", "id"), DELETE_SOME("edge", "id"),
        DELETE_SOME("dashboard", "id"), DELETE_SOME("customer", "id"),
    };
#undef DELETE_SOME
    *changed = 0;
    if (table < 0 || table >= TENANT_JOB_TABLES)
        return STORE_ERROR;
    sql_stmt *st = store_stmt_text_int(s, s->eng->dialect == SQL_POSTGRES ? pg_sql[table] : sql[table], tenant_id,
                                       limit);
    if (st == NULL)
        return STORE_ERROR;
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *changed = store_changes(s);
    return rc;
}

int store_tenant_job_progress(struct store *s, const char *tenant_id, int64_t rows)
{
    sql_stmt *st =
        store_stmt_text_int(s, "UPDATE tenant_delete_job SET deleted = deleted + ?2 WHERE tenant_id = ?1", tenant_id, rows);
    return st != NULL ? store_exec_changing(s, st) : STORE_ERROR;
}

int store_tenant_job_finish(struct store *s, const char *tenant_id)
{
    int rc = exec_for(s, "DELETE FROM tenant WHERE id = ?", tenant_id);
    return rc == STORE_OK ? exec_for(s, "DELETE FROM tenant_delete_job WHERE tenant_id = ?", tenant_id) : rc;
}
