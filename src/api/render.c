/* render.c: entities to JSON, and the body of change events (protocol §6). Render once: the entity
 * of an event is printed once, when the event is rendered; its audit row's actionData and the
 * operation's reply reuse that text (see render_forget). */
#include "render.h"

#include "call.h"
#include "cmagent/api.h"
#include "cmagent/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_contact(cJSON *o, const struct contact *k)
{
    cJSON_AddItemToObject(o, "country", json_string_or_null(k->country));
    cJSON_AddItemToObject(o, "state", json_string_or_null(k->state));
    cJSON_AddItemToObject(o, "city", json_string_or_null(k->city));
    cJSON_AddItemToObject(o, "address", json_string_or_null(k->address));
    cJSON_AddItemToObject(o, "address2", json_string_or_null(k->address2));
    cJSON_AddItemToObject(o, "zip", json_string_or_null(k->zip));
    cJSON_AddItemToObject(o, "phone", json_string_or_null(k->phone));
    cJSON_AddItemToObject(o, "email", json_string_or_null(k->email));
}

cJSON *render_customer(const struct customer *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id("CUSTOMER", c->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)c->created_time);
    cJSON_AddItemToObject(o, "tenantId", json_entity_id("TENANT", c->tenant_id));
    cJSON_AddItemToObject(o, "title", json_string_or_null(c->title));
    cJSON_AddItemToObject(o, "name", json_string_or_null(c->title));
    add_contact(o, &c->contact);
    cJSON_AddItemToObject(o, "additionalInfo", json_parse_text(c->additional_info));
    cJSON_AddItemToObject(o, "externalId", json_entity_id("CUSTOMER", c->external_id));
    cJSON_AddNumberToObject(o, "version", (double)c->version);
    return o;
}

cJSON *render_tenant(const struct tenant *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id("TENANT", t->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)t->created_time);
    cJSON_AddItemToObject(o, "title", json_string_or_null(t->title));
    cJSON_AddItemToObject(o, "name", json_string_or_null(t->title));
    add_contact(o, &t->contact);
    cJSON_AddItemToObject(o, "additionalInfo", json_parse_text(t->additional_info));
    cJSON *l = cJSON_AddObjectToObject(o, "limits");
    json_add_integer(l, "maxCustomers", t->limits.max_customers);
    json_add_integer(l, "maxUsers", t->limits.max_users);
    json_add_integer(l, "maxDevices", t->limits.max_devices);
    json_add_integer(l, "maxAssets", t->limits.max_assets);
    json_add_integer(l, "maxEdges", t->limits.max_edges);
    json_add_integer(l, "maxDashboards", t->limits.max_dashboards);
    cJSON_AddNumberToObject(o, "version", (double)t->version);
    return o;
}

/* The members of a user's additionalInfo that the agent derives from its credentials on every read
 * (ThingsBoard's userCredentialsEnabled, userActivated, lastLoginTs); never stored. */
static const char *const derived_info_keys[] = { "userCredentialsEnabled", "userActivated", "lastLoginTs" };

