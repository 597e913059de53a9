/* sql_pg.h: what the PostgreSQL engine's own files share (sql_pg.c, the statements and
 * transactions; sql_pg_conn.c, the connection's life: opening, losing it, opening it again). */
#ifndef CMAGENT_STORE_SQL_PG_H
#define CMAGENT_STORE_SQL_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* A reconnection is tried at most this often while the server cannot be reached; in between a
 * request fails at once with the last attempt's reason. */
#define PG_RETRY_MS 250

struct pg_conn {
    PGconn *pg;
    int64_t changes;     /* rows the last statement changed */
    unsigned generation; /* counts reconnections: a statement prepared on an older one is re-prepared */
    unsigned next_name;
    unsigned publisher;  /* the generation that took the publisher lock; 0: not held */
    bool reader;         /* a reader's connection (for the log lines) */
    bool in_txn;         /* the caller began a transaction and has not ended it (it may be lost) */
    bool lost;           /* known to be lost: reopened no sooner than retry_at_ms */
    int64_t lost_at_ms;  /* monotonic, when it was found lost */
    int64_t retry_at_ms; /* monotonic, the next reconnection attempt */
    char reason[384];    /* libpq's account of the loss or of the last failed attempt, on one line */
    const char *queued[16]; /* the request's savepoint commands waiting for the next statement (sql_pg.c) */
    int nqueued;
};

/* Opens a connection to uri with the engine's defaults for what the URI does not set (a connect
 * timeout, TCP keepalives and a TCP user timeout, so that a server gone silent is found out
 * instead of waited for), and runs the session's settings. STORE_OK, or STORE_ERROR with the
 * reason in s->errmsg (c->pg is set either way). */
int pg_conn_open(struct store *s, struct pg_conn *c, const char *uri);

/* Whether a failed result (res may be NULL) means the connection or the server went away rather
 * than the statement failing: the connection is bad, or SQLSTATE class 08 or 57P01..57P03. */
bool pg_conn_failure(struct pg_conn *c, const PGresult *res);

/* Records that the connection was found lost while doing what (e.g. "the transaction"): sets
 * s->errmsg and s->unavailable, logs the loss once, and returns STORE_UNAVAILABLE. */
int pg_conn_lost(struct store *s, const char *what);

/* Makes sure the connection is usable for a statement. Connected: STORE_OK. Lost inside a
 * transaction the caller began: STORE_UNAVAILABLE (the transaction is gone; never reconnected
 * behind the caller's back, which would run the rest of it outside any transaction). Lost
 * otherwise: reopened (at once when now, else no sooner than PG_RETRY_MS after the last attempt)
 * with the session's settings, the generation counted so that statements are prepared again;
 * STORE_OK, or STORE_UNAVAILABLE with the reason. */
int pg_conn_ensure(struct store *s, bool now);

/* A message of libpq's on one line: newlines and tabs become spaces, runs of spaces one, no
 * trailing space. Writes into out (len bytes). */
void pg_one_line(const char *msg, char *out, size_t len);

#endif
