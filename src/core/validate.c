/* validate.c: the field rules of ThingsBoard's ConstraintValidator and DataValidator. */
#include "cmagent/validate.h"

#include "cmagent/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add(struct violations *v, const char *fmt, const char *label, size_t max)
{
    char buf[512];
    if (v->n >= VALIDATE_MAX_VIOLATIONS)
        return;
    snprintf(buf, sizeof buf, fmt, label, max);
    v->items[v->n++] = xstrdup_or_null(buf);
}

size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

void check_length(struct violations *v, const char *label, const char *value, size_t max)
{
    if (value != NULL && utf8_length(value) > max)
        add(v, "%s length must be equal or less than %zu", label, max);
}

/* A tag opener: '<' then a letter, '/', '!' or '?' (what an HTML sanitizer would strip). */
static bool has_markup(const char *s)
{
    for (const char *p = strchr(s, '<'); p != NULL; p = strchr(p + 1, '<')) {
        unsigned char c = (unsigned char)p[1];
        if (isalpha(c) || c == '/' || c == '!' || c == '?')
            return true;
    }
    return false;
}

static bool has_template(const char *s)
{
    const char *open = strstr(s, "{{");
    return open != NULL && strstr(open + 2, "}}") != NULL;
}

void check_no_xss(struct violations *v, const char *label, const char *value)
{
    if (value != NULL && (has_markup(value) || has_template(value)))
        add(v, "%s is malformed", label, 0);
}

void check_field(struct violations *v, const char *label, const char *value)
{
    check_length(v, label, value, FIELD_MAX_LENGTH);
    check_no_xss(v, label, value);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_bytes(struct violations *v, const char *label, const char *json, int64_t max, const char *setting)
{
    char buf[512];
    size_t n = json != NULL ? strlen(json) : 0;

    if (max <= 0 || n <= (size_t)max || v->n >= VALIDATE_MAX_VIOLATIONS)
        return;
    snprintf(buf, sizeof buf, "%s of %zu bytes exceeds %s of %lld bytes", label, n, setting, (long long)max);
    v->items[v->n++] = xstrdup_or_null(buf);
}

void check_free_json(struct violations *v, const struct ctx *ctx, const char *label, const char *json)
{
    check_no_xss(v, label, json);
    if (ctx != NULL && ctx->settings != NULL)
        check_bytes(v, label, json, ctx->settings->max_json_field_size, "max_json_field_size");
}

void check_free_text(struct violations *v, const struct ctx *ctx, const char *label, const char *text)
{
    check_no_xss(v, label, text);
    if (ctx != NULL && ctx->settings != NULL && ctx->settings->max_text_field_length > 0)
        check_length(v, label, text, (size_t)ctx->settings->max_text_field_length);
}

void check_configuration_size(struct violations *v, const struct ctx *ctx, const char *json)
{
    if (ctx != NULL && ctx->settings != NULL)
        check_bytes(v, "configuration", json, ctx->settings->max_dashboard_configuration_size,
                    "max_dashboard_configuration_size");
}

void check_contact_fields(struct violations *v, const struct ctx *ctx, const char *title, const struct contact *k,
                          const char *additional_info)
{
    check_field(v, "title", title);
    check_field(v, "country", k->country);
    check_field(v, "state", k->state);
    check_field(v, "city", k->city);
    check_free_text(v, ctx, "address", k->address);
    check_free_text(v, ctx, "address2", k->address2);
    check_field(v, "zip or postal code", k->zip);
    check_field(v, "phone", k->phone);
    check_field(v, "email", k->email);
    check_free_json(v, ctx, "additionalInfo", additional_info);
}

int violations_report(struct ctx *ctx, struct violations *v)
{
    char msg[ERROR_MESSAGE_MAX];
    size_t used;

    if (v->n == 0)
        return ERR_OK;
    qsort(v->items, v->n, sizeof v->items[0], compare_strings);
    used = (size_t)snprintf(msg, sizeof msg, "Validation error: ");
    for (size_t i = 0; i < v->n; i++) {
        if (used < sizeof msg)
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", i ? ", " : "", v->items[i]);
        free(v->items[i]);
        v->items[i] = NULL;
    }
    v->n = 0;
    return error_set(&ctx->err, ERR_BAD_REQUEST, "%s", msg);
}

bool is_blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s != '\0'; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* ^[A-Z0-9_!#$%&'*+/=?`{|}~^.-]+@[A-Z0-9.-]+\.[A-Z]{2,}$, case-insensitive. */
bool email_is_valid(const char *s)
{
    static const char local_extra[] = "_!#$%&'*+/=?`{|}~^.-";
    const char *at = s == NULL ? NULL : strchr(s, '@');
    const char *p, *last_dot = NULL;

    if (at == NULL || at == s)
        return false;
    for (p = s; p < at; p++)
        if (!isalnum((unsigned char)*p) || ((unsigned char)*p & 0x80))
            if (strchr(local_extra, *p) == NULL)
                return false;
    for (p = at + 1; *p != '\0'; p++) {
        if (*p == '.')
            last_dot = p;
        else if (!(isalnum((unsigned char)*p) || *p == '-'))
            return false;
    }
    if (last_dot == NULL || last_dot == at + 1 || strlen(last_dot + 1) < 2)
        return false;
    for (p = last_dot + 1; *p != '\0'; p++)
        if (!isalpha((unsigned char)*p))
            return false;
    return true;
}

int require_string(struct ctx *ctx, const char *what, const char *value)
{
    if (is_blank(value))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "%s should be specified!", what);
    return ERR_OK;
}
