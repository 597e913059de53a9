/* totp.c: HOTP (RFC 4226), TOTP (RFC 6238) with HMAC-SHA1 from OpenSSL, and base32 (RFC 4648). */
#include "cmagent/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void totp_base32_encode(const unsigned char *key, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | key[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
}

static int base32_value(char ch)
{
    if (ch >= 'a' && ch <= 'z')
        ch = (char)(ch - 'a' + 'A');
    const char *p = ch != '\0' ? strchr(alphabet, ch) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

int totp_base32_decode(const char *text, unsigned char *key, size_t max)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '=' || *p == ' ')
            continue;
        int v = base32_value(*p);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n == max)
                return -1;
            key[n++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return (int)n;
}

uint32_t totp_hotp(const unsigned char *key, size_t n, uint64_t counter, int digits)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    uint32_t mod = 1;

    for (int i = 7; i >= 0; i--, counter >>= 8)
        msg[i] = (unsigned char)(counter & 0xff);
    if (HMAC(EVP_sha1(), key, (int)n, msg, sizeof msg, mac, &len) == NULL || len < 20)
        return UINT32_MAX; /* never a code of 6 to 8 digits */
    int off = mac[len - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    for (int i = 0; i < digits; i++)
        mod *= 10;
    return bin % mod;
}

uint32_t totp_at(const unsigned char *key, size_t n, int64_t unix_s, int digits)
{
    return totp_hotp(key, n, (uint64_t)(unix_s < 0 ? 0 : unix_s) / TOTP_STEP_S, digits);
}

int64_t totp_match_step(const unsigned char *key, size_t n, int64_t unix_s, const char *code, int digits)
{
    char want[16];
    int64_t step = -1;

    if (code == NULL || digits < 6 || digits > 8 || strlen(code) != (size_t)digits)
        return -1;
    /* every step is computed and compared, whichever matches, so the time tells nothing */
    for (int d = -1; d <= 1; d++) {
        int64_t at = unix_s + d * TOTP_STEP_S;
        snprintf(want, sizeof want, "%0*u", digits, totp_at(key, n, at, digits));
        if (CRYPTO_memcmp(want, code, (size_t)digits) == 0)
            step = (at < 0 ? 0 : at) / TOTP_STEP_S;
    }
    return step;
}

bool totp_check(const unsigned char *key, size_t n, int64_t unix_s, const char *code, int digits)
{
    return totp_match_step(key, n, unix_s, code, digits) >= 0;
}
