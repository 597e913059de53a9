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
/* Random bytes are drawn from OpenSSL a few kilobytes at a time: one RAND_bytes call per id cost
 * more than formatting it (a create makes two ids). Guarded by the generator's lock. */
#define RANDOM_POOL 4096
static unsigned char pool[RANDOM_POOL];
static size_t pool_left;

static void take_random(unsigned char *out, size_t n)
{
    if (pool_left < n) {
        secret_random(pool, sizeof pool);
        pool_left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - pool_left, n);
    memset(pool + sizeof pool - pool_left, 0, n);
    pool_left -= n;
}

void uuid_generate(char out[UUID_STR_LEN])
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static const char hex[] = "0123456789abcdef";
    static uint64_t last_ms;
    static unsigned counter;
    unsigned char b[16];
    uint64_t ms = (uint64_t)clock_now_ms();

    pthread_mutex_lock(&lock);
    take_random(b + 6, 10);
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
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0xf];
    }
    out[o] = '\0';
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
