/* twofa_login.c: the second step of a login of a user with a two-factor provider. auth.login
 * answers a pre-verification token ("cmp_", stored as its digest in twofa_challenge) instead of a
 * pair; that token is no access token (auth_authenticate does not know it), it only names the
 * login to auth.twoFa.providers, auth.twoFa.sendCode and auth.twoFa.verify. A wrong code counts as
 * a failed login does (ctx->kept, lockout past max_failed_login_attempts); a good one spends the
 * token and issues the pair. Only the providers the platform's settings allow are offered and
 * accepted; the lifetimes and re-send limits are the settings' (twofa_settings.c). */
#include "cmagent/twofa.h"

#include "cmagent/store_token.h"
#include "cmagent/store_user.h"
#include "auth_int.h"
#include "twofa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRE_PREFIX "cmp_"
#define CONFIG_PREFIX "cmc_"
#define PRE_TOKEN_BYTES 32
#define INVALID_PRE "Invalid or expired pre-verification token"
#define WRONG_CODE "Verification code is incorrect"
#define USED_CODE "Verification code has already been used; wait for the next one"
#define LOCKED "User account is locked due to security policy"

int twofa_login_challenge(struct ctx *ctx, const struct user *u, struct token_pair *out, bool *challenged)
{
    const char *user_id = u->id;
    struct twofa_account a;
    struct twofa_view v;
    struct twofa_challenge c = { 0 };
    struct twofa_settings t;

    *challenged = false;
    int rc = twofa_settings_load(ctx, &t);
    if (rc == ERR_OK)
        rc = twofa_load(ctx, user_id, &a);
    if (rc != ERR_OK)
        return rc;
    twofa_view_of(&a, &v);
    twofa_account_release(&a);
    v.providers &= twofa_allowed(&t);
    if (v.providers == 0 && !twofa_enforced_on(&t, u))
        return ERR_OK;
    memset(out, 0, sizeof *out);
    c.config_only = v.providers == 0;
    out->twofa_config = c.config_only;
    if (c.config_only)
        v.providers = twofa_allowed(&t);
    secret_token(out->token, c.config_only ? CONFIG_PREFIX : PRE_PREFIX, PRE_TOKEN_BYTES);
    secret_digest(out->token, c.digest);
    strcpy(c.user_id, user_id);
    c.expires_at = auth_expiry(ctx->now, t.total_time_s * 1000);
    int src = store_twofa_challenge_purge(ctx->store, ctx->now);
    if (src == STORE_OK)
        src = store_twofa_challenge_insert(ctx->store, &c);
    if (src != STORE_OK)
        return ctx_store_failed(ctx, src);
    out->expires_in_ms = t.total_time_s * 1000;
    out->twofa_providers = v.providers;
    *challenged = true;
    return ERR_OK;
}

/* The login a pre-verification token names, its user (named as the audit subject), credentials
 * and config; 401 for an unknown or expired token or an account no longer active. The caller
 * releases all four. */
static int load_login(struct ctx *ctx, const char *token, struct twofa_challenge *ch, struct user *u,
                      struct credentials *cr, struct twofa_account *a)
{
    char digest[SECRET_DIGEST_HEX];

    memset(a, 0, sizeof *a);
    secret_digest(token != NULL ? token : "", digest);
    int rc = store_twofa_challenge_get_for_update(ctx->store, digest, ch);
    if (rc == STORE_OK && (ch->expires_at <= ctx->now || ch->config_only))
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_PRE);
    if (rc == STORE_OK)
        rc = store_user_get(ctx->store, ch->user_id, u);
    if (rc == STORE_OK)
        rc = store_credentials_get_for_update(ctx->store, ch->user_id, cr);
    if (rc == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_PRE);
    if (rc != STORE_OK)
        return ctx_store_failed(ctx, rc);
    ctx_audit_subject(ctx, u);
    if (!cr->enabled)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    return twofa_load(ctx, u->id, a);
}

static void release_login(struct twofa_challenge *ch, struct user *u, struct credentials *cr, struct twofa_account *a)
{
    twofa_challenge_release(ch);
    user_release(u);
    credentials_release(cr);
    twofa_account_release(a);
}

