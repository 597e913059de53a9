/* kept_writes.h: what a failed request must leave behind although its savepoint is rolled back (the
 * failed-login count and lockout, the failed write's audit row). The context carries the record;
 * kept_writes.c writes it, so that the context itself calls no feature. */
#ifndef CMAGENT_KEPT_WRITES_H
#define CMAGENT_KEPT_WRITES_H

#include "cmagent/model.h"

#include <stdbool.h>

struct ctx;
struct audit_row;

#define KEPT_REQUEST_ID_MAX 129 /* an envelope id: up to 128 bytes */

/* What a request asked to keep although it failed: its savepoint is rolled back, then these are
 * written in a savepoint of their own (kept_writes_apply). A failed login must count, and a failed
 * write must leave its audit row. */
struct kept_writes {
    char failed_login_user[UUID_STR_LEN]; /* "" or the user whose failed_login_attempts rises */
    bool audit;                    /* append audit_row */
    struct audit_row *audit_row;   /* heap, owned by the context */
    /* A request id to keep claimed (a run rolled back whole while its mails are sent), or to
     * release (its second run failed): idempotency.h. "" when none. */
    char pending_id[KEPT_REQUEST_ID_MAX];
    char pending_op[64];
    bool pending_release;
    bool pending_lost; /* set by kept_writes_apply: another run (another agent's) holds the id */
};

/* Writes ctx->kept in a savepoint of its own (after the request's savepoint was rolled back). The
 * request's error stays the reply's; a failure to keep is logged, never reported. */
void kept_writes_apply(struct ctx *ctx);

#endif
