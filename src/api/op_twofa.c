/* op_twofa.c: the two-factor operations (ThingsBoard's TwoFaConfigController and
 * TwoFactorAuthController): twoFa.accountConfig.* on the caller's own config, and the login's
 * second step auth.twoFa.* named by the pre-verification token auth.login answered. */
#include "ops.h"

#include "cmagent/twofa.h"
#include "cmagent/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"configs":{"TOTP":{"providerType":"TOTP"},"BACKUP_CODE":{...,"codesLeft":n}}} */
static cJSON *render_view(const struct twofa_view *v)
{
    cJSON *r = cJSON_CreateObject(), *configs = cJSON_AddObjectToObject(r, "configs");
    for (int p = 0; p < TWOFA_PROVIDERS; p++) {
        if ((v->providers & (1u << p)) == 0)
            continue;
        cJSON *o = cJSON_AddObjectToObject(configs, twofa_provider_name((enum twofa_provider)p));
        cJSON_AddStringToObject(o, "providerType", twofa_provider_name((enum twofa_provider)p));
        if (p == TWOFA_BACKUP_CODE)
            cJSON_AddNumberToObject(o, "codesLeft", v->backup_codes_left);
    }
    return r;
}

/* [{"type":"TOTP"},...]: the providers of bits. */
static cJSON *render_providers(unsigned bits)
{
    cJSON *a = cJSON_CreateArray();
    for (int p = 0; p < TWOFA_PROVIDERS; p++)
        if (bits & (1u << p)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", twofa_provider_name((enum twofa_provider)p));
            cJSON_AddItemToArray(a, o);
        }
    return a;
}

/* Reads the required providerType (and the other allowed keys' check). */
static int read_provider(struct call *c, const char *const *keys, enum twofa_provider *p)
{
    char *name = NULL;
    int rc = ERR_OK;
    if (args_allow(c, keys) || arg_string(c, "providerType", true, &name))
        rc = call_failed(c);
    else
        rc = twofa_provider_parse(c->ctx, name, p);
    free(name);
    return rc;
}

int op_twofa_generate(struct call *c)
{
    static const char *const keys[] = { "providerType", NULL };
    enum twofa_provider p;
    struct twofa_generated g;
    int rc = read_provider(c, keys, &p);
    if (rc == ERR_OK)
        rc = twofa_generate(c->ctx, p, &g);
    if (rc != ERR_OK)
        return rc;
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "providerType", twofa_provider_name(p));
    if (p == TWOFA_TOTP)
        cJSON_AddStringToObject(c->result, "authUrl", g.auth_url);
    if (p == TWOFA_EMAIL)
        cJSON_AddStringToObject(c->result, "email", c->ctx->who.email);
    if (p == TWOFA_BACKUP_CODE) {
        cJSON *codes = cJSON_AddArrayToObject(c->result, "codes");
        for (int i = 0; i < TWOFA_BACKUP_CODE_COUNT; i++)
            cJSON_AddItemToArray(codes, cJSON_CreateString(g.codes[i]));
    }
    return ERR_OK;
}

int op_twofa_verify_and_save(struct call *c)
{
    static const char *const keys[] = { "providerType", "authUrl", "verificationCode", NULL };
    enum twofa_provider p;
    struct twofa_view v;
    char *url = NULL, *code = NULL;
    int rc = read_provider(c, keys, &p);
    if (rc == ERR_OK && (arg_string(c, "authUrl", p == TWOFA_TOTP, &url) ||
                         arg_string(c, "verificationCode", p == TWOFA_TOTP, &code)))
        rc = call_failed(c);
    if (rc == ERR_OK)
        rc = twofa_verify_and_save(c->ctx, p, url, code, &v);
    if (rc == ERR_OK)
        c->result = render_view(&v);
    free(url);
    free(code);
    return rc;
}

int op_twofa_get(struct call *c)
{
    static const char *const keys[] = { NULL };
    struct twofa_view v;
    if (args_allow(c, keys))
        return call_failed(c);
    int rc = twofa_get(c->ctx, &v);
    if (rc == ERR_OK)
        c->result = render_view(&v);
    return rc;
}

