/* readers.c: the reader threads. A request that writes nothing (api_reads_only: get, list,
 * search, replay, stats) is queued here by the receiving thread instead of the writer's queue; a
 * reader runs it on a read-only connection of its own (WAL lets it read while the writer writes),
 * in a fresh read transaction, and publishes its reply at once. So reads run beside the writer,
 * never behind its commit's fsync, and a deep offset page delays no write. A client sees its own
 * acknowledged writes: a write is answered only after its commit, so a read that arrives after the
 * reply begins its transaction on a snapshot that holds it. reader_threads 0, or a database that
 * cannot be opened a second time, leaves the reads to the writer, as before. A read whose database
 * cannot be reached (PostgreSQL down or restarting) answers 503 at once; the engine reopens the
 * connection when the server is back. */
#include "agent_int.h"

#include "cmagent/clock.h"
#include "cmagent/stats.h"
#include "cmagent/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one read in its own read transaction and publishes its reply. */
static void run_read(struct agent *a, struct store *store, struct work *w)
{
    const struct transport_message *m = w->msg;
    struct ctx ctx;
    struct api_request req;
    struct api_reply reply;

    memset(&ctx, 0, sizeof ctx);
    ctx.store = store;
    ctx.settings = &a->settings;
    ctx.now = clock_now_ms();
    agent_request_of(a, m, &req);
    if (store_begin_read(store) != STORE_OK) {
        char *topic = agent_reply_topic_of(a, m);
        char msg[700];
        bool down = store_unavailable(store);
        snprintf(msg, sizeof msg, "%s: %s", down ? "Database unavailable" : "Database error", store_errmsg(store));
        char *body = api_error_body(down ? ERR_UNAVAILABLE : ERR_DATABASE, msg, m->payload, m->payload_len);
        agent_send_reply(a, m, topic, body);
        free(topic);
        free(body);
        return;
    }
    api_handle(&ctx, &req, &reply);
    store_rollback(store); /* it read only: nothing to commit */
    stats_record_read();
    if (reply.refused)
        agent_refused_destination(a, req.op, reply.refusal);
    log_debug("%s -> %d (reader)", req.op, reply.status);
    if (reply.body != NULL)
        agent_send_reply(a, m, reply.reply_to, reply.body);
    ctx_release(&ctx);
    api_reply_release(&reply);
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct agent *a = r->agent;
    for (;;) {
        size_t n = 0;
        struct work *w = (struct work *)queue_pop_many(&a->read_queue, 1, -1, &n);
        if (w == NULL)
            continue;
        if (w->kind == WORK_STOP) {
            free(w);
            return NULL;
        }
        run_read(a, r->store, w);
        work_free(w);
    }
}

void agent_start_readers(struct agent *a)
{
    char err[600];
    size_t want = (size_t)a->cfg->reader_threads;

    a->readers = want > 0 ? xcalloc(want, sizeof *a->readers) : NULL;
    for (size_t i = 0; i < want; i++) {
        struct reader *r = &a->readers[a->nreaders];
        r->agent = a;
        r->store = store_open_reader(a->cfg->database, err, sizeof err);
        if (r->store == NULL) {
            log_warn("Reads run on the writer: %s", err);
            break;
        }
        a->nreaders++;
    }
    for (size_t i = 0; i < a->nreaders; i++)
        pthread_create(&a->readers[i].thread, NULL, reader_main, &a->readers[i]);
    pthread_mutex_lock(&a->route_lock);
    a->readers_running = a->nreaders > 0;
    pthread_mutex_unlock(&a->route_lock);
}

bool agent_route_read(struct agent *a, struct work *w)
{
    pthread_mutex_lock(&a->route_lock);
    bool running = a->readers_running;
    if (running) {
        queue_push(&a->read_queue, &w->node);
    }
    pthread_mutex_unlock(&a->route_lock);
    return running;
}

void agent_stop_readers(struct agent *a)
{
    pthread_mutex_lock(&a->route_lock);
    a->readers_running = false;
    pthread_mutex_unlock(&a->route_lock);
    for (size_t i = 0; i < a->nreaders; i++)
        queue_push(&a->read_queue, &work_new(WORK_STOP)->node); /* after every read queued */
    for (size_t i = 0; i < a->nreaders; i++) {
        pthread_join(a->readers[i].thread, NULL);
        store_close(a->readers[i].store);
    }
    free(a->readers);
    a->readers = NULL;
    a->nreaders = 0;
}
