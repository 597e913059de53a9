/* alloc.c: the allocation policy of alloc.h: out-of-memory logs and aborts. */
#include "cmagent/alloc.h"

#include "cmagent/log.h"

#include <stdlib.h>
#include <string.h>

static void *checked(void *p)
{
    if (p == NULL) {
        log_error("Out of memory.");
        abort();
    }
    return p;
}

void *xmalloc(size_t size) { return checked(malloc(size ? size : 1)); }

void *xcalloc(size_t n, size_t size) { return checked(calloc(n ? n : 1, size ? size : 1)); }

void *xrealloc(void *p, size_t size) { return checked(realloc(p, size ? size : 1)); }

char *xstrdup(const char *s) { return checked(strdup(s)); }

char *xstrdup_or_null(const char *s) { return s == NULL ? NULL : xstrdup(s); }