static void delete_derived_info(cJSON *info)
{
    for (size_t i = 0; i < sizeof derived_info_keys / sizeof derived_info_keys[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(info, derived_info_keys[i]);
}

void render_user_strip_derived(char **additional_info)
{
    cJSON *info = json_parse_text(*additional_info);
    if (!cJSON_IsObject(info)) {
        cJSON_Delete(info);
        return;
    }
    delete_derived_info(info);
    free(*additional_info);
    *additional_info = cJSON_PrintUnformatted(info);
    cJSON_Delete(info);
}

cJSON *render_user(const struct user *u, const struct credentials *cred)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id("USER", u->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)u->created_time);
    cJSON_AddItemToObject(o, "tenantId", json_entity_id("TENANT", u->tenant_id));
    cJSON_AddItemToObject(o, "customerId", json_entity_id("CUSTOMER", u->customer_id));
    cJSON_AddItemToObject(o, "email", json_string_or_null(u->email));
    cJSON_AddItemToObject(o, "name", json_string_or_null(u->email));
    cJSON_AddStringToObject(o, "authority", authority_name(u->authority));
    cJSON_AddItemToObject(o, "firstName", json_string_or_null(u->first_name));
    cJSON_AddItemToObject(o, "lastName", json_string_or_null(u->last_name));
    cJSON_AddItemToObject(o, "phone", json_string_or_null(u->phone));
    cJSON *info = json_parse_text(u->additional_info);
    if (cred != NULL) {
        if (!cJSON_IsObject(info)) {
            cJSON_Delete(info);
            info = cJSON_CreateObject();
        }
        delete_derived_info(info);
        cJSON_AddBoolToObject(info, "userCredentialsEnabled", cred->enabled);
        cJSON_AddBoolToObject(info, "userActivated", cred->activate_token == NULL);
        if (cred->last_login_ts > 0)
            cJSON_AddNumberToObject(info, "lastLoginTs", (double)cred->last_login_ts);
        else
            cJSON_AddNullToObject(info, "lastLoginTs");
    }
    cJSON_AddItemToObject(o, "additionalInfo", info);
    cJSON_AddNumberToObject(o, "version", (double)u->version);
    return o;
}

cJSON *render_api_key(const struct token *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddItemToObject(o, "description", json_string_or_null(t->description));
    cJSON_AddNumberToObject(o, "createdTime", (double)t->created_time);
    if (t->expires_at > 0)
        cJSON_AddNumberToObject(o, "expiresAt", (double)t->expires_at);
    else
        cJSON_AddNullToObject(o, "expiresAt");
    return o;
}

cJSON *render_entity(const struct entity *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id(entity_kind_type(e->kind), e->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)e->created_time);
    cJSON_AddItemToObject(o, "tenantId", json_entity_id("TENANT", e->tenant_id));
    cJSON_AddItemToObject(o, "customerId", json_entity_id("CUSTOMER", e->customer_id[0] ? e->customer_id : NULL_UUID));
    cJSON_AddItemToObject(o, "name", json_string_or_null(e->name));
    cJSON_AddItemToObject(o, "type", json_string_or_null(e->type));
    cJSON_AddItemToObject(o, "label", json_string_or_null(e->label));
    if (e->kind == ENTITY_EDGE) {
        cJSON_AddItemToObject(o, "routingKey", json_string_or_null(e->routing_key));
        cJSON_AddItemToObject(o, "secret", json_string_or_null(e->secret));
    }
    cJSON_AddItemToObject(o, "additionalInfo", json_parse_text(e->additional_info));
    cJSON_AddNumberToObject(o, "version", (double)e->version);
    return o;
}

cJSON *render_dashboard(const struct dashboard *d, bool with_configuration, bool blank_configuration)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id("DASHBOARD", d->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)d->created_time);
    cJSON_AddItemToObject(o, "tenantId", json_entity_id("TENANT", d->tenant_id));
    cJSON_AddItemToObject(o, "title", json_string_or_null(d->title));
    cJSON_AddItemToObject(o, "name", json_string_or_null(d->title));
    cJSON *a = cJSON_AddArrayToObject(o, "assignedCustomers");
    for (size_t i = 0; i < d->n_assigned; i++) {
        cJSON *sc = cJSON_CreateObject();
        cJSON_AddItemToObject(sc, "customerId", json_entity_id("CUSTOMER", d->assigned[i].customer_id));
        cJSON_AddItemToObject(sc, "title", json_string_or_null(d->assigned[i].title));
        cJSON_AddBoolToObject(sc, "public", d->assigned[i].is_public);
        cJSON_AddItemToArray(a, sc);
    }
    if (blank_configuration)
        cJSON_AddStringToObject(o, "configuration", "");
    else if (with_configuration)
        cJSON_AddItemToObject(o, "configuration", json_parse_text(d->configuration));
    cJSON_AddNumberToObject(o, "version", (double)d->version);
    return o;
}

