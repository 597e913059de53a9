/* auth_int.h: what the authentication files (auth_tokens.c, auth_login.c, auth_password.c) share.
 * Private to the core; the user files' helpers they use are in user_int.h. */
#ifndef CMAGENT_CORE_AUTH_INT_H
#define CMAGENT_CORE_AUTH_INT_H

#include "cmagent/auth.h"
#include "user_int.h"

#include <stdbool.h>
#include <stdint.h>

#define NOT_ACTIVE "User account is not active"

/* now + ttl, saturated; a ttl of 0 or less means the token never expires (0). */
int64_t auth_expiry(int64_t now, int64_t ttl_ms);

/* ctx->who becomes the user u, authenticated by token t. */
void auth_fill_principal(struct ctx *ctx, const struct user *u, const struct token *t);

/* Issues an access and a refresh token sharing a new pair id. access (optional) receives the
 * access token's row. */
int auth_issue_pair(struct ctx *ctx, const char *user_id, struct token_pair *out, struct token *access);

/* auth_issue_pair for a session that acting_user_id (user.token's caller, "" for none) acts
 * through: both tokens name it, and a refresh of them keeps it. */
int auth_issue_pair_for(struct ctx *ctx, const char *user_id, const char *acting_user_id, struct token_pair *out,
                        struct token *access);

/* Whether password is the one hash was made of. Every crypt() of the authentication files goes
 * through it or hash_work_hash, so that the writer's run of a request finds the answers its
 * verifier run computed (hash_work.h). */
bool auth_password_matches(struct ctx *ctx, const char *password, const char *hash);

#endif
