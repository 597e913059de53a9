/* events.c: writing change events to the outbox (same transaction as the change) and replaying a
 * tenant's past events for listeners that saw a gap in seq. */
#include "cmagent/events.h"

#include "cmagent/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the written event (its payload moves) for publishing once the transaction commits. */
static void remember_event(struct ctx *ctx, struct outbox_event *row)
{
    size_t n = ctx->nemitted;
    if (!ctx->keep_events)
        return;
    if (n == ctx->emitted_cap) {
        ctx->emitted_cap = ctx->emitted_cap ? ctx->emitted_cap * 2 : 4;
        ctx->emitted = xrealloc(ctx->emitted, ctx->emitted_cap * sizeof *ctx->emitted);
    }
    struct outbox_event *e = &ctx->emitted[n];
    *e = *row;
    e->entity_type = xstrdup_or_null(row->entity_type);
    e->event_type = xstrdup_or_null(row->event_type);
    row->payload = NULL;
    ctx->nemitted++;
}

void events_resolve_customer(const struct ctx *ctx, const char *given, char out[UUID_STR_LEN])
{
    const char *pick = given;
    if (pick == NULL || pick[0] == '\0' || strcmp(pick, NULL_UUID) == 0)
        pick = ctx->who.customer_id;
    if (pick[0] == '\0' || strcmp(pick, NULL_UUID) == 0)
        pick = "";
    strcpy(out, pick);
}

/* The audit row of a committed change: same transaction, same savepoint as its event. */
static int audit_event(struct ctx *ctx, const struct event *ev)
{
    struct audit_row r = { 0 };
    audit_row_from_caller(ctx, &r);
    if (ctx->who.authority == AUTHORITY_NONE)
        snprintf(r.tenant_id, sizeof r.tenant_id, "%s", ev->tenant_id);
    snprintf(r.customer_id, sizeof r.customer_id, "%s", ev->customer_id);
    snprintf(r.entity_type, sizeof r.entity_type, "%s", ev->entity_type);
    snprintf(r.entity_id, sizeof r.entity_id, "%s", ev->entity_id);
    r.entity_name = xstrdup_or_null(ev->entity_name);
    snprintf(r.action_type, sizeof r.action_type, "%s", audit_action_of_event(ev->type));
    r.action_data = ctx->render_audit != NULL ? ctx->render_audit(ev, &ctx->who) : NULL;
    int rc = audit_append(ctx, &r);
    audit_row_release(&r);
    return rc;
}

int events_emit(struct ctx *ctx, struct event *ev)
{
    struct outbox_event row;
    int rc = store_outbox_next_seq(ctx->store, &ev->seq);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    ev->ts = ctx->now;
    memset(&row, 0, sizeof row);
    row.seq = ev->seq;
    strcpy(row.tenant_id, ev->tenant_id);
    row.entity_type = (char *)ev->entity_type;
    row.event_type = (char *)ev->type;
    row.payload = ctx->render_event(ev, &ctx->who);
    rc = store_outbox_insert(ctx->store, &row, ev->ts);
    if (rc != STORE_OK) {
        free(row.payload);
        return ctx_store_failed(ctx, rc);
    }
    remember_event(ctx, &row);
    free(row.payload);
    ctx->events_written++;
    return audit_event(ctx, ev);
}

int events_replay(struct ctx *ctx, int64_t after_seq, int64_t limit, struct outbox_event **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (ctx->who.authority != AUTHORITY_TENANT_ADMIN)
        return error_forbidden(&ctx->err);
    if (after_seq < 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "afterSeq must be zero or greater");
    if (limit < 1 || limit > 1000)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "limit must be between 1 and 1000");
    int rc = store_outbox_for_tenant(ctx->store, ctx->who.tenant_id, after_seq, limit, out, n);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}
