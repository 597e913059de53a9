/* store_broker.h: queries of the broker_account table (migration 8): which broker accounts exist,
 * what the broker must be told about each, and what it confirmed. */
#ifndef CMAGENT_STORE_BROKER_H
#define CMAGENT_STORE_BROKER_H

#include "cmagent/model.h"
#include "cmagent/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an account should be on the broker, from its row joined to its user (and key). */
enum broker_presence {
    BROKER_ABSENT = 0,  /* its user or key is gone (or the key expired): delete the client */
    BROKER_DISABLED,    /* its user is disabled, locked or not activated: disable the client */
    BROKER_PRESENT,     /* enabled, with the rights of its user's authority */
};

struct broker_state {
    char username[128];
    char user_id[UUID_STR_LEN];
    char key_id[UUID_STR_LEN];     /* "" for a user's own account */
    int64_t version;
    int64_t applied;               /* the last version the broker confirmed (0: never) */
    char *password;                /* heap: a password to hand to the broker, or NULL */
    bool rotate;                   /* set a new random password and end the client's sessions */
    enum broker_presence presence;
    enum authority authority;
    char tenant_id[UUID_STR_LEN];
    char customer_id[UUID_STR_LEN];
};

/* Creates the account (or, when it exists, bumps its version) with a new password to hand over. */
int store_broker_issue(struct store *s, const char *username, const char *user_id, const char *key_id,
                       const char *password);

/* The states of the accounts whose version the broker has not confirmed (pending) or of every
 * account (all), by username after `after` (""), at most limit of them, as of now (ms, for key
 * expiry). The caller frees them with broker_states_free(). */
int store_broker_states(struct store *s, bool pending_only, const char *after, size_t limit, int64_t now,
                        struct broker_state **out, size_t *n);
void broker_states_free(struct broker_state *v, size_t n);

/* Whether an account of this username exists. */
int store_broker_exists(struct store *s, const char *username, bool *exists);

/* The broker confirmed version of username: an absent account's row is deleted, another's is
 * marked applied (its handed password forgotten) unless a later version is pending. */
int store_broker_applied(struct store *s, const char *username, int64_t version, bool absent);

#endif
