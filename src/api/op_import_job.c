/* op_import_job.c: the import jobs (docs/protocol.md, Import). import.run with more rows than
 * import_chunk_rows, neither atomic nor a dry run, stores its rows as a job (core/import_job.c)
 * and answers its jobId at once; the writer runs the job's rows import_chunk_rows at a time, each
 * chunk in a transaction of its own between requests (api_import_run_chunk, agent/jobs.c), each
 * row as the single create it is, as the user who started the job, exactly as an import in the
 * request runs it (import_run_row). The activation mails of a job's users are not awaited: they go
 * after their chunk commits, and a failed one is logged (user.sendActivationMail sends it again).
 * import.status reads a job's progress and the results of its rows that ran; import.cancel stops a
 * running job where its last chunk ended. */
#include "import.h"

#include "cmagent/alloc.h"
#include "cmagent/clock.h"
#include "cmagent/import_job.h"
#include "cmagent/user.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The job's rows as store_import_job_add takes them: [{"l":<line, 0 for JSON>,"d":<row>}, ...]. */
static char *job_rows_json(const cJSON *rows, const size_t *lines)
{
    cJSON *a = cJSON_CreateArray();
    const cJSON *row;
    size_t i = 0;
    cJSON_ArrayForEach(row, rows) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "l", lines != NULL ? (double)lines[i] : 0);
        cJSON_AddItemToObject(o, "d", cJSON_Duplicate(row, true));
        cJSON_AddItemToArray(a, o);
        i++;
    }
    char *text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return text;
}

int import_start_job(struct call *c, const struct import_kind *k, const cJSON *rows, const size_t *lines,
                     const cJSON *options)
{
    char id[UUID_STR_LEN];
    char *rows_json = job_rows_json(rows, lines), *options_json = cJSON_PrintUnformatted(options);
    int64_t total = cJSON_GetArraySize(rows);
    int rc = import_job_start(c->ctx, k->type, options_json, rows_json, total, id);

    cJSON_free(rows_json);
    cJSON_free(options_json);
    if (rc != ERR_OK)
        return rc;
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "jobId", id);
    cJSON_AddStringToObject(c->result, "entityType", k->type);
    cJSON_AddStringToObject(c->result, "status", "RUNNING");
    cJSON_AddNumberToObject(c->result, "total", (double)total);
    cJSON_AddNumberToObject(c->result, "chunkRows", (double)api_current_settings()->import_chunk_rows);
    return ERR_OK;
}

static const char *job_status(const struct import_job *j)
{
    if (j->finished_time == 0)
        return "RUNNING";
    return j->error != NULL ? "STOPPED" : "FINISHED";
}

/* Reads the paging of import.status: page (from 0) and pageSize (1..max_page_size, 100). */
static int read_paging(struct call *c, int64_t *page, int64_t *size, bool *failed_only)
{
    int64_t max = c->ctx->settings->max_page_size > 0 ? c->ctx->settings->max_page_size : 1000;
    *page = 0;
    *size = 100;
    *failed_only = false;
    if (arg_int(c, "page", false, page, NULL) || arg_int(c, "pageSize", false, size, NULL) ||
        arg_bool(c, "failedOnly", false, failed_only, NULL))
        return call_failed(c);
    if (*page < 0 || *page > INT32_MAX)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST, "'page' must be 0 or more");
    if (*size < 1 || *size > max)
        return error_set(&c->ctx->err, ERR_BAD_REQUEST, "'pageSize' must be between 1 and %lld (max_page_size)",
                         (long long)max);
    return ERR_OK;
}

static cJSON *render_job(const struct import_job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jobId", j->id);
    cJSON_AddStringToObject(o, "entityType", j->entity_type);
    cJSON_AddStringToObject(o, "status", job_status(j));
    cJSON_AddNumberToObject(o, "total", (double)j->total);
    cJSON_AddNumberToObject(o, "processed", (double)j->done);
    cJSON_AddNumberToObject(o, "created", (double)j->created);
    cJSON_AddNumberToObject(o, "failed", (double)j->failed);
    json_add_integer(o, "createdTime", j->created_time);
    if (j->finished_time > 0)
        json_add_integer(o, "finishedTime", j->finished_time);
    else
        cJSON_AddNullToObject(o, "finishedTime");
    if (j->error != NULL)
        cJSON_AddStringToObject(o, "error", j->error);
    return o;
}

int op_import_status(struct call *c)
{
    static const char *const keys[] = { "jobId", "page", "pageSize", "failedOnly", NULL };
    char id[UUID_STR_LEN];
    int64_t page, size;
    bool failed_only;
    struct import_job j;
    char **texts = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || arg_id(c, "jobId", true, id) || read_paging(c, &page, &size, &failed_only))
        return call_failed(c);
    if (import_job_load(c->ctx, id, &j) != ERR_OK)
        return call_failed(c);
    if (import_job_results(c->ctx, id, failed_only, page * size, size + 1, &texts, &n) != ERR_OK) {
        import_job_release(&j);
        return call_failed(c);
    }
    cJSON *o = render_job(&j), *results = cJSON_CreateArray();
    for (size_t i = 0; i < n && i < (size_t)size; i++)
        cJSON_AddItemToArray(results, json_parse_text(texts[i]));
    cJSON_AddItemToObject(o, "results", results);
    cJSON_AddNumberToObject(o, "page", (double)page);
    cJSON_AddNumberToObject(o, "pageSize", (double)size);
    cJSON_AddBoolToObject(o, "hasNext", n > (size_t)size);
    c->result = o;
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    import_job_release(&j);
    return ERR_OK;
}

