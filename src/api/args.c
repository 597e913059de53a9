/* args.c: typed readers of a request's data members. Every wrong input gets a 400 naming the key. */
#include "call.h"

#include "cmagent/model.h"
#include "cmagent/uniquify.h"
#include "cmagent/update.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_SAFE_INTEGER 9007199254740991.0 /* 2^53 - 1 */

static int bad(struct call *call, const char *fmt, const char *key)
{
    return error_set(&call->ctx->err, ERR_BAD_REQUEST, fmt, key);
}

int args_allow(struct call *call, const char *const *keys)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, call->data) {
        bool known = false;
        for (const char *const *k = keys; *k != NULL && !known; k++)
            known = strcmp(*k, item->string) == 0;
        if (!known)
            return bad(call, "Unknown key '%.64s' in data", item->string);
    }
    return ERR_OK;
}

static const cJSON *member(struct call *call, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(call->data, key);
    return (v == NULL || cJSON_IsNull(v)) ? NULL : v;
}

static int missing(struct call *call, const char *key, bool required)
{
    return required ? bad(call, "'%s' is required", key) : ERR_OK;
}

int arg_string(struct call *call, const char *key, bool required, char **out)
{
    const cJSON *v = member(call, key);
    if (v == NULL)
        return missing(call, key, required);
    if (!cJSON_IsString(v))
        return bad(call, "'%s' must be a string", key);
    free(*out);
    *out = xstrdup_or_null(v->valuestring);
    return ERR_OK;
}

int arg_int(struct call *call, const char *key, bool required, int64_t *out, bool *present)
{
    const cJSON *v = member(call, key);
    if (present != NULL)
        *present = false;
    if (v == NULL)
        return missing(call, key, required);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return bad(call, "'%s' must be an integer", key);
    /* A double holds every integer up to 2^53 - 1 exactly; beyond, "9007199254740993" would be read
     * as another number, and far beyond the conversion to int64_t is undefined. */
    if (v->valuedouble < -JSON_MAX_SAFE_INTEGER || v->valuedouble > JSON_MAX_SAFE_INTEGER)
        return bad(call, "'%s' must be an integer from -9007199254740991 to 9007199254740991", key);
    *out = (int64_t)v->valuedouble;
    if (present != NULL)
        *present = true;
    return ERR_OK;
}

int arg_bool(struct call *call, const char *key, bool required, bool *out, bool *present)
{
    const cJSON *v = member(call, key);
    if (present != NULL)
        *present = false;
    if (v == NULL)
        return missing(call, key, required);
    if (!cJSON_IsBool(v))
        return bad(call, "'%s' must be a boolean", key);
    *out = cJSON_IsTrue(v);
    if (present != NULL)
        *present = true;
    return ERR_OK;
}

static int id_from(struct call *call, const char *key, const cJSON *v, char out[UUID_STR_LEN])
{
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (!cJSON_IsString(v))
        return bad(call, "'%s' must be a UUID string or {\"entityType\":...,\"id\":\"<uuid>\"}", key);
    if (!uuid_parse(v->valuestring, out))
        return error_set(&call->ctx->err, ERR_BAD_REQUEST, "Invalid UUID string: %.64s", v->valuestring);
    return ERR_OK;
}

int arg_id(struct call *call, const char *key, bool required, char out[UUID_STR_LEN])
{
    const cJSON *v = member(call, key);
    if (v == NULL)
        return missing(call, key, required);
    return id_from(call, key, v, out);
}

int arg_object_text(struct call *call, const char *key, char **out)
{
    const cJSON *v = member(call, key);
    free(*out);
    *out = NULL;
    if (v == NULL)
        return ERR_OK;
    if (!cJSON_IsObject(v))
        return bad(call, "'%s' must be a JSON object", key);
    *out = cJSON_PrintUnformatted(v);
    return ERR_OK;
}

int arg_ids(struct call *call, const char *key, size_t max, char (**out)[UUID_STR_LEN], size_t *n)
{
    const cJSON *v = member(call, key), *item;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    if (v == NULL)
        return missing(call, key, true);
    if (!cJSON_IsArray(v))
        return bad(call, "'%s' must be an array of ids", key);
    size_t total = (size_t)cJSON_GetArraySize(v);
    if (total > max)
        return error_set(&call->ctx->err, ERR_BAD_REQUEST, "'%s' has %zu ids, more than the limit of %zu",
                         key, total, max);
    char(*ids)[UUID_STR_LEN] = xcalloc(total ? total : 1, UUID_STR_LEN);
    cJSON_ArrayForEach(item, v) {
        if (id_from(call, key, item, ids[count]) != ERR_OK) {
            free(ids);
            return call_failed(call);
        }
        count++;
    }
    *out = ids;
    *n = count;
    return ERR_OK;
}

