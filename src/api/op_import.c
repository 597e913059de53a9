/* op_import.c: import.run (docs/protocol.md, Import): customers, customer users, devices, assets or
 * edges created from CSV or JSON rows in one request, each row run as the single create of its kind
 * would run alone (run_op as a command, as a batch's commands are): its checks, messages, event,
 * audit row and activation mail are that create's. Each row stands in its own savepoint, so one
 * failed row fails alone and every row is answered. atomic keeps nothing when any row failed; dryRun
 * keeps nothing at all (rows are checked against the database and against the rows before them,
 * which are created for the check and rolled back). Up to import_chunk_rows rows
 * (import_max_atomic_rows for atomic and dry runs) run in the request; more go to an import job
 * (op_import_job.c). */
#include "import.h"

#include "cmagent/audit.h"
#include "cmagent/customer.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {row[, line]} followed by the members of body (which it takes). */
static cJSON *row_result(size_t number, cJSON *body)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "row", (double)number);
    while (body != NULL && body->child != NULL) {
        cJSON *item = cJSON_DetachItemViaPointer(body, body->child);
        cJSON_AddItemToObject(r, item->string, item);
    }
    cJSON_Delete(body);
    return r;
}

/* customerTitle in data replaced by the customerId of the caller's customer of that title. */
static int resolve_customer(struct ctx *ctx, cJSON *data)
{
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(data, "customerTitle");
    struct customer cu;

    if (title == NULL || cJSON_IsNull(title)) {
        cJSON_DeleteItemFromObjectCaseSensitive(data, "customerTitle");
        return ERR_OK;
    }
    if (!cJSON_IsString(title))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "'customerTitle' must be a string");
    if (cJSON_GetObjectItemCaseSensitive(data, "customerId") != NULL)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Give either 'customerId' or 'customerTitle', not both");
    if (customer_find_by_title(ctx, title->valuestring, &cu) != ERR_OK)
        return ctx->err.kind;
    cJSON_DeleteItemFromObjectCaseSensitive(data, "customerTitle");
    cJSON_AddStringToObject(data, "customerId", cu.id);
    customer_release(&cu);
    return ERR_OK;
}

/* The create's data for row: its members, the customer resolved, the import's options merged. */
static cJSON *row_data(struct ctx *ctx, const struct import_kind *k, const cJSON *row, const cJSON *options)
{
    const cJSON *opt;
    if (!cJSON_IsObject(row)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "A row must be a JSON object of %s members", k->op);
        return NULL;
    }
    cJSON *data = cJSON_Duplicate(row, true);
    if (k->customer && resolve_customer(ctx, data) != ERR_OK) {
        cJSON_Delete(data);
        return NULL;
    }
    if (k->user && cJSON_GetObjectItemCaseSensitive(data, "authority") == NULL)
        cJSON_AddStringToObject(data, "authority", "CUSTOMER_USER");
    cJSON_ArrayForEach(opt, options) {
        cJSON_DeleteItemFromObjectCaseSensitive(data, opt->string);
        cJSON_AddItemToObject(data, opt->string, cJSON_Duplicate(opt, true));
    }
    return data;
}

cJSON *import_run_row(struct ctx *ctx, const struct import_kind *k, const cJSON *row, size_t number,
                      const cJSON *options, bool *ok, struct audit_row **failure)
{
    const struct op *op = ops_lookup(k->op);
    cJSON *data;

    *ok = false;
    *failure = NULL;
    error_clear(&ctx->err);
    data = row_data(ctx, k, row, options);
    struct op_run run = { .op = op, .data = data, .command = true };
    if (data == NULL || run_op(ctx, &run) != ERR_OK) {
        *failure = op_failure_row(ctx, op, data != NULL ? data : row);
        cJSON_Delete(data);
        return row_result(number, error_object(&ctx->err));
    }
    cJSON_Delete(data);
    *ok = true;
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "status", 200);
    /* the create's reply may be the raw text its event rendered (render.c) */
    cJSON *parsed = cJSON_IsRaw(run.result) ? cJSON_Parse(run.result->valuestring) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(parsed != NULL ? parsed : run.result, "id");
    id = cJSON_IsObject(id) ? cJSON_GetObjectItemCaseSensitive(id, "id") : id;
    if (cJSON_IsString(id))
        cJSON_AddStringToObject(res, "id", id->valuestring);
    cJSON_Delete(parsed);
    cJSON_Delete(run.result);
    return row_result(number, res);
}