static int need_provider(struct ctx *ctx, const struct twofa_account *a, enum twofa_provider p)
{
    struct twofa_view v;
    twofa_view_of(a, &v);
    if (twofa_need_allowed(ctx, p) != ERR_OK)
        return ctx->err.kind;
    if ((v.providers & (1u << p)) == 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Provider %s is not configured for this user",
                         twofa_provider_name(p));
    return ERR_OK;
}

int auth_twofa_providers(struct ctx *ctx, const char *token, struct twofa_view *out)
{
    struct twofa_challenge ch = { 0 };
    struct user u = { 0 };
    struct credentials cr = { 0 };
    struct twofa_account a;

    memset(out, 0, sizeof *out);
    int rc = load_login(ctx, token, &ch, &u, &cr, &a);
    if (rc == ERR_OK)
        twofa_view_of(&a, out);
    release_login(&ch, &u, &cr, &a);
    return rc;
}

int auth_twofa_send_code(struct ctx *ctx, const char *token, enum twofa_provider p)
{
    struct twofa_challenge ch = { 0 };
    struct user u = { 0 };
    struct credentials cr = { 0 };
    struct twofa_account a;
    char code[16], body[512];
    uint32_t r;

    int rc = load_login(ctx, token, &ch, &u, &cr, &a);
    if (rc == ERR_OK && p != TWOFA_EMAIL)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "Only EMAIL codes are sent; %s codes are the user's own",
                       twofa_provider_name(p));
    if (rc == ERR_OK)
        rc = need_provider(ctx, &a, p);
    struct twofa_settings t = { 0 };
    if (rc == ERR_OK)
        rc = twofa_settings_load(ctx, &t);
    if (rc == ERR_OK && (ch.sent_count >= t.max_sends ||
                         (ch.sent_count > 0 && ctx->now - ch.last_sent_at < t.send_period_s * 1000)))
        rc = error_set(&ctx->err, ERR_RATE_LIMITED, "Too many verification code requests");
    if (rc == ERR_OK) {
        secret_random(&r, sizeof r);
        snprintf(code, sizeof code, "%06u", r % 1000000u);
        free(ch.code_digest);
        ch.code_digest = xmalloc(SECRET_DIGEST_HEX);
        secret_digest(code, ch.code_digest);
        ch.code_expires_at = auth_expiry(ctx->now, t.code_lifetime_s * 1000);
        ch.sent_count++;
        ch.last_sent_at = ctx->now;
        int src = store_twofa_challenge_update(ctx->store, &ch);
        rc = src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
    }
    if (rc == ERR_OK) {
        snprintf(body, sizeof body,
                 "Hello %s,\r\n\r\nYour verification code is %s (valid for %lld seconds).\r\n\r\n"
                 "If you did not try to log in, change your password.\r\n",
                 u.email, code, (long long)t.code_lifetime_s);
        rc = ctx_queue_mail(ctx, u.email, "Your verification code", body, t.code_lifetime_s * 1000);
    }
    release_login(&ch, &u, &cr, &a);
    return rc;
}

