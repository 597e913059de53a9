/* twofa_settings.c: the platform's two-factor settings (twoFa.settings.get/save, system
 * administrator): which providers are allowed, the lifetime of a mailed code and of a login's
 * second step, the re-send limits, and whom two-factor authentication is enforced on. Unsaved,
 * ThingsBoard's defaults apply (nothing enforced). */
#include "cmagent/twofa.h"

#include "twofa_int.h"

#include <stdio.h>
#include <string.h>

#define DAY_S 86400

int twofa_settings_load(struct ctx *ctx, struct twofa_settings *out)
{
    memset(out, 0, sizeof *out);
    int rc = store_twofa_settings_get(ctx->store, out);
    if (rc == STORE_NOT_FOUND) {
        snprintf(out->providers, sizeof out->providers, "TOTP EMAIL BACKUP_CODE");
        out->code_lifetime_s = 120;
        out->total_time_s = 900;
        out->send_period_s = 30;
        out->max_sends = 5;
        snprintf(out->enforce_filter, sizeof out->enforce_filter, "ALL");
        rc = STORE_OK;
    }
    return rc == STORE_OK ? ERR_OK : ctx_store_failed(ctx, rc);
}

unsigned twofa_allowed(const struct twofa_settings *t)
{
    unsigned bits = 0;
    char names[sizeof t->providers];
    snprintf(names, sizeof names, "%s", t->providers);
    for (char *save = NULL, *w = strtok_r(names, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        for (int p = 0; p < TWOFA_PROVIDERS; p++)
            if (strcmp(w, twofa_provider_name((enum twofa_provider)p)) == 0)
                bits |= 1u << p;
    return bits;
}

int twofa_need_allowed(struct ctx *ctx, enum twofa_provider p)
{
    struct twofa_settings t;
    int rc = twofa_settings_load(ctx, &t);
    if (rc == ERR_OK && (twofa_allowed(&t) & (1u << p)) == 0)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "Provider %s is not allowed by the platform's settings",
                       twofa_provider_name(p));
    return rc;
}

static int check_range(struct ctx *ctx, const char *name, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s must be from %lld to %lld", name, (long long)lo,
                         (long long)hi);
    return ERR_OK;
}

int twofa_settings_save(struct ctx *ctx, unsigned providers, const struct twofa_settings *in,
                        struct twofa_settings *out)
{
    int rc = check_range(ctx, "verificationCodeLifetime", in->code_lifetime_s, 1, DAY_S);
    if (rc == ERR_OK)
        rc = check_range(ctx, "totalAllowedTimeForVerification", in->total_time_s, 60, DAY_S);
    if (rc == ERR_OK)
        rc = check_range(ctx, "minVerificationCodeSendPeriod", in->send_period_s, 0, DAY_S);
    if (rc == ERR_OK)
        rc = check_range(ctx, "maxVerificationCodeSends", in->max_sends, 1, 100);
    static const char *const filters[] = { "ALL", "SYSTEM_ADMINISTRATORS", "TENANT_ADMINISTRATORS", "CUSTOMER_USERS" };
    bool known = false;
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        known |= strcmp(in->enforce_filter, filters[i]) == 0;
    if (rc == ERR_OK && !known)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "enforcedUsersFilter type must be ALL, SYSTEM_ADMINISTRATORS, "
                                                   "TENANT_ADMINISTRATORS or CUSTOMER_USERS");
    if (rc == ERR_OK && in->enforce && providers == 0)
        rc = error_set(&ctx->err, ERR_BAD_REQUEST, "enforceTwoFa needs at least one allowed provider");
    if (rc != ERR_OK)
        return rc;
    *out = *in;
    out->providers[0] = '\0';
    for (int p = 0; p < TWOFA_PROVIDERS; p++)
        if (providers & (1u << p))
            snprintf(out->providers + strlen(out->providers), sizeof out->providers - strlen(out->providers),
                     "%s%s", out->providers[0] ? " " : "", twofa_provider_name((enum twofa_provider)p));
    int src = store_twofa_settings_save(ctx->store, out);
    return src == STORE_OK ? ERR_OK : ctx_store_failed(ctx, src);
}

int twofa_settings_get(struct ctx *ctx, struct twofa_settings *out)
{
    return twofa_settings_load(ctx, out);
}

bool twofa_enforced_on(const struct twofa_settings *t, const struct user *u)
{
    const char *f = t->enforce_filter;
    if (!t->enforce)
        return false;
    if (t->enforce_tenant[0] != '\0' && strcmp(t->enforce_tenant, u->tenant_id) != 0)
        return false;
    return strcmp(f, "ALL") == 0 || (strcmp(f, "SYSTEM_ADMINISTRATORS") == 0 && u->authority == AUTHORITY_SYS_ADMIN) ||
           (strcmp(f, "TENANT_ADMINISTRATORS") == 0 && u->authority == AUTHORITY_TENANT_ADMIN) ||
           (strcmp(f, "CUSTOMER_USERS") == 0 && u->authority == AUTHORITY_CUSTOMER_USER);
}