/* The options the import merges into every row: sendActivationMail (users, not in a dry run) and
 * the name conflict policy (customers, devices). NULL with ctx->err set when one is refused. */
static cJSON *read_options(struct call *c, const struct import_kind *k, bool dry_run)
{
    static const char *const conflict[] = { CONFLICT_OPTIONS, NULL };
    const cJSON *mail = cJSON_GetObjectItemCaseSensitive(c->data, "sendActivationMail");
    cJSON *o = cJSON_CreateObject();

    if (mail != NULL && !cJSON_IsNull(mail) && !k->user) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'sendActivationMail' is for a USER import only");
        cJSON_Delete(o);
        return NULL;
    }
    if (cJSON_IsTrue(mail) && !dry_run)
        cJSON_AddBoolToObject(o, "sendActivationMail", true);
    for (const char *const *key = conflict; *key != NULL; key++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->data, *key);
        if (v == NULL || cJSON_IsNull(v))
            continue;
        if (!k->conflict) {
            error_set(&c->ctx->err, ERR_BAD_REQUEST, "'%s' is not for a USER import", *key);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, *key, cJSON_Duplicate(v, true));
    }
    return o;
}

struct tally {
    size_t created, failed;
    struct audit_row **failures;  /* atomic: the failed rows' FAILURE audit rows, kept after the rollback */
    size_t nfailures;
};

/* The rows run one after another in savepoints of their own; whole (atomic, dry run): inside one
 * more, kept only when every row passed and it is not a dry run. */
static int run_rows(struct call *c, const struct import_kind *k, const cJSON *rows, const size_t *lines,
                    const cJSON *options, bool whole, cJSON *results, struct tally *t)
{
    struct ctx *ctx = c->ctx;
    const cJSON *row;
    size_t i = 0;
    int64_t budget = store_budget_limit(ctx->store);

    t->failures = xcalloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof *t->failures);
    cJSON_ArrayForEach(row, rows) {
        bool ok;
        struct audit_row *failure;
        struct ctx_mark mark = ctx_item_begin(ctx);
        ctx->command = i;
        store_budget_set(ctx->store, budget); /* each row reads as much as its create alone may */
        cJSON *res = import_run_row(ctx, k, row, i + 1, options, &ok, &failure);
        ctx->command = 0;
        ctx_item_end(ctx, mark, ok);
        if (lines != NULL)
            cJSON_AddNumberToObject(res, "line", (double)lines[i]);
        cJSON_AddItemToArray(results, res);
        if (ok)
            t->created++;
        else
            t->failed++;
        if (whole) {
            if (failure != NULL)
                t->failures[t->nfailures++] = failure;
        } else if (keep_failure_row(ctx, failure) != ERR_OK) {
            return ctx->err.kind;
        }
        i++;
    }
    error_clear(&ctx->err);
    return ERR_OK;
}

/* An atomic import that failed: the rows that passed answer 424, nothing of them kept. */
static void mark_not_applied(cJSON *results, size_t failed)
{
    cJSON *res;
    struct error e = { 0 };
    error_set(&e, ERR_NOT_APPLIED, "Not applied: %zu row(s) failed and the atomic import was rolled back", failed);
    cJSON_ArrayForEach(res, results) {
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(res, "status");
        if (!cJSON_IsNumber(status) || status->valuedouble != 200)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(res, "id");
        cJSON *err = error_object(&e), *item;
        while ((item = err->child) != NULL) {
            cJSON_DetachItemViaPointer(err, item);
            cJSON_DeleteItemFromObjectCaseSensitive(res, item->string);
            cJSON_AddItemToObject(res, item->string, item);
        }
        cJSON_Delete(err);
    }
}

