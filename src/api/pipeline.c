/* pipeline.c: the one path every operation runs, whoever asks (run_op, ops.h): a request
 * (api_handle), the verifier's run of a request with password work ahead of the writer
 * (api_prepare), and each command of a batch (op_batch.c). Around it api_handle reads the
 * envelope and makes the reply (envelope.c); the audit rows of writes, successful or failed, come
 * from here, and so do the many-ids items (run_per_item). */
#include "envelope.h"

#include "cmagent/audit.h"
#include "cmagent/auth.h"
#include "cmagent/clock.h"
#include "cmagent/idempotency.h"
#include "cmagent/perm.h"
#include "cmagent/twofa.h"
#include "ops.h"
#include "ratelimit.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ratelimit *per_principal;

void pipeline_init(void) { per_principal = ratelimit_new("user"); }

void pipeline_release(void)
{
    ratelimit_free(per_principal);
    per_principal = NULL;
}

/* The caller of a request: its token, then its rate limit. A command's caller is the batch's. */
static int authenticate(struct ctx *ctx, const struct op_run *r)
{
    const struct api_settings *s = api_current_settings();

    if ((r->op->flags & OP_ANONYMOUS) || r->command)
        return ERR_OK;
    if (r->token == NULL || cJSON_IsNull(r->token))
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Authentication token is missing");
    if (!cJSON_IsString(r->token))
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "'token' must be a string");
    const char *token = r->token->valuestring;
    if (auth_authenticate(ctx, token) != ERR_OK) {
        if (!(r->op->flags & OP_TWOFA_SETUP) || strncmp(token, "cmc_", 4) != 0)
            return ctx->err.kind;
        error_clear(&ctx->err);
        if (twofa_authenticate_config(ctx, token) != ERR_OK)
            return ctx->err.kind;
    }
    /* The second run of a request that awaited its mails is not a new request, nor is a prepare.
     * A token of user.token spends the budget of the user who acts through it, not its target's:
     * logging in as a user neither throttles that user's own sessions nor adds a budget. */
    const char *budget = ctx->who.acting_user_id[0] != '\0' ? ctx->who.acting_user_id : ctx->who.user_id;
    if (!r->prepare && ctx->mailed == NULL &&
        !ratelimit_take(per_principal, budget, s->rate_limit_per_second, 1000, clock_mono_ms()))
        return error_set(&ctx->err, ERR_RATE_LIMITED, "Too many requests for current user!");
    return ERR_OK;
}

/* A repeat of a write already applied for this principal: r->replayed is the stored first reply
 * (protocol section 7). Returns ERR_OK (replayed or new) or the error. */
static int replay_first_reply(struct ctx *ctx, struct op_run *r)
{
    char *prev_op = NULL, *prev = NULL;
    int rc = ERR_OK;

    if (idem_find(ctx, r->request_id, r->op->name, &prev_op, &prev) != ERR_OK)
        return ctx->err.kind;
    if (prev != NULL) {
        if (strcmp(prev_op, r->op->name) == 0) {
            r->replayed = prev;
            prev = NULL;
        } else {
            rc = error_set(&ctx->err, ERR_BAD_REQUEST, "Request id '%.128s' was already used for %s", r->request_id,
                           prev_op);
        }
    }
    free(prev_op);
    free(prev);
    return rc;
}

/* The id an entity member names: a UUID string or {"entityType":..,"id":".."}; "" otherwise. */
static void id_member(const cJSON *o, char out[UUID_STR_LEN])
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "id");
    out[0] = '\0';
    if (cJSON_IsString(v) && strlen(v->valuestring) == UUID_STR_LEN - 1)
        snprintf(out, UUID_STR_LEN, "%s", v->valuestring);
}

/* The audit row of a write that emitted no event (or failed), from the operation table. */
static struct audit_row *op_audit_row(struct ctx *ctx, const struct op *op, const cJSON *data, const cJSON *result,
                                      bool failed)
{
    struct audit_row *r = xcalloc(1, sizeof *r);

    audit_row_from_caller(ctx, r);
    snprintf(r->entity_type, sizeof r->entity_type, "%s", op->audit_entity);
    snprintf(r->action_type, sizeof r->action_type, "%s", op->audit_action);
    if (ctx->audit_entity_id[0] != '\0')
        snprintf(r->entity_id, sizeof r->entity_id, "%s", ctx->audit_entity_id);
    else
        id_member(result, r->entity_id);
    if (r->entity_id[0] == '\0')
        id_member(data, r->entity_id);
    if (r->entity_id[0] == '\0' && strcmp(op->audit_entity, "USER") == 0 && ctx->who.authority != AUTHORITY_NONE)
        snprintf(r->entity_id, sizeof r->entity_id, "%s", ctx->who.user_id);
    if (ctx->audit_entity_name[0] != '\0')
        r->entity_name = xstrdup_or_null(ctx->audit_entity_name);
    if (ctx->who.authority == AUTHORITY_NONE) {
        /* Anonymous operations (login, activation, reset) act as the user they name. */
        snprintf(r->tenant_id, sizeof r->tenant_id, "%s", ctx->audit_tenant_id[0] ? ctx->audit_tenant_id : NULL_UUID);
        if (ctx->audit_customer_id[0] != '\0' && strcmp(ctx->audit_customer_id, NULL_UUID) != 0)
            snprintf(r->customer_id, sizeof r->customer_id, "%s", ctx->audit_customer_id);
        if (strcmp(op->audit_entity, "USER") == 0 && r->entity_id[0] != '\0') {
            snprintf(r->user_id, sizeof r->user_id, "%s", r->entity_id);
            r->user_name = xstrdup_or_null(r->entity_name);
        }
    }
    if (failed) {
        strcpy(r->action_status, "FAILURE");
        r->failure_details = xstrdup_or_null(ctx->err.message);
    }
    return r;
}

