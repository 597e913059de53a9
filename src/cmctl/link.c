/* link.c: cmctl's requests to the agent over its MQTT link (client_link.h, the transport's):
 * the link opened with cmctl's settings, and each reply read as the JSON object it must be. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>

struct client_link *link_open(const struct settings *s, char *err, size_t errlen)
{
    const struct client_link_options o = {
        .broker = s->broker,
        .prefix = s->prefix,
        .username = s->username,
        .password = s->password,
        .cafile = s->cafile,
        .certfile = s->certfile,
        .keyfile = s->keyfile,
        .timeout_s = s->timeout_s,
        .insecure = s->insecure,
    };
    return client_link_open(&o, err, errlen);
}

cJSON *link_request(struct client_link *l, const char *op, const char *payload, bool anonymous, char **raw, char *err,
                    size_t errlen)
{
    char *text = client_link_request(l, op, payload, anonymous, err, errlen);
    cJSON *reply;
    *raw = NULL;
    if (text == NULL)
        return NULL;
    reply = cJSON_Parse(text);
    if (!cJSON_IsObject(reply)) {
        snprintf(err, errlen, "%s: the reply is not a JSON object: %.200s", op, text);
        cJSON_Delete(reply);
        free(text);
        return NULL;
    }
    *raw = text;
    return reply;
}
