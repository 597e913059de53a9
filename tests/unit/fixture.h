/* fixture.h: what the core unit tests share: a context over an in-memory store, an event renderer
 * that describes each event in one line (reading the entity through the type its entity_type
 * promises), principals made from users, one-transaction calls, and a small world of two tenants
 * with an administrator and a customer each. */
#ifndef CMAGENT_TEST_FIXTURE_H
#define CMAGENT_TEST_FIXTURE_H

#include "test.h"

#include "cmagent/auth.h"
#include "cmagent/clock.h"
#include "cmagent/context.h"
#include "cmagent/customer.h"
#include "cmagent/events.h"
#include "cmagent/store_outbox.h"
#include "cmagent/store_user.h"
#include "cmagent/tenant.h"
#include "cmagent/user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600 * 1000LL)

static const struct core_settings fixture_settings = {
    .base_url = "https://cm.example.com/",
    .access_token_ttl_ms = HOUR_MS / 4,
    .refresh_token_ttl_ms = 7 * 24 * HOUR_MS,
    .activation_token_ttl_ms = 24 * HOUR_MS,
    .password_hash_cost = 1,
};

/* "<type> <entityType> <tenantId> <customerId or -> <entity name> by <caller email>". */
static inline char *fixture_render(const struct event *ev, const struct principal *who)
{
    const char *name = "?";
    char buf[1024];

    if (strcmp(ev->entity_type, "USER") == 0)
        name = ((const struct user *)ev->entity)->email;
    else if (strcmp(ev->entity_type, "TENANT") == 0)
        name = ((const struct tenant *)ev->entity)->title;
    else if (strcmp(ev->entity_type, "CUSTOMER") == 0)
        name = ((const struct customer *)ev->entity)->title;
    snprintf(buf, sizeof buf, "%s %s %s %s %s by %s", ev->type, ev->entity_type, ev->tenant_id,
             ev->customer_id[0] ? ev->customer_id : "-", name, who->email);
    return strdup(buf);
}

static inline void act_as(struct ctx *ctx, const struct user *u)
{
    memset(&ctx->who, 0, sizeof ctx->who);
    ctx->who.authority = u->authority;
    strcpy(ctx->who.user_id, u->id);
    strcpy(ctx->who.tenant_id, u->tenant_id);
    strcpy(ctx->who.customer_id, u->customer_id);
    snprintf(ctx->who.email, sizeof ctx->who.email, "%s", u->email);
}

static inline void act_anonymous(struct ctx *ctx)
{
    memset(&ctx->who, 0, sizeof ctx->who);
}

/* Runs one core call in its own transaction as the agent's writer does: committed on success;
 * otherwise rolled back, then the writes kept despite the failure (ctx->kept) are committed. */
static inline void tx_begin(struct ctx *ctx)
{
    error_clear(&ctx->err);
    ctx_release(ctx);
    ctx->audit_entity_id[0] = ctx->audit_entity_name[0] = ctx->audit_tenant_id[0] = '\0';
    CHECK(store_begin(ctx->store) == STORE_OK);
}

static inline int tx_end(struct ctx *ctx, int rc)
{
    if (rc == ERR_OK) {
        CHECK(store_commit(ctx->store) == STORE_OK);
    } else {
        store_rollback(ctx->store);
        CHECK(store_begin(ctx->store) == STORE_OK);
        kept_writes_apply(ctx);
        CHECK(store_commit(ctx->store) == STORE_OK);
    }
    return rc;
}

#define TX(ctx, call) (tx_begin(ctx), tx_end((ctx), (call)))

/* A user record with heap copies of the strings (release with user_release). */
static inline struct user user_new(enum authority a, const char *email, const char *tenant_id, const char *customer_id)
{
    struct user u = { 0 };
    u.authority = a;
    u.email = email ? strdup(email) : NULL;
    snprintf(u.tenant_id, sizeof u.tenant_id, "%s", tenant_id ? tenant_id : "");
    snprintf(u.customer_id, sizeof u.customer_id, "%s", customer_id ? customer_id : "");
    return u;
}

/* The outbox as one array, oldest first (free with outbox_events_free). */
static inline size_t events_read(struct ctx *ctx, struct outbox_event **ev)
{
    size_t n = 0;
    CHECK(store_outbox_unpublished(ctx->store, 0, 100000, ev, &n) == STORE_OK);
    return n;
}

static inline size_t event_count(struct ctx *ctx)
{
    struct outbox_event *ev = NULL;
    size_t n = events_read(ctx, &ev);
    outbox_events_free(ev, n);
    return n;
}

