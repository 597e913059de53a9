/* call.h: what an operation handler sees: the request context, the data object, the result slot,
 * and typed readers of data's members that answer 400 with a message naming the key. */
#ifndef CMAGENT_API_CALL_H
#define CMAGENT_API_CALL_H

#include "cmagent/context.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

struct op;

struct call {
    struct ctx *ctx;
    const struct op *op;    /* the operation's row of the table (its audit entity and action) */
    const cJSON *data;      /* the request's data object (an empty object when absent) */
    cJSON *result;          /* set by the handler on success; owned by the caller afterwards */
};

typedef int op_handler(struct call *call);

/* Rejects any member of data not in the NULL-terminated list: 400 "Unknown key 'x' in data". */
int args_allow(struct call *call, const char *const *keys);

/* Typed readers. A missing member leaves *out untouched and is fine unless required; JSON null
 * counts as missing. Wrong types: 400 "'key' must be a string" (number, boolean, object, ...). */
int arg_string(struct call *call, const char *key, bool required, char **out);      /* heap copy */
int arg_int(struct call *call, const char *key, bool required, int64_t *out, bool *present);
int arg_bool(struct call *call, const char *key, bool required, bool *out, bool *present);
/* An entity id: a UUID string or {"entityType":..., "id":"<uuid>"}; 400 "Invalid UUID string: x". */
int arg_id(struct call *call, const char *key, bool required, char out[UUID_STR_LEN]);
/* A JSON object member, returned as compact JSON text (NULL for null/missing). */
int arg_object_text(struct call *call, const char *key, char **out);
/* An array of ids (each as arg_id accepts), at most max. */
int arg_ids(struct call *call, const char *key, size_t max, char (**out)[UUID_STR_LEN], size_t *n);
/* pageSize, page, textSearch, sortProperty, sortOrder (ThingsBoard's defaults and messages). */
int arg_paging(struct call *call, struct page_request *p);
/* nameConflictPolicy, uniquifySeparator, uniquifyStrategy (uniquify.h) of a create; *separator is
 * the heap copy nc->separator points to (caller frees). */
#define CONFLICT_OPTIONS "nameConflictPolicy", "uniquifySeparator", "uniquifyStrategy"
struct name_conflict;
int arg_name_conflict(struct call *call, struct name_conflict *nc, char **separator);
/* How an update treats the stored record (update.h): UPDATE_CHECK_VERSION when a version was given,
 * and ifEqual: "update" (the default) saves always, "skip" (UPDATE_SKIP_EQUAL) saves nothing when
 * no field changes; 400 "ifEqual must be update or skip". */
int arg_update_how(struct call *call, bool has_version, unsigned *how);

/* Handlers that report failure return this after ctx->err is set. */
static inline int call_failed(struct call *call) { return (int)call->ctx->err.kind; }

/* JSON builders shared by handlers. */
cJSON *json_entity_id(const char *type, const char *id);  /* {"entityType","id"}; null for "" */
cJSON *json_string_or_null(const char *s);
cJSON *json_parse_text(const char *text);                  /* object from stored JSON text, or null */
cJSON *json_page(cJSON *items, const struct page_info *info); /* takes ownership of items */
/* Adds an integer that keeps every digit: cJSON prints a number with 15 significant digits when that
 * reads back close enough, which turns 9007199254740991 into 9007199254740990. */
void json_add_integer(cJSON *o, const char *key, int64_t v);

#endif
