/* store_entity.c: SQL of the device, asset and edge tables. Each statement exists once per table
 * (the statement cache is keyed by the SQL text's address), picked by the entity's kind. */
#include "cmagent/store_entity.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_COLUMNS "id, created_time, tenant_id, customer_id, name, type, label, additional_info, version"
#define EDGE_COLUMNS BASE_COLUMNS ", routing_key, secret"

static const char *const table_names[ENTITY_KINDS] = { "device", "asset", "edge" };

/* The SELECT list of every read: 11 columns, the last two NULL for devices and assets. */
#define SELECT_FROM(table, extra) "SELECT " BASE_COLUMNS ", " extra " FROM " table
#define SELECT_DEVICE SELECT_FROM("device", "NULL, NULL")
#define SELECT_ASSET SELECT_FROM("asset", "NULL, NULL")
#define SELECT_EDGE SELECT_FROM("edge", "routing_key, secret")

/* arg points to the row's enum entity_kind. */
static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct entity *e = row;
    memset(e, 0, sizeof *e);
    e->kind = *(const enum entity_kind *)arg;
    column_id(st, 0, e->id);
    e->created_time = column_int64(st, 1);
    column_id(st, 2, e->tenant_id);
    column_id(st, 3, e->customer_id);
    e->name = column_text(st, 4);
    e->type = column_text(st, 5);
    e->label = column_text(st, 6);
    e->additional_info = column_text(st, 7);
    e->version = column_int64(st, 8);
    e->stored_version = e->version;
    e->routing_key = column_text(st, 9);
    e->secret = column_text(st, 10);
}

static void free_rows(void *rows, size_t n) { entities_free(rows, n); }

static void bind_row(sql_stmt *st, const struct entity *e)
{
    bind_text(st, 1, e->id);
    bind_int64(st, 2, e->created_time);
    bind_text(st, 3, e->tenant_id);
    bind_id(st, 4, e->customer_id);
    bind_text(st, 5, e->name);
    bind_text(st, 6, e->type);
    bind_text(st, 7, e->label);
    bind_text(st, 8, e->additional_info);
    bind_int64(st, 9, e->version);
    if (e->kind == ENTITY_EDGE) {
        bind_text(st, 10, e->routing_key);
        bind_text(st, 11, e->secret);
    }
}

static bool kind_ok(enum entity_kind k) { return (unsigned)k < ENTITY_KINDS; }

/* Where a page starts: an offset, or (last_id non-NULL) the row after a cursor's position. */
struct page_position {
    int64_t offset;
    const char *last_value;
    const char *last_id;
    bool numeric; /* last_value is an integer column's */
};

