/* uuid.h: entity identifiers as canonical lower-case UUID strings. */
#ifndef CMAGENT_UUID_H
#define CMAGENT_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* ThingsBoard's "no customer" / "system tenant" id. */
#define NULL_UUID "13814000-1dd2-11b2-8080-808080808080"

/* Writes a new time-ordered UUID (version 7: 48-bit ms timestamp, then random bits) into out.
 * Ids made later sort later as strings, so the default "id ASC" order is creation order and
 * inserts append to the primary-key index. */
void uuid_generate(char out[UUID_STR_LEN]);

/* True when s is a UUID in 8-4-4-4-12 hex form (either case). When out is not NULL the
 * canonical lower-case form is written there. */
bool uuid_parse(const char *s, char out[UUID_STR_LEN]);

#endif
