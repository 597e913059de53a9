/* cmd_twofa.c: the second step of `cmctl login` for a user with two-factor authentication: the
 * login answered a pre-verification token, so a code (--code, CMCTL_LOGIN_CODE, or asked for on
 * the terminal; an EMAIL code is mailed first) is checked with auth.twoFa.verify, whose pair
 * becomes the session's. An MFA configuration token (enforced, nothing configured) is shown with
 * what to do, and no session is kept. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_pre_verification(const cJSON *reply)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data");
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(d, "scope");
    return cJSON_IsString(scope) && strcmp(scope->valuestring, "PRE_VERIFICATION_TOKEN") == 0;
}

/* The provider to use: the one asked for, or the login's first. */
static void pick_provider(const cJSON *reply, const char *wanted, char *out, size_t len)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data");
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "providers"), 0);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(first, "type");
    snprintf(out, len, "%s", wanted != NULL && wanted[0] ? wanted : cJSON_IsString(type) ? type->valuestring : "TOTP");
}

static int ask_code(const char *provider, char *buf, size_t len)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return -1;
    fprintf(tty, "%s verification code: ", provider);
    fflush(tty);
    int rc = fgets(buf, (int)len, tty) == NULL ? -1 : 0;
    buf[strcspn(buf, "\r\n")] = '\0';
    fclose(tty);
    return rc == 0 && buf[0] ? 0 : -1;
}

/* Calls op with the login's token and the provider (and code when not NULL). */
static cJSON *call_step(struct client *c, const char *op, const char *token, const char *provider, const char *code,
                        char **raw, int *rc)
{
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "preVerificationToken", token);
    cJSON_AddStringToObject(data, "providerType", provider);
    if (code != NULL)
        cJSON_AddStringToObject(data, "verificationCode", code);
    cJSON *reply = client_call(c, op, data, true, raw, rc);
    cJSON_Delete(data);
    return reply;
}

static bool ok_reply(const char *op, const cJSON *reply, int *rc)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
    if (reply != NULL && cJSON_IsNumber(st) && st->valueint == 200)
        return true;
    if (reply != NULL)
        *rc = print_error_reply(op, reply);
    return false;
}

int login_second_factor(struct client *c, cJSON **reply, char **raw, const char *code, const char *provider)
{
    char prov[32], typed[64] = "", token[256];
    int rc = 0;

    const cJSON *d = cJSON_GetObjectItemCaseSensitive(*reply, "data");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "token");
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(d, "scope");
    if (cJSON_IsString(scope) && strcmp(scope->valuestring, "MFA_CONFIGURATION_TOKEN") == 0) {
        fprintf(stderr, "cmctl: login: the platform requires two-factor authentication of this account; configure a\n"
                        "provider with this MFA configuration token, then log in again:\n"
                        "  cmctl --token %s twofa generate --provider TOTP\n",
                cJSON_IsString(t) ? t->valuestring : "");
        return EXIT_REPLY;
    }
    if (!is_pre_verification(*reply))
        return 0;
    snprintf(token, sizeof token, "%s", cJSON_IsString(t) ? t->valuestring : "");
    pick_provider(*reply, provider, prov, sizeof prov);
    if ((code == NULL || !code[0]) && getenv("CMCTL_LOGIN_CODE"))
        code = getenv("CMCTL_LOGIN_CODE");
    if ((code == NULL || !code[0]) && strcmp(prov, "EMAIL") == 0) {
        char *sraw = NULL;
        cJSON *sent = call_step(c, "auth.twoFa.sendCode", token, prov, NULL, &sraw, &rc);
        bool ok = ok_reply("auth.twoFa.sendCode", sent, &rc);
        cJSON_Delete(sent);
        free(sraw);
        if (!ok)
            return rc ? rc : EXIT_REPLY;
    }
    if (code == NULL || !code[0]) {
        if (ask_code(prov, typed, sizeof typed) != 0) {
            fprintf(stderr, "cmctl: login: a second factor is required (--code, CMCTL_LOGIN_CODE)\n");
            return EXIT_USAGE;
        }
        code = typed;
    }
    cJSON_Delete(*reply);
    free(*raw);
    *raw = NULL;
    *reply = call_step(c, "auth.twoFa.verify", token, prov, code, raw, &rc);
    if (!ok_reply("auth.twoFa.verify", *reply, &rc))
        return rc ? rc : EXIT_REPLY;
    return 0;
}
