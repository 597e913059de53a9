/* uuid.c: UUID generation (version 7) and validation. Randomness comes from OpenSSL. */
#include "cmagent/uuid.h"

#include "cmagent/clock.h"
#include "cmagent/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void uuid_generate(char out[UUID_STR_LEN])
{
    unsigned char b[16];
    uint64_t ms = (uint64_t)clock_now_ms();

    secret_random(b + 6, 10);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* RFC 4122 variant */
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
