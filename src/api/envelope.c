/* envelope.c: the request envelope and the reply around it (envelope.h): the payload read and
 * checked, the envelope members, the reply destination's namespace and binding rules, and the reply
 * bodies that echo correlationId and id. */
#include "envelope.h"

#include "cmagent/reply_topic.h"
#include "cmagent/topic.h"
#include "cmagent/utf8.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An oversized request up to this size is still parsed for its envelope, so that its 413 reply
 * reaches an MQTT 3.1.1 client's replyTo with its correlationId. */
#define OVERSIZED_PARSE_MAX ((size_t)16 << 20)

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
char *splice_envelope(char *text, const struct envelope *env)
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

void reply_error(struct ctx *ctx, const struct envelope *env, struct api_reply *out)
{
    out->failed = true;
    out->status = error_status(ctx->err.kind);
    out->body = finish_reply(error_object(&ctx->err), env);
}

void api_reply_pending_lost(struct ctx *ctx, const struct api_request *req, struct api_reply *out)
{
    struct envelope env = { 0 };
    const cJSON *data = NULL;
    cJSON *root = cJSON_ParseWithLength(req->payload, req->payload_len);

    if (cJSON_IsObject(root))
        (void)check_envelope(ctx, root, &env, &data); /* it passed once: only the echo matters */
    error_set(&ctx->err, ERR_CONFLICT, "Request id '%.128s' is being applied by another agent: send it again shortly",
              cJSON_IsString(env.id) ? env.id->valuestring : "");
    free(out->body);
    out->deferred = false;
    reply_error(ctx, &env, out);
    cJSON_Delete(root);
}

int check_envelope(struct ctx *ctx, const cJSON *root, struct envelope *env, const cJSON **data)
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
    const char *why = reply_topic_refusal(&api_current_settings()->reply, topic, len);
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
bool find_destination(const struct api_request *req, const cJSON *root, const struct json_text_fault *fault,
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
bool bind_destination(const struct ctx *ctx, struct api_reply *out)
{
    if (out->reply_to == NULL)
        return true;
    const char *why = reply_topic_binding_refusal(&api_current_settings()->reply, &ctx->who, out->reply_to);
    if (why == NULL)
        return true;
    char *topic = out->reply_to;
    out->reply_to = NULL;
    refuse_destination(out, out->reply_source, topic, strlen(topic), why);
    free(topic);
    return false;
}

/* Parses the payload unless it is too large to be worth it, and scans its strings (json_text.h).
 * Returns the parsed root (or NULL); *text_ok tells whether the strings are fine (fault set if not). */
cJSON *read_payload(const struct api_request *req, bool *text_ok, struct json_text_fault *fault)
{
    *text_ok = true;
    if (req->payload_len > api_current_settings()->max_payload && req->payload_len > OVERSIZED_PARSE_MAX)
        return NULL;
    *text_ok = json_text_check(req->payload, req->payload_len, fault);
    return cJSON_ParseWithLength(req->payload, req->payload_len);
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

