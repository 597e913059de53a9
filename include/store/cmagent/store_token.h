/* store_token.h: queries of the auth_token table (access and refresh tokens, API keys). Only the
 * SHA-256 digest of a token is stored; the row is found again by that digest. */
#ifndef CMAGENT_STORE_TOKEN_H
#define CMAGENT_STORE_TOKEN_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int store_token_insert(struct store *s, const struct token *t);
/* STORE_NOT_FOUND when no token has this digest. The caller releases out with token_release(). */
int store_token_get_by_digest(struct store *s, const char *digest, struct token *out);
int store_token_get(struct store *s, const char *id, struct token *out);
/* STORE_NOT_FOUND when no token has this id. */
int store_token_delete(struct store *s, const char *id);
/* Deletes the access and refresh token issued together (none is not an error). */
int store_token_delete_pair(struct store *s, const char *pair_id);
/* Deletes every token of the user, or with sessions_only its access and refresh tokens only; with
 * either, the tokens user.token issued at its request (acting_user_id) too. */
int store_token_delete_by_user(struct store *s, const char *user_id, bool sessions_only);
/* The user's API keys, newest first. The caller frees *items with tokens_free(). */
int store_token_list_api_keys(struct store *s, const char *user_id, struct token **items, size_t *n);
/* How many API keys the user has. */
int store_token_count_api_keys(struct store *s, const char *user_id, int64_t *count);
/* Deletes the tokens that expired before now; *deleted receives how many. */
int store_token_purge_expired(struct store *s, int64_t now, int64_t *deleted);

#endif
