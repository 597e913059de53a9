/* log.c: one line per message on stderr, with a UTC timestamp and the level, or one syslog
 * datagram, or one stderr line with a journald priority prefix. Thread-safe (stdio locks, the
 * syslog socket's own lock). And the throttle of messages that come in floods. */
#include "cmagent/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

/* syslog severities of the levels: err, warning, info, debug */
static const int severities[] = { 3, 4, 6, 7 };
#define FACILITY_DAEMON (3 << 3)
#define SYSLOG_LINE_MAX 2048
#define SYSLOG_WAIT_MS 100

static enum log_target target = LOG_TARGET_STDERR;
static pthread_mutex_t syslog_lock = PTHREAD_MUTEX_INITIALIZER;
static int syslog_fd = -1;
static struct sockaddr_un syslog_addr;

int log_target_parse(const char *word, enum log_target *out)
{
    static const char *const names[] = { "stderr", "syslog", "journald" };
    for (int i = 0; i <= (int)LOG_TARGET_JOURNALD; i++) {
        if (strcmp(word, names[i]) == 0) {
            *out = (enum log_target)i;
            return 0;
        }
    }
    return -1;
}

void log_set_target(enum log_target t, const char *syslog_socket)
{
    target = t;
    memset(&syslog_addr, 0, sizeof syslog_addr);
    syslog_addr.sun_family = AF_UNIX;
    snprintf(syslog_addr.sun_path, sizeof syslog_addr.sun_path, "%s", syslog_socket != NULL ? syslog_socket : "");
}

/* Sends one datagram without blocking: a daemon that does not read (its queue full) delays a
 * line by at most SYSLOG_WAIT_MS, then the line goes to stderr. */
static bool send_now_or_soon(const char *line, size_t len)
{
    if (send(syslog_fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len)
        return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return false;
    struct pollfd p = { .fd = syslog_fd, .events = POLLOUT };
    return poll(&p, 1, SYSLOG_WAIT_MS) == 1 && send(syslog_fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
}

/* Sends one datagram, (re)connecting once when the daemon restarted. Under syslog_lock. */
static bool syslog_send(const char *line, size_t len)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (syslog_fd < 0) {
            syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (syslog_fd >= 0 && connect(syslog_fd, (struct sockaddr *)&syslog_addr, sizeof syslog_addr) != 0) {
                close(syslog_fd);
                syslog_fd = -1;
            }
        }
        if (syslog_fd >= 0 && send_now_or_soon(line, len))
            return true;
        if (syslog_fd >= 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false; /* connected, only busy: keep the connection */
        if (syslog_fd >= 0)
            close(syslog_fd);
        syslog_fd = -1;
    }
    return false;
}

/* "<PRI>Mmm dd hh:mm:ss cmagent[pid]: message" (RFC 3164, local time as syslog(3) writes it). */
static bool write_syslog(enum log_level level, const char *fmt, va_list ap)
{
    char line[SYSLOG_LINE_MAX], stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    int n = snprintf(line, sizeof line, "<%d>%s cmagent[%ld]: ", FACILITY_DAEMON | severities[level], stamp,
                     (long)getpid());
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    pthread_mutex_lock(&syslog_lock);
    bool sent = syslog_send(line, strlen(line));
    pthread_mutex_unlock(&syslog_lock);
    return sent;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    va_list ap;

    if (target == LOG_TARGET_SYSLOG) {
        va_start(ap, fmt);
        bool sent = write_syslog(level, fmt, ap);
        va_end(ap);
        if (sent)
            return;
    }
    if (target == LOG_TARGET_JOURNALD) {
        flockfile(stderr);
        fprintf(stderr, "<%d>", severities[level]);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        funlockfile(stderr);
        return;
    }
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