/* Removes digest from the space separated list (in place); whether it was there. */
static bool spend_backup_code(char *list, const char *digest)
{
    size_t n = strlen(digest);
    for (char *p = list; p != NULL && *p != '\0';) {
        char *end = strchr(p, ' ');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && secret_equal(p, digest, n)) {
            memmove(p, end != NULL ? end + 1 : p + len, strlen(end != NULL ? end + 1 : p + len) + 1);
            size_t l = strlen(list);
            if (l > 0 && list[l - 1] == ' ')
                list[l - 1] = '\0';
            return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* Whether code is a TOTP code of a's secret not used yet: of a later step than the last one
 * accepted (RFC 6238 section 5.2), which it becomes (a saves it). *used: a good code already spent. */
static bool totp_fresh(struct ctx *ctx, struct twofa_account *a, const char *code, bool *used)
{
    int64_t step = twofa_totp_step(ctx, a->totp_secret, code);
    if (step < 0)
        return false;
    if (step <= a->totp_last_step) {
        *used = true;
        return false;
    }
    a->totp_last_step = step;
    return true;
}

/* Whether code is good for provider p of the login (a backup code is spent, a TOTP step used up:
 * a saves it). *used: a TOTP code that was good once. */
static bool code_matches(struct ctx *ctx, const struct twofa_challenge *ch, struct twofa_account *a,
                         enum twofa_provider p, const char *code, bool *used)
{
    char digest[SECRET_DIGEST_HEX];

    secret_digest(code, digest);
    if (p == TWOFA_TOTP)
        return totp_fresh(ctx, a, code, used);
    if (p == TWOFA_EMAIL)
        return ch->code_digest != NULL && ch->code_expires_at > ctx->now &&
               secret_equal(ch->code_digest, digest, SECRET_DIGEST_HEX - 1);
    if (!spend_backup_code(a->backup_codes, digest))
        return false;
    if (a->backup_codes[0] == '\0') {
        free(a->backup_codes);
        a->backup_codes = NULL;
    }
    return true;
}

/* A good code: the token spent, the login counted as ThingsBoard counts a successful one, a pair. */
static int finish_login(struct ctx *ctx, const struct twofa_challenge *ch, struct twofa_account *a,
                        struct credentials *cr, struct token_pair *out)
{
    /* The delete spends the token: of two agents verifying it at once, one finds it gone. */
    int src = store_twofa_challenge_delete(ctx->store, ch->digest);
    if (src == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, INVALID_PRE);
    if (src == STORE_OK)
        src = store_twofa_save(ctx->store, a);
    if (src == STORE_OK)
        src = store_credentials_login_ok(ctx->store, cr->user_id, ctx->now);
    if (src == STORE_NOT_FOUND)
        return error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (src != STORE_OK)
        return ctx_store_failed(ctx, src);
    return auth_issue_pair(ctx, ch->user_id, out, NULL);
}

int auth_twofa_verify(struct ctx *ctx, const char *token, enum twofa_provider p, const char *code,
                      struct token_pair *out)
{
    struct twofa_challenge ch = { 0 };
    struct user u = { 0 };
    struct credentials cr = { 0 };
    struct twofa_account a;
    int64_t max = ctx->settings->max_failed_login_attempts;
    bool used = false;

    memset(out, 0, sizeof *out);
    int rc = load_login(ctx, token, &ch, &u, &cr, &a);
    if (rc == ERR_OK)
        rc = need_provider(ctx, &a, p);
    /* a replayed code counts as a wrong one: whoever replays it lacks the code of the moment */
    if (rc == ERR_OK && !code_matches(ctx, &ch, &a, p, code != NULL ? code : "", &used)) {
        strcpy(ctx->kept.failed_login_user, u.id);
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, "%s",
                       max > 0 && cr.failed_login_attempts + 1 > max ? LOCKED : used ? USED_CODE : WRONG_CODE);
    }
    if (rc == ERR_OK)
        rc = finish_login(ctx, &ch, &a, &cr, out);
    release_login(&ch, &u, &cr, &a);
    return rc;
}

int twofa_authenticate_config(struct ctx *ctx, const char *token)
{
    char digest[SECRET_DIGEST_HEX];
    struct twofa_challenge ch = { 0 };
    struct user u = { 0 };
    struct credentials cr = { 0 };
    struct token t = { 0 };

    secret_digest(token != NULL ? token : "", digest);
    int rc = store_twofa_challenge_get(ctx->store, digest, &ch);
    if (rc == STORE_OK && (!ch.config_only || ch.expires_at <= ctx->now))
        rc = STORE_NOT_FOUND;
    if (rc == STORE_OK)
        rc = store_user_get(ctx->store, ch.user_id, &u);
    if (rc == STORE_OK)
        rc = store_credentials_get(ctx->store, ch.user_id, &cr);
    if (rc == STORE_NOT_FOUND)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, "Invalid or expired MFA configuration token");
    else if (rc != STORE_OK)
        rc = ctx_store_failed(ctx, rc);
    else if (!cr.enabled)
        rc = error_set(&ctx->err, ERR_UNAUTHORIZED, NOT_ACTIVE);
    if (rc == ERR_OK) {
        t.kind = TOKEN_ACCESS; /* no row of auth_token: it cannot be revoked by logout, nor refreshed */
        auth_fill_principal(ctx, &u, &t);
    }
    twofa_challenge_release(&ch);
    user_release(&u);
    credentials_release(&cr);
    return rc;
}
