/* store_broker.c: SQL of the broker_account table (store_broker.h). */
#include "cmagent/store_broker.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_broker_issue(struct store *s, const char *username, const char *user_id, const char *key_id,
                       const char *password)
{
    static const char sql[] =
        "INSERT INTO broker_account(username, user_id, key_id, password) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT(username) DO UPDATE SET password = excluded.password, version = broker_account.version + 1";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, username);
    bind_text(st, 2, user_id);
    bind_id(st, 3, key_id);
    bind_text(st, 4, password);
    return store_exec_stmt(s, st);
}

#define STATE_SELECT                                                                                     \
    "SELECT a.username, a.user_id, a.key_id, a.version, a.password, a.rotate, u.id IS NOT NULL,"        \
    " COALESCE(c.enabled, 0), u.authority, u.tenant_id, u.customer_id,"                                 \
    " a.key_id IS NULL OR (k.id IS NOT NULL AND (k.expires_at = 0 OR k.expires_at > ?1)), a.applied"   \
    " FROM broker_account a LEFT JOIN tb_user u ON u.id = a.user_id"                                    \
    " LEFT JOIN user_credentials c ON c.user_id = a.user_id"                                            \
    " LEFT JOIN auth_token k ON k.id = a.key_id AND k.kind = 'api_key'"

static void read_state(sql_stmt *st, void *row, const void *arg)
{
    struct broker_state *b = row;
    (void)arg;
    snprintf(b->username, sizeof b->username, "%s", column_text_ref(st, 0));
    column_id(st, 1, b->user_id);
    column_id(st, 2, b->key_id);
    b->version = column_int64(st, 3);
    b->password = column_text(st, 4);
    b->rotate = column_int(st, 5) != 0;
    bool user = column_int(st, 6) != 0, enabled = column_int(st, 7) != 0;
    bool key_ok = column_int(st, 11) != 0;
    b->presence = !user || !key_ok ? BROKER_ABSENT : enabled ? BROKER_PRESENT : BROKER_DISABLED;
    const char *auth = column_text_ref(st, 8);
    b->authority = auth != NULL ? authority_parse(auth) : AUTHORITY_NONE;
    column_id(st, 9, b->tenant_id);
    column_id(st, 10, b->customer_id);
    b->applied = column_int64(st, 12);
}

void broker_states_free(struct broker_state *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].password);
    free(v);
}

static void free_states(void *rows, size_t n)
{
    broker_states_free(rows, n);
}

int store_broker_states(struct store *s, bool pending_only, const char *after, size_t limit, int64_t now,
                        struct broker_state **out, size_t *n)
{
    static const char pending_sql[] = STATE_SELECT
        " WHERE a.version > a.applied AND a.username > ?2 ORDER BY a.username LIMIT ?3";
    static const char all_sql[] = STATE_SELECT " WHERE a.username > ?2 ORDER BY a.username LIMIT ?3";
    sql_stmt *st = store_stmt(s, pending_only ? pending_sql : all_sql);
    *out = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, now);
    bind_text(st, 2, after);
    bind_int64(st, 3, (int64_t)limit);
    return store_collect(s, st, sizeof **out, read_state, NULL, free_states, (void **)out, n);
}

int store_broker_exists(struct store *s, const char *username, bool *exists)
{
    static const char sql[] = "SELECT count(*) FROM broker_account WHERE username = ?";
    sql_stmt *st = store_stmt(s, sql);
    int64_t c = 0;
    *exists = false;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, username);
    int rc = store_query_int(s, st, &c);
    *exists = c > 0;
    return rc;
}

int store_broker_applied(struct store *s, const char *username, int64_t version, bool absent)
{
    static const char delete_sql[] = "DELETE FROM broker_account WHERE username = ?1 AND version <= ?2";
    static const char applied_sql[] =
        "UPDATE broker_account SET applied = CASE WHEN applied > ?2 THEN applied ELSE ?2 END,"
        " password = CASE WHEN version <= ?2 THEN NULL ELSE password END,"
        " rotate = CASE WHEN version <= ?2 THEN 0 ELSE rotate END WHERE username = ?1";
    sql_stmt *st = store_stmt(s, absent ? delete_sql : applied_sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, username);
    bind_int64(st, 2, version);
    return store_exec_stmt(s, st);
}
