/* user.h: users of every authority (thingsboard-customers.md §4): validation, global e-mail
 * uniqueness, immutable tenant/customer/authority, activation tokens, enable/disable, delete rules,
 * listings, and the bootstrap of the system administrator. */
#ifndef CMAGENT_USER_H
#define CMAGENT_USER_H

#include "cmagent/context.h"
#include "cmagent/update.h"

#include <stdbool.h>
#include <stddef.h>

/* Creates u. SYS_ADMIN creates TENANT_ADMIN users (u->tenant_id given); TENANT_ADMIN creates
 * TENANT_ADMIN or CUSTOMER_USER (u->customer_id given) in its own tenant. The credentials start
 * disabled with a 40-character activation token (TTL from settings). Emits ENTITY_CREATED
 * (customerId: the caller's).
 * With send_activation_mail the request runs twice (agent.c). First run (ctx->mailed NULL): the user
 * is created with a new id and activation token and the awaited mail composed with both for the
 * running command (ctx->command); the writer rolls this run back. Second run (ctx->mailed the first
 * run's mails with their outcomes): sent, the user is created with the id and token of its own
 * command's mail; failed, 500 "Couldn't send user activation email" and nothing exists; no mail for
 * the command (it failed in the first run, the data changed since), 409 and nothing exists. */
int user_create(struct ctx *ctx, struct user *u, bool send_activation_mail);

/* Saves u over the user with u->id; tenantId, customerId and authority may not change (400 with
 * ThingsBoard's messages). how (update.h): the version check and ifEqual "skip", as for
 * customers. Emits ENTITY_UPDATED. */
int user_update(struct ctx *ctx, struct user *u, unsigned how);

/* Loads a user the caller may read; cred (optional) receives its credentials. */
int user_get(struct ctx *ctx, const char *id, struct user *out, struct credentials *cred);

/* Deletes a user (not oneself as system administrator; not the tenant's last admin). Its
 * credentials, tokens and API keys go with it. Emits ENTITY_DELETED. */
int user_delete(struct ctx *ctx, const char *id);

/* user.list: SYS_ADMIN lists the tenant admins of tenant_id (required); TENANT_ADMIN all users of
 * its tenant; CUSTOMER_USER the users of its own customer. textSearch on email. */
int user_list(struct ctx *ctx, const char *tenant_id, const struct page_request *p, struct user **items,
              size_t *n, struct page_info *info);

/* customer.users: the CUSTOMER_USER users of a customer of the caller's tenant (TENANT_ADMIN). */
int user_list_by_customer(struct ctx *ctx, const char *customer_id, const struct page_request *p,
                          struct user **items, size_t *n, struct page_info *info);

/* The activation link of a not yet activated user: "<base_url>/api/noauth/activate?activateToken=T"
 * and the milliseconds it stays valid. Regenerates the token when under 15 minutes remain.
 * 400 "User is already activated!" once activated. *link is a heap string. */
int user_activation_link(struct ctx *ctx, const char *id, char **link, int64_t *ttl_ms);

/* user.sendActivationMail: the activation mail of a not yet activated user the caller may read
 * (404 "User with the given email is not found" for an unknown e-mail and for a user the caller
 * may not read alike; 400 "User is already activated!"). Runs twice like user_create: the first
 * run composes the awaited mail (renewing a token with under 15 minutes left), the second answers
 * its outcome (500 "Couldn't send user activation email" on failure) and stores the mailed token. */
int user_send_activation_mail(struct ctx *ctx, const char *email);

/* The activation mail of user_id, a user just created and not activated, queued in the transaction
 * (ctx_queue_mail) for the mailer to send after the commit, without waiting for it (an import job's
 * users: their rows are answered before the mail goes; a failed send is tried again, then dropped
 * and logged; user.sendActivationMail sends it again). */
int user_mail_activation_after_commit(struct ctx *ctx, const char *user_id);

/* Enables or disables the user's credentials. Disabling revokes its tokens and API keys at once;
 * enabling resets failed login attempts and needs an activated password. Emits USER_ENABLED or
 * USER_DISABLED. */
int user_set_enabled(struct ctx *ctx, const char *id, bool enabled);

/* On an empty user table, creates the system administrator with email and password (a random one
 * when password is empty, written to generated, which is "" otherwise). Runs in its own
 * transaction at start-up. Returns ERR_OK or an error kind with ctx->err set. */
int user_bootstrap_sysadmin(struct ctx *ctx, const char *email, const char *password, char generated[64]);

#endif
