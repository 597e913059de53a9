/* model.c: the names of authorities and entity kinds, and the release functions of the rows the
 * store reads and writes (model.h). */
#include "cmagent/model.h"

#include <stdlib.h>
#include <string.h>

static const char *const authority_names[] = { "", "SYS_ADMIN", "TENANT_ADMIN", "CUSTOMER_USER" };

const char *authority_name(enum authority a)
{
    return (unsigned)a < 4 ? authority_names[a] : "";
}

enum authority authority_parse(const char *name)
{
    for (int i = 1; i < 4; i++)
        if (name != NULL && strcmp(name, authority_names[i]) == 0)
            return (enum authority)i;
    return AUTHORITY_NONE;
}

#define FREE_NULL(p) do { free(p); (p) = NULL; } while (0)

void contact_release(struct contact *c)
{
    FREE_NULL(c->country); FREE_NULL(c->state); FREE_NULL(c->city); FREE_NULL(c->address);
    FREE_NULL(c->address2); FREE_NULL(c->zip); FREE_NULL(c->phone); FREE_NULL(c->email);
}

void tenant_release(struct tenant *t)
{
    FREE_NULL(t->title);
    contact_release(&t->contact);
    FREE_NULL(t->additional_info);
}

void customer_release(struct customer *c)
{
    FREE_NULL(c->title);
    contact_release(&c->contact);
    FREE_NULL(c->additional_info);
}

void user_release(struct user *u)
{
    FREE_NULL(u->email); FREE_NULL(u->first_name); FREE_NULL(u->last_name);
    FREE_NULL(u->phone); FREE_NULL(u->additional_info);
}

void credentials_release(struct credentials *c)
{
    FREE_NULL(c->password_hash); FREE_NULL(c->activate_token); FREE_NULL(c->reset_token);
}

void token_release(struct token *t) { FREE_NULL(t->description); }

void page_request_release(struct page_request *p)
{
    FREE_NULL(p->text_search);
    FREE_NULL(p->sort_property);
}

#define ARRAY_FREE(fn, release, type) \
    void fn(type *items, size_t n) { if (items == NULL) return; for (size_t i = 0; i < n; i++) release(&items[i]); free(items); }

ARRAY_FREE(customers_free, customer_release, struct customer)
ARRAY_FREE(users_free, user_release, struct user)
ARRAY_FREE(tenants_free, tenant_release, struct tenant)
ARRAY_FREE(tokens_free, token_release, struct token)

static const char *const entity_types[ENTITY_KINDS] = { "DEVICE", "ASSET", "EDGE" };
static const char *const entity_labels[ENTITY_KINDS] = { "Device", "Asset", "Edge" };

const char *entity_kind_type(enum entity_kind k) { return (unsigned)k < ENTITY_KINDS ? entity_types[k] : ""; }
const char *entity_kind_label(enum entity_kind k) { return (unsigned)k < ENTITY_KINDS ? entity_labels[k] : ""; }

void entity_release(struct entity *e)
{
    if (e == NULL)
        return;
    free(e->name);
    free(e->type);
    free(e->label);
    free(e->additional_info);
    free(e->routing_key);
    free(e->secret);
    e->name = e->type = e->label = e->additional_info = e->routing_key = e->secret = NULL;
}

void dashboard_release(struct dashboard *d)
{
    if (d == NULL)
        return;
    free(d->title);
    free(d->configuration);
    for (size_t i = 0; i < d->n_assigned; i++)
        free(d->assigned[i].title);
    free(d->assigned);
    d->title = d->configuration = NULL;
    d->assigned = NULL;
    d->n_assigned = 0;
}

ARRAY_FREE(entities_free, entity_release, struct entity)
ARRAY_FREE(dashboards_free, dashboard_release, struct dashboard)
