/* store_import.c: SQL of the import_job and import_job_row tables (store_import.h). A job's rows
 * go in with one statement that walks the JSON array of them (SQLite's json_each, PostgreSQL's
 * json_array_elements), one round trip for thousands of rows. */
#include "cmagent/store_import.h"

#include "store_int.h"

#include <stdlib.h>
#include <string.h>

void import_job_release(struct import_job *j)
{
    free(j->options);
    free(j->error);
    j->options = j->error = NULL;
}

void import_rows_free(void *rows, size_t n)
{
    struct import_row *r = rows;
    for (size_t i = 0; i < n; i++)
        free(r[i].data);
    free(rows);
}

#define JOB_COLUMNS \
    "id, tenant_id, user_id, entity_type, options, total, done, created, failed, created_time, finished_time, error"

int store_import_job_add(struct store *s, const struct import_job *j, const char *rows_json)
{
    sql_stmt *st = store_stmt(s, "INSERT INTO import_job(" JOB_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, ?7, 0,"
                                 " NULL)");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, j->id);
    bind_text(st, 2, j->tenant_id);
    bind_text(st, 3, j->user_id);
    bind_text(st, 4, j->entity_type);
    bind_text(st, 5, j->options);
    bind_int64(st, 6, j->total);
    bind_int64(st, 7, j->created_time);
    int rc = store_exec_stmt(s, st);
    if (rc != STORE_OK)
        return rc;
    st = store_stmt_dialect(s,
                            "INSERT INTO import_job_row(job_id, row_no, line, data)"
                            " SELECT ?1, key + 1, json_extract(value, '$.l'), json_extract(value, '$.d')"
                            " FROM json_each(?2)",
                            "INSERT INTO import_job_row(job_id, row_no, line, data)"
                            " SELECT ?1, ord, (value->>'l')::bigint, (value->'d')::text"
                            " FROM json_array_elements(?2::json) WITH ORDINALITY AS t(value, ord)");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, j->id);
    bind_text(st, 2, rows_json);
    return store_exec_stmt(s, st);
}

int store_import_job_any(struct store *s, bool *any)
{
    return store_query_true(s, store_stmt(s, "SELECT EXISTS (SELECT 1 FROM import_job WHERE finished_time = 0)"), any);
}

static void read_job(sql_stmt *st, void *row, const void *arg)
{
    struct import_job *j = row;
    (void)arg;
    memset(j, 0, sizeof *j);
    column_id(st, 0, j->id);
    column_id(st, 1, j->tenant_id);
    column_id(st, 2, j->user_id);
    const char *type = column_text_ref(st, 3);
    if (type != NULL && strlen(type) < sizeof j->entity_type)
        strcpy(j->entity_type, type);
    j->options = column_text(st, 4);
    j->total = column_int64(st, 5);
    j->done = column_int64(st, 6);
    j->created = column_int64(st, 7);
    j->failed = column_int64(st, 8);
    j->created_time = column_int64(st, 9);
    j->finished_time = column_int64(st, 10);
    j->error = column_text(st, 11);
}

#define IMPORT_JOB_OLDEST(lock) \
    "SELECT " JOB_COLUMNS " FROM import_job WHERE finished_time = 0 ORDER BY created_time, id LIMIT 1" lock

/* On PostgreSQL the job is claimed until the chunk's commit: another agent on the database skips
 * it (and takes the next job, or none) instead of running the same rows again. */
int store_import_job_oldest(struct store *s, struct import_job *out)
{
    return store_get_one(s,
                         store_stmt_dialect(s, IMPORT_JOB_OLDEST(""), IMPORT_JOB_OLDEST(" FOR UPDATE SKIP LOCKED")),
                         read_job, NULL, out);
}

int store_import_job_get(struct store *s, const char *id, struct import_job *out)
{
    sql_stmt *st = store_stmt(s, "SELECT " JOB_COLUMNS " FROM import_job WHERE id = ?");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_get_one(s, st, read_job, NULL, out);
}

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct import_row *r = row;
    (void)arg;
    r->row = column_int64(st, 0);
    r->line = column_int64(st, 1);
    r->data = column_text(st, 2);
}

int store_import_rows_after(struct store *s, const char *job_id, int64_t after, int64_t limit,
                            struct import_row **rows, size_t *n)
{
    sql_stmt *st = store_stmt(s, "SELECT row_no, line, data FROM import_job_row WHERE job_id = ?1 AND row_no > ?2"
                                 " ORDER BY row_no LIMIT ?3");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, job_id);
    bind_int64(st, 2, after);
    bind_int64(st, 3, limit);
    return store_collect(s, st, sizeof **rows, read_row, NULL, import_rows_free, (void **)rows, n);
}

int store_import_row_done(struct store *s, const char *job_id, int64_t row, int status, const char *result)
{
    sql_stmt *st = store_stmt(s, "UPDATE import_job_row SET data = NULL, status = ?3, result = ?4"
                                 " WHERE job_id = ?1 AND row_no = ?2");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, job_id);
    bind_int64(st, 2, row);
    bind_int64(st, 3, status);
    bind_text(st, 4, result);
    return store_exec_changing(s, st);
}

int store_import_job_progress(struct store *s, const struct import_job *j)
{
    sql_stmt *st = store_stmt(s, "UPDATE import_job SET done = ?2, created = ?3, failed = ?4, finished_time = ?5,"
                                 " error = ?6 WHERE id = ?1");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, j->id);
    bind_int64(st, 2, j->done);
    bind_int64(st, 3, j->created);
    bind_int64(st, 4, j->failed);
    bind_int64(st, 5, j->finished_time);
    bind_text(st, 6, j->error);
    return store_exec_changing(s, st);
}

int store_import_results(struct store *s, const char *job_id, bool failed_only, int64_t offset, int64_t limit,
                         char ***results, size_t *n)
{
    sql_stmt *st = store_stmt(s, "SELECT result FROM import_job_row WHERE job_id = ?1 AND result IS NOT NULL"
                                 " AND (?2 = 0 OR status <> 200) ORDER BY row_no LIMIT ?3 OFFSET ?4");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, job_id);
    bind_int64(st, 2, failed_only ? 1 : 0);
    bind_int64(st, 3, limit);
    bind_int64(st, 4, offset);
    return store_collect(s, st, sizeof **results, store_read_text, NULL, store_texts_free, (void **)results, n);
}

int store_import_job_purge(struct store *s, int64_t before, int64_t *deleted)
{
    sql_stmt *st = store_stmt(s, "DELETE FROM import_job_row WHERE job_id IN (SELECT id FROM import_job"
                                 " WHERE finished_time > 0 AND finished_time < ?)");
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, before);
    int rc = store_exec_stmt(s, st);
    if (rc != STORE_OK)
        return rc;
    st = store_stmt(s, "DELETE FROM import_job WHERE finished_time > 0 AND finished_time < ?");
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, before);
    rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
