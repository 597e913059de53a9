/* dispatch.c: the operation table and the request pipeline: the reply destination, size check,
 * the strings' UTF-8, JSON parse, envelope, operation lookup, authentication, the destination's
 * binding, authority check, the handler, and the reply (protocol §2-§3). */
#include "cmagent/api.h"

#include "cmagent/audit.h"
#include "cmagent/auth.h"
#include "cmagent/clock.h"
#include "cmagent/idempotency.h"
#include "cmagent/perm.h"
#include "cmagent/reply_topic.h"
#include "cmagent/topic.h"
#include "cmagent/utf8.h"
#include "json_alloc.h"
#include "json_text.h"
#include "ops.h"
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T AUTH_TENANT
#define S AUTH_SYS
#define C AUTH_CUSTOMER
#define ANY AUTH_ANY_USER

/* An oversized request up to this size is still parsed for its envelope, so that its 413 reply
 * reaches an MQTT 3.1.1 client's replyTo with its correlationId. */
#define OVERSIZED_PARSE_MAX ((size_t)16 << 20)

/* Sorted by name. The last two columns make a write: the entity type and action type of its audit
 * row (the action of an operation that emits events comes from the event instead). */
static const struct op op_table[] = {
    { "agent.ops", op_agent_ops, ANY, 0, "The operation table: name, authorities, summary", NULL, NULL },
    { "agent.ping", op_agent_ping, 0, OP_ANONYMOUS, "Liveness: version and uptime", NULL, NULL },
    { "agent.stats", op_agent_stats, S, 0, "Group-commit counters: transactions, batch sizes, commit time", NULL,
      NULL },
    { "apiKey.create", op_apikey_create, ANY, 0, "Create an API key for the caller (shown once)", "API_KEY", "ADDED" },
    { "apiKey.delete", op_apikey_delete, ANY, OP_IDEMPOTENT, "Delete one of the caller's API keys", "API_KEY", "DELETED" },
    { "apiKey.list", op_apikey_list, ANY, 0, "List the caller's API keys", NULL, NULL },
    { "asset.assign", op_asset_assign, T, OP_IDEMPOTENT, "Assign an asset (or many) to a customer", "ASSET", "ASSIGNED_TO_CUSTOMER" },
    { "asset.create", op_asset_create, T, OP_IDEMPOTENT, "Create an asset", "ASSET", "ADDED" },
    { "asset.delete", op_asset_delete, T, OP_IDEMPOTENT, "Delete an asset", "ASSET", "DELETED" },
    { "asset.get", op_asset_get, T | C, 0, "Read an asset", NULL, NULL },
    { "asset.list", op_asset_list, T, 0, "List the tenant's assets (paged, type filter)", NULL, NULL },
    { "asset.makePublic", op_asset_make_public, T, OP_IDEMPOTENT, "Assign an asset (or many) to the Public customer", "ASSET", "ASSIGNED_TO_CUSTOMER" },
    { "asset.unassign", op_asset_unassign, T, OP_IDEMPOTENT, "Unassign an asset (or many) from its customer", "ASSET", "UNASSIGNED_FROM_CUSTOMER" },
    { "asset.update", op_asset_update, T, OP_IDEMPOTENT, "Save a whole asset", "ASSET", "UPDATED" },
    { "audit.list", op_audit_list, S | T, 0, "The audit log of the caller's tenant (paged, filtered)", NULL, NULL },
    { "auth.activate", op_auth_activate, 0, OP_ANONYMOUS, "Set the first password from an activation token", "USER",
      "ACTIVATED" },
    { "auth.changePassword", op_auth_change_password, ANY, 0, "Change the caller's password", "USER",
      "CREDENTIALS_UPDATED" },
    { "auth.checkActivateToken", op_auth_check_activate_token, 0, OP_ANONYMOUS, "Check an activation token", NULL,
      NULL },
    { "auth.login", op_auth_login, 0, OP_ANONYMOUS, "Log in with e-mail and password", "USER", "LOGIN" },
    { "auth.logout", op_auth_logout, ANY, 0, "Revoke the calling token", "USER", "LOGOUT" },
    { "auth.refresh", op_auth_refresh, 0, OP_ANONYMOUS, "Exchange a refresh token for a new pair", NULL, NULL },
    { "auth.resetPassword", op_auth_reset_password, 0, OP_ANONYMOUS, "Set a new password from a reset token",
      "USER", "CREDENTIALS_UPDATED" },
    { "auth.resetPasswordByEmail", op_auth_reset_password_by_email, 0, OP_ANONYMOUS,
      "Mail a password reset link (always 200)", "USER", "CREDENTIALS_UPDATED" },
    { "batch", op_batch, ANY, 0, "Run many operations in one request, atomically or not", NULL, NULL },
    { "broker.credentials", op_broker_credentials, ANY, 0,
      "The caller's broker account: username and a new password (broker_acl dynsec)", "USER", "CREDENTIALS_UPDATED" },
    { "customer.assets", op_customer_assets, T | C, 0, "List a customer's assets (paged)", NULL, NULL },
    { "customer.create", op_customer_create, T, OP_IDEMPOTENT, "Create a customer", "CUSTOMER", "ADDED" },
    { "customer.dashboards", op_customer_dashboards, T | C, 0, "List a customer's dashboards (paged)", NULL, NULL },
    { "customer.delete", op_customer_delete, T, OP_IDEMPOTENT, "Delete a customer (or many), its users, unassign its entities",
      "CUSTOMER", "DELETED" },
    { "customer.devices", op_customer_devices, T | C, 0, "List a customer's devices (paged)", NULL, NULL },
    { "customer.edges", op_customer_edges, T | C, 0, "List a customer's edges (paged)", NULL, NULL },
    { "customer.findByTitle", op_customer_find_by_title, T, 0, "Find a customer by exact title", NULL, NULL },
    { "customer.get", op_customer_get, T | C, 0, "Read a customer", NULL, NULL },
    { "customer.getByIds", op_customer_get_by_ids, T, 0, "Read the caller's customers among ids", NULL, NULL },
    { "customer.list", op_customer_list, T, 0, "List the tenant's customers (paged)", NULL, NULL },
    { "customer.patch", op_customer_patch, T, OP_IDEMPOTENT, "Change only the given fields of a customer", "CUSTOMER",
      "UPDATED" },
    { "customer.shortInfo", op_customer_short_info, T | C, 0, "A customer's title and isPublic", NULL, NULL },
    { "customer.title", op_customer_title, T | C, 0, "A customer's title", NULL, NULL },
    { "customer.update", op_customer_update, T, OP_IDEMPOTENT, "Save a whole customer", "CUSTOMER", "UPDATED" },
    { "customer.users", op_customer_users, T, 0, "List a customer's users (paged)", NULL, NULL },
    { "dashboard.addCustomers", op_dashboard_add_customers, T, OP_IDEMPOTENT, "Assign a dashboard to more customers", "DASHBOARD", "ASSIGNED_TO_CUSTOMER" },
    { "dashboard.assign", op_dashboard_assign, T, OP_IDEMPOTENT, "Assign a dashboard (or many) to a customer", "DASHBOARD", "ASSIGNED_TO_CUSTOMER" },
    { "dashboard.create", op_dashboard_create, T, OP_IDEMPOTENT, "Create a dashboard", "DASHBOARD", "ADDED" },
    { "dashboard.delete", op_dashboard_delete, T, OP_IDEMPOTENT, "Delete a dashboard", "DASHBOARD", "DELETED" },
    { "dashboard.get", op_dashboard_get, T | C, 0, "Read a dashboard", NULL, NULL },
    { "dashboard.home", op_dashboard_home, ANY, 0, "The caller's home dashboard (user, customer, tenant)", NULL, NULL },
    { "dashboard.list", op_dashboard_list, T, 0, "List the tenant's dashboards (paged)", NULL, NULL },
    { "dashboard.makePrivate", op_dashboard_make_private, T, OP_IDEMPOTENT, "Unassign a dashboard from the Public customer", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER" },
    { "dashboard.makePublic", op_dashboard_make_public, T, OP_IDEMPOTENT, "Assign a dashboard to the Public customer", "DASHBOARD", "ASSIGNED_TO_CUSTOMER" },
    { "dashboard.removeCustomers", op_dashboard_remove_customers, T, OP_IDEMPOTENT, "Unassign a dashboard from customers", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER" },
    { "dashboard.setCustomers", op_dashboard_set_customers, T, OP_IDEMPOTENT, "Replace a dashboard's customers", "DASHBOARD", "UPDATED" },
    { "dashboard.unassign", op_dashboard_unassign, T, OP_IDEMPOTENT, "Unassign a dashboard (or many) from a customer", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER" },
    { "dashboard.update", op_dashboard_update, T, OP_IDEMPOTENT, "Save a dashboard's title and configuration", "DASHBOARD", "UPDATED" },
    { "device.assign", op_device_assign, T, OP_IDEMPOTENT, "Assign a device (or many) to a customer", "DEVICE", "ASSIGNED_TO_CUSTOMER" },
    { "device.create", op_device_create, T, OP_IDEMPOTENT, "Create a device", "DEVICE", "ADDED" },
    { "device.delete", op_device_delete, T, OP_IDEMPOTENT, "Delete a device", "DEVICE", "DELETED" },
    { "device.get", op_device_get, T | C, 0, "Read a device", NULL, NULL },
    { "device.list", op_device_list, T, 0, "List the tenant's devices (paged, type filter)", NULL, NULL },
    { "device.makePublic", op_device_make_public, T, OP_IDEMPOTENT, "Assign a device (or many) to the Public customer", "DEVICE", "ASSIGNED_TO_CUSTOMER" },
    { "device.unassign", op_device_unassign, T, OP_IDEMPOTENT, "Unassign a device (or many) from its customer", "DEVICE", "UNASSIGNED_FROM_CUSTOMER" },
    { "device.update", op_device_update, T, OP_IDEMPOTENT, "Save a whole device", "DEVICE", "UPDATED" },
    { "edge.assign", op_edge_assign, T, OP_IDEMPOTENT, "Assign an edge (or many) to a customer", "EDGE", "ASSIGNED_TO_CUSTOMER" },
    { "edge.create", op_edge_create, T, OP_IDEMPOTENT, "Create an edge", "EDGE", "ADDED" },
    { "edge.delete", op_edge_delete, T, OP_IDEMPOTENT, "Delete an edge", "EDGE", "DELETED" },
    { "edge.get", op_edge_get, T | C, 0, "Read an edge", NULL, NULL },
    { "edge.list", op_edge_list, T, 0, "List the tenant's edges (paged, type filter)", NULL, NULL },
    { "edge.makePublic", op_edge_make_public, T, OP_IDEMPOTENT, "Assign an edge (or many) to the Public customer", "EDGE", "ASSIGNED_TO_CUSTOMER" },
    { "edge.unassign", op_edge_unassign, T, OP_IDEMPOTENT, "Unassign an edge (or many) from its customer", "EDGE", "UNASSIGNED_FROM_CUSTOMER" },
    { "edge.update", op_edge_update, T, OP_IDEMPOTENT, "Save a whole edge", "EDGE", "UPDATED" },
    { "event.replay", op_event_replay, T, 0, "The tenant's events after a seq", NULL, NULL },
    { "tenant.create", op_tenant_create, S, OP_IDEMPOTENT, "Create a tenant", "TENANT", "ADDED" },
    { "tenant.delete", op_tenant_delete, S, OP_IDEMPOTENT, "Delete a tenant and everything in it", "TENANT", "DELETED" },
    { "tenant.get", op_tenant_get, S, 0, "Read a tenant", NULL, NULL },
    { "tenant.list", op_tenant_list, S, 0, "List tenants (paged)", NULL, NULL },
    { "tenant.update", op_tenant_update, S, OP_IDEMPOTENT, "Save a whole tenant", "TENANT", "UPDATED" },
    { "user.activationLink", op_user_activation_link, S | T, 0, "A user's activation link and its TTL", NULL, NULL },
    { "user.activationLinkInfo", op_user_activation_link, S | T, 0, "A user's activation link and its TTL (ThingsBoard's name)", NULL, NULL },
    { "user.create", op_user_create, S | T, OP_IDEMPOTENT, "Create a user with an activation token (and mail)", "USER",
      "ADDED" },
    { "user.delete", op_user_delete, S | T, OP_IDEMPOTENT, "Delete a user", "USER", "DELETED" },
    { "user.get", op_user_get, ANY, 0, "Read a user", NULL, NULL },
    { "user.list", op_user_list, ANY, 0, "List users (paged)", NULL, NULL },
    { "user.sendActivationMail", op_user_send_activation_mail, S | T, 0, "Mail a user's activation link again",
      "USER", "UPDATED" },
    { "user.setEnabled", op_user_set_enabled, S | T, OP_IDEMPOTENT, "Enable or disable a user's credentials", "USER",
      "UPDATED" },
    { "user.update", op_user_update, ANY, OP_IDEMPOTENT, "Save a user", "USER", "UPDATED" },
};

const struct op *ops_table(size_t *count)
{
    *count = sizeof op_table / sizeof op_table[0];
    return op_table;
}

static int compare_op(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct op *)elem)->name);
}

