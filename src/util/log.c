/* log.c: one line per message on stderr, with a UTC timestamp and the level. Thread-safe (stdio locks).
 * And the throttle of messages that come in floods. */
#include "cmagent/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int log_level_parse(const char *word, enum log_level *out)
{
    for (int i = 0; i <= (int)LOG_LEVEL_DEBUG; i++) {
        if (strcmp(word, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    flockfile(stderr);
    fprintf(stderr, "%s.%03dZ cmagent %s: ", stamp, (int)(tv.tv_usec / 1000), level_names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_throttle_pass(struct log_throttle *t, int64_t now_ms, uint64_t *left_out)
{
    pthread_mutex_lock(&throttle_lock);
    bool pass = now_ms >= t->next_ms;
    if (pass) {
        *left_out = t->left_out;
        t->left_out = 0;
        t->next_ms = now_ms + t->period_ms;
    } else {
        t->left_out++;
    }
    pthread_mutex_unlock(&throttle_lock);
    return pass;
}
