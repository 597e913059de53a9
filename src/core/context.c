/* context.c: turning unexpected store results into reportable errors. */
#include "cmagent/context.h"

#include "cmagent/log.h"

int ctx_store_failed(struct ctx *ctx, int rc)
{
    switch (rc) {
    case STORE_NOT_FOUND:
        return error_set(&ctx->err, ERR_INTERNAL, "Internal error: a row vanished during the request");
    case STORE_DUPLICATE:
        return error_set(&ctx->err, ERR_DATABASE, "Database error: a unique constraint refused the write");
    default:
        log_warn("Database error: %s", store_errmsg(ctx->store));
        return error_set(&ctx->err, ERR_DATABASE, "Database error: %s", store_errmsg(ctx->store));
    }
}

void ctx_item_begin(struct ctx *ctx)
{
    ctx->item_events_mark = ctx->events_written;
    store_savepoint(ctx->store);
}

void ctx_item_end(struct ctx *ctx, bool keep)
{
    if (keep) {
        store_savepoint_release(ctx->store);
    } else {
        store_savepoint_rollback(ctx->store);
        ctx->events_written = ctx->item_events_mark;
    }
}
