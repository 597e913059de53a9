/* store_dashboard.c: SQL of the dashboard and dashboard_customer tables. */
#include "cmagent/store_dashboard.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DASHBOARD_COLUMNS "id, created_time, tenant_id, title, configuration, version"

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct dashboard *d = row;
    (void)arg;
    memset(d, 0, sizeof *d);
    column_id(st, 0, d->id);
    d->created_time = column_int64(st, 1);
    column_id(st, 2, d->tenant_id);
    d->title = column_text(st, 3);
    d->configuration = column_text(st, 4);
    d->version = column_int64(st, 5);
}

static void free_rows(void *rows, size_t n) { dashboards_free(rows, n); }

static void read_assigned(sql_stmt *st, void *row, const void *arg)
{
    struct dashboard_customer *a = row;
    (void)arg;
    column_id(st, 0, a->customer_id);
    a->title = column_text(st, 1);
    a->is_public = column_int(st, 2) != 0;
}

static void free_assigned(void *rows, size_t n)
{
    struct dashboard_customer *a = rows;
    for (size_t i = 0; i < n; i++)
        free(a[i].title);
    free(a);
}

/* Fills d->assigned from dashboard_customer, with each customer's current title. */
static int load_assigned(struct store *s, struct dashboard *d)
{
    static const char sql[] =
        "SELECT c.id, c.title, c.is_public FROM dashboard_customer dc JOIN customer c ON c.id = dc.customer_id"
        " WHERE dc.dashboard_id = ? ORDER BY c.title, c.id";
    sql_stmt *st = store_stmt(s, sql);
    void *rows;

    if (st != NULL)
        bind_text(st, 1, d->id);
    int rc = store_collect(s, st, sizeof *d->assigned, read_assigned, NULL, free_assigned, &rows, &d->n_assigned);
    d->assigned = rows;
    return rc;
}

int store_dashboard_titles_with_prefix(struct store *s, const char *tenant_id, const char *prefix, char ***titles,
                                       size_t *n)
{
    static const char sql[] = "SELECT title FROM dashboard WHERE tenant_id = ?1 AND substr(title, 1, length(?2)) = ?2";
    sql_stmt *st = store_stmt(s, sql);
    void *rows;
    if (st != NULL) {
        bind_text(st, 1, tenant_id);
        bind_text(st, 2, prefix);
    }
    int rc = store_collect(s, st, sizeof **titles, store_read_text, NULL, store_texts_free, &rows, n);
    *titles = rows;
    return rc;
}

int store_dashboard_insert(struct store *s, const struct dashboard *d)
{
    static const char sql[] = "INSERT INTO dashboard(" DASHBOARD_COLUMNS ") VALUES (?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, d->id);
    bind_int64(st, 2, d->created_time);
    bind_text(st, 3, d->tenant_id);
    bind_text(st, 4, d->title);
    bind_text(st, 5, d->configuration);
    bind_int64(st, 6, d->version);
    int rc = store_exec_stmt(s, st);
    return rc == STORE_OK ? store_row_count_add(s, d->tenant_id, "dashboard") : rc;
}

int store_dashboard_update(struct store *s, const struct dashboard *d)
{
    static const char sql[] = "UPDATE dashboard SET title = ?2, configuration = ?3, version = ?4 WHERE id = ?1 AND version + 1 = ?4";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, d->id);
    bind_text(st, 2, d->title);
    bind_text(st, 3, d->configuration);
    bind_int64(st, 4, d->version);
    return store_exec_changing(s, st);
}

int store_dashboard_get(struct store *s, const char *id, struct dashboard *out)
{
    static const char sql[] = "SELECT " DASHBOARD_COLUMNS " FROM dashboard WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    int rc = store_get_one(s, st, read_row, NULL, out);
    if (rc != STORE_OK)
        return rc;
    rc = load_assigned(s, out);
    if (rc != STORE_OK)
        dashboard_release(out);
    return rc;
}

int store_dashboard_exists(struct store *s, const char *tenant_id, const char *id, bool *exists)
{
    static const char sql[] = "SELECT count(*) FROM dashboard WHERE id = ? AND tenant_id = ?";
    sql_stmt *st = store_stmt(s, sql);
    int64_t n = 0;
    *exists = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    bind_text(st, 2, tenant_id);
    int rc = store_query_int(s, st, &n);
    *exists = n > 0;
    return rc;
}

int store_dashboard_count(struct store *s, const char *tenant_id, int64_t *count)
{
    return store_row_count(s, tenant_id, "dashboard", count);
}

