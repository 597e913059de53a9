/* cascade.c (cm-cascade): how long deleting a customer takes when it owns many devices. Builds a
 * database file with one tenant, a customer owning N devices and another customer owning N/10,
 * then times customer_delete (users deleted, devices unassigned by one set-based statement per
 * table) and its commit, with the agent's own store settings (WAL, synchronous=FULL).
 *
 *   cm-cascade FILE [N]     (N defaults to 1000000; FILE is replaced) */
#include "cmagent/clock.h"
#include "cmagent/context.h"
#include "cmagent/customer.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render_nothing(const struct event *ev, const struct principal *who)
{
    (void)ev;
    (void)who;
    return strdup("{}");
}

static void make_customer(struct store *s, struct customer *c, const char *tenant_id, const char *title)
{
    memset(c, 0, sizeof *c);
    uuid_generate(c->id);
    strcpy(c->tenant_id, tenant_id);
    c->title = strdup(title);
    c->version = 1;
    if (store_customer_insert(s, c) != STORE_OK) {
        fprintf(stderr, "cm-cascade: inserting a customer failed: %s\n", store_errmsg(s));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct core_settings settings = { 0 };
    struct tenant t = { 0 };
    struct customer owner, other;
    struct ctx ctx = { 0 };
    char err[512];

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: cm-cascade FILE [N]\n");
        return 2;
    }
    long n = argc == 3 ? atol(argv[2]) : 1000000;
    remove(argv[1]);
    struct store *s = store_open(argv[1], err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "cm-cascade: %s\n", err);
        return 1;
    }
    uuid_generate(t.id);
    t.title = strdup("Bench tenant");
    t.version = 1;
    store_begin(s);
    store_tenant_insert(s, &t);
    make_customer(s, &owner, t.id, "Owner");
    make_customer(s, &other, t.id, "Other");
    for (long i = 0; i < n + n / 10; i++) {
        struct entity e = { 0 };
        char name[32];
        e.kind = ENTITY_DEVICE;
        uuid_generate(e.id);
        strcpy(e.tenant_id, t.id);
        strcpy(e.customer_id, i < n ? owner.id : other.id);
        snprintf(name, sizeof name, "device-%ld", i);
        e.name = name;
        e.type = (char *)"default";
        e.version = 1;
        if (store_entity_insert(s, &e) != STORE_OK) {
            fprintf(stderr, "cm-cascade: inserting a device failed: %s\n", store_errmsg(s));
            return 1;
        }
    }
    if (store_commit(s) != STORE_OK) {
        fprintf(stderr, "cm-cascade: %s\n", store_errmsg(s));
        return 1;
    }

    ctx.store = s;
    ctx.settings = &settings;
    ctx.render_event = render_nothing;
    ctx.now = clock_now_ms();
    ctx.who.authority = AUTHORITY_TENANT_ADMIN;
    strcpy(ctx.who.tenant_id, t.id);
    strcpy(ctx.who.customer_id, NULL_UUID);
    int64_t t0 = clock_mono_ms();
    store_begin(s);
    int rc = customer_delete(&ctx, owner.id);
    int64_t t1 = clock_mono_ms();
    int crc = rc == ERR_OK ? store_commit(s) : store_rollback(s);
    int64_t t2 = clock_mono_ms();
    int64_t kept = 0;
    store_entity_count(s, ENTITY_DEVICE, t.id, &kept);
    printf("customer.delete of a customer owning %ld devices (another owns %ld): %s; statements %lld ms, "
           "commit %lld ms; devices kept %lld\n",
           n, n / 10, rc == ERR_OK && crc == STORE_OK ? "ok" : ctx.err.message, (long long)(t1 - t0),
           (long long)(t2 - t1), (long long)kept);
    customer_release(&owner);
    customer_release(&other);
    tenant_release(&t);
    store_close(s);
    return rc == ERR_OK && crc == STORE_OK ? 0 : 1;
}
