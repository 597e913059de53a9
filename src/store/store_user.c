/* store_user.c: SQL of the tb_user table (users of every authority) and of user_credentials
 * (password hash, activation and reset tokens, login bookkeeping). */
#include "cmagent/store_user.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS \
    "id, created_time, tenant_id, customer_id, email, authority, first_name, last_name, phone," \
    " additional_info, version"

#define CREDENTIALS_COLUMNS \
    "user_id, enabled, password_hash, activate_token, activate_token_exp, reset_token, reset_token_exp," \
    " last_login_ts, failed_login_attempts"

/* The textSearch filter of every user listing, as ThingsBoard's /users/info: the text within the
 * e-mail, the first or the last name, ASCII case ignored. ?2 is the LIKE-escaped text or NULL. */
#define TEXT_MATCH                                                                               \
    "(CAST(?2 AS TEXT) IS NULL OR email LIKE '%' || ?2 || '%' ESCAPE '\\'"                                      \
    " OR first_name LIKE '%' || ?2 || '%' ESCAPE '\\' OR last_name LIKE '%' || ?2 || '%' ESCAPE '\\')"

/* ------------------------------------------------------------------ users */

static void read_user(sql_stmt *st, void *row, const void *arg)
{
    struct user *u = row;
    (void)arg;
    memset(u, 0, sizeof *u);
    column_id(st, 0, u->id);
    u->created_time = column_int64(st, 1);
    column_id(st, 2, u->tenant_id);
    column_id(st, 3, u->customer_id);
    u->email = column_text(st, 4);
    u->authority = authority_parse(column_text_ref(st, 5));
    u->first_name = column_text(st, 6);
    u->last_name = column_text(st, 7);
    u->phone = column_text(st, 8);
    u->additional_info = column_text(st, 9);
    u->version = column_int64(st, 10);
}

static void free_users(void *rows, size_t n) { users_free(rows, n); }

/* Binds the 11 columns in USER_COLUMNS order, starting at parameter 1. */
static void bind_user(sql_stmt *st, const struct user *u)
{
    bind_text(st, 1, u->id);
    bind_int64(st, 2, u->created_time);
    bind_text(st, 3, u->tenant_id);
    bind_text(st, 4, u->customer_id);
    bind_text(st, 5, u->email);
    bind_text(st, 6, authority_name(u->authority));
    bind_text(st, 7, u->first_name);
    bind_text(st, 8, u->last_name);
    bind_text(st, 9, u->phone);
    bind_text(st, 10, u->additional_info);
    bind_int64(st, 11, u->version);
}

int store_user_insert(struct store *s, const struct user *u)
{
    static const char sql[] = "INSERT INTO tb_user(" USER_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_user(st, u);
    return store_exec_stmt(s, st);
}

int store_user_update(struct store *s, const struct user *u)
{
    static const char sql[] =
        "UPDATE tb_user SET created_time = ?2, tenant_id = ?3, customer_id = ?4, email = ?5, authority = ?6,"
        " first_name = ?7, last_name = ?8, phone = ?9, additional_info = ?10, version = ?11"
        " WHERE id = ?1 AND version + 1 = ?11";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_user(st, u);
    return store_exec_changing(s, st);
}

int store_user_lock(struct store *s, const char *id)
{
    sql_stmt *st = store_stmt_dialect(s, "SELECT id FROM tb_user WHERE id = ?",
                                      "SELECT id FROM tb_user WHERE id = ? FOR NO KEY UPDATE");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_stmt(s, st);
}

int store_user_get(struct store *s, const char *id, struct user *out)
{
    static const char sql[] = "SELECT " USER_COLUMNS " FROM tb_user WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_get_one(s, st, read_user, NULL, out);
}

int store_user_get_by_email(struct store *s, const char *email, struct user *out)
{
    static const char sql[] = "SELECT " USER_COLUMNS " FROM tb_user WHERE email = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, email);
    return store_get_one(s, st, read_user, NULL, out);
}

int store_user_delete(struct store *s, const char *id)
{
    static const char sql[] = "DELETE FROM tb_user WHERE id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_changing(s, st);
}

int store_user_delete_by_customer(struct store *s, const char *customer_id)
{
    static const char sql[] = "DELETE FROM tb_user WHERE customer_id = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, customer_id);
    return store_exec_stmt(s, st);
}

int store_user_count_all(struct store *s, int64_t *count)
{
    static const char sql[] = "SELECT count(*) FROM tb_user";
    return store_query_int(s, store_stmt(s, sql), count);
}

/* Runs a cached "SELECT count(*) ... WHERE ... = ?1" for key. */
static int count_where(struct store *s, const char *sql, const char *key, int64_t *count)
{
    sql_stmt *st = store_stmt(s, sql);
    *count = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_query_int(s, st, count);
}

int store_user_count_by_tenant(struct store *s, const char *tenant_id, int64_t *count)
{
    static const char sql[] = "SELECT count(*) FROM tb_user WHERE tenant_id = ?1";
    return count_where(s, sql, tenant_id, count);
}

