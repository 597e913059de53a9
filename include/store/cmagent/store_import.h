/* store_import.h: queries of the import_job and import_job_row tables (migration 14): the imports
 * too large to run in their request, their rows waiting to run and the result of each row that
 * ran, kept until the job is purged. */
#ifndef CMAGENT_STORE_IMPORT_H
#define CMAGENT_STORE_IMPORT_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

struct import_job {
    char id[UUID_STR_LEN];
    char tenant_id[UUID_STR_LEN];
    char user_id[UUID_STR_LEN];      /* who started it: each chunk runs as that user */
    char entity_type[16];            /* CUSTOMER, USER, DEVICE */
    char *options;                   /* JSON object merged into each row (heap) */
    int64_t total, done, created, failed;
    int64_t created_time, finished_time; /* finished_time 0: still running */
    char *error;                     /* why it stopped before its last row (heap), or NULL */
};

void import_job_release(struct import_job *j);

/* One row waiting to run: its number (from 1), the CSV line it starts on (0 for JSON) and its create
 * data (JSON text, heap). */
struct import_row {
    int64_t row, line;
    char *data;
};

void import_rows_free(void *rows, size_t n);

/* The job j and its rows: rows_json, an array of {"l":<line>,"d":<the row's data>}, numbered from 1. */
int store_import_job_add(struct store *s, const struct import_job *j, const char *rows_json);

/* *any: whether a job is still running (one index probe). */
int store_import_job_any(struct store *s, bool *any);

/* The oldest running job; STORE_NOT_FOUND when there is none. */
int store_import_job_oldest(struct store *s, struct import_job *out);

int store_import_job_get(struct store *s, const char *id, struct import_job *out);

/* Up to limit rows of the job after row after, in order (*rows NULL when none). */
int store_import_rows_after(struct store *s, const char *job_id, int64_t after, int64_t limit,
                            struct import_row **rows, size_t *n);

/* Row row ran: its data goes, its result (JSON text) and status stay. */
int store_import_row_done(struct store *s, const char *job_id, int64_t row, int status, const char *result);

/* The job's counts, finished_time and error as j has them. */
int store_import_job_progress(struct store *s, const struct import_job *j);

/* The results (JSON texts) of the job's rows that ran, in row order, skipping offset of them, at
 * most limit; failed_only: only those whose status is not 200. */
int store_import_results(struct store *s, const char *job_id, bool failed_only, int64_t offset, int64_t limit,
                         char ***results, size_t *n);

/* Deletes the jobs (and their rows) that finished before time. */
int store_import_job_purge(struct store *s, int64_t before, int64_t *deleted);

#endif
