/* store_tenant_job.h: queries of the tenant_delete_job table, the durable list of deleted tenants
 * whose rows are still to be deleted (see core/tenant.c), and the deletes of those rows in chunks.
 * A tenant with a job reads as gone (store_tenant_get, the listings and the count). */
#ifndef CMAGENT_STORE_TENANT_JOB_H
#define CMAGENT_STORE_TENANT_JOB_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

struct tenant_delete_job {
    char tenant_id[UUID_STR_LEN];
    int64_t created_time;
    int64_t deleted; /* rows deleted so far */
};

/* The tables a job empties, in order: devices, assets, edges, dashboards (their assignments follow
 * by ON DELETE CASCADE), customers. */
#define TENANT_JOB_TABLES 5

/* Deletes the tenant's users (their credentials, tokens and API keys follow them) and records the
 * job, in the caller's transaction. */
int store_tenant_job_add(struct store *s, const char *tenant_id, int64_t created_time);

/* *any: whether at least one job is waiting (one index probe). */
int store_tenant_job_any(struct store *s, bool *any);

/* The oldest waiting job; STORE_NOT_FOUND when there is none. */
int store_tenant_job_oldest(struct store *s, struct tenant_delete_job *out);

/* Deletes at most limit rows of the tenant's table-th table (0 .. TENANT_JOB_TABLES - 1); *changed
 * receives how many. */
int store_tenant_job_delete_rows(struct store *s, int table, const char *tenant_id, int64_t limit, int64_t *changed);

/* Adds rows to the job's count of deleted rows. */
int store_tenant_job_progress(struct store *s, const char *tenant_id, int64_t rows);

/* Deletes the tenant row (nothing of it is left) and its job. */
int store_tenant_job_finish(struct store *s, const char *tenant_id);

#endif
