/* ratelimit.c: one token bucket per principal in a fixed open-addressing table. A bucket idle for
 * more than a second is full again, so such slots are reused when the table fills up. */
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>

#define SLOTS 4096 /* a power of two */
#define KEY_MAX 40

struct bucket {
    char key[KEY_MAX];
    double tokens;
    int64_t last_ms;
};

static struct bucket table[SLOTS];

static size_t hash(const char *s)
{
    size_t h = 5381;
    for (; *s != '\0'; s++)
        h = h * 33 + (unsigned char)*s;
    return h & (SLOTS - 1);
}

bool ratelimit_take(const char *principal, int64_t per_second, int64_t now_ms)
{
    struct bucket *b = NULL, *idle = NULL;

    if (per_second <= 0 || principal == NULL || principal[0] == '\0')
        return true;
    for (size_t i = 0, h = hash(principal); i < SLOTS; i++, h = (h + 1) & (SLOTS - 1)) {
        struct bucket *s = &table[h];
        if (s->key[0] == '\0' || strcmp(s->key, principal) == 0) {
            b = s;
            break;
        }
        if (idle == NULL && now_ms - s->last_ms > 1000)
            idle = s;
    }
    if (b == NULL)
        b = idle != NULL ? idle : &table[hash(principal)];
    if (strcmp(b->key, principal) != 0) {
        snprintf(b->key, sizeof b->key, "%s", principal);
        b->tokens = (double)per_second;
        b->last_ms = now_ms;
    }
    b->tokens += (double)(now_ms - b->last_ms) * (double)per_second / 1000.0;
    if (b->tokens > (double)per_second)
        b->tokens = (double)per_second;
    b->last_ms = now_ms;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}
