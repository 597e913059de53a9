/* sql_pg_conn.c: the life of a PostgreSQL engine connection (sql_pg.h). It opens with bounds of
 * its own on waiting (connect timeout, keepalives, TCP user timeout) unless the URI sets them, so
 * a dead or silent server is an error within seconds, never a hang. A connection found lost (the
 * server stopped, restarted or went away) is logged once, and every request that needs it fails at
 * once with STORE_UNAVAILABLE (503) while it is down; it is reopened between transactions, at most
 * every PG_RETRY_MS, with the session's settings run again and its statements prepared again on
 * first use. A loss inside a transaction ends that transaction: the caller rolls back, and only
 * then may the connection be reopened. */
#include "sql_pg.h"
#include "store_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"

#include <stdio.h>
#include <string.h>

void pg_one_line(const char *msg, char *out, size_t len)
{
    size_t o = 0;
    bool space = false;
    if (len == 0)
        return;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && o + 1 < len; p++) {
        bool white = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
        if (white) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len)
            out[o++] = ' ';
        space = false;
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* The session's settings, on every new connection (a reopened one starts with the server's). */
static int session_setup(struct store *s, struct pg_conn *c)
{
    PGresult *res = PQexec(c->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? STORE_OK : STORE_ERROR;
    if (rc != STORE_OK)
        pg_one_line(PQresultErrorMessage(res), s->errmsg, sizeof s->errmsg);
    PQclear(res);
    return rc;
}

/* Notices (e.g. "relation already exists, skipping") are not the agent's log's business. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_conn_open(struct store *s, struct pg_conn *c, const char *uri)
{
    /* Earlier keywords are overridden by what the URI (expanded from dbname) sets itself. */
    static const char *const keys[] = { "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                        "keepalives_count", "tcp_user_timeout", "fallback_application_name",
                                        "dbname", NULL };
    const char *values[] = { "5", "1", "10", "5", "3", "30000", "cmagent", uri, NULL };

    c->pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        pg_one_line(PQerrorMessage(c->pg), s->errmsg, sizeof s->errmsg);
        return STORE_ERROR;
    }
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    return session_setup(s, c);
}

bool pg_conn_failure(struct pg_conn *c, const PGresult *res)
{
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return true;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
           strcmp(state, "57P03") == 0);
}

static const char *role(const struct pg_conn *c) { return c->reader ? "a reader's" : "the writer's"; }

static int unavailable(struct store *s, const char *what)
{
    struct pg_conn *c = s->conn;
    snprintf(s->errmsg, sizeof s->errmsg, "%s: %s", what, c->reason[0] != '\0' ? c->reason : "connection lost");
    s->unavailable = true;
    return STORE_UNAVAILABLE;
}

int pg_conn_lost(struct store *s, const char *what)
{
    struct pg_conn *c = s->conn;
    if (!c->lost) {
        c->lost = true;
        c->lost_at_ms = clock_mono_ms();
        c->retry_at_ms = c->lost_at_ms; /* the first attempt may follow at once */
        pg_one_line(PQerrorMessage(c->pg), c->reason, sizeof c->reason);
        log_warn("PostgreSQL: %s connection is lost (%s); the requests that need it answer 503 until it is "
                 "reopened (tried again at most every %d ms).", role(c), c->reason, PG_RETRY_MS);
    }
    return unavailable(s, what);
}

int pg_conn_ensure(struct store *s, bool now)
{
    struct pg_conn *c = s->conn;
    if (!c->lost && PQstatus(c->pg) == CONNECTION_OK)
        return STORE_OK;
    if (c->in_txn)
        return pg_conn_lost(s, "the connection to the PostgreSQL server was lost during the transaction");
    if (!c->lost)
        pg_conn_lost(s, "the PostgreSQL server is unreachable");
    int64_t t = clock_mono_ms();
    if (!now && t < c->retry_at_ms)
        return unavailable(s, "the PostgreSQL server is unreachable");
    PQreset(c->pg);
    c->retry_at_ms = clock_mono_ms() + PG_RETRY_MS;
    if (PQstatus(c->pg) != CONNECTION_OK || session_setup(s, c) != STORE_OK) {
        pg_one_line(PQerrorMessage(c->pg), c->reason, sizeof c->reason);
        return unavailable(s, "the PostgreSQL server is unreachable");
    }
    c->generation++;
    c->nqueued = 0;
    c->lost = false;
    c->reason[0] = '\0';
    s->unavailable = false;
    log_info("PostgreSQL: reopened %s connection after %lld ms.", role(c), (long long)(clock_mono_ms() - c->lost_at_ms));
    return STORE_OK;
}
