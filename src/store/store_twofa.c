/* store_twofa.c: SQL of the twofa_account, twofa_challenge and twofa_settings tables (migrations 11
 * and 12). */
#include "cmagent/store_twofa.h"

#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNT_COLUMNS "user_id, totp_secret, backup_codes, email, totp_last_step"
#define CHALLENGE_COLUMNS \
    "digest, user_id, expires_at, code_digest, code_expires_at, sent_count, last_sent_at, purpose"

void twofa_account_release(struct twofa_account *a)
{
    free(a->totp_secret);
    free(a->backup_codes);
    free(a->email);
    memset(a, 0, sizeof *a);
}

void twofa_challenge_release(struct twofa_challenge *c)
{
    free(c->code_digest);
    memset(c, 0, sizeof *c);
}

static void read_account(sql_stmt *st, void *row, const void *arg)
{
    struct twofa_account *a = row;
    (void)arg;
    memset(a, 0, sizeof *a);
    column_id(st, 0, a->user_id);
    a->totp_secret = column_text(st, 1);
    a->backup_codes = column_text(st, 2);
    a->email = column_text(st, 3);
    a->totp_last_step = column_int64(st, 4);
}

int store_twofa_get(struct store *s, const char *user_id, struct twofa_account *out)
{
    sql_stmt *st =
        store_stmt_for_update(s, STORE_SQL_AND_FOR_UPDATE("SELECT " ACCOUNT_COLUMNS " FROM twofa_account WHERE user_id = ?"));
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, user_id);
    return store_get_one(s, st, read_account, NULL, out);
}

static int by_key(struct store *s, const char *sql, const char *key)
{
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, key);
    return store_exec_stmt(s, st);
}

int store_twofa_delete(struct store *s, const char *user_id)
{
    static const char sql[] = "DELETE FROM twofa_account WHERE user_id = ?";
    return by_key(s, sql, user_id);
}

int store_twofa_save(struct store *s, const struct twofa_account *a)
{
    static const char sql[] = "INSERT INTO twofa_account(" ACCOUNT_COLUMNS ") VALUES (?,?,?,?,?)"
                              " ON CONFLICT (user_id) DO UPDATE SET totp_secret = excluded.totp_secret,"
                              " backup_codes = excluded.backup_codes, email = excluded.email,"
                              " totp_last_step = excluded.totp_last_step";
    if (a->totp_secret == NULL && a->backup_codes == NULL && a->email == NULL)
        return store_twofa_delete(s, a->user_id);
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, a->user_id);
    bind_text(st, 2, a->totp_secret);
    bind_text(st, 3, a->backup_codes);
    bind_text(st, 4, a->email);
    bind_int64(st, 5, a->totp_last_step);
    return store_exec_stmt(s, st);
}

static void read_challenge(sql_stmt *st, void *row, const void *arg)
{
    struct twofa_challenge *c = row;
    char *digest = column_text(st, 0);
    (void)arg;
    memset(c, 0, sizeof *c);
    snprintf(c->digest, sizeof c->digest, "%s", digest != NULL ? digest : "");
    free(digest);
    column_id(st, 1, c->user_id);
    c->expires_at = column_int64(st, 2);
    c->code_digest = column_text(st, 3);
    c->code_expires_at = column_int64(st, 4);
    c->sent_count = column_int64(st, 5);
    c->last_sent_at = column_int64(st, 6);
    char *purpose = column_text(st, 7);
    c->config_only = purpose != NULL && strcmp(purpose, "config") == 0;
    free(purpose);
}

/* Binds the columns of c in CHALLENGE_COLUMNS order from index 1. */
static void bind_challenge(sql_stmt *st, const struct twofa_challenge *c)
{
    bind_text(st, 1, c->digest);
    bind_text(st, 2, c->user_id);
    bind_int64(st, 3, c->expires_at);
    bind_text(st, 4, c->code_digest);
    bind_int64(st, 5, c->code_expires_at);
    bind_int64(st, 6, c->sent_count);
    bind_int64(st, 7, c->last_sent_at);
    bind_text(st, 8, c->config_only ? "config" : "login");
}

int store_twofa_challenge_insert(struct store *s, const struct twofa_challenge *c)
{
    static const char sql[] = "INSERT INTO twofa_challenge(" CHALLENGE_COLUMNS ") VALUES (?,?,?,?,?,?,?,?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_challenge(st, c);
    return store_exec_stmt(s, st);
}

