/* import_rows.c: the rows of import.run: its CSV text (RFC 4180, csv.h) read with its header
 * line naming each column, or its JSON rows, turned into one object per row in the members of
 * the single create the row runs. Column names match the kind's (import.h) ignoring case; an
 * empty cell is a member left out, as a create without it; an additionalInfo cell holds JSON. */
#include "import.h"

#include "cmagent/alloc.h"
#include "cmagent/csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const customer_columns[] = { "title", "email", "phone", "country", "state", "city", "address",
                                                "address2", "zip", "externalId", "additionalInfo", NULL };
static const char *const user_columns[] = { "email", "firstName", "lastName", "phone", "authority",
                                            "customerId", "customerTitle", "additionalInfo", NULL };
static const char *const device_columns[] = { "name", "type", "label", "customerId", "customerTitle",
                                              "additionalInfo", NULL };
static const char *const edge_columns[] = { "name", "type", "label", "customerId", "customerTitle", "routingKey",
                                            "secret", "additionalInfo", NULL };

static const struct import_kind kinds[] = {
    { "CUSTOMER", "customer.create", customer_columns, false, false, true },
    { "USER", "user.create", user_columns, true, true, false },
    { "DEVICE", "device.create", device_columns, true, false, true },
    { "ASSET", "asset.create", device_columns, true, false, true },
    { "EDGE", "edge.create", edge_columns, true, false, true },
};

const struct import_kind *import_kind_find(const char *type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].type, type) == 0)
            return &kinds[i];
    return NULL;
}

/* The kind's column names, comma-separated, for messages. */
static void column_list(const struct import_kind *k, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *const *col = k->columns; *col != NULL && used < len; col++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", *col);
}

struct csv_state {
    struct call *c;
    const struct import_kind *k;
    const char **header;          /* the canonical name of each column */
    size_t ncols;
    cJSON *rows;
    size_t *lines, nlines, cap;
    size_t max_rows;
    bool failed;
};

/* Stops the reading with the error already set in ctx->err. */
static bool csv_fail(struct csv_state *st)
{
    st->failed = true;
    return false;
}

static bool read_header(struct csv_state *st, char **fields, size_t n)
{
    char known[512];
    st->header = xcalloc(n, sizeof *st->header);
    st->ncols = n;
    for (size_t i = 0; i < n; i++) {
        const char *name = fields[i];
        while (*name == ' ')
            name++;
        for (const char *const *col = st->k->columns; *col != NULL; col++) {
            size_t l = strlen(*col);
            if (strncasecmp(name, *col, l) == 0 && name[l + strspn(name + l, " ")] == '\0')
                st->header[i] = *col;
        }
        if (st->header[i] == NULL) {
            column_list(st->k, known, sizeof known);
            error_set(&st->c->ctx->err, ERR_BAD_REQUEST,
                      "Unknown CSV column '%.64s' (column %zu of the header line); the columns of a %s import "
                      "are: %s", fields[i], i + 1, st->k->type, known);
            return csv_fail(st);
        }
        for (size_t j = 0; j < i; j++)
            if (st->header[j] == st->header[i]) {
                error_set(&st->c->ctx->err, ERR_BAD_REQUEST,
                          "CSV column '%s' appears twice in the header line (columns %zu and %zu)", st->header[i],
                          j + 1, i + 1);
                return csv_fail(st);
            }
    }
    return true;
}

/* One data record as the row object: non-empty cells only; additionalInfo parsed when it is JSON. */
static cJSON *record_object(const struct csv_state *st, char **fields)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < st->ncols; i++) {
        if (fields[i][0] == '\0')
            continue;
        cJSON *v = NULL;
        if (strcmp(st->header[i], "additionalInfo") == 0)
            v = cJSON_Parse(fields[i]);
        if (v == NULL)
            v = cJSON_CreateString(fields[i]);
        cJSON_AddItemToObject(o, st->header[i], v);
    }
    return o;
}

