/* utf8.c: the UTF-8 decoder every string check is built on (RFC 3629, see utf8.h). */
#include "cmagent/utf8.h"

#include <string.h>

/* The smallest code point each length may carry: anything below is an overlong form. */
static const uint32_t min_of_length[5] = { 0, 0, 0x80, 0x800, 0x10000 };

size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp, enum utf8_problem *problem)
{
    unsigned char b = s[0];
    size_t n;
    uint32_t c;

    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
        c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        c = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        c = b & 0x07;
    } else {
        /* a continuation byte alone, C0/C1 (only ever overlong), F5-F7 (above U+10FFFF), F8-FF */
        *problem = (b == 0xC0 || b == 0xC1) ? UTF8_OVERLONG : b <= 0xF7 && b >= 0xF5 ? UTF8_TOO_LARGE : UTF8_BAD_BYTE;
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (i >= len || (s[i] & 0xC0) != 0x80) {
            *problem = UTF8_TRUNCATED;
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min_of_length[n]) {
        *problem = UTF8_OVERLONG;
        return 0;
    }
    if (c >= 0xD800 && c <= 0xDFFF) {
        *problem = UTF8_SURROGATE;
        return 0;
    }
    if (c > 0x10FFFF) {
        *problem = UTF8_TOO_LARGE;
        return 0;
    }
    *cp = c;
    return n;
}

bool utf8_valid(const char *s, size_t len, size_t *offset, enum utf8_problem *problem)
{
    const unsigned char *p = (const unsigned char *)s;
    enum utf8_problem why = UTF8_OK;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { /* the common case, without a call */
            i++;
            continue;
        }
        size_t n = utf8_decode(p + i, len - i, &cp, &why);
        if (n == 0) {
            if (offset != NULL)
                *offset = i;
            if (problem != NULL)
                *problem = why;
            return false;
        }
        i += n;
    }
    return true;
}

const char *utf8_problem_text(enum utf8_problem p)
{
    switch (p) {
    case UTF8_OK:
        return "valid";
    case UTF8_BAD_BYTE:
        return "a byte that cannot start a character";
    case UTF8_TRUNCATED:
        return "a character cut short";
    case UTF8_OVERLONG:
        return "an overlong encoding";
    case UTF8_SURROGATE:
        return "a UTF-16 surrogate (U+D800-U+DFFF)";
    case UTF8_TOO_LARGE:
        return "a code point above U+10FFFF";
    }
    return "invalid";
}

void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t len = strlen(s), out = 0;
    enum utf8_problem why;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = p[i] < 0x80 ? 1 : utf8_decode(p + i, len - i, &cp, &why);
        if (n == 0) {
            i++;
            continue;
        }
        memmove(p + out, p + i, n);
        out += n;
        i += n;
    }
    p[out] = '\0';
}

char *utf8_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        /* back off over the continuation bytes of a character that does not fit whole */
        size_t start = n;
        while (start > 0 && ((unsigned char)src[start] & 0xC0) == 0x80)
            start--;
        n = start;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return dst;
}
