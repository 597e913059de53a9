/* store_customer.c: SQL of the customer table. */
#include "cmagent/store_customer.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUSTOMER_COLUMNS \
    "id, created_time, tenant_id, title, country, state, city, address, address2, zip, phone, email," \
    " additional_info, external_id, is_public, version"

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct customer *c = row;
    (void)arg;
    memset(c, 0, sizeof *c);
    column_id(st, 0, c->id);
    c->created_time = column_int64(st, 1);
    column_id(st, 2, c->tenant_id);
    c->title = column_text(st, 3);
    store_column_contact(st, 4, &c->contact);
    c->additional_info = column_text(st, 12);
    column_id(st, 13, c->external_id);
    c->is_public = column_int(st, 14) != 0;
    c->version = column_int64(st, 15);
}

static void free_rows(void *rows, size_t n) { customers_free(rows, n); }

/* Reads every row of st into *items. */
static int collect(struct store *s, sql_stmt *st, struct customer **items, size_t *n)
{
    void *rows;
    int rc = store_collect(s, st, sizeof **items, read_row, NULL, free_rows, &rows, n);
    *items = rows;
    return rc;
}

/* Binds the 16 columns in CUSTOMER_COLUMNS order, starting at parameter 1. */
static void bind_row(sql_stmt *st, const struct customer *c)
{
    bind_text(st, 1, c->id);
    bind_int64(st, 2, c->created_time);
    bind_text(st, 3, c->tenant_id);
    bind_text(st, 4, c->title);
    store_bind_contact(st, 5, &c->contact);
    bind_text(st, 13, c->additional_info);
    bind_id(st, 14, c->external_id);
    bind_int(st, 15, c->is_public);
    bind_int64(st, 16, c->version);
}

int store_customer_insert(struct store *s, const struct customer *c)
{
    static const char sql[] = "INSERT INTO customer(" CUSTOMER_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, c);
    int rc = store_exec_stmt(s, st);
    return rc == STORE_OK ? store_row_count_add(s, c->tenant_id, "customer") : rc;
}

int store_customer_update(struct store *s, const struct customer *c)
{
    static const char sql[] =
        "UPDATE customer SET created_time = ?2, tenant_id = ?3, title = ?4, country = ?5, state = ?6,"
        " city = ?7, address = ?8, address2 = ?9, zip = ?10, phone = ?11, email = ?12,"
        " additional_info = ?13, external_id = ?14, is_public = ?15, version = ?16 WHERE id = ?1";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, c);
    return store_exec_changing(s, st);
}

int store_customer_get(struct store *s, const char *id, struct customer *out)
{
    static const char sql[] = "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_get_one(s, st, read_row, NULL, out);
}

int store_customer_get_by_title(struct store *s, const char *tenant_id, const char *title, struct customer *out)
{
    static const char sql[] = "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE tenant_id = ? AND title = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, title);
    return store_get_one(s, st, read_row, NULL, out);
}

int store_customer_exists_external_id(struct store *s, const char *tenant_id, const char *external_id,
                                      const char *except_id, int *exists)
{
    static const char sql[] =
        "SELECT count(*) FROM customer WHERE tenant_id = ? AND external_id = ? AND id IS DISTINCT FROM ?";
    sql_stmt *st = store_stmt(s, sql);
    int64_t n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, external_id);
    bind_id(st, 3, except_id);
    int rc = store_query_int(s, st, &n);
    *exists = n > 0;
    return rc;
}

int store_customer_titles_with_prefix(struct store *s, const char *tenant_id, const char *prefix,
                                      char ***titles, size_t *n)
{
    static const char sql[] =
        "SELECT title FROM customer WHERE tenant_id = ? AND substr(title, 1, length(?2)) = ?2";
    sql_stmt *st = store_stmt(s, sql);
    void *rows;
    int rc;

    if (st != NULL) {
        bind_text(st, 1, tenant_id);
        bind_text(st, 2, prefix);
    }
    rc = store_collect(s, st, sizeof **titles, store_read_text, NULL, store_texts_free, &rows, n);
    *titles = rows;
    return rc;
}

