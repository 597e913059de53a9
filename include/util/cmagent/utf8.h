/* utf8.h: UTF-8 as RFC 3629 defines it. A character is one to four bytes; these are not UTF-8 and
 * are refused: bytes that cannot start a character (0x80-0xBF alone, 0xC0, 0xC1, 0xF5-0xFF), a
 * sequence cut short or broken by a byte that does not continue it, an overlong form (a character
 * written in more bytes than it needs, e.g. C0 AF for '/'), a UTF-16 surrogate (U+D800-U+DFFF, which
 * RFC 3629 excludes) and anything above U+10FFFF. Non-characters (U+FFFE, U+FDD0, ...) and control
 * characters are valid UTF-8; rules that refuse them (topic names) are their callers'. */
#ifndef CMAGENT_UTF8_H
#define CMAGENT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum utf8_problem {
    UTF8_OK = 0,
    UTF8_BAD_BYTE,        /* a byte that cannot start a character */
    UTF8_TRUNCATED,       /* the input ends inside a character, or a byte does not continue it */
    UTF8_OVERLONG,
    UTF8_SURROGATE,
    UTF8_TOO_LARGE,       /* above U+10FFFF */
};

/* Decodes the character at s (len bytes available, len >= 1). Returns its length in bytes (1-4)
 * and sets *cp, or returns 0 and sets *problem. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp, enum utf8_problem *problem);

/* Whether s[0..len) is UTF-8. On failure *offset is where the bad character starts and *problem
 * says what is wrong (either may be NULL). U+0000 is valid UTF-8 here. */
bool utf8_valid(const char *s, size_t len, size_t *offset, enum utf8_problem *problem);

/* "overlong encoding", "a surrogate (U+D800-U+DFFF)", ... for messages. */
const char *utf8_problem_text(enum utf8_problem p);

/* Drops from the NUL-terminated s, in place, every byte that is not part of a valid character: what
 * is left of a character that a length limit ("%.64s", a fixed buffer) cut in two. */
void utf8_scrub(char *s);

/* Copies src into dst (cap bytes, cap >= 1) like snprintf("%s"), but when src does not fit, cuts it
 * before the character that would be split. Returns dst. */
char *utf8_copy(char *dst, size_t cap, const char *src);

#endif
