/* error.c: the table behind error_status() and error_code(), and message formatting (kept UTF-8). */
#include "cmagent/error.h"

#include "cmagent/utf8.h"

#include <stdarg.h>
#include <stdio.h>

static const struct { int status, code; } table[] = {
#define X(name, status, code) { status, code },
    ERROR_KINDS(X)
#undef X
};

int error_status(enum error_kind kind) { return table[kind].status; }
int error_code(enum error_kind kind) { return table[kind].code; }

int error_set(struct error *e, enum error_kind kind, const char *fmt, ...)
{
    va_list ap;
    e->kind = kind;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    /* A precision ("%.128s") or the buffer's size may have cut a character in two: the message
     * goes into a reply, which is UTF-8. */
    utf8_scrub(e->message);
    return (int)kind;
}

int error_forbidden(struct error *e)
{
    return error_set(e, ERR_FORBIDDEN, "You don't have permission to perform this operation!");
}

int error_limit_reached(struct error *e, const char *what, const char *entity_type, int64_t limit)
{
    error_set(e, ERR_LIMIT_REACHED, "%s limit reached", what);
    e->entity_type = entity_type;
    e->limit = limit;
    return ERR_LIMIT_REACHED;
}

void error_clear(struct error *e)
{
    e->kind = ERR_OK;
    e->message[0] = '\0';
    e->entity_type = NULL;
    e->limit = 0;
}
