/* op_broker.c: broker.credentials, the caller's broker account (broker_acl dynsec). */
#include "ops.h"

#include "cmagent/broker_access.h"

int op_broker_credentials(struct call *c)
{
    static const char *const keys[] = { NULL };
    char username[BROKER_NAME_MAX], password[BROKER_PASSWORD_MAX];

    if (args_allow(c, keys) || broker_credentials(c->ctx, username, password) != ERR_OK)
        return call_failed(c);
    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "username", username);
    cJSON_AddStringToObject(c->result, "password", password);
    return ERR_OK;
}
