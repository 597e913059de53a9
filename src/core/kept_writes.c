/* kept_writes.c: writes what a failed request must leave behind after its savepoint was rolled back
 * (the failed login's count and lockout, the failed write's audit row; the claim of the request id
 * of a run that waits for its mails), in a savepoint of its own.
 * The writer, the batch and the tests call it; the context only carries the record (context.h). */
#include "cmagent/kept_writes.h"

#include "cmagent/audit.h"
#include "cmagent/auth.h"
#include "cmagent/context.h"
#include "cmagent/idempotency.h"
#include "cmagent/log.h"

static bool nothing_kept(const struct kept_writes *k)
{
    return k->failed_login_user[0] == '\0' && !k->audit && k->pending_id[0] == '\0';
}

static int write_kept(struct ctx *ctx)
{
    int rc = ERR_OK;

    if (ctx->kept.failed_login_user[0] != '\0')
        rc = auth_count_failed_login(ctx, ctx->kept.failed_login_user);
    if (rc == ERR_OK && ctx->kept.audit && ctx->kept.audit_row != NULL)
        rc = audit_append(ctx, ctx->kept.audit_row);
    if (rc == ERR_OK && ctx->kept.pending_id[0] != '\0' && ctx->kept.pending_release)
        rc = idem_release(ctx, ctx->kept.pending_id);
    else if (rc == ERR_OK && ctx->kept.pending_id[0] != '\0') {
        bool kept = false;
        rc = idem_keep_pending(ctx, ctx->kept.pending_id, ctx->kept.pending_op, &kept);
        ctx->kept.pending_lost = rc == ERR_OK && !kept;
    }
    return rc;
}

void kept_writes_apply(struct ctx *ctx)
{
    struct error reply_error = ctx->err; /* the request's error stays the reply's */

    if (nothing_kept(&ctx->kept))
        return;
    if (store_savepoint(ctx->store) != STORE_OK) {
        log_error("Keeping a failed request's audit row failed: %s", store_errmsg(ctx->store));
        return;
    }
    if (write_kept(ctx) == ERR_OK) {
        store_savepoint_release(ctx->store);
    } else {
        log_error("Keeping a failed request's writes failed: %s", ctx->err.message);
        store_savepoint_rollback(ctx->store);
    }
    ctx->err = reply_error;
}
