/* store_unassign.c: SQL of the unassign_job table (deleted customers whose entities are still to be
 * unassigned, one row per customer). */
#include "cmagent/store_unassign.h"

#include "store_int.h"

#include <stddef.h>

int store_unassign_job_add(struct store *s, const char *customer_id, const char *tenant_id, int64_t created_time)
{
    sql_stmt *st =
        store_stmt(s, "INSERT INTO unassign_job(customer_id, tenant_id, created_time) VALUES (?1, ?2, ?3)");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    bind_text(st, 2, tenant_id);
    bind_int64(st, 3, created_time);
    return store_exec_stmt(s, st);
}

int store_unassign_job_any(struct store *s, bool *any)
{
    return store_query_true(s, store_stmt(s, "SELECT EXISTS (SELECT 1 FROM unassign_job)"), any);
}

int store_unassign_job_pending(struct store *s, const char *customer_id, bool *pending)
{
    sql_stmt *st = store_stmt(s, "SELECT EXISTS (SELECT 1 FROM unassign_job WHERE customer_id = ?)");
    *pending = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    return store_query_true(s, st, pending);
}

int store_unassign_job_oldest(struct store *s, struct unassign_job *out)
{
    static const struct store_row_layout layout = {
        sizeof(struct unassign_job),
        2, { offsetof(struct unassign_job, customer_id), offsetof(struct unassign_job, tenant_id) },
        2, { offsetof(struct unassign_job, created_time), offsetof(struct unassign_job, unassigned) },
    };
    return store_get_one(s,
                         store_stmt(s, "SELECT customer_id, tenant_id, created_time, unassigned FROM unassign_job"
                                       " ORDER BY created_time, customer_id LIMIT 1"),
                         store_read_layout, &layout, out);
}

int store_unassign_job_progress(struct store *s, const char *customer_id, int64_t rows)
{
    sql_stmt *st = store_stmt_text_int(s, "UPDATE unassign_job SET unassigned = unassigned + ?2 WHERE customer_id = ?1",
                                           customer_id, rows);
    return st != NULL ? store_exec_changing(s, st) : STORE_ERROR;
}

int store_unassign_job_finish(struct store *s, const char *customer_id)
{
    sql_stmt *st = store_stmt(s, "DELETE FROM unassign_job WHERE customer_id = ?");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    return store_exec_changing(s, st);
}