int store_twofa_challenge_update(struct store *s, const struct twofa_challenge *c)
{
    static const char sql[] = "INSERT INTO twofa_challenge(" CHALLENGE_COLUMNS ") VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at,"
        " code_digest = excluded.code_digest, code_expires_at = excluded.code_expires_at,"
        " sent_count = excluded.sent_count, last_sent_at = excluded.last_sent_at, purpose = excluded.purpose";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_challenge(st, c);
    return store_exec_stmt(s, st);
}

static int get_challenge(struct store *s, const char *sql, const char *sql_for_update, const char *digest,
                         struct twofa_challenge *out)
{
    sql_stmt *st = store_stmt_for_update(s, sql, sql_for_update);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, digest);
    return store_get_one(s, st, read_challenge, NULL, out);
}

int store_twofa_challenge_get(struct store *s, const char *digest, struct twofa_challenge *out)
{
    static const char sql[] = "SELECT " CHALLENGE_COLUMNS " FROM twofa_challenge WHERE digest = ?";
    return get_challenge(s, sql, sql, digest, out);
}

int store_twofa_challenge_get_for_update(struct store *s, const char *digest, struct twofa_challenge *out)
{
    return get_challenge(s, STORE_SQL_AND_FOR_UPDATE("SELECT " CHALLENGE_COLUMNS " FROM twofa_challenge WHERE digest = ?"),
                         digest, out);
}

int store_twofa_challenge_delete(struct store *s, const char *digest)
{
    static const char sql[] = "DELETE FROM twofa_challenge WHERE digest = ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, digest);
    return store_exec_changing(s, st);
}

int store_twofa_challenge_delete_by_user(struct store *s, const char *user_id)
{
    static const char sql[] = "DELETE FROM twofa_challenge WHERE user_id = ?";
    return by_key(s, sql, user_id);
}

int store_twofa_challenge_purge(struct store *s, int64_t now)
{
    static const char sql[] = "DELETE FROM twofa_challenge WHERE expires_at < ?";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, now);
    return store_exec_stmt(s, st);
}

static void read_settings(sql_stmt *st, void *row, const void *arg)
{
    struct twofa_settings *t = row;
    char *providers = column_text(st, 0);
    (void)arg;
    snprintf(t->providers, sizeof t->providers, "%s", providers != NULL ? providers : "");
    free(providers);
    t->code_lifetime_s = column_int64(st, 1);
    t->total_time_s = column_int64(st, 2);
    t->send_period_s = column_int64(st, 3);
    t->max_sends = column_int64(st, 4);
    t->enforce = column_int64(st, 5) != 0;
    char *filter = column_text(st, 6);
    snprintf(t->enforce_filter, sizeof t->enforce_filter, "%s", filter != NULL ? filter : "ALL");
    free(filter);
    column_id(st, 7, t->enforce_tenant);
}

int store_twofa_settings_get(struct store *s, struct twofa_settings *out)
{
    static const char sql[] = "SELECT providers, code_lifetime_s, total_time_s, send_period_s, max_sends,"
                              " enforce, enforce_filter, enforce_tenant FROM twofa_settings WHERE id = 1";
    sql_stmt *st = store_stmt(s, sql);
    return st == NULL ? STORE_ERROR : store_get_one(s, st, read_settings, NULL, out);
}

int store_twofa_settings_save(struct store *s, const struct twofa_settings *in)
{
    static const char sql[] = "INSERT INTO twofa_settings(id, providers, code_lifetime_s, total_time_s,"
                              " send_period_s, max_sends, enforce, enforce_filter, enforce_tenant)"
                              " VALUES (1,?,?,?,?,?,?,?,?)"
                              " ON CONFLICT (id) DO UPDATE SET providers = excluded.providers,"
                              " code_lifetime_s = excluded.code_lifetime_s, total_time_s = excluded.total_time_s,"
                              " send_period_s = excluded.send_period_s, max_sends = excluded.max_sends,"
                              " enforce = excluded.enforce, enforce_filter = excluded.enforce_filter,"
                              " enforce_tenant = excluded.enforce_tenant";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, in->providers);
    bind_int64(st, 2, in->code_lifetime_s);
    bind_int64(st, 3, in->total_time_s);
    bind_int64(st, 4, in->send_period_s);
    bind_int64(st, 5, in->max_sends);
    bind_int(st, 6, in->enforce);
    bind_text(st, 7, in->enforce_filter);
    bind_id(st, 8, in->enforce_tenant);
    return store_exec_stmt(s, st);
}
