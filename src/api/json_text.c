/* json_text.c: a scan of a JSON text's strings ahead of cJSON (json_text.h). It follows only what
 * it needs to name a string: objects and arrays, which string is a key, and the keys and indexes on
 * the way to it; numbers and literals are skipped, and malformed text is left to cJSON. Also the
 * 400 message of a fault, a U+0000 naming its field as ThingsBoard does. */
#include "json_text.h"

#include "cmagent/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 1000   /* cJSON's own nesting limit: deeper text is refused by it anyway */
#define NAMED_DEPTH 24   /* levels whose key or index a fault names */
#define KEY_SHOWN 64     /* bytes of a key shown in a fault */

struct level {
    bool object;
    const char *key;              /* the level's current key (raw JSON text) for objects */
    size_t key_len;
    size_t index;                 /* the current element for arrays */
};

struct scan {
    const unsigned char *p, *end;
    size_t depth;                 /* levels open */
    struct level named[NAMED_DEPTH];
    unsigned char object_bits[MAX_DEPTH / 8 + 1]; /* whether each open level is an object */
    bool expect_key;              /* the innermost level is an object awaiting a key */
    struct json_text_fault *fault;
};

static bool level_is_object(const struct scan *s, size_t d) { return s->object_bits[d / 8] >> (d % 8) & 1; }

/* Writes the names of levels from..upto-1 to out: data.commands[3].data */
static void path_from(const struct scan *s, size_t from, size_t upto, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t d = from; d < upto && o + 1 < cap; d++) {
        if (d >= NAMED_DEPTH) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        const struct level *l = &s->named[d];
        if (l->object) {
            size_t shown = l->key_len < KEY_SHOWN ? l->key_len : KEY_SHOWN;
            while (shown < l->key_len && shown > 0 && (l->key[shown] & 0xC0) == 0x80)
                shown--; /* keep a character whole: keys are checked before they are named */
            o += (size_t)snprintf(out + o, cap - o, "%s%.*s%s", o > 0 ? "." : "", (int)shown, l->key,
                                  shown < l->key_len ? "..." : "");
        } else {
            o += (size_t)snprintf(out + o, cap - o, "[%zu]", l->index);
        }
    }
    if (o >= cap)
        out[cap - 1] = '\0';
}

static void path_of(const struct scan *s, size_t upto, char *out, size_t cap) { path_from(s, 0, upto, out, cap); }

/* A string value inside the request's data: the field is its path below data ("title",
 * "additionalInfo.description", "commands[1].data.title"). */
static void name_field(const struct scan *s, struct json_text_fault *f)
{
    const struct level *top = &s->named[0];
    if (s->depth < 2 || !top->object || top->key_len != 4 || memcmp(top->key, "data", 4) != 0)
        return;
    path_from(s, 1, s->depth, f->field, sizeof f->field);
    f->data_member = s->depth == 2 && s->named[1].object;
}

static bool fail(struct scan *s, bool is_key, enum json_text_fault_kind kind, const char *what)
{
    char path[sizeof s->fault->where - 32];
    struct json_text_fault *f = s->fault;

    f->kind = kind;
    f->top_level = s->depth == 1;
    snprintf(f->what, sizeof f->what, "%s", what);
    if (is_key) {
        path_of(s, s->depth - 1, path, sizeof path);
        if (path[0] == '\0')
            snprintf(f->where, sizeof f->where, "a key of the request");
        else
            snprintf(f->where, sizeof f->where, "a key of '%s'", path);
    } else {
        path_of(s, s->depth, path, sizeof path);
        snprintf(f->where, sizeof f->where, "'%s'", path[0] != '\0' ? path : "(the payload)");
        name_field(s, f);
    }
    return false;
}

static int hex4(const unsigned char *p, const unsigned char *end)
{
    int v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A \u escape at *pp (pointing at its backslash): advances past it (and past the second half of a
 * surrogate pair). */
static bool check_escape_u(struct scan *s, const unsigned char **pp, bool is_key)
{
    const unsigned char *p = *pp + 2;
    char what[80];
    int u = hex4(p, s->end);

    if (u < 0)
        return fail(s, is_key, JSON_TEXT_ESCAPE, "a \\u escape without four hex digits");
    p += 4;
    if (u == 0)
        return fail(s, is_key, JSON_TEXT_NUL, "U+0000");
    if (u >= 0xD800 && u <= 0xDBFF) {
        int low = s->end - p >= 2 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2, s->end) : -1;
        if (low < 0xDC00 || low > 0xDFFF) {
            snprintf(what, sizeof what, "a lone surrogate escape \\u%04X", (unsigned)u);
            return fail(s, is_key, JSON_TEXT_UTF8, what);
        }
        p += 6;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
        snprintf(what, sizeof what, "a lone surrogate escape \\u%04X", (unsigned)u);
        return fail(s, is_key, JSON_TEXT_UTF8, what);
    }
    *pp = p;
    return true;
}

