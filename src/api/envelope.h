/* envelope.h: the request envelope and the reply around it (protocol §2, §3): the payload read
 * and its strings checked, the envelope members (correlationId, id, data), the reply destination
 * (its Response Topic or replyTo, the namespace and binding rules of reply_topic.h), and the reply
 * bodies that echo the envelope. */
#ifndef CMAGENT_API_ENVELOPE_H
#define CMAGENT_API_ENVELOPE_H

#include "cmagent/api.h"
#include "json_text.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The envelope members echoed in every reply. */
struct envelope {
    const cJSON *correlation_id;
    const cJSON *id;
};

/* Parses the payload unless it is too large to be worth it, and scans its strings (json_text.h).
 * Returns the parsed root (or NULL); *text_ok tells whether the strings are fine (fault set if not). */
cJSON *read_payload(const struct api_request *req, bool *text_ok, struct json_text_fault *fault);

/* Reads the envelope members of root into env and *data (left alone when absent). */
int check_envelope(struct ctx *ctx, const cJSON *root, struct envelope *env, const cJSON **data);

/* The namespace rule for the request's destination (its Response Topic, else the replyTo of root);
 * fault is the payload's string fault or NULL. Returns false when refused (out->refused). */
bool find_destination(const struct api_request *req, const cJSON *root, const struct json_text_fault *fault,
                      struct api_reply *out);

/* The binding rule for the destination found, once ctx->who is known (or known to be nobody).
 * Returns false when refused. */
bool bind_destination(const struct ctx *ctx, struct api_reply *out);

/* Appends the envelope members to text, a reply object printed without them. Takes ownership. */
char *splice_envelope(char *text, const struct envelope *env);

/* Fills out with ctx->err as the error reply (failed, status, body). */
void reply_error(struct ctx *ctx, const struct envelope *env, struct api_reply *out);

#endif
