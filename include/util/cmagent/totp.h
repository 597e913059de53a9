/* totp.h: one-time passwords of RFC 4226 (HOTP) and RFC 6238 (TOTP, HMAC-SHA1 through OpenSSL),
 * the base32 of RFC 4648 their shared secrets are written in, as authenticator apps read them. */
#ifndef CMAGENT_TOTP_H
#define CMAGENT_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20 /* 160 bits, RFC 4226's recommendation */
#define TOTP_BASE32_MAX 64   /* base32 text of a secret of up to 39 bytes and the NUL */
#define TOTP_STEP_S 30
#define TOTP_DIGITS 6

/* Writes key as upper-case base32 without padding; out must hold (8 * n + 4) / 5 + 1 bytes. */
void totp_base32_encode(const unsigned char *key, size_t n, char *out);

/* Decodes base32 (case ignored, '=' padding and spaces skipped) into key (room for max bytes);
 * returns the number of bytes, or -1 for a character outside the alphabet or too long a text. */
int totp_base32_decode(const char *text, unsigned char *key, size_t max);

/* The HOTP value of counter with the given number of digits (6 to 8). */
uint32_t totp_hotp(const unsigned char *key, size_t n, uint64_t counter, int digits);

/* The TOTP value at unix_s seconds (step TOTP_STEP_S, T0 = 0). */
uint32_t totp_at(const unsigned char *key, size_t n, int64_t unix_s, int digits);

/* Whether code (decimal text of exactly digits digits) is the TOTP value of the step of unix_s or
 * of the step before or after it (clock drift); compared in constant time. */
bool totp_check(const unsigned char *key, size_t n, int64_t unix_s, const char *code, int digits);

/* totp_check that tells which step (unix seconds / TOTP_STEP_S) the code is of, the latest when
 * several match; -1 when none. A verifier keeps the last step it accepted to refuse the same code,
 * or an earlier one, a second time (RFC 6238 section 5.2). */
int64_t totp_match_step(const unsigned char *key, size_t n, int64_t unix_s, const char *code, int digits);

#endif
