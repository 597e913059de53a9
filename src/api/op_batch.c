/* op_batch.c: the batch operation (protocol §5.1): many operations in one request, each answered
 * in order, together touching at most max_batch_rows rows. atomic: one savepoint around all of
 * them, rolled back (events included, since they are outbox rows) when any fails; otherwise each
 * command stands alone in its own savepoint. Each command runs as ctx->command = its index, so a
 * command that mails (user.create with sendActivationMail, user.sendActivationMail) composes its own
 * mail, and finds its own outcome in the second run (agent.c); a rolled-back command or batch
 * forgets the mails it composed. */
#include "ops.h"

#include "cmagent/perm.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *error_reply(const struct error *e)
{
    return error_object(e);
}

/* Runs command i ({op, data}) as the batch's caller. Returns its reply object; *ok tells success. */
static cJSON *run_command(struct call *c, const cJSON *cmd, size_t i, bool *ok)
{
    struct ctx *ctx = c->ctx;
    const cJSON *name, *data, *item;
    const struct op *op;
    cJSON *empty = NULL, *reply;

    *ok = false;
    error_clear(&ctx->err);
    if (!cJSON_IsObject(cmd)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu must be an object {\"op\":...,\"data\":{...}}", i);
        return error_reply(&ctx->err);
    }
    cJSON_ArrayForEach(item, cmd) {
        if (strcmp(item->string, "op") != 0 && strcmp(item->string, "data") != 0) {
            error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown key '%.64s' in command %zu", item->string, i);
            return error_reply(&ctx->err);
        }
    }
    name = cJSON_GetObjectItemCaseSensitive(cmd, "op");
    data = cJSON_GetObjectItemCaseSensitive(cmd, "data");
    if (!cJSON_IsString(name)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu: 'op' must be an operation name", i);
        return error_reply(&ctx->err);
    }
    op = ops_lookup(name->valuestring);
    if (op == NULL) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown operation '%.128s'", name->valuestring);
        return error_reply(&ctx->err);
    }
    if (strcmp(op->name, "batch") == 0 || (op->flags & OP_ANONYMOUS)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Operation '%s' cannot run inside a batch", op->name);
        return error_reply(&ctx->err);
    }
    if (!(op->authorities & AUTH_BIT(ctx->who.authority))) {
        error_forbidden(&ctx->err);
        return error_reply(&ctx->err);
    }
    if (data != NULL && !cJSON_IsNull(data) && !cJSON_IsObject(data)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Command %zu: 'data' must be a JSON object", i);
        return error_reply(&ctx->err);
    }
    if (data == NULL || cJSON_IsNull(data))
        data = empty = cJSON_CreateObject();

    struct call sub = { .ctx = ctx, .op = op, .data = data, .result = NULL };
    if (op->handler(&sub) != ERR_OK) {
        cJSON_Delete(sub.result);
        if (ctx->err.kind == ERR_OK)
            error_set(&ctx->err, ERR_INTERNAL, "Internal error: the operation failed without a reason");
        reply = error_reply(&ctx->err);
    } else {
        *ok = true;
        reply = cJSON_CreateObject();
        cJSON_AddNumberToObject(reply, "status", 200);
        cJSON_AddItemToObject(reply, "data", sub.result != NULL ? sub.result : cJSON_CreateObject());
    }
    cJSON_Delete(empty);
    return reply;
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

int op_batch(struct call *c)
{
    static const char *const keys[] = { "commands", "atomic", NULL };
    struct ctx *ctx = c->ctx;
    const cJSON *commands, *cmd;
    bool atomic = false, present = false;
    size_t n, i = 0, failed_at = 0;
    bool any_failed = false;

    if (args_allow(c, keys) || arg_bool(c, "atomic", false, &atomic, &present))
        return call_failed(c);
    commands = cJSON_GetObjectItemCaseSensitive(c->data, "commands");
    if (commands == NULL || cJSON_IsNull(commands))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "'commands' is required");
    if (!cJSON_IsArray(commands))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "'commands' must be an array of {\"op\",\"data\"} objects");
    n = (size_t)cJSON_GetArraySize(commands);
    if (n > api_max_batch_commands())
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "The batch has %zu commands, more than the limit of %zu (max_batch_commands)", n,
                         api_max_batch_commands());
    if (check_batch_rows(c, commands) != ERR_OK)
        return call_failed(c);

    cJSON *responses = cJSON_CreateArray(), *failed_reply = NULL;
    struct ctx_mark batch_mark = ctx_mark(ctx);
    if (atomic) {
        store_savepoint(ctx->store);
        ctx->mails.stop_at_failure = true; /* one failed mail fails the batch: send no more */
    }
    cJSON_ArrayForEach(cmd, commands) {
        bool ok;
        if (atomic && any_failed)
            break; /* the rest is not run: it answers 424 below */
        struct ctx_mark item_mark = { 0 };
        if (!atomic)
            item_mark = ctx_item_begin(ctx);
        ctx->command = i;
        cJSON *reply = run_command(c, cmd, i, &ok);
        ctx->command = 0;
        if (!atomic)
            ctx_item_end(ctx, item_mark, ok);
        if (!ok && atomic) {
            any_failed = true;
            failed_at = i;
            failed_reply = reply;
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
    } else if (atomic) {
        store_savepoint_release(ctx->store);
    }
    error_clear(&ctx->err);
    c->result = cJSON_CreateObject();
    cJSON_AddBoolToObject(c->result, "committed", committed);
    cJSON_AddItemToObject(c->result, "responses", responses);
    return ERR_OK;
}
