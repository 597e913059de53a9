/* store_mail.h: the mail_queue table (migration 16), the durable queue of the mails no reply waits
 * for. A mail is added in the transaction of the write that composed it, claimed by one agent's
 * writer for a lease, and deleted once sent, rescheduled after a failure, or dropped past its
 * expiry. Bodies hold secrets (reset links, two-factor codes, activation links): a row lasts until
 * the mail is sent, dropped or expired, no longer. */
#ifndef CMAGENT_STORE_MAIL_H
#define CMAGENT_STORE_MAIL_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stddef.h>
#include <stdint.h>

/* A queued mail. */
struct queued_mail {
    char id[UUID_STR_LEN];
    char *to, *subject, *body;     /* heap */
    int64_t created_time;
    int64_t expires_at;            /* ms; past it the mail is dropped, not sent */
    int64_t attempts;              /* failed sends so far */
};

/* Adds m (attempts 0, due at once). claimed_by non-NULL: claimed by that agent until claim_until
 * (the writer that composed it sends it right after its commit); NULL: unclaimed. */
int store_mail_add(struct store *s, const struct queued_mail *m, const char *claimed_by, int64_t claim_until);

/* Claims up to limit rows due at now (next_attempt reached, no claim or a claim past its
 * claim_until) for claimed_by until claim_until, oldest due first; on PostgreSQL rows another
 * agent's transaction is claiming are skipped (FOR UPDATE SKIP LOCKED). Rows already past their
 * expiry are deleted instead and counted in *expired. *rows (free with store_mail_rows_free) and *n
 * are the claimed ones. */
int store_mail_claim(struct store *s, const char *claimed_by, int64_t now, int64_t claim_until, size_t limit,
                     struct queued_mail **rows, size_t *n, int64_t *expired);

/* A sent (or dropped) mail's row is deleted; one that is gone already is no error. */
int store_mail_delete(struct store *s, const char *id);

/* A failed mail: its attempts set, due again at next_attempt, its claim released. */
int store_mail_retry(struct store *s, const char *id, int64_t attempts, int64_t next_attempt);

/* Releases every claim (a single agent's start on SQLite: any claim is of a process that died). */
int store_mail_release_claims(struct store *s, int64_t *released);

void store_mail_rows_free(struct queued_mail *rows, size_t n);

#endif