int store_customer_count(struct store *s, const char *tenant_id, int64_t *count)
{
    return store_row_count(s, tenant_id, "customer", count);
}

/* The contact filters of a search: each a prefix, ASCII case ignored, read as a range of the
 * (tenant_id, <column> COLLATE NOCASE, id) index: [prefix, prefix U+110000) holds every valid UTF-8
 * text that starts with it. Appends their SQL to where (parameters from ?5 on) and returns how many. */
static const char *const filter_columns[] = { "email", "phone", "city", "country" };
#define PREFIX_END "\xf4\x90\x80\x80"

static const char *filter_value(const struct customer_filter *f, size_t i)
{
    if (f == NULL)
        return NULL;
    const char *v[] = { f->email, f->phone, f->city, f->country };
    return v[i];
}

/* PostgreSQL refuses the bound past U+10FFFF as invalid UTF-8: it compares the prefixes instead. */
static void filter_sql(struct store *s, const struct customer_filter *f, char *where, size_t cap)
{
    const char *form = s->eng->dialect == SQL_POSTGRES
                           ? " AND starts_with(lower(%s), lower(?%d))"
                           : " AND %s >= ?%d COLLATE NOCASE AND %s < ?%d COLLATE NOCASE";
    size_t o = 0;
    int param = 5;
    where[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        if (filter_value(f, i) == NULL)
            continue;
        o += (size_t)snprintf(where + o, cap - o, form, filter_columns[i], param, filter_columns[i], param + 1);
        param += 2;
    }
}

/* Binds the filters' bounds from ?5 on; the upper bounds are kept in ends (freed by the caller). */
static void filter_bind(sql_stmt *st, const struct customer_filter *f, char *ends[4])
{
    int param = 5;
    for (size_t i = 0; i < 4; i++) {
        const char *v = filter_value(f, i);
        ends[i] = NULL;
        if (v == NULL)
            continue;
        size_t n = strlen(v);
        ends[i] = malloc(n + sizeof PREFIX_END);
        if (ends[i] != NULL) {
            memcpy(ends[i], v, n);
            memcpy(ends[i] + n, PREFIX_END, sizeof PREFIX_END);
        }
        bind_text(st, param, v);
        bind_text(st, param + 1, ends[i] != NULL && st->s->eng->dialect != SQL_POSTGRES ? ends[i] : v);
        param += 2;
    }
}

static bool filter_any(const struct customer_filter *f)
{
    for (size_t i = 0; i < 4; i++)
        if (filter_value(f, i) != NULL)
            return true;
    return false;
}

static void free_ends(char *ends[4])
{
    for (size_t i = 0; i < 4; i++)
        free(ends[i]);
}

#define TITLE_MATCH " AND (CAST(?2 AS TEXT) IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')"

static int count_matches(struct store *s, const char *tenant_id, const char *pattern, const struct customer_filter *f,
                         const char *where, int64_t *total)
{
    char sql[512], *ends[4];
    sql_stmt *st = NULL;

    if (pattern == NULL && !filter_any(f))
        return store_customer_count(s, tenant_id, total);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM customer WHERE tenant_id = ?1%s%s", TITLE_MATCH, where);
    int rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK)
        return rc;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, pattern);
    filter_bind(st, f, ends);
    rc = store_query_int(s, st, total);
    free_ends(ends);
    sql_finalize(st);
    return rc;
}

/* Rows of equal sort value follow id ascending; for the contact columns (sorted COLLATE NOCASE) id
 * in the sort's direction, so that a descending page walks their index backwards instead of
 * sorting a whole group of equal values (a country's customers). */
static const char *tie_break(const char *sort_column, int descending)
{
    if (strcmp(sort_column, "id") == 0)
        return "";
    return descending && strstr(sort_column, "COLLATE NOCASE") != NULL ? ", id DESC" : ", id ASC";
}

