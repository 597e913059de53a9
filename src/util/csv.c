/* csv.c: the RFC 4180 reader of csv.h, one pass over the text with a growing field buffer. */
#include "cmagent/csv.h"

#include "cmagent/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *s;
    size_t len, pos, line;
    char *field;                  /* the field being read */
    size_t flen, fcap;
    char **fields;                /* the record being read */
    size_t n, cap;
    char *err;
    size_t errlen;
};

static void field_put(struct reader *r, char c)
{
    if (r->flen + 1 >= r->fcap) {
        r->fcap = r->fcap ? r->fcap * 2 : 64;
        r->field = xrealloc(r->field, r->fcap);
    }
    r->field[r->flen++] = c;
}

static void field_end(struct reader *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->fields = xrealloc(r->fields, r->cap * sizeof *r->fields);
    }
    char *f = xmalloc(r->flen + 1);
    if (r->flen > 0)
        memcpy(f, r->field, r->flen);
    f[r->flen] = '\0';
    r->fields[r->n++] = f;
    r->flen = 0;
}

static void record_clear(struct reader *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->fields[i]);
    r->n = 0;
}

static bool malformed(struct reader *r, const char *what)
{
    snprintf(r->err, r->errlen, "Malformed CSV on line %zu: %s", r->line, what);
    return false;
}

/* At a line break (CRLF or LF) at r->pos: its length, else 0. */
static size_t line_break(const struct reader *r)
{
    if (r->s[r->pos] == '\n')
        return 1;
    if (r->s[r->pos] == '\r' && r->pos + 1 < r->len && r->s[r->pos + 1] == '\n')
        return 2;
    return 0;
}

/* A quoted field, from just after its opening quote to just after its closing one. */
static bool read_quoted(struct reader *r)
{
    size_t opened = r->line;
    for (;;) {
        if (r->pos >= r->len) {
            r->line = opened;
            return malformed(r, "a quoted field is not closed (a '\"' is missing)");
        }
        char c = r->s[r->pos++];
        if (c == '\0')
            return malformed(r, "a NUL byte");
        if (c == '"') {
            if (r->pos < r->len && r->s[r->pos] == '"') {
                field_put(r, '"');
                r->pos++;
                continue;
            }
            return true;
        }
        if (c == '\n')
            r->line++;
        field_put(r, c);
    }
}

/* One field up to (not including) the comma, the line break or the end after it. */
static bool read_field(struct reader *r)
{
    if (r->pos < r->len && r->s[r->pos] == '"') {
        r->pos++;
        if (!read_quoted(r))
            return false;
        if (r->pos < r->len && r->s[r->pos] != ',' && line_break(r) == 0)
            return malformed(r, "text after the closing '\"' of a quoted field (a '\"' inside a field must be "
                                "doubled and the field quoted)");
        return true;
    }
    while (r->pos < r->len && r->s[r->pos] != ',' && line_break(r) == 0) {
        char c = r->s[r->pos++];
        if (c == '"')
            return malformed(r, "a '\"' inside an unquoted field (quote the field and double the '\"')");
        if (c == '\0')
            return malformed(r, "a NUL byte");
        field_put(r, c);
    }
    return true;
}

/* Reads one record at r->pos; *stop when fn asked to stop. */
static bool read_record(struct reader *r, size_t index, csv_record_fn *fn, void *arg, bool *stop)
{
    size_t line = r->line;
    for (;;) {
        if (!read_field(r))
            return false;
        field_end(r);
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        break;
    }
    size_t lb = r->pos < r->len ? line_break(r) : 0;
    r->pos += lb;
    if (lb > 0)
        r->line++;
    *stop = !fn(arg, index, line, r->fields, r->n);
    record_clear(r);
    return true;
}

enum csv_result csv_read(const char *text, size_t len, csv_record_fn *fn, void *arg, char *err, size_t errlen)
{
    struct reader r = { .s = text, .len = len, .line = 1, .err = err, .errlen = errlen };
    enum csv_result result = CSV_OK;
    size_t index = 0;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        r.pos = 3;
    while (r.pos < r.len) {
        size_t lb = line_break(&r);
        if (lb > 0) { /* an empty line */
            r.pos += lb;
            r.line++;
            continue;
        }
        bool stop = false;
        if (!read_record(&r, index++, fn, arg, &stop)) {
            result = CSV_MALFORMED;
            break;
        }
        if (stop) {
            result = CSV_STOPPED;
            break;
        }
    }
    record_clear(&r);
    free(r.fields);
    free(r.field);
    return result;
}
