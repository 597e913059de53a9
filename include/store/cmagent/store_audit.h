/* store_audit.h: queries of the audit_log table and of the password_history table. */
#ifndef CMAGENT_STORE_AUDIT_H
#define CMAGENT_STORE_AUDIT_H

#include "cmagent/store.h"
#include "cmagent/uuid.h"

#include <stddef.h>
#include <stdint.h>

/* One row of the audit log (thingsboard-customers.md §7.3), as audit.h writes and lists it. */
struct audit_row {
    char id[UUID_STR_LEN];
    int64_t created_time;
    char tenant_id[UUID_STR_LEN];   /* the caller's tenant (NULL_UUID for the system administrator) */
    char customer_id[UUID_STR_LEN]; /* "" when none */
    char entity_type[32];           /* CUSTOMER, USER, TENANT, API_KEY, ... */
    char entity_id[UUID_STR_LEN];   /* "" when unknown (a failed create) */
    char *entity_name;
    char user_id[UUID_STR_LEN];     /* the acting user; "" when anonymous */
    char *user_name;
    char action_type[32];           /* ADDED, UPDATED, DELETED, LOGIN, LOCKOUT, ... */
    char *action_data;              /* JSON object text, or NULL */
    char action_status[8];          /* SUCCESS or FAILURE */
    char *failure_details;          /* FAILURE: the error message */
    char acting_user_id[UUID_STR_LEN]; /* a request made with a user.token token: who really acted */
    char *acting_user_name;
};

/* NULL-safe. */
void audit_row_release(struct audit_row *r);
void audit_rows_free(struct audit_row *rows, size_t n);

/* Which rows store_audit_page selects. */
struct audit_filter {
    const char *entity_type, *entity_id;  /* NULL: any */
    const char *customer_id, *user_id;    /* NULL: any */
    const char *acting_user_id;           /* NULL: any; else the rows of user.token sessions it acted in */
    int64_t start_time, end_time;         /* 0: open */
};

int store_audit_insert(struct store *s, const struct audit_row *r);

/* One tenant's rows matching f, ordered by created_time (descending when asked) then id; *total
 * counts every match. The caller frees *items with audit_rows_free(). */
int store_audit_page(struct store *s, const char *tenant_id, const struct audit_filter *f, int descending,
                     int64_t limit, int64_t offset, struct audit_row **items, size_t *n, int64_t *total);

int store_audit_purge(struct store *s, int64_t before_ts, int64_t *deleted);

/* Password history (the reuse rule): adds a hash, and lists the hashes set since since_ts. */
int store_password_history_add(struct store *s, const char *user_id, const char *hash, int64_t ts);
/* Deletes the user's history rows older than before_ts. */
int store_password_history_prune(struct store *s, const char *user_id, int64_t before_ts);
int store_password_history_since(struct store *s, const char *user_id, int64_t since_ts, char ***hashes,
                                 size_t *n);
void password_hashes_free(char **hashes, size_t n);

#endif
