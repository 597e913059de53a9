/* test_reply_topic.c: the reply namespace rule (reply_topic.h) on every kind of topic the broker
 * refuses or that points outside <topic_prefix>/reply/, the topic name rules under it (topic.h),
 * and the printable form of a topic for the log. */
#include "test.h"

#include "cmagent/reply_topic.h"
#include "cmagent/topic.h"

#include <stdlib.h>

static const struct reply_rules rules = { .prefix = "cm/v1", .max_bytes = 1024 };

static const char *refusal_of(const char *topic) { return reply_topic_refusal(&rules, topic, strlen(topic)); }

static void accepts_topics_under_the_namespace(void)
{
    CHECK_STR(refusal_of("cm/v1/reply/x"), NULL);
    CHECK_STR(refusal_of("cm/v1/reply/client-1/deep/er"), NULL);
    CHECK_STR(refusal_of("cm/v1/reply/anon/AbCdEf0123456789_-"), NULL);
    CHECK_STR(refusal_of("cm/v1/reply/\xc3\x9c" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9"), NULL);   /* Ünïcødé */
    CHECK_STR(refusal_of("cm/v1/reply/\xf0\x9f\x98\x80"), NULL);                          /* U+1F600 */
    CHECK_STR(refusal_of("cm/v1/reply/a b"), NULL);                                      /* a space is a character */
    char at_max[1025];
    memset(at_max, 'a', sizeof at_max - 1);
    memcpy(at_max, "cm/v1/reply/", 12);
    at_max[1024] = '\0';
    CHECK_STR(reply_topic_refusal(&rules, at_max, 1024), NULL);
    CHECK_STR(reply_topic_refusal(&rules, at_max, 1023), NULL);
}

static void refuses_wildcards_dollar_and_empty_levels(void)
{
    const char *wild[] = { "cm/v1/reply/#", "cm/v1/reply/+", "cm/v1/reply/a/+/b", "cm/v1/reply/a#", "#", "+" };
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++)
        CHECK_STR(refusal_of(wild[i]), "contains a wildcard (+ or #)");
    CHECK_STR(refusal_of("$SYS/broker/x"), "starts with '$'");
    CHECK_STR(refusal_of("$cm/v1/reply/x"), "starts with '$'");
    const char *empty[] = { "cm/v1/reply//x", "cm/v1/reply/x/", "cm/v1/reply/", "cm/v1//reply/x", "/cm/v1/reply/x", "/" };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
        CHECK_STR(refusal_of(empty[i]), "has an empty level");
    CHECK_STR(reply_topic_refusal(&rules, "", 0), "is empty");
}

static void refuses_everything_outside_the_namespace(void)
{
    const char *outside[] = { "cm/v1/reply", "cm/v1/replyx/a", "cm/v1/other/x", "cm/v2/reply/x", "other/reply/x",
                              "cm/v1/status/agent", "cm/v1/event/t/CUSTOMER/ENTITY_CREATED", "CM/v1/reply/x",
                              "cm/v1/req/agent.ping", "cm/v1x/reply/a", "x" };
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        CHECK_STR(refusal_of(outside[i]), "is outside the reply namespace <topic_prefix>/reply/");
    struct reply_rules other = { .prefix = "tenant/a", .max_bytes = 1024 };
    CHECK_STR(reply_topic_refusal(&other, "tenant/a/reply/x", 16), NULL);
    CHECK_STR(reply_topic_refusal(&other, "cm/v1/reply/x", 13), "is outside the reply namespace <topic_prefix>/reply/");
}

static void refuses_the_characters_mosquitto_refuses(void)
{
    char topic[64];
    for (unsigned cp = 1; cp < 0xA0; cp = cp == 0x1F ? 0x7F : cp + 1) {
        if (cp < 0x80)
            snprintf(topic, sizeof topic, "cm/v1/reply/a%cb", (char)cp);
        else
            snprintf(topic, sizeof topic, "cm/v1/reply/a%c%cb", (char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F)));
        CHECK_STR(refusal_of(topic), "contains a control character (U+0001-U+001F, U+007F-U+009F)");
    }
    const char *nonchar[] = { "cm/v1/reply/\xef\xbf\xbf", "cm/v1/reply/\xef\xbf\xbe", "cm/v1/reply/\xef\xb7\x90",
                              "cm/v1/reply/\xef\xb7\xaf", "cm/v1/reply/\xf0\x9f\xbf\xbf", "cm/v1/reply/\xf4\x8f\xbf\xbe" };
    for (size_t i = 0; i < sizeof nonchar / sizeof nonchar[0]; i++)
        CHECK_STR(refusal_of(nonchar[i]), "contains a non-character (U+FDD0-U+FDEF, U+FFFE, U+FFFF)");
    CHECK_STR(reply_topic_refusal(&rules, "cm/v1/reply/a\0b", 15), "contains U+0000");
}