int store_dashboard_delete(struct store *s, const char *id)
{
    static const char sql[] = "DELETE FROM dashboard WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_changing(s, st);
}

int store_dashboard_page(struct store *s, const char *tenant_id, const char *customer_id, const char *text_search,
                         const char *sort_column, int descending, int64_t limit, int64_t offset,
                         struct dashboard **items, size_t *n, int64_t *total)
{
    static const char where_tenant[] =
        " FROM dashboard WHERE tenant_id = ?1"
        " AND (CAST(?2 AS TEXT) IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')";
    static const char where_customer[] =
        " FROM dashboard WHERE id IN (SELECT dashboard_id FROM dashboard_customer WHERE customer_id = ?3)"
        " AND tenant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')";
    const char *where = customer_id != NULL ? where_customer : where_tenant;
    char count_sql[512], sql[1024];
    sql_stmt *cst = NULL, *st = NULL;
    char *pattern = text_search ? like_escape(text_search) : NULL;
    struct dashboard *rows = NULL;
    size_t count = 0;
    void *collected;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    snprintf(count_sql, sizeof count_sql, "SELECT count(*)%s", where);
    snprintf(sql, sizeof sql, "SELECT " DASHBOARD_COLUMNS "%s ORDER BY %s %s, id ASC LIMIT ?4 OFFSET ?5", where,
             sort_column, descending ? "DESC" : "ASC");
    rc = sql_prepare(s, count_sql, &cst);
    if (rc == STORE_OK)
        rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK)
        goto out;
    bind_text(cst, 1, tenant_id);
    bind_text(cst, 2, pattern);
    if (customer_id != NULL)
        bind_text(cst, 3, customer_id);
    if (customer_id == NULL && pattern == NULL)
        rc = store_dashboard_count(s, tenant_id, total);
    else
        rc = store_query_int(s, cst, total);
    if (rc != STORE_OK)
        goto out;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, pattern);
    if (customer_id != NULL)
        bind_text(st, 3, customer_id);
    bind_int64(st, 4, limit);
    bind_int64(st, 5, offset);
    rc = store_collect(s, st, sizeof *rows, read_row, NULL, free_rows, &collected, &count);
    if (rc != STORE_OK)
        goto out;
    rows = collected;
    for (size_t i = 0; i < count && rc == STORE_OK; i++)
        rc = load_assigned(s, &rows[i]);
    if (rc != STORE_OK) {
        dashboards_free(rows, count);
        goto out;
    }
    *items = rows;
    *n = count;
out:
    sql_finalize(cst);
    sql_finalize(st);
    free(pattern);
    return rc;
}

int store_dashboard_assign(struct store *s, const char *dashboard_id, const char *customer_id, bool *changed)
{
    static const char sql[] =
        "INSERT INTO dashboard_customer(dashboard_id, customer_id) VALUES (?, ?) ON CONFLICT DO NOTHING";
    sql_stmt *st = store_stmt(s, sql);
    *changed = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, dashboard_id);
    bind_text(st, 2, customer_id);
    int rc = store_exec_stmt(s, st);
    *changed = rc == STORE_OK && store_changes(s) > 0;
    return rc;
}

int store_dashboard_unassign(struct store *s, const char *dashboard_id, const char *customer_id, bool *changed)
{
    static const char sql[] = "DELETE FROM dashboard_customer WHERE dashboard_id = ? AND customer_id = ?";
    sql_stmt *st = store_stmt(s, sql);
    *changed = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, dashboard_id);
    bind_text(st, 2, customer_id);
    int rc = store_exec_stmt(s, st);
    *changed = rc == STORE_OK && store_changes(s) > 0;
    return rc;
}

int store_dashboard_touch_customer(struct store *s, const char *customer_id)
{
    static const char sql[] =
        "UPDATE dashboard SET version = version + 1"
        " WHERE id IN (SELECT dashboard_id FROM dashboard_customer WHERE customer_id = ?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    return store_exec_stmt(s, st);
}

int store_dashboard_unassign_customer(struct store *s, const char *customer_id, int64_t *changed)
{
    static const char bump_sql[] =
        "UPDATE dashboard SET version = version + 1"
        " WHERE id IN (SELECT dashboard_id FROM dashboard_customer WHERE customer_id = ?)";
    static const char delete_sql[] = "DELETE FROM dashboard_customer WHERE customer_id = ?";
    sql_stmt *st = store_stmt(s, bump_sql);
    *changed = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    int rc = store_exec_stmt(s, st);
    if (rc != STORE_OK)
        return rc;
    st = store_stmt(s, delete_sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *changed = store_changes(s);
    return rc;
}