const struct op *ops_lookup(const char *name)
{
    return bsearch(name, op_table, sizeof op_table / sizeof op_table[0], sizeof op_table[0], compare_op);
}

static struct api_settings settings;
static struct ratelimit *per_principal;

void api_init(const struct api_settings *s)
{
    settings = *s;
    json_alloc_init();
    per_principal = ratelimit_new();
    admit_init();
}

void api_release(void)
{
    ratelimit_free(per_principal);
    per_principal = NULL;
    admit_release();
}

const struct api_settings *api_current_settings(void) { return &settings; }

int64_t api_started_mono_ms(void);
int64_t api_started_mono_ms(void) { return settings.started_mono_ms; }

size_t api_max_batch_commands(void) { return settings.max_batch_commands; }

int64_t api_max_batch_rows(void) { return settings.max_batch_rows; }

cJSON *error_object(const struct error *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "status", error_status(e->kind));
    cJSON_AddNumberToObject(o, "errorCode", error_code(e->kind));
    cJSON_AddStringToObject(o, "message", e->message);
    if (e->kind == ERR_LIMIT_REACHED && e->entity_type != NULL) {
        cJSON_AddStringToObject(o, "entityType", e->entity_type);
        cJSON_AddNumberToObject(o, "limit", (double)e->limit);
    }
    cJSON_AddNumberToObject(o, "timestamp", (double)clock_now_ms());
    return o;
}

