/* op_batch.c: the batch operation (protocol §5.1): many operations in one request, each answered
 * in order, together touching at most max_batch_rows rows. atomic: one savepoint around all of
 * them, rolled back (events included, since they are outbox rows) when any fails; otherwise each
 * command stands alone in its own savepoint. Each command runs as ctx->command = its index, so a
 * command that mails (user.create with sendActivationMail, user.sendActivationMail) composes its own
 * mail, and finds its own outcome in the second run (agent.c); a rolled-back command or batch
 * forgets the mails it composed. Each command runs through run_op (pipeline.c) as the batch's caller,
 * so it is audited as the same request alone would be: its audit row when it succeeds, its FAILURE
 * row, written after its rollback, when it fails (an atomic batch keeps only that one). A command
 * that checks or hashes a password is prepared on a verifier thread (op_batch_prepare). */
#include "ops.h"

#include "cmagent/audit.h"
#include "cmagent/perm.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Command i ({op, data}) read: its operation and data (*empty holds the empty object made for a
 * missing data). Returns the op, or NULL with ctx->err set. */
static const struct op *read_command(struct ctx *ctx, const cJSON *cmd, size_t i, const cJSON **data,
                                     cJSON **empty)
{
    const cJSON *name, *item;
    const struct op *op;

    *empty = NULL;
    if (!cJSON_IsObject(cmd)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu must be an object {\"op\":...,\"data\":{...}}", i);
        return NULL;
    }
    cJSON_ArrayForEach(item, cmd) {
        if (strcmp(item->string, "op") != 0 && strcmp(item->string, "data") != 0) {
            error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown key '%.64s' in command %zu", item->string, i);
            return NULL;
        }
    }
    name = cJSON_GetObjectItemCaseSensitive(cmd, "op");
    *data = cJSON_GetObjectItemCaseSensitive(cmd, "data");
    if (!cJSON_IsString(name)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu: 'op' must be an operation name", i);
        return NULL;
    }
    op = ops_lookup(name->valuestring);
    if (op == NULL) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown operation '%.128s'", name->valuestring);
        return NULL;
    }
    if (strcmp(op->name, "batch") == 0 || strcmp(op->name, "import.run") == 0 || (op->flags & OP_ANONYMOUS)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Operation '%s' cannot run inside a batch", op->name);
        return NULL;
    }
    if (*data != NULL && !cJSON_IsNull(*data) && !cJSON_IsObject(*data)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu: 'data' must be a JSON object", i);
        return NULL;
    }
    if (*data == NULL || cJSON_IsNull(*data))
        *data = *empty = cJSON_CreateObject();
    return op;
}

/* Runs command i as the batch's caller (run_op). Returns its reply object; *ok tells success. A
 * failed command's FAILURE audit row goes to *failure, for the batch to write once the command's
 * writes are rolled back. */
static cJSON *run_command(struct call *c, const cJSON *cmd, size_t i, bool *ok, struct audit_row **failure)
{
    struct ctx *ctx = c->ctx;
    const cJSON *data = NULL;
    cJSON *empty, *reply;

    *ok = false;
    *failure = NULL;
    error_clear(&ctx->err);
    const struct op *op = read_command(ctx, cmd, i, &data, &empty);
    if (op == NULL)
        return error_object(&ctx->err);
    struct op_run run = { .op = op, .data = data, .command = true };
    if (run_op(ctx, &run) != ERR_OK) {
        *failure = op_failure_row(ctx, op, data);
        reply = error_object(&ctx->err);
    } else {
        *ok = true;
        reply = cJSON_CreateObject();
        cJSON_AddNumberToObject(reply, "status", 200);
        cJSON_AddItemToObject(reply, "data", run.result != NULL ? run.result : cJSON_CreateObject());
    }
    cJSON_Delete(empty);
    return reply;
}

