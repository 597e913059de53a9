/* test_checkpoint.c: the checkpointer thread against a database file. The writer connection no
 * longer checkpoints by itself, so without the thread's passes the WAL would grow with every commit;
 * with them it starts over and stays near the size of one burst of writes. */
#include "test.h"

#include "cmagent/clock.h"
#include "cmagent/model.h"
#include "cmagent/store.h"
#include "cmagent/store_checkpoint.h"
#include "cmagent/store_customer.h"
#include "cmagent/store_entity.h"
#include "cmagent/store_tenant.h"
#include "cmagent/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROUNDS 12
#define ROWS_PER_ROUND 80
#define ROW_BYTES (100 * 1024) /* 80 rows of 100 KB: about 2000 pages of WAL per round */

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void write_round(struct store *s, const char *tenant_id, char *big)
{
    CHECK_INT(store_begin(s), STORE_OK);
    for (int i = 0; i < ROWS_PER_ROUND; i++) {
        struct customer c = { 0 };
        char title[64];
        uuid_generate(c.id);
        strcpy(c.tenant_id, tenant_id);
        snprintf(title, sizeof title, "c-%s", c.id);
        c.title = title;
        c.additional_info = big;
        c.version = 1;
        CHECK_INT(store_customer_insert(s, &c), STORE_OK);
    }
    CHECK_INT(store_commit(s), STORE_OK);
}

static void the_thread_keeps_the_wal_bounded(void)
{
    char dir[] = "/tmp/cmagent-test-ckpt-XXXXXX", path[128], wal[160], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct store *s = store_open(path, err, sizeof err);
    CHECK(s != NULL);
    struct store_checkpointer *c = store_checkpointer_start(s, path, err, sizeof err);
    CHECK(c != NULL);
    struct tenant t = { 0 };
    uuid_generate(t.id);
    t.title = (char *)"T";
    t.version = 1;
    CHECK_INT(store_begin(s), STORE_OK);
    CHECK_INT(store_tenant_insert(s, &t), STORE_OK);
    CHECK_INT(store_commit(s), STORE_OK);
    char *big = malloc(ROW_BYTES + 1);
    memset(big, 'x', ROW_BYTES);
    big[ROW_BYTES] = '\0';

    long long one_round = 0, largest = 0;
    for (int r = 0; r < ROUNDS; r++) {
        write_round(s, t.id, big);
        if (r == 0)
            one_round = file_size(wal);
        if (file_size(wal) > largest)
            largest = file_size(wal);
        usleep(300 * 1000); /* the thread's pass */
    }
    /* without checkpoints: ROUNDS rounds of WAL; with them: the WAL starts over every round or two */
    if (largest > 3 * one_round)
        fprintf(stderr, "WAL grew to %lld bytes, one round is %lld\n", largest, one_round);
    CHECK(one_round > 0);
    CHECK(largest <= 3 * one_round);

    store_checkpointer_stop(c, s);
    store_close(s);
    free(big);
    unlink(path);
    unlink(wal);
    char shm[160];
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(shm);
    rmdir(dir);
}

/* The WAL write-gathering VFS holds frames back until a sync. A commit that does not sync (the
 * deferred unassignment's chunks) must still leave every frame in the file before the commit is
 * visible: other connections (the checkpointer, the verifiers' readers) read frames from the file. */
static void an_unsynced_commit_is_readable_by_another_connection(void)
{
    char dir[] = "/tmp/cmagent-test-unsync-XXXXXX", path[128], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/db", dir);
    struct store *s = store_open(path, err, sizeof err);
    CHECK(s != NULL);
    struct store *reader = store_open_reader(path, err, sizeof err);
    CHECK(reader != NULL);
    for (int round = 0; round < 20; round++) {
        struct tenant t = { 0 }, got = { 0 };
        char title[64];
        uuid_generate(t.id);
        snprintf(title, sizeof title, "unsynced %d", round);
        t.title = title;
        t.version = 1;
        CHECK_INT(store_begin_unsynced(s), STORE_OK);
        CHECK_INT(store_tenant_insert(s, &t), STORE_OK);
        CHECK_INT(store_commit(s), STORE_OK);
        CHECK_INT(store_tenant_get(reader, t.id, &got), STORE_OK);
        CHECK_STR(got.title, title);
        tenant_release(&got);
    }
    store_close(reader);
    store_close(s);
    char file[200];
    const char *suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    rmdir(dir);
}

/* A statement whose statement journal outgrows the in-memory threshold spills it to a file; the
 * spill must work (with a threshold of 4 MiB it failed as a full disk: the unix VFS writes at most
 * 128 KiB per call). */
static void a_large_statement_spills_its_journal(void)
{
    char dir[] = "/tmp/cmagent-test-spill-XXXXXX", path[128], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/db", dir);
    struct store *s = store_open(path, err, sizeof err);
    CHECK(s != NULL);
    struct tenant t = { 0 };
    struct customer cu = { 0 };
    uuid_generate(t.id);
    t.title = (char *)"T";
    t.version = 1;
    uuid_generate(cu.id);
    strcpy(cu.tenant_id, t.id);
    cu.title = (char *)"C";
    cu.version = 1;
    CHECK_INT(store_begin(s), STORE_OK);
    CHECK_INT(store_tenant_insert(s, &t), STORE_OK);
    CHECK_INT(store_customer_insert(s, &cu), STORE_OK);
    enum { DEVICES = 20000 };
    for (int i = 0; i < DEVICES; i++) {
        struct entity e = { 0 };
        char name[64];
        e.kind = ENTITY_DEVICE;
        uuid_generate(e.id);
        strcpy(e.tenant_id, t.id);
        strcpy(e.customer_id, cu.id);
        snprintf(name, sizeof name, "device %d", i);
        e.name = name;
        e.type = (char *)"default";
        e.version = 1;
        CHECK_INT(store_entity_insert(s, &e), STORE_OK);
    }
    CHECK_INT(store_commit(s), STORE_OK);
    int64_t changed = 0;
    CHECK_INT(store_begin(s), STORE_OK);
    CHECK_INT(store_savepoint(s), STORE_OK);
    CHECK_INT(store_entity_unassign_customer(s, ENTITY_DEVICE, cu.id, DEVICES, &changed), STORE_OK);
    CHECK_INT(store_savepoint_release(s), STORE_OK);
    CHECK_INT(store_commit(s), STORE_OK);
    CHECK(changed == DEVICES);
    store_close(s);
    char file[200];
    const char *suffixes[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        unlink(file);
    }
    rmdir(dir);
}

int main(void)
{
    RUN(the_thread_keeps_the_wal_bounded);
    RUN(an_unsynced_commit_is_readable_by_another_connection);
    RUN(a_large_statement_spills_its_journal);
    return test_report("test_checkpoint");
}