/* The envelope members echoed in every reply. */
struct envelope {
    const cJSON *correlation_id;
    const cJSON *id;
};

/* v as compact JSON text, or NULL when v is NULL or its strings are not UTF-8 (a payload that was
 * refused for that, or never checked): a reply never carries what is not UTF-8. */
static char *printed_utf8(const cJSON *v)
{
    char *text = v != NULL ? cJSON_PrintUnformatted(v) : NULL;
    if (text != NULL && !utf8_valid(text, strlen(text), NULL, NULL)) {
        cJSON_free(text);
        text = NULL;
    }
    return text;
}

/* Appends the envelope members to text, a reply object printed without them (a stored first reply
 * is kept that way, so a repeat echoes its own correlationId). Takes ownership of text. */
static char *splice_envelope(char *text, const struct envelope *env)
{
    char *cid = printed_utf8(env->correlation_id);
    char *id = printed_utf8(env->id);
    size_t n = strlen(text);

    if ((cid == NULL && id == NULL) || n < 2 || text[n - 1] != '}') {
        cJSON_free(cid);
        cJSON_free(id);
        return text;
    }
    size_t cap = n + (cid ? strlen(cid) + 20 : 0) + (id ? strlen(id) + 10 : 0) + 1;
    char *out = malloc(cap);
    if (out == NULL)
        abort();
    bool empty = n == 2;
    int len = snprintf(out, cap, "%.*s", (int)(n - 1), text);
    if (cid != NULL) {
        len += snprintf(out + len, cap - (size_t)len, "%s\"correlationId\":%s", empty ? "" : ",", cid);
        empty = false;
    }
    if (id != NULL)
        len += snprintf(out + len, cap - (size_t)len, "%s\"id\":%s", empty ? "" : ",", id);
    snprintf(out + len, cap - (size_t)len, "}");
    cJSON_free(cid);
    cJSON_free(id);
    cJSON_free(text);
    return out;
}

