/* test_util.c: the small utilities: e-mail pattern, NoXss, UUIDs, tokens, password hashes, queue,
 * the verifiers' fair queue, the token buckets of the rate limits and the CSV reader. */
#include "test.h"

#include "cmagent/csv.h"
#include "cmagent/fairq.h"
#include "cmagent/queue.h"
#include "cmagent/secret.h"
#include "cmagent/store_rate.h"
#include "cmagent/uuid.h"
#include "cmagent/validate.h"
#include "ratelimit.h"

#include <stdlib.h>

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

static struct fairq_item *take_now(struct fairq *q)
{
    fairq_close(q); /* takes what waits without blocking; closing refuses only new pushes */
    return fairq_take(q);
}

struct handed {
    struct fairq_item *items[16];
    size_t n;
};

static void record_hand_on(void *arg, struct fairq_item *x)
{
    struct handed *h = arg;
    h->items[h->n++] = x;
}

static void fair_queue_serves_quiet_buckets_first_and_hands_on_in_order(void)
{
    struct fairq *q = fairq_new(3);
    struct fairq_item flood[4], quiet[2], other;
    struct handed h = { .n = 0 };

    for (int i = 0; i < 4; i++)
        CHECK(fairq_push(q, "tenant-a", &flood[i]) == (i < 3)); /* bounded: the fourth is refused */
    CHECK_INT(fairq_waiting(q, "tenant-a"), 3);
    struct fairq_item *a0 = fairq_take(q);
    CHECK(a0 == &flood[0]);
    /* a bucket with nothing waiting is served before the busy one's next item */
    CHECK(fairq_push(q, "tenant-b", &quiet[0]));
    CHECK(fairq_push(q, "tenant-b", &quiet[1]));
    CHECK(fairq_push(q, "", &other));
    struct fairq_item *b0 = fairq_take(q), *u0 = fairq_take(q);
    CHECK(b0 == &quiet[0] && u0 == &other);
    /* then in turn: a, b, a */
    struct fairq_item *a1 = fairq_take(q), *b1 = fairq_take(q), *a2 = take_now(q);
    CHECK(a1 == &flood[1] && b1 == &quiet[1] && a2 == &flood[2]);
    CHECK(fairq_take(q) == NULL); /* closed and empty */
    CHECK(!fairq_push(q, "tenant-c", &flood[3]));

    /* finished out of order, handed on in each bucket's order */
    fairq_finish(q, a2, record_hand_on, &h);
    fairq_finish(q, a1, record_hand_on, &h);
    CHECK_INT(h.n, 0);
    fairq_finish(q, b1, record_hand_on, &h);
    fairq_finish(q, u0, record_hand_on, &h);
    CHECK(h.n == 1 && h.items[0] == &other);
    fairq_finish(q, a0, record_hand_on, &h);
    CHECK(h.n == 4 && h.items[1] == &flood[0] && h.items[2] == &flood[1] && h.items[3] == &flood[2]);
    fairq_finish(q, b0, record_hand_on, &h);
    CHECK(h.n == 6 && h.items[4] == &quiet[0] && h.items[5] == &quiet[1]);
    fairq_free(q);
}

static void token_buckets_hold_a_period_and_refill(void)
{
    struct ratelimit *t = ratelimit_new("test");
    char key[32];
    int64_t now = 1000000;

    for (int i = 0; i < 3; i++)
        CHECK(ratelimit_take(t, "a@x.io", 3, 60000, now));
    CHECK(!ratelimit_take(t, "a@x.io", 3, 60000, now));
    CHECK(ratelimit_take(t, "b@x.io", 3, 60000, now));       /* a key of its own */
    CHECK(!ratelimit_take(t, "a@x.io", 3, 60000, now + 19000)); /* 0.95 of a token back */
    CHECK(ratelimit_take(t, "a@x.io", 3, 60000, now + 20000));
    CHECK(ratelimit_take(t, "anyone", 0, 60000, now));        /* 0: no limit */
    /* a flood of new keys does not push out a spent bucket */
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        (void)ratelimit_take(t, key, 3, 60000, now + 20000);
    }
    CHECK(!ratelimit_take(t, "a@x.io", 3, 60000, now + 20000));
    ratelimit_free(t);
}

