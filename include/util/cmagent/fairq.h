/* fairq.h: a fair queue with ordered hand-on, for the requests that wait for a password hash
 * thread. Items wait in buckets by key, first in first out within a bucket. A bucket that had
 * nothing waiting is served next (after the other such buckets), then takes turns round robin with
 * the busy ones: a flood in one bucket delays an item of a quiet one by no more than the items
 * being worked on. A bucket holds at most `bound` waiting items. Taken items are
 * handed on (fairq_finish) in the order they entered their bucket, whichever taker finished first;
 * items of different buckets are handed on as they finish. Thread-safe. */
#ifndef CMAGENT_FAIRQ_H
#define CMAGENT_FAIRQ_H

#include <stdbool.h>
#include <stddef.h>

#define FAIRQ_KEY_MAX 64

struct fairq_bucket;

/* Embedded in what is queued; the queue owns it from fairq_push until it hands it on. */
struct fairq_item {
    struct fairq_item *next;
    struct fairq_bucket *bucket;
    bool finished;
};

struct fairq;

struct fairq *fairq_new(size_t bound);
void fairq_free(struct fairq *q); /* NULL-safe; the queue must hold nothing */

/* Appends item to the bucket of key (at most FAIRQ_KEY_MAX - 1 bytes are used). False, leaving
 * item to the caller, when that bucket already holds bound waiting items or the queue is closed. */
bool fairq_push(struct fairq *q, const char *key, struct fairq_item *item);

/* Waits for an item and takes it; NULL once the queue is closed and nothing waits. */
struct fairq_item *fairq_take(struct fairq *q);

/* Marks a taken item finished and calls hand_on(arg, x), under the queue's lock, for every item of
 * its bucket whose turn has come, in order (none when an earlier one is still being worked on). */
void fairq_finish(struct fairq *q, struct fairq_item *item, void (*hand_on)(void *arg, struct fairq_item *x),
                  void *arg);

/* Refuses further pushes and wakes the takers, which take what waits and then get NULL. */
void fairq_close(struct fairq *q);

/* Items waiting in key's bucket (for tests and logs). */
size_t fairq_waiting(struct fairq *q, const char *key);

#endif