static char *finish_reply(cJSON *reply, const struct envelope *env)
{
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    return splice_envelope(text, env);
}

/* A repeat of a write already applied for this principal: answers the stored first reply
 * (protocol section 7). Returns 1 when out was filled that way, 0 when the request is new, -1 on
 * an error (ctx->err set). */
static int replay_first_reply(struct ctx *ctx, const struct op *op, const struct envelope *env,
                              struct api_reply *out)
{
    char *prev_op = NULL, *prev = NULL;
    int answered = 0;

    if (idem_find(ctx, env->id->valuestring, &prev_op, &prev) != ERR_OK)
        return -1;
    if (prev != NULL) {
        if (strcmp(prev_op, op->name) == 0) {
            out->status = 200;
            out->replayed = true;
            out->body = splice_envelope(prev, env);
            prev = NULL;
            answered = 1;
        } else {
            error_set(&ctx->err, ERR_BAD_REQUEST, "Request id '%.128s' was already used for %s",
                      env->id->valuestring, prev_op);
            answered = -1;
        }
    }
    free(prev_op);
    free(prev);
    return answered;
}

static void reply_error(struct ctx *ctx, const struct envelope *env, struct api_reply *out)
{
    out->failed = true;
    out->status = error_status(ctx->err.kind);
    out->body = finish_reply(error_object(&ctx->err), env);
}