/* Requests that never reached an operation, or that no principal made, leave no FAILURE row. */
struct audit_row *op_failure_row(struct ctx *ctx, const struct op *op, const cJSON *data)
{
    if (op == NULL || op->audit_entity == NULL || ctx->err.kind == ERR_RATE_LIMITED)
        return NULL;
    if (ctx->who.authority == AUTHORITY_NONE && !(op->flags & OP_ANONYMOUS))
        return NULL;
    return op_audit_row(ctx, op, data, NULL, true);
}

/* The handler, under the read budget of max_reply unless an enclosing run set one (a batch's). */
static int run_handler(struct ctx *ctx, struct op_run *r)
{
    bool budget = store_budget_limit(ctx->store) == 0;
    struct call call = { .ctx = ctx, .op = r->op, .data = r->data, .result = NULL };

    if (budget)
        store_budget_set(ctx->store, (int64_t)api_current_settings()->max_reply);
    int rc = r->op->handler(&call);
    render_forget(); /* what it kept of its events is for this operation only */
    if (budget)
        store_budget_set(ctx->store, 0);
    if (rc != ERR_OK) {
        cJSON_Delete(call.result);
        if (ctx->err.kind == ERR_OK)
            error_set(&ctx->err, ERR_INTERNAL, "Internal error: the operation failed without a reason");
        return ctx->err.kind;
    }
    r->result = call.result;
    return ERR_OK;
}

/* The audit row of a write that wrote none of its own (no event): from the operation table. Not in
 * a run whose reply waits for its mails: it is rolled back whole. */
static int audit_success(struct ctx *ctx, struct op_run *r, int64_t audits_before)
{
    if (r->op->audit_entity == NULL || ctx->audits_written != audits_before ||
        (ctx->mailed == NULL && ctx_awaits_mail(ctx)))
        return ERR_OK;
    struct audit_row *row = op_audit_row(ctx, r->op, r->data, r->result, false);
    int rc = audit_append(ctx, row);
    audit_row_release(row);
    free(row);
    if (rc != ERR_OK) {
        cJSON_Delete(r->result);
        r->result = NULL;
    }
    return rc;
}

int run_op(struct ctx *ctx, struct op_run *r)
{
    r->refused = false;
    r->replayed = NULL;
    r->result = NULL;
    int rc = authenticate(ctx, r);
    if (r->bind != NULL && !r->bind(r->bind_arg, ctx)) {
        r->refused = true;
        return ERR_OK;
    }
    if (rc != ERR_OK)
        return rc;
    if (!(r->op->flags & OP_ANONYMOUS) && !(r->op->authorities & AUTH_BIT(ctx->who.authority)))
        return error_forbidden(&ctx->err);
    if (r->prepare) {
        struct call call = { .ctx = ctx, .op = r->op, .data = r->data, .result = NULL };
        if (r->op->prepare != NULL)
            r->op->prepare(&call);
        cJSON_Delete(call.result);
        return ERR_OK;
    }
    if (r->request_id != NULL && (r->op->flags & OP_IDEMPOTENT) && !r->command) {
        if (replay_first_reply(ctx, r) != ERR_OK)
            return ctx->err.kind;
        if (r->replayed != NULL)
            return ERR_OK;
    }
    int64_t audits_before = ctx->audits_written;
    if (run_handler(ctx, r) != ERR_OK)
        return ctx->err.kind;
    return audit_success(ctx, r, audits_before);
}

/* Records the request id of an idempotent run for kept_writes_apply: to keep claimed while the
 * run's mails are sent, or (release) to give up after its second run failed. */
