/* store_customer.h: queries of the customer table. */
#ifndef CMAGENT_STORE_CUSTOMER_H
#define CMAGENT_STORE_CUSTOMER_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stddef.h>
#include <stdint.h>

int store_customer_insert(struct store *s, const struct customer *c);
/* Writes every field of c over the row with c->id (version included). It writes only over the
 * version before c's (version - 1): STORE_NOT_FOUND when the row is gone or another write (another
 * agent's) changed it since it was read. */
int store_customer_update(struct store *s, const struct customer *c);
/* Holds the customer's row for a delete (PostgreSQL FOR UPDATE): it waits for the writes that read
 * the customer to give it a user or an entity (store_customer_get share-locks it) and, once they
 * committed, the delete's next statements see what they added. */
int store_customer_lock(struct store *s, const char *id);
int store_customer_get(struct store *s, const char *id, struct customer *out);
int store_customer_get_by_title(struct store *s, const char *tenant_id, const char *title, struct customer *out);
int store_customer_exists_external_id(struct store *s, const char *tenant_id, const char *external_id,
                                      const char *except_id, int *exists);
/* Every title of the tenant that starts with prefix (for UNIQUIFY). Caller frees each and the array. */
int store_customer_titles_with_prefix(struct store *s, const char *tenant_id, const char *prefix,
                                      char ***titles, size_t *n);
/* The tenant's number of customers, kept by the store (no COUNT). */
int store_customer_count(struct store *s, const char *tenant_id, int64_t *count);

/* One page of the tenant's customers: title contains text_search (case-insensitive, NULL: all),
 * ordered by sort_column (a trusted column name) then id. *total counts all matches: the count
 * kept by the store without text_search, a COUNT with it. */
int store_customer_page(struct store *s, const char *tenant_id, const char *text_search,
                        const char *sort_column, int descending, int64_t limit, int64_t offset,
                        struct customer **items, size_t *n, int64_t *total);
/* store_customer_page narrowed by the contact filters of f (NULL or members NULL: none): each
 * member the start of that column, ASCII case ignored (customer_filter in model.h). An index per
 * column serves each filter, and the sort by that column when sort_column is "<column> COLLATE NOCASE". */
int store_customer_search(struct store *s, const char *tenant_id, const char *text_search,
                          const struct customer_filter *f, const char *sort_column, int descending,
                          int64_t limit, int64_t offset, struct customer **items, size_t *n, int64_t *total);
int store_customer_delete(struct store *s, const char *id);
/* The tenant's public customer (is_public), the first by id when there are several. */
int store_customer_get_public(struct store *s, const char *tenant_id, struct customer *out);

/* The page after a cursor: rows after (last_value, last_id) in the order sort_column (created_time,
 * title or id; last_value as text), then id ascending; at most limit rows, no total. Read with an
 * index range, so its cost does not depend on how deep the cursor is. */
int store_customer_page_after(struct store *s, const char *tenant_id, const char *text_search,
                              const char *sort_column, int descending, const char *last_value,
                              const char *last_id, int64_t limit, struct customer **items, size_t *n);

#endif
