/* utf8_clip.c: the character-safe prefix length of utf8_clip.h. */
#include "cmagent/utf8_clip.h"

#include <string.h>

static int is_continuation(unsigned char c) { return (c & 0xc0) == 0x80; }

/* The bytes a character starting with lead takes (1 for a byte that cannot start one). */
static size_t sequence_length(unsigned char lead)
{
    if (lead >= 0xf0 && lead <= 0xf7)
        return 4;
    if (lead >= 0xe0)
        return lead <= 0xef ? 3 : 1;
    if (lead >= 0xc0)
        return 2;
    return 1;
}

size_t utf8_clip(const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max), start = n;

    /* The kept prefix ends with u[start - 1], the lead byte of its last character, and the
     * continuation bytes after it (a character has at most three). */
    while (start > 0 && n - start < 3 && is_continuation(u[start - 1]))
        start--;
    if (start == 0 || is_continuation(u[start - 1]))
        return n; /* no lead byte where one should be: not UTF-8, kept as it is */
    size_t lead = start - 1;
    return n - lead < sequence_length(u[lead]) ? lead : n;
}
