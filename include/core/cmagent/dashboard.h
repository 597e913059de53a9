/* dashboard.h: dashboards as ThingsBoard CE manages them: a title and a configuration document,
 * assigned to any number of customers (assignedCustomers), public through the tenant's Public
 * customer, and the home dashboard a caller resolves (thingsboard-customers.md §1.6, §5). */
#ifndef CMAGENT_DASHBOARD_H
#define CMAGENT_DASHBOARD_H

#include "cmagent/context.h"
#include "cmagent/uniquify.h"
#include "cmagent/update.h"

#include <stdbool.h>
#include <stddef.h>

int dashboard_create(struct ctx *ctx, struct dashboard *d);
/* dashboard_create with a name-conflict policy (uniquify.h; NULL: FAIL, which checks nothing). */
int dashboard_create_named(struct ctx *ctx, struct dashboard *d, const struct name_conflict *nc);
/* Saves title and configuration over d->id; assignments are kept. how (update.h): the version
 * check and ifEqual "skip", as for customers. */
int dashboard_update(struct ctx *ctx, struct dashboard *d, unsigned how);
/* The tenant's admin, or a user of a customer the dashboard is assigned to. */
int dashboard_get(struct ctx *ctx, const char *id, struct dashboard *out);
int dashboard_delete(struct ctx *ctx, const char *id);
int dashboard_list(struct ctx *ctx, const struct page_request *p, struct dashboard **items, size_t *n,
                   struct page_info *info);
int dashboard_list_by_customer(struct ctx *ctx, const char *customer_id, const struct page_request *p,
                               struct dashboard **items, size_t *n, struct page_info *info);

/* One customer: assign / unassign emit their event even when nothing changed (ThingsBoard logs
 * them always); the version rises only on a change. out is the dashboard after. */
int dashboard_assign(struct ctx *ctx, const char *id, const char *customer_id, struct dashboard *out);
int dashboard_unassign(struct ctx *ctx, const char *id, const char *customer_id, struct dashboard *out);

/* Many customers: SET replaces the set (diff), ADD adds the missing ones, REMOVE removes the present
 * ones. One ENTITY_ASSIGNED per added and then one ENTITY_UNASSIGNED per removed customer; no
 * event when nothing changed. Every customer id must be one of the tenant's. */
enum dashboard_customers_mode { DASHBOARD_SET, DASHBOARD_ADD, DASHBOARD_REMOVE };
int dashboard_update_customers(struct ctx *ctx, const char *id, enum dashboard_customers_mode mode,
                               char (*customer_ids)[UUID_STR_LEN], size_t n, struct dashboard *out);

/* Assign to / unassign from the tenant's Public customer (created on first use). */
int dashboard_make_public(struct ctx *ctx, const char *id, struct dashboard *out);
int dashboard_make_private(struct ctx *ctx, const char *id, struct dashboard *out);

/* Whether id names a dashboard of tenant_id (no permission check: for dropping dangling ids). */
int dashboard_exists(struct ctx *ctx, const char *tenant_id, const char *id, bool *exists);

/* The additionalInfo documents (JSON text, NULL when none) the home dashboard is resolved from, in
 * order: the caller's user, its customer (customer users), its tenant. Heap strings. */
int dashboard_home_sources(struct ctx *ctx, char **user_info, char **customer_info, char **tenant_info);

#endif