/* The shared buckets' statement (store_rate.c) refills and takes as the table in memory does. */
static void database_buckets_hold_a_period_and_refill(void)
{
    char err[256];
    struct store *s = store_open(":memory:", err, sizeof err);
    int64_t now = 1000000, purged = 0;
    bool granted = false;

    CHECK(s != NULL);
    CHECK(!store_shares_buckets(":memory:") && store_shares_buckets("postgresql://u@h/db"));
    for (int i = 0; i < 3; i++) {
        CHECK(store_rate_take(s, "email:a", 3, 60000, now, &granted) == STORE_OK);
        CHECK(granted);
    }
    CHECK(store_rate_take(s, "email:a", 3, 60000, now, &granted) == STORE_OK && !granted);
    CHECK(store_rate_take(s, "email:b", 3, 60000, now, &granted) == STORE_OK && granted);
    CHECK(store_rate_take(s, "email:a", 3, 60000, now + 19000, &granted) == STORE_OK && !granted);
    CHECK(store_rate_take(s, "email:a", 3, 60000, now + 20000, &granted) == STORE_OK && granted);
    CHECK(store_rate_take(s, "email:a", 3, 60000, now + 20000, &granted) == STORE_OK && !granted);
    /* an earlier clock (another agent's, a little behind) refills nothing and moves nothing back */
    CHECK(store_rate_take(s, "email:a", 3, 60000, now, &granted) == STORE_OK && !granted);
    CHECK(store_rate_take(s, "email:a", 3, 60000, now + 10 * 60000, &granted) == STORE_OK && granted);
    CHECK(store_rate_purge(s, now + 1, &purged) == STORE_OK && purged == 1); /* b only */
    store_close(s);
}

/* The records read, each "line:field|field|...", joined by "\n". */
struct csv_seen {
    char text[1024];
    size_t used;
};

static bool csv_collect(void *arg, size_t index, size_t line, char **fields, size_t n)
{
    struct csv_seen *s = arg;
    (void)index;
    s->used += (size_t)snprintf(s->text + s->used, sizeof s->text - s->used, "%s%zu:", s->used ? "\n" : "", line);
    for (size_t i = 0; i < n; i++)
        s->used += (size_t)snprintf(s->text + s->used, sizeof s->text - s->used, "%s%s", i ? "|" : "", fields[i]);
    return true;
}

static const char *csv_of(const char *text, struct csv_seen *s, char *err)
{
    memset(s, 0, sizeof *s);
    err[0] = '\0';
    return csv_read(text, strlen(text), csv_collect, s, err, 256) == CSV_OK ? s->text : err;
}

static void csv_reads_rfc_4180(void)
{
    struct csv_seen s;
    char err[256];
    CHECK_STR(csv_of("a,b\r\n1,2\r\n", &s, err), "1:a|b\n2:1|2");
    CHECK_STR(csv_of("a,b\n1,2", &s, err), "1:a|b\n2:1|2");            /* no line break at the end */
    CHECK_STR(csv_of("\xEF\xBB\xBF" "a\n\n\nx\n", &s, err), "1:a\n4:x"); /* BOM, empty lines skipped */
    CHECK_STR(csv_of("a,b,c\n,,\n", &s, err), "1:a|b|c\n2:||");          /* empty fields */
    CHECK_STR(csv_of("\"x, y\",\"l1\nl2\",\"say \"\"hi\"\"\"\nz,w,v\n", &s, err),
              "1:x, y|l1\nl2|say \"hi\"\n3:z|w|v");                       /* quoted comma, newline, "" */
    CHECK_STR(csv_of("\"\",\"\"\"\"\n", &s, err), "1:|\"");            /* "" and """" */
    CHECK_STR(csv_of("a\r\nb\rc\n", &s, err), "1:a\n2:b\rc");          /* a lone CR is data */
    CHECK_STR(csv_of("a\n\"open,x\n", &s, err),
              "Malformed CSV on line 2: a quoted field is not closed (a '\"' is missing)");
    CHECK(strstr(csv_of("a\nb\"c\n", &s, err), "line 2: a '\"' inside an unquoted field") != NULL);
    CHECK(strstr(csv_of("a\n\"b\"c\n", &s, err), "line 2: text after the closing") != NULL);
    CHECK(strstr(csv_of("a\n\"x\ny\"\n\"q\"z\n", &s, err), "line 4: text after") != NULL);
    const char nul[] = "a\nb\0c\n";
    memset(&s, 0, sizeof s);
    CHECK_INT(csv_read(nul, sizeof nul - 1, csv_collect, &s, err, sizeof err), CSV_MALFORMED);
    CHECK(strstr(err, "line 2: a NUL byte") != NULL);
}

int main(void)
{
    RUN(email_pattern_matches_thingsboard);
    RUN(no_xss_flags_markup_and_templates);
    RUN(uuids_are_v7_and_ordered);
    RUN(tokens_and_password_hashes);
    RUN(queue_pops_in_order_and_times_out);
    RUN(fair_queue_serves_quiet_buckets_first_and_hands_on_in_order);
    RUN(token_buckets_hold_a_period_and_refill);
    RUN(database_buckets_hold_a_period_and_refill);
    RUN(csv_reads_rfc_4180);
    return test_report("test_util");
}
