/* store_rate.c: SQL of the rate_bucket table (store_rate.h). One statement refills and takes: the
 * bucket's tokens grow by burst per period since last_ms (capped at burst), one is taken when at
 * least one is there, and granted says whether it was. The row lock of the UPDATE orders agents
 * taking from one bucket at once, so no take is lost. Written with CASE and CAST only, so that one
 * text runs on both engines. */
#include "cmagent/store_rate.h"

#include "store_int.h"

bool store_shares_buckets(const char *database) { return database != NULL && sql_is_postgres_uri(database); }

int store_rate_connection(struct store *s)
{
    if (s->eng->dialect != SQL_POSTGRES)
        return STORE_OK;
    return s->eng->exec(s, "SET synchronous_commit = off");
}

#define BURST "CAST(?2 AS DOUBLE PRECISION)"
#define PERIOD "CAST(?3 AS DOUBLE PRECISION)"
#define NOW "CAST(?4 AS BIGINT)"
#define IDLE "(CASE WHEN " NOW " > rate_bucket.last_ms THEN " NOW " - rate_bucket.last_ms ELSE 0 END)"
#define FILLED "(rate_bucket.tokens + " IDLE " * " BURST " / " PERIOD ")"
#define HELD "(CASE WHEN " FILLED " > " BURST " THEN " BURST " ELSE " FILLED " END)"

int store_rate_take(struct store *s, const char *name, int64_t burst, int64_t period_ms, int64_t now_ms,
                    bool *granted)
{
    static const char sql[] =
        "INSERT INTO rate_bucket(name, tokens, last_ms, granted) VALUES (?1, " BURST " - 1, " NOW ", 1)"
        " ON CONFLICT(name) DO UPDATE SET"
        " granted = CASE WHEN " HELD " >= 1 THEN 1 ELSE 0 END,"
        " tokens = CASE WHEN " HELD " >= 1 THEN " HELD " - 1 ELSE " HELD " END,"
        " last_ms = CASE WHEN " NOW " > rate_bucket.last_ms THEN " NOW " ELSE rate_bucket.last_ms END"
        " RETURNING granted";
    int64_t got = 0;
    sql_stmt *st = store_stmt(s, sql);
    *granted = true;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, name);
    bind_int64(st, 2, burst);
    bind_int64(st, 3, period_ms);
    bind_int64(st, 4, now_ms);
    int rc = store_query_int(s, st, &got);
    if (rc == STORE_OK)
        *granted = got != 0;
    return rc;
}

#undef HELD
#undef FILLED
#undef IDLE
#undef NOW
#undef PERIOD
#undef BURST

int store_rate_purge(struct store *s, int64_t before_ms, int64_t *deleted)
{
    sql_stmt *st = store_stmt(s, "DELETE FROM rate_bucket WHERE last_ms < ?");
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, before_ms);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