int keep_failure_row(struct ctx *ctx, struct audit_row *row)
{
    if (row == NULL)
        return ERR_OK;
    struct error reply_error = ctx->err;
    int rc = audit_append(ctx, row);
    audit_row_release(row);
    free(row);
    if (rc == ERR_OK)
        ctx->err = reply_error;
    return rc;
}

/* A positive number member of data, or 0. */
static double positive_member(const cJSON *data, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

/* The rows command cmd may read or write: its pageSize, its limit (event.replay reads 100 without
 * one) and its ids, at least 1. A malformed command counts 1: it is refused when it runs. Summed in
 * a double, which cannot overflow. */
static double command_rows(const cJSON *cmd)
{
    const cJSON *data = cJSON_IsObject(cmd) ? cJSON_GetObjectItemCaseSensitive(cmd, "data") : NULL;
    const cJSON *name = cJSON_IsObject(cmd) ? cJSON_GetObjectItemCaseSensitive(cmd, "op") : NULL;
    double rows = 0;

    if (cJSON_IsObject(data)) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(data, "ids");
        rows += positive_member(data, "pageSize") + positive_member(data, "limit");
        if (cJSON_IsArray(ids))
            rows += cJSON_GetArraySize(ids);
        if (cJSON_GetObjectItemCaseSensitive(data, "limit") == NULL && cJSON_IsString(name) &&
            strcmp(name->valuestring, "event.replay") == 0)
            rows += 100;
    } else if (cJSON_IsString(name) && strcmp(name->valuestring, "event.replay") == 0) {
        rows += 100;
    }
    return rows > 1 ? rows : 1;
}

/* A batch's commands together may touch at most max_batch_rows rows: refused before any runs. */
static int check_batch_rows(struct call *c, const cJSON *commands)
{
    const cJSON *cmd;
    double rows = 0;
    int64_t max = api_max_batch_rows();

    if (max <= 0)
        return ERR_OK;
    cJSON_ArrayForEach(cmd, commands)
        rows += command_rows(cmd);
    if (rows > (double)max)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST,
                         "The batch may touch up to %.0f rows (the sum of its commands' pageSize, limit and ids), "
                         "more than the limit of %lld (max_batch_rows)", rows, (long long)max);
    return ERR_OK;
}

/* The batch's commands, checked before any runs: the keys, the count and the rows. NULL with
 * ctx->err set when refused. */
static const cJSON *batch_commands(struct call *c, bool *atomic)
{
    static const char *const keys[] = { "commands", "atomic", NULL };
    struct ctx *ctx = c->ctx;
    const cJSON *commands;
    bool present = false;

    *atomic = false;
    if (args_allow(c, keys) || arg_bool(c, "atomic", false, atomic, &present))
        return NULL;
    commands = cJSON_GetObjectItemCaseSensitive(c->data, "commands");
    if (commands == NULL || cJSON_IsNull(commands)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "'commands' is required");
        return NULL;
    }
    if (!cJSON_IsArray(commands)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "'commands' must be an array of {\"op\",\"data\"} objects");
        return NULL;
    }
    size_t n = (size_t)cJSON_GetArraySize(commands);
    if (n > api_max_batch_commands()) {
        error_set(&ctx->err, ERR_BAD_REQUEST,
                  "The batch has %zu commands, more than the limit of %zu (max_batch_commands)", n,
                  api_max_batch_commands());
        return NULL;
    }
    return check_batch_rows(c, commands) == ERR_OK ? commands : NULL;
}

/* The verifier's run of a batch: each command's preparer, as the batch's caller, so that a password
 * change inside a batch is hashed there and not on the writer. */
void op_batch_prepare(struct call *c)
{
    const cJSON *cmd;
    bool atomic;
    size_t i = 0;
    const cJSON *commands = batch_commands(c, &atomic);

    cJSON_ArrayForEach(cmd, commands) {
        const cJSON *data = NULL;
        cJSON *empty = NULL;
        const struct op *op = read_command(c->ctx, cmd, i++, &data, &empty);
        if (op != NULL && op->prepare != NULL) {
            struct op_run run = { .op = op, .data = data, .command = true, .prepare = true };
            (void)run_op(c->ctx, &run);
        }
        cJSON_Delete(empty);
    }
    error_clear(&c->ctx->err);
}

