/* test_json_text.c: the scan of a request's strings before cJSON parses it (json_text.h): what it
 * refuses (invalid and overlong UTF-8, encoded and escaped lone surrogates, U+0000, bad \u
 * escapes), where it says the fault is, and that valid text of any shape passes. Also the UTF-8
 * helpers that keep error messages whole (utf8.h). */
#include "test.h"

#include "cmagent/error.h"
#include "cmagent/utf8.h"
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

static const char *message_of(const char *text, size_t len)
{
    static char out[512];
    struct json_text_fault f;
    if (json_text_check(text, len, &f))
        return NULL;
    json_text_fault_message(&f, out, sizeof out);
    return out;
}

#define MESSAGE(lit) message_of(lit, sizeof lit - 1)

static const char *message_for(const char *op, const char *text)
{
    static char out[512];
    struct json_text_fault f;
    if (json_text_check(text, strlen(text), &f))
        return NULL;
    json_text_fault_message_for(&f, op, out, sizeof out);
    return out;
}

/* A U+0000 within data names its field: ThingsBoard's validateString message for the name a write
 * saves, its @NoNullChar message for any other field; keys and envelope members get one message. */
static void nul_names_the_field(void)
{
    const char *t = "{\"data\":{\"title\":\"a\\u0000\"}}";
    CHECK_STR(message_for("customer.create", t), "Customer title should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.update", t), "Customer title should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.patch", t), "Customer title should not contain 0x00 symbol!");
    CHECK_STR(message_for("tenant.update", t), "Tenant title should not contain 0x00 symbol!");
    CHECK_STR(message_for("dashboard.create", t), "Dashboard title should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.findByTitle", t), "Validation error: title should not contain 0x00 symbol");
    CHECK_STR(message_for("device.create", t), "Validation error: title should not contain 0x00 symbol");
    CHECK_STR(message_for("device.create", "{\"data\":{\"name\":\"\\u0000\"}}"), "Device name should not contain 0x00 symbol!");
    CHECK_STR(message_for("asset.update", "{\"data\":{\"name\":\"\\u0000\"}}"), "Asset name should not contain 0x00 symbol!");
    CHECK_STR(message_for("edge.create", "{\"data\":{\"name\":\"\\u0000\"}}"), "Edge name should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.create", "{\"data\":{\"additionalInfo\":{\"title\":\"\\u0000\"}}}"),
              "Validation error: additionalInfo.title should not contain 0x00 symbol");
    CHECK_STR(message_for("customer.getByIds", "{\"data\":{\"ids\":[\"a\",\"\\u0000\"]}}"),
              "Validation error: ids[1] should not contain 0x00 symbol");
    CHECK_STR(message_for("customer.create", "{\"data\":{\"ti\\u0000\":\"x\"}}"), "Request strings should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.create", "{\"token\":\"\\u0000\"}"), "Request strings should not contain 0x00 symbol!");
    CHECK_STR(message_for("customer.create", "{\"data\":\"\\u0000\"}"), "Request strings should not contain 0x00 symbol!");
    CHECK_STR(message_for(NULL, t), "Validation error: title should not contain 0x00 symbol");
    CHECK_STR(message_for("customer.create", "{\"data\":{\"title\":\"\\ud800\"}}"),
              "'data.title' is not valid UTF-8: a lone surrogate escape \\uD800");
}

static void valid_text_passes(void)
{
    CHECK_STR(MESSAGE("{}"), NULL);
    CHECK_STR(MESSAGE("{\"token\":\"x\",\"data\":{\"title\":\"Caf\xc3\xa9 \xf0\x9f\x98\x80\",\"n\":[1,2.5e3,true,null]}}"), NULL);
    CHECK_STR(MESSAGE("{\"a\":\"\\ud83d\\ude00 \\u00e9 \\\" \\\\ \\/ \\n\"}"), NULL);
    CHECK_STR(MESSAGE("{\"a\":\"\xef\xbf\xbf \xef\xb7\x90 \x01\"}"), NULL); /* non-characters and controls are UTF-8 */
    CHECK_STR(MESSAGE("not json at all"), NULL);                          /* left to cJSON */
    char *deep = malloc(4001);
    memset(deep, '[', 4000);
    deep[4000] = '\0';
    CHECK_STR(message_of(deep, 4000), NULL);
    free(deep);
}

