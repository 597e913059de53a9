/* import_job.c: the bookkeeping of import jobs (import_job.h): starting one, reading it back for
 * its tenant, and taking on the identity of the user who started it. */
#include "cmagent/import_job.h"

#include "auth_int.h"
#include "cmagent/alloc.h"
#include "cmagent/perm.h"
#include "cmagent/store_user.h"
#include "cmagent/uuid.h"

#include <stdio.h>
#include <string.h>

int import_job_start(struct ctx *ctx, const char *entity_type, const char *options, const char *rows_json,
                     int64_t total, char id[UUID_STR_LEN])
{
    struct import_job j = { 0 };

    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    uuid_generate(j.id);
    strcpy(j.tenant_id, ctx->who.tenant_id);
    strcpy(j.user_id, ctx->who.user_id);
    snprintf(j.entity_type, sizeof j.entity_type, "%s", entity_type);
    j.options = (char *)options;
    j.total = total;
    j.created_time = ctx->now;
    int rc = store_import_job_add(ctx->store, &j, rows_json);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    strcpy(id, j.id);
    return ERR_OK;
}

int import_job_load(struct ctx *ctx, const char *id, struct import_job *out)
{
    memset(out, 0, sizeof *out);
    if (perm_require(ctx, AUTH_TENANT) != ERR_OK)
        return ctx->err.kind;
    int rc = store_import_job_get(ctx->store, id, out);
    if (rc == STORE_OK && strcmp(out->tenant_id, ctx->who.tenant_id) != 0) {
        import_job_release(out);
        rc = STORE_NOT_FOUND;
    }
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND, "Import job [%s] is not found", id);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int import_job_cancel(struct ctx *ctx, const char *id, struct import_job *out)
{
    char why[512];

    if (import_job_load(ctx, id, out) != ERR_OK)
        return ctx->err.kind;
    if (out->finished_time > 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Import job [%s] is not running", id);
    snprintf(why, sizeof why, "Cancelled by %s", ctx->who.email);
    out->error = xstrdup(why);
    out->finished_time = ctx->now;
    int rc = store_import_job_progress(ctx->store, out);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int import_job_results(struct ctx *ctx, const char *id, bool failed_only, int64_t offset, int64_t limit,
                       char ***results, size_t *n)
{
    int rc = store_import_results(ctx->store, id, failed_only, offset, limit, results, n);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int import_job_act_as(struct ctx *ctx, const struct import_job *j)
{
    struct user u = { 0 };
    struct token none = { 0 };
    int rc = store_user_get(ctx->store, j->user_id, &u);

    if (rc == STORE_OK && (u.authority != AUTHORITY_TENANT_ADMIN || strcmp(u.tenant_id, j->tenant_id) != 0))
        rc = STORE_NOT_FOUND;
    if (rc == STORE_OK)
        auth_fill_principal(ctx, &u, &none);
    user_release(&u);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_NOT_FOUND,
                         "The user who started the import was deleted or is no longer a tenant administrator");
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}
