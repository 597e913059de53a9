/* secret.h: randomness, opaque tokens, SHA-256 digests and password hashes.
 * OpenSSL provides randomness and SHA-256; libcrypt provides the password hash (yescrypt). */
#ifndef CMAGENT_SECRET_H
#define CMAGENT_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_TOKEN_MAX 96   /* room for a prefix and a base64url token */
#define SECRET_DIGEST_HEX 65  /* 64 hex characters and the NUL */
#define SECRET_HASH_MAX 256   /* a crypt(3) hash string */

/* Fills buf with n cryptographically strong random bytes. Aborts if the system has none. */
void secret_random(void *buf, size_t n);

/* Writes prefix followed by nbytes random bytes as base64url without padding (nbytes <= 48). */
void secret_token(char out[SECRET_TOKEN_MAX], const char *prefix, size_t nbytes);

/* Whether the n bytes at a and b are equal, compared in constant time. */
bool secret_equal(const void *a, const void *b, size_t n);

/* Writes the lower-case hex SHA-256 digest of s. Tokens are stored only as these digests. */
void secret_digest(const char *s, char out[SECRET_DIGEST_HEX]);

/* Hashes a password with a fresh salt (yescrypt through libcrypt; cost 0 picks the default).
 * Returns 0, or -1 if libcrypt failed. */
int secret_hash_password(const char *password, unsigned long cost, char out[SECRET_HASH_MAX]);

/* True when password matches hash (constant-time comparison of the recomputed hash). */
bool secret_check_password(const char *password, const char *hash);

/* A hash that matches no password, made with the given cost (as real hashes are), for spending the
 * same time on unknown accounts as on wrong passwords. */
const char *secret_dummy_hash(unsigned long cost);

/* mosquitto dynamic security's stored password: a fresh 12-byte salt and PBKDF2-HMAC-SHA512 of
 * password over iterations, both in standard base64 (salt_b64 >= 17 bytes, hash_b64 >= 89). */
void secret_dynsec_hash(const char *password, int iterations, char *salt_b64, char *hash_b64);

#endif
