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
static void read_row(sqlite3_stmt *st, void *row, const void *arg)
{
    struct entity *e = row;
    memset(e, 0, sizeof *e);
    e->kind = *(const enum entity_kind *)arg;
    column_id(st, 0, e->id);
    e->created_time = sqlite3_column_int64(st, 1);
    column_id(st, 2, e->tenant_id);
    column_id(st, 3, e->customer_id);
    e->name = column_text(st, 4);
    e->type = column_text(st, 5);
    e->label = column_text(st, 6);
    e->additional_info = column_text(st, 7);
    e->version = sqlite3_column_int64(st, 8);
    e->routing_key = column_text(st, 9);
    e->secret = column_text(st, 10);
}

static void free_rows(void *rows, size_t n) { entities_free(rows, n); }

static void bind_row(sqlite3_stmt *st, const struct entity *e)
{
    bind_text(st, 1, e->id);
    sqlite3_bind_int64(st, 2, e->created_time);
    bind_text(st, 3, e->tenant_id);
    bind_id(st, 4, e->customer_id);
    bind_text(st, 5, e->name);
    bind_text(st, 6, e->type);
    bind_text(st, 7, e->label);
    bind_text(st, 8, e->additional_info);
    sqlite3_bind_int64(st, 9, e->version);
    if (e->kind == ENTITY_EDGE) {
        bind_text(st, 10, e->routing_key);
        bind_text(st, 11, e->secret);
    }
}

static bool kind_ok(enum entity_kind k) { return (unsigned)k < ENTITY_KINDS; }

int store_entity_insert(struct store *s, const struct entity *e)
{
    static const char *const sql[ENTITY_KINDS] = {
        "INSERT INTO device(" BASE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        "INSERT INTO asset(" BASE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        "INSERT INTO edge(" EDGE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    };
    if (!kind_ok(e->kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[e->kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, e);
    return store_exec_stmt(s, st);
}

#define UPDATE_SET(table) \
    "UPDATE " table " SET created_time = ?2, tenant_id = ?3, customer_id = ?4, name = ?5, type = ?6," \
    " label = ?7, additional_info = ?8, version = ?9"

int store_entity_update(struct store *s, const struct entity *e)
{
    static const char *const sql[ENTITY_KINDS] = {
        UPDATE_SET("device") " WHERE id = ?1",
        UPDATE_SET("asset") " WHERE id = ?1",
        UPDATE_SET("edge") ", routing_key = ?10, secret = ?11 WHERE id = ?1",
    };
    if (!kind_ok(e->kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[e->kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_row(st, e);
    return store_exec_changing(s, st);
}

int store_entity_get(struct store *s, enum entity_kind kind, const char *id, struct entity *out)
{
    static const char *const sql[ENTITY_KINDS] = {
        SELECT_DEVICE " WHERE id = ?", SELECT_ASSET " WHERE id = ?", SELECT_EDGE " WHERE id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
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
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, name);
    return store_get_one(s, st, read_row, &kind, out);
}

int store_entity_count(struct store *s, enum entity_kind kind, const char *tenant_id, int64_t *count)
{
    static const char *const sql[ENTITY_KINDS] = {
        "SELECT count(*) FROM device WHERE tenant_id = ?",
        "SELECT count(*) FROM asset WHERE tenant_id = ?",
        "SELECT count(*) FROM edge WHERE tenant_id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_query_int(s, st, count);
}

int store_entity_delete(struct store *s, enum entity_kind kind, const char *id)
{
    static const char *const sql[ENTITY_KINDS] = {
        "DELETE FROM device WHERE id = ?", "DELETE FROM asset WHERE id = ?", "DELETE FROM edge WHERE id = ?",
    };
    if (!kind_ok(kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_changing(s, st);
}

int store_entity_page(struct store *s, enum entity_kind kind, const char *tenant_id, const char *customer_id,
                      const char *type, const char *text_search, const char *sort_column, int descending,
                      int64_t limit, int64_t offset, struct entity **items, size_t *n, int64_t *total)
{
    /* ?1 tenant, ?2 customer or NULL, ?3 type or NULL, ?4 escaped search or NULL. The customer
     * term is written out only when filtering, so SQLite can use the partial customer index. */
    static const char where_tenant[] =
        " WHERE tenant_id = ?1 AND (?3 IS NULL OR type = ?3)"
        " AND (?4 IS NULL OR name LIKE '%' || ?4 || '%' ESCAPE '\\')";
    static const char where_customer[] =
        " WHERE customer_id = ?2 AND tenant_id = ?1 AND (?3 IS NULL OR type = ?3)"
        " AND (?4 IS NULL OR name LIKE '%' || ?4 || '%' ESCAPE '\\')";
    const char *where = customer_id != NULL ? where_customer : where_tenant;
    const char *extra = kind == ENTITY_EDGE ? "routing_key, secret" : "NULL, NULL";
    char count_sql[512], sql[1024];
    sqlite3_stmt *cst = NULL, *st = NULL;
    char *pattern = text_search ? like_escape(text_search) : NULL;
    void *rows;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    if (!kind_ok(kind)) {
        free(pattern);
        return STORE_ERROR;
    }
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) FROM %s%s", table_names[kind], where);
    snprintf(sql, sizeof sql, "SELECT " BASE_COLUMNS ", %s FROM %s%s ORDER BY %s %s, id ASC LIMIT ?5 OFFSET ?6",
             extra, table_names[kind], where, sort_column, descending ? "DESC" : "ASC");

    rc = sqlite3_prepare_v2(s->db, count_sql, -1, &cst, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = store_rc(s, rc);
        goto out;
    }
    bind_text(cst, 1, tenant_id);
    bind_text(cst, 2, customer_id);
    bind_text(cst, 3, type);
    bind_text(cst, 4, pattern);
    rc = store_query_int(s, cst, total);
    if (rc != STORE_OK)
        goto out;
    bind_text(st, 1, tenant_id);
    bind_text(st, 2, customer_id);
    bind_text(st, 3, type);
    bind_text(st, 4, pattern);
    sqlite3_bind_int64(st, 5, limit);
    sqlite3_bind_int64(st, 6, offset);
    rc = store_collect(s, st, sizeof **items, read_row, &kind, free_rows, &rows, n);
    *items = rows;
out:
    sqlite3_finalize(cst);
    sqlite3_finalize(st);
    free(pattern);
    return rc;
}

int store_entity_unassign_customer(struct store *s, enum entity_kind kind, const char *customer_id, int64_t limit,
                                   int64_t *changed)
{
#define UNASSIGN_SOME(table)                                                                        \
    "UPDATE " table " SET customer_id = NULL, version = version + 1 WHERE rowid IN"                 \
    " (SELECT rowid FROM " table " WHERE customer_id = ?1 LIMIT ?2)"
    static const char *const sql[ENTITY_KINDS] = {
        UNASSIGN_SOME("device"), UNASSIGN_SOME("asset"), UNASSIGN_SOME("edge"),
    };
#undef UNASSIGN_SOME
    *changed = 0;
    if (!kind_ok(kind))
        return STORE_ERROR;
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    sqlite3_bind_int64(st, 2, limit);
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
    sqlite3_stmt *st = store_stmt(s, sql[kind]);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_exec_stmt(s, st);
}