int op_twofa_delete(struct call *c)
{
    static const char *const keys[] = { "providerType", NULL };
    enum twofa_provider p;
    struct twofa_view v;
    int rc = read_provider(c, keys, &p);
    if (rc == ERR_OK)
        rc = twofa_delete(c->ctx, p, &v);
    if (rc == ERR_OK)
        c->result = render_view(&v);
    return rc;
}

/* The login reply of a user with a second factor (ThingsBoard's PRE_VERIFICATION_TOKEN pair). */
void op_twofa_render_challenge(struct call *c, const struct token_pair *p)
{
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "token", p->token);
    cJSON_AddNullToObject(c->result, "refreshToken");
    cJSON_AddStringToObject(c->result, "scope", p->twofa_config ? "MFA_CONFIGURATION_TOKEN" : "PRE_VERIFICATION_TOKEN");
    cJSON_AddNumberToObject(c->result, "expiresIn", (double)p->expires_in_ms);
    cJSON_AddItemToObject(c->result, "providers", render_providers(p->twofa_providers));
}

/* Reads the required preVerificationToken, and providerType when want_provider. */
static int read_login(struct call *c, const char *const *keys, char **token, bool want_provider,
                      enum twofa_provider *p)
{
    int rc = want_provider ? read_provider(c, keys, p) : args_allow(c, keys) ? call_failed(c) : ERR_OK;
    if (rc == ERR_OK && arg_string(c, "preVerificationToken", true, token))
        rc = call_failed(c);
    return rc;
}

int op_auth_twofa_providers(struct call *c)
{
    static const char *const keys[] = { "preVerificationToken", NULL };
    char *token = NULL;
    struct twofa_view v;
    int rc = read_login(c, keys, &token, false, NULL);
    if (rc == ERR_OK)
        rc = auth_twofa_providers(c->ctx, token, &v);
    if (rc == ERR_OK) {
        c->result = cJSON_CreateObject();
        cJSON_AddItemToObject(c->result, "providers", render_providers(v.providers));
    }
    free(token);
    return rc;
}

int op_auth_twofa_send_code(struct call *c)
{
    static const char *const keys[] = { "preVerificationToken", "providerType", NULL };
    char *token = NULL;
    enum twofa_provider p;
    int rc = read_login(c, keys, &token, true, &p);
    if (rc == ERR_OK)
        rc = auth_twofa_send_code(c->ctx, token, p);
    free(token);
    return rc;
}

int op_auth_twofa_verify(struct call *c)
{
    static const char *const keys[] = { "preVerificationToken", "providerType", "verificationCode", NULL };
    char *token = NULL, *code = NULL;
    enum twofa_provider p;
    struct token_pair pair;
    int rc = read_login(c, keys, &token, true, &p);
    if (rc == ERR_OK && arg_string(c, "verificationCode", true, &code))
        rc = call_failed(c);
    if (rc == ERR_OK)
        rc = auth_twofa_verify(c->ctx, token, p, code, &pair);
    if (rc == ERR_OK) {
        c->result = cJSON_CreateObject();
        cJSON_AddStringToObject(c->result, "token", pair.token);
        cJSON_AddStringToObject(c->result, "refreshToken", pair.refresh_token);
        cJSON_AddNumberToObject(c->result, "expiresIn", (double)pair.expires_in_ms);
    }
    free(token);
    free(code);
    return rc;
}

/* {"providers":[{"providerType":...}],"verificationCodeLifetime":...} (seconds) */
static cJSON *render_settings(const struct twofa_settings *t)
{
    cJSON *r = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(r, "providers");
    unsigned allowed = 0;
    for (int p = 0; p < TWOFA_PROVIDERS; p++) {
        const char *name = twofa_provider_name((enum twofa_provider)p);
        char padded[sizeof t->providers + 2];
        snprintf(padded, sizeof padded, " %s ", t->providers);
        char want[32];
        snprintf(want, sizeof want, " %s ", name);
        if (strstr(padded, want) == NULL)
            continue;
        allowed |= 1u << p;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "providerType", name);
        cJSON_AddItemToArray(a, o);
    }
    (void)allowed;
    cJSON_AddNumberToObject(r, "verificationCodeLifetime", (double)t->code_lifetime_s);
    cJSON_AddNumberToObject(r, "totalAllowedTimeForVerification", (double)t->total_time_s);
    cJSON_AddNumberToObject(r, "minVerificationCodeSendPeriod", (double)t->send_period_s);
    cJSON_AddNumberToObject(r, "maxVerificationCodeSends", (double)t->max_sends);
    cJSON_AddBoolToObject(r, "enforceTwoFa", t->enforce);
    cJSON *f = cJSON_AddObjectToObject(r, "enforcedUsersFilter");
    cJSON_AddStringToObject(f, "type", t->enforce_filter);
    if (t->enforce_tenant[0] != '\0')
        cJSON_AddStringToObject(f, "tenantId", t->enforce_tenant);
    return r;
}

