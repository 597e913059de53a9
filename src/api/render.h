/* render.h: the JSON shapes of entities on the wire (ThingsBoard's field names and id objects). */
#ifndef CMAGENT_API_RENDER_H
#define CMAGENT_API_RENDER_H

#include "cmagent/model.h"

#include <cjson/cJSON.h>

cJSON *render_customer(const struct customer *c);
cJSON *render_tenant(const struct tenant *t);
/* cred non-NULL adds additionalInfo.userCredentialsEnabled, userActivated and lastLoginTs, as
 * ThingsBoard's GET /api/user/{id} does. */
cJSON *render_user(const struct user *u, const struct credentials *cred);
/* Removes from a user's additionalInfo (JSON text, may be NULL) the members render_user derives
 * from the credentials, so that saving what user.get returned does not freeze them. */
void render_user_strip_derived(char **additional_info);
cJSON *render_api_key(const struct token *t);

#endif
