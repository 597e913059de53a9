/* uuid.c: UUID generation (version 7) and validation. Randomness comes from OpenSSL. */
#include "cmagent/uuid.h"

#include "cmagent/clock.h"
#include "cmagent/secret.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter seeded at random each
 * millisecond (method 1 of §6.2), then 62 random bits. Ids made by this process are strictly
 * increasing, also within one millisecond and when the clock steps back, so sorting by id sorts
 * by creation; when the counter overflows, the timestamp moves on by one millisecond. */
void uuid_generate(char out[UUID_STR_LEN])
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t last_ms;
    static unsigned counter;
    unsigned char b[16];
    uint64_t ms = (uint64_t)clock_now_ms();

    secret_random(b + 6, 10);
    pthread_mutex_lock(&lock);
    if (ms > last_ms) {
        counter = ((unsigned)b[6] << 4 | b[7] >> 4) & 0x7ff; /* top bit clear: room to count */
    } else if (++counter > 0xfff) {
        ms = last_ms + 1;
        counter = 0;
    } else {
        ms = last_ms;
    }
    last_ms = ms;
    unsigned seq = counter;
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (seq >> 8)); /* version 7 */
    b[7] = (unsigned char)(seq & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
    snprintf(out, UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
             b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

bool uuid_parse(const char *s, char out[UUID_STR_LEN])
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    if (out != NULL) {
        for (int i = 0; i < 36; i++)
            out[i] = (char)tolower((unsigned char)s[i]);
        out[36] = '\0';
    }
    return true;
}
