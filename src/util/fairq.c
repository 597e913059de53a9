/* fairq.c: buckets in a chained hash table by key. A bucket that gets a waiting item while it had
 * none joins the fresh list, whose buckets are taken from first, one item each, and then moves to
 * the ring that takers walk round robin while it still has waiting items (the new and old flows of
 * a flow-queueing scheduler): a quiet tenant's login waits for the hashes being computed and the
 * other fresh buckets' first items, not for a turn of every busy bucket. Each bucket keeps its
 * waiting items and, in the order they were taken (which is the order they entered), the items
 * taken and not yet handed on. A bucket with neither is freed. */
#include "cmagent/fairq.h"

#include "cmagent/alloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAINS 1024 /* a power of two */

struct fairq_bucket {
    char key[FAIRQ_KEY_MAX];
    struct fairq_bucket *chain;             /* next in its hash chain */
    struct fairq_bucket *ring_prev, *ring_next; /* in the ring, after its first turn, while it has waiting items */
    struct fairq_bucket *fresh_next;        /* in the fresh list */
    struct fairq_item *waiting, *waiting_tail;
    size_t nwaiting;
    struct fairq_item *taken, *taken_tail;  /* taken, in entry order, not yet handed on */
};

struct fairq {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    size_t bound;
    bool closed;
    struct fairq_bucket *fresh, *fresh_tail; /* buckets waiting for their first turn, in order */
    struct fairq_bucket *ring;              /* the ring's bucket taken from next, or NULL */
    struct fairq_bucket *chains[CHAINS];
};

struct fairq *fairq_new(size_t bound)
{
    struct fairq *q = xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    q->bound = bound;
    return q;
}

void fairq_free(struct fairq *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < CHAINS; i++) {
        while (q->chains[i] != NULL) {
            struct fairq_bucket *b = q->chains[i];
            q->chains[i] = b->chain;
            free(b);
        }
    }
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static size_t chain_of(const char *key)
{
    uint32_t h = 2166136261u;
    for (; *key != '\0'; key++) {
        h ^= (unsigned char)*key;
        h *= 16777619u;
    }
    return h & (CHAINS - 1);
}

static struct fairq_bucket *bucket_of(struct fairq *q, const char *key, bool create)
{
    char k[FAIRQ_KEY_MAX];
    snprintf(k, sizeof k, "%s", key != NULL ? key : "");
    size_t c = chain_of(k);
    for (struct fairq_bucket *b = q->chains[c]; b != NULL; b = b->chain)
        if (strcmp(b->key, k) == 0)
            return b;
    if (!create)
        return NULL;
    struct fairq_bucket *b = xcalloc(1, sizeof *b);
    memcpy(b->key, k, sizeof k);
    b->chain = q->chains[c];
    q->chains[c] = b;
    return b;
}

static void free_if_idle(struct fairq *q, struct fairq_bucket *b)
{
    if (b->waiting != NULL || b->taken != NULL)
        return;
    for (struct fairq_bucket **p = &q->chains[chain_of(b->key)]; *p != NULL; p = &(*p)->chain) {
        if (*p == b) {
            *p = b->chain;
            free(b);
            return;
        }
    }
}

/* Adds b at the ring's end, just before the bucket taken from next. */
static void ring_add(struct fairq *q, struct fairq_bucket *b)
{
    if (q->ring == NULL) {
        b->ring_prev = b->ring_next = b;
        q->ring = b;
        return;
    }
    b->ring_next = q->ring;
    b->ring_prev = q->ring->ring_prev;
    b->ring_prev->ring_next = b;
    q->ring->ring_prev = b;
}

static void ring_remove(struct fairq *q, struct fairq_bucket *b)
{
    if (b->ring_next == b) {
        q->ring = NULL;
    } else {
        b->ring_prev->ring_next = b->ring_next;
        b->ring_next->ring_prev = b->ring_prev;
        if (q->ring == b)
            q->ring = b->ring_next;
    }
    b->ring_prev = b->ring_next = NULL;
}

bool fairq_push(struct fairq *q, const char *key, struct fairq_item *item)
{
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    struct fairq_bucket *b = q->closed ? NULL : bucket_of(q, key, true);
    if (b != NULL && b->nwaiting < q->bound) {
        item->next = NULL;
        item->bucket = b;
        item->finished = false;
        if (b->waiting_tail != NULL)
            b->waiting_tail->next = item;
        else
            b->waiting = item;
        b->waiting_tail = item;
        if (b->nwaiting++ == 0) {
            b->fresh_next = NULL;
            if (q->fresh_tail != NULL)
                q->fresh_tail->fresh_next = b;
            else
                q->fresh = b;
            q->fresh_tail = b;
        }
        pthread_cond_signal(&q->nonempty);
        ok = true;
    } else if (b != NULL) {
        free_if_idle(q, b);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* The bucket whose turn it is: the first fresh one, else the ring's. */
static struct fairq_bucket *next_turn(struct fairq *q)
{
    struct fairq_bucket *b = q->fresh;
    if (b == NULL)
        return q->ring;
    q->fresh = b->fresh_next;
    if (q->fresh == NULL)
        q->fresh_tail = NULL;
    b->fresh_next = NULL;
    if (b->nwaiting > 1)
        ring_add(q, b); /* at the ring's end: its next item waits for a turn of the others */
    return b;
}

struct fairq_item *fairq_take(struct fairq *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->fresh == NULL && q->ring == NULL && !q->closed)
        pthread_cond_wait(&q->nonempty, &q->lock);
    bool from_ring = q->fresh == NULL;
    struct fairq_bucket *b = next_turn(q);
    struct fairq_item *item = NULL;
    if (b != NULL) {
        item = b->waiting;
        b->waiting = item->next;
        if (b->waiting == NULL)
            b->waiting_tail = NULL;
        item->next = NULL;
        if (b->taken_tail != NULL)
            b->taken_tail->next = item;
        else
            b->taken = item;
        b->taken_tail = item;
        if (--b->nwaiting == 0 && from_ring)
            ring_remove(q, b);
        else if (from_ring)
            q->ring = b->ring_next; /* the next bucket's turn */
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

void fairq_finish(struct fairq *q, struct fairq_item *item, void (*hand_on)(void *arg, struct fairq_item *x),
                  void *arg)
{
    pthread_mutex_lock(&q->lock);
    struct fairq_bucket *b = item->bucket;
    item->finished = true;
    while (b->taken != NULL && b->taken->finished) {
        struct fairq_item *x = b->taken;
        b->taken = x->next;
        if (b->taken == NULL)
            b->taken_tail = NULL;
        x->next = NULL;
        x->bucket = NULL;
        hand_on(arg, x);
    }
    free_if_idle(q, b);
    pthread_mutex_unlock(&q->lock);
}

void fairq_close(struct fairq *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

size_t fairq_waiting(struct fairq *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct fairq_bucket *b = bucket_of(q, key, false);
    size_t n = b != NULL ? b->nwaiting : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}
