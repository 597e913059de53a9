/* audit.h: the audit log (thingsboard-customers.md §7.3). Every write, successful or failed, leaves
 * one row: who, which entity, the action type and data, SUCCESS or FAILURE with the failure
 * message. A successful write's rows are written with its change events in its savepoint; a failed
 * write's row is kept by ctx_apply_kept after that savepoint is rolled back. */
#ifndef CMAGENT_AUDIT_H
#define CMAGENT_AUDIT_H

#include "cmagent/context.h"

#include <stddef.h>
#include <stdint.h>

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
};

/* NULL-safe; defined with the rows' queries in the store. */
void audit_row_release(struct audit_row *r);
void audit_rows_free(struct audit_row *rows, size_t n);

/* Fills r's actor fields (user, tenant, customer) from the caller, its id and time from ctx. */
void audit_row_from_caller(const struct ctx *ctx, struct audit_row *r);

/* Inserts r (id and created_time set here when empty). Returns ERR_OK or ERR_DATABASE. */
int audit_append(struct ctx *ctx, struct audit_row *r);

/* The action type ThingsBoard logs for one of our event types (ENTITY_CREATED -> ADDED ...). */
const char *audit_action_of_event(const char *event_type);

struct audit_filter {
    const char *entity_type, *entity_id;  /* NULL: any */
    const char *customer_id, *user_id;    /* NULL: any */
    int64_t start_time, end_time;         /* 0: open */
};

/* audit.list: the caller's tenant's rows (a system administrator's: the system rows), newest first
 * unless p->descending is false... sorted by createdTime. TENANT_ADMIN and SYS_ADMIN only. */
int audit_list(struct ctx *ctx, const struct audit_filter *f, const struct page_request *p,
               struct audit_row **items, size_t *n, struct page_info *info);

/* Deletes rows older than before_ts; *deleted receives the count. */
int audit_purge(struct store *s, int64_t before_ts, int64_t *deleted);

#endif
