/* store_tenant_job.c: SQL of the tenant_delete_job table and the chunked deletes of a deleted
 * tenant's rows (store_tenant_job.h). */
#include "cmagent/store_tenant_job.h"

#include "store_int.h"

#include <string.h>

static int exec_for(struct store *s, const char *sql, const char *tenant_id)
{
    sqlite3_stmt *st = store_stmt(s, sql);
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
    sqlite3_stmt *st = store_stmt_text_int(s, "INSERT INTO tenant_delete_job(tenant_id, created_time) VALUES (?1, ?2)",
                                           tenant_id, created_time);
    return st != NULL ? store_exec_stmt(s, st) : STORE_ERROR;
}

int store_tenant_job_any(struct store *s, bool *any)
{
    int64_t n = 0;
    int rc = store_query_int(s, store_stmt(s, "SELECT count(*) FROM (SELECT 1 FROM tenant_delete_job LIMIT 1)"), &n);
    *any = n > 0;
    return rc;
}

static void read_job(sqlite3_stmt *st, void *row, const void *arg)
{
    struct tenant_delete_job *j = row;
    (void)arg;
    memset(j, 0, sizeof *j);
    column_id(st, 0, j->tenant_id);
    j->created_time = sqlite3_column_int64(st, 1);
    j->deleted = sqlite3_column_int64(st, 2);
}

int store_tenant_job_oldest(struct store *s, struct tenant_delete_job *out)
{
    return store_get_one(s,
                         store_stmt(s, "SELECT tenant_id, created_time, deleted FROM tenant_delete_job"
                                       " ORDER BY created_time, tenant_id LIMIT 1"),
                         read_job, NULL, out);
}

int store_tenant_job_delete_rows(struct store *s, int table, const char *tenant_id, int64_t limit, int64_t *changed)
{
    /* Each finds its rows through the (tenant_id, id) index. */
    static const char *const sql[TENANT_JOB_TABLES] = {
        "DELETE FROM device WHERE rowid IN (SELECT rowid FROM device WHERE tenant_id = ?1 LIMIT ?2)",
        "DELETE FROM asset WHERE rowid IN (SELECT rowid FROM asset WHERE tenant_id = ?1 LIMIT ?2)",
        "DELETE FROM edge WHERE rowid IN (SELECT rowid FROM edge WHERE tenant_id = ?1 LIMIT ?2)",
        "DELETE FROM dashboard WHERE rowid IN (SELECT rowid FROM dashboard WHERE tenant_id = ?1 LIMIT ?2)",
        "DELETE FROM customer WHERE rowid IN (SELECT rowid FROM customer WHERE tenant_id = ?1 LIMIT ?2)",
    };
    *changed = 0;
    if (table < 0 || table >= TENANT_JOB_TABLES)
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt_text_int(s, sql[table], tenant_id, limit);
    if (st == NULL)
        return STORE_ERROR;
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *changed = store_changes(s);
    return rc;
}

int store_tenant_job_progress(struct store *s, const char *tenant_id, int64_t rows)
{
    sqlite3_stmt *st =
        store_stmt_text_int(s, "UPDATE tenant_delete_job SET deleted = deleted + ?2 WHERE tenant_id = ?1", tenant_id, rows);
    return st != NULL ? store_exec_changing(s, st) : STORE_ERROR;
}

int store_tenant_job_finish(struct store *s, const char *tenant_id)
{
    int rc = exec_for(s, "DELETE FROM tenant WHERE id = ?", tenant_id);
    return rc == STORE_OK ? exec_for(s, "DELETE FROM tenant_delete_job WHERE tenant_id = ?", tenant_id) : rc;
}
