/* store_unassign.h: queries of the unassign_job table, the durable list of deleted customers whose
 * devices, assets and edges are still to be unassigned (see core/unassign.c). */
#ifndef CMAGENT_STORE_UNASSIGN_H
#define CMAGENT_STORE_UNASSIGN_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

struct unassign_job {
    char customer_id[UUID_STR_LEN];
    char tenant_id[UUID_STR_LEN];
    int64_t created_time;
    int64_t unassigned; /* rows unassigned so far */
};

int store_unassign_job_add(struct store *s, const char *customer_id, const char *tenant_id, int64_t created_time);

/* *any: whether at least one job is waiting (one index probe). */
int store_unassign_job_any(struct store *s, bool *any);

/* *pending: whether customer_id has a job waiting. */
int store_unassign_job_pending(struct store *s, const char *customer_id, bool *pending);

/* The oldest waiting job; STORE_NOT_FOUND when there is none. */
int store_unassign_job_oldest(struct store *s, struct unassign_job *out);

/* Adds rows to the job's count of unassigned rows. */
int store_unassign_job_progress(struct store *s, const char *customer_id, int64_t rows);

/* Removes the finished job. */
int store_unassign_job_finish(struct store *s, const char *customer_id);

#endif
