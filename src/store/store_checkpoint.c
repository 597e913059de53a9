/* store_checkpoint.c: the checkpointer thread of the SQLite engine: PASSIVE checkpoints on its own
 * connection, woken by the writer connection's WAL hook (which replaces SQLite's auto-checkpoint on
 * that connection). A PostgreSQL store has no WAL of the agent's to checkpoint: no thread. */
#include "cmagent/store_checkpoint.h"

#include "cmagent/log.h"
#include "cmagent/model.h"
#include "sql_sqlite.h"
#include "store_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECKPOINT_PAGES 1000 /* SQLite's own auto-checkpoint threshold */
/* The WAL starts over only when a write transaction begins after a checkpoint that copied all of it,
 * and under a steady stream of commits the thread's passes may never catch the writer's last frame.
 * Past this many pages (256 MB) the writer checkpoints once itself between two passes of the thread:
 * it copies only its commits since the last pass but waits for the database file's fsync (up to a
 * second on a busy disk), so it is the last resort that keeps the WAL bounded. */
#define WRITER_CHECKPOINT_PAGES (64 * CHECKPOINT_PAGES)

struct store_checkpointer {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool wanted, stop;
    atomic_bool in_pass; /* the thread is checkpointing */
};

/* The writer's WAL hook: runs after each of its commits, in the writer's thread. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct store_checkpointer *c = arg;
    (void)name;
    if (pages >= WRITER_CHECKPOINT_PAGES && !atomic_load(&c->in_pass)) {
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->mu);
        c->wanted = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    struct store_checkpointer *c = arg;
    int last_rc = SQLITE_OK;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->wanted && !c->stop)
            pthread_cond_wait(&c->cond, &c->mu);
        bool stop = c->stop;
        c->wanted = false;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            return NULL;
        int pages = 0, copied = 0;
        atomic_store(&c->in_pass, true);
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &pages, &copied);
        atomic_store(&c->in_pass, false);
        if (rc == SQLITE_OK && copied < pages) {
            pthread_mutex_lock(&c->mu); /* the writer committed meanwhile: another pass */
            c->wanted = true;
            pthread_mutex_unlock(&c->mu);
        }
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != last_rc)
            log_warn("WAL checkpoint failed: %s (%s); the WAL grows until one succeeds.", sqlite3_errmsg(c->db),
                     sqlite3_errstr(rc));
        last_rc = rc;
    }
}

struct store_checkpointer *store_checkpointer_start(struct store *s, const char *path, char *err, size_t errlen)
{
    struct store_checkpointer *c = xcalloc(1, sizeof *c);
    if (sql_sqlite_db(s) == NULL)
        return c; /* not SQLite: nothing to checkpoint */
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s for checkpoints: %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 1000);
    /* A connection opens the WAL only when it first reads; until then a checkpoint does nothing. */
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot read database %s for checkpoints: %s", path, sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    atomic_init(&c->in_pass, false);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_create(&c->thread, NULL, checkpointer_main, c);
    sqlite3_wal_hook(sql_sqlite_db(s), on_wal_commit, c);
    return c;
}

void store_checkpointer_stop(struct store_checkpointer *c, struct store *s)
{
    if (c == NULL)
        return;
    if (c->db == NULL) {
        free(c);
        return;
    }
    sqlite3_wal_autocheckpoint(sql_sqlite_db(s), CHECKPOINT_PAGES); /* removes the hook */
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}
