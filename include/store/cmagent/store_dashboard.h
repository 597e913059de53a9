/* store_dashboard.h: queries of the dashboard table and of dashboard_customer, its assignments to
 * customers. A loaded dashboard carries its assigned customers with their current titles. */
#ifndef CMAGENT_STORE_DASHBOARD_H
#define CMAGENT_STORE_DASHBOARD_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The row only (title, configuration, version); assignments have their own calls. */
/* Every dashboard title of the tenant that starts with prefix (for UNIQUIFY). Caller frees each
 * and the array. */
int store_dashboard_titles_with_prefix(struct store *s, const char *tenant_id, const char *prefix, char ***titles,
                                       size_t *n);
int store_dashboard_insert(struct store *s, const struct dashboard *d);
/* Writes the title, configuration and version of d over its row, only over the version before d's
 * (version - 1): STORE_NOT_FOUND when the row is gone or another write changed it since it was read. */
int store_dashboard_update(struct store *s, const struct dashboard *d);
int store_dashboard_get(struct store *s, const char *id, struct dashboard *out);
int store_dashboard_exists(struct store *s, const char *tenant_id, const char *id, bool *exists);
int store_dashboard_count(struct store *s, const char *tenant_id, int64_t *count);
/* Deletes the dashboard and its assignments. */
int store_dashboard_delete(struct store *s, const char *id);

/* One page of a tenant's dashboards (customer_id non-NULL: those assigned to it); title contains
 * text_search (case-insensitive); ordered by sort_column then id. Free with dashboards_free(). */
int store_dashboard_page(struct store *s, const char *tenant_id, const char *customer_id, const char *text_search,
                         const char *sort_column, int descending, int64_t limit, int64_t offset,
                         struct dashboard **items, size_t *n, int64_t *total);

/* *changed tells whether the assignment was added (was absent) / removed (was present). */
int store_dashboard_assign(struct store *s, const char *dashboard_id, const char *customer_id, bool *changed);
int store_dashboard_unassign(struct store *s, const char *dashboard_id, const char *customer_id, bool *changed);
/* Raises the version of every dashboard assigned to the customer (its rename re-saves them, as
 * ThingsBoard's updateCustomerDashboards does; the titles themselves are read at load time). */
int store_dashboard_touch_customer(struct store *s, const char *customer_id);
/* Removes every assignment of the customer, raising the version of each dashboard it had. */
int store_dashboard_unassign_customer(struct store *s, const char *customer_id, int64_t *changed);

#endif