int op_import_cancel(struct call *c)
{
    static const char *const keys[] = { "jobId", NULL };
    char id[UUID_STR_LEN];
    struct import_job j;

    if (args_allow(c, keys) || arg_id(c, "jobId", true, id))
        return call_failed(c);
    int rc = import_job_cancel(c->ctx, id, &j);
    if (rc == ERR_OK)
        c->result = render_job(&j);
    import_job_release(&j);
    return rc;
}

/* A job that cannot go on (its user is gone, its rows unreadable): stopped with the reason. */
static int stop_job(struct ctx *ctx, struct import_job *j, struct api_import_chunk *out)
{
    free(j->error);
    j->error = xstrdup(ctx->err.message[0] ? ctx->err.message : "The import job stopped");
    j->finished_time = ctx->now;
    out->finished = true;
    error_clear(&ctx->err);
    int rc = store_import_job_progress(ctx->store, j);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

/* Runs one stored row: its result recorded, its FAILURE audit row kept, a created user's mail. */
static int run_job_row(struct ctx *ctx, const struct import_kind *k, struct import_job *j,
                       const struct import_row *row, const cJSON *options, bool send_mail)
{
    bool ok;
    struct audit_row *failure;
    cJSON *data = row->data != NULL ? cJSON_Parse(row->data) : NULL;
    struct ctx_mark mark = ctx_item_begin(ctx);
    cJSON *res = import_run_row(ctx, k, data, (size_t)row->row, options, &ok, &failure);
    ctx_item_end(ctx, mark, ok);
    if (row->line > 0)
        cJSON_AddNumberToObject(res, "line", (double)row->line);
    cJSON_Delete(data);
    int rc = keep_failure_row(ctx, failure);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(res, "id");
    if (rc == ERR_OK && ok && send_mail && cJSON_IsString(id) &&
        user_mail_activation_after_commit(ctx, id->valuestring) != ERR_OK) {
        /* only a database error fails the chunk (tried again); the row stands without its mail */
        rc = ctx->err.kind == ERR_DATABASE ? ERR_DATABASE : ERR_OK;
        if (rc == ERR_OK)
            error_clear(&ctx->err);
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(res, "status");
    char *text = cJSON_PrintUnformatted(res);
    if (rc == ERR_OK) {
        int src = store_import_row_done(ctx->store, j->id, row->row, cJSON_IsNumber(status) ? status->valueint : 500,
                                        text);
        rc = src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
    }
    cJSON_free(text);
    cJSON_Delete(res);
    if (ok)
        j->created++;
    else
        j->failed++;
    j->done = row->row;
    return rc;
}

/* The job's options without sendActivationMail, which a job's rows do not await: *send_mail tells it. */
static cJSON *job_options(const struct import_job *j, bool *send_mail)
{
    cJSON *o = j->options != NULL ? cJSON_Parse(j->options) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    *send_mail = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "sendActivationMail"));
    cJSON_DeleteItemFromObjectCaseSensitive(o, "sendActivationMail");
    return o;
}

static int run_job_rows(struct ctx *ctx, struct import_job *j, int64_t limit, int64_t budget_us,
                        struct api_import_chunk *out)
{
    const struct import_kind *k = import_kind_find(j->entity_type);
    struct import_row *rows = NULL;
    size_t n = 0;
    bool send_mail;
    int rc;

    if (k == NULL) {
        error_set(&ctx->err, ERR_INTERNAL, "The import job names an unknown entity type");
        return stop_job(ctx, j, out);
    }
    if (import_job_act_as(ctx, j) != ERR_OK)
        return stop_job(ctx, j, out);
    rc = store_import_rows_after(ctx->store, j->id, j->done, limit, &rows, &n);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    cJSON *options = job_options(j, &send_mail);
    rc = ERR_OK;
    size_t ran = 0;
    int64_t t0 = clock_mono_us(); /* the budget is the rows' */
    while (ran < n && rc == ERR_OK && (ran == 0 || clock_mono_us() - t0 < budget_us))
        rc = run_job_row(ctx, k, j, &rows[ran++], options, send_mail);
    cJSON_Delete(options);
    import_rows_free(rows, n);
    if (rc != ERR_OK)
        return rc;
    out->rows = (int64_t)ran;
    if ((ran == n && n < (size_t)limit) || j->done >= j->total) {
        j->finished_time = ctx->now;
        out->finished = true;
    }
    rc = store_import_job_progress(ctx->store, j);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

int api_import_run_chunk(struct ctx *ctx, int64_t limit, int64_t budget_us, struct api_import_chunk *out)
{
    struct import_job j;

    memset(out, 0, sizeof *out);
    error_clear(&ctx->err);
    int rc = store_import_job_oldest(ctx->store, &j);
    if (rc == STORE_NOT_FOUND) {
        out->idle = true;
        return ERR_OK;
    }
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    rc = run_job_rows(ctx, &j, limit, budget_us, out);
    render_forget(); /* what the renderers kept of its events is for this chunk only */
    snprintf(out->job_id, sizeof out->job_id, "%s", j.id);
    out->done = j.done;
    out->total = j.total;
    out->created = j.created;
    out->failed = j.failed;
    out->created_time = j.created_time;
    import_job_release(&j);
    return rc;
}
