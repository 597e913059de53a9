/* store_tenant.h: queries of the tenant table, and the SQL cascade that deletes a tenant with its
 * customers and users (their credentials and tokens follow by ON DELETE CASCADE). */
#ifndef CMAGENT_STORE_TENANT_H
#define CMAGENT_STORE_TENANT_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stddef.h>
#include <stdint.h>

int store_tenant_insert(struct store *s, const struct tenant *t);
/* Holds the tenant's row until the transaction ends (PostgreSQL: FOR NO KEY UPDATE, which inserts
 * referencing the tenant do not wait for; SQLite's write transaction holds the whole database),
 * so that of two agents checking a limit of the tenant's rows at once the second counts after the
 * first's commit. */
int store_tenant_lock(struct store *s, const char *id);
/* Writes every field of t over the row with t->id (version included). It writes only over the
 * version before t's (version - 1): STORE_NOT_FOUND when the row is gone or another write (another
 * agent's) changed it since it was read. */
int store_tenant_update(struct store *s, const struct tenant *t);
/* STORE_NOT_FOUND when no tenant has this id. out is filled only on STORE_OK. */
/* STORE_NOT_FOUND also for a deleted tenant whose rows are still being deleted (store_tenant_job.h),
 * as the listings and the count leave it out. */
int store_tenant_get(struct store *s, const char *id, struct tenant *out);
int store_tenant_count(struct store *s, int64_t *count);

/* One page of tenants: title contains text_search (case-insensitive, NULL: all), ordered by
 * sort_column (a trusted column name) then id. *total counts all matches. The caller frees *items
 * with tenants_free(). */
int store_tenant_page(struct store *s, const char *text_search, const char *sort_column, int descending,
                      int64_t limit, int64_t offset, struct tenant **items, size_t *n, int64_t *total);

#endif
