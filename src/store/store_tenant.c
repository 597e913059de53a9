/* store_tenant.c: SQL of the tenant table. A deleted tenant's rows are deleted in chunks
 * (store_tenant_job.c); meanwhile the tenant reads as gone. */
#include "cmagent/store_tenant.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A deleted tenant whose rows are still being deleted (store_tenant_job.h) reads as gone. */
#define NOT_DELETED " AND NOT EXISTS (SELECT 1 FROM tenant_delete_job j WHERE j.tenant_id = tenant.id)"

#define TENANT_COLUMNS \
    "id, created_time, title, country, state, city, address, address2, zip, phone, email," \
    " additional_info, max_customers, max_users, max_devices, max_assets, max_edges, max_dashboards, version"

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct tenant *t = row;
    (void)arg;
    memset(t, 0, sizeof *t);
    column_id(st, 0, t->id);
    t->created_time = column_int64(st, 1);
    t->title = column_text(st, 2);
    store_column_contact(st, 3, &t->contact);
    t->additional_info = column_text(st, 11);
    t->limits.max_customers = column_int64(st, 12);
    t->limits.max_users = column_int64(st, 13);
    t->limits.max_devices = column_int64(st, 14);
    t->limits.max_assets = column_int64(st, 15);
    t->limits.max_edges = column_int64(st, 16);
    t->limits.max_dashboards = column_int64(st, 17);
    t->version = column_int64(st, 18);
}

/* Binds the 19 columns in TENANT_COLUMNS order, starting at parameter 1. */
static void bind_row(sql_stmt *st, const struct tenant *t)
{
    bind_text(st, 1, t->id);
    bind_int64(st, 2, t->created_time);
    bind_text(st, 3, t->title);
    store_bind_contact(st, 4, &t->contact);
    bind_text(st, 12, t->additional_info);
    bind_int64(st, 13, t->limits.max_customers);
    bind_int64(st, 14, t->limits.max_users);
    bind_int64(st, 15, t->limits.max_devices);
    bind_int64(st, 16, t->limits.max_assets);
    bind_int64(st, 17, t->limits.max_edges);
    bind_int64(st, 18, t->limits.max_dashboards);
    bind_int64(st, 19, t->version);
}

int store_tenant_insert(struct store *s, const struct tenant *t)
{
    static const char sql[] =
        "INSERT INTO tenant(" TENANT_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, t);
    return store_exec_stmt(s, st);
}

int store_tenant_update(struct store *s, const struct tenant *t)
{
    static const char sql[] =
        "UPDATE tenant SET created_time = ?2, title = ?3, country = ?4, state = ?5, city = ?6,"
        " address = ?7, address2 = ?8, zip = ?9, phone = ?10, email = ?11, additional_info = ?12,"
        " max_customers = ?13, max_users = ?14, max_devices = ?15, max_assets = ?16, max_edges = ?17,"
        " max_dashboards = ?18, version = ?19 WHERE id = ?1";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, t);
    return store_exec_changing(s, st);
}

int store_tenant_get(struct store *s, const char *id, struct tenant *out)
{
    static const char sql[] = "SELECT " TENANT_COLUMNS " FROM tenant WHERE id = ?" NOT_DELETED;
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_get_one(s, st, read_row, NULL, out);
}

int store_tenant_count(struct store *s, int64_t *count)
{
    static const char sql[] = "SELECT count(*) FROM tenant WHERE 1" NOT_DELETED;
    return store_query_int(s, store_stmt(s, sql), count);
}

static void free_rows(void *rows, size_t n) { tenants_free(rows, n); }

static int read_rows(struct store *s, sql_stmt *st, struct tenant **items, size_t *n)
{
    void *rows;
    int rc = store_collect(s, st, sizeof **items, read_row, NULL, free_rows, &rows, n);
    *items = rows;
    return rc;
}

int store_tenant_page(struct store *s, const char *text_search, const char *sort_column, int descending,
                      int64_t limit, int64_t offset, struct tenant **items, size_t *n, int64_t *total)
{
    static const char count_sql[] =
        "SELECT count(*) FROM tenant"
        " WHERE (CAST(?1 AS TEXT) IS NULL OR title LIKE '%' || ?1 || '%' ESCAPE '\\')" NOT_DELETED;
    char sql[512];
    sql_stmt *st = NULL;
    char *pattern = text_search ? like_escape(text_search) : NULL;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    sql_stmt *cst = store_stmt(s, count_sql);
    if (cst == NULL) {
        rc = STORE_ERROR;
        goto out;
    }
    bind_text(cst, 1, pattern);
    rc = store_query_int(s, cst, total);
    if (rc != STORE_OK)
        goto out;

    snprintf(sql, sizeof sql,
             "SELECT " TENANT_COLUMNS " FROM tenant"
             " WHERE (CAST(?1 AS TEXT) IS NULL OR title LIKE '%%' || ?1 || '%%' ESCAPE '\\')" NOT_DELETED
             " ORDER BY %s %s, id ASC LIMIT ?2 OFFSET ?3",
             sort_column, descending ? "DESC" : "ASC");
    rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK) {
        goto out;
    }
    bind_text(st, 1, pattern);
    bind_int64(st, 2, limit);
    bind_int64(st, 3, offset);
    rc = read_rows(s, st, items, n);
out:
    sql_finalize(st);
    free(pattern);
    return rc;
}
