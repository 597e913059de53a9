/* topic.c: the rules of a topic name the broker accepts from a publisher (topic.h). */
#include "cmagent/topic.h"

#include "cmagent/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

static bool is_control(uint32_t cp) { return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F); }

static bool is_noncharacter(uint32_t cp)
{
    return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFF) == 0xFFFE || (cp & 0xFFFF) == 0xFFFF;
}

/* The character rules, one character at a time. */
static const char *characters_refusal(const unsigned char *p, size_t len)
{
    static const char *const not_utf8[] = {
        [UTF8_OK] = "is not valid UTF-8",
        [UTF8_BAD_BYTE] = "is not valid UTF-8 (a byte that cannot start a character)",
        [UTF8_TRUNCATED] = "is not valid UTF-8 (a character cut short)",
        [UTF8_OVERLONG] = "is not valid UTF-8 (an overlong encoding)",
        [UTF8_SURROGATE] = "is not valid UTF-8 (a UTF-16 surrogate)",
        [UTF8_TOO_LARGE] = "is not valid UTF-8 (a code point above U+10FFFF)",
    };
    enum utf8_problem why = UTF8_OK;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_decode(p + i, len - i, &cp, &why);
        if (n == 0)
            return not_utf8[why];
        if (cp == 0)
            return "contains U+0000";
        if (is_control(cp))
            return "contains a control character (U+0001-U+001F, U+007F-U+009F)";
        if (is_noncharacter(cp))
            return "contains a non-character (U+FDD0-U+FDEF, U+FFFE, U+FFFF)";
        if (cp == '+' || cp == '#')
            return "contains a wildcard (+ or #)";
        i += n;
    }
    return NULL;
}

const char *topic_name_refusal(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    if (len == 0)
        return "is empty";
    if (len > TOPIC_MAX_BYTES)
        return "is longer than 65535 bytes";
    const char *why = characters_refusal(p, len);
    if (why != NULL)
        return why;
    if (p[0] == '$')
        return "starts with '$'";
    for (size_t i = 0; i < len; i++)
        if (p[i] == '/' && (i == 0 || p[i - 1] == '/' || i + 1 == len))
            return "has an empty level";
    return NULL;
}

char *topic_printable(const char *s, size_t len, size_t max_shown, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < len && i < max_shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    }
    out[o] = '\0';
    if (len > max_shown && o + 1 < cap)
        snprintf(out + o, cap - o, "... (%zu bytes)", len);
    return out;
}
