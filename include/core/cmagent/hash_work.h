/* hash_work.h: the password hash work of one request, done ahead of the writer. A request that
 * checks or sets a password runs its checks first on a verifier thread (against a read-only
 * connection), and every crypt() it makes is recorded here: each password checked against each
 * stored hash with its verdict, and each new hash made. The writer's run of the same request asks
 * the same questions and finds the answers here, so it spends no time in crypt(). An answer is
 * found only for the very same password and stored hash: when the stored hash changed in between
 * (another request changed the password), the question is new and is computed then, on the
 * writer, so the outcome is always the one the committed data gives. */
#ifndef CMAGENT_HASH_WORK_H
#define CMAGENT_HASH_WORK_H

#include "cmagent/secret.h"

#include <stdbool.h>
#include <stddef.h>

struct hash_work;

struct hash_work *hash_work_new(void);
void hash_work_free(struct hash_work *w); /* NULL-safe */

/* Whether password matches hash (secret_check_password), answered from w when w holds the answer,
 * else computed and recorded in w. w NULL: always computed. */
bool hash_work_check(struct hash_work *w, const char *password, const char *hash);

/* A new hash of password (secret_hash_password with cost): the one w made earlier for the same
 * password, else a new one, recorded in w. Returns 0, or -1 if libcrypt failed. */
int hash_work_hash(struct hash_work *w, const char *password, unsigned long cost, char out[SECRET_HASH_MAX]);

/* How many times w answered a question by computing it (not from an earlier run). */
size_t hash_work_computed(const struct hash_work *w);

/* Forgets every answer and the count (a record reused for the next request). */
void hash_work_clear(struct hash_work *w);

/* Starts counting computed answers from 0 again (before the writer's run). */
void hash_work_reset_count(struct hash_work *w);

#endif
