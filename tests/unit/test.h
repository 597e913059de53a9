/* test.h: the unit tests' assertion harness. CHECK() records a failure with file:line and goes on;
 * RUN() runs one case and names it; test_report(name) is main's exit status (nonzero on failure). */
#ifndef CMAGENT_TEST_H
#define CMAGENT_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures, test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* Compares two strings, printing both on a mismatch (NULL compares equal only to NULL). */
#define CHECK_STR(a, b)                                                                              \
    do {                                                                                             \
        const char *check_a_ = (a), *check_b_ = (b);                                                 \
        test_checks++;                                                                               \
        if (!((check_a_ == NULL && check_b_ == NULL) ||                                              \
              (check_a_ != NULL && check_b_ != NULL && strcmp(check_a_, check_b_) == 0))) {          \
            test_failures++;                                                                         \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:      \"%s\"\n  expected: \"%s\"\n", \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
        }                                                                                            \
    } while (0)

/* Compares two integers of any integer types, printing both on a mismatch. */
#define CHECK_INT(a, b)                                                                               \
    do {                                                                                              \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                               \
        test_checks++;                                                                                \
        if (check_a_ != check_b_) {                                                                   \
            test_failures++;                                                                          \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s\n  got:      %lld\n  expected: %lld\n",     \
                    __FILE__, __LINE__, #a, check_a_, check_b_);                                      \
        }                                                                                             \
    } while (0)

#define RUN(fn)                                                                               \
    do {                                                                                      \
        int failures_before_ = test_failures;                                                 \
        fn();                                                                                 \
        fprintf(stderr, "%s %s\n", test_failures == failures_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

static inline int test_report(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures == 0 ? 0 : 1;
}

#endif
