/* store_schema.h: the ordered list of schema migrations. Step i brings the database from
 * user_version i to i + 1. Steps are append-only: never edit one that has shipped. */
#ifndef CMAGENT_STORE_SCHEMA_H
#define CMAGENT_STORE_SCHEMA_H

#include <stddef.h>

const char *const *store_schema_migrations(size_t *count);

#endif
