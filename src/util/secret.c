/* secret.c: the only file that touches OpenSSL and libcrypt. */
#include "cmagent/secret.h"

#include "cmagent/alloc.h"
#include "cmagent/log.h"
#include "cmagent/stats.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void secret_random(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        log_error("No random bytes from OpenSSL: refusing to go on without a secure random source.");
        abort();
    }
}

static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = n - i;
        if (left > 1) v |= (uint32_t)in[i + 1] << 8;
        if (left > 2) v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (left > 1) out[o++] = alphabet[(v >> 6) & 63];
        if (left > 2) out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

void secret_token(char out[SECRET_TOKEN_MAX], const char *prefix, size_t nbytes)
{
    unsigned char raw[48];
    size_t plen = strlen(prefix);

    if (nbytes > sizeof raw)
        nbytes = sizeof raw;
    secret_random(raw, nbytes);
    memcpy(out, prefix, plen);
    base64url(raw, nbytes, out + plen);
}

void secret_digest(const char *s, char out[SECRET_DIGEST_HEX])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    static const char hex[] = "0123456789abcdef";
    SHA256((const unsigned char *)s, strlen(s), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * SHA256_DIGEST_LENGTH] = '\0';
}

int secret_hash_password(const char *password, unsigned long cost, char out[SECRET_HASH_MAX])
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd;
    int rc = -1;

    if (crypt_gensalt_rn("$y$", cost, NULL, 0, salt, sizeof salt) == NULL)
        return -1;
    cd = xcalloc(1, sizeof *cd);
    stats_record_password_hash();
    const char *h = crypt_rn(password, salt, cd, sizeof *cd);
    if (h != NULL && h[0] != '*' && strlen(h) < SECRET_HASH_MAX) {
        strcpy(out, h);
        rc = 0;
    }
    free(cd);
    return rc;
}

bool secret_check_password(const char *password, const char *hash)
{
    struct crypt_data *cd;
    bool ok = false;

    if (password == NULL || hash == NULL || hash[0] == '\0')
        return false;
    cd = xcalloc(1, sizeof *cd);
    stats_record_password_hash();
    const char *h = crypt_rn(password, hash, cd, sizeof *cd);
    if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash))
        ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    free(cd);
    return ok;
}

#define DUMMY_COSTS 12
static char dummy_hashes[DUMMY_COSTS][SECRET_HASH_MAX];
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;

const char *secret_dummy_hash(unsigned long cost)
{
    size_t i = cost < DUMMY_COSTS ? (size_t)cost : 0;
    pthread_mutex_lock(&dummy_lock);
    if (dummy_hashes[i][0] == '\0') {
        char pw[SECRET_TOKEN_MAX];
        secret_token(pw, "", 16);
        if (secret_hash_password(pw, i, dummy_hashes[i]) != 0)
            strcpy(dummy_hashes[i], "*");
    }
    pthread_mutex_unlock(&dummy_lock);
    return dummy_hashes[i];
}

void secret_dynsec_hash(const char *password, int iterations, char *salt_b64, char *hash_b64)
{
    unsigned char salt[12], hash[64];
    secret_random(salt, sizeof salt);
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)sizeof salt, iterations, EVP_sha512(),
                          (int)sizeof hash, hash) != 1) {
        log_error("PBKDF2 failed in OpenSSL.");
        abort();
    }
    EVP_EncodeBlock((unsigned char *)salt_b64, salt, (int)sizeof salt);
    EVP_EncodeBlock((unsigned char *)hash_b64, hash, (int)sizeof hash);
}

bool secret_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
