/* dispatch.c: the operation table (name, handler, authorities, flags, summary, audit entity and
 * action, preparer) and its lookups, and the api's settings. The request pipeline that runs an
 * operation is pipeline.c; the envelope and the reply around it envelope.c. */
#include "cmagent/api.h"

#include "cmagent/clock.h"
#include "cmagent/perm.h"
#include "json_alloc.h"
#include "ratelimit.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T AUTH_TENANT
#define S AUTH_SYS
#define C AUTH_CUSTOMER
#define ANY AUTH_ANY_USER

/* Sorted by name. The last column is the preparer of an operation that checks or hashes a
 * password: its run ahead of the writer on a verifier thread (api_prepare). OP_READ marks the
 * operations that write nothing: they run on a reader thread's
 * read-only connection beside the writer (api_reads_only). The last two columns make a write: the entity type and action type of its audit
 * row (the action of an operation that emits events comes from the event instead). */
static const struct op op_table[] = {
    { "agent.ops", op_agent_ops, ANY, OP_READ, "The operation table: name, authorities, summary", NULL, NULL, NULL },
    { "agent.ping", op_agent_ping, 0, OP_ANONYMOUS | OP_READ, "Liveness: version and uptime", NULL, NULL, NULL },
    { "agent.stats", op_agent_stats, S, OP_READ, "Group-commit counters: transactions, batch sizes, commit time", NULL,
      NULL, NULL },
    { "apiKey.create", op_apikey_create, ANY, 0, "Create an API key for the caller (shown once)", "API_KEY", "ADDED", NULL },
    { "apiKey.delete", op_apikey_delete, ANY, OP_IDEMPOTENT, "Delete one of the caller's API keys", "API_KEY", "DELETED", NULL },
    { "apiKey.list", op_apikey_list, ANY, OP_READ, "List the caller's API keys", NULL, NULL, NULL },
    { "asset.assign", op_asset_assign, T, OP_IDEMPOTENT, "Assign an asset (or many) to a customer", "ASSET", "ASSIGNED_TO_CUSTOMER", NULL },
    { "asset.create", op_asset_create, T, OP_IDEMPOTENT, "Create an asset", "ASSET", "ADDED", NULL },
    { "asset.delete", op_asset_delete, T, OP_IDEMPOTENT, "Delete an asset", "ASSET", "DELETED", NULL },
    { "asset.get", op_asset_get, T | C, OP_READ, "Read an asset", NULL, NULL, NULL },
    { "asset.list", op_asset_list, T, OP_READ, "List the tenant's assets (paged, type filter)", NULL, NULL, NULL },
    { "asset.makePublic", op_asset_make_public, T, OP_IDEMPOTENT, "Assign an asset (or many) to the Public customer", "ASSET", "ASSIGNED_TO_CUSTOMER", NULL },
    { "asset.unassign", op_asset_unassign, T, OP_IDEMPOTENT, "Unassign an asset (or many) from its customer", "ASSET", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "asset.update", op_asset_update, T, OP_IDEMPOTENT, "Save a whole asset", "ASSET", "UPDATED", NULL },
    { "audit.list", op_audit_list, S | T, OP_READ, "The audit log of the caller's tenant (paged, filtered)", NULL, NULL, NULL },
    { "auth.activate", op_auth_activate, 0, OP_ANONYMOUS, "Set the first password from an activation token", "USER",
      "ACTIVATED", op_auth_activate_prepare },
    { "auth.changePassword", op_auth_change_password, ANY, 0, "Change the caller's password", "USER",
      "CREDENTIALS_UPDATED", op_auth_change_password_prepare },
    { "auth.checkActivateToken", op_auth_check_activate_token, 0, OP_ANONYMOUS, "Check an activation token", NULL,
      NULL, NULL },
    { "auth.login", op_auth_login, 0, OP_ANONYMOUS, "Log in with e-mail and password", "USER", "LOGIN", op_auth_login_prepare },
    { "auth.logout", op_auth_logout, ANY, 0, "Revoke the calling token", "USER", "LOGOUT", NULL },
    { "auth.refresh", op_auth_refresh, 0, OP_ANONYMOUS, "Exchange a refresh token for a new pair", NULL, NULL, NULL },
    { "auth.resetPassword", op_auth_reset_password, 0, OP_ANONYMOUS, "Set a new password from a reset token",
      "USER", "CREDENTIALS_UPDATED", op_auth_reset_password_prepare },
    { "auth.resetPasswordByEmail", op_auth_reset_password_by_email, 0, OP_ANONYMOUS,
      "Mail a password reset link (always 200)", "USER", "CREDENTIALS_UPDATED", NULL },
    { "auth.twoFa.providers", op_auth_twofa_providers, 0, OP_ANONYMOUS | OP_READ,
      "The second-factor providers of a login (by its pre-verification token)", NULL, NULL, NULL },
    { "auth.twoFa.sendCode", op_auth_twofa_send_code, 0, OP_ANONYMOUS,
      "Mail a verification code for a login (by its pre-verification token)", NULL, NULL, NULL },
    { "auth.twoFa.verify", op_auth_twofa_verify, 0, OP_ANONYMOUS,
      "Check a second-factor code and finish the login with a token pair", "USER", "LOGIN", NULL },
    { "batch", op_batch, ANY, 0, "Run many operations in one request, atomically or not", NULL, NULL, op_batch_prepare },
    { "broker.credentials", op_broker_credentials, ANY, 0,
      "The caller's broker account: username and a new password (broker_acl dynsec)", "USER", "CREDENTIALS_UPDATED",
      NULL },
    { "customer.assets", op_customer_assets, T | C, OP_READ, "List a customer's assets (paged)", NULL, NULL, NULL },
    { "customer.create", op_customer_create, T, OP_IDEMPOTENT, "Create a customer", "CUSTOMER", "ADDED", NULL },
    { "customer.dashboards", op_customer_dashboards, T | C, OP_READ, "List a customer's dashboards (paged)", NULL, NULL, NULL },
    { "customer.delete", op_customer_delete, T, OP_IDEMPOTENT, "Delete a customer (or many), its users, unassign its entities",
      "CUSTOMER", "DELETED", NULL },
    { "customer.devices", op_customer_devices, T | C, OP_READ, "List a customer's devices (paged)", NULL, NULL, NULL },
    { "customer.edges", op_customer_edges, T | C, OP_READ, "List a customer's edges (paged)", NULL, NULL, NULL },
    { "customer.findByTitle", op_customer_find_by_title, T, OP_READ, "Find a customer by exact title", NULL, NULL, NULL },
    { "customer.get", op_customer_get, T | C, OP_READ, "Read a customer", NULL, NULL, NULL },
    { "customer.getByIds", op_customer_get_by_ids, T, OP_READ, "Read the caller's customers among ids", NULL, NULL, NULL },
    { "customer.list", op_customer_list, T, OP_READ, "List the tenant's customers (paged)", NULL, NULL, NULL },
    { "customer.patch", op_customer_patch, T, OP_IDEMPOTENT, "Change only the given fields of a customer", "CUSTOMER",
      "UPDATED", NULL },
    { "customer.shortInfo", op_customer_short_info, T | C, OP_READ, "A customer's title and isPublic", NULL, NULL, NULL },
    { "customer.title", op_customer_title, T | C, OP_READ, "A customer's title", NULL, NULL, NULL },
    { "customer.update", op_customer_update, T, OP_IDEMPOTENT, "Save a whole customer", "CUSTOMER", "UPDATED", NULL },
    { "customer.users", op_customer_users, T, OP_READ, "List a customer's users (paged)", NULL, NULL, NULL },
    { "dashboard.addCustomers", op_dashboard_add_customers, T, OP_IDEMPOTENT, "Assign a dashboard to more customers", "DASHBOARD", "ASSIGNED_TO_CUSTOMER", NULL },
    { "dashboard.assign", op_dashboard_assign, T, OP_IDEMPOTENT, "Assign a dashboard (or many) to a customer", "DASHBOARD", "ASSIGNED_TO_CUSTOMER", NULL },
    { "dashboard.create", op_dashboard_create, T, OP_IDEMPOTENT, "Create a dashboard", "DASHBOARD", "ADDED", NULL },
    { "dashboard.delete", op_dashboard_delete, T, OP_IDEMPOTENT, "Delete a dashboard", "DASHBOARD", "DELETED", NULL },
    { "dashboard.get", op_dashboard_get, T | C, OP_READ, "Read a dashboard", NULL, NULL, NULL },
    { "dashboard.home", op_dashboard_home, ANY, OP_READ, "The caller's home dashboard (user, customer, tenant)", NULL, NULL, NULL },
    { "dashboard.list", op_dashboard_list, T, OP_READ, "List the tenant's dashboards (paged)", NULL, NULL, NULL },
    { "dashboard.makePrivate", op_dashboard_make_private, T, OP_IDEMPOTENT, "Unassign a dashboard from the Public customer", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "dashboard.makePublic", op_dashboard_make_public, T, OP_IDEMPOTENT, "Assign a dashboard to the Public customer", "DASHBOARD", "ASSIGNED_TO_CUSTOMER", NULL },
    { "dashboard.removeCustomers", op_dashboard_remove_customers, T, OP_IDEMPOTENT, "Unassign a dashboard from customers", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "dashboard.setCustomers", op_dashboard_set_customers, T, OP_IDEMPOTENT, "Replace a dashboard's customers", "DASHBOARD", "UPDATED", NULL },
    { "dashboard.unassign", op_dashboard_unassign, T, OP_IDEMPOTENT, "Unassign a dashboard (or many) from a customer", "DASHBOARD", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "dashboard.update", op_dashboard_update, T, OP_IDEMPOTENT, "Save a dashboard's title and configuration", "DASHBOARD", "UPDATED", NULL },
    { "device.assign", op_device_assign, T, OP_IDEMPOTENT, "Assign a device (or many) to a customer", "DEVICE", "ASSIGNED_TO_CUSTOMER", NULL },
    { "device.create", op_device_create, T, OP_IDEMPOTENT, "Create a device", "DEVICE", "ADDED", NULL },
    { "device.delete", op_device_delete, T, OP_IDEMPOTENT, "Delete a device", "DEVICE", "DELETED", NULL },
    { "device.get", op_device_get, T | C, OP_READ, "Read a device", NULL, NULL, NULL },
    { "device.list", op_device_list, T, OP_READ, "List the tenant's devices (paged, type filter)", NULL, NULL, NULL },
    { "device.makePublic", op_device_make_public, T, OP_IDEMPOTENT, "Assign a device (or many) to the Public customer", "DEVICE", "ASSIGNED_TO_CUSTOMER", NULL },
    { "device.unassign", op_device_unassign, T, OP_IDEMPOTENT, "Unassign a device (or many) from its customer", "DEVICE", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "device.update", op_device_update, T, OP_IDEMPOTENT, "Save a whole device", "DEVICE", "UPDATED", NULL },
    { "edge.assign", op_edge_assign, T, OP_IDEMPOTENT, "Assign an edge (or many) to a customer", "EDGE", "ASSIGNED_TO_CUSTOMER", NULL },
    { "edge.create", op_edge_create, T, OP_IDEMPOTENT, "Create an edge", "EDGE", "ADDED", NULL },
    { "edge.delete", op_edge_delete, T, OP_IDEMPOTENT, "Delete an edge", "EDGE", "DELETED", NULL },
    { "edge.get", op_edge_get, T | C, OP_READ, "Read an edge", NULL, NULL, NULL },
    { "edge.list", op_edge_list, T, OP_READ, "List the tenant's edges (paged, type filter)", NULL, NULL, NULL },
    { "edge.makePublic", op_edge_make_public, T, OP_IDEMPOTENT, "Assign an edge (or many) to the Public customer", "EDGE", "ASSIGNED_TO_CUSTOMER", NULL },
    { "edge.unassign", op_edge_unassign, T, OP_IDEMPOTENT, "Unassign an edge (or many) from its customer", "EDGE", "UNASSIGNED_FROM_CUSTOMER", NULL },
    { "edge.update", op_edge_update, T, OP_IDEMPOTENT, "Save a whole edge", "EDGE", "UPDATED", NULL },
    { "event.replay", op_event_replay, T, OP_READ, "The tenant's events after a seq", NULL, NULL, NULL },
    { "import.cancel", op_import_cancel, T, OP_IDEMPOTENT, "Stop a running import job where its last chunk ended",
      NULL, NULL, NULL },
    { "import.run", op_import_run, T, OP_IDEMPOTENT,
      "Create customers, customer users, devices, assets or edges from CSV or JSON rows", NULL, NULL, NULL },
    { "import.status", op_import_status, T, OP_READ, "The progress and row results of an import job", NULL, NULL,
      NULL },
    { "tenant.create", op_tenant_create, S, OP_IDEMPOTENT, "Create a tenant", "TENANT", "ADDED", NULL },
    { "tenant.delete", op_tenant_delete, S, OP_IDEMPOTENT, "Delete a tenant and everything in it", "TENANT", "DELETED", NULL },
    { "tenant.get", op_tenant_get, S, OP_READ, "Read a tenant", NULL, NULL, NULL },
    { "tenant.list", op_tenant_list, S, OP_READ, "List tenants (paged)", NULL, NULL, NULL },
    { "tenant.update", op_tenant_update, S, OP_IDEMPOTENT, "Save a whole tenant", "TENANT", "UPDATED", NULL },
    { "twoFa.accountConfig.delete", op_twofa_delete, ANY, 0, "Remove one of the caller's second-factor providers",
      "USER", "UPDATED", NULL },
    { "twoFa.accountConfig.generate", op_twofa_generate, ANY, OP_TWOFA_SETUP,
      "A new TOTP secret (otpauth:// URI, not saved yet) or new backup codes (saved, shown once)", "USER", "UPDATED",
      NULL },
    { "twoFa.accountConfig.get", op_twofa_get, ANY, OP_READ | OP_TWOFA_SETUP, "The caller's second-factor providers", NULL, NULL,
      NULL },
    { "twoFa.accountConfig.verifyAndSave", op_twofa_verify_and_save, ANY, OP_TWOFA_SETUP,
      "Save a second-factor provider (TOTP: once a code of its secret checks)", "USER", "UPDATED", NULL },
    { "twoFa.settings.get", op_twofa_settings_get, S, OP_READ,
      "The platform's two-factor settings: allowed providers, code lifetime, re-send limits", NULL, NULL, NULL },
    { "twoFa.settings.save", op_twofa_settings_save, S, 0,
      "Save the platform's two-factor settings", "ADMIN_SETTINGS", "UPDATED", NULL },
    { "user.activationLink", op_user_activation_link, S | T, 0, "A user's activation link and its TTL", NULL, NULL, NULL },
    { "user.activationLinkInfo", op_user_activation_link, S | T, 0, "A user's activation link and its TTL (ThingsBoard's name)", NULL, NULL, NULL },
    { "user.create", op_user_create, S | T, OP_IDEMPOTENT, "Create a user with an activation token (and mail)", "USER",
      "ADDED", NULL },
    { "user.delete", op_user_delete, S | T, OP_IDEMPOTENT, "Delete a user", "USER", "DELETED", NULL },
    { "user.get", op_user_get, ANY, OP_READ, "Read a user", NULL, NULL, NULL },
    { "user.list", op_user_list, ANY, OP_READ, "List users (paged)", NULL, NULL, NULL },
    { "user.sendActivationMail", op_user_send_activation_mail, S | T, 0, "Mail a user's activation link again",
      "USER", "UPDATED", NULL },
    { "user.setEnabled", op_user_set_enabled, S | T, OP_IDEMPOTENT, "Enable or disable a user's credentials", "USER",
      "UPDATED", NULL },
    { "user.token", op_user_token, S | T, 0, "Log in as a user: its token pair (ThingsBoard's login as)", "USER",
      "LOGIN", NULL },
    { "user.update", op_user_update, ANY, OP_IDEMPOTENT, "Save a user", "USER", "UPDATED", NULL },
};

