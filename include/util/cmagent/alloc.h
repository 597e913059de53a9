/* alloc.h: the agent's one allocation policy. Out-of-memory aborts with a message (as redis and git
 * do) rather than returning an error nobody tests: every allocation of the agent goes through these
 * (cJSON's too: the api installs them as its hooks), so none is left unchecked. */
#ifndef CMAGENT_ALLOC_H
#define CMAGENT_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* Duplicates s; NULL stays NULL. */
char *xstrdup_or_null(const char *s);

#endif
