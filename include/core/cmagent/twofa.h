/* twofa.h: two-factor authentication as ThingsBoard CE 3.4+ has it (TwoFactorAuthController,
 * TwoFaConfigController): a user's providers (TOTP of RFC 6238, codes mailed through the mail path,
 * one-time backup codes stored as digests), and the second step of a login: a login of a user with
 * a provider answers a pre-verification token, which only names the login to auth.twoFa.providers,
 * auth.twoFa.sendCode and auth.twoFa.verify; the access and refresh tokens come after a good code. */
#ifndef CMAGENT_TWOFA_H
#define CMAGENT_TWOFA_H

#include "cmagent/auth.h"
#include "cmagent/context.h"
#include "cmagent/store_twofa.h"

#include <stddef.h>

enum twofa_provider { TWOFA_TOTP, TWOFA_EMAIL, TWOFA_BACKUP_CODE, TWOFA_PROVIDERS };

#define TWOFA_BACKUP_CODE_COUNT 10
#define TWOFA_BACKUP_CODE_LEN 8
#define TWOFA_URL_MAX 512

/* "TOTP", "EMAIL", "BACKUP_CODE". */
const char *twofa_provider_name(enum twofa_provider p);
/* 400 "Invalid providerType" for anything else. */
int twofa_provider_parse(struct ctx *ctx, const char *name, enum twofa_provider *out);

/* What a user has configured: providers (bit 1 << provider) and the unused backup codes. */
struct twofa_view {
    unsigned providers;
    int backup_codes_left;
};

/* What generate made: the otpauth:// URI of a new TOTP secret (nothing stored), the address codes
 * would be mailed to, or the new backup codes (stored at once as digests, replacing the old). */
struct twofa_generated {
    char auth_url[TWOFA_URL_MAX];
    char codes[TWOFA_BACKUP_CODE_COUNT][TWOFA_BACKUP_CODE_LEN + 1];
};

/* twoFa.accountConfig.generate for the caller. */
int twofa_generate(struct ctx *ctx, enum twofa_provider p, struct twofa_generated *out);

/* twoFa.accountConfig.verifyAndSave for the caller: TOTP needs the authUrl generate gave and a
 * current code of it (400 "Verification code is incorrect"); EMAIL turns mailed codes on. */
int twofa_verify_and_save(struct ctx *ctx, enum twofa_provider p, const char *auth_url, const char *code,
                          struct twofa_view *out);

/* twoFa.accountConfig.get, and .delete of one provider (the caller's own). */
int twofa_get(struct ctx *ctx, struct twofa_view *out);
int twofa_delete(struct ctx *ctx, enum twofa_provider p, struct twofa_view *out);

/* twoFa.settings.get: the platform's settings (ThingsBoard's defaults when none were saved). */
int twofa_settings_get(struct ctx *ctx, struct twofa_settings *out);

/* twoFa.settings.save: providers (bits 1 << provider) allowed, and in's lifetimes and limits,
 * checked (400 naming the member out of range); out receives what was saved. */
int twofa_settings_save(struct ctx *ctx, unsigned providers, const struct twofa_settings *in,
                        struct twofa_settings *out);

/* For auth_login, once the password matched: when the user has a provider, a pre-verification
 * token in out (token, its lifetime, twofa_providers) instead of a pair; when it has none but the
 * settings enforce two-factor authentication on it, an MFA configuration token (twofa_config);
 * *challenged tells whether out holds either. */
int twofa_login_challenge(struct ctx *ctx, const struct user *u, struct token_pair *out, bool *challenged);

/* Resolves an MFA configuration token into ctx->who (for twoFa.accountConfig.* only): 401 for any
 * other token, an expired one, or an account no longer active. */
int twofa_authenticate_config(struct ctx *ctx, const char *token);

/* auth.twoFa.providers: the providers of the login token names. */
int auth_twofa_providers(struct ctx *ctx, const char *token, struct twofa_view *out);

/* auth.twoFa.sendCode: mails a new code of the login's EMAIL provider, within the re-send limits
 * (429 "Too many verification code requests" otherwise). */
int auth_twofa_send_code(struct ctx *ctx, const char *token, enum twofa_provider p);

/* auth.twoFa.verify: a good code ends the login (the token is spent) with a pair; a wrong one
 * counts as a failed login (lockout after max_failed_login_attempts) and answers 401. */
int auth_twofa_verify(struct ctx *ctx, const char *token, enum twofa_provider p, const char *code,
                      struct token_pair *out);

#endif
