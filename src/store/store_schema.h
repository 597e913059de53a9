/* store_schema.h: the ordered list of schema migrations, one list per SQL dialect with the same
 * steps. Step i brings the database from schema version i to i + 1. Steps are append-only: never
 * edit one that has shipped. */
#ifndef CMAGENT_STORE_SCHEMA_H
#define CMAGENT_STORE_SCHEMA_H

#include "sql.h"

#include <stddef.h>

const char *const *store_schema_migrations(enum sql_dialect dialect, size_t *count);
/* PostgreSQL's text of the same steps (store_schema_pg.c). */
const char *const *store_schema_pg_migrations(size_t *count);

#endif
