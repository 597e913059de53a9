/* dynsec.c: mosquitto dynamic-security commands, replies and first configuration (dynsec.h). */
#include "cmagent/dynsec.h"

#include "cmagent/model.h"
#include "cmagent/secret.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNSEC_ITERATIONS 101 /* what mosquitto_ctrl and the plugin use themselves */

struct dynsec_batch {
    cJSON *commands;
};

struct dynsec_batch *dynsec_batch_new(void)
{
    struct dynsec_batch *b = xcalloc(1, sizeof *b);
    b->commands = cJSON_CreateArray();
    return b;
}

void dynsec_batch_free(struct dynsec_batch *b)
{
    if (b == NULL)
        return;
    cJSON_Delete(b->commands);
    free(b);
}

size_t dynsec_batch_size(const struct dynsec_batch *b)
{
    return (size_t)cJSON_GetArraySize(b->commands);
}

char *dynsec_batch_take(struct dynsec_batch *b)
{
    if (dynsec_batch_size(b) == 0)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "commands", b->commands);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    b->commands = cJSON_CreateArray();
    return text;
}

static cJSON *command(struct dynsec_batch *b, const char *name, const char *correlation)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "command", name);
    if (correlation != NULL)
        cJSON_AddStringToObject(c, "correlationData", correlation);
    cJSON_AddItemToArray(b->commands, c);
    return c;
}

static cJSON *acl_json(const struct broker_acl *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "acltype", a->type);
    cJSON_AddStringToObject(o, "topic", a->topic);
    cJSON_AddNumberToObject(o, "priority", a->priority);
    cJSON_AddBoolToObject(o, "allow", a->allow);
    return o;
}

static cJSON *acls_json(const struct broker_acl_list *l)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < l->n; i++)
        cJSON_AddItemToArray(arr, acl_json(&l->items[i]));
    return arr;
}

static cJSON *roles_json(const char *a, const char *b)
{
    cJSON *arr = cJSON_CreateArray();
    const char *names[] = { a, b };
    for (size_t i = 0; i < 2; i++) {
        if (names[i] == NULL)
            continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "rolename", names[i]);
        cJSON_AddItemToArray(arr, r);
    }
    return arr;
}

/* A role with its list: created, and each entry added again in case the role existed. */
static void ensure_role(struct dynsec_batch *b, const char *name, const struct broker_acl_list *l)
{
    cJSON *c = command(b, "createRole", NULL);
    cJSON_AddStringToObject(c, "rolename", name);
    cJSON_AddItemToObject(c, "acls", acls_json(l));
    for (size_t i = 0; i < l->n; i++) {
        c = command(b, "addRoleACL", NULL);
        cJSON_AddStringToObject(c, "rolename", name);
        cJSON_AddStringToObject(c, "acltype", l->items[i].type);
        cJSON_AddStringToObject(c, "topic", l->items[i].topic);
        cJSON_AddNumberToObject(c, "priority", l->items[i].priority);
        cJSON_AddBoolToObject(c, "allow", l->items[i].allow);
    }
}

static void add_default_access(cJSON *into)
{
    static const struct { const char *type; bool allow; } access[] = {
        { "publishClientSend", false }, { "publishClientReceive", false }, { "subscribe", false },
        { "unsubscribe", true },
    };
    for (size_t i = 0; i < sizeof access / sizeof access[0]; i++)
        cJSON_AddBoolToObject(into, access[i].type, access[i].allow);
}

void dynsec_batch_baseline(struct dynsec_batch *b, const struct broker_names *names, const char *agent_username)
{
    char client[BROKER_NAME_MAX], anon[BROKER_NAME_MAX], agent[BROKER_NAME_MAX];
    struct broker_acl_list l;

    broker_role_name(names, "client", client);
    broker_role_name(names, "anon", anon);
    broker_role_name(names, "agent", agent);
    broker_agent_acls(names, &l);
    ensure_role(b, agent, &l);
    cJSON *c = command(b, "addClientRole", NULL);
    cJSON_AddStringToObject(c, "username", agent_username);
    cJSON_AddStringToObject(c, "rolename", agent);
    broker_client_acls(names, &l);
    ensure_role(b, client, &l);
    broker_anon_acls(names, &l);
    ensure_role(b, anon, &l);
    c = command(b, "createGroup", NULL);
    cJSON_AddStringToObject(c, "groupname", anon);
    c = command(b, "addGroupRole", NULL);
    cJSON_AddStringToObject(c, "groupname", anon);
    cJSON_AddStringToObject(c, "rolename", anon);
    /* Not setAnonymousGroup nor setDefaultACLAccess: mosquitto disconnects every anonymous client
     * on the first, at every agent start; the first configuration (dynsec_initial_config) has
     * both, and docs/broker-acl.md says how to set them on a configuration made otherwise. */
}

static void client_command(struct dynsec_batch *b, const char *name, const char *username, const char *correlation)
{
    cJSON *c = command(b, name, correlation);
    cJSON_AddStringToObject(c, "username", username);
}

void dynsec_batch_delete(struct dynsec_batch *b, const char *username, const char *correlation)
{
    client_command(b, "deleteClient", username, correlation);
    cJSON *c = command(b, "deleteRole", NULL);
    cJSON_AddStringToObject(c, "rolename", username);
}

