/* test_util.c: the small utilities: e-mail pattern, NoXss, UUIDs, tokens, password hashes, queue,
 * UTF-8 clipping. */
#include "test.h"

#include "cmagent/queue.h"
#include "cmagent/secret.h"
#include "cmagent/utf8_clip.h"
#include "cmagent/uuid.h"
#include "cmagent/validate.h"

#include <stdlib.h>
#include <string.h>

static void email_pattern_matches_thingsboard(void)
{
    CHECK(email_is_valid("john.doe@example.com"));
    CHECK(email_is_valid("a+b_c!#$%&'*/=?`{|}~^-@sub.domain-x.io"));
    CHECK(email_is_valid("UPPER@EXAMPLE.ORG"));
    CHECK(!email_is_valid("no-at-sign"));
    CHECK(!email_is_valid("@example.com"));
    CHECK(!email_is_valid("a@b"));
    CHECK(!email_is_valid("a@b.c"));
    CHECK(!email_is_valid("a@.com"));
    CHECK(!email_is_valid("a b@example.com"));
    CHECK(!email_is_valid("a@exa_mple.com"));
    CHECK(!email_is_valid("a@example.c0m"));
}

static void no_xss_flags_markup_and_templates(void)
{
    struct violations v = { 0 };
    check_no_xss(&v, "title", "Plain title with 1 < 2 and a > b");
    CHECK_INT(v.n, 0);
    check_no_xss(&v, "title", "<b>bold</b>");
    check_no_xss(&v, "city", "{{constructor.constructor('x')()}}");
    CHECK_INT(v.n, 2);
    for (size_t i = 0; i < v.n; i++)
        free(v.items[i]);
}

static void uuids_are_v7_and_ordered(void)
{
    char a[UUID_STR_LEN], b[UUID_STR_LEN], canon[UUID_STR_LEN];
    uuid_generate(a);
    uuid_generate(b);
    CHECK(uuid_parse(a, NULL));
    CHECK_INT(a[14], '7');
    CHECK(strcmp(a, b) != 0);
    /* strictly increasing, also for many ids made within the same millisecond */
    for (int i = 0; i < 20000; i++) {
        memcpy(a, b, sizeof a);
        uuid_generate(b);
        if (strcmp(a, b) >= 0) {
            CHECK(strcmp(a, b) < 0);
            break;
        }
        CHECK_INT(b[14], '7');
        CHECK(strchr("89ab", b[19]) != NULL);
    }
    CHECK(uuid_parse("784F394C-42B6-435A-983C-B7BEFF2784F9", canon));
    CHECK_STR(canon, "784f394c-42b6-435a-983c-b7beff2784f9");
    CHECK(!uuid_parse("784f394c-42b6-435a-983c-b7beff2784f", NULL));
    CHECK(!uuid_parse("784f394c_42b6-435a-983c-b7beff2784f9", NULL));
}

static void tokens_and_password_hashes(void)
{
    char t[SECRET_TOKEN_MAX], d[SECRET_DIGEST_HEX], h[SECRET_HASH_MAX];
    secret_token(t, "", 30);
    CHECK_INT(strlen(t), 40);
    secret_token(t, "cma_", 32);
    CHECK_INT(strlen(t), 4 + 43);
    secret_digest("abc", d);
    CHECK_STR(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(secret_hash_password("s3cret!", 0, h), 0);
    CHECK(strncmp(h, "$y$", 3) == 0);
    CHECK(secret_check_password("s3cret!", h));
    CHECK(!secret_check_password("s3cret?", h));
    CHECK(!secret_check_password("anything", secret_dummy_hash(0)));
}

static void queue_pops_in_order_and_times_out(void)
{
    struct queue q;
    struct queue_node nodes[5];
    size_t n = 0;
    queue_init(&q);
    for (int i = 0; i < 5; i++)
        queue_push(&q, &nodes[i]);
    struct queue_node *first = queue_pop_many(&q, 3, 0, &n);
    CHECK_INT(n, 3);
    CHECK(first == &nodes[0] && first->next == &nodes[1] && first->next->next == &nodes[2]);
    CHECK(nodes[2].next == NULL);
    first = queue_pop_many(&q, 10, 0, &n);
    CHECK_INT(n, 2);
    CHECK(queue_pop_many(&q, 10, 20, &n) == NULL);
    CHECK_INT(n, 0);
    queue_release(&q);
}

static void utf8_clip_never_cuts_a_character(void)
{
    const char *s = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a b e-acute euro-sign emoji */
    size_t expect[] = { 0, 1, 2, 2, 4, 4, 4, 7, 7, 7, 7, 11, 11 };
    for (size_t max = 0; max < sizeof expect / sizeof expect[0]; max++)
        CHECK(utf8_clip(s, max) == expect[max]);
    CHECK(utf8_clip("plain", 3) == 3);
    CHECK(utf8_clip("plain", 100) == 5);
    CHECK(utf8_clip("x\xe2\x82", 100) == 1);          /* incomplete at the end of the text */
    CHECK(utf8_clip("\x80\x80\x80\x80\x80", 3) == 3); /* not UTF-8: kept as it is */
    CHECK(utf8_clip("a\x80\x80", 100) == 3);           /* stray continuation bytes after ASCII */
}

int main(void)
{
    RUN(email_pattern_matches_thingsboard);
    RUN(no_xss_flags_markup_and_templates);
    RUN(uuids_are_v7_and_ordered);
    RUN(tokens_and_password_hashes);
    RUN(queue_pops_in_order_and_times_out);
    RUN(utf8_clip_never_cuts_a_character);
    return test_report("test_util");
}