static void keep_request_id(struct ctx *ctx, const struct op_run *r, bool release)
{
    if (r->request_id == NULL || !(r->op->flags & OP_IDEMPOTENT) || r->command)
        return;
    snprintf(ctx->kept.pending_id, sizeof ctx->kept.pending_id, "%s", r->request_id);
    snprintf(ctx->kept.pending_op, sizeof ctx->kept.pending_op, "%s", r->op->name);
    ctx->kept.pending_release = release;
}

/* Binds the reply destination once the caller is known (run_op's bind). */
static bool bind_reply(void *arg, const struct ctx *ctx) { return bind_destination(ctx, arg); }

/* The reply of a successful op: its result as data, at most max_reply bytes. */
static char *success_text(struct ctx *ctx, cJSON *result)
{
    size_t max = api_current_settings()->max_reply;
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddNumberToObject(reply, "status", 200);
    cJSON_AddItemToObject(reply, "data", result != NULL ? result : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    if (max > 0 && strlen(text) > max) {
        error_set(&ctx->err, ERR_TOO_LARGE,
                  "The reply of %zu bytes exceeds max_reply of %zu bytes: ask for fewer rows (a smaller pageSize or "
                  "limit, fewer ids or commands)", strlen(text), max);
        cJSON_free(text);
        return NULL;
    }
    return text;
}

/* Reads the request up to its operation: the destination, the size, the strings, the JSON and the
 * envelope. Returns the op, or NULL with out filled (refused) or ctx->err set. */
static const struct op *read_request(struct ctx *ctx, const struct api_request *req, cJSON **root,
                                     struct envelope *env, const cJSON **data, struct api_reply *out)
{
    const struct api_settings *s = api_current_settings();
    struct json_text_fault fault;
    bool text_ok;

    *root = read_payload(req, &text_ok, &fault);
    if (!find_destination(req, *root, text_ok ? NULL : &fault, out))
        return NULL;
    if (req->payload_len > s->max_payload) {
        /* Still echo what the reply echoes, when the envelope can be read. */
        if (cJSON_IsObject(*root) && (text_ok || !fault.top_level))
            (void)check_envelope(ctx, *root, env, data);
        error_set(&ctx->err, ERR_TOO_LARGE, "Payload of %zu bytes exceeds max_payload of %zu bytes",
                  req->payload_len, s->max_payload);
        return NULL;
    }
    if (!text_ok) {
        char message[ERROR_MESSAGE_MAX];
        if (cJSON_IsObject(*root) && !fault.top_level)
            (void)check_envelope(ctx, *root, env, data); /* the envelope is fine: echo it */
        json_text_fault_message_for(&fault, req->op, message, sizeof message);
        error_set(&ctx->err, ERR_BAD_REQUEST, "%s", message);
        return NULL;
    }
    if (*root == NULL) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Malformed JSON: the payload is not a valid JSON document");
        return NULL;
    }
    if (!cJSON_IsObject(*root)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "The request payload must be a JSON object");
        return NULL;
    }
    if (check_envelope(ctx, *root, env, data) != ERR_OK)
        return NULL;
    const struct op *op = ops_lookup(req->op);
    if (op == NULL)
        error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown operation '%.128s'", req->op);
    return op;
}

void api_handle(struct ctx *ctx, const struct api_request *req, struct api_reply *out)
{
    struct envelope env = { 0 };
    cJSON *root = NULL, *empty = cJSON_CreateObject();
    const cJSON *data = empty;
    bool bound = false;
    char *text = NULL;

    memset(out, 0, sizeof *out);
    error_clear(&ctx->err);
    const struct op *op = read_request(ctx, req, &root, &env, &data, out);
    if (out->refused)
        goto done;
    if (op == NULL)
        goto fail;
    struct op_run run = { .op = op, .data = data, .token = cJSON_GetObjectItemCaseSensitive(root, "token"),
                          .request_id = env.id != NULL ? env.id->valuestring : NULL,
                          .bind = bind_reply, .bind_arg = out };
    int rc = run_op(ctx, &run);
    bound = true;
    if (run.refused)
        goto done;
    if (rc != ERR_OK)
        goto fail;
    if (run.replayed != NULL) {
        out->status = 200;
        out->replayed = true;
        out->body = splice_envelope(run.replayed, &env);
        goto done;
    }
    if (ctx->mailed == NULL && ctx_awaits_mail(ctx)) {
        /* The reply waits for the mails; the writer rolls this run back and runs the request
         * again with their outcomes. Its id stays claimed meanwhile (kept, idempotency.h). */
        cJSON_Delete(run.result);
        keep_request_id(ctx, &run, false);
        out->deferred = true;
        out->status = 200;
        goto done;
    }
    text = success_text(ctx, run.result);
    if (text == NULL)
        goto fail;
    if (run.request_id != NULL && (op->flags & OP_IDEMPOTENT) &&
        idem_record(ctx, run.request_id, op->name, text) != ERR_OK) {
        cJSON_free(text);
        goto fail;
    }
    out->status = 200;
    out->body = splice_envelope(text, &env);
    goto done;
fail:
    /* Failed before authentication: the destination is bound to nobody. */
    if (!bound && !bind_destination(ctx, out))
        goto done;
    if (ctx->err.kind == ERR_OK)
        error_set(&ctx->err, ERR_INTERNAL, "Internal error: the operation failed without a reason");
    /* A failed write keeps an audit row (kept_writes_apply writes it after the rollback); a failed
     * second run of a request that awaited its mails releases the id it kept claimed. */
    if (bound && ctx->mailed != NULL && op != NULL)
        keep_request_id(ctx, &run, true);
    ctx->kept.audit_row = op_failure_row(ctx, op, data);
    ctx->kept.audit = ctx->kept.audit_row != NULL;
    reply_error(ctx, &env, out);
done:
    if (out->refused)
        out->failed = true; /* nothing ran: the savepoint has nothing to keep */
    cJSON_Delete(root);
    cJSON_Delete(empty);
}

