/* render.h: the JSON shapes of entities on the wire (ThingsBoard's field names and id objects). */
#ifndef CMAGENT_API_RENDER_H
#define CMAGENT_API_RENDER_H

#include "cmagent/audit.h"
#include "cmagent/model.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

cJSON *render_customer(const struct customer *c);
cJSON *render_tenant(const struct tenant *t);
/* cred non-NULL adds additionalInfo.userCredentialsEnabled, userActivated and lastLoginTs, as
 * ThingsBoard's GET /api/user/{id} does. */
cJSON *render_user(const struct user *u, const struct credentials *cred);
/* Removes from a user's additionalInfo (JSON text, may be NULL) the members render_user derives
 * from the credentials, so that saving what user.get returned does not freeze them. */
void render_user_strip_derived(char **additional_info);
cJSON *render_api_key(const struct token *t);
/* A device, asset or edge; customerId is NULL_UUID when not assigned, as ThingsBoard shows it. */
cJSON *render_entity(const struct entity *e);
/* A dashboard. with_configuration false gives ThingsBoard's DashboardInfo (listings); blank_configuration
 * puts "" in its place, as ThingsBoard's rule-engine messages do. */
cJSON *render_dashboard(const struct dashboard *d, bool with_configuration, bool blank_configuration);
/* The reply's rendering of an entity the running operation's last event rendered (the same struct,
 * id and version): that event's text again, as a raw node not to be changed; else as above. */
cJSON *render_customer_reply(const struct customer *c);
cJSON *render_tenant_reply(const struct tenant *t);
/* A user without its credentials' fields (render_user(u, NULL)), as user.create and user.update
 * answer and the user's events carry it. A dashboard has none: its events blank the configuration
 * its replies carry, so the two texts differ. */
cJSON *render_user_reply(const struct user *u);
cJSON *render_entity_reply(const struct entity *e);
/* Forgets the kept text (at the end of every handler's run, so nothing outlives its operation). */
void render_forget(void);
/* An audit row as ThingsBoard's AuditLog JSON. */
cJSON *render_audit_row(const struct audit_row *r);

#endif
