/* audit.c: the audit log's rules (thingsboard-customers.md §7.3): which action type an event
 * records, who the actor is, the tenant scope of audit.list and the retention purge. The rows'
 * JSON (actionData) is rendered by the api through ctx->render_audit; this file knows no JSON. */
#include "cmagent/audit.h"

#include "cmagent/paging.h"
#include "cmagent/perm.h"
#include "cmagent/store_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sort_column audit_sort[] = {
    { "createdTime", "created_time" },
    { NULL, NULL },
};

static const struct {
    const char *event, *action;
} event_actions[] = {
    { "ENTITY_CREATED", "ADDED" },
    { "ENTITY_UPDATED", "UPDATED" },
    { "ENTITY_DELETED", "DELETED" },
    { "ENTITY_ASSIGNED", "ASSIGNED_TO_CUSTOMER" },
    { "ENTITY_UNASSIGNED", "UNASSIGNED_FROM_CUSTOMER" },
    { "USER_ACTIVATED", "ACTIVATED" },
    { "USER_ENABLED", "ACTIVATED" },
    { "USER_DISABLED", "SUSPENDED" },
};

const char *audit_action_of_event(const char *event_type)
{
    for (size_t i = 0; i < sizeof event_actions / sizeof event_actions[0]; i++)
        if (strcmp(event_actions[i].event, event_type) == 0)
            return event_actions[i].action;
    return event_type;
}

void audit_row_from_caller(const struct ctx *ctx, struct audit_row *r)
{
    const struct principal *w = &ctx->who;

    r->created_time = ctx->now;
    if (w->authority == AUTHORITY_NONE)
        return;
    snprintf(r->tenant_id, sizeof r->tenant_id, "%s", w->tenant_id[0] ? w->tenant_id : NULL_UUID);
    if (w->customer_id[0] != '\0' && strcmp(w->customer_id, NULL_UUID) != 0)
        snprintf(r->customer_id, sizeof r->customer_id, "%s", w->customer_id);
    snprintf(r->user_id, sizeof r->user_id, "%s", w->user_id);
    free(r->user_name);
    r->user_name = xstrdup_or_null(w->email);
    if (w->acting_user_id[0] != '\0') {
        snprintf(r->acting_user_id, sizeof r->acting_user_id, "%s", w->acting_user_id);
        free(r->acting_user_name);
        r->acting_user_name = xstrdup_or_null(w->acting_email);
    }
}

int audit_append(struct ctx *ctx, struct audit_row *r)
{
    if (r->id[0] == '\0')
        uuid_generate(r->id);
    if (r->created_time == 0)
        r->created_time = ctx->now;
    if (r->tenant_id[0] == '\0')
        strcpy(r->tenant_id, NULL_UUID);
    if (r->action_status[0] == '\0')
        strcpy(r->action_status, "SUCCESS");
    int rc = store_audit_insert(ctx->store, r);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    ctx->audits_written++;
    return ERR_OK;
}

int audit_list(struct ctx *ctx, const struct audit_filter *f, const struct page_request *p,
               struct audit_row **items, size_t *n, struct page_info *info)
{
    const char *column;
    int64_t total = 0;
    const char *tenant = ctx->who.authority == AUTHORITY_SYS_ADMIN ? NULL_UUID : ctx->who.tenant_id;

    *items = NULL;
    *n = 0;
    if (perm_require(ctx, AUTH_SYS | AUTH_TENANT) != ERR_OK || paging_validate(ctx, p, audit_sort, &column) != ERR_OK)
        return ctx->err.kind;
    if (f->start_time < 0 || f->end_time < 0 || (f->end_time != 0 && f->end_time < f->start_time))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "startTime and endTime must be ms since the epoch, start <= end");
    /* Newest first unless the caller sorts by createdTime explicitly. */
    bool descending = p->sort_property == NULL ? true : p->descending;
    int rc = store_audit_page(ctx->store, tenant, f, descending, p->page_size, paging_offset(p), items, n, &total);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    paging_info(p, total, info);
    return ERR_OK;
}

int audit_purge(struct store *s, int64_t before_ts, int64_t *deleted)
{
    return store_audit_purge(s, before_ts, deleted);
}
