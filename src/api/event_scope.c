/* event_scope.c: the customers an event concerns (api_event_customers in api.h), for the
 * customer-scoped copies of events under <prefix>/cevent/ (broker_acl dynsec). */
#include "cmagent/api.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static void add_id(char (*out)[UUID_STR_LEN], size_t max, size_t *n, const cJSON *v)
{
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (!cJSON_IsString(v) || strlen(v->valuestring) != UUID_STR_LEN - 1 || strcmp(v->valuestring, NULL_UUID) == 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i], v->valuestring) == 0)
            return;
    if (*n < max)
        snprintf(out[(*n)++], UUID_STR_LEN, "%s", v->valuestring);
}

size_t api_event_customers(const char *payload, char (*out)[UUID_STR_LEN], size_t max)
{
    cJSON *root = cJSON_Parse(payload);
    size_t n = 0;
    const cJSON *origin = cJSON_GetObjectItemCaseSensitive(root, "originator");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(origin, "entityType");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *c;

    if (cJSON_IsString(type) && strcmp(type->valuestring, "CUSTOMER") == 0)
        add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(origin, "id"));
    add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(root, "customerId"));
    add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(data, "customerId"));
    add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(meta, "assignedCustomerId"));
    add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(meta, "unassignedCustomerId"));
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(data, "assignedCustomers"))
        add_id(out, max, &n, cJSON_GetObjectItemCaseSensitive(c, "customerId"));
    cJSON_Delete(root);
    return n;
}
