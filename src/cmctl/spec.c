/* spec.c: cmctl's command table: every operation of agent.ops as `cmctl GROUP VERB`, the flags each
 * takes (a flag names one member of the request's data) and the columns of its table. The help,
 * the argument reader and the bash completion are all driven by this table. */
#include "cmctl.h"

#include <string.h>

static const struct flag_def flags[] = {
    /* paging (PAGING) */
    { "page-size", "pageSize", F_INT, "items per page (default 100)" },
    { "page", "page", F_INT, "page number, from 0" },
    { "search", "textSearch", F_STR, "case-insensitive substring of the title, name or e-mail" },
    { "sort", "sortProperty", F_STR, "sort property, e.g. title, createdTime" },
    { "order", "sortOrder", F_STR, "ASC or DESC" },
    { "page-token", "pageToken", F_STR, "continue a cursor listing after this token" },
    /* addresses of tenants and customers (ADDRESS) */
    { "title", "title", F_STR, "title" },
    { "email", "email", F_STR, "e-mail address" },
    { "phone", "phone", F_STR, "phone number" },
    { "country", "country", F_STR, "country" },
    { "state", "state", F_STR, "state" },
    { "city", "city", F_STR, "city" },
    { "address", "address", F_STR, "address" },
    { "address2", "address2", F_STR, "second address line" },
    { "zip", "zip", F_STR, "zip or postal code" },
    { "info", "additionalInfo", F_JSON, "additionalInfo, a JSON object" },
    { "external-id", "externalId", F_STR, "external id (a UUID)" },
    { "version", "version", F_INT, "the version read; a stale one answers 409" },
    { "limits", "limits", F_JSON, "tenant limits, a JSON object (maxCustomers, maxUsers, ...)" },
    { "name-conflict", "nameConflictPolicy", F_STR, "FAIL (default) or UNIQUIFY a taken title" },
    /* users */
    { "authority", "authority", F_STR, "SYS_ADMIN, TENANT_ADMIN or CUSTOMER_USER" },
    { "first-name", "firstName", F_STR, "first name" },
    { "last-name", "lastName", F_STR, "last name" },
    { "tenant", "tenantId", F_STR, "tenant id" },
    { "customer", "customerId", F_STR, "customer id" },
    { "customers", "customerIds", F_LIST, "customer ids, comma separated" },
    { "send-mail", "sendActivationMail", F_BOOL, "mail the activation link (true or false)" },
    { "enabled", "enabled", F_BOOL, "true or false" },
    /* devices, assets, edges, dashboards */
    { "name", "name", F_STR, "name" },
    { "type", "type", F_STR, "type (a listing: only this type)" },
    { "label", "label", F_STR, "label" },
    { "routing-key", "routingKey", F_STR, "edge routing key" },
    { "secret", "secret", F_STR, "edge secret" },
    { "configuration", "configuration", F_JSON, "dashboard configuration, a JSON object" },
    /* auth, API keys, audit, events, batch */
    { "password", "password", F_STR, "the new password" },
    { "activate-token", "activateToken", F_STR, "the activation token (from the activation link)" },
    { "reset-token", "resetToken", F_STR, "the reset token (from the reset mail)" },
    { "current-password", "currentPassword", F_STR, "the current password" },
    { "new-password", "newPassword", F_STR, "the new password" },
    { "description", "description", F_STR, "description" },
    { "pre-token", "preVerificationToken", F_STR, "the pre-verification token auth.login answered" },
    { "provider", "providerType", F_STR, "TOTP, EMAIL or BACKUP_CODE" },
    { "code", "verificationCode", F_STR, "the verification code" },
    { "auth-url", "authUrl", F_STR, "the otpauth:// URI twofa generate gave" },
    { "providers", "providers", F_LIST, "the allowed second-factor providers, comma separated" },
    { "code-lifetime", "verificationCodeLifetime", F_INT, "seconds a mailed code is valid" },
    { "total-time", "totalAllowedTimeForVerification", F_INT, "seconds a login's second step may take" },
    { "send-period", "minVerificationCodeSendPeriod", F_INT, "seconds between two mailed codes" },
    { "max-sends", "maxVerificationCodeSends", F_INT, "mailed codes per login" },
    { "enforce", "enforceTwoFa", F_BOOL, "require two-factor authentication (true or false)" },
    { "enforced-users", "enforcedUsersFilter", F_JSON, "whom it is required of: {\"type\":\"ALL\"}, ..." },
    { "expires-in", "expiresIn", F_INT, "lifetime in ms (0: never expires)" },
    { "entity-type", "entityType", F_STR, "only entries of this entity type" },
    { "entity-id", "entityId", F_STR, "only entries of this entity" },
    { "user", "userId", F_STR, "only entries of this user" },
    { "start-time", "startTime", F_INT, "from this time (ms)" },
    { "end-time", "endTime", F_INT, "until this time (ms)" },
    { "after", "afterSeq", F_INT, "events after this seq" },
    { "limit", "limit", F_INT, "at most this many (1 to 1000)" },
    { "commands", "commands", F_JSON, "the batch's commands, a JSON array of {\"op\",\"data\"}" },
    { "atomic", "atomic", F_BOOL, "all commands or none (true or false)" },
    /* import */
    { "csv", "csv", F_FILE, "the CSV file to import, its first line naming the columns (- reads stdin)" },
    { "rows", "rows", F_JSON, "the rows to import, a JSON array of objects" },
    { "dry-run", "dryRun", F_BOOL, "check every row, write nothing (true or false)" },
    { "failed-only", "failedOnly", F_BOOL, "only the rows that failed (true or false)" },
    /* every command */
    { "data", NULL, F_JSON, "JSON object merged into the request's data (any member)" },
    { "set", NULL, F_STR, "KEY=VALUE: a string member of data (repeatable)" },
    { NULL, NULL, F_STR, NULL },
};

