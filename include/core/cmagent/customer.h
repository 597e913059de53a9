/* customer.h: customer management as ThingsBoard CE does it (thingsboard-customers.md §1-§3):
 * validation with the exact messages, per-tenant unique titles and name-conflict policies,
 * optimistic locking, paging, and the delete cascade. */
#ifndef CMAGENT_CUSTOMER_H
#define CMAGENT_CUSTOMER_H

#include "cmagent/context.h"
#include "cmagent/uniquify.h"
#include "cmagent/update.h"

#include <stdbool.h>
#include <stddef.h>


/* Creates c in the caller's tenant. On success c holds the stored customer (id, createdTime,
 * tenantId, version 1, the possibly uniquified title). Emits ENTITY_CREATED. */
int customer_create(struct ctx *ctx, struct customer *c, const struct name_conflict *nc);

/* Saves c over the customer with c->id. how (update.h): with UPDATE_CHECK_VERSION, c->version must
 * equal the stored version (else 409), without it the save is a forced overwrite; with
 * UPDATE_SKIP_EQUAL a save whose fields all equal the stored ones (ifEqual "skip") writes nothing,
 * emits no event and leaves c the stored customer with its version unchanged. Otherwise the
 * version rises by one; createdTime and tenantId are kept from the stored row. Emits ENTITY_UPDATED. */
int customer_update(struct ctx *ctx, struct customer *c, unsigned how, const struct name_conflict *nc);

/* Loads a customer the caller may read (404 when unknown, 403 when not the caller's). */
int customer_get(struct ctx *ctx, const char *id, struct customer *out);

/* Loads a customer for a write by the caller (TENANT_ADMIN of its tenant). */
int customer_get_for_write(struct ctx *ctx, const char *id, struct customer *out);

int customer_find_by_title(struct ctx *ctx, const char *title, struct customer *out);

/* The customers among ids that exist in the caller's tenant, in the order given; others are dropped. */
int customer_get_by_ids(struct ctx *ctx, char (*ids)[UUID_STR_LEN], size_t nids, struct customer **out, size_t *n);

int customer_list(struct ctx *ctx, const struct page_request *p, struct customer **items, size_t *n,
                  struct page_info *info);
/* customer_list narrowed by contact fields (f NULL: none): each given member the start of that
 * field, ASCII case ignored; sorting by email, phone, city or country ignores ASCII case too. */
int customer_search(struct ctx *ctx, const struct page_request *p, const struct customer_filter *f,
                    struct customer **items, size_t *n, struct page_info *info);

/* The caller's tenant's "Public" customer (additionalInfo.isPublic), created on first use without
 * the title validation, as ThingsBoard's findOrCreatePublicCustomer does. Concurrent first uses
 * are serialized by the writer's transaction; a unique-title clash re-reads. */
int customer_public(struct ctx *ctx, struct customer *out);

/* The page after page_token (a cursor from customer_page_token), in p's order, without totals:
 * its cost does not grow with the depth. Sorting by createdTime, title or id (the default). */
int customer_list_after(struct ctx *ctx, const struct page_request *p, const char *page_token,
                        struct customer **items, size_t *n, bool *has_next);

/* The cursor of the page that follows last in p's order (heap), or NULL when p sorts by a
 * property a cursor does not support. */
char *customer_page_token(const struct page_request *p, const struct customer *last);

/* Deletes the customer: its users (with their tokens and keys) are deleted and its entities
 * unassigned, in the same transaction; emits one ENTITY_DELETED. */
int customer_delete(struct ctx *ctx, const char *id);

#endif