static cJSON *reply_object(const struct import_kind *k, bool dry_run, bool atomic, bool committed, size_t total,
                           const struct tally *t, cJSON *results)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "entityType", k->type);
    cJSON_AddBoolToObject(o, "dryRun", dry_run);
    cJSON_AddBoolToObject(o, "atomic", atomic);
    cJSON_AddBoolToObject(o, "committed", committed);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "created", committed ? (double)t->created : 0);
    cJSON_AddNumberToObject(o, "failed", (double)t->failed);
    if (dry_run)
        cJSON_AddNumberToObject(o, "valid", (double)t->created);
    cJSON_AddItemToObject(o, "results", results);
    return o;
}

/* The import run in the request. */
static int run_inline(struct call *c, const struct import_kind *k, const cJSON *rows, const size_t *lines,
                      const cJSON *options, bool dry_run, bool atomic)
{
    struct ctx *ctx = c->ctx;
    struct tally t = { 0 };
    bool whole = dry_run || atomic, committed = true;
    cJSON *results = cJSON_CreateArray();
    struct ctx_mark all = ctx_mark(ctx);
    int rc;

    if (whole) {
        store_savepoint(ctx->store);
        ctx->mails.stop_at_failure = atomic; /* one failed mail fails the import: send no more */
    }
    rc = run_rows(c, k, rows, lines, options, whole, results, &t);
    if (whole && (rc != ERR_OK || dry_run || t.failed > 0)) {
        store_savepoint_rollback(ctx->store);
        ctx_forget_since(ctx, all);
        committed = false;
    } else if (whole) {
        store_savepoint_release(ctx->store);
    }
    for (size_t i = 0; i < t.nfailures; i++) {
        if (rc == ERR_OK && !dry_run)
            rc = keep_failure_row(ctx, t.failures[i]); /* an atomic import keeps its failed rows' audit rows */
        else if (t.failures[i] != NULL) {
            audit_row_release(t.failures[i]);
            free(t.failures[i]);
        }
    }
    free(t.failures);
    if (rc != ERR_OK) {
        cJSON_Delete(results);
        return rc;
    }
    if (atomic && !dry_run && t.failed > 0)
        mark_not_applied(results, t.failed);
    if (dry_run) { /* the ids of rows created for the check and rolled back name nothing */
        cJSON *res;
        cJSON_ArrayForEach(res, results)
            cJSON_DeleteItemFromObjectCaseSensitive(res, "id");
    }
    c->result = reply_object(k, dry_run, atomic, committed, (size_t)cJSON_GetArraySize(rows), &t, results);
    return ERR_OK;
}

/* The kind of data's entityType, or NULL with ctx->err set. */
static const struct import_kind *read_kind(struct call *c)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c->data, "entityType");
    const struct import_kind *k = cJSON_IsString(type) ? import_kind_find(type->valuestring) : NULL;
    if (k == NULL)
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'entityType' must be one of CUSTOMER, USER, DEVICE, ASSET, EDGE");
    return k;
}

int op_import_run(struct call *c)
{
    static const char *const keys[] = { "entityType", "format", "csv", "rows", "dryRun", "atomic",
                                        "sendActivationMail", CONFLICT_OPTIONS, NULL };
    const struct api_settings *s = api_current_settings();
    bool dry_run = false, atomic = false;
    size_t *lines = NULL;
    int rc;

    if (args_allow(c, keys) || arg_bool(c, "dryRun", false, &dry_run, NULL) ||
        arg_bool(c, "atomic", false, &atomic, NULL))
        return call_failed(c);
    const struct import_kind *k = read_kind(c);
    cJSON *options = k != NULL ? read_options(c, k, dry_run) : NULL;
    cJSON *rows = options != NULL ? import_rows_read(c, k, &lines) : NULL;
    if (rows == NULL) {
        cJSON_Delete(options);
        return call_failed(c);
    }
    size_t n = (size_t)cJSON_GetArraySize(rows);
    if ((dry_run || atomic) && n > (size_t)s->import_max_atomic_rows)
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST,
                       "An atomic import or a dry run holds at most %lld rows (import_max_atomic_rows), this one has "
                       "%zu: split it, or import without atomic", (long long)s->import_max_atomic_rows, n);
    else if (!dry_run && !atomic && n > (size_t)s->import_chunk_rows)
        rc = import_start_job(c, k, rows, lines, options);
    else
        rc = run_inline(c, k, rows, lines, options, dry_run, atomic);
    cJSON_Delete(rows);
    cJSON_Delete(options);
    free(lines);
    return rc;
}
