/* tenant.h: tenants, managed by the system administrator only: fields, limits and the delete
 * cascade (customers, users, tokens of the tenant). */
#ifndef CMAGENT_TENANT_H
#define CMAGENT_TENANT_H

#include "cmagent/context.h"

#include <stdbool.h>
#include <stddef.h>

/* Creates t (title required: "Tenant title should be specified!"; contact fields as customers;
 * limits >= 0). On success t holds the stored tenant. Emits ENTITY_CREATED (tenantId = t). */
int tenant_create(struct ctx *ctx, struct tenant *t);
/* Saves t over the tenant with t->id; version rules as customers. Emits ENTITY_UPDATED. */
int tenant_update(struct ctx *ctx, struct tenant *t, bool check_version);
int tenant_get(struct ctx *ctx, const char *id, struct tenant *out);
/* Deletes the tenant with everything in it. Emits ENTITY_DELETED. */
int tenant_delete(struct ctx *ctx, const char *id);
/* Paged; textSearch on title; sort by createdTime, title, email, country, city. */
int tenant_list(struct ctx *ctx, const struct page_request *p, struct tenant **items, size_t *n,
                struct page_info *info);

#endif
