/* store_token.c: SQL of the auth_token table. Rows hold the SHA-256 digest of a token, never the
 * token itself; the kind is stored as 'access', 'refresh' or 'api_key'. */
#include "cmagent/store_token.h"

#include "store_int.h"

#include <stdio.h>
#include <string.h>

#define TOKEN_COLUMNS "digest, id, user_id, kind, pair_id, created_time, expires_at, description, acting_user_id"

static const char *const kind_names[] = { [TOKEN_ACCESS] = "access", [TOKEN_REFRESH] = "refresh",
                                          [TOKEN_API_KEY] = "api_key" };

static enum token_kind kind_parse(const char *name)
{
    for (int k = TOKEN_ACCESS; k <= TOKEN_API_KEY; k++)
        if (name != NULL && strcmp(name, kind_names[k]) == 0)
            return (enum token_kind)k;
    return TOKEN_ACCESS; /* unreachable: the column has a CHECK constraint */
}

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct token *t = row;
    const char *digest = column_text_ref(st, 0);

    (void)arg;
    memset(t, 0, sizeof *t);
    if (digest != NULL)
        snprintf(t->digest, sizeof t->digest, "%s", (const char *)digest);
    column_id(st, 1, t->id);
    column_id(st, 2, t->user_id);
    t->kind = kind_parse(column_text_ref(st, 3));
    column_id(st, 4, t->pair_id);
    t->created_time = column_int64(st, 5);
    t->expires_at = column_int64(st, 6);
    t->description = column_text(st, 7);
    column_id(st, 8, t->acting_user_id);
}

static void free_rows(void *rows, size_t n) { tokens_free(rows, n); }

int store_token_insert(struct store *s, const struct token *t)
{
    static const char sql[] = "INSERT INTO auth_token(" TOKEN_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, t->digest);
    bind_text(st, 2, t->id);
    bind_text(st, 3, t->user_id);
    bind_text(st, 4, kind_names[t->kind]);
    bind_id(st, 5, t->pair_id);
    bind_int64(st, 6, t->created_time);
    bind_int64(st, 7, t->expires_at);
    bind_text(st, 8, t->description);
    bind_id(st, 9, t->acting_user_id);
    return store_exec_stmt(s, st);
}

static int get_one(struct store *s, const char *sql, const char *key, struct token *out)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_get_one(s, st, read_row, NULL, out);
}

int store_token_get_by_digest(struct store *s, const char *digest, struct token *out)
{
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM auth_token WHERE digest = ?";
    return get_one(s, sql, digest, out);
}

int store_token_get(struct store *s, const char *id, struct token *out)
{
    static const char sql[] = "SELECT " TOKEN_COLUMNS " FROM auth_token WHERE id = ?";
    return get_one(s, sql, id, out);
}

/* Runs a cached delete statement whose only parameter is key. */
static int delete_where(struct store *s, const char *sql, const char *key)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_exec_stmt(s, st);
}

int store_token_delete(struct store *s, const char *id)
{
    static const char sql[] = "DELETE FROM auth_token WHERE id = ?";
    int rc = delete_where(s, sql, id);
    if (rc == STORE_OK && store_changes(s) == 0)
        return STORE_NOT_FOUND;
    return rc;
}

int store_token_delete_pair(struct store *s, const char *pair_id)
{
    static const char sql[] = "DELETE FROM auth_token WHERE pair_id = ?";
    return delete_where(s, sql, pair_id);
}

int store_token_delete_by_user(struct store *s, const char *user_id, bool sessions_only)
{
    /* The tokens user.token issued at the user's request go with the user's own sessions. */
    static const char all_sql[] = "DELETE FROM auth_token WHERE user_id = ?1 OR acting_user_id = ?1";
    static const char sessions_sql[] =
        "DELETE FROM auth_token WHERE (user_id = ?1 AND kind IN ('access', 'refresh')) OR acting_user_id = ?1";
    return delete_where(s, sessions_only ? sessions_sql : all_sql, user_id);
}

int store_token_list_api_keys(struct store *s, const char *user_id, struct token **items, size_t *n)
{
    static const char sql[] =
        "SELECT " TOKEN_COLUMNS " FROM auth_token WHERE user_id = ? AND kind = 'api_key'"
        " ORDER BY created_time DESC, id DESC";
    sql_stmt *st = store_stmt(s, sql);
    void *rows;

    if (st != NULL)
        bind_text(st, 1, user_id);
    int rc = store_collect(s, st, sizeof **items, read_row, NULL, free_rows, &rows, n);
    *items = rows;
    return rc;
}

int store_token_count_api_keys(struct store *s, const char *user_id, int64_t *count)
{
    static const char sql[] = "SELECT COUNT(*) FROM auth_token WHERE user_id = ? AND kind = 'api_key'";
    sql_stmt *st = store_stmt(s, sql);
    if (st != NULL)
        bind_text(st, 1, user_id);
    return store_query_int(s, st, count);
}

int store_token_purge_expired(struct store *s, int64_t now, int64_t *deleted)
{
    static const char sql[] = "DELETE FROM auth_token WHERE expires_at > 0 AND expires_at <= ?";
    sql_stmt *st = store_stmt(s, sql);
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, now);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
