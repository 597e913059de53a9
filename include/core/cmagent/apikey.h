/* apikey.h: API keys: long-lived tokens that act as their owner, shown once at creation. */
#ifndef CMAGENT_APIKEY_H
#define CMAGENT_APIKEY_H

#include "cmagent/context.h"
#include "cmagent/secret.h"

#include <stddef.h>

/* Creates a key for the caller ("cmk_..." in key); expires_in_ms 0 = never. out receives the
 * stored record (no secret). description at most 255 characters. */
int apikey_create(struct ctx *ctx, const char *description, int64_t expires_in_ms,
                  char key[SECRET_TOKEN_MAX], struct token *out);
/* The caller's keys, newest first. */
int apikey_list(struct ctx *ctx, struct token **items, size_t *n);
/* Deletes one of the caller's keys (404 "API key with id [x] is not found" otherwise). */
int apikey_delete(struct ctx *ctx, const char *id);

#endif
