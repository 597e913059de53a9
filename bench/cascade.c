/* cascade.c (cm-cascade): deleting a customer that owns many devices, with the store and the domain
 * rules only (no broker). Two uses:
 *
 *   cm-cascade [-c CHUNK] FILE [N]
 *       builds FILE (replaced) with one tenant, a customer owning N devices (default 1000000) and
 *       another customer owning N/10; times customer_delete and its commit, then the deferred
 *       unassignment run as the agent's writer runs it: transactions of CHUNK rows (default 2000)
 *       until none is left; prints the delete, the chunks' p50/p99/max (statements and commit) and
 *       the total.
 *   cm-cascade --fill FILE TENANT_ID CUSTOMER_ID N
 *       adds N devices owned by CUSTOMER_ID to an existing agent database, in one transaction (for
 *       bench/cascade.sh, with the agent stopped).
 *
 * Both use the agent's own store settings (WAL, synchronous=FULL, checkpoints on a thread of their
 * own). */
#include "cmagent/alloc.h"
#include "cmagent/clock.h"
#include "cmagent/context.h"
#include "cmagent/customer.h"
#include "cmagent/store_checkpoint.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"
#include "cmagent/unassign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render_nothing(const struct event *ev, const struct principal *who)
{
    (void)ev;
    (void)who;
    return xstrdup("{}");
}

static void fail(struct store *s, const char *what)
{
    fprintf(stderr, "cm-cascade: %s failed: %s\n", what, store_errmsg(s));
    exit(1);
}

static void make_customer(struct store *s, struct customer *c, const char *tenant_id, const char *title)
{
    memset(c, 0, sizeof *c);
    uuid_generate(c->id);
    strcpy(c->tenant_id, tenant_id);
    c->title = xstrdup(title);
    c->version = 1;
    if (store_customer_insert(s, c) != STORE_OK)
        fail(s, "inserting a customer");
}

/* Inserts n devices of tenant_id owned by customer_id, named <prefix>-<i>. Inside the caller's transaction. */
static void add_devices(struct store *s, const char *tenant_id, const char *customer_id, const char *prefix, long n)
{
    int64_t now = clock_now_ms();
    for (long i = 0; i < n; i++) {
        struct entity e = { 0 };
        char name[64];
        e.kind = ENTITY_DEVICE;
        uuid_generate(e.id);
        e.created_time = now;
        strcpy(e.tenant_id, tenant_id);
        strcpy(e.customer_id, customer_id);
        snprintf(name, sizeof name, "%s-%08ld", prefix, i); /* in index order: the fill appends */
        e.name = name;
        e.type = (char *)"default";
        e.version = 1;
        if (store_entity_insert(s, &e) != STORE_OK)
            fail(s, "inserting a device");
    }
}

static struct store *open_store(const char *path)
{
    char err[512];
    struct store *s = store_open(path, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "cm-cascade: %s\n", err);
        exit(1);
    }
    return s;
}

