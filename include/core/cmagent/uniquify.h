/* uniquify.h: ThingsBoard 4.2's nameConflictPolicy on create (customer, device, asset, edge,
 * dashboard): FAIL keeps a taken name (and the entity's own uniqueness rule answers), UNIQUIFY
 * appends the separator and 6 random letters or digits (RANDOM) or the first free 1, 2, 3, ...
 * (INCREMENTAL), as AbstractEntityService.uniquifyEntityName does. */
#ifndef CMAGENT_CORE_UNIQUIFY_H
#define CMAGENT_CORE_UNIQUIFY_H

#include <stddef.h>

enum name_conflict_policy { NAME_CONFLICT_FAIL, NAME_CONFLICT_UNIQUIFY };
enum uniquify_strategy { UNIQUIFY_RANDOM, UNIQUIFY_INCREMENTAL };

struct name_conflict {
    enum name_conflict_policy policy;
    const char *separator;            /* default "_" */
    enum uniquify_strategy strategy;
};

/* When *name is among taken[0..n) (every name of the owner that starts with *name), replaces it
 * (heap) with the first candidate not among them. */
void name_uniquify(char **name, const struct name_conflict *nc, char *const *taken, size_t n);

#endif