void dynsec_batch_account(struct dynsec_batch *b, const struct broker_names *names, const struct broker_state *st,
                          const char *password, const char *correlation)
{
    char client[BROKER_NAME_MAX], unknown[SECRET_TOKEN_MAX];
    struct broker_acl_list l;

    if (st->presence == BROKER_ABSENT) {
        dynsec_batch_delete(b, st->username, correlation);
        return;
    }
    if (st->presence == BROKER_DISABLED) {
        client_command(b, "disableClient", st->username, correlation);
        return;
    }
    /* Never deleteRole on a role a client holds: mosquitto 2.0.11 then crashes on the next
     * command naming that client. An account's rights never change (its user's authority, tenant
     * and customer are fixed), so the role is created and its entries added again, which the
     * broker refuses harmlessly when they are there. */
    broker_role_name(names, "client", client);
    broker_account_acls(names, st, &l);
    ensure_role(b, st->username, &l);
    secret_token(unknown, "", 24);
    cJSON *c = command(b, "createClient", NULL);
    cJSON_AddStringToObject(c, "username", st->username);
    cJSON_AddStringToObject(c, "password", password != NULL ? password : unknown);
    cJSON_AddItemToObject(c, "roles", roles_json(st->username, client));
    if (password != NULL || st->rotate) {
        c = command(b, "setClientPassword", NULL);
        cJSON_AddStringToObject(c, "username", st->username);
        cJSON_AddStringToObject(c, "password", password != NULL ? password : unknown);
    }
    client_command(b, "enableClient", st->username, correlation);
}

void dynsec_batch_list_clients(struct dynsec_batch *b, const char *correlation)
{
    cJSON *c = command(b, "listClients", correlation);
    cJSON_AddBoolToObject(c, "verbose", false);
    cJSON_AddNumberToObject(c, "count", -1);
    cJSON_AddNumberToObject(c, "offset", 0);
}

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int dynsec_parse(const char *payload, size_t len, dynsec_response_fn *fn, void *arg)
{
    cJSON *root = cJSON_ParseWithLength(payload, len);
    const cJSON *responses = cJSON_GetObjectItemCaseSensitive(root, "responses");
    const cJSON *r;

    if (!cJSON_IsArray(responses)) {
        cJSON_Delete(root);
        return -1;
    }
    cJSON_ArrayForEach(r, responses)
    {
        const char *cmd = string_of(r, "command");
        if (cmd == NULL)
            continue;
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "data");
        const cJSON *clients = cJSON_GetObjectItemCaseSensitive(data, "clients");
        size_t n = 0, cap = cJSON_IsArray(clients) ? (size_t)cJSON_GetArraySize(clients) : 0;
        const char **names = cap > 0 ? xcalloc(cap, sizeof *names) : NULL;
        const cJSON *c;
        if (cap > 0)
            cJSON_ArrayForEach(c, clients)
            {
                const char *u = cJSON_IsString(c) ? c->valuestring : string_of(c, "username");
                if (u != NULL && n < cap)
                    names[n++] = u;
            }
        fn(arg, cmd, string_of(r, "error"), string_of(r, "correlationData"), names, n);
        free(names);
    }
    cJSON_Delete(root);
    return 0;
}

static cJSON *role_json(const char *name, const struct broker_acl_list *l)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "rolename", name);
    cJSON_AddItemToObject(r, "acls", acls_json(l));
    return r;
}

char *dynsec_initial_config(const struct broker_names *names, const char *agent_username, const char *agent_password)
{
    char client[BROKER_NAME_MAX], anon[BROKER_NAME_MAX], agent[BROKER_NAME_MAX], salt[32], hash[128];
    struct broker_acl_list l = { 0 };
    cJSON *root = cJSON_CreateObject(), *clients = cJSON_AddArrayToObject(root, "clients");
    cJSON *roles = cJSON_AddArrayToObject(root, "roles"), *groups = cJSON_AddArrayToObject(root, "groups");

    broker_role_name(names, "client", client);
    broker_role_name(names, "anon", anon);
    broker_role_name(names, "agent", agent);
    secret_dynsec_hash(agent_password, DYNSEC_ITERATIONS, salt, hash);
    cJSON *me = cJSON_CreateObject();
    cJSON_AddStringToObject(me, "username", agent_username);
    cJSON_AddStringToObject(me, "textName", "cmagent (dynamic-security admin)");
    cJSON_AddStringToObject(me, "password", hash);
    cJSON_AddStringToObject(me, "salt", salt);
    cJSON_AddNumberToObject(me, "iterations", DYNSEC_ITERATIONS);
    cJSON_AddItemToObject(me, "roles", roles_json("admin", agent));
    cJSON_AddItemToArray(clients, me);
    /* the plugin's admin role, as mosquitto_ctrl dynsec init writes it */
    static const char *const admin[][2] = {
        { "publishClientSend", "$CONTROL/dynamic-security/#" }, { "publishClientReceive", "$CONTROL/dynamic-security/#" },
        { "subscribePattern", "$CONTROL/dynamic-security/#" }, { "publishClientReceive", "$SYS/#" },
        { "subscribePattern", "$SYS/#" }, { "publishClientReceive", "#" }, { "subscribePattern", "#" },
        { "unsubscribePattern", "#" },
    };
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
        struct broker_acl *a = &l.items[l.n++];
        a->type = admin[i][0];
        snprintf(a->topic, sizeof a->topic, "%s", admin[i][1]);
        a->allow = true;
    }
    cJSON_AddItemToArray(roles, role_json("admin", &l));
    broker_agent_acls(names, &l);
    cJSON_AddItemToArray(roles, role_json(agent, &l));
    broker_client_acls(names, &l);
    cJSON_AddItemToArray(roles, role_json(client, &l));
    broker_anon_acls(names, &l);
    cJSON_AddItemToArray(roles, role_json(anon, &l));
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "groupname", anon);
    cJSON_AddItemToObject(g, "roles", roles_json(anon, NULL));
    cJSON_AddItemToArray(groups, g);
    cJSON_AddStringToObject(root, "anonymousGroup", anon);
    add_default_access(cJSON_AddObjectToObject(root, "defaultACLAccess"));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