static int fill(const char *path, const char *tenant_id, const char *customer_id, long n)
{
    struct store *s = open_store(path);
    char prefix[48];
    int64_t t0 = clock_mono_ms();
    snprintf(prefix, sizeof prefix, "bulk-%.8s", customer_id);
    if (store_begin(s) != STORE_OK)
        fail(s, "BEGIN");
    add_devices(s, tenant_id, customer_id, prefix, n);
    if (store_commit(s) != STORE_OK)
        fail(s, "COMMIT");
    printf("cm-cascade: added %ld devices for customer %s in %lld ms\n", n, customer_id,
           (long long)(clock_mono_ms() - t0));
    store_close(s);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs the deferred unassignment to its end in chunks of chunk rows, one transaction each. */
static void run_chunks(struct store *s, long chunk, long expected)
{
    size_t cap = (size_t)(expected / chunk + 8), count = 0;
    int64_t *us = xcalloc(cap, sizeof *us), rows = 0;
    struct unassign_chunk c = { 0 };
    int64_t t0 = clock_mono_us();

    for (;;) {
        int64_t c0 = clock_mono_us();
        if (store_begin_unsynced(s) != STORE_OK || unassign_run_chunk(s, chunk, &c) != STORE_OK ||
            store_commit(s) != STORE_OK)
            fail(s, "a chunk");
        if (c.idle)
            break;
        if (count < cap)
            us[count++] = clock_mono_us() - c0;
        rows += c.rows;
        if (c.finished)
            break;
    }
    int64_t total = clock_mono_us() - t0;
    qsort(us, count, sizeof *us, cmp_i64);
    printf("unassigned %lld rows in %zu chunks of %ld: total %lld ms; per chunk (statements + commit) p50 %.1f ms, "
           "p99 %.1f ms, max %.1f ms\n",
           (long long)rows, count, chunk, (long long)(total / 1000), count ? us[count / 2] / 1000.0 : 0.0,
           count ? us[count * 99 / 100] / 1000.0 : 0.0, count ? us[count - 1] / 1000.0 : 0.0);
    free(us);
}

static int usage(void)
{
    fprintf(stderr, "usage: cm-cascade [-c CHUNK] FILE [N]\n       cm-cascade --fill FILE TENANT_ID CUSTOMER_ID N\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct core_settings settings = { 0 };
    struct tenant t = { 0 };
    struct customer owner, other;
    struct ctx ctx = { 0 };
    long chunk = 2000;

    if (argc == 6 && strcmp(argv[1], "--fill") == 0)
        return fill(argv[2], argv[3], argv[4], atol(argv[5]));
    if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
        chunk = atol(argv[2]);
        argc -= 2;
        argv += 2;
    }
    if (argc < 2 || argc > 3 || chunk <= 0)
        return usage();
    long n = argc == 3 ? atol(argv[2]) : 1000000;
    remove(argv[1]);
    struct store *s = open_store(argv[1]);
    uuid_generate(t.id);
    t.title = xstrdup("Bench tenant");
    t.version = 1;
    store_begin(s);
    if (store_tenant_insert(s, &t) != STORE_OK)
        fail(s, "inserting the tenant");
    make_customer(s, &owner, t.id, "Owner");
    make_customer(s, &other, t.id, "Other");
    add_devices(s, t.id, owner.id, "owned", n);
    add_devices(s, t.id, other.id, "other", n / 10);
    if (store_commit(s) != STORE_OK)
        fail(s, "COMMIT");

    char err[512];
    struct store_checkpointer *ckpt = store_checkpointer_start(s, argv[1], err, sizeof err);
    if (ckpt == NULL)
        fprintf(stderr, "cm-cascade: %s\n", err);
    ctx.store = s;
    ctx.settings = &settings;
    ctx.render_event = render_nothing;
    ctx.now = clock_now_ms();
    ctx.who.authority = AUTHORITY_TENANT_ADMIN;
    strcpy(ctx.who.tenant_id, t.id);
    strcpy(ctx.who.customer_id, NULL_UUID);
    int64_t t0 = clock_mono_us();
    store_begin(s);
    int rc = customer_delete(&ctx, owner.id);
    int64_t t1 = clock_mono_us();
    int crc = rc == ERR_OK ? store_commit(s) : store_rollback(s);
    int64_t t2 = clock_mono_us();
    printf("customer.delete of a customer owning %ld devices (another owns %ld): %s; statements %.2f ms, "
           "commit %.2f ms\n",
           n, n / 10, rc == ERR_OK && crc == STORE_OK ? "ok" : ctx.err.message, (t1 - t0) / 1000.0,
           (t2 - t1) / 1000.0);
    if (rc == ERR_OK && crc == STORE_OK)
        run_chunks(s, chunk, n);
    int64_t kept = 0;
    store_entity_count(s, ENTITY_DEVICE, t.id, &kept);
    printf("devices kept %lld\n", (long long)kept);
    store_checkpointer_stop(ckpt, s);
    customer_release(&owner);
    customer_release(&other);
    tenant_release(&t);
    store_close(s);
    return rc == ERR_OK && crc == STORE_OK ? 0 : 1;
}
