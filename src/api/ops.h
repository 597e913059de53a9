/* ops.h: every operation handler, one family per file (op_<family>.c), and the operation table
 * that maps wire names to handlers and authorities (dispatch.c). */
#ifndef CMAGENT_API_OPS_H
#define CMAGENT_API_OPS_H

#include "call.h"
#include "cmagent/api.h"

#include <stddef.h>

enum op_flags {
    OP_ANONYMOUS = 1u << 0,  /* no token needed */
    /* A write whose reply carries no secret: with an envelope id it is applied at most once per
     * principal, and a repeat is answered with the stored first reply (protocol section 7). */
    OP_IDEMPOTENT = 1u << 1,
    /* Writes nothing, whoever calls it and whatever it answers: it runs on a read-only connection
     * (a reader thread's), never on the writer. */
    OP_READ = 1u << 2,
    /* Also accepts an MFA configuration token (twofa.h): what a user on whom the platform enforces
     * two-factor authentication needs to configure a provider. */
    OP_TWOFA_SETUP = 1u << 3,
};

/* An operation's checks up to its first write, run ahead of the writer on a verifier thread to do
 * its password hash work there (hash_work.h): reads arguments like the handler, reports nothing. */
typedef void op_preparer(struct call *call);

struct op {
    const char *name;        /* wire name, e.g. "customer.create" */
    op_handler *handler;
    unsigned authorities;    /* AUTH_* bits of perm.h allowed to call it (0 with OP_ANONYMOUS: anyone) */
    unsigned flags;
    const char *summary;     /* one line, served by agent.ops */
    const char *audit_entity; /* writes: the entity type of their audit rows (NULL: a read, no row) */
    const char *audit_action; /* writes: the action type when no event names it (LOGIN, ...) */
    op_preparer *prepare;    /* password work ahead of the writer (api_prepare), or NULL */
};

/* One operation run as one pipeline, whoever asks: a request (api_handle), the verifier's run of
 * one (api_prepare, prepare set) and each command of a batch (command set). In order: the
 * authentication of the envelope's token (not for a command, whose caller is the batch's, nor an
 * anonymous operation), the per-principal rate limit (not in a prepare, a command or the second
 * run of a request that awaited its mails), the binding of the reply destination (bind, when
 * set: false stops there, refused), the authority, the preparer (a prepare ends there, having
 * written nothing), the repeated request id (replayed), the handler under the read budget of
 * max_reply, and the audit row the operation table names when the handler wrote none. */
struct op_run {
    const struct op *op;
    const cJSON *data;        /* the operation's data object (never NULL) */
    const cJSON *token;       /* the envelope's token member, or NULL */
    const char *request_id;   /* the envelope's id, or NULL */
    bool prepare;
    bool command;
    bool (*bind)(void *arg, const struct ctx *ctx);
    void *bind_arg;
    /* out */
    bool refused;             /* bind refused the destination: nothing ran */
    char *replayed;           /* the stored first reply of a repeated id (heap): nothing ran */
    cJSON *result;            /* the handler's result on success (the caller owns it) */
};

/* Returns ERR_OK (r->result, or r->replayed, or r->refused set) or the error kind (ctx->err). */
int run_op(struct ctx *ctx, struct op_run *r);

/* The FAILURE audit row a failed op leaves (ctx->err its details), or NULL when none: an op
 * without an audit entity, a rate-limited request, or one nobody authenticated made. For the
 * caller to write after it rolled the failed op's writes back (ctx->kept, or audit_append). */
struct audit_row *op_failure_row(struct ctx *ctx, const struct op *op, const cJSON *data);

/* The per-principal rate limit's table (pipeline.c). */
void pipeline_init(void);
void pipeline_release(void);

/* The settings api_init was given, and admission's budget tables (admit.c). */
const struct api_settings *api_current_settings(void);
void admit_init(void);
void admit_release(void);

/* The table, sorted by name (a unit test checks it), and its lookup. */
const struct op *ops_table(size_t *count);
const struct op *ops_lookup(const char *name);

/* The figures of agent.stats (metrics_api.c). */
cJSON *api_stats_object(void);