#define PAGING "page-size,page,search,sort,order"
#define ADDRESS "title,email,phone,country,state,city,address,address2,zip,info"
#define ENTITY "name,type,label,info,customer"
#define USERF "email,authority,first-name,last-name,phone,info,tenant,customer"

const struct group_spec group_specs[] = {
    { "agent", "the agent: liveness, operation table, counters" },
    { "auth", "activation, passwords (login, logout: cmctl login, cmctl logout)" },
    { "apikey", "the caller's API keys" },
    { "twofa", "the caller's two-factor authentication: TOTP, e-mail codes, backup codes" },
    { "broker", "the caller's broker account (broker_acl dynsec)" },
    { "tenant", "tenants (system administrator)" },
    { "customer", "customers of the tenant" },
    { "user", "users" },
    { "device", "devices of the tenant" },
    { "asset", "assets of the tenant" },
    { "edge", "edges of the tenant" },
    { "dashboard", "dashboards of the tenant" },
    { "audit", "the audit log" },
    { "batch", "many operations in one request" },
    { "import", "customers, customer users, devices, assets and edges from CSV or JSON" },
    { NULL, NULL },
};

#define ENTITY_CMDS(g, G, extra, cols)                                                                  \
    { g, "create", G ".create", NULL, ENTITY extra, NULL, NULL, "Create a " g },                        \
    { g, "get", G ".get", "id", NULL, NULL, NULL, "Read a " g },                                        \
    { g, "update", G ".update", "id", "version," ENTITY extra, NULL, NULL, "Save a whole " g },         \
    { g, "delete", G ".delete", "id", NULL, NULL, NULL, "Delete a " g },                                \
    { g, "list", G ".list", NULL, PAGING ",type,page-token", NULL, cols, "List the tenant's " g "s" },  \
    { g, "assign", G ".assign", "ids", "customer", NULL, NULL, "Assign a " g " (or many) to a customer" }, \
    { g, "unassign", G ".unassign", "ids", NULL, NULL, NULL, "Unassign a " g " (or many) from its customer" }, \
    { g, "make-public", G ".makePublic", "ids", NULL, NULL, NULL, "Assign a " g " (or many) to the Public customer" }