int arg_paging(struct call *call, struct page_request *p)
{
    char *order = NULL;
    bool present;

    memset(p, 0, sizeof *p);
    p->page_size = 10;
    if (arg_int(call, "pageSize", true, &p->page_size, &present) != ERR_OK ||
        arg_int(call, "page", false, &p->page, &present) != ERR_OK ||
        arg_string(call, "textSearch", false, &p->text_search) != ERR_OK ||
        arg_string(call, "sortProperty", false, &p->sort_property) != ERR_OK ||
        arg_string(call, "sortOrder", false, &order) != ERR_OK) {
        page_request_release(p);
        return call_failed(call);
    }
    if (p->text_search != NULL && p->text_search[0] == '\0') {
        free(p->text_search);
        p->text_search = NULL;
    }
    if (p->sort_property != NULL && p->sort_property[0] == '\0') {
        free(p->sort_property);
        p->sort_property = NULL;
    }
    if (order != NULL) {
        if (strcasecmp(order, "DESC") == 0) {
            p->descending = true;
        } else if (strcasecmp(order, "ASC") != 0) {
            error_set(&call->ctx->err, ERR_BAD_REQUEST,
                      "Unsupported sort order '%.64s'! Only 'ASC' or 'DESC' types are allowed.", order);
            free(order);
            page_request_release(p);
            return call_failed(call);
        }
        free(order);
    }
    return ERR_OK;
}

cJSON *json_entity_id(const char *type, const char *id)
{
    if (id == NULL || id[0] == '\0')
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "entityType", type);
    cJSON_AddStringToObject(o, "id", id);
    return o;
}

cJSON *json_string_or_null(const char *s)
{
    return s == NULL ? cJSON_CreateNull() : cJSON_CreateString(s);
}

cJSON *json_parse_text(const char *text)
{
    cJSON *v = text == NULL ? NULL : cJSON_Parse(text);
    return v == NULL ? cJSON_CreateNull() : v;
}

cJSON *json_page(cJSON *items, const struct page_info *info)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "data", items);
    cJSON_AddNumberToObject(o, "totalPages", (double)info->total_pages);
    cJSON_AddNumberToObject(o, "totalElements", (double)info->total_elements);
    cJSON_AddBoolToObject(o, "hasNext", info->has_next);
    return o;
}

void json_add_integer(cJSON *o, const char *key, int64_t v)
{
    char text[24];
    if (v > -1000000000000000LL && v < 1000000000000000LL) { /* 15 digits: cJSON prints them exactly */
        cJSON_AddNumberToObject(o, key, (double)v);
        return;
    }
    snprintf(text, sizeof text, "%lld", (long long)v);
    cJSON_AddRawToObject(o, key, text);
}

int arg_name_conflict(struct call *c, struct name_conflict *nc, char **separator)
{
    char *policy = NULL, *strategy = NULL;
    int rc = ERR_OK;

    nc->policy = NAME_CONFLICT_FAIL;
    nc->strategy = UNIQUIFY_RANDOM;
    nc->separator = "_";
    if (arg_string(c, "nameConflictPolicy", false, &policy) || arg_string(c, "uniquifySeparator", false, separator) ||
        arg_string(c, "uniquifyStrategy", false, &strategy)) {
        rc = call_failed(c);
        goto out;
    }
    if (policy != NULL && strcmp(policy, "UNIQUIFY") == 0)
        nc->policy = NAME_CONFLICT_UNIQUIFY;
    else if (policy != NULL && strcmp(policy, "FAIL") != 0)
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "nameConflictPolicy must be FAIL or UNIQUIFY");
    if (strategy != NULL && strcmp(strategy, "INCREMENTAL") == 0)
        nc->strategy = UNIQUIFY_INCREMENTAL;
    else if (strategy != NULL && strcmp(strategy, "RANDOM") != 0)
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "uniquifyStrategy must be RANDOM or INCREMENTAL");
    if (*separator != NULL) {
        if (strlen(*separator) > 16)
            rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "uniquifySeparator must be at most 16 characters");
        nc->separator = *separator;
    }
out:
    free(policy);
    free(strategy);
    return rc;
}

int arg_update_how(struct call *c, bool has_version, unsigned *how)
{
    char *mode = NULL;
    int rc = ERR_OK;

    *how = has_version ? UPDATE_CHECK_VERSION : 0;
    if (arg_string(c, "ifEqual", false, &mode))
        return call_failed(c);
    if (mode != NULL && strcmp(mode, "skip") == 0)
        *how |= UPDATE_SKIP_EQUAL;
    else if (mode != NULL && strcmp(mode, "update") != 0)
        rc = error_set(&c->ctx->err, ERR_BAD_REQUEST, "ifEqual must be update or skip");
    free(mode);
    return rc;
}
