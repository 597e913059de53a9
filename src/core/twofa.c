/* twofa.c: a user's two-factor account config (twoFa.accountConfig.*): TOTP secrets given as
 * otpauth:// URIs and saved once a code of them checks, e-mail codes turned on or off, and backup
 * codes made in batches of ten, shown once, stored as SHA-256 digests. The login's second step is
 * twofa_login.c's. */
#include "cmagent/twofa.h"

#include "cmagent/store_twofa.h"
#include "cmagent/totp.h"
#include "twofa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISSUER "ThingsBoard"

static const char *const names[TWOFA_PROVIDERS] = { "TOTP", "EMAIL", "BACKUP_CODE" };

const char *twofa_provider_name(enum twofa_provider p)
{
    return (unsigned)p < TWOFA_PROVIDERS ? names[p] : "";
}

int twofa_provider_parse(struct ctx *ctx, const char *name, enum twofa_provider *out)
{
    for (int p = 0; p < TWOFA_PROVIDERS; p++)
        if (name != NULL && strcmp(name, names[p]) == 0) {
            *out = (enum twofa_provider)p;
            return ERR_OK;
        }
    return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid providerType: expected TOTP, EMAIL or BACKUP_CODE");
}

void twofa_view_of(const struct twofa_account *a, struct twofa_view *out)
{
    memset(out, 0, sizeof *out);
    if (a->totp_secret != NULL)
        out->providers |= 1u << TWOFA_TOTP;
    if (a->email != NULL)
        out->providers |= 1u << TWOFA_EMAIL;
    for (const char *p = a->backup_codes; p != NULL && *p != '\0'; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : "")
        out->backup_codes_left++;
    if (out->backup_codes_left > 0)
        out->providers |= 1u << TWOFA_BACKUP_CODE;
}

/* The caller's config; an empty one (user_id set) when there is none. */
int twofa_load(struct ctx *ctx, const char *user_id, struct twofa_account *a)
{
    int rc = store_twofa_get(ctx->store, user_id, a);
    if (rc == STORE_NOT_FOUND) {
        memset(a, 0, sizeof *a);
        rc = STORE_OK;
    }
    snprintf(a->user_id, sizeof a->user_id, "%s", user_id);
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

static int save_and_view(struct ctx *ctx, struct twofa_account *a, struct twofa_view *out)
{
    int rc = store_twofa_save(ctx->store, a);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    if (out != NULL)
        twofa_view_of(a, out);
    return ERR_OK;
}

/* Percent-encodes s into out for an otpauth label (RFC 3986 unreserved and '@' kept). */
static void url_encode(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~@", *p) != NULL)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    out[o] = '\0';
}

static void new_backup_codes(struct twofa_generated *out, char **digests)
{
    static const char hex[] = "0123456789abcdef";
    size_t cap = TWOFA_BACKUP_CODE_COUNT * SECRET_DIGEST_HEX + 1, o = 0;
    char *d = xmalloc(cap), digest[SECRET_DIGEST_HEX];

    for (int i = 0; i < TWOFA_BACKUP_CODE_COUNT; i++) {
        unsigned char raw[TWOFA_BACKUP_CODE_LEN / 2];
        secret_random(raw, sizeof raw);
        for (size_t k = 0; k < sizeof raw; k++) {
            out->codes[i][2 * k] = hex[raw[k] >> 4];
            out->codes[i][2 * k + 1] = hex[raw[k] & 15];
        }
        out->codes[i][TWOFA_BACKUP_CODE_LEN] = '\0';
        secret_digest(out->codes[i], digest);
        o += (size_t)snprintf(d + o, cap - o, "%s%s", i ? " " : "", digest);
    }
    *digests = d;
}

int twofa_generate(struct ctx *ctx, enum twofa_provider p, struct twofa_generated *out)
{
    char label[300], b32[TOTP_BASE32_MAX];
    unsigned char key[TOTP_SECRET_BYTES];
    struct twofa_account a;
    int rc = ERR_OK;

    memset(out, 0, sizeof *out);
    if (twofa_need_allowed(ctx, p) != ERR_OK)
        return ctx->err.kind;
    if (p == TWOFA_TOTP) {
        secret_random(key, sizeof key);
        totp_base32_encode(key, sizeof key, b32);
        url_encode(ctx->who.email, label, sizeof label);
        snprintf(out->auth_url, sizeof out->auth_url, "otpauth://totp/%s:%s?issuer=%s&secret=%s", ISSUER, label,
                 ISSUER, b32);
    } else if (p == TWOFA_BACKUP_CODE) {
        rc = twofa_load(ctx, ctx->who.user_id, &a);
        if (rc == ERR_OK) {
            free(a.backup_codes);
            new_backup_codes(out, &a.backup_codes);
            rc = save_and_view(ctx, &a, NULL);
        }
        twofa_account_release(&a);
    }
    return rc;
}

/* The base32 secret of an otpauth://totp/ URI, checked to decode (heap), or NULL. */
static char *secret_of_url(const char *url)
{
    unsigned char key[40];
    const char *q = url != NULL && strncmp(url, "otpauth://totp/", 15) == 0 ? strchr(url, '?') : NULL;

    for (const char *p = q; p != NULL; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, "secret=", 7) != 0)
            continue;
        size_t n = strcspn(p + 8, "&#");
        char *s = n > 0 && n < TOTP_BASE32_MAX ? strndup(p + 8, n) : NULL;
        if (s != NULL && totp_base32_decode(s, key, sizeof key) >= 10)
            return s;
        free(s);
        return NULL;
    }
    return NULL;
}

