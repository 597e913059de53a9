/* unassign.c: the deferred unassignment of a deleted customer's devices, assets and edges: the job
 * customer_delete records, the chunks the writer runs, and the settling of rows not reached yet. */
#include "cmagent/unassign.h"

#include "cmagent/store_entity.h"

#include <string.h>

int unassign_schedule(struct ctx *ctx, const char *customer_id, const char *tenant_id)
{
    int rc = store_unassign_job_add(ctx->store, customer_id, tenant_id, ctx->now);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

static int settle(struct ctx *ctx, struct entity *e)
{
    bool pending = false;
    if (e->customer_id[0] == '\0')
        return ERR_OK;
    int rc = store_unassign_job_pending(ctx->store, e->customer_id, &pending);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (pending) {
        e->customer_id[0] = '\0';
        e->version++;
    }
    return ERR_OK;
}

int unassign_settle(struct ctx *ctx, struct entity *e) { return settle(ctx, e); }

int unassign_settle_page(struct ctx *ctx, struct entity *items, size_t n)
{
    bool any = false;
    if (n == 0)
        return ERR_OK;
    int rc = store_unassign_job_any(ctx->store, &any);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    for (size_t i = 0; any && i < n; i++)
        if (settle(ctx, &items[i]) != ERR_OK)
            return ctx->err.kind;
    return ERR_OK;
}

int unassign_run_chunk(struct store *s, int64_t limit, struct unassign_chunk *out)
{
    int64_t left = limit;
    int rc;

    memset(out, 0, sizeof *out);
    rc = store_unassign_job_oldest(s, &out->job);
    if (rc == STORE_NOT_FOUND) {
        out->idle = true;
        return STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    /* The kinds in order: a kind that gives fewer rows than asked for has none left. */
    for (int k = 0; k < ENTITY_KINDS && left > 0; k++) {
        int64_t changed = 0;
        rc = store_entity_unassign_customer(s, (enum entity_kind)k, out->job.customer_id, left, &changed);
        if (rc != STORE_OK)
            return rc;
        left -= changed;
    }
    out->rows = limit - left;
    out->job.unassigned += out->rows;
    if (left > 0) {
        out->finished = true;
        return store_unassign_job_finish(s, out->job.customer_id);
    }
    return store_unassign_job_progress(s, out->job.customer_id, out->rows);
}