int store_user_count_tenant_admins(struct store *s, const char *tenant_id, int64_t *count)
{
    static const char sql[] = "SELECT count(*) FROM tb_user WHERE tenant_id = ?1 AND authority = 'TENANT_ADMIN'";
    return count_where(s, sql, tenant_id, count);
}

/* ------------------------------------------------------------------ listings */

/* A listing: its filter on ?1 (a trusted SQL fragment) and the cached count statement using it. */
struct user_listing {
    const char *where;
    const char *count_sql;
};

#define WHERE_TENANT "tenant_id = ?1"
#define WHERE_TENANT_ADMINS "tenant_id = ?1 AND authority = 'TENANT_ADMIN'"
#define WHERE_CUSTOMER "customer_id = ?1 AND authority = 'CUSTOMER_USER'"
#define COUNT_SQL(where) "SELECT count(*) FROM tb_user WHERE " where " AND " TEXT_MATCH

static const struct user_listing by_tenant = { WHERE_TENANT, COUNT_SQL(WHERE_TENANT) };
static const struct user_listing tenant_admins = { WHERE_TENANT_ADMINS, COUNT_SQL(WHERE_TENANT_ADMINS) };
static const struct user_listing by_customer = { WHERE_CUSTOMER, COUNT_SQL(WHERE_CUSTOMER) };

static int read_users(struct store *s, sql_stmt *st, struct user **items, size_t *n)
{
    void *rows;
    int rc = store_collect(s, st, sizeof **items, read_user, NULL, free_users, &rows, n);
    *items = rows;
    return rc;
}

static int page_users(struct store *s, const struct user_listing *l, const char *key, const char *text_search,
                      const char *sort_column, int descending, int64_t limit, int64_t offset,
                      struct user **items, size_t *n, int64_t *total)
{
    char sql[1024];
    sql_stmt *st = NULL;
    char *pattern = text_search ? like_escape(text_search) : NULL;
    int rc;

    *items = NULL;
    *n = 0;
    *total = 0;
    sql_stmt *cst = store_stmt(s, l->count_sql);
    if (cst == NULL) {
        rc = STORE_ERROR;
        goto out;
    }
    bind_text(cst, 1, key);
    bind_text(cst, 2, pattern);
    rc = store_query_int(s, cst, total);
    if (rc != STORE_OK)
        goto out;

    snprintf(sql, sizeof sql,
             "SELECT " USER_COLUMNS " FROM tb_user WHERE %s AND %s ORDER BY %s %s, id ASC LIMIT ?3 OFFSET ?4",
             l->where, TEXT_MATCH, sort_column, descending ? "DESC" : "ASC");
    rc = sql_prepare(s, sql, &st);
    if (rc != STORE_OK) {
        goto out;
    }
    bind_text(st, 1, key);
    bind_text(st, 2, pattern);
    bind_int64(st, 3, limit);
    bind_int64(st, 4, offset);
    rc = read_users(s, st, items, n);
out:
    sql_finalize(st);
    free(pattern);
    return rc;
}

int store_user_page_by_tenant(struct store *s, const char *tenant_id, const char *text_search,
                              const char *sort_column, int descending, int64_t limit, int64_t offset,
                              struct user **items, size_t *n, int64_t *total)
{
    return page_users(s, &by_tenant, tenant_id, text_search, sort_column, descending, limit, offset,
                      items, n, total);
}

int store_user_page_tenant_admins(struct store *s, const char *tenant_id, const char *text_search,
                                  const char *sort_column, int descending, int64_t limit, int64_t offset,
                                  struct user **items, size_t *n, int64_t *total)
{
    return page_users(s, &tenant_admins, tenant_id, text_search, sort_column, descending, limit, offset,
                      items, n, total);
}

int store_user_page_by_customer(struct store *s, const char *customer_id, const char *text_search,
                                const char *sort_column, int descending, int64_t limit, int64_t offset,
                                struct user **items, size_t *n, int64_t *total)
{
    return page_users(s, &by_customer, customer_id, text_search, sort_column, descending, limit, offset,
                      items, n, total);
}

/* ------------------------------------------------------------------ credentials */

static void read_credentials(sql_stmt *st, void *row, const void *arg)
{
    struct credentials *c = row;
    (void)arg;
    memset(c, 0, sizeof *c);
    column_id(st, 0, c->user_id);
    c->enabled = column_int(st, 1) != 0;
    c->password_hash = column_text(st, 2);
    c->activate_token = column_text(st, 3);
    c->activate_token_exp = column_int64(st, 4);
    c->reset_token = column_text(st, 5);
    c->reset_token_exp = column_int64(st, 6);
    c->last_login_ts = column_int64(st, 7);
    c->failed_login_attempts = column_int64(st, 8);
}

/* Binds the 9 columns in CREDENTIALS_COLUMNS order, starting at parameter 1. */
static void bind_credentials(sql_stmt *st, const struct credentials *c)
{
    bind_text(st, 1, c->user_id);
    bind_int(st, 2, c->enabled);
    bind_text(st, 3, c->password_hash);
    bind_text(st, 4, c->activate_token);
    bind_int64(st, 5, c->activate_token_exp);
    bind_text(st, 6, c->reset_token);
    bind_int64(st, 7, c->reset_token_exp);
    bind_int64(st, 8, c->last_login_ts);
    bind_int64(st, 9, c->failed_login_attempts);
}

