/* json_text.h: every string of a request's JSON text, checked before cJSON parses it. cJSON copies
 * a string's bytes as they come (invalid UTF-8, overlong forms and encoded surrogates pass), turns
 * a \u escape whose digits are not hex into U+0000, and a C string ends at U+0000, so a key or a
 * value would silently lose its tail. Here every string, keys included, must be UTF-8 (utf8.h)
 * without U+0000, and every \u escape four hex digits that are neither U+0000 nor half of a
 * surrogate pair left alone. The fault names where it is ('data.title', a key of 'data'). */
#ifndef CMAGENT_API_JSON_TEXT_H
#define CMAGENT_API_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

enum json_text_fault_kind {
    JSON_TEXT_NUL = 1,            /* U+0000, raw or as \u0000 */
    JSON_TEXT_UTF8,               /* not UTF-8, or a lone surrogate escape */
    JSON_TEXT_ESCAPE,             /* \u without four hex digits */
};

struct json_text_fault {
    enum json_text_fault_kind kind;
    bool top_level;               /* in a member of the request object itself (a key, or its value) */
    char where[256];              /* "'data.title'", "a key of 'data'", "a key of the request" */
    char what[80];                /* "an overlong encoding", "a lone surrogate escape \uD800" */
    char field[160];              /* a string value within data: its path below data, else "" */
    bool data_member;             /* that value is a member of data itself ("title") */
};

/* Scans text[0..len). Returns true when every string is fine, else false with *fault filled (the
 * first fault). Text that is not JSON is scanned as far as it goes; cJSON refuses it afterwards. */
bool json_text_check(const char *text, size_t len, struct json_text_fault *fault);

/* The 400 message of a fault: "'data.title' is not valid UTF-8: an overlong encoding",
 * "Malformed JSON: a \u escape without four hex digits in 'data.title'", or for U+0000
 * ThingsBoard's "Request strings should not contain 0x00 symbol!". */
void json_text_fault_message(const struct json_text_fault *f, char *out, size_t cap);

/* The 400 message of a fault in a request for op. A U+0000 in a string value within data names its
 * field as ThingsBoard does: the name field a write of op saves gets ThingsBoard's validateString
 * message ("Customer title should not contain 0x00 symbol!", likewise Tenant title, Device name,
 * Asset name, Edge name, Dashboard title), any other its @NoNullChar message ("Validation error:
 * email should not contain 0x00 symbol"). Anything else: json_text_fault_message. */
void json_text_fault_message_for(const struct json_text_fault *f, const char *op, char *out, size_t cap);

#endif