int store_customer_search(struct store *s, const char *tenant_id, const char *text_search,
                          const struct customer_filter *filter, const char *sort_column, int descending,
                          int64_t limit, int64_t offset, struct customer **items, size_t *n, int64_t *total)
{
    char sql[1024], where[512], *ends[4] = { NULL, NULL, NULL, NULL };
    sql_stmt *st = NULL;
    char *pattern = text_search ? like_escape(text_search) : NULL;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    filter_sql(s, filter, where, sizeof where);
    rc = count_matches(s, tenant_id, pattern, filter, where, total);
    if (rc != STORE_OK)
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE tenant_id = ?1%s%s ORDER BY %s %s%s LIMIT ?3 OFFSET ?4",
             TITLE_MATCH, where, sort_column, descending ? "DESC" : "ASC", tie_break(sort_column, descending));
    rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK) {
        goto out;
    }
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, pattern);
    bind_int64(st, 3, limit);
    bind_int64(st, 4, offset);
    filter_bind(st, filter, ends);
    rc = collect(s, st, items, n);
out:
    free_ends(ends);
    sql_finalize(st);
    free(pattern);
    return rc;
}

int store_customer_page(struct store *s, const char *tenant_id, const char *text_search,
                        const char *sort_column, int descending, int64_t limit, int64_t offset,
                        struct customer **items, size_t *n, int64_t *total)
{
    return store_customer_search(s, tenant_id, text_search, NULL, sort_column, descending, limit, offset, items, n,
                                 total);
}

int store_customer_delete(struct store *s, const char *id)
{
    static const char sql[] = "DELETE FROM customer WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_changing(s, st);
}

int store_customer_get_public(struct store *s, const char *tenant_id, struct customer *out)
{
    static const char sql[] =
        "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE tenant_id = ? AND is_public ORDER BY id LIMIT 1";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_get_one(s, st, read_row, NULL, out);
}

#define PAGE_AFTER(col, cmp, dir)                                                                       \
    "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE tenant_id = ?1"                                    \
    " AND (CAST(?2 AS TEXT) IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')"                                    \
    " AND " col " " cmp "= ?3 AND (" col " " cmp " ?3 OR id > ?4)"                                      \
    " ORDER BY " col " " dir ", id ASC LIMIT ?5"

/* By id, the id is the whole position (?3 is left unused). */
#define PAGE_AFTER_ID(cmp, dir)                                                                         \
    "SELECT " CUSTOMER_COLUMNS " FROM customer WHERE tenant_id = ?1"                                    \
    " AND (CAST(?2 AS TEXT) IS NULL OR title LIKE '%' || ?2 || '%' ESCAPE '\\')"                                    \
    " AND id " cmp " ?4 ORDER BY id " dir " LIMIT ?5"

int store_customer_page_after(struct store *s, const char *tenant_id, const char *text_search,
                              const char *sort_column, int descending, const char *last_value,
                              const char *last_id, int64_t limit, struct customer **items, size_t *n)
{
    static const char created_asc[] = PAGE_AFTER("created_time", ">", "ASC");
    static const char created_desc[] = PAGE_AFTER("created_time", "<", "DESC");
    static const char title_asc[] = PAGE_AFTER("title", ">", "ASC");
    static const char title_desc[] = PAGE_AFTER("title", "<", "DESC");
    static const char id_asc[] = PAGE_AFTER_ID(">", "ASC");
    static const char id_desc[] = PAGE_AFTER_ID("<", "DESC");
    const char *sql;
    bool numeric = false;
    char *pattern = NULL;
    int rc;

    *items = NULL;
    *n = 0;
    if (strcmp(sort_column, "created_time") == 0) {
        sql = descending ? created_desc : created_asc;
        numeric = true;
    } else if (strcmp(sort_column, "title") == 0) {
        sql = descending ? title_desc : title_asc;
    } else if (strcmp(sort_column, "id") == 0) {
        sql = descending ? id_desc : id_asc;
    } else {
        snprintf(s->errmsg, sizeof s->errmsg, "no cursor order for column %s", sort_column);
        return STORE_ERROR;
    }
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    pattern = text_search ? like_escape(text_search) : NULL;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, pattern);
    if (numeric)
        bind_int64(st, 3, strtoll(last_value, NULL, 10));
    else
        bind_text(st, 3, last_value);
    bind_text(st, 4, last_id);
    bind_int64(st, 5, limit);
    rc = collect(s, st, items, n);
    free(pattern);
    return rc;
}
