/* store_unassign.c: SQL of the unassign_job table (deleted customers whose entities are still to be
 * unassigned, one row per customer). */
#include "cmagent/store_unassign.h"

#include "store_int.h"

#include <string.h>

int store_unassign_job_add(struct store *s, const char *customer_id, const char *tenant_id, int64_t created_time)
{
    sqlite3_stmt *st =
        store_stmt(s, "INSERT INTO unassign_job(customer_id, tenant_id, created_time) VALUES (?1, ?2, ?3)");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    bind_text(st, 2, tenant_id);
    sqlite3_bind_int64(st, 3, created_time);
    return store_exec_stmt(s, st);
}

int store_unassign_job_any(struct store *s, bool *any)
{
    int64_t n = 0;
    int rc = store_query_int(s, store_stmt(s, "SELECT EXISTS (SELECT 1 FROM unassign_job)"), &n);
    *any = rc == STORE_OK && n != 0;
    return rc;
}

int store_unassign_job_pending(struct store *s, const char *customer_id, bool *pending)
{
    sqlite3_stmt *st = store_stmt(s, "SELECT EXISTS (SELECT 1 FROM unassign_job WHERE customer_id = ?)");
    int64_t n = 0;
    int rc;

    *pending = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    rc = store_query_int(s, st, &n);
    *pending = rc == STORE_OK && n != 0;
    return rc;
}

static void read_job(sqlite3_stmt *st, void *row, const void *arg)
{
    struct unassign_job *j = row;
    (void)arg;
    memset(j, 0, sizeof *j);
    column_id(st, 0, j->customer_id);
    column_id(st, 1, j->tenant_id);
    j->created_time = sqlite3_column_int64(st, 2);
    j->unassigned = sqlite3_column_int64(st, 3);
}

int store_unassign_job_oldest(struct store *s, struct unassign_job *out)
{
    return store_get_one(s,
                         store_stmt(s, "SELECT customer_id, tenant_id, created_time, unassigned FROM unassign_job"
                                       " ORDER BY created_time, customer_id LIMIT 1"),
                         read_job, NULL, out);
}

int store_unassign_job_progress(struct store *s, const char *customer_id, int64_t rows)
{
    sqlite3_stmt *st = store_stmt_text_int(s, "UPDATE unassign_job SET unassigned = unassigned + ?2 WHERE customer_id = ?1",
                                           customer_id, rows);
    return st != NULL ? store_exec_changing(s, st) : STORE_ERROR;
}

int store_unassign_job_finish(struct store *s, const char *customer_id)
{
    sqlite3_stmt *st = store_stmt(s, "DELETE FROM unassign_job WHERE customer_id = ?");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    return store_exec_changing(s, st);
}
