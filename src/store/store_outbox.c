/* store_outbox.c: SQL of the outbox table, the event_seq counter and the per-tenant counters
 * (tenant_event_seq), and the outbox row it reads. */
#include "cmagent/store_outbox.h"

#include "cmagent/model.h"
#include "store_int.h"

#include <stdlib.h>

void outbox_events_free_items(struct outbox_event *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].entity_type);
        free(items[i].event_type);
        free(items[i].payload);
        items[i].entity_type = items[i].event_type = items[i].payload = NULL;
    }
}

void outbox_events_free(struct outbox_event *items, size_t n)
{
    if (items == NULL)
        return;
    outbox_events_free_items(items, n);
    free(items);
}

static const char current_seq_sql[] = "SELECT value FROM counter WHERE name = 'event_seq'";

/* Two statements rather than UPDATE ... RETURNING, which builds and drops a temporary table on
 * every call (perf: as costly as inserting the customer). */
int store_outbox_take_seqs(struct store *s, int64_t count, int64_t *last)
{
    static const char bump[] = "UPDATE counter SET value = value + ? WHERE name = 'event_seq'";
    sql_stmt *st = store_stmt(s, bump);
    *last = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, count);
    int rc = store_exec_stmt(s, st);
    return rc != STORE_OK ? rc : store_query_int(s, store_stmt(s, current_seq_sql), last);
}

int store_outbox_next_seq(struct store *s, int64_t *seq) { return store_outbox_take_seqs(s, 1, seq); }

int store_outbox_take_tenant_seqs(struct store *s, const char *tenant_id, int64_t count, int64_t *last)
{
    static const char bump[] =
        "INSERT INTO tenant_event_seq(tenant_id, value) VALUES (?, ?)"
        " ON CONFLICT (tenant_id) DO UPDATE SET value = tenant_event_seq.value + excluded.value";
    static const char read[] = "SELECT value FROM tenant_event_seq WHERE tenant_id = ?";
    sql_stmt *st = store_stmt(s, bump);
    *last = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_int64(st, 2, count);
    int rc = store_exec_stmt(s, st);
    if (rc != STORE_OK || (st = store_stmt(s, read)) == NULL)
        return rc != STORE_OK ? rc : STORE_ERROR;
    bind_text(st, 1, tenant_id);
    return store_query_int(s, st, last);
}

int store_outbox_last_seq(struct store *s, int64_t *seq)
{
    return store_query_int(s, store_stmt(s, current_seq_sql), seq);
}

int store_outbox_insert(struct store *s, const struct outbox_event *ev, int64_t ts)
{
    static const char sql[] =
        "INSERT INTO outbox(seq, ts, tenant_id, entity_type, event_type, payload) VALUES (?, ?, ?, ?, ?, ?)";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, ev->seq);
    bind_int64(st, 2, ts);
    bind_text(st, 3, ev->tenant_id);
    bind_text(st, 4, ev->entity_type);
    bind_text(st, 5, ev->event_type);
    bind_text(st, 6, ev->payload);
    return store_exec_stmt(s, st);
}

static void read_row(sql_stmt *st, void *row, const void *arg)
{
    struct outbox_event *r = row;
    (void)arg;
    r->seq = column_int64(st, 0);
    column_id(st, 1, r->tenant_id);
    r->entity_type = column_text(st, 2);
    r->event_type = column_text(st, 3);
    r->payload = column_text(st, 4);
}

static void free_rows(void *rows, size_t n) { outbox_events_free(rows, n); }

static int read_rows(struct store *s, sql_stmt *st, struct outbox_event **out, size_t *n)
{
    void *rows;
    int rc = store_collect(s, st, sizeof **out, read_row, NULL, free_rows, &rows, n);
    *out = rows;
    return rc;
}

int store_outbox_unpublished(struct store *s, int64_t after_seq, int64_t limit, struct outbox_event **out, size_t *n)
{
    static const char sql[] =
        "SELECT seq, tenant_id, entity_type, event_type, payload FROM outbox"
        " WHERE published = 0 AND seq > ? ORDER BY seq LIMIT ?";
    sql_stmt *st = store_stmt(s, sql);
    *out = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, after_seq);
    bind_int64(st, 2, limit);
    return read_rows(s, st, out, n);
}

int store_outbox_for_tenant(struct store *s, const char *tenant_id, int64_t after_seq, int64_t limit,
                            struct outbox_event **out, size_t *n)
{
    static const char sql[] =
        "SELECT seq, tenant_id, entity_type, event_type, payload FROM outbox"
        " WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?";
    sql_stmt *st = store_stmt(s, sql);
    *out = NULL;
    *n = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_text(st, 1, tenant_id);
    bind_int64(st, 2, after_seq);
    bind_int64(st, 3, limit);
    return read_rows(s, st, out, n);
}

int store_outbox_mark_published(struct store *s, int64_t first, int64_t last)
{
    static const char sql[] = "UPDATE outbox SET published = 1 WHERE seq BETWEEN ? AND ? AND published = 0";
    sql_stmt *st = store_stmt(s, sql);
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, first);
    bind_int64(st, 2, last);
    return store_exec_stmt(s, st);
}

int store_outbox_purge(struct store *s, int64_t before_ts, int64_t *deleted)
{
    static const char sql[] = "DELETE FROM outbox WHERE published = 1 AND ts < ?";
    sql_stmt *st = store_stmt(s, sql);
    *deleted = 0;
    if (st == NULL)
        return STORE_ERROR;
    bind_int64(st, 1, before_ts);
    int rc = store_exec_stmt(s, st);
    if (rc == STORE_OK)
        *deleted = store_changes(s);
    return rc;
}
