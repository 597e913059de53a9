/* store_mail.c: SQL of the mail_queue table (store_mail.h). */
#include "cmagent/store_mail.h"

#include "store_int.h"

#include <stdlib.h>
#include <string.h>

int store_mail_add(struct store *s, const struct queued_mail *m, const char *claimed_by, int64_t claim_until)
{
    sql_stmt *st = store_stmt(s, "INSERT INTO mail_queue(id, recipient, subject, body, created_time, expires_at,"
                                 " attempts, next_attempt, claimed_by, claim_until)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?5, ?7, ?8)");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, m->id);
    bind_text(st, 2, m->to);
    bind_text(st, 3, m->subject != NULL ? m->subject : "");
    bind_text(st, 4, m->body != NULL ? m->body : "");
    bind_int64(st, 5, m->created_time);
    bind_int64(st, 6, m->expires_at);
    bind_text(st, 7, claimed_by);
    bind_int64(st, 8, claimed_by != NULL ? claim_until : 0);
    return store_exec_stmt(s, st);
}

static void read_mail(sql_stmt *st, void *row, const void *arg)
{
    struct queued_mail *m = row;
    (void)arg;
    column_id(st, 0, m->id);
    m->to = column_text(st, 1);
    m->subject = column_text(st, 2);
    m->body = column_text(st, 3);
    m->created_time = column_int64(st, 4);
    m->expires_at = column_int64(st, 5);
    m->attempts = column_int64(st, 6);
}

static void free_mails(void *rows, size_t n)
{
    store_mail_rows_free(rows, n);
}

void store_mail_rows_free(struct queued_mail *rows, size_t n)
{
    for (size_t i = 0; rows != NULL && i < n; i++) {
        free(rows[i].to);
        free(rows[i].subject);
        free(rows[i].body);
    }
    free(rows);
}

#define MAIL_DUE(lock) \
    "SELECT id, recipient, subject, body, created_time, expires_at, attempts FROM mail_queue" \
    " WHERE next_attempt <= ?1 AND claim_until <= ?1 ORDER BY next_attempt, id LIMIT ?2" lock

static int claim_one(struct store *s, const char *id, const char *claimed_by, int64_t claim_until)
{
    sql_stmt *st = store_stmt(s, "UPDATE mail_queue SET claimed_by = ?2, claim_until = ?3 WHERE id = ?1");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    bind_text(st, 2, claimed_by);
    bind_int64(st, 3, claim_until);
    return store_exec_stmt(s, st);
}

int store_mail_claim(struct store *s, const char *claimed_by, int64_t now, int64_t claim_until, size_t limit,
                     struct queued_mail **rows, size_t *n, int64_t *expired)
{
    struct queued_mail *due = NULL;
    size_t ndue = 0, kept = 0;
    sql_stmt *st = store_stmt_dialect(s, MAIL_DUE(""), MAIL_DUE(" FOR UPDATE SKIP LOCKED"));

    *rows = NULL;
    *n = 0;
    *expired = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, now);
    bind_int64(st, 2, (int64_t)limit);
    int rc = store_collect(s, st, sizeof *due, read_mail, NULL, free_mails, (void **)&due, &ndue);
    for (size_t i = 0; rc == STORE_OK && i < ndue; i++) {
        if (due[i].expires_at <= now) {
            rc = store_mail_delete(s, due[i].id);
            ++*expired;
            free(due[i].to);
            free(due[i].subject);
            free(due[i].body);
            continue;
        }
        rc = claim_one(s, due[i].id, claimed_by, claim_until);
        due[kept++] = due[i];
    }
    if (rc != STORE_OK) {
        store_mail_rows_free(due, kept);
        return rc;
    }
    if (kept == 0) {
        free(due);
        due = NULL;
    }
    *rows = due;
    *n = kept;
    return STORE_OK;
}

int store_mail_delete(struct store *s, const char *id)
{
    sql_stmt *st = store_stmt(s, "DELETE FROM mail_queue WHERE id = ?");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    return store_exec_stmt(s, st);
}

int store_mail_retry(struct store *s, const char *id, int64_t attempts, int64_t next_attempt)
{
    sql_stmt *st = store_stmt(s, "UPDATE mail_queue SET attempts = ?2, next_attempt = ?3, claimed_by = NULL,"
                                 " claim_until = 0 WHERE id = ?1");
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, id);
    bind_int64(st, 2, attempts);
    bind_int64(st, 3, next_attempt);
    return store_exec_stmt(s, st);
}

int store_mail_release_claims(struct store *s, int64_t *released)
{
    sql_stmt *st = store_stmt(s, "UPDATE mail_queue SET claimed_by = NULL, claim_until = 0 WHERE claim_until > 0");
    *released = 0;
    if (st == NULL)
        return STORE_ERROR;
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *released = s->eng->changes(s);
    return rc;
}