bool op_batch_has_hash_work(const char *payload, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(payload, len);
    const cJSON *data = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    const cJSON *commands = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "commands") : NULL;
    const cJSON *cmd;
    bool any = false;

    if (!cJSON_IsArray(commands))
        commands = NULL;
    cJSON_ArrayForEach(cmd, commands) {
        const cJSON *name = cJSON_IsObject(cmd) ? cJSON_GetObjectItemCaseSensitive(cmd, "op") : NULL;
        const struct op *op = cJSON_IsString(name) ? ops_lookup(name->valuestring) : NULL;
        if (op != NULL && op->prepare != NULL && !(op->flags & OP_ANONYMOUS) && strcmp(op->name, "batch") != 0) {
            any = true;
            break;
        }
    }
    cJSON_Delete(root);
    return any;
}

int op_batch(struct call *c)
{
    struct ctx *ctx = c->ctx;
    const cJSON *cmd;
    bool atomic = false;
    size_t i = 0, failed_at = 0;
    bool any_failed = false;
    struct audit_row *failed_row = NULL;

    const cJSON *commands = batch_commands(c, &atomic);
    if (commands == NULL)
        return call_failed(c);
    size_t n = (size_t)cJSON_GetArraySize(commands);

    cJSON *responses = cJSON_CreateArray(), *failed_reply = NULL;
    struct ctx_mark batch_mark = ctx_mark(ctx);
    if (atomic) {
        store_savepoint(ctx->store);
        ctx->mails.stop_at_failure = true; /* one failed mail fails the batch: send no more */
    }
    cJSON_ArrayForEach(cmd, commands) {
        bool ok;
        struct audit_row *failure;
        if (atomic && any_failed)
            break; /* the rest is not run: it answers 424 below */
        struct ctx_mark item_mark = { 0 };
        if (!atomic)
            item_mark = ctx_item_begin(ctx);
        ctx->command = i;
        cJSON *reply = run_command(c, cmd, i, &ok, &failure);
        ctx->command = 0;
        if (!atomic) {
            ctx_item_end(ctx, item_mark, ok);
            if (keep_failure_row(ctx, failure) != ERR_OK) {
                cJSON_Delete(reply);
                cJSON_Delete(responses);
                return call_failed(c);
            }
        }
        if (!ok && atomic) {
            any_failed = true;
            failed_at = i;
            failed_reply = reply;
            failed_row = failure;
        } else {
            cJSON_AddItemToArray(responses, reply);
        }
        i++;
    }
    bool committed = true;
    if (atomic && any_failed) {
        store_savepoint_rollback(ctx->store);
        ctx_forget_since(ctx, batch_mark);
        committed = false;
        cJSON_Delete(responses);
        responses = cJSON_CreateArray();
        for (size_t k = 0; k < n; k++) {
            if (k == failed_at) {
                cJSON_AddItemToArray(responses, failed_reply);
                continue;
            }
            struct error e = { 0 };
            error_set(&e, ERR_NOT_APPLIED, "Not applied: command %zu failed and the batch was rolled back", failed_at);
            cJSON_AddItemToArray(responses, error_object(&e));
        }
        /* nothing of the batch was applied but the failed command's FAILURE row */
        if (keep_failure_row(ctx, failed_row) != ERR_OK) {
            cJSON_Delete(responses);
            return call_failed(c);
        }
    } else if (atomic) {
        store_savepoint_release(ctx->store);
    }
    error_clear(&ctx->err);
    c->result = cJSON_CreateObject();
    cJSON_AddBoolToObject(c->result, "committed", committed);
    cJSON_AddItemToObject(c->result, "responses", responses);
    return ERR_OK;
}
