/* test_totp.c: TOTP against the test vectors of RFC 6238 appendix B (SHA-1), HOTP against RFC
 * 4226 appendix D, and base32 against RFC 4648 section 10. */
#include "test.h"

#include "cmagent/totp.h"

static const unsigned char rfc_key[] = "12345678901234567890";

static void totp_matches_rfc6238_vectors(void)
{
    static const struct { int64_t t; unsigned code; } v[] = {
        { 59, 94287082 },         { 1111111109, 7081804 },  { 1111111111, 14050471 },
        { 1234567890, 89005924 }, { 2000000000, 69279037 }, { 20000000000LL, 65353130 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_INT(totp_at(rfc_key, 20, v[i].t, 8), v[i].code);
    CHECK(totp_check(rfc_key, 20, 1111111109, "07081804", 8));
    CHECK(totp_check(rfc_key, 20, 1111111109 + 30, "07081804", 8)); /* one step of drift */
    CHECK(!totp_check(rfc_key, 20, 1111111109 + 90, "07081804", 8));
    CHECK(!totp_check(rfc_key, 20, 1111111109, "7081804", 8));
    CHECK(!totp_check(rfc_key, 20, 1111111109, NULL, 8));
}

/* The step a code is of, for the replay rule (RFC 6238 section 5.2): 1111111109 / 30 = 37037036. */
static void totp_match_step_names_the_step(void)
{
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109, "07081804", 8), 37037036);
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109 + 30, "07081804", 8), 37037036); /* the step before */
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109 - 30, "07081804", 8), 37037036); /* the step after */
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109 + 90, "07081804", 8), -1);
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109, "07081805", 8), -1);
    CHECK_INT(totp_match_step(rfc_key, 20, 1111111109, "0708180", 8), -1);
}

static void hotp_matches_rfc4226_vectors(void)
{
    static const unsigned codes[] = { 755224, 287082, 359152, 969429, 338314,
                                      254676, 287922, 162583, 399871, 520489 };
    for (unsigned i = 0; i < 10; i++)
        CHECK_INT(totp_hotp(rfc_key, 20, i, 6), codes[i]);
}

static void base32_round_trips_rfc4648(void)
{
    char out[TOTP_BASE32_MAX];
    unsigned char key[40];
    totp_base32_encode((const unsigned char *)"foobar", 6, out);
    CHECK_STR(out, "MZXW6YTBOI");
    totp_base32_encode((const unsigned char *)"f", 1, out);
    CHECK_STR(out, "MY");
    CHECK_INT(totp_base32_decode("mzxw6ytboi======", key, sizeof key), 6);
    CHECK(memcmp(key, "foobar", 6) == 0);
    totp_base32_encode(rfc_key, 20, out);
    CHECK_STR(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    CHECK_INT(totp_base32_decode("GEZ1", key, sizeof key), -1);
    CHECK_INT(totp_base32_decode("GEZDGNBVGY3TQOJQ", key, 4), -1);
}

int main(void)
{
    RUN(totp_matches_rfc6238_vectors);
    RUN(totp_match_step_names_the_step);
    RUN(hotp_matches_rfc4226_vectors);
    RUN(base32_round_trips_rfc4648);
    return test_report("test_totp");
}
