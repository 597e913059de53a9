/* model.h: the rows of the store, which owns them, as they cross the layers above it (store ->
 * core -> api): tenants, customers, users, credentials, tokens, devices, assets, edges,
 * dashboards and paging. Strings are heap copies owned by the record
 * (NULL means "no value", sent as JSON null); ids are fixed buffers ("" means no id). JSON-valued
 * fields (additionalInfo) travel as JSON text, so no layer below the api parses JSON. */
#ifndef CMAGENT_MODEL_H
#define CMAGENT_MODEL_H

#include "cmagent/alloc.h" /* the records are built with it */
#include "cmagent/uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum authority { AUTHORITY_NONE = 0, AUTHORITY_SYS_ADMIN, AUTHORITY_TENANT_ADMIN, AUTHORITY_CUSTOMER_USER };

const char *authority_name(enum authority a);          /* "TENANT_ADMIN"; "" for NONE */
enum authority authority_parse(const char *name);      /* AUTHORITY_NONE when unknown */

/* ThingsBoard's ContactBased fields, shared by tenants and customers. */
struct contact {
    char *country, *state, *city, *address, *address2, *zip, *phone, *email;
};

struct tenant_limits {
    int64_t max_customers, max_users, max_devices, max_assets, max_edges, max_dashboards; /* 0 = none */
};

struct tenant {
    char id[UUID_STR_LEN];
    int64_t created_time;
    char *title;
    struct contact contact;
    char *additional_info;           /* JSON object text or NULL */
    struct tenant_limits limits;
    int64_t version;
};

struct customer {
    char id[UUID_STR_LEN];
    int64_t created_time;
    char tenant_id[UUID_STR_LEN];
    char *title;
    struct contact contact;
    char *additional_info;           /* JSON object text or NULL */
    char external_id[UUID_STR_LEN];  /* "" when none */
    bool is_public;                  /* derived from additionalInfo.isPublic */
    int64_t version;
};

/* A search of customers by contact fields: each member, when not NULL, the start of that field
 * (ASCII case ignored); all given members must match. */
struct customer_filter {
    const char *email, *phone, *city, *country;
};

struct user {
    char id[UUID_STR_LEN];
    int64_t created_time;
    char tenant_id[UUID_STR_LEN];    /* NULL_UUID for the system administrator */
    char customer_id[UUID_STR_LEN];  /* NULL_UUID unless CUSTOMER_USER */
    char *email;
    enum authority authority;
    char *first_name, *last_name, *phone;
    char *additional_info;           /* JSON object text or NULL */
    int64_t version;
};

struct credentials {
    char user_id[UUID_STR_LEN];
    bool enabled;
    char *password_hash;             /* NULL until activated */
    char *activate_token;            /* NULL once activated */
    int64_t activate_token_exp;      /* ms */
    char *reset_token;
    int64_t reset_token_exp;
    int64_t last_login_ts;           /* 0: never */
    int64_t failed_login_attempts;
};

enum token_kind { TOKEN_ACCESS, TOKEN_REFRESH, TOKEN_API_KEY };

/* A stored token: only the SHA-256 digest of the secret is kept. */
struct token {
    char digest[65];
    char id[UUID_STR_LEN];
    char user_id[UUID_STR_LEN];
    enum token_kind kind;
    char pair_id[UUID_STR_LEN];      /* access and refresh tokens issued together share it */
    int64_t created_time;
    int64_t expires_at;              /* ms; 0 = never */
    char *description;
    char acting_user_id[UUID_STR_LEN]; /* user.token's: the user who asked for it; "" for others */
};

/* The paging arguments of every list operation (ThingsBoard PageLink). */
struct page_request {
    int64_t page_size;
    int64_t page;
    char *text_search;               /* NULL: no filter */
    char *sort_property;             /* NULL: id */
    bool descending;
};

/* A page of results: the items plus ThingsBoard's totals. */
struct page_info {
    int64_t total_elements;
    int64_t total_pages;
    bool has_next;
};

void contact_release(struct contact *c);
void tenant_release(struct tenant *t);
void customer_release(struct customer *c);
void user_release(struct user *u);
void credentials_release(struct credentials *c);
void token_release(struct token *t);
void page_request_release(struct page_request *p);

/* Frees every record of an array and the array itself. NULL-safe. */
void customers_free(struct customer *items, size_t n);
void users_free(struct user *items, size_t n);
void tenants_free(struct tenant *items, size_t n);
void tokens_free(struct token *items, size_t n);

/* Devices, assets and edges: the single-owner entities a tenant assigns to one customer at a time
 * (thingsboard-customers.md §5). They share one record; kind tells which table holds it. */
enum entity_kind { ENTITY_DEVICE = 0, ENTITY_ASSET, ENTITY_EDGE };
#define ENTITY_KINDS 3

struct entity {
    enum entity_kind kind;
    char id[UUID_STR_LEN];
    int64_t created_time;
    char tenant_id[UUID_STR_LEN];
    char customer_id[UUID_STR_LEN];  /* "" when not assigned (NULL_UUID on the wire) */
    char *name;
    char *type;                      /* "default" when not given */
    char *label;
    char *additional_info;           /* JSON object text or NULL */
    char *routing_key, *secret;      /* edges only */
    int64_t version;
    /* The version of the row as read from the store (a pending unassignment may have raised
     * version above it, unassign.h): an update writes only over that version. 0 when not read. */
    int64_t stored_version;
};

/* One customer a dashboard is assigned to (ThingsBoard's ShortCustomerInfo). The title is read
 * from the customer when the dashboard is loaded, so a rename shows at once. */
struct dashboard_customer {
    char customer_id[UUID_STR_LEN];
    char *title;
    bool is_public;
};

struct dashboard {
    char id[UUID_STR_LEN];
    int64_t created_time;
    char tenant_id[UUID_STR_LEN];
    char *title;
    char *configuration;             /* any JSON document, as text, or NULL */
    struct dashboard_customer *assigned;
    size_t n_assigned;
    int64_t version;
};

/* "DEVICE", "ASSET", "EDGE" and "Device", "Asset", "Edge" (for messages). */
const char *entity_kind_type(enum entity_kind k);
const char *entity_kind_label(enum entity_kind k);

void entity_release(struct entity *e);
void dashboard_release(struct dashboard *d);
void entities_free(struct entity *items, size_t n);
void dashboards_free(struct dashboard *items, size_t n);

#endif