static cJSON *render_event_entity(const struct event *ev)
{
    if (ev->entity == NULL)
        return cJSON_CreateNull();
    if (strcmp(ev->entity_type, "CUSTOMER") == 0)
        return render_customer(ev->entity);
    if (strcmp(ev->entity_type, "USER") == 0)
        return render_user(ev->entity, NULL);
    if (strcmp(ev->entity_type, "TENANT") == 0)
        return render_tenant(ev->entity);
    if (strcmp(ev->entity_type, "DASHBOARD") == 0)
        return render_dashboard(ev->entity, false, true);
    if (strcmp(ev->entity_type, "DEVICE") == 0 || strcmp(ev->entity_type, "ASSET") == 0 ||
        strcmp(ev->entity_type, "EDGE") == 0)
        return render_entity(ev->entity);
    return cJSON_CreateNull();
}

/* The entity text of the last event this thread rendered, while its operation runs: the event it
 * was for (its serial), and the entity struct, id and version it was made from. */
static _Thread_local struct {
    const struct event *ev;
    int64_t serial;
    const void *entity;
    char id[UUID_STR_LEN];
    int64_t version;
    char *text;
} last;

void render_forget(void)
{
    cJSON_free(last.text);
    memset(&last, 0, sizeof last);
}

void api_render_done(void) { render_forget(); }

/* The id and version of an event's entity, when its reply renders it as the event does. */
static bool entity_key(const struct event *ev, const char **id, int64_t *version)
{
    if (ev->entity == NULL)
        return false;
    if (strcmp(ev->entity_type, "CUSTOMER") == 0) {
        *id = ((const struct customer *)ev->entity)->id;
        *version = ((const struct customer *)ev->entity)->version;
    } else if (strcmp(ev->entity_type, "TENANT") == 0) {
        *id = ((const struct tenant *)ev->entity)->id;
        *version = ((const struct tenant *)ev->entity)->version;
    } else if (strcmp(ev->entity_type, "USER") == 0) {
        *id = ((const struct user *)ev->entity)->id;
        *version = ((const struct user *)ev->entity)->version;
    } else if (strcmp(ev->entity_type, "DEVICE") == 0 || strcmp(ev->entity_type, "ASSET") == 0 ||
               strcmp(ev->entity_type, "EDGE") == 0) {
        *id = ((const struct entity *)ev->entity)->id;
        *version = ((const struct entity *)ev->entity)->version;
    } else {
        return false;
    }
    return true;
}

/* The event's entity as text, printed once and kept for its audit row and the reply. */
static const char *event_entity_text(const struct event *ev)
{
    const char *id = "";
    int64_t version = 0;

    if (last.text != NULL && last.ev == ev && last.serial == ev->serial)
        return last.text;
    render_forget();
    cJSON *entity = render_event_entity(ev);
    last.text = cJSON_PrintUnformatted(entity);
    cJSON_Delete(entity);
    last.ev = ev;
    last.serial = ev->serial;
    if (entity_key(ev, &id, &last.version)) {
        last.entity = ev->entity;
        snprintf(last.id, sizeof last.id, "%s", id);
    }
    (void)version;
    return last.text;
}

/* The kept text when entity (id, version) is the one the last event rendered, else NULL. */
static cJSON *reuse(const void *entity, const char *id, int64_t version)
{
    if (last.text == NULL || last.entity != entity || last.version != version || strcmp(last.id, id) != 0)
        return NULL;
    return cJSON_CreateRaw(last.text);
}

cJSON *render_customer_reply(const struct customer *c)
{
    cJSON *o = reuse(c, c->id, c->version);
    return o != NULL ? o : render_customer(c);
}

cJSON *render_tenant_reply(const struct tenant *t)
{
    cJSON *o = reuse(t, t->id, t->version);
    return o != NULL ? o : render_tenant(t);
}

cJSON *render_user_reply(const struct user *u)
{
    cJSON *o = reuse(u, u->id, u->version);
    return o != NULL ? o : render_user(u, NULL);
}

cJSON *render_entity_reply(const struct entity *e)
{
    cJSON *o = reuse(e, e->id, e->version);
    return o != NULL ? o : render_entity(e);
}

static void add_if(cJSON *o, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        cJSON_AddStringToObject(o, key, value);
}