static int check_envelope(struct ctx *ctx, const cJSON *root, struct envelope *env, const cJSON **data)
{
    const cJSON *v;

    v = cJSON_GetObjectItemCaseSensitive(root, "correlationId");
    if (v != NULL && !cJSON_IsNull(v))
        env->correlation_id = v;
    v = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (v != NULL && !cJSON_IsNull(v)) {
        env->id = v;
        if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 || strlen(v->valuestring) > 128)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "'id' must be a string of 1 to 128 characters");
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsObject(v))
            return error_set(&ctx->err, ERR_BAD_REQUEST, "'data' must be a JSON object");
        *data = v;
    }
    return ERR_OK;
}

/* Marks out refused: nothing of the request runs and nothing is published for it. */
static bool refuse_destination(struct api_reply *out, const char *source, const char *topic, size_t len,
                               const char *why)
{
    char shown[256];
    free(out->reply_to);
    out->reply_to = NULL;
    out->refused = true;
    snprintf(out->refusal, sizeof out->refusal, "%s '%s' %s", source, topic_printable(topic, len, 160, shown, sizeof shown),
             why);
    for (char *c = out->refusal; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?'; /* the reason may quote a key: the log gets no control character */
    return false;
}

static bool accept_destination(struct api_reply *out, const char *source, const char *topic, size_t len)
{
    const char *why = reply_topic_refusal(&settings.reply, topic, len);
    if (why != NULL)
        return refuse_destination(out, source, topic, len, why);
    out->reply_to = xcalloc(len + 1, 1);
    memcpy(out->reply_to, topic, len);
    out->reply_source = source;
    return true;
}

/* The namespace rule (reply_topic.h) for the request's destination: its Response Topic, else the
 * replyTo of root (the parsed payload, or NULL). fault is the payload's string fault, or NULL: a
 * fault in a member of the envelope itself leaves the replyTo unreadable (cJSON may have cut it
 * at a U+0000 or turned it into another key). No destination at all is fine: fire-and-forget.
 * Returns false when refused. */
static bool find_destination(const struct api_request *req, const cJSON *root, const struct json_text_fault *fault,
                             struct api_reply *out)
{
    char message[300];

    if (req->response_topic != NULL)
        return accept_destination(out, "Response Topic", req->response_topic, req->response_topic_len);
    if (fault != NULL && fault->top_level) {
        char why[340];
        json_text_fault_message(fault, message, sizeof message);
        snprintf(why, sizeof why, "cannot be read: %s", message);
        return refuse_destination(out, "replyTo", "", 0, why);
    }
    const cJSON *v = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "replyTo") : NULL;
    if (v == NULL || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v))
        return refuse_destination(out, "replyTo", "", 0, "is not a string");
    return accept_destination(out, "replyTo", v->valuestring, strlen(v->valuestring));
}