int op_twofa_settings_get(struct call *c)
{
    static const char *const keys[] = { NULL };
    struct twofa_settings t;
    if (args_allow(c, keys))
        return call_failed(c);
    int rc = twofa_settings_get(c->ctx, &t);
    if (rc == ERR_OK)
        c->result = render_settings(&t);
    return rc;
}

/* The providers member: an array of {"providerType"} objects or of names; bits in *out. */
static int read_allowed(struct call *c, unsigned *out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c->data, "providers");
    const cJSON *item;
    *out = 0;
    if (!cJSON_IsArray(a))
        return error_set(&c->ctx->err, ERR_BAD_REQUEST, "providers must be an array of {\"providerType\"}");
    cJSON_ArrayForEach(item, a) {
        const cJSON *name = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, "providerType") : item;
        enum twofa_provider p;
        if (!cJSON_IsString(name))
            return error_set(&c->ctx->err, ERR_BAD_REQUEST, "providers must be an array of {\"providerType\"}");
        if (twofa_provider_parse(c->ctx, name->valuestring, &p) != ERR_OK)
            return c->ctx->err.kind;
        *out |= 1u << p;
    }
    return ERR_OK;
}

/* enforcedUsersFilter: {"type", "tenantId"?}; left out, the saved one stays. */
static int read_filter(struct call *c, struct twofa_settings *t)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(c->data, "enforcedUsersFilter");
    if (f == NULL || cJSON_IsNull(f))
        return ERR_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
    const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(f, "tenantId");
    if (!cJSON_IsObject(f) || !cJSON_IsString(type) || strlen(type->valuestring) >= sizeof t->enforce_filter ||
        (tenant != NULL && !cJSON_IsNull(tenant) &&
         (!cJSON_IsString(tenant) || !uuid_parse(tenant->valuestring, NULL))))
        return error_set(&c->ctx->err, ERR_BAD_REQUEST,
                         "enforcedUsersFilter must be {\"type\", \"tenantId\"} with tenantId a UUID");
    snprintf(t->enforce_filter, sizeof t->enforce_filter, "%s", type->valuestring);
    snprintf(t->enforce_tenant, sizeof t->enforce_tenant, "%s", cJSON_IsString(tenant) ? tenant->valuestring : "");
    return ERR_OK;
}

int op_twofa_settings_save(struct call *c)
{
    static const char *const keys[] = { "providers", "verificationCodeLifetime", "totalAllowedTimeForVerification",
                                        "minVerificationCodeSendPeriod", "maxVerificationCodeSends", "enforceTwoFa",
                                        "enforcedUsersFilter", NULL };
    struct twofa_settings in, out;
    unsigned allowed = 0;
    int rc = args_allow(c, keys) ? call_failed(c) : twofa_settings_get(c->ctx, &in);
    if (rc == ERR_OK)
        rc = read_allowed(c, &allowed);
    if (rc == ERR_OK && (arg_int(c, "verificationCodeLifetime", false, &in.code_lifetime_s, NULL) ||
                         arg_int(c, "totalAllowedTimeForVerification", false, &in.total_time_s, NULL) ||
                         arg_int(c, "minVerificationCodeSendPeriod", false, &in.send_period_s, NULL) ||
                         arg_int(c, "maxVerificationCodeSends", false, &in.max_sends, NULL) ||
                         arg_bool(c, "enforceTwoFa", false, &in.enforce, NULL)))
        rc = call_failed(c);
    if (rc == ERR_OK)
        rc = read_filter(c, &in);
    if (rc == ERR_OK)
        rc = twofa_settings_save(c->ctx, allowed, &in, &out);
    if (rc == ERR_OK)
        c->result = render_settings(&out);
    return rc;
}
