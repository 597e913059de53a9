/* tenant.h: tenants, managed by the system administrator only: fields, limits and the delete
 * cascade (customers, users, tokens of the tenant). */
#ifndef CMAGENT_TENANT_H
#define CMAGENT_TENANT_H

#include "cmagent/context.h"
#include "cmagent/store_tenant_job.h"
#include "cmagent/update.h"

#include <stdbool.h>
#include <stddef.h>

/* Creates t (title required: "Tenant title should be specified!"; contact fields as customers;
 * limits >= 0). On success t holds the stored tenant. Emits ENTITY_CREATED (tenantId = t). */
int tenant_create(struct ctx *ctx, struct tenant *t);
/* Saves t over the tenant with t->id; how (update.h): the version check and ifEqual "skip", as
 * for customers. Emits ENTITY_UPDATED. */
int tenant_update(struct ctx *ctx, struct tenant *t, unsigned how);
int tenant_get(struct ctx *ctx, const char *id, struct tenant *out);
/* Deletes the tenant with everything in it. Emits ENTITY_DELETED. */
/* Deletes the tenant's users and records the deletion of the rest (store_tenant_job.h) in the
 * caller's transaction, and emits ENTITY_DELETED: from then on the tenant reads as gone. */
int tenant_delete(struct ctx *ctx, const char *id);

/* What one chunk of a deleted tenant's deletion did. */
struct tenant_delete_chunk {
    bool idle;                     /* no job was waiting: nothing done */
    bool finished;                 /* the tenant's last rows and the tenant itself were deleted */
    int64_t rows;                  /* rows deleted by this chunk */
    struct tenant_delete_job job;  /* the job worked on (its deleted count includes this chunk) */
};

/* Deletes at most limit rows of the oldest deleted tenant (devices, assets, edges, dashboards,
 * customers), inside the caller's transaction; deletes the tenant row and the job when none is
 * left. The agent's writer runs it between requests (src/agent/jobs.c). Returns a STORE_* code. */
int tenant_delete_run_chunk(struct store *s, int64_t limit, struct tenant_delete_chunk *out);
/* Paged; textSearch on title; sort by createdTime, title, email, country, city. */
int tenant_list(struct ctx *ctx, const struct page_request *p, struct tenant **items, size_t *n,
                struct page_info *info);

#endif
