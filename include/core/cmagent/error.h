/* error.h: the error model. Every failure the agent reports is one kind from this table, which
 * fixes its HTTP-like status and ThingsBoard errorCode (protocol §3), plus a message naming the
 * object and the problem. */
#ifndef CMAGENT_ERROR_H
#define CMAGENT_ERROR_H

#include <stdint.h>

#define ERROR_KINDS(X)                 \
    X(OK,            200, 0)           \
    X(BAD_REQUEST,   400, 31)          \
    X(UNAUTHORIZED,  401, 10)          \
    X(TOKEN_EXPIRED, 401, 11)          \
    X(FORBIDDEN,     403, 20)          \
    X(LIMIT_REACHED, 403, 41)          \
    X(NOT_FOUND,     404, 32)          \
    X(CONFLICT,      409, 35)          \
    X(TOO_LARGE,     413, 31)          \
    X(NOT_APPLIED,   424, 31)          \
    X(RATE_LIMITED,  429, 33)          \
    X(INTERNAL,      500, 2)           \
    X(DATABASE,      500, 46)          \
    X(UNAVAILABLE,   503, 46)

enum error_kind {
#define X(name, status, code) ERR_##name,
    ERROR_KINDS(X)
#undef X
};

#define ERROR_MESSAGE_MAX 1024

struct error {
    enum error_kind kind;
    char message[ERROR_MESSAGE_MAX];
    const char *entity_type; /* LIMIT_REACHED: the entity type whose limit was hit */
    int64_t limit;           /* LIMIT_REACHED: the limit */
};

int error_status(enum error_kind kind);     /* 400 */
int error_code(enum error_kind kind);       /* 31 */

/* Records kind and the formatted message in e, and returns kind (never ERR_OK unless asked). */
int error_set(struct error *e, enum error_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The permission failure, with ThingsBoard's exact message. Returns ERR_FORBIDDEN. */
int error_forbidden(struct error *e);

/* A tenant limit (or another count limit) reached: 403 errorCode 41 "<what> limit reached" with the
 * entity type and the limit the reply names. Returns ERR_LIMIT_REACHED. */
int error_limit_reached(struct error *e, const char *what, const char *entity_type, int64_t limit);

void error_clear(struct error *e);

#endif