/* agent.* */
int op_agent_ping(struct call *c);
int op_agent_ops(struct call *c);
int op_agent_stats(struct call *c);
/* auth.* */
int op_auth_login(struct call *c);
int op_auth_refresh(struct call *c);
int op_auth_logout(struct call *c);
int op_auth_change_password(struct call *c);
int op_auth_activate(struct call *c);
void op_auth_login_prepare(struct call *c);
void op_auth_change_password_prepare(struct call *c);
void op_auth_activate_prepare(struct call *c);
void op_auth_reset_password_prepare(struct call *c);
int op_auth_check_activate_token(struct call *c);
int op_auth_reset_password_by_email(struct call *c);
int op_auth_reset_password(struct call *c);
/* twoFa.accountConfig.* and auth.twoFa.* (op_twofa.c) */
int op_twofa_generate(struct call *c);
int op_twofa_verify_and_save(struct call *c);
int op_twofa_get(struct call *c);
int op_twofa_delete(struct call *c);
int op_twofa_settings_get(struct call *c);
int op_twofa_settings_save(struct call *c);
int op_auth_twofa_providers(struct call *c);
int op_auth_twofa_send_code(struct call *c);
int op_auth_twofa_verify(struct call *c);
struct token_pair;
/* auth.login's reply for a user with a second factor: the pre-verification token and providers. */
void op_twofa_render_challenge(struct call *c, const struct token_pair *p);
/* audit.* */
int op_audit_list(struct call *c);
/* apiKey.* */
int op_apikey_create(struct call *c);
int op_apikey_list(struct call *c);
int op_apikey_delete(struct call *c);
int op_broker_credentials(struct call *c);
/* tenant.* */
int op_tenant_create(struct call *c);
int op_tenant_get(struct call *c);
int op_tenant_update(struct call *c);
int op_tenant_delete(struct call *c);
int op_tenant_list(struct call *c);
/* customer.* */
int op_customer_create(struct call *c);
int op_customer_update(struct call *c);
int op_customer_patch(struct call *c);
int op_customer_get(struct call *c);
int op_customer_short_info(struct call *c);
int op_customer_title(struct call *c);
int op_customer_list(struct call *c);
int op_customer_find_by_title(struct call *c);
int op_customer_get_by_ids(struct call *c);
int op_customer_delete(struct call *c);
int op_customer_users(struct call *c);
/* user.* */
int op_user_create(struct call *c);
int op_user_update(struct call *c);
int op_user_get(struct call *c);
int op_user_delete(struct call *c);
int op_user_list(struct call *c);
int op_user_activation_link(struct call *c);
int op_user_set_enabled(struct call *c);
int op_user_send_activation_mail(struct call *c);
int op_user_token(struct call *c); /* op_auth.c: a pair, as auth.login's */
/* event.* */
int op_event_replay(struct call *c);
/* device.*, asset.*, edge.* (op_entity.c) and customer.devices / assets / edges */
#define ENTITY_OP_DECLS(family)                      \
    int op_##family##_create(struct call *c);        \
    int op_##family##_update(struct call *c);        \
    int op_##family##_get(struct call *c);           \
    int op_##family##_delete(struct call *c);        \
    int op_##family##_list(struct call *c);          \
    int op_##family##_assign(struct call *c);        \
    int op_##family##_unassign(struct call *c);      \
    int op_##family##_make_public(struct call *c);   \
    int op_customer_##family##s(struct call *c);
ENTITY_OP_DECLS(device)
ENTITY_OP_DECLS(asset)
ENTITY_OP_DECLS(edge)
#undef ENTITY_OP_DECLS
/* dashboard.* and customer.dashboards */
int op_dashboard_create(struct call *c);
int op_dashboard_update(struct call *c);
int op_dashboard_get(struct call *c);
int op_dashboard_delete(struct call *c);
int op_dashboard_list(struct call *c);
int op_dashboard_assign(struct call *c);
int op_dashboard_unassign(struct call *c);
int op_dashboard_set_customers(struct call *c);
int op_dashboard_add_customers(struct call *c);
int op_dashboard_remove_customers(struct call *c);
int op_dashboard_make_public(struct call *c);
int op_dashboard_make_private(struct call *c);
int op_dashboard_home(struct call *c);
int op_customer_dashboards(struct call *c);
/* import.* (op_import.c, op_import_job.c) */
int op_import_run(struct call *c);
int op_import_status(struct call *c);
int op_import_cancel(struct call *c);
/* batch */
int op_batch(struct call *c);
void op_batch_prepare(struct call *c);
/* Whether a batch payload holds a command whose operation has a preparer. */
bool op_batch_has_hash_work(const char *payload, size_t len);

/* The most ids one request may name ("ids", "customerIds"; protocol §5.1). */
#define MAX_IDS 1000

/* Runs fn once per id in its own savepoint and collects {"results":[{id,status,...}]} (protocol
 * §5.1). fn reports one item's outcome through the ctx error slot and may set *data. */
typedef int item_fn(struct call *c, const char *id, cJSON **data);
int run_per_item(struct call *c, char (*ids)[UUID_STR_LEN], size_t n, item_fn *fn);

/* The many-ids convention: data has "id" (fn's result is the reply) or "ids" (run_per_item), never
 * both; keys are the members data may hold. */
int run_one_or_many(struct call *c, const char *const *keys, item_fn *fn);

/* The most commands one batch may hold (config max_batch_commands). */
size_t api_max_batch_commands(void);
/* The most rows one batch's commands may touch together (config max_batch_rows; 0: no limit). */
int64_t api_max_batch_rows(void);

/* Writes a failed command's (or import row's) FAILURE audit row (NULL: none) after its writes were
 * rolled back, and frees it; ctx->err stays the failure's. Returns ERR_OK or the write's error. */
struct audit_row;
int keep_failure_row(struct ctx *ctx, struct audit_row *row);

/* The error object of one failed item or command: {status, errorCode, message[, entityType, limit]}. */
cJSON *error_object(const struct error *e);

#endif
