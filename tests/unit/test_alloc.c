/* test_alloc.c: the one allocation policy (alloc.h): an allocation that fails logs "Out of memory."
 * and aborts, whether the agent asks for it (xmalloc, xcalloc, xrealloc) or cJSON does once the api
 * is initialised (its hooks); cJSON still parses, prints and frees through them. Each failing case
 * runs in a child process whose stderr the test reads. */
#include "cmagent/alloc.h"
#include "cmagent/api.h"

#include "test.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A request no allocator grants (and ASan, told to, answers with NULL like libc). */
#define HUGE_SIZE ((size_t)1 << 62)

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* Runs fn in a child; true when it died of SIGABRT after writing "Out of memory." on stderr. */
static bool aborts_out_of_memory(void (*fn)(void))
{
    int fds[2];
    char out[4096] = "";
    size_t len = 0;
    int status = 0;

    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    for (ssize_t n; len + 1 < sizeof out && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0;)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(out, "Out of memory.") != NULL;
}

static void *volatile sink;

static void huge_xmalloc(void) { sink = xmalloc(HUGE_SIZE); }
static void huge_xcalloc(void) { sink = xcalloc(HUGE_SIZE, 4); }
static void huge_xrealloc(void) { sink = xrealloc(NULL, HUGE_SIZE); }

static void huge_cjson_after_api_init(void)
{
    struct api_settings s = { 0 };
    api_init(&s);
    sink = cJSON_malloc(HUGE_SIZE);
}

static void huge_cjson_without_hooks(void) { sink = cJSON_malloc(HUGE_SIZE); }

static void test_agent_allocations_abort(void)
{
    CHECK(aborts_out_of_memory(huge_xmalloc));
    CHECK(aborts_out_of_memory(huge_xcalloc));
    CHECK(aborts_out_of_memory(huge_xrealloc));
}

static void test_cjson_allocates_through_the_policy(void)
{
    /* cJSON's own default answers NULL (the case the hooks remove); after api_init it aborts. */
    CHECK(!aborts_out_of_memory(huge_cjson_without_hooks));
    CHECK(aborts_out_of_memory(huge_cjson_after_api_init));
}

static void test_cjson_works_through_the_hooks(void)
{
    struct api_settings s = { 0 };
    api_init(&s);
    cJSON *v = cJSON_Parse("{\"title\":\"Company A\",\"n\":[1,2,3],\"long\":\""
                           "0123456789012345678901234567890123456789012345678901234567890123456789"
                           "0123456789012345678901234567890123456789012345678901234567890123456789"
                           "0123456789012345678901234567890123456789012345678901234567890123456789"
                           "0123456789012345678901234567890123456789012345678901234567890123456789\"}");
    CHECK(v != NULL);
    char *text = cJSON_PrintUnformatted(v);
    CHECK(text != NULL && strncmp(text, "{\"title\":\"Company A\",\"n\":[1,2,3],\"long\":\"0123", 45) == 0);
    cJSON_free(text);
    cJSON_Delete(v);
    api_release();
}

static void test_xstrdup(void)
{
    char *a = xstrdup("abc");
    CHECK_STR(a, "abc");
    CHECK(xstrdup_or_null(NULL) == NULL);
    free(a);
}

int main(void)
{
    RUN(test_agent_allocations_abort);
    RUN(test_cjson_allocates_through_the_policy);
    RUN(test_cjson_works_through_the_hooks);
    RUN(test_xstrdup);
    return test_report("test_alloc");
}