static bool on_record(void *arg, size_t index, size_t line, char **fields, size_t n)
{
    struct csv_state *st = arg;
    if (index == 0)
        return read_header(st, fields, n);
    if (n != st->ncols) {
        error_set(&st->c->ctx->err, ERR_BAD_REQUEST,
                  "Malformed CSV on line %zu (row %zu): %zu fields where the header line has %zu", line, index, n,
                  st->ncols);
        return csv_fail(st);
    }
    if (index > st->max_rows) {
        error_set(&st->c->ctx->err, ERR_TOO_LARGE, "The import has more than %zu rows, the limit (import_max_rows)",
                  st->max_rows);
        return csv_fail(st);
    }
    if (st->nlines == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 256;
        st->lines = xrealloc(st->lines, st->cap * sizeof *st->lines);
    }
    st->lines[st->nlines++] = line;
    cJSON_AddItemToArray(st->rows, record_object(st, fields));
    return true;
}

static cJSON *read_csv(struct call *c, const struct import_kind *k, const cJSON *text, size_t **lines)
{
    char err[ERROR_MESSAGE_MAX];
    struct csv_state st = { .c = c, .k = k, .rows = cJSON_CreateArray(),
                            .max_rows = (size_t)api_current_settings()->import_max_rows };

    enum csv_result rc = csv_read(text->valuestring, strlen(text->valuestring), on_record, &st, err, sizeof err);
    bool empty = st.header == NULL;
    free(st.header);
    if (rc == CSV_MALFORMED)
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "%s", err);
    else if (rc == CSV_OK && empty)
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "The CSV text is empty: it needs a header line naming the columns");
    if (rc != CSV_OK || empty) {
        cJSON_Delete(st.rows);
        free(st.lines);
        return NULL;
    }
    *lines = st.lines;
    return st.rows;
}

static cJSON *read_json(struct call *c, const cJSON *rows)
{
    size_t n = (size_t)cJSON_GetArraySize(rows);
    if (n > (size_t)api_current_settings()->import_max_rows) {
        error_set(&c->ctx->err, ERR_TOO_LARGE, "The import has more than %lld rows, the limit (import_max_rows)",
                  (long long)api_current_settings()->import_max_rows);
        return NULL;
    }
    return cJSON_Duplicate(rows, true);
}

cJSON *import_rows_read(struct call *c, const struct import_kind *k, size_t **lines)
{
    const cJSON *csv = cJSON_GetObjectItemCaseSensitive(c->data, "csv");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(c->data, "rows");
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(c->data, "format");
    bool has_csv = csv != NULL && !cJSON_IsNull(csv), has_rows = rows != NULL && !cJSON_IsNull(rows);
    cJSON *out;

    *lines = NULL;
    if (format != NULL && !cJSON_IsNull(format) &&
        (!cJSON_IsString(format) || (strcmp(format->valuestring, "csv") != 0 && strcmp(format->valuestring, "json") != 0))) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'format' must be \"csv\" or \"json\"");
        return NULL;
    }
    bool want_csv = cJSON_IsString(format) ? strcmp(format->valuestring, "csv") == 0 : has_csv;
    if (has_csv && has_rows) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "Give either 'csv' (format csv) or 'rows' (format json), not both");
        return NULL;
    }
    if (want_csv && !has_csv) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'csv' is required: the CSV text, its first line naming the columns");
        return NULL;
    }
    if (!want_csv && !has_rows) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST,
                  "'rows' (an array of objects, format json) or 'csv' (the CSV text, format csv) is required");
        return NULL;
    }
    if (want_csv && !cJSON_IsString(csv)) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'csv' must be a string: the CSV text, its first line naming the columns");
        return NULL;
    }
    if (!want_csv && !cJSON_IsArray(rows)) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "'rows' must be an array of objects, one per row");
        return NULL;
    }
    out = want_csv ? read_csv(c, k, csv, lines) : read_json(c, rows);
    if (out != NULL && cJSON_GetArraySize(out) == 0) {
        error_set(&c->ctx->err, ERR_BAD_REQUEST, "The import has no rows%s", want_csv ? " (only a header line)" : "");
        cJSON_Delete(out);
        free(*lines);
        *lines = NULL;
        return NULL;
    }
    return out;
}