int64_t twofa_totp_step(const struct ctx *ctx, const char *secret, const char *code)
{
    unsigned char key[40];
    int n = secret != NULL ? totp_base32_decode(secret, key, sizeof key) : -1;
    return n > 0 ? totp_match_step(key, (size_t)n, ctx->now / 1000, code, TOTP_DIGITS) : -1;
}

int twofa_verify_and_save(struct ctx *ctx, enum twofa_provider p, const char *auth_url, const char *code,
                          struct twofa_view *out)
{
    struct twofa_account a;
    char *secret = NULL;
    int64_t step = 0;
    int rc = ERR_OK;

    memset(out, 0, sizeof *out);
    if (twofa_need_allowed(ctx, p) != ERR_OK)
        return ctx->err.kind;
    if (p == TWOFA_BACKUP_CODE)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "Backup codes are saved by twoFa.accountConfig.generate; nothing to verify");
    if (p == TWOFA_TOTP) {
        secret = secret_of_url(auth_url);
        if (secret == NULL)
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid authUrl: expected otpauth://totp/...?secret=...");
        step = twofa_totp_step(ctx, secret, code);
        if (step < 0) {
            free(secret);
            return error_set(&ctx->err, ERR_BAD_REQUEST, "Verification code is incorrect");
        }
    }
    rc = twofa_load(ctx, ctx->who.user_id, &a);
    if (rc == ERR_OK) {
        if (p == TWOFA_TOTP) {
            free(a.totp_secret);
            a.totp_secret = secret;
            a.totp_last_step = step; /* the code that saved it is spent: no login with it */
            secret = NULL;
        } else if (a.email == NULL) {
            a.email = xstrdup_or_null("1");
        }
        rc = save_and_view(ctx, &a, out);
    }
    free(secret);
    twofa_account_release(&a);
    return rc;
}

int twofa_get(struct ctx *ctx, struct twofa_view *out)
{
    struct twofa_account a;
    int rc = twofa_load(ctx, ctx->who.user_id, &a);
    if (rc == ERR_OK)
        twofa_view_of(&a, out);
    twofa_account_release(&a);
    return rc;
}

int twofa_delete(struct ctx *ctx, enum twofa_provider p, struct twofa_view *out)
{
    struct twofa_account a;
    int rc = twofa_load(ctx, ctx->who.user_id, &a);
    if (rc == ERR_OK) {
        char **field = p == TWOFA_TOTP ? &a.totp_secret : p == TWOFA_EMAIL ? &a.email : &a.backup_codes;
        free(*field);
        *field = NULL;
        rc = save_and_view(ctx, &a, out);
    }
    twofa_account_release(&a);
    return rc;
}
