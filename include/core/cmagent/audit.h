/* audit.h: the audit log (thingsboard-customers.md §7.3). Every write, successful or failed, leaves
 * one row: who, which entity, the action type and data, SUCCESS or FAILURE with the failure
 * message. A successful write's rows are written with its change events in its savepoint; a failed
 * write's row is kept by kept_writes_apply after that savepoint is rolled back. */
#ifndef CMAGENT_AUDIT_H
#define CMAGENT_AUDIT_H

#include "cmagent/context.h"
#include "cmagent/store_audit.h"

#include <stddef.h>
#include <stdint.h>

/* Fills r's actor fields (user, tenant, customer, and the acting user of a user.token session)
 * from the caller, its id and time from ctx. */
void audit_row_from_caller(const struct ctx *ctx, struct audit_row *r);

/* Inserts r (id and created_time set here when empty). Returns ERR_OK or ERR_DATABASE. */
int audit_append(struct ctx *ctx, struct audit_row *r);

/* The action type ThingsBoard logs for one of our event types (ENTITY_CREATED -> ADDED ...). */
const char *audit_action_of_event(const char *event_type);

/* audit.list: the caller's tenant's rows (a system administrator's: the system rows), newest first
 * unless p->descending is false... sorted by createdTime. TENANT_ADMIN and SYS_ADMIN only. */
int audit_list(struct ctx *ctx, const struct audit_filter *f, const struct page_request *p,
               struct audit_row **items, size_t *n, struct page_info *info);

/* Deletes rows older than before_ts; *deleted receives the count. */
int audit_purge(struct store *s, int64_t before_ts, int64_t *deleted);

#endif