/* The string starting after the quote at *pp; advances past its closing quote (or to the end). */
static bool check_string(struct scan *s, const unsigned char **pp, bool is_key)
{
    const unsigned char *p = *pp, *end = s->end;
    enum utf8_problem why;
    uint32_t cp;

    while (p < end && *p != '"') {
        if (*p == '\\') {
            if (end - p >= 2 && p[1] == 'u') {
                if (!check_escape_u(s, &p, is_key))
                    return false;
                continue;
            }
            p += end - p >= 2 ? 2 : 1; /* any other escape: cJSON judges it */
        } else if (*p == 0) {
            return fail(s, is_key, JSON_TEXT_NUL, "U+0000");
        } else if (*p < 0x80) {
            p++;
        } else {
            size_t n = utf8_decode(p, (size_t)(end - p), &cp, &why);
            if (n == 0)
                return fail(s, is_key, JSON_TEXT_UTF8, utf8_problem_text(why));
            p += n;
        }
    }
    *pp = p < end ? p + 1 : p;
    return true;
}

static void open_level(struct scan *s, bool object)
{
    if (s->depth < NAMED_DEPTH) {
        struct level *l = &s->named[s->depth];
        memset(l, 0, sizeof *l);
        l->object = object;
    }
    if (object)
        s->object_bits[s->depth / 8] |= (unsigned char)(1u << (s->depth % 8));
    else
        s->object_bits[s->depth / 8] &= (unsigned char)~(1u << (s->depth % 8));
    s->depth++;
    s->expect_key = object;
}

bool json_text_check(const char *text, size_t len, struct json_text_fault *fault)
{
    struct scan s;
    const unsigned char *p = (const unsigned char *)text;

    memset(&s, 0, sizeof s);
    memset(fault, 0, sizeof *fault);
    s.p = p;
    s.end = p + len;
    s.fault = fault;
    while (p < s.end) {
        unsigned char c = *p;
        if (c == '"') {
            bool is_key = s.depth > 0 && level_is_object(&s, s.depth - 1) && s.expect_key;
            const unsigned char *start = ++p;
            if (!check_string(&s, &p, is_key))
                return false;
            if (is_key && s.depth <= NAMED_DEPTH) {
                struct level *l = &s.named[s.depth - 1];
                size_t n = (size_t)(p - start);
                l->key = (const char *)start;
                l->key_len = n > 0 && p[-1] == '"' ? n - 1 : n;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (s.depth >= MAX_DEPTH)
                return true; /* too deep for cJSON: it refuses the text */
            open_level(&s, c == '{');
        } else if ((c == '}' || c == ']') && s.depth > 0) {
            s.depth--;
            s.expect_key = false;
        } else if (c == ':') {
            s.expect_key = false;
        } else if (c == ',' && s.depth > 0) {
            if (level_is_object(&s, s.depth - 1))
                s.expect_key = true;
            else if (s.depth <= NAMED_DEPTH)
                s.named[s.depth - 1].index++;
        }
        p++;
    }
    return true;
}

void json_text_fault_message(const struct json_text_fault *f, char *out, size_t cap)
{
    switch (f->kind) {
    case JSON_TEXT_NUL:
        snprintf(out, cap, "Request strings should not contain 0x00 symbol!");
        break;
    case JSON_TEXT_ESCAPE:
        snprintf(out, cap, "Malformed JSON: %s in %s", f->what, f->where);
        break;
    default:
        snprintf(out, cap, "%s%s is not valid UTF-8: %s", f->where[0] == 'a' ? "A" : "",
                 f->where[0] == 'a' ? f->where + 1 : f->where, f->what);
        break;
    }
}

/* ThingsBoard's validateString(prefix, name): the name field of each entity a write saves. */
static const struct {
    const char *entity, *field, *label;
} name_fields[] = {
    { "customer", "title", "Customer title" }, { "tenant", "title", "Tenant title" },
    { "device", "name", "Device name" },       { "asset", "name", "Asset name" },
    { "edge", "name", "Edge name" },           { "dashboard", "title", "Dashboard title" },
};

static const char *name_label(const char *op, const char *field)
{
    const char *dot = op != NULL ? strchr(op, '.') : NULL;
    if (dot == NULL || (strcmp(dot, ".create") != 0 && strcmp(dot, ".update") != 0 && strcmp(dot, ".patch") != 0))
        return NULL;
    size_t n = (size_t)(dot - op);
    for (size_t i = 0; i < sizeof name_fields / sizeof name_fields[0]; i++)
        if (strlen(name_fields[i].entity) == n && strncmp(op, name_fields[i].entity, n) == 0 &&
            strcmp(field, name_fields[i].field) == 0)
            return name_fields[i].label;
    return NULL;
}

void json_text_fault_message_for(const struct json_text_fault *f, const char *op, char *out, size_t cap)
{
    if (f->kind != JSON_TEXT_NUL || f->field[0] == '\0') {
        json_text_fault_message(f, out, cap);
        return;
    }
    const char *label = f->data_member ? name_label(op, f->field) : NULL;
    if (label != NULL)
        snprintf(out, cap, "%s should not contain 0x00 symbol!", label);
    else
        snprintf(out, cap, "Validation error: %s should not contain 0x00 symbol", f->field);
}
