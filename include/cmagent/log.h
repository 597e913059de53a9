/* log.h: leveled logging to stderr. The level is checked before the arguments are evaluated. */
#ifndef CMAGENT_LOG_H
#define CMAGENT_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

/* Parses "error", "warning", "info" or "debug". Returns 0 and sets *out, or -1 for another word. */
int log_level_parse(const char *word, enum log_level *out);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...) do { if ((lvl) <= log_threshold) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