const struct cmd_spec cmd_specs[] = {
    { "agent", "ping", "agent.ping", NULL, NULL, NULL, NULL, "Liveness: version and uptime" },
    { "agent", "ops", "agent.ops", NULL, NULL, NULL, "name,authorities,summary", "The operation table" },
    { "agent", "stats", "agent.stats", NULL, NULL, NULL, NULL, "Group-commit counters (system administrator)" },

    { "auth", "activate", "auth.activate", NULL, "activate-token,password", NULL, NULL,
      "Set the first password from an activation token" },
    { "auth", "check-activate-token", "auth.checkActivateToken", NULL, "activate-token", NULL, NULL,
      "Check an activation token" },
    { "auth", "change-password", "auth.changePassword", NULL, "current-password,new-password", NULL, NULL,
      "Change the caller's password" },
    { "auth", "reset-password-by-email", "auth.resetPasswordByEmail", NULL, "email", NULL, NULL,
      "Mail a password reset link" },
    { "auth", "reset-password", "auth.resetPassword", NULL, "reset-token,password", NULL, NULL,
      "Set a new password from a reset token" },

    { "auth", "twofa-providers", "auth.twoFa.providers", NULL, "pre-token", NULL, NULL,
      "The second-factor providers of a login" },
    { "auth", "twofa-send-code", "auth.twoFa.sendCode", NULL, "pre-token,provider", NULL, NULL,
      "Mail a verification code for a login" },
    { "auth", "twofa-verify", "auth.twoFa.verify", NULL, "pre-token,provider,code", NULL, NULL,
      "Check a second-factor code and get the token pair" },

    { "twofa", "generate", "twoFa.accountConfig.generate", NULL, "provider", NULL, NULL,
      "A new TOTP secret (otpauth:// URI) or new backup codes (saved, shown once)" },
    { "twofa", "save", "twoFa.accountConfig.verifyAndSave", NULL, "provider,auth-url,code", NULL, NULL,
      "Save a second-factor provider (TOTP: with a code of its secret)" },
    { "twofa", "get", "twoFa.accountConfig.get", NULL, NULL, NULL, NULL, "The caller's second-factor providers" },
    { "twofa", "settings", "twoFa.settings.get", NULL, NULL, NULL, NULL,
      "The platform's two-factor settings (system administrator)" },
    { "twofa", "save-settings", "twoFa.settings.save", NULL,
      "providers,code-lifetime,total-time,send-period,max-sends,enforce,enforced-users", NULL, NULL,
      "Save the platform's two-factor settings (system administrator)" },
    { "twofa", "delete", "twoFa.accountConfig.delete", NULL, "provider", NULL, NULL,
      "Remove one of the caller's second-factor providers" },

    { "apikey", "create", "apiKey.create", NULL, "description,expires-in", NULL, NULL,
      "Create an API key for the caller (shown once)" },
    { "apikey", "list", "apiKey.list", NULL, NULL, NULL, "id,description,createdTime,expiresAt", "List the caller's API keys" },
    { "apikey", "delete", "apiKey.delete", "id", NULL, NULL, NULL, "Delete one of the caller's API keys" },

    { "broker", "credentials", "broker.credentials", NULL, NULL, NULL, NULL,
      "A new password of the caller's broker account (the old one stops working; login keeps its own)" },

    { "tenant", "create", "tenant.create", NULL, ADDRESS ",limits", NULL, NULL, "Create a tenant" },
    { "tenant", "get", "tenant.get", "id", NULL, NULL, NULL, "Read a tenant" },
    { "tenant", "update", "tenant.update", "id", "version," ADDRESS ",limits", NULL, NULL, "Save a whole tenant" },
    { "tenant", "delete", "tenant.delete", "id", NULL, NULL, NULL, "Delete a tenant and everything in it" },
    { "tenant", "list", "tenant.list", NULL, PAGING, NULL, "id,title,email,country,city,createdTime", "List tenants" },

    { "customer", "create", "customer.create", NULL, ADDRESS ",external-id,name-conflict", NULL, NULL,
      "Create a customer" },
    { "customer", "get", "customer.get", "id", NULL, NULL, NULL, "Read a customer" },
    { "customer", "update", "customer.update", "id", "version," ADDRESS ",external-id", NULL, NULL,
      "Save a whole customer (fields not given are cleared; see patch)" },
    { "customer", "patch", "customer.patch", "id", "version," ADDRESS ",external-id", NULL, NULL,
      "Change only the given fields of a customer" },
    { "customer", "delete", "customer.delete", "ids", NULL, NULL, NULL,
      "Delete a customer (or many), its users, unassign its entities" },
    { "customer", "list", "customer.list", NULL, PAGING ",page-token", NULL, "id,title,email,country,city,createdTime",
      "List the tenant's customers" },
    { "customer", "find-by-title", "customer.findByTitle", NULL, "title", NULL, NULL, "Find a customer by exact title" },
    { "customer", "get-by-ids", "customer.getByIds", "idlist", NULL, NULL, "id,title,email,city",
      "Read the caller's customers among ids" },
    { "customer", "short-info", "customer.shortInfo", "id", NULL, NULL, NULL, "A customer's title and isPublic" },
    { "customer", "title", "customer.title", "id", NULL, NULL, NULL, "A customer's title" },
    { "customer", "users", "customer.users", "customerId", PAGING, NULL, "id,email,authority,firstName,lastName",
      "List a customer's users" },
    { "customer", "devices", "customer.devices", "customerId", PAGING ",type,page-token", NULL, "id,name,type,label",
      "List a customer's devices" },
    { "customer", "assets", "customer.assets", "customerId", PAGING ",type,page-token", NULL, "id,name,type,label",
      "List a customer's assets" },
    { "customer", "edges", "customer.edges", "customerId", PAGING ",type,page-token", NULL, "id,name,type,label",
      "List a customer's edges" },
    { "customer", "dashboards", "customer.dashboards", "customerId", PAGING, NULL, "id,title,createdTime",
      "List a customer's dashboards" },

    { "user", "create", "user.create", NULL, USERF ",send-mail", NULL, NULL,
      "Create a user with an activation token (and mail)" },
    { "user", "get", "user.get", "id", NULL, NULL, NULL, "Read a user" },
    { "user", "update", "user.update", "id", "version," USERF, NULL, NULL, "Save a user" },
    { "user", "delete", "user.delete", "id", NULL, NULL, NULL, "Delete a user" },
    { "user", "list", "user.list", NULL, PAGING ",tenant", NULL, "id,email,authority,firstName,lastName,customerId",
      "List users (the system administrator: of --tenant)" },
    { "user", "activation-link", "user.activationLink", "id", NULL, NULL, NULL, "A user's activation link and its TTL" },
    { "user", "activation-link-info", "user.activationLinkInfo", "id", NULL, NULL, NULL,
      "The same as ThingsBoard's UserActivationLink: value and ttlMs" },
    { "user", "send-activation-mail", "user.sendActivationMail", NULL, "email", NULL, NULL,
      "Mail a user's activation link again" },
    { "user", "enable", "user.setEnabled", "id", NULL, "{\"enabled\":true}", NULL, "Enable a user's credentials" },
    { "user", "disable", "user.setEnabled", "id", NULL, "{\"enabled\":false}", NULL, "Disable a user's credentials" },
    { "user", "token", "user.token", "userId", NULL, NULL, NULL,
      "Log in as a user (ThingsBoard's login as): its token pair" },

    ENTITY_CMDS("device", "device", "", "id,name,type,label,customerId"),
    ENTITY_CMDS("asset", "asset", "", "id,name,type,label,customerId"),
    ENTITY_CMDS("edge", "edge", ",routing-key,secret", "id,name,type,label,customerId"),

    { "dashboard", "create", "dashboard.create", NULL, "title,configuration", NULL, NULL, "Create a dashboard" },
    { "dashboard", "get", "dashboard.get", "id", NULL, NULL, NULL, "Read a dashboard" },
    { "dashboard", "update", "dashboard.update", "id", "version,title,configuration", NULL, NULL,
      "Save a dashboard's title and configuration" },
    { "dashboard", "delete", "dashboard.delete", "id", NULL, NULL, NULL, "Delete a dashboard" },
    { "dashboard", "list", "dashboard.list", NULL, PAGING, NULL, "id,title,createdTime", "List the tenant's dashboards" },
    { "dashboard", "assign", "dashboard.assign", "ids", "customer", NULL, NULL,
      "Assign a dashboard (or many) to a customer" },
    { "dashboard", "unassign", "dashboard.unassign", "ids", "customer", NULL, NULL,
      "Unassign a dashboard (or many) from a customer" },
    { "dashboard", "set-customers", "dashboard.setCustomers", "id", "customers", NULL, NULL,
      "Replace a dashboard's customers" },
    { "dashboard", "add-customers", "dashboard.addCustomers", "id", "customers", NULL, NULL,
      "Assign a dashboard to more customers" },
    { "dashboard", "remove-customers", "dashboard.removeCustomers", "id", "customers", NULL, NULL,
      "Unassign a dashboard from customers" },
    { "dashboard", "make-public", "dashboard.makePublic", "id", NULL, NULL, NULL,
      "Assign a dashboard to the Public customer" },
    { "dashboard", "make-private", "dashboard.makePrivate", "id", NULL, NULL, NULL,
      "Unassign a dashboard from the Public customer" },
    { "dashboard", "home", "dashboard.home", NULL, NULL, NULL, NULL, "The caller's home dashboard" },

    { "audit", "list", "audit.list", NULL, PAGING ",entity-type,entity-id,customer,user,start-time,end-time", NULL,
      "createdTime,entityType,entityName,actionType,userName,actionStatus", "The audit log of the caller's tenant" },
    { "batch", "run", "batch", NULL, "commands,atomic", NULL, "status,errorCode,message",
      "Run many operations in one request" },
    { "import", "run", "import.run", NULL, "entity-type,csv,rows,dry-run,atomic,send-mail,name-conflict", NULL,
      "row,line,status,id,message", "Import rows (--entity-type CUSTOMER, USER, DEVICE, ASSET or EDGE)" },
    { "import", "status", "import.status", "jobId", "page-size,page,failed-only", NULL, "row,status,id,message",
      "The progress and row results of an import job" },
    { "import", "cancel", "import.cancel", "jobId", NULL, NULL, NULL, "Stop a running import job" },
    { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
};

const struct flag_def *flag_find(const char *name)
{
    for (const struct flag_def *f = flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* A verb given in the op's own spelling (findByTitle) is accepted as well. */
const struct cmd_spec *spec_find(const char *group, const char *verb)
{
    for (const struct cmd_spec *c = cmd_specs; c->group; c++)
        if (strcmp(c->group, group) == 0 && strcmp(c->verb, verb) == 0)
            return c;
    for (const struct cmd_spec *c = cmd_specs; c->group; c++) {
        const char *dot = strchr(c->op, '.');
        if (strcmp(c->group, group) == 0 && dot && strcmp(dot + 1, verb) == 0 && !c->fixed)
            return c;
    }
    return NULL;
}

bool spec_has_flag(const struct cmd_spec *c, const char *name)
{
    size_t n = strlen(name);
    if (strcmp(name, "data") == 0 || strcmp(name, "set") == 0)
        return true;
    for (const char *p = c->flags; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        p += l + (p[l] == ',');
    }
    return false;
}

bool spec_anonymous(const struct cmd_spec *c)
{
    return strcmp(c->group, "auth") == 0 && strcmp(c->verb, "change-password") != 0 ? true
           : strcmp(c->op, "agent.ping") == 0;
}
