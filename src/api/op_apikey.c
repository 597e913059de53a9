/* op_apikey.c: apiKey.create, apiKey.list, apiKey.delete. */
#include "ops.h"

#include "cmagent/apikey.h"
#include "render.h"

#include <stdlib.h>

int op_apikey_create(struct call *c)
{
    static const char *const keys[] = { "description", "expiresIn", NULL };
    char *description = NULL;
    int64_t expires_in = 0;
    char key[SECRET_TOKEN_MAX];
    struct token t = { 0 };

    if (args_allow(c, keys) || arg_string(c, "description", false, &description) ||
        arg_int(c, "expiresIn", false, &expires_in, NULL)) {
        free(description);
        return call_failed(c);
    }
    int rc = apikey_create(c->ctx, description, expires_in, key, &t);
    free(description);
    if (rc == ERR_OK) {
        c->result = render_api_key(&t);
        cJSON_AddStringToObject(c->result, "key", key);
    }
    token_release(&t);
    return rc;
}

int op_apikey_list(struct call *c)
{
    static const char *const keys[] = { NULL };
    struct token *items = NULL;
    size_t n = 0;

    if (args_allow(c, keys) || apikey_list(c->ctx, &items, &n))
        return call_failed(c);
    c->result = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(c->result, render_api_key(&items[i]));
    tokens_free(items, n);
    return ERR_OK;
}

int op_apikey_delete(struct call *c)
{
    static const char *const keys[] = { "id", NULL };
    char id[UUID_STR_LEN];
    if (args_allow(c, keys) || arg_id(c, "id", true, id))
        return call_failed(c);
    return apikey_delete(c->ctx, id);
}
