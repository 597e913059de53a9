/* store_entity.h: queries of the device, asset and edge tables (one table per kind, same shape;
 * edges add routing_key and secret). */
#ifndef CMAGENT_STORE_ENTITY_H
#define CMAGENT_STORE_ENTITY_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* STORE_DUPLICATE when the name is taken in the tenant (or an edge's routing key anywhere). */
int store_entity_insert(struct store *s, const struct entity *e);
/* Writes every field of e over the row with e->id (version included) when the row still has
 * e->stored_version: STORE_NOT_FOUND when it is gone or another write (another agent's) changed
 * it since it was read. */
int store_entity_update(struct store *s, const struct entity *e);
int store_entity_get(struct store *s, enum entity_kind kind, const char *id, struct entity *out);
/* Every name of the tenant's entities of kind that starts with prefix (for UNIQUIFY). Caller frees
 * each and the array. */
int store_entity_names_with_prefix(struct store *s, enum entity_kind kind, const char *tenant_id, const char *prefix,
                                   char ***names, size_t *n);
int store_entity_get_by_name(struct store *s, enum entity_kind kind, const char *tenant_id, const char *name,
                             struct entity *out);
int store_entity_count(struct store *s, enum entity_kind kind, const char *tenant_id, int64_t *count);
int store_entity_delete(struct store *s, enum entity_kind kind, const char *id);

/* What a listing reads: a tenant's entities of a kind; customer_id non-NULL keeps that customer's
 * only, type non-NULL that type only; name contains text_search (case-insensitive, NULL: all);
 * ordered by sort_column (a trusted column name) then id ascending. */
struct entity_listing {
    const char *tenant_id;
    const char *customer_id;
    const char *type;
    const char *text_search;
    const char *sort_column;
    bool descending;
};

/* One page by offset, and *total the number of matches: the count kept by the store when the
 * listing has no type or text filter, else a COUNT. The caller frees *items with entities_free(). */
int store_entity_page(struct store *s, enum entity_kind kind, const struct entity_listing *l, int64_t limit,
                      int64_t offset, struct entity **items, size_t *n, int64_t *total);

/* The page after a cursor: rows after (last_value, last_id) in the listing's order (sort_column
 * created_time, name or id; last_value as text), at most limit, no total. Read with an index range
 * that starts at the cursor, so its cost does not depend on how deep the cursor is. */
int store_entity_page_after(struct store *s, enum entity_kind kind, const struct entity_listing *l,
                            const char *last_value, const char *last_id, int64_t limit, struct entity **items,
                            size_t *n);

/* Unassigns at most limit entities of the kind that customer_id owns (version + 1 each), found
 * through the partial customer index; *changed is how many (fewer than limit: none is left). */
int store_entity_unassign_customer(struct store *s, enum entity_kind kind, const char *customer_id, int64_t limit,
                                   int64_t *changed);

/* Deletes every entity of the kind in the tenant. */
int store_entity_delete_by_tenant(struct store *s, enum entity_kind kind, const char *tenant_id);

#endif
