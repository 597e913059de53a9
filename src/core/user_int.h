/* user_int.h: what the user files (user.c, user_activation.c) share, and the authentication files
 * use: loading a user with the permission checks, its credentials, its events, and the activation
 * of a new user. Private to the core. */
#ifndef CMAGENT_CORE_USER_INT_H
#define CMAGENT_CORE_USER_INT_H

#include "cmagent/context.h"
#include "cmagent/perm.h"

#define ACTIVATION_TOKEN_BYTES 30                /* 40 base64url characters, as ThingsBoard */

/* The authority check of the operation, then the user (404), then the per-user permission (403). */
int user_load_for(struct ctx *ctx, unsigned authorities, enum perm_op op, const char *id, struct user *out);
int user_load_credentials(struct ctx *ctx, const char *user_id, struct credentials *out);
int user_save_credentials(struct ctx *ctx, const struct credentials *c);

/* ThingsBoard logs user actions with the caller's customer, not the user's. */
int user_emit_event(struct ctx *ctx, const char *type, const struct user *u);

/* A new user's credentials: disabled, no password, a pending activation token (preset_token: the
 * one its mail carries). */
int user_insert_pending_credentials(struct ctx *ctx, const char *user_id, const char *preset_token);

/* Queues the activation mail of user_id (email) with token; the reply waits for the outcome. */
void user_want_activation_mail(struct ctx *ctx, const char *user_id, const char *email, const char *token,
                               int64_t ttl_ms);

/* The second run of a request that awaited its mails: the mail the first run composed for this
 * command, which must have gone out (409 when it composed none, 500 when it failed). */
int user_mailed_for_command(struct ctx *ctx, const char *email, const struct outgoing_mail **out);

#endif
