/* hash_work.c: the recorded answers of a request's password hash work (see hash_work.h). A
 * password is kept only as its SHA-256 digest, to tell the questions apart; the digest of a
 * password the request itself carries adds nothing an attacker could not read there. */
#include "cmagent/hash_work.h"

#include "cmagent/model.h"

#include <stdlib.h>
#include <string.h>

enum answer_kind { ANSWER_CHECK, ANSWER_HASH };

struct answer {
    enum answer_kind kind;
    char password_digest[SECRET_DIGEST_HEX];
    char hash[SECRET_HASH_MAX];    /* CHECK: the stored hash checked against; HASH: the new hash */
    bool matches;                  /* CHECK */
};

struct hash_work {
    struct answer *answers;
    size_t n, cap;
    size_t computed;
};

struct hash_work *hash_work_new(void) { return xcalloc(1, sizeof(struct hash_work)); }

void hash_work_free(struct hash_work *w)
{
    if (w == NULL)
        return;
    free(w->answers);
    free(w);
}

size_t hash_work_computed(const struct hash_work *w) { return w != NULL ? w->computed : 0; }

void hash_work_clear(struct hash_work *w)
{
    if (w != NULL)
        w->n = w->computed = 0;
}

void hash_work_reset_count(struct hash_work *w)
{
    if (w != NULL)
        w->computed = 0;
}

static const struct answer *find(const struct hash_work *w, enum answer_kind kind, const char *digest,
                                 const char *hash)
{
    for (size_t i = 0; i < w->n; i++) {
        const struct answer *a = &w->answers[i];
        if (a->kind == kind && strcmp(a->password_digest, digest) == 0 && (hash == NULL || strcmp(a->hash, hash) == 0))
            return a;
    }
    return NULL;
}

static struct answer *add(struct hash_work *w, enum answer_kind kind, const char *digest)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 4;
        w->answers = realloc(w->answers, w->cap * sizeof *w->answers);
        if (w->answers == NULL)
            abort();
    }
    struct answer *a = &w->answers[w->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    memcpy(a->password_digest, digest, SECRET_DIGEST_HEX);
    return a;
}

bool hash_work_check(struct hash_work *w, const char *password, const char *hash)
{
    char digest[SECRET_DIGEST_HEX];

    if (w == NULL || password == NULL || hash == NULL || strlen(hash) >= SECRET_HASH_MAX)
        return secret_check_password(password, hash);
    secret_digest(password, digest);
    const struct answer *known = find(w, ANSWER_CHECK, digest, hash);
    if (known != NULL)
        return known->matches;
    bool matches = secret_check_password(password, hash);
    struct answer *a = add(w, ANSWER_CHECK, digest);
    strcpy(a->hash, hash);
    a->matches = matches;
    w->computed++;
    return matches;
}

int hash_work_hash(struct hash_work *w, const char *password, unsigned long cost, char out[SECRET_HASH_MAX])
{
    char digest[SECRET_DIGEST_HEX];

    if (w == NULL || password == NULL)
        return secret_hash_password(password, cost, out);
    secret_digest(password, digest);
    const struct answer *known = find(w, ANSWER_HASH, digest, NULL);
    if (known != NULL) {
        strcpy(out, known->hash);
        return 0;
    }
    if (secret_hash_password(password, cost, out) != 0)
        return -1;
    strcpy(add(w, ANSWER_HASH, digest)->hash, out);
    w->computed++;
    return 0;
}
