/* import_job.h: the import jobs of import.run (docs/protocol.md, Import): an import with more rows
 * than run in one request is stored as a job, whose rows the writer runs in chunks between requests, each
 * chunk in a transaction of its own, as the user who started it. This is the job's bookkeeping;
 * running a row is the api's (op_import_job.c). */
#ifndef CMAGENT_IMPORT_JOB_H
#define CMAGENT_IMPORT_JOB_H

#include "cmagent/context.h"
#include "cmagent/store_import.h"

/* A new job of the caller (a tenant administrator) for rows_json (an array of total rows' create
 * data) with options (JSON object text); its id in id. */
int import_job_start(struct ctx *ctx, const char *entity_type, const char *options, const char *rows_json,
                     int64_t total, char id[UUID_STR_LEN]);

/* The caller's job id: 404 "Import job [id] is not found" for another tenant's, as for none. */
int import_job_load(struct ctx *ctx, const char *id, struct import_job *out);

/* Stops the caller's running job id: the rows not run yet stay unrun, the job STOPPED with the error
 * "Cancelled by <the caller's e-mail>"; out is the job as it is now. 400 "Import job [id] is not
 * running" once it finished or stopped. */
int import_job_cancel(struct ctx *ctx, const char *id, struct import_job *out);

/* The results of a job's rows that ran (import_job_load first), see store_import_results. */
int import_job_results(struct ctx *ctx, const char *id, bool failed_only, int64_t offset, int64_t limit,
                       char ***results, size_t *n);

/* ctx->who becomes the user who started j, for its chunk to run as that user. 404 when that
 * user was deleted or is no longer its tenant's administrator: the job stops there. */
int import_job_act_as(struct ctx *ctx, const struct import_job *j);

#endif