int store_entity_insert(struct store *s, const struct entity *e)
{
    static const char *const sql[ENTITY_KINDS] = {
        "INSERT INTO device(" BASE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        "INSERT INTO asset(" BASE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        "INSERT INTO edge(" EDGE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    };
    if (!kind_ok(e->kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[e->kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, e);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        rc = store_row_count_add(s, e->tenant_id, table_names[e->kind]);
    if (rc == STORE_OK)
        rc = store_row_count_add(s, e->customer_id, table_names[e->kind]);
    return rc;
}

#define UPDATE_SET(table) \
    "UPDATE " table " SET created_time = ?2, tenant_id = ?3, customer_id = ?4, name = ?5, type = ?6," \
    " label = ?7, additional_info = ?8, version = ?9"

int store_entity_update(struct store *s, const struct entity *e)
{
    static const char *const sql[ENTITY_KINDS] = {
        UPDATE_SET("device") " WHERE id = ?1 AND version = ?10",
        UPDATE_SET("asset") " WHERE id = ?1 AND version = ?10",
        UPDATE_SET("edge") ", routing_key = ?10, secret = ?11 WHERE id = ?1 AND version = ?12",
    };
    if (!kind_ok(e->kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[e->kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, e);
    bind_int64(st, e->kind == ENTITY_EDGE ? 12 : 10, e->stored_version);
    return store_exec_changing(s, st);
}

int store_entity_get(struct store *s, enum entity_kind kind, const char *id, struct entity *out)
{
    static const char *const sql[ENTITY_KINDS] = {
        SELECT_DEVICE " WHERE id = ?", SELECT_ASSET " WHERE id = ?", SELECT_EDGE " WHERE id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_get_one(s, st, read_row, &kind, out);
}

int store_entity_get_by_name(struct store *s, enum entity_kind kind, const char *tenant_id, const char *name,
                             struct entity *out)
{
    static const char *const sql[ENTITY_KINDS] = {
        SELECT_DEVICE " WHERE tenant_id = ? AND name = ?",
        SELECT_ASSET " WHERE tenant_id = ? AND name = ?",
        SELECT_EDGE " WHERE tenant_id = ? AND name = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, name);
    return store_get_one(s, st, read_row, &kind, out);
}

int store_entity_names_with_prefix(struct store *s, enum entity_kind kind, const char *tenant_id, const char *prefix,
                                   char ***names, size_t *n)
{
    static const char *const sql[ENTITY_KINDS] = {
        "SELECT name FROM device WHERE tenant_id = ?1 AND substr(name, 1, length(?2)) = ?2",
        "SELECT name FROM asset WHERE tenant_id = ?1 AND substr(name, 1, length(?2)) = ?2",
        "SELECT name FROM edge WHERE tenant_id = ?1 AND substr(name, 1, length(?2)) = ?2",
    };
    void *rows;
    *names = NULL;
    *n = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[kind]);
    if (st != NULL) {
        bind_text(st, 1, tenant_id);
        bind_text(st, 2, prefix);
    }
    int rc = store_collect(s, st, sizeof **names, store_read_text, NULL, store_texts_free, &rows, n);
    *names = rows;
    return rc;
}

int store_entity_count(struct store *s, enum entity_kind kind, const char *tenant_id, int64_t *count)
{
    *count = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    return store_row_count(s, tenant_id, table_names[kind], count);
}

int store_entity_delete(struct store *s, enum entity_kind kind, const char *id)
{
    static const char *const sql[ENTITY_KINDS] = {
        "DELETE FROM device WHERE id = ?", "DELETE FROM asset WHERE id = ?", "DELETE FROM edge WHERE id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_changing(s, st);
}

/* The FROM and WHERE of a listing: ?1 tenant, ?2 customer, ?3 type, ?4 escaped search. Each filter
 * is written out only when given, so that SQLite sees which index serves it: the customer's
 * (partial) indexes, the tenant's (tenant_id, type, id) for a type. For a customer's listing the
 * tenant term is only a check ("+" keeps SQLite from reading the tenant's whole range instead). */
static void listing_from(struct store *s, char *out, size_t len, enum entity_kind kind, const struct entity_listing *l,
                         const char *pattern)
{
    snprintf(out, len, " FROM %s WHERE %stenant_id = ?1%s%s", table_names[kind],
             l->customer_id == NULL                ? ""
             : s->eng->dialect == SQL_POSTGRES ? "customer_id = ?2 AND "
                                               : "customer_id = ?2 AND +",
             l->type != NULL ? " AND type = ?3" : "",
             pattern != NULL ? " AND name LIKE '%' || ?4 || '%' ESCAPE '\\'" : "");
}

/* Binds the listing's parameters ?1 to ?4 (those the statement leaves out are ignored). */
static void bind_listing(sql_stmt *st, const struct entity_listing *l, const char *pattern)
{
    bind_text(st, 1, l->tenant_id);
    if (l->customer_id != NULL)
        bind_text(st, 2, l->customer_id);
    if (l->type != NULL)
        bind_text(st, 3, l->type);
    if (pattern != NULL)
        bind_text(st, 4, pattern);
}

/* How many rows the listing has: the kept count when there is no filter but the owner, else a COUNT
 * over the owner's index range. */
static int listing_total(struct store *s, enum entity_kind kind, const struct entity_listing *l,
                         const char *pattern, int64_t *total)
{
    char sql[512], from[384];
    sql_stmt *st = NULL;

    if (l->type == NULL && pattern == NULL)
        return store_row_count(s, l->customer_id != NULL ? l->customer_id : l->tenant_id, table_names[kind], total);
    listing_from(s, from, sizeof from, kind, l, pattern);
    snprintf(sql, sizeof sql, "SELECT count(*)%s", from);
    int rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK) {
        sql_finalize(st);
        return rc;
    }
    bind_listing(st, l, pattern);
    rc = store_query_int(s, st, total);
    sql_finalize(st);
    return rc;
}

/* Runs the listing's SELECT with the given tail (ORDER BY and LIMIT, and a cursor's range), ?5
 * the limit, ?6 the offset or the cursor's value, ?7 the cursor's id. */
static int listing_rows(struct store *s, enum entity_kind kind, const struct entity_listing *l, const char *pattern,
                        const char *tail, int64_t limit, const struct page_position *pos, struct entity **items,
                        size_t *n)
{
    char sql[1024], from[384];
    sql_stmt *st = NULL;
    void *rows;

    listing_from(s, from, sizeof from, kind, l, pattern);
    snprintf(sql, sizeof sql, "SELECT " BASE_COLUMNS ", %s%s%s",
             kind == ENTITY_EDGE ? "routing_key, secret" : "NULL, NULL", from, tail);
    int rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK) {
        sql_finalize(st);
        return rc;
    }
    bind_listing(st, l, pattern);
    bind_int64(st, 5, limit);
    if (pos->last_id == NULL)
        bind_int64(st, 6, pos->offset);
    else if (pos->numeric)
        bind_int64(st, 6, strtoll(pos->last_value, NULL, 10));
    else
        bind_text(st, 6, pos->last_value);
    if (pos->last_id != NULL)
        bind_text(st, 7, pos->last_id);
    rc = store_collect(s, st, sizeof **items, read_row, &kind, free_rows, &rows, n);
    *items = rows;
    sql_finalize(st);
    return rc;
}

/* The listing's order: its column in its direction, ties broken by id ascending. */
static const char *order_by(const struct entity_listing *l, char *out, size_t len)
{
    const char *dir = l->descending ? "DESC" : "ASC";
    if (strcmp(l->sort_column, "id") == 0)
        snprintf(out, len, "id %s", dir);
    else
        snprintf(out, len, "%s %s, id ASC", l->sort_column, dir);
    return out;
}

int store_entity_page(struct store *s, enum entity_kind kind, const struct entity_listing *l, int64_t limit,
                      int64_t offset, struct entity **items, size_t *n, int64_t *total)
{
    char tail[160], order[64];
    struct page_position pos = { .offset = offset };
    char *pattern;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    pattern = l->text_search != NULL ? like_escape(l->text_search) : NULL;
    rc = listing_total(s, kind, l, pattern, total);
    if (rc == STORE_OK) {
        snprintf(tail, sizeof tail, " ORDER BY %s LIMIT ?5 OFFSET ?6", order_by(l, order, sizeof order));
        rc = listing_rows(s, kind, l, pattern, tail, limit, &pos, items, n);
    }
    free(pattern);
    return rc;
}

int store_entity_page_after(struct store *s, enum entity_kind kind, const struct entity_listing *l,
                            const char *last_value, const char *last_id, int64_t limit, struct entity **items,
                            size_t *n)
{
    const char *col = l->sort_column, *cmp = l->descending ? "<" : ">";
    char tail[256], order[64];
    struct page_position pos = { .last_value = last_value, .last_id = last_id };
    char *pattern;

    *items = NULL;
    *n = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    if (strcmp(col, "created_time") == 0) {
        pos.numeric = true;
    } else if (strcmp(col, "name") != 0 && strcmp(col, "id") != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "no cursor order for column %s", col);
        return STORE_ERROR;
    }
    if (strcmp(col, "id") == 0)
        snprintf(tail, sizeof tail, " AND id %s ?7 ORDER BY %s LIMIT ?5", cmp, order_by(l, order, sizeof order));
    else
        snprintf(tail, sizeof tail, " AND %s %s= ?6 AND (%s %s ?6 OR id > ?7) ORDER BY %s LIMIT ?5", col, cmp, col,
                 cmp, order_by(l, order, sizeof order));
    pattern = l->text_search != NULL ? like_escape(l->text_search) : NULL;
    int rc = listing_rows(s, kind, l, pattern, tail, limit, &pos, items, n);
    free(pattern);
    return rc;
}

int store_entity_unassign_customer(struct store *s, enum entity_kind kind, const char *customer_id, int64_t limit,
                                   int64_t *changed)
{
/* SQLite finds the rows by rowid, PostgreSQL by id (it has no rowid). */
#define UNASSIGN_SOME(table, key)                                                                   \
    "UPDATE " table " SET customer_id = NULL, version = version + 1 WHERE " key " IN"               \
    " (SELECT " key " FROM " table " WHERE customer_id = ?1 LIMIT ?2)"
    static const char *const sql[ENTITY_KINDS] = {
        UNASSIGN_SOME("device", "rowid"), UNASSIGN_SOME("asset", "rowid"), UNASSIGN_SOME("edge", "rowid"),
    };
    static const char *const pg_sql[ENTITY_KINDS] = {
        UNASSIGN_SOME("device", "id"), UNASSIGN_SOME("asset", "id"), UNASSIGN_SOME("edge", "id"),
    };
#undef UNASSIGN_SOME
    *changed = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt_dialect(s, sql[kind], pg_sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    bind_int64(st, 2, limit);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *changed = store_changes(s);
    return rc;
}

int store_entity_delete_by_tenant(struct store *s, enum entity_kind kind, const char *tenant_id)
{
    static const char *const sql[ENTITY_KINDS] = {
        "DELETE FROM device WHERE tenant_id = ?",
        "DELETE FROM asset WHERE tenant_id = ?",
        "DELETE FROM edge WHERE tenant_id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sql_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_exec_stmt(s, st);
}
