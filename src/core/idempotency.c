/* idempotency.c: the at-most-once rule of protocol section 7 over the idempotency table. */
#include "cmagent/idempotency.h"

#include "cmagent/store_idem.h"

#include <stdint.h>
#include <stdlib.h>

static const char *principal_of(const struct ctx *ctx)
{
    return ctx->who.authority == AUTHORITY_NONE ? "" : ctx->who.user_id;
}

/* The second run of a request that awaited its mails takes its own pending claim back. */
static int64_t pending_before(const struct ctx *ctx)
{
    return ctx->mailed != NULL ? INT64_MAX : ctx->now - IDEM_PENDING_STALE_MS;
}

int idem_find(struct ctx *ctx, const char *request_id, const char *this_op, char **op, char **reply)
{
    int64_t since = ctx->now - ctx->settings->idempotency_window_ms;
    bool claimed = false;
    int rc = store_idem_claim(ctx->store, principal_of(ctx), request_id, this_op, ctx->now, since,
                              pending_before(ctx), &claimed);

    *op = NULL;
    *reply = NULL;
    if (rc == STORE_OK && !claimed)
        rc = store_idem_get(ctx->store, principal_of(ctx), request_id, since, op, reply);
    if (rc == STORE_OK && *reply != NULL && (*reply)[0] == '\0') {
        free(*op);
        free(*reply);
        *op = *reply = NULL;
        return error_set(&ctx->err, ERR_CONFLICT,
                         "Request id '%.128s' is still being applied (its mails are being sent): send it again shortly",
                         request_id);
    }
    if (rc == STORE_OK || rc == STORE_NOT_FOUND)
        return ERR_OK;
    return ctx_store_failed(ctx, rc);
}

int idem_keep_pending(struct ctx *ctx, const char *request_id, const char *op, bool *kept)
{
    int64_t since = ctx->now - ctx->settings->idempotency_window_ms;
    int rc = store_idem_claim(ctx->store, principal_of(ctx), request_id, op, ctx->now, since,
                              ctx->now - IDEM_PENDING_STALE_MS, kept);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int idem_release(struct ctx *ctx, const char *request_id)
{
    int rc = store_idem_release(ctx->store, principal_of(ctx), request_id);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int idem_record(struct ctx *ctx, const char *request_id, const char *op, const char *reply)
{
    int rc = store_idem_put(ctx->store, principal_of(ctx), request_id, op, ctx->now, reply);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int idem_purge(struct store *store, int64_t window_ms, int64_t now, int64_t *deleted)
{
    return store_idem_purge(store, now - window_ms, deleted) == STORE_OK ? ERR_OK : ERR_DATABASE;
}