const struct op *ops_table(size_t *count)
{
    *count = sizeof op_table / sizeof op_table[0];
    return op_table;
}

static int compare_op(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct op *)elem)->name);
}

const struct op *ops_lookup(const char *name)
{
    return bsearch(name, op_table, sizeof op_table / sizeof op_table[0], sizeof op_table[0], compare_op);
}

static struct api_settings settings;

void api_init(const struct api_settings *s)
{
    settings = *s;
    json_alloc_init();
    pipeline_init();
    admit_init();
}

void api_share_rate_limits(struct store *s) { ratelimit_share(s); }

void api_release(void)
{
    ratelimit_share(NULL);
    pipeline_release();
    admit_release();
}

const struct api_settings *api_current_settings(void) { return &settings; }

int64_t api_started_mono_ms(void);
int64_t api_started_mono_ms(void) { return settings.started_mono_ms; }

size_t api_max_batch_commands(void) { return settings.max_batch_commands; }

int64_t api_max_batch_rows(void) { return settings.max_batch_rows; }

cJSON *error_object(const struct error *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "status", error_status(e->kind));
    cJSON_AddNumberToObject(o, "errorCode", error_code(e->kind));
    cJSON_AddStringToObject(o, "message", e->message);
    if (e->kind == ERR_LIMIT_REACHED && e->entity_type != NULL) {
        cJSON_AddStringToObject(o, "entityType", e->entity_type);
        cJSON_AddNumberToObject(o, "limit", (double)e->limit);
    }
    cJSON_AddNumberToObject(o, "timestamp", (double)clock_now_ms());
    return o;
}

bool api_prepares(const struct api_request *req)
{
    const struct op *op = ops_lookup(req->op);
    if (op == NULL || op->prepare == NULL)
        return false;
    /* a batch has hash work when one of its commands has */
    return op->prepare != op_batch_prepare || op_batch_has_hash_work(req->payload, req->payload_len);
}

bool api_reads_only(const char *op_name)
{
    const struct op *op = ops_lookup(op_name);
    return op != NULL && (op->flags & OP_READ);
}