/* The payload of the newest event, in buf. */
static inline const char *last_event(struct ctx *ctx, char *buf, size_t size)
{
    struct outbox_event *ev = NULL;
    size_t n = events_read(ctx, &ev);
    snprintf(buf, size, "%s", n ? ev[n - 1].payload : "");
    outbox_events_free(ev, n);
    return buf;
}

static inline char *pending_activation_token(struct ctx *ctx, const char *user_id)
{
    struct credentials c = { 0 };
    CHECK(store_credentials_get(ctx->store, user_id, &c) == STORE_OK);
    char *token = c.activate_token ? strdup(c.activate_token) : NULL;
    credentials_release(&c);
    return token;
}

/* Activates user_id with password through its pending activation token. */
static inline int activate(struct ctx *ctx, const char *user_id, const char *password)
{
    struct token_pair pair;
    char *token = pending_activation_token(ctx, user_id);
    struct principal saved = ctx->who;
    int rc = TX(ctx, auth_activate(ctx, token, password, &pair));
    ctx->who = saved;
    free(token);
    return rc;
}

struct world {
    struct ctx ctx;
    struct user sysadmin;
    struct tenant tenant_a, tenant_b;
    struct user admin_a, admin_b;           /* TENANT_ADMIN of tenant_a / tenant_b */
    struct customer customer_a, customer_b; /* one customer in each tenant */
};

static inline void world_tenant(struct world *w, struct tenant *t, const char *title)
{
    memset(t, 0, sizeof *t);
    t->title = strdup(title);
    act_as(&w->ctx, &w->sysadmin);
    CHECK(TX(&w->ctx, tenant_create(&w->ctx, t)) == ERR_OK);
}

static inline void world_admin(struct world *w, struct user *u, const char *email, const struct tenant *t)
{
    *u = user_new(AUTHORITY_TENANT_ADMIN, email, t->id, NULL);
    act_as(&w->ctx, &w->sysadmin);
    CHECK(TX(&w->ctx, user_create(&w->ctx, u, false)) == ERR_OK);
}

static inline void world_customer(struct world *w, struct customer *c, const char *title, const struct user *admin)
{
    const struct name_conflict fail = { NAME_CONFLICT_FAIL, NULL, UNIQUIFY_RANDOM };
    memset(c, 0, sizeof *c);
    c->title = strdup(title);
    act_as(&w->ctx, admin);
    CHECK(TX(&w->ctx, customer_create(&w->ctx, c, &fail)) == ERR_OK);
}

static inline void world_open(struct world *w)
{
    char err[256], generated[64];

    memset(w, 0, sizeof *w);
    w->ctx.store = store_open(":memory:", err, sizeof err);
    if (w->ctx.store == NULL) {
        fprintf(stderr, "store_open: %s\n", err);
        exit(2);
    }
    w->ctx.settings = &fixture_settings;
    w->ctx.render_event = fixture_render;
    w->ctx.now = clock_now_ms();
    CHECK(user_bootstrap_sysadmin(&w->ctx, "sysadmin@example.com", "sysadmin-password", generated) == ERR_OK);
    CHECK(store_user_get_by_email(w->ctx.store, "sysadmin@example.com", &w->sysadmin) == STORE_OK);
    world_tenant(w, &w->tenant_a, "Tenant A");
    world_tenant(w, &w->tenant_b, "Tenant B");
    world_admin(w, &w->admin_a, "admin@a.example.com", &w->tenant_a);
    world_admin(w, &w->admin_b, "admin@b.example.com", &w->tenant_b);
    world_customer(w, &w->customer_a, "Customer A", &w->admin_a);
    world_customer(w, &w->customer_b, "Customer B", &w->admin_b);
    error_clear(&w->ctx.err);
}

static inline void world_close(struct world *w)
{
    ctx_release(&w->ctx);
    store_close(w->ctx.store);
    user_release(&w->sysadmin);
    user_release(&w->admin_a);
    user_release(&w->admin_b);
    tenant_release(&w->tenant_a);
    tenant_release(&w->tenant_b);
    customer_release(&w->customer_a);
    customer_release(&w->customer_b);
}

/* Creates a CUSTOMER_USER of c as admin; the caller releases *u. */
static inline int make_customer_user(struct world *w, const struct user *admin, const struct customer *c,
                                     const char *email, struct user *u)
{
    *u = user_new(AUTHORITY_CUSTOMER_USER, email, NULL, c->id);
    act_as(&w->ctx, admin);
    return TX(&w->ctx, user_create(&w->ctx, u, false));
}

#endif
