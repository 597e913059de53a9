/* topic.h: the MQTT topic names the agent may publish to without the broker refusing them and
 * disconnecting it. mosquitto 2.0 refuses a topic that is not UTF-8, holds U+0000, a control
 * character (U+0001-U+001F, U+007F-U+009F) or a non-character (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF
 * of every plane), a wildcard (+ or #), or more than 65535 bytes; the agent also refuses a leading
 * '$' (the broker's own topics) and empty levels. */
#ifndef CMAGENT_TOPIC_H
#define CMAGENT_TOPIC_H

#include <stddef.h>

/* The longest topic name MQTT can carry. */
#define TOPIC_MAX_BYTES 65535

/* Why s[0..len) (not NUL-terminated; it may hold NUL bytes) is not such a topic name, as a phrase
 * that follows the topic in a sentence ("has an empty level"), or NULL when it is one. */
const char *topic_name_refusal(const char *s, size_t len);

/* Writes s[0..len) into out (cap bytes) for a log line: printable ASCII as it is, every other byte
 * as \xNN, and at most about max_shown bytes of s, then "..." and the length. Returns out. */
char *topic_printable(const char *s, size_t len, size_t max_shown, char *out, size_t cap);

#endif
