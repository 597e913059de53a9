/* queue.h: an unbounded multi-producer, single-consumer FIFO of intrusive nodes (mutex + condvar).
 * The MQTT callback thread pushes; the writer thread pops many at a time for one transaction. */
#ifndef CMAGENT_QUEUE_H
#define CMAGENT_QUEUE_H

#include <pthread.h>
#include <stddef.h>

struct queue_node {
    struct queue_node *next;
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct queue_node *head, *tail;
    size_t length;
};

void queue_init(struct queue *q);
void queue_release(struct queue *q); /* the queue must be empty */

/* Appends n; the queue does not copy it and the consumer takes ownership when it pops it. */
void queue_push(struct queue *q, struct queue_node *n);

/* Waits up to timeout_ms (negative: forever) for a node, then detaches up to max nodes in FIFO
 * order and returns the first (chained through next, the last has next == NULL), or NULL on
 * time-out. *count receives how many were detached. */
struct queue_node *queue_pop_many(struct queue *q, size_t max, int timeout_ms, size_t *count);

size_t queue_length(struct queue *q);

#endif
