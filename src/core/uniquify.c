/* uniquify.c: the UNIQUIFY name-conflict policy (uniquify.h). */
#include "cmagent/uniquify.h"

#include "cmagent/alloc.h"
#include "cmagent/secret.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_taken(char *const *taken, size_t n, const char *candidate)
{
    for (size_t i = 0; i < n; i++)
        if (taken[i] != NULL && strcmp(taken[i], candidate) == 0)
            return true;
    return false;
}

void name_uniquify(char **name, const struct name_conflict *nc, char *const *taken, size_t n)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const char *sep = nc->separator ? nc->separator : "_";

    if (!name_taken(taken, n, *name))
        return;
    size_t len = strlen(*name) + strlen(sep) + 24;
    char *candidate = xcalloc(len, 1);
    for (int64_t i = 1;; i++) {
        if (nc->strategy == UNIQUIFY_INCREMENTAL) {
            snprintf(candidate, len, "%s%s%lld", *name, sep, (long long)i);
        } else {
            unsigned char r[6];
            char suffix[7];
            secret_random(r, sizeof r);
            for (int j = 0; j < 6; j++)
                suffix[j] = alnum[r[j] % (sizeof alnum - 1)];
            suffix[6] = '\0';
            snprintf(candidate, len, "%s%s%s", *name, sep, suffix);
        }
        if (!name_taken(taken, n, candidate))
            break;
    }
    free(*name);
    *name = candidate;
}
