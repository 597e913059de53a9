/* events.c: writing change events to the outbox (same transaction as the change) and replaying a
 * tenant's past events for listeners that saw a gap in seq. An event is numbered (seq over the
 * database, tenantSeq over its tenant) when it is stored: in the writer, at the end of the batch
 * just before the commit (events_store), so that the counters' rows stay locked from there to the
 * commit only, and a concurrent agent's transaction never waits for them while holding a row this
 * one still needs. */
#include "cmagent/events.h"

#include "cmagent/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distinct for every event this process renders: the renderer's cache key (render.c). */
static int64_t rendered_serial;

/* Keeps the written event (its payload moves) for publishing once the transaction commits. */
static void remember_event(struct ctx *ctx, struct outbox_event *row)
{
    size_t n = ctx->nemitted;
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

/* The stored body: the rendered object (which leaves the numbers out) with "seq" and "tenantSeq"
 * as its first members. A renderer's body that is not an object is stored as it is. */
static char *numbered_body(const char *body, int64_t seq, int64_t tenant_seq)
{
    char head[64];
    if (body[0] != '{')
        return xstrdup(body);
    int n = snprintf(head, sizeof head, "{\"seq\":%" PRId64 ",\"tenantSeq\":%" PRId64 "%s", seq, tenant_seq,
                     body[1] != '}' ? "," : "");
    size_t len = strlen(body + 1);
    char *out = xmalloc((size_t)n + len + 1);
    memcpy(out, head, (size_t)n);
    memcpy(out + n, body + 1, len + 1);
    return out;
}

/* The tenantSeqs of the events of one tenant, the first of which is evs[first]. */
static int number_tenant(struct store *s, struct outbox_event *evs, size_t n, size_t first)
{
    int64_t count = 0, last = 0;
    for (size_t i = first; i < n; i++)
        count += strcmp(evs[i].tenant_id, evs[first].tenant_id) == 0;
    int rc = store_outbox_take_tenant_seqs(s, evs[first].tenant_id, count, &last);
    if (rc != STORE_OK)
        return rc;
    int64_t next = last - count + 1;
    for (size_t i = first; i < n; i++)
        if (strcmp(evs[i].tenant_id, evs[first].tenant_id) == 0)
            evs[i].tenant_seq = next++;
    return STORE_OK;
}

int events_store(struct store *s, struct outbox_event *evs, size_t n)
{
    int64_t last = 0;
    if (n == 0)
        return STORE_OK;
    int rc = store_outbox_take_seqs(s, (int64_t)n, &last);
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        evs[i].seq = last - (int64_t)n + 1 + (int64_t)i;
        evs[i].tenant_seq = 0;
    }
    for (size_t i = 0; i < n && rc == STORE_OK; i++)
        if (evs[i].tenant_seq == 0) /* the first event of its tenant in the batch */
            rc = number_tenant(s, evs, n, i);
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        char *body = numbered_body(evs[i].payload, evs[i].seq, evs[i].tenant_seq);
        free(evs[i].payload);
        evs[i].payload = body;
        rc = store_outbox_insert(s, &evs[i], evs[i].ts);
    }
    return rc;
}

int events_emit(struct ctx *ctx, struct event *ev)
{
    struct outbox_event row;
    ev->seq = 0; /* numbered when stored */
    ev->serial = __atomic_add_fetch(&rendered_serial, 1, __ATOMIC_RELAXED);
    ev->ts = ctx->now;
    memset(&row, 0, sizeof row);
    row.ts = ev->ts;
    strcpy(row.tenant_id, ev->tenant_id);
    row.entity_type = (char *)ev->entity_type;
    row.event_type = (char *)ev->type;
    row.payload = ctx->render_event(ev, &ctx->who);
    if (ctx->keep_events) {
        remember_event(ctx, &row); /* stored by the writer with the batch's other events */
    } else {
        int rc = events_store(ctx->store, &row, 1);
        ev->seq = row.seq;
        if (rc != STORE_OK) {
            free(row.payload);
            return ctx_store_failed(ctx, rc);
        }
    }
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