int store_credentials_insert(struct store *s, const struct credentials *c)
{
    static const char sql[] = "INSERT INTO user_credentials(" CREDENTIALS_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_credentials(st, c);
    return store_exec_stmt(s, st);
}

int store_credentials_update(struct store *s, const struct credentials *c)
{
    static const char sql[] =
        "UPDATE user_credentials SET enabled = ?2, password_hash = ?3, activate_token = ?4,"
        " activate_token_exp = ?5, reset_token = ?6, reset_token_exp = ?7, last_login_ts = ?8,"
        " failed_login_attempts = ?9 WHERE user_id = ?1";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_credentials(st, c);
    return store_exec_changing(s, st);
}

struct failed_count {
    int64_t attempts;
    bool enabled;
};

static void read_failed_count(sql_stmt *st, void *row, const void *arg)
{
    struct failed_count *f = row;
    (void)arg;
    f->attempts = column_int64(st, 0);
    f->enabled = column_int(st, 1) != 0;
}

int store_credentials_count_failed(struct store *s, const char *user_id, int64_t *attempts, bool *enabled)
{
    static const char sql[] = "UPDATE user_credentials SET failed_login_attempts = failed_login_attempts + 1"
                              " WHERE user_id = ? RETURNING failed_login_attempts, enabled";
    struct failed_count f = { 0 };
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    int rc = store_get_one(s, st, read_failed_count, NULL, &f);
    *attempts = f.attempts;
    *enabled = f.enabled;
    return rc;
}

int store_credentials_lock(struct store *s, const char *user_id)
{
    static const char sql[] = "UPDATE user_credentials SET enabled = 0 WHERE user_id = ? AND enabled <> 0";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    return store_exec_changing(s, st);
}

int store_credentials_login_ok(struct store *s, const char *user_id, int64_t ts)
{
    static const char sql[] = "UPDATE user_credentials SET last_login_ts = ?2, failed_login_attempts = 0"
                              " WHERE user_id = ?1 AND enabled <> 0";
    sql_stmt *st = store_stmt_text_int(s, sql, user_id, ts);
    return st != NULL ? store_exec_changing(s, st) : STORE_ERROR;
}

static int get_credentials(struct store *s, const char *sql, const char *sql_for_update, const char *key,
                           struct credentials *out)
{
    sql_stmt *st = store_stmt_for_update(s, sql, sql_for_update);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_get_one(s, st, read_credentials, NULL, out);
}

int store_credentials_get(struct store *s, const char *user_id, struct credentials *out)
{
    static const char sql[] = "SELECT " CREDENTIALS_COLUMNS " FROM user_credentials WHERE user_id = ?";
    return get_credentials(s, sql, sql, user_id, out);
}

int store_credentials_get_for_update(struct store *s, const char *user_id, struct credentials *out)
{
    return get_credentials(s, STORE_SQL_AND_FOR_UPDATE("SELECT " CREDENTIALS_COLUMNS " FROM user_credentials WHERE user_id = ?"),
                           user_id, out);
}

int store_credentials_get_by_activate_token(struct store *s, const char *token, struct credentials *out)
{
    return get_credentials(s, STORE_SQL_AND_FOR_UPDATE("SELECT " CREDENTIALS_COLUMNS " FROM user_credentials WHERE activate_token = ?"),
                           token, out);
}

int store_credentials_get_by_reset_token(struct store *s, const char *token, struct credentials *out)
{
    return get_credentials(s, STORE_SQL_AND_FOR_UPDATE("SELECT " CREDENTIALS_COLUMNS " FROM user_credentials WHERE reset_token = ?"),
                           token, out);
}

static void read_id(sql_stmt *st, void *row, const void *arg)
{
    (void)arg;
    column_id(st, 0, row);
}

int store_user_tenant_of(struct store *s, enum user_key by, const char *key, char tenant_id[UUID_STR_LEN])
{
    static const char *const sql[] = {
        [USER_BY_EMAIL] = "SELECT tenant_id FROM tb_user WHERE email = ?",
        [USER_BY_ACTIVATE_TOKEN] = "SELECT u.tenant_id FROM user_credentials c JOIN tb_user u ON u.id = c.user_id"
                                   " WHERE c.activate_token = ?",
        [USER_BY_RESET_TOKEN] = "SELECT u.tenant_id FROM user_credentials c JOIN tb_user u ON u.id = c.user_id"
                                " WHERE c.reset_token = ?",
        [USER_BY_TOKEN_DIGEST] = "SELECT u.tenant_id FROM auth_token t JOIN tb_user u ON u.id = t.user_id"
                                 " WHERE t.digest = ?",
    };
    sql_stmt *st = store_stmt(s, sql[by]);
    tenant_id[0] = '\0';
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_get_one(s, st, read_id, NULL, tenant_id);
}
