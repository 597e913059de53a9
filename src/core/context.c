/* context.c: what a request's context owns: unexpected store results turned into reportable
 * errors, the mails it composed (those nobody waits for also written to the mail queue in its
 * transaction), the record of the writes kept after a failure (kept_writes.c writes them), and the
 * marks that let a rolled-back savepoint forget its events and mails. It calls the store and util
 * only, no feature file. */
#include "cmagent/context.h"

#include "cmagent/store_audit.h"
#include "cmagent/store_mail.h"
#include "cmagent/store_outbox.h"
#include "cmagent/log.h"
#include "cmagent/utf8.h"
#include "cmagent/uuid.h"

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
    case STORE_RETRY:
        ctx->store_retry = true;
        return error_set(&ctx->err, ERR_DATABASE, "Database error: %s", store_errmsg(ctx->store));
    case STORE_TOO_LARGE:
        return error_set(&ctx->err, ERR_TOO_LARGE,
                         "The request would read more than max_reply (%lld bytes) of rows: ask for fewer (a smaller "
                         "pageSize or limit, fewer ids or commands)", (long long)store_budget_limit(ctx->store));
    case STORE_UNAVAILABLE: /* the engine logged the loss once; every request of the outage comes here */
        return error_set(&ctx->err, ERR_UNAVAILABLE, "Database unavailable: %s", store_errmsg(ctx->store));
    default:
        log_warn("Database error: %s", store_errmsg(ctx->store));
        return error_set(&ctx->err, ERR_DATABASE, "Database error: %s", store_errmsg(ctx->store));
    }
}

struct ctx_mark ctx_mark(const struct ctx *ctx)
{
    struct ctx_mark m = { ctx->events_written, ctx->mails.n };
    return m;
}

static void mail_free(struct outgoing_mail *m)
{
    free(m->to);
    free(m->subject);
    free(m->body);
    memset(m, 0, sizeof *m);
}

static void forget_mails(struct ctx *ctx, size_t mark)
{
    while (ctx->mails.n > mark)
        mail_free(&ctx->mails.items[--ctx->mails.n]);
}

/* The events written since the mark are the last ones kept in emitted (when they are kept). */
static void forget_events(struct ctx *ctx, int64_t mark)
{
    size_t drop = mark < ctx->events_written ? (size_t)(ctx->events_written - mark) : 0;
    if (drop > ctx->nemitted)
        drop = ctx->nemitted;
    if (drop > 0) {
        outbox_events_free_items(ctx->emitted + (ctx->nemitted - drop), drop);
        ctx->nemitted -= drop;
    }
    ctx->events_written = mark;
}

void ctx_forget_since(struct ctx *ctx, struct ctx_mark mark)
{
    forget_events(ctx, mark.events);
    forget_mails(ctx, mark.mails);
}

struct ctx_mark ctx_item_begin(struct ctx *ctx)
{
    store_savepoint(ctx->store);
    return ctx_mark(ctx);
}

void ctx_item_end(struct ctx *ctx, struct ctx_mark begun, bool keep)
{
    if (keep) {
        store_savepoint_release(ctx->store);
    } else {
        store_savepoint_rollback(ctx->store);
        ctx_forget_since(ctx, begun);
    }
}

void ctx_audit_subject(struct ctx *ctx, const struct user *u)
{
    snprintf(ctx->audit_entity_id, sizeof ctx->audit_entity_id, "%s", u->id);
    utf8_copy(ctx->audit_entity_name, sizeof ctx->audit_entity_name, u->email ? u->email : "");
    snprintf(ctx->audit_tenant_id, sizeof ctx->audit_tenant_id, "%s", u->tenant_id);
    snprintf(ctx->audit_customer_id, sizeof ctx->audit_customer_id, "%s", u->customer_id);
}

void mail_list_release(struct mail_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        mail_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void mail_list_keep_awaited(struct mail_list *l)
{
    size_t kept = 0;

    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].await)
            l->items[kept++] = l->items[i];
        else
            mail_free(&l->items[i]);
    }
    l->n = kept;
}

void ctx_release(struct ctx *ctx)
{
    mail_list_release(&ctx->mails);
    if (ctx->kept.audit_row != NULL) {
        audit_row_release(ctx->kept.audit_row);
        free(ctx->kept.audit_row);
    }
    memset(&ctx->kept, 0, sizeof ctx->kept);
    outbox_events_free(ctx->emitted, ctx->nemitted);
    ctx->emitted = NULL;
    ctx->nemitted = ctx->emitted_cap = 0;
}

struct outgoing_mail *ctx_want_mail(struct ctx *ctx, const char *to, const char *subject, const char *body,
                                    bool await)
{
    struct mail_list *l = &ctx->mails;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    struct outgoing_mail *m = &l->items[l->n++];
    memset(m, 0, sizeof *m);
    m->to = xstrdup_or_null(to);
    m->subject = xstrdup_or_null(subject);
    m->body = xstrdup_or_null(body);
    m->await = await;
    m->command = ctx->command;
    return m;
}

int ctx_queue_mail(struct ctx *ctx, const char *to, const char *subject, const char *body, int64_t lifetime_ms)
{
    struct outgoing_mail *m = ctx_want_mail(ctx, to, subject, body, false);
    const struct core_settings *s = ctx->settings;

    m->expires_at = ctx->now + (lifetime_ms > 0 ? lifetime_ms : 0);
    if (!s->mail_configured)
        return ERR_OK;
    struct queued_mail q = { .to = m->to, .subject = m->subject, .body = m->body, .created_time = ctx->now,
                             .expires_at = m->expires_at };
    uuid_generate(q.id);
    int rc = store_mail_add(ctx->store, &q, s->mail_claimer, ctx->now + s->mail_claim_ms);
    if (rc != STORE_OK) {
        mail_free(&ctx->mails.items[--ctx->mails.n]);
        return ctx_store_failed(ctx, rc);
    }
    snprintf(m->queue_id, sizeof m->queue_id, "%s", q.id);
    return ERR_OK;
}

bool ctx_awaits_mail(const struct ctx *ctx)
{
    for (size_t i = 0; i < ctx->mails.n; i++)
        if (ctx->mails.items[i].await)
            return true;
    return false;
}

const struct outgoing_mail *ctx_mailed(const struct ctx *ctx)
{
    if (ctx->mailed == NULL)
        return NULL;
    for (size_t i = 0; i < ctx->mailed->n; i++)
        if (ctx->mailed->items[i].await && ctx->mailed->items[i].command == ctx->command)
            return &ctx->mailed->items[i];
    return NULL;
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
