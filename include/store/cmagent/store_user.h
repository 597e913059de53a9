/* store_user.h: queries of the tb_user and user_credentials tables. Deleting a user deletes its
 * credentials and tokens through ON DELETE CASCADE. */
#ifndef CMAGENT_STORE_USER_H
#define CMAGENT_STORE_USER_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stddef.h>
#include <stdint.h>

/* STORE_DUPLICATE when the id or the e-mail is taken (e-mails are unique across all tenants). */
int store_user_insert(struct store *s, const struct user *u);
/* Writes every field of u over the row with u->id (version included). It writes only over the
 * version before u's (version - 1): STORE_NOT_FOUND when the row is gone or another write (another
 * agent's) changed it since it was read. */
int store_user_update(struct store *s, const struct user *u);
/* Holds the user's row until the transaction ends, as store_tenant_lock holds a tenant's (a limit
 * of the user's own rows: its API keys). */
int store_user_lock(struct store *s, const char *id);
int store_user_get(struct store *s, const char *id, struct user *out);
int store_user_get_by_email(struct store *s, const char *email, struct user *out);
/* STORE_NOT_FOUND when no user has this id. */
int store_user_delete(struct store *s, const char *id);
/* Deletes every user of the customer (none is not an error). */
int store_user_delete_by_customer(struct store *s, const char *customer_id);

int store_user_count_all(struct store *s, int64_t *count);
int store_user_count_by_tenant(struct store *s, const char *tenant_id, int64_t *count);
int store_user_count_tenant_admins(struct store *s, const char *tenant_id, int64_t *count);

/* Pages of users: email contains text_search (case-insensitive, NULL: all), ordered by sort_column
 * (a trusted column name) then id. *total counts all matches. The caller frees *items with
 * users_free(). by_tenant: every authority; tenant_admins: TENANT_ADMIN only; by_customer:
 * CUSTOMER_USER users of that customer. */
int store_user_page_by_tenant(struct store *s, const char *tenant_id, const char *text_search,
                              const char *sort_column, int descending, int64_t limit, int64_t offset,
                              struct user **items, size_t *n, int64_t *total);
int store_user_page_tenant_admins(struct store *s, const char *tenant_id, const char *text_search,
                                  const char *sort_column, int descending, int64_t limit, int64_t offset,
                                  struct user **items, size_t *n, int64_t *total);
int store_user_page_by_customer(struct store *s, const char *customer_id, const char *text_search,
                                const char *sort_column, int descending, int64_t limit, int64_t offset,
                                struct user **items, size_t *n, int64_t *total);

/* Credentials, one row per user. */
int store_credentials_insert(struct store *s, const struct credentials *c);
/* Writes every field of c over the row of c->user_id. STORE_NOT_FOUND when absent. */
int store_credentials_update(struct store *s, const struct credentials *c);
int store_credentials_get(struct store *s, const char *user_id, struct credentials *out);
/* The credentials a write goes on to change (activation, password change or reset, enabling):
 * on PostgreSQL locked until the transaction ends, so that agents sharing the database change them
 * one after the other, each from what the one before committed. The by-token reads lock too. */
int store_credentials_get_for_update(struct store *s, const char *user_id, struct credentials *out);
/* One more failed login of user_id, counted in the row itself (failed_login_attempts + 1), so that
 * agents counting at once on one database lose no miss: *attempts receives the new count and
 * *enabled whether the account is enabled. STORE_NOT_FOUND when the user is gone. */
int store_credentials_count_failed(struct store *s, const char *user_id, int64_t *attempts, bool *enabled);
/* Disables an enabled account (the lockout): STORE_NOT_FOUND when it was disabled already, so that
 * of two agents locking it at once one does. */
int store_credentials_lock(struct store *s, const char *user_id);
/* A successful login of an enabled account: last_login_ts and no failed attempts. STORE_NOT_FOUND
 * when the account was disabled (locked) meanwhile. */
int store_credentials_login_ok(struct store *s, const char *user_id, int64_t ts);
int store_credentials_get_by_activate_token(struct store *s, const char *token, struct credentials *out);
int store_credentials_get_by_reset_token(struct store *s, const char *token, struct credentials *out);

/* The tenant of the user an e-mail, an activation token, a reset token or an access token's digest
 * names, read alone (no other column): STORE_NOT_FOUND when none does. */
enum user_key { USER_BY_EMAIL, USER_BY_ACTIVATE_TOKEN, USER_BY_RESET_TOKEN, USER_BY_TOKEN_DIGEST };
int store_user_tenant_of(struct store *s, enum user_key by, const char *key, char tenant_id[UUID_STR_LEN]);

#endif
