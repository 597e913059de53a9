/* log.h: leveled logging to stderr, to syslog or for journald. The level is checked before the
 * arguments are evaluated. */
#ifndef CMAGENT_LOG_H
#define CMAGENT_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

/* Parses "error", "warning", "info" or "debug". Returns 0 and sets *out, or -1 for another word. */
int log_level_parse(const char *word, enum log_level *out);

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG, LOG_TARGET_JOURNALD };

/* Parses "stderr", "syslog" or "journald". Returns 0 and sets *out, or -1 for another word. */
int log_target_parse(const char *word, enum log_target *out);

/* Where lines go from now on: stderr with a timestamp (the default); syslog, as RFC 3164
 * datagrams (facility daemon, tag "cmagent[pid]") to the Unix socket syslog_socket, stderr when it
 * cannot be reached; journald, stderr lines with an sd-daemon "<N>" priority prefix. Call before
 * the threads start. */
void log_set_target(enum log_target target, const char *syslog_socket);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) do { if ((lvl) <= log_threshold) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* At most one line per period_ms for a message that can come in floods (a request an attacker may
 * send as fast as the broker takes it), so that it cannot fill the disk: the lines in between are
 * not written but counted, and the next line written says how many were left out. Any thread may
 * use a throttle (the throttles share one lock: they are taken on refusal paths only).
 * Zero-initialise, then set period_ms. */
struct log_throttle {
    int64_t period_ms;
    int64_t next_ms;             /* monotonic ms from which the next line may be written */
    uint64_t left_out;           /* lines not written since the last one */
};

/* Whether a line may be written now (monotonic ms). When it may, *left_out is how many were not
 * written since the last one, and the count starts again. */
bool log_throttle_pass(struct log_throttle *t, int64_t now_ms, uint64_t *left_out);

#endif
