/* entity.h: devices, assets and edges as ThingsBoard CE manages them (thingsboard-customers.md §5):
 * name unique per tenant, type, label, additionalInfo, one owning customer at a time, optimistic
 * locking, tenant limits, assignment with its events, and listings per tenant and per customer. */
#ifndef CMAGENT_ENTITY_H
#define CMAGENT_ENTITY_H

#include "cmagent/context.h"
#include "cmagent/uniquify.h"
#include "cmagent/update.h"

#include <stdbool.h>
#include <stddef.h>

/* Creates e (e->kind set) in the caller's tenant; e->customer_id "" or NULL_UUID for none. On
 * success e holds the stored entity. Emits ENTITY_CREATED. */
int entity_create(struct ctx *ctx, struct entity *e);
/* entity_create with a name-conflict policy (uniquify.h; NULL: FAIL). */
int entity_create_named(struct ctx *ctx, struct entity *e, const struct name_conflict *nc);

/* Saves e over the entity with e->id. how (update.h): the version check (409 on a stale version)
 * and ifEqual "skip", as for customers. keep_customer: e->customer_id is ignored and the stored
 * owner kept. Emits ENTITY_UPDATED. */
int entity_update(struct ctx *ctx, struct entity *e, unsigned how, bool keep_customer);

/* Loads an entity the caller may read: the tenant's admin, or a user of the owning customer. */
int entity_get(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out);

/* Deletes an entity of the caller's tenant. Emits ENTITY_DELETED. */
int entity_delete(struct ctx *ctx, enum entity_kind kind, const char *id);

/* A page of the caller's tenant's entities of a kind; type NULL: every type. */
int entity_list(struct ctx *ctx, enum entity_kind kind, const char *type, const struct page_request *p,
                struct entity **items, size_t *n, struct page_info *info);

/* A page of one customer's entities: the tenant's admin, or a user of that customer. */
int entity_list_by_customer(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                            const struct page_request *p, struct entity **items, size_t *n,
                            struct page_info *info);

/* The page after page_token (a cursor from entity_page_token) of the tenant's listing (customer_id
 * NULL) or of one customer's, in p's order, without totals: its cost does not grow with the depth.
 * Sorting by createdTime or id (the default), or for the tenant's listing by name. */
int entity_list_after(struct ctx *ctx, enum entity_kind kind, const char *customer_id, const char *type,
                      const struct page_request *p, const char *page_token, struct entity **items, size_t *n,
                      bool *has_next);

/* The cursor of the page that follows last in p's order in the tenant's listing (customer_id
 * NULL) or a customer's (heap), or NULL when p sorts by a property a cursor does not support. */
char *entity_page_token(const struct page_request *p, const char *customer_id, const struct entity *last);

/* Assigns the entity to customer_id (directly from another owner too); out is the entity after.
 * Emits ENTITY_ASSIGNED even when it already belonged to that customer (version unchanged then). */
int entity_assign(struct ctx *ctx, enum entity_kind kind, const char *id, const char *customer_id,
                  struct entity *out);

/* Unassigns it: 400 "<Kind> isn't assigned to any customer!" when it has no owner. Emits ENTITY_UNASSIGNED. */
int entity_unassign(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out);

/* Assigns it to the tenant's Public customer, created on first use. */
int entity_make_public(struct ctx *ctx, enum entity_kind kind, const char *id, struct entity *out);

#endif