/* The binding rule (reply_topic.h) for the destination found, once ctx->who is known (or known to
 * be nobody). Returns false when refused. */
static bool bind_destination(const struct ctx *ctx, struct api_reply *out)
{
    if (out->reply_to == NULL)
        return true;
    const char *why = reply_topic_binding_refusal(&settings.reply, &ctx->who, out->reply_to);
    if (why == NULL)
        return true;
    char *topic = out->reply_to;
    out->reply_to = NULL;
    refuse_destination(out, out->reply_source, topic, strlen(topic), why);
    free(topic);
    return false;
}

static int authenticate(struct ctx *ctx, const cJSON *root, const struct op *op)
{
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(root, "token");

    if (op->flags & OP_ANONYMOUS)
        return ERR_OK;
    if (token == NULL || cJSON_IsNull(token))
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "Authentication token is missing");
    if (!cJSON_IsString(token))
        return error_set(&ctx->err, ERR_UNAUTHORIZED, "'token' must be a string");
    if (auth_authenticate(ctx, token->valuestring) != ERR_OK)
        return ctx->err.kind;
    /* The second run of a request that awaited its mails is not a new request. */
    if (ctx->mailed == NULL &&
        !ratelimit_take(per_principal, ctx->who.user_id, settings.rate_limit_per_second, 1000, clock_mono_ms()))
        return error_set(&ctx->err, ERR_RATE_LIMITED, "Too many requests for current user!");
    if (!(op->authorities & AUTH_BIT(ctx->who.authority)))
        return error_forbidden(&ctx->err);
    return ERR_OK;
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

/* A failed write keeps an audit row (ctx_apply_kept writes it after the rollback). Requests that
 * never reached an operation, or that no principal made, leave none. */
static void keep_failure_audit(struct ctx *ctx, const struct op *op, const cJSON *data)
{
    if (op == NULL || op->audit_entity == NULL || ctx->err.kind == ERR_RATE_LIMITED)
        return;
    if (ctx->who.authority == AUTHORITY_NONE && !(op->flags & OP_ANONYMOUS))
        return;
    ctx->kept.audit_row = op_audit_row(ctx, op, data, NULL, true);
    ctx->kept.audit = true;
}

/* Parses the payload unless it is too large to be worth it, and scans its strings (json_text.h).
 * Returns the parsed root (or NULL); *text_ok tells whether the strings are fine (fault set if not). */
static cJSON *read_payload(const struct api_request *req, bool *text_ok, struct json_text_fault *fault)
{
    *text_ok = true;
    if (req->payload_len > settings.max_payload && req->payload_len > OVERSIZED_PARSE_MAX)
        return NULL;
    *text_ok = json_text_check(req->payload, req->payload_len, fault);
    return cJSON_ParseWithLength(req->payload, req->payload_len);
}

