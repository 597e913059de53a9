/* fill.c (cm-fill): builds a database for the listing benchmarks with the agent's own store (its
 * migrations, statements and triggers). For each SIZE it adds a tenant holding SIZE customers
 * (at most MAX with -c; each with an e-mail, phone, city and country) and one customer of them
 * owning SIZE devices, in one transaction per tenant, and prints "tenant SIZE TENANT_ID CUSTOMER_ID CUSTOMERS" for each.
 *
 *   cm-fill [-c MAX] FILE SIZE...     (FILE is replaced) */
#include "cmagent/clock.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(struct store *s, const char *what)
{
    fprintf(stderr, "cm-fill: %s failed: %s\n", what, store_errmsg(s));
    exit(1);
}

/* A tenant with customers customers, the first of which owns devices devices. Created times
 * increase by one millisecond a row from start. */
static void fill_tenant(struct store *s, long size, long customers, long devices, int64_t start)
{
    struct tenant t = { 0 };
    char owner[UUID_STR_LEN], title[64];

    uuid_generate(t.id);
    snprintf(title, sizeof title, "Paging %ld", size);
    t.title = title;
    t.created_time = start;
    t.version = 1;
    if (store_begin(s) != STORE_OK || store_tenant_insert(s, &t) != STORE_OK)
        fail(s, "inserting a tenant");
    for (long i = 0; i < customers; i++) {
        struct customer c = { 0 };
        char email[64], phone[32], city[32], country[8];
        uuid_generate(c.id);
        strcpy(c.tenant_id, t.id);
        snprintf(title, sizeof title, "Customer %08ld", i);
        c.title = title;
        /* contact fields for the searches: e-mails and phones unique, 100 cities, 50 countries */
        snprintf(email, sizeof email, "c%08ld@bench.example", i);
        snprintf(phone, sizeof phone, "+1 555 %08ld", i);
        snprintf(city, sizeof city, "City %02ld", i % 100);
        snprintf(country, sizeof country, "C%02ld", i % 50);
        c.contact.email = email;
        c.contact.phone = phone;
        c.contact.city = city;
        c.contact.country = country;
        c.created_time = start + i;
        c.version = 1;
        if (store_customer_insert(s, &c) != STORE_OK)
            fail(s, "inserting a customer");
        if (i == 0)
            strcpy(owner, c.id);
    }
    for (long i = 0; i < devices; i++) {
        struct entity e = { 0 };
        char name[32];
        e.kind = ENTITY_DEVICE;
        uuid_generate(e.id);
        strcpy(e.tenant_id, t.id);
        strcpy(e.customer_id, owner);
        snprintf(name, sizeof name, "Device %08ld", i);
        e.name = name;
        e.type = (char *)"default";
        e.created_time = start + i;
        e.version = 1;
        if (store_entity_insert(s, &e) != STORE_OK)
            fail(s, "inserting a device");
    }
    if (store_commit(s) != STORE_OK)
        fail(s, "commit");
    printf("tenant %ld %s %s %ld\n", size, t.id, owner, customers);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long max_customers = -1;
    char err[512];
    int opt;

    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c') {
            max_customers = atol(optarg);
        } else {
            fprintf(stderr, "usage: cm-fill [-c MAX_CUSTOMERS] FILE SIZE...\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, "usage: cm-fill [-c MAX_CUSTOMERS] FILE SIZE...\n");
        return 2;
    }
    const char *file = argv[optind];
    remove(file);
    struct store *s = store_open(file, err, sizeof err);
    if (s == NULL) {
        fprintf(stderr, "cm-fill: %s\n", err);
        return 1;
    }
    int64_t start = clock_now_ms() - 10 * 1000 * 1000;
    for (int i = optind + 1; i < argc; i++) {
        long size = atol(argv[i]);
        if (size < 1) {
            fprintf(stderr, "cm-fill: SIZE must be positive, not '%s'\n", argv[i]);
            return 2;
        }
        long customers = max_customers >= 1 && max_customers < size ? max_customers : size;
        fill_tenant(s, size, customers, size, start);
    }
    store_close(s);
    return 0;
}
