/* store_audit.h: queries of the audit_log table and of the password_history table. */
#ifndef CMAGENT_STORE_AUDIT_H
#define CMAGENT_STORE_AUDIT_H

#include "cmagent/audit.h"
#include "cmagent/store.h"

#include <stddef.h>
#include <stdint.h>

int store_audit_insert(struct store *s, const struct audit_row *r);

/* One tenant's rows matching f, ordered by created_time (descending when asked) then id; *total
 * counts every match. The caller frees *items with audit_rows_free(). */
int store_audit_page(struct store *s, const char *tenant_id, const struct audit_filter *f, int descending,
                     int64_t limit, int64_t offset, struct audit_row **items, size_t *n, int64_t *total);

int store_audit_purge(struct store *s, int64_t before_ts, int64_t *deleted);

/* Password history (the reuse rule): adds a hash, and lists the hashes set since since_ts. */
int store_password_history_add(struct store *s, const char *user_id, const char *hash, int64_t ts);
/* Deletes the user's history rows older than before_ts. */
int store_password_history_prune(struct store *s, const char *user_id, int64_t before_ts);
int store_password_history_since(struct store *s, const char *user_id, int64_t since_ts, char ***hashes,
                                 size_t *n);
void password_hashes_free(char **hashes, size_t n);

#endif
