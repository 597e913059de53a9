/* import.h: what the import files share (import.run and import.status, docs/protocol.md, Import):
 * the kinds of entity an import creates, the rows read from its CSV or JSON (import_rows.c), and one row's
 * run as the single create of its kind (op_import.c), which the inline import and the job's
 * chunks (op_import_job.c) both use. */
#ifndef CMAGENT_API_IMPORT_H
#define CMAGENT_API_IMPORT_H

#include "ops.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct import_kind {
    const char *type;               /* CUSTOMER, USER, DEVICE, ASSET, EDGE */
    const char *op;                 /* the single create each row runs: customer.create, ... */
    const char *const *columns;     /* the column names (CSV headers, JSON members) it knows */
    bool customer;                  /* rows may name their customer by customerTitle */
    bool user;                      /* rows are users: authority CUSTOMER_USER unless given, mails */
    bool conflict;                  /* the create takes nameConflictPolicy */
};

/* The kind named type (CUSTOMER, USER, DEVICE, ASSET, EDGE), or NULL. */
const struct import_kind *import_kind_find(const char *type);

/* The rows of an import request: data's csv (with its header) or rows, as an array of objects,
 * one per row, in the create's members (customerTitle kept for the run to resolve); a JSON row
 * that is not an object is kept as it is, for its run to refuse. NULL with ctx->err set when the
 * text is malformed or names an unknown column; *lines (heap, or NULL for JSON) the line each CSV
 * row starts on. */
cJSON *import_rows_read(struct call *c, const struct import_kind *k, size_t **lines);

/* Runs row (1-based number) as the single create of k would run alone, as the caller (run_op as a
 * command): customerTitle resolved to customerId, options (sendActivationMail, conflict policy)
 * merged in. Returns {row, status, id} or {row, status, errorCode, message, ...}; *ok tells which;
 * *failure the FAILURE audit row a failed row leaves (for the caller to write after its rollback). */
cJSON *import_run_row(struct ctx *ctx, const struct import_kind *k, const cJSON *row, size_t number,
                      const cJSON *options, bool *ok, struct audit_row **failure);

/* import.run with more rows than import_chunk_rows, neither atomic nor a dry run: the rows (with the
 * CSV line each starts on, lines NULL for JSON) go to an import job that the writer runs in chunks
 * (op_import_job.c). */
int import_start_job(struct call *c, const struct import_kind *k, const cJSON *rows, const size_t *lines,
                     const cJSON *options);

#endif
