/* twofa_int.h: what twofa.c (account config) and twofa_login.c (the login's second step) share. */
#ifndef CMAGENT_CORE_TWOFA_INT_H
#define CMAGENT_CORE_TWOFA_INT_H

#include "cmagent/store_twofa.h"
#include "cmagent/twofa.h"

#include <stdbool.h>

/* The providers of a config (bits 1 << provider) and its unused backup codes. */
void twofa_view_of(const struct twofa_account *a, struct twofa_view *out);

/* The config of user_id; an empty one (user_id set) when there is none. The caller releases a. */
int twofa_load(struct ctx *ctx, const char *user_id, struct twofa_account *a);

/* The step of code when it is a current TOTP code of the base32 secret (one step of drift either
 * way), else -1. */
int64_t twofa_totp_step(const struct ctx *ctx, const char *secret, const char *code);

/* The platform's settings, ThingsBoard's defaults when none were saved. */
int twofa_settings_load(struct ctx *ctx, struct twofa_settings *out);

/* The allowed providers of t (bits 1 << provider). */
unsigned twofa_allowed(const struct twofa_settings *t);

/* Whether the settings enforce two-factor authentication on u (enforceTwoFa and its filter). */
bool twofa_enforced_on(const struct twofa_settings *t, const struct user *u);

/* 400 when the platform does not allow p. */
int twofa_need_allowed(struct ctx *ctx, enum twofa_provider p);

#endif
