/* store_checkpoint.h: WAL checkpoints on a connection and a thread of their own. Without it the
 * commit that takes the WAL past 1000 pages copies them into the database file and waits for that
 * fsync, holding up every request behind it (hundreds of milliseconds after a large write such as
 * the unassignment of a deleted customer's devices). */
#ifndef CMAGENT_STORE_CHECKPOINT_H
#define CMAGENT_STORE_CHECKPOINT_H

#include "cmagent/store.h"

#include <stddef.h>

struct store_checkpointer;

/* Opens path a second time and starts the thread; from then on the writer s only signals it when
 * its WAL holds 1000 pages or more. Call before s is used by another thread. NULL (err set) when
 * the second connection cannot be opened: s then checkpoints by itself as before. */
struct store_checkpointer *store_checkpointer_start(struct store *s, const char *path, char *err, size_t errlen);

/* Stops the thread, closes its connection and gives checkpoints back to s. NULL is ignored. */
void store_checkpointer_stop(struct store_checkpointer *c, struct store *s);

#endif