char *api_render_event(const struct event *ev, const struct principal *who)
{
    cJSON *o = cJSON_CreateObject();
    /* "seq" and "tenantSeq" come first, put in when the event is numbered (events_store) */
    cJSON_AddNumberToObject(o, "ts", (double)ev->ts);
    cJSON_AddStringToObject(o, "type", ev->type);
    cJSON_AddStringToObject(o, "tenantId", ev->tenant_id);
    cJSON_AddItemToObject(o, "customerId", json_string_or_null(ev->customer_id[0] ? ev->customer_id : NULL));
    cJSON_AddItemToObject(o, "originator", json_entity_id(ev->entity_type, ev->entity_id));
    cJSON *m = cJSON_AddObjectToObject(o, "metadata");
    if (who->authority != AUTHORITY_NONE) {
        add_if(m, "userId", who->user_id);
        add_if(m, "userName", who->email);
        add_if(m, "userEmail", who->email);
        add_if(m, "userFirstName", who->first_name);
        add_if(m, "userLastName", who->last_name);
        /* Extension: a change made in a user.token session names the user who acted */
        add_if(m, "actingUserId", who->acting_user_id);
        add_if(m, "actingUserName", who->acting_email);
    }
    add_if(m, "customerId", ev->customer_id);
    add_if(m, "entityName", ev->entity_name);
    add_if(m, "entityType", ev->entity_type);
    add_if(m, "assignedCustomerId", ev->assigned_customer_id);
    add_if(m, "assignedCustomerName", ev->assigned_customer_name);
    add_if(m, "unassignedCustomerId", ev->unassigned_customer_id);
    add_if(m, "unassignedCustomerName", ev->unassigned_customer_name);
    cJSON_AddItemToObject(o, "data", cJSON_CreateRaw(event_entity_text(ev)));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

char *api_render_audit(const struct event *ev, const struct principal *who)
{
    cJSON *o = cJSON_CreateObject();
    (void)who;
    if (strcmp(ev->type, "ENTITY_CREATED") == 0 || strcmp(ev->type, "ENTITY_UPDATED") == 0) {
        cJSON_AddItemToObject(o, "entity", cJSON_CreateRaw(event_entity_text(ev)));
    } else {
        cJSON_AddStringToObject(o, "entityId", ev->entity_id);
        add_if(o, "assignedCustomerId", ev->assigned_customer_id);
        add_if(o, "assignedCustomerName", ev->assigned_customer_name);
        add_if(o, "unassignedCustomerId", ev->unassigned_customer_id);
        add_if(o, "unassignedCustomerName", ev->unassigned_customer_name);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

cJSON *render_audit_row(const struct audit_row *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "id", json_entity_id("AUDIT_LOG", r->id));
    cJSON_AddNumberToObject(o, "createdTime", (double)r->created_time);
    cJSON_AddItemToObject(o, "tenantId", json_entity_id("TENANT", r->tenant_id));
    cJSON_AddItemToObject(o, "customerId", json_entity_id("CUSTOMER", r->customer_id));
    cJSON_AddItemToObject(o, "entityId", r->entity_id[0] && r->entity_type[0]
                                             ? json_entity_id(r->entity_type, r->entity_id)
                                             : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "entityName", json_string_or_null(r->entity_name));
    cJSON_AddItemToObject(o, "userId", json_entity_id("USER", r->user_id));
    cJSON_AddItemToObject(o, "userName", json_string_or_null(r->user_name));
    cJSON_AddStringToObject(o, "actionType", r->action_type);
    cJSON *data = json_parse_text(r->action_data);
    cJSON_AddItemToObject(o, "actionData", cJSON_IsObject(data) ? data : (cJSON_Delete(data), cJSON_CreateObject()));
    cJSON_AddStringToObject(o, "actionStatus", r->action_status);
    cJSON_AddItemToObject(o, "actionFailureDetails", json_string_or_null(r->failure_details));
    /* Extension: the user who acted through a session of user.token ("login as"), null otherwise. */
    cJSON_AddItemToObject(o, "actingUserId", json_entity_id("USER", r->acting_user_id));
    cJSON_AddItemToObject(o, "actingUserName", json_string_or_null(r->acting_user_name));
    return o;
}