void api_handle(struct ctx *ctx, const struct api_request *req, struct api_reply *out)
{
    struct envelope env = { 0 };
    struct json_text_fault fault;
    cJSON *root = NULL, *empty = cJSON_CreateObject();
    const cJSON *data = empty;
    const struct op *op = NULL;
    struct call call;
    bool idempotent = false, text_ok, bound = false;

    memset(out, 0, sizeof *out);
    error_clear(&ctx->err);
    root = read_payload(req, &text_ok, &fault);
    if (!find_destination(req, root, text_ok ? NULL : &fault, out))
        goto done;
    if (req->payload_len > settings.max_payload) {
        /* Still echo what the reply echoes, when the envelope can be read. */
        if (cJSON_IsObject(root) && (text_ok || !fault.top_level))
            (void)check_envelope(ctx, root, &env, &data);
        error_set(&ctx->err, ERR_TOO_LARGE, "Payload of %zu bytes exceeds max_payload of %zu bytes",
                  req->payload_len, settings.max_payload);
        goto fail;
    }
    if (!text_ok) {
        char message[ERROR_MESSAGE_MAX];
        if (cJSON_IsObject(root) && !fault.top_level)
            (void)check_envelope(ctx, root, &env, &data); /* the envelope is fine: echo it */
        json_text_fault_message_for(&fault, req->op, message, sizeof message);
        error_set(&ctx->err, ERR_BAD_REQUEST, "%s", message);
        goto fail;
    }
    if (root == NULL) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Malformed JSON: the payload is not a valid JSON document");
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "The request payload must be a JSON object");
        goto fail;
    }
    if (check_envelope(ctx, root, &env, &data) != ERR_OK)
        goto fail;
    op = ops_lookup(req->op);
    if (op == NULL) {
        error_set(&ctx->err, ERR_BAD_REQUEST, "Unknown operation '%.128s'", req->op);
        goto fail;
    }
    int auth = authenticate(ctx, root, op);
    bound = true;
    if (!bind_destination(ctx, out))
        goto done;
    if (auth != ERR_OK)
        goto fail;
    idempotent = env.id != NULL && (op->flags & OP_IDEMPOTENT);
    if (idempotent) {
        int replayed = replay_first_reply(ctx, op, &env, out);
        if (replayed < 0)
            goto fail;
        if (replayed > 0)
            goto done;
    }
    call.ctx = ctx;
    call.op = op;
    call.data = data;
    call.result = NULL;
    /* What the handler may read into memory is bounded like the reply it makes of it. */
    store_budget_set(ctx->store, (int64_t)settings.max_reply);
    int handled = op->handler(&call);
    store_budget_set(ctx->store, 0);
    if (handled != ERR_OK) {
        cJSON_Delete(call.result);
        goto fail;
    }
    if (ctx->mailed == NULL && ctx_awaits_mail(ctx)) {
        /* The reply waits for the mails; the writer rolls this run back and runs the request
         * again with their outcomes. */
        cJSON_Delete(call.result);
        out->deferred = true;
        out->status = 200;
        goto done;
    }
    if (op->audit_entity != NULL && ctx->audits_written == 0) {
        struct audit_row *r = op_audit_row(ctx, op, data, call.result, false);
        int rc = audit_append(ctx, r);
        audit_row_release(r);
        free(r);
        if (rc != ERR_OK) {
            cJSON_Delete(call.result);
            goto fail;
        }
    }
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddNumberToObject(reply, "status", 200);
    cJSON_AddItemToObject(reply, "data", call.result != NULL ? call.result : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    if (settings.max_reply > 0 && strlen(text) > settings.max_reply) {
        error_set(&ctx->err, ERR_TOO_LARGE,
                  "The reply of %zu bytes exceeds max_reply of %zu bytes: ask for fewer rows (a smaller pageSize or "
                  "limit, fewer ids or commands)", strlen(text), settings.max_reply);
        cJSON_free(text);
        goto fail;
    }
    if (idempotent && idem_record(ctx, env.id->valuestring, op->name, text) != ERR_OK) {
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
    keep_failure_audit(ctx, op, data);
    reply_error(ctx, &env, out);
done:
    if (out->refused)
        out->failed = true; /* nothing ran: the savepoint has nothing to keep */
    cJSON_Delete(root);
    cJSON_Delete(empty);
}

/* The operations that check or hash a password, with their runs ahead of the writer. */
static const struct {
    const char *name;
    op_preparer *prepare;
} preparers[] = {
    { "auth.activate", op_auth_activate_prepare },
    { "auth.changePassword", op_auth_change_password_prepare },
    { "auth.login", op_auth_login_prepare },
    { "auth.resetPassword", op_auth_reset_password_prepare },
};

static op_preparer *preparer_of(const char *op_name)
{
    for (size_t i = 0; i < sizeof preparers / sizeof preparers[0]; i++)
        if (strcmp(preparers[i].name, op_name) == 0)
            return preparers[i].prepare;
    return NULL;
}

bool api_prepares(const char *op_name) { return preparer_of(op_name) != NULL; }

void api_prepare(struct ctx *ctx, const struct api_request *req)
{
    struct envelope env = { 0 };
    cJSON *root = NULL, *empty = cJSON_CreateObject();
    const cJSON *data = empty;
    const struct op *op = ops_lookup(req->op);
    op_preparer *prepare = preparer_of(req->op);
    struct api_reply dest;
    struct json_text_fault fault;
    bool text_ok;
    struct call call;

    memset(&dest, 0, sizeof dest);

    /* The writer's run will refuse what fails these without hashing anything: so does this one. */
    if (op == NULL || prepare == NULL || req->payload_len > settings.max_payload)
        goto done;
    root = read_payload(req, &text_ok, &fault);
    if (!find_destination(req, root, text_ok ? NULL : &fault, &dest) || !text_ok || !cJSON_IsObject(root) ||
        check_envelope(ctx, root, &env, &data) != ERR_OK)
        goto done;
    if (!(op->flags & OP_ANONYMOUS)) {
        const cJSON *token = cJSON_GetObjectItemCaseSensitive(root, "token");
        if (!cJSON_IsString(token) || auth_authenticate(ctx, token->valuestring) != ERR_OK ||
            !(op->authorities & AUTH_BIT(ctx->who.authority)))
            goto done;
    }
    if (!bind_destination(ctx, &dest))
        goto done;
    call.ctx = ctx;
    call.data = data;
    call.result = NULL;
    prepare(&call);
    cJSON_Delete(call.result);
done:
    free(dest.reply_to);
    cJSON_Delete(root);
    cJSON_Delete(empty);
}

void api_reply_release(struct api_reply *r)
{
    cJSON_free(r->body);
    free(r->reply_to);
    r->body = NULL;
    r->reply_to = NULL;
}

char *api_error_body(enum error_kind kind, const char *message, const char *payload, size_t payload_len)
{
    struct error e = { 0 };
    struct envelope env = { 0 };
    cJSON *root = payload ? cJSON_ParseWithLength(payload, payload_len) : NULL;

    error_set(&e, kind, "%s", message);
    if (cJSON_IsObject(root)) {
        env.correlation_id = cJSON_GetObjectItemCaseSensitive(root, "correlationId");
        env.id = cJSON_GetObjectItemCaseSensitive(root, "id");
    }
    char *text = finish_reply(error_object(&e), &env);
    cJSON_Delete(root);
    return text;
}

void api_reply_destination(const struct api_request *req, struct api_reply *out)
{
    struct ctx nobody;
    struct json_text_fault fault;
    bool text_ok;

    memset(out, 0, sizeof *out);
    memset(&nobody, 0, sizeof nobody);
    cJSON *root = read_payload(req, &text_ok, &fault);
    if (find_destination(req, root, text_ok ? NULL : &fault, out))
        (void)bind_destination(&nobody, out);
    cJSON_Delete(root);
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
