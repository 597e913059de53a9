/* utf8_clip.h: cutting text to a byte budget without cutting a UTF-8 character in half, for the
 * messages that quote what a client sent. */
#ifndef CMAGENT_UTF8_CLIP_H
#define CMAGENT_UTF8_CLIP_H

#include <stddef.h>

/* The length of the longest prefix of s of at most max bytes that ends on a whole character: a
 * character that max would cut, or that s leaves incomplete at its end, is left out. Bytes that are
 * not UTF-8 at all are counted as they are. For printf: "%.*s", (int)utf8_clip(s, 64), s. */
size_t utf8_clip(const char *s, size_t max);

/* The two arguments of "%.*s" that print at most max bytes of s, whole characters only. */
#define UTF8_CLIPPED(s, max) (int)utf8_clip((s), (max)), (s)

#endif