static void invalid_utf8_names_the_field(void)
{
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\xff\xfe\"}}"),
              "'data.title' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"a\xc0\xaf\"}}"), "'data.title' is not valid UTF-8: an overlong encoding");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\xe0\x80\xaf\"}}"), "'data.title' is not valid UTF-8: an overlong encoding");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\xf0\x80\x80\xaf\"}}"), "'data.title' is not valid UTF-8: an overlong encoding");
    CHECK_STR(MESSAGE("{\"data\":{\"city\":\"\xed\xa0\x80\"}}"),
              "'data.city' is not valid UTF-8: a UTF-16 surrogate (U+D800-U+DFFF)");
    CHECK_STR(MESSAGE("{\"data\":{\"city\":\"\xf4\x90\x80\x80\"}}"), "'data.city' is not valid UTF-8: a code point above U+10FFFF");
    CHECK_STR(MESSAGE("{\"data\":{\"city\":\"\xe2\x82\"}}"), "'data.city' is not valid UTF-8: a character cut short");
    CHECK_STR(MESSAGE("{\"correlationId\":\"\x80\"}"),
              "'correlationId' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("{\"data\":{\"commands\":[{\"op\":\"a\"},{\"op\":\"b\",\"data\":{\"title\":\"\xff\"}}]}}"),
              "'data.commands[1].data.title' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("{\"data\":{\"ids\":[\"a\",\"b\",\"\xc1\xbf\"]}}"), "'data.ids[2]' is not valid UTF-8: an overlong encoding");
    CHECK_STR(MESSAGE("{\"a\":\"x\\\"\xff\"}"), "'a' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("{\"a\":\"x\\\\\",\"b\":\"\xff\"}"), "'b' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("[\"\xff\"]"), "'[0]' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("\"\xff\""), "'(the payload)' is not valid UTF-8: a byte that cannot start a character");
}

static void keys_are_checked_too(void)
{
    CHECK_STR(MESSAGE("{\"data\":{\"ti\xfftle\":1}}"), "A key of 'data' is not valid UTF-8: a byte that cannot start a character");
    CHECK_STR(MESSAGE("{\"\xc0\xaf\":1}"), "A key of the request is not valid UTF-8: an overlong encoding");
    CHECK_STR(MESSAGE("{\"data\":{\"a\\ud800\":1}}"), "A key of 'data' is not valid UTF-8: a lone surrogate escape \\uD800");
    CHECK_STR(MESSAGE("{\"data\":{\"title\\u0000\":\"x\"}}"), "Request strings should not contain 0x00 symbol!");
}

static void escapes_lone_surrogates_and_nul(void)
{
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\ud800\"}}"), "'data.title' is not valid UTF-8: a lone surrogate escape \\uD800");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\uDC00\"}}"), "'data.title' is not valid UTF-8: a lone surrogate escape \\uDC00");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\ud800\\u0041\"}}"), "'data.title' is not valid UTF-8: a lone surrogate escape \\uD800");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\udbff\\udbff\"}}"), "'data.title' is not valid UTF-8: a lone surrogate escape \\uDBFF");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\ud800x\"}}"), "'data.title' is not valid UTF-8: a lone surrogate escape \\uD800");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"a\\u0000b\"}}"), "Request strings should not contain 0x00 symbol!");
    CHECK_STR(message_of("{\"a\":\"x\0y\"}", 11), "Request strings should not contain 0x00 symbol!");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\uZZZZ\"}}"), "Malformed JSON: a \\u escape without four hex digits in 'data.title'");
    CHECK_STR(MESSAGE("{\"data\":{\"title\":\"\\u12\"}}"), "Malformed JSON: a \\u escape without four hex digits in 'data.title'");
    CHECK_STR(MESSAGE("{\"a\":\"\\\\u0000\"}"), NULL); /* an escaped backslash, then text */
}

static void top_level_faults_are_flagged(void)
{
    struct json_text_fault f;
    CHECK(!json_text_check("{\"replyTo\":\"a\\u0000b\"}", 22, &f));
    CHECK(f.top_level);
    CHECK(!json_text_check("{\"correlationId\":\"\xff\"}", 21, &f));
    CHECK(f.top_level);
    CHECK(!json_text_check("{\"data\":{\"t\":\"\xff\"}}", 19, &f));
    CHECK(!f.top_level);
}

static void messages_stay_utf8_when_cut(void)
{
    struct error e;
    /* "%.5s" cuts "ééé" (6 bytes) in the third character: the half is dropped */
    error_set(&e, ERR_BAD_REQUEST, "x '%.5s'", "\xc3\xa9\xc3\xa9\xc3\xa9");
    CHECK_STR(e.message, "x '\xc3\xa9\xc3\xa9'");
    CHECK(utf8_valid(e.message, strlen(e.message), NULL, NULL));
    char small[6];
    CHECK_STR(utf8_copy(small, sizeof small, "ab\xe2\x82\xac" "cd"), "ab\xe2\x82\xac");
    CHECK_STR(utf8_copy(small, sizeof small, "abcd\xe2\x82\xac"), "abcd");
    CHECK_STR(utf8_copy(small, sizeof small, "abc"), "abc");
}

int main(void)
{
    RUN(valid_text_passes);
    RUN(invalid_utf8_names_the_field);
    RUN(keys_are_checked_too);
    RUN(escapes_lone_surrogates_and_nul);
    RUN(nul_names_the_field);
    RUN(top_level_faults_are_flagged);
    RUN(messages_stay_utf8_when_cut);
    return test_report("test_json_text");
}
