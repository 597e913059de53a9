/* queue.c: the hand-off between the MQTT callback thread and the writer thread. */
#include "cmagent/queue.h"

#include <errno.h>
#include <time.h>

void queue_init(struct queue *q)
{
    pthread_condattr_t attr;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &attr);
    pthread_condattr_destroy(&attr);
    q->head = q->tail = NULL;
    q->length = 0;
}

void queue_release(struct queue *q)
{
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
}

void queue_push(struct queue *q, struct queue_node *n)
{
    n->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->length++;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

struct queue_node *queue_pop_many(struct queue *q, size_t max, int timeout_ms, size_t *count)
{
    struct timespec deadline;
    struct queue_node *first = NULL, *last = NULL;
    size_t n = 0;

    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL) {
        int rc = timeout_ms < 0 ? pthread_cond_wait(&q->nonempty, &q->lock)
                                : pthread_cond_timedwait(&q->nonempty, &q->lock, &deadline);
        if (rc == ETIMEDOUT)
            break;
    }
    while (q->head != NULL && n < max) {
        struct queue_node *node = q->head;
        q->head = node->next;
        if (q->head == NULL)
            q->tail = NULL;
        node->next = NULL;
        if (last != NULL)
            last->next = node;
        else
            first = node;
        last = node;
        n++;
    }
    q->length -= n;
    pthread_mutex_unlock(&q->lock);
    *count = n;
    return first;
}

size_t queue_length(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->length;
    pthread_mutex_unlock(&q->lock);
    return n;
}