static void refuses_what_is_not_utf8(void)
{
    static const struct {
        const char *topic, *why;
    } cases[] = {
        { "cm/v1/reply/\xff\xfe", "is not valid UTF-8 (a byte that cannot start a character)" },
        { "cm/v1/reply/\xf5\x80\x80\x80", "is not valid UTF-8 (a code point above U+10FFFF)" },
        { "cm/v1/reply/\x80", "is not valid UTF-8 (a byte that cannot start a character)" },
        { "cm/v1/reply/\xc0\xaf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xc1\xbf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xc0\x80", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xe0\x80\xaf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xe0\x9f\xbf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xf0\x80\x80\xaf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xf0\x8f\xbf\xbf", "is not valid UTF-8 (an overlong encoding)" },
        { "cm/v1/reply/\xed\xa0\x80", "is not valid UTF-8 (a UTF-16 surrogate)" },
        { "cm/v1/reply/\xed\xbf\xbf", "is not valid UTF-8 (a UTF-16 surrogate)" },
        { "cm/v1/reply/\xf4\x90\x80\x80", "is not valid UTF-8 (a code point above U+10FFFF)" },
        { "cm/v1/reply/\xe2\x82", "is not valid UTF-8 (a character cut short)" },
        { "cm/v1/reply/\xe2\x82x", "is not valid UTF-8 (a character cut short)" },
        { "cm/v1/reply/\xf0\x9f\x98", "is not valid UTF-8 (a character cut short)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(refusal_of(cases[i].topic), cases[i].why);
}

static void refuses_topics_longer_than_the_limits(void)
{
    size_t n = 70000;
    char *long_topic = malloc(n + 1);
    memset(long_topic, 'a', n);
    memcpy(long_topic, "cm/v1/reply/", 12);
    long_topic[n] = '\0';
    CHECK_STR(reply_topic_refusal(&rules, long_topic, 1025), "is longer than max_reply_topic");
    CHECK_STR(reply_topic_refusal(&rules, long_topic, 65535), "is longer than max_reply_topic");
    CHECK_STR(reply_topic_refusal(&rules, long_topic, 65536), "is longer than 65535 bytes");
    CHECK_STR(reply_topic_refusal(&rules, long_topic, n), "is longer than 65535 bytes");
    struct reply_rules wide = { .prefix = "cm/v1", .max_bytes = TOPIC_MAX_BYTES };
    CHECK_STR(reply_topic_refusal(&wide, long_topic, 65535), NULL);
    free(long_topic);
}

static void binding_of_an_open_broker_accepts_the_namespace(void)
{
    struct principal nobody = { 0 }, user = { .authority = AUTHORITY_TENANT_ADMIN };
    CHECK_STR(reply_topic_binding_refusal(&rules, &nobody, "cm/v1/reply/x"), NULL);
    CHECK_STR(reply_topic_binding_refusal(&rules, &user, "cm/v1/reply/someone-else/x"), NULL);
}

/* broker_acl dynsec: the level after P/reply/ is the caller's broker username, or anon/<nonce>. */
static void binding_of_a_provisioned_broker_names_the_requester(void)
{
    struct reply_rules bound = { .prefix = "cm/v1", .max_bytes = 1024, .bound = true,
                                 .names = { .topic_prefix = "cm/v1", .name_prefix = "cm-" } };
    struct principal nobody = { 0 }, user = { .authority = AUTHORITY_TENANT_ADMIN }, key = user;
    strcpy(user.user_id, "11111111-1111-1111-1111-111111111111");
    key.token_kind = TOKEN_API_KEY;
    strcpy(key.token_id, "22222222-2222-2222-2222-222222222222");
    const char *nonce = "cm/v1/reply/anon/AbCdEf0123456789_-";
    CHECK_STR(reply_topic_binding_refusal(&bound, &nobody, nonce), NULL);
    CHECK_STR(reply_topic_binding_refusal(&bound, &user, nonce), NULL);
    CHECK(reply_topic_binding_refusal(&bound, &nobody, "cm/v1/reply/anon/short") != NULL);
    CHECK(reply_topic_binding_refusal(&bound, &nobody, "cm/v1/reply/anon/AbCdEf0123456789_-/x") != NULL);
    CHECK(reply_topic_binding_refusal(&bound, &nobody, "cm/v1/reply/cm-u-11111111-1111-1111-1111-111111111111") != NULL);
    CHECK_STR(reply_topic_binding_refusal(&bound, &user, "cm/v1/reply/cm-u-11111111-1111-1111-1111-111111111111"), NULL);
    CHECK_STR(reply_topic_binding_refusal(&bound, &user, "cm/v1/reply/cm-u-11111111-1111-1111-1111-111111111111/rr"), NULL);
    CHECK(reply_topic_binding_refusal(&bound, &user, "cm/v1/reply/cm-u-11111111-1111-1111-1111-1111111111112") != NULL);
    CHECK(reply_topic_binding_refusal(&bound, &user, "cm/v1/reply/cm-u-99999999-1111-1111-1111-111111111111/rr") != NULL);
    CHECK(reply_topic_binding_refusal(&bound, &key, "cm/v1/reply/cm-u-11111111-1111-1111-1111-111111111111/rr") != NULL);
    CHECK_STR(reply_topic_binding_refusal(&bound, &key, "cm/v1/reply/cm-k-22222222-2222-2222-2222-222222222222/rr"), NULL);
}

static void topic_names_outside_replies(void)
{
    CHECK_STR(topic_name_refusal("cm/v1", 5), NULL);
    CHECK_STR(topic_name_refusal("cm/v1/", 6), "has an empty level");
    CHECK_STR(topic_name_refusal("cm/+", 4), "contains a wildcard (+ or #)");
}

static void printable_form_escapes_and_cuts(void)
{
    char out[64];
    CHECK_STR(topic_printable("cm/v1/reply/a\x01\xff\\b", 17, 100, out, sizeof out), "cm/v1/reply/a\\x01\\xFF\\x5Cb");
    CHECK_STR(topic_printable("abcdefghij", 10, 4, out, sizeof out), "abcd... (10 bytes)");
    CHECK_STR(topic_printable("a\0b", 3, 100, out, sizeof out), "a\\x00b");
    char small[8];
    topic_printable("\x01\x02\x03\x04", 4, 100, small, sizeof small);
    CHECK(strlen(small) < sizeof small);
}

int main(void)
{
    RUN(accepts_topics_under_the_namespace);
    RUN(refuses_wildcards_dollar_and_empty_levels);
    RUN(refuses_everything_outside_the_namespace);
    RUN(refuses_the_characters_mosquitto_refuses);
    RUN(refuses_what_is_not_utf8);
    RUN(refuses_topics_longer_than_the_limits);
    RUN(binding_of_an_open_broker_accepts_the_namespace);
    RUN(binding_of_a_provisioned_broker_names_the_requester);
    RUN(topic_names_outside_replies);
    RUN(printable_form_escapes_and_cuts);
    return test_report("test_reply_topic");
}
