/* verifiers.c: the password verifier threads. A yescrypt hash or check costs about 100 ms; on the
 * writer every login would stall every other tenant's requests that long. So a request that checks
 * or sets a password (api_prepares) goes first to a verifier (password_hash_threads of them), which
 * runs its checks up to its first write against a read-only connection of its own (api_prepare) and
 * records every crypt() answer in the work item (hash_work.h); then it joins the writer's queue,
 * in its fair queue bucket's order (fairq.h). */
#include "agent_int.h"

#include "cmagent/clock.h"
#include "cmagent/hash_work.h"
#include "cmagent/store.h"

#include <stdlib.h>
#include <string.h>

/* Runs the request's checks up to its first write on the reader, recording its hash work. */
static void verify_request(struct agent *a, struct store *reader, struct work *w)
{
    struct ctx ctx;
    struct api_request req;

    memset(&ctx, 0, sizeof ctx);
    ctx.store = reader;
    ctx.settings = &a->settings;
    ctx.now = clock_now_ms();
    ctx.hash_work = w->hash_work = hash_work_new();
    agent_request_of(a, w->msg, &req);
    api_prepare(&ctx, &req);
    ctx_release(&ctx);
}

#define WORK_OF_WAITING(item) ((struct work *)((char *)(item) - offsetof(struct work, waiting)))

/* Called by the fair queue, in each bucket's order, for the verified requests whose turn came. */
static void hand_to_writer(void *arg, struct fairq_item *item)
{
    struct agent *a = arg;
    queue_push(&a->queue, &WORK_OF_WAITING(item)->node);
}

static void *verifier_main(void *arg)
{
    struct verifier *v = arg;
    struct agent *a = v->agent;
    struct fairq_item *item;
    while ((item = fairq_take(a->verify_queue)) != NULL) {
        verify_request(a, v->reader, WORK_OF_WAITING(item));
        fairq_finish(a->verify_queue, item, hand_to_writer, a);
    }
    return NULL;
}

/* Opens a reader per verifier and starts them. Without a reader (a database that cannot be opened
 * twice) the writer does the hash work itself, as it can always do. */
void agent_start_verifiers(struct agent *a)
{
    char err[600];
    size_t want = (size_t)a->cfg->password_hash_threads;

    a->verifiers = xcalloc(want, sizeof *a->verifiers);
    for (size_t i = 0; i < want; i++) {
        struct verifier *v = &a->verifiers[a->nverifiers];
        v->agent = a;
        v->reader = store_open_reader(a->cfg->database, err, sizeof err);
        if (v->reader == NULL) {
            log_warn("Password hashes run on the writer: %s", err);
            break;
        }
        a->nverifiers++;
    }
    if (a->nverifiers > 0) {
        a->admit_reader = store_open_reader(a->cfg->database, err, sizeof err);
        if (a->admit_reader == NULL)
            log_warn("Password requests of every tenant share one queue: %s", err);
    }
    for (size_t i = 0; i < a->nverifiers; i++)
        pthread_create(&a->verifiers[i].thread, NULL, verifier_main, &a->verifiers[i]);
    pthread_mutex_lock(&a->route_lock);
    a->verifiers_running = a->nverifiers > 0;
    pthread_mutex_unlock(&a->route_lock);
}

/* The verifiers finish what they hold and pass it to the writer; later requests go straight to it. */
void agent_stop_verifiers(struct agent *a)
{
    pthread_mutex_lock(&a->route_lock);
    a->verifiers_running = false;
    pthread_mutex_unlock(&a->route_lock);
    fairq_close(a->verify_queue);
    for (size_t i = 0; i < a->nverifiers; i++) {
        pthread_join(a->verifiers[i].thread, NULL);
        store_close(a->verifiers[i].reader);
    }
    store_close(a->admit_reader);
    a->admit_reader = NULL;
    free(a->verifiers);
    a->verifiers = NULL;
    a->nverifiers = 0;
}