void api_prepare(struct ctx *ctx, const struct api_request *req)
{
    struct envelope env = { 0 };
    cJSON *root = NULL, *empty = cJSON_CreateObject();
    const cJSON *data = empty;
    struct api_reply dest;

    memset(&dest, 0, sizeof dest);
    const struct op *op = ops_lookup(req->op);
    /* The writer's run will refuse what fails these without hashing anything: so does this one. */
    if (op == NULL || op->prepare == NULL)
        goto done;
    op = read_request(ctx, req, &root, &env, &data, &dest);
    if (op == NULL)
        goto done;
    struct op_run run = { .op = op, .data = data, .token = cJSON_GetObjectItemCaseSensitive(root, "token"),
                          .prepare = true, .bind = bind_reply, .bind_arg = &dest };
    (void)run_op(ctx, &run);
done:
    free(dest.reply_to);
    cJSON_Delete(root);
    cJSON_Delete(empty);
}

/* The FAILURE audit row of one item of a many-ids write; the item's savepoint was rolled back, so
 * the row is written in the request's own savepoint. */
static int audit_failed_item(struct call *c, const char *id)
{
    if (c->op == NULL || c->op->audit_entity == NULL)
        return ERR_OK;
    struct audit_row *r = op_audit_row(c->ctx, c->op, NULL, NULL, true);
    snprintf(r->entity_id, sizeof r->entity_id, "%s", id);
    int rc = audit_append(c->ctx, r);
    audit_row_release(r);
    free(r);
    return rc;
}

int run_per_item(struct call *c, char (*ids)[UUID_STR_LEN], size_t n, item_fn *fn)
{
    cJSON *results = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *data = NULL, *item = cJSON_CreateObject();
        error_clear(&c->ctx->err);
        struct ctx_mark begun = ctx_item_begin(c->ctx);
        bool ok = fn(c, ids[i], &data) == ERR_OK;
        ctx_item_end(c->ctx, begun, ok);
        cJSON_AddStringToObject(item, "id", ids[i]);
        if (ok) {
            cJSON_AddNumberToObject(item, "status", 200);
            cJSON_AddItemToObject(item, "data", data != NULL ? data : cJSON_CreateObject());
        } else {
            cJSON_Delete(data);
            cJSON_AddNumberToObject(item, "status", error_status(c->ctx->err.kind));
            cJSON_AddNumberToObject(item, "errorCode", error_code(c->ctx->err.kind));
            cJSON_AddStringToObject(item, "message", c->ctx->err.message);
        }
        cJSON_AddItemToArray(results, item);
        if (!ok && audit_failed_item(c, ids[i]) != ERR_OK) {
            cJSON_Delete(results);
            return call_failed(c);
        }
    }
    error_clear(&c->ctx->err);
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "results", results);
    return ERR_OK;
}

int run_one_or_many(struct call *c, const char *const *keys, item_fn *fn)
{
    char id[UUID_STR_LEN] = "";
    char(*ids)[UUID_STR_LEN] = NULL;
    size_t n = 0;

    if (args_allow(c, keys))
        return call_failed(c);
    if (cJSON_GetObjectItemCaseSensitive(c->data, "ids") != NULL) {
        if (cJSON_GetObjectItemCaseSensitive(c->data, "id") != NULL)
            return error_set(&c->ctx->err, ERR_BAD_REQUEST, "Give either 'id' or 'ids', not both");
        if (arg_ids(c, "ids", MAX_IDS, &ids, &n))
            return call_failed(c);
        int rc = run_per_item(c, ids, n, fn);
        free(ids);
        return rc;
    }
    if (arg_id(c, "id", true, id))
        return call_failed(c);
    cJSON *data = NULL;
    int rc = fn(c, id, &data);
    if (rc == ERR_OK)
        c->result = data;
    else
        cJSON_Delete(data);
    return rc;
}
