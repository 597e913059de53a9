/* context.c: turning unexpected store results into reportable errors. */
#include "cmagent/context.h"

#include "cmagent/audit.h"
#include "cmagent/auth.h"
#include "cmagent/events.h"
#include "cmagent/log.h"
#include "cmagent/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctx_store_failed(struct ctx *ctx, int rc)
{
    switch (rc) {
    case STORE_NOT_FOUND:
        return error_set(&ctx->err, ERR_INTERNAL, "Internal error: a row vanished during the request");
    case STORE_DUPLICATE:
        return error_set(&ctx->err, ERR_DATABASE, "Database error: a unique constraint refused the write");
    case STORE_TOO_LARGE:
        return error_set(&ctx->err, ERR_TOO_LARGE,
                         "The request would read more than max_reply (%lld bytes) of rows: ask for fewer (a smaller "
                         "pageSize or limit, fewer ids or commands)", (long long)store_budget_limit(ctx->store));
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
        ctx_forget_events(ctx, ctx->item_events_mark);
    }
}

void ctx_forget_events(struct ctx *ctx, int64_t mark)
{
    size_t drop = mark < ctx->events_written ? (size_t)(ctx->events_written - mark) : 0;
    if (drop > ctx->nemitted)
        drop = ctx->nemitted;
    if (drop > 0) /* emitted is NULL until the first kept event: no pointer arithmetic on it */
        outbox_events_free_items(ctx->emitted + ctx->nemitted - drop, drop);
    ctx->nemitted -= drop;
    ctx->events_written = mark;
}

void ctx_audit_subject(struct ctx *ctx, const struct user *u)
{
    snprintf(ctx->audit_entity_id, sizeof ctx->audit_entity_id, "%s", u->id);
    utf8_copy(ctx->audit_entity_name, sizeof ctx->audit_entity_name, u->email ? u->email : "");
    snprintf(ctx->audit_tenant_id, sizeof ctx->audit_tenant_id, "%s", u->tenant_id);
    snprintf(ctx->audit_customer_id, sizeof ctx->audit_customer_id, "%s", u->customer_id);
}

void ctx_release(struct ctx *ctx)
{
    free(ctx->mail.to);
    free(ctx->mail.subject);
    free(ctx->mail.body);
    memset(&ctx->mail, 0, sizeof ctx->mail);
    if (ctx->kept.audit_row != NULL) {
        audit_row_release(ctx->kept.audit_row);
        free(ctx->kept.audit_row);
    }
    memset(&ctx->kept, 0, sizeof ctx->kept);
    outbox_events_free(ctx->emitted, ctx->nemitted);
    ctx->emitted = NULL;
    ctx->nemitted = ctx->emitted_cap = 0;
}

void ctx_apply_kept(struct ctx *ctx)
{
    struct error reply_error = ctx->err; /* the request's error stays the reply's */
    int rc = ERR_OK;

    if (ctx->kept.failed_login_user[0] == '\0' && !ctx->kept.audit)
        return;
    if (store_savepoint(ctx->store) != STORE_OK) {
        log_error("Keeping a failed request's audit row failed: %s", store_errmsg(ctx->store));
        return;
    }
    if (ctx->kept.failed_login_user[0] != '\0')
        rc = auth_count_failed_login(ctx, ctx->kept.failed_login_user);
    if (rc == ERR_OK && ctx->kept.audit && ctx->kept.audit_row != NULL)
        rc = audit_append(ctx, ctx->kept.audit_row);
    if (rc == ERR_OK) {
        store_savepoint_release(ctx->store);
    } else {
        log_error("Keeping a failed request's writes failed: %s", ctx->err.message);
        store_savepoint_rollback(ctx->store);
    }
    ctx->err = reply_error;
}

void ctx_want_mail(struct ctx *ctx, const char *to, const char *subject, const char *body, bool await)
{
    free(ctx->mail.to);
    free(ctx->mail.subject);
    free(ctx->mail.body);
    ctx->mail.to = xstrdup_or_null(to);
    ctx->mail.subject = xstrdup_or_null(subject);
    ctx->mail.body = xstrdup_or_null(body);
    ctx->mail.await = await;
}

char *ctx_link(const struct ctx *ctx, const char *path, const char *token)
{
    const char *base = ctx->settings->base_url ? ctx->settings->base_url : "";
    size_t base_len = strlen(base);

    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;
    size_t len = base_len + strlen(path) + strlen(token) + 1;
    char *link = xcalloc(len, 1);
    snprintf(link, len, "%.*s%s%s", (int)base_len, base, path, token);
    return link;
}
