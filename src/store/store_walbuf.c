/* store_walbuf.c: a VFS over SQLite's default one that gathers the write-ahead log's writes. SQLite
 * writes every WAL frame with two pwrite calls (its 24-byte header, then the page), so a commit of
 * a group of requests made a few hundred system calls and one create at one request in flight about
 * thirty, each costly on a virtual machine. The frames of a transaction are written one after the
 * other, so this VFS keeps consecutive writes to a WAL file in a buffer and writes it out when it
 * is full (64 KiB), when SQLite syncs the file, reads it, asks its size, truncates or closes it,
 * when the next write does not follow on, and right after the page of a commit frame. Nothing
 * changes for durability or for other connections: SQLite makes a commit visible to them (in the
 * WAL index) only after it wrote the commit frame, and by then the whole transaction is in the
 * file, synced or not (a transaction committed with synchronous=NORMAL is not synced, and the
 * checkpointer's and the verifiers' connections read its frames from the file at once). Other
 * files (the database, its shared memory, temporary files) are the default VFS's. */
#include "sql_sqlite.h"
#include "store_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WALBUF_VFS_NAME "cmagent-walbuf"
/* The unix VFS writes at most 128 KiB - 1 bytes per call (larger ones come back short, as a full
 * disk), so the buffer holds 64 KiB: 15 frames of 4 KiB pages. */
#define WALBUF_CAPACITY (64 * 1024)

struct wal_file {
    sqlite3_file base;         /* first member: SQLite sees a wal_file as a sqlite3_file */
    sqlite3_file *real;        /* the default VFS's file, in the memory right after this struct */
    unsigned char *buf;        /* bytes not yet written, for the file range [offset, offset + len) */
    size_t len;
    sqlite3_int64 offset;
    bool commit_page_next;     /* the last write was the header of a commit frame */
};

/* A WAL frame starts with a 24-byte header whose bytes 4-7 (big-endian) hold, for the frame that
 * commits a transaction, the database size in pages, and zero for every other frame; SQLite writes
 * the header and the page with one call each. */
#define WAL_FRAME_HEADER_SIZE 24

static bool is_commit_frame_header(const void *data, int amount)
{
    const unsigned char *h = data;
    return amount == WAL_FRAME_HEADER_SIZE && (h[4] | h[5] | h[6] | h[7]) != 0;
}

static sqlite3_vfs walbuf_vfs;
static sqlite3_vfs *default_vfs;

static struct wal_file *wal(sqlite3_file *f) { return (struct wal_file *)f; }

static int flush(struct wal_file *w)
{
    if (w->len == 0)
        return SQLITE_OK;
    int rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->offset);
    w->len = 0;
    return rc;
}

static int wal_close(sqlite3_file *f)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    int rc2 = w->real->pMethods->xClose(w->real);
    free(w->buf);
    w->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *out, int amount, sqlite3_int64 offset)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, out, amount, offset);
}

static int buffered_write(struct wal_file *w, const void *data, int amount, sqlite3_int64 offset);

static int wal_write(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset)
{
    struct wal_file *w = wal(f);
    bool ends_commit = w->commit_page_next;
    w->commit_page_next = is_commit_frame_header(data, amount);
    int rc = buffered_write(w, data, amount, offset);
    /* the commit frame's page: the transaction must be in the file before SQLite publishes it */
    return rc == SQLITE_OK && ends_commit ? flush(w) : rc;
}

static int buffered_write(struct wal_file *w, const void *data, int amount, sqlite3_int64 offset)
{
    if (w->len > 0 && (offset != w->offset + (sqlite3_int64)w->len || w->len + (size_t)amount > WALBUF_CAPACITY)) {
        int rc = flush(w);
        if (rc != SQLITE_OK)
            return rc;
    }
    if ((size_t)amount > WALBUF_CAPACITY)
        return w->real->pMethods->xWrite(w->real, data, amount, offset);
    if (w->buf == NULL) {
        w->buf = malloc(WALBUF_CAPACITY);
        if (w->buf == NULL)
            return w->real->pMethods->xWrite(w->real, data, amount, offset);
    }
    if (w->len == 0)
        w->offset = offset;
    memcpy(w->buf + w->len, data, (size_t)amount);
    w->len += (size_t)amount;
    return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wal_lock(sqlite3_file *f, int level) { return wal(f)->real->pMethods->xLock(wal(f)->real, level); }
static int wal_unlock(sqlite3_file *f, int level) { return wal(f)->real->pMethods->xUnlock(wal(f)->real, level); }

static int wal_check_reserved(sqlite3_file *f, int *out)
{
    return wal(f)->real->pMethods->xCheckReservedLock(wal(f)->real, out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
    struct wal_file *w = wal(f);
    int rc = flush(w);
    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f) { return wal(f)->real->pMethods->xSectorSize(wal(f)->real); }

static int wal_device_characteristics(sqlite3_file *f)
{
    return wal(f)->real->pMethods->xDeviceCharacteristics(wal(f)->real);
}

/* Version 1 methods: a WAL file needs no shared memory and no memory mapping. */
static const sqlite3_io_methods wal_methods = {
    1, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size, wal_lock, wal_unlock,
    wal_check_reserved, wal_file_control, wal_sector_size, wal_device_characteristics,
    NULL, NULL, NULL, NULL, NULL, NULL,
};

static int walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    if ((flags & SQLITE_OPEN_WAL) == 0)
        return default_vfs->xOpen(default_vfs, name, f, flags, out_flags);
    struct wal_file *w = wal(f);
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)(w + 1);
    int rc = default_vfs->xOpen(default_vfs, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        w->base.pMethods = NULL; /* nothing to close */
        return rc;
    }
    w->base.pMethods = &wal_methods;
    return SQLITE_OK;
}

/* Everything but opening is the default VFS's. */
static int walbuf_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return default_vfs->xDelete(default_vfs, n, sync); }
static int walbuf_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    (void)v;
    return default_vfs->xAccess(default_vfs, n, flags, out);
}
static int walbuf_full_pathname(sqlite3_vfs *v, const char *n, int len, char *out)
{
    (void)v;
    return default_vfs->xFullPathname(default_vfs, n, len, out);
}
static void *walbuf_dl_open(sqlite3_vfs *v, const char *n) { (void)v; return default_vfs->xDlOpen(default_vfs, n); }
static void walbuf_dl_error(sqlite3_vfs *v, int len, char *out) { (void)v; default_vfs->xDlError(default_vfs, len, out); }
static void (*walbuf_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return default_vfs->xDlSym(default_vfs, h, sym);
}
static void walbuf_dl_close(sqlite3_vfs *v, void *h) { (void)v; default_vfs->xDlClose(default_vfs, h); }
static int walbuf_randomness(sqlite3_vfs *v, int len, char *out) { (void)v; return default_vfs->xRandomness(default_vfs, len, out); }
static int walbuf_sleep(sqlite3_vfs *v, int us) { (void)v; return default_vfs->xSleep(default_vfs, us); }
static int walbuf_current_time(sqlite3_vfs *v, double *out) { (void)v; return default_vfs->xCurrentTime(default_vfs, out); }
static int walbuf_last_error(sqlite3_vfs *v, int len, char *out) { (void)v; return default_vfs->xGetLastError(default_vfs, len, out); }
static int walbuf_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return default_vfs->xCurrentTimeInt64(default_vfs, out);
}

const char *store_walbuf_register(void)
{
    default_vfs = sqlite3_vfs_find(NULL);
    if (default_vfs == NULL || default_vfs->iVersion < 2)
        return NULL;
    walbuf_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct wal_file) + default_vfs->szOsFile,
        .mxPathname = default_vfs->mxPathname,
        .zName = WALBUF_VFS_NAME,
        .xOpen = walbuf_open,
        .xDelete = walbuf_delete,
        .xAccess = walbuf_access,
        .xFullPathname = walbuf_full_pathname,
        .xDlOpen = walbuf_dl_open,
        .xDlError = walbuf_dl_error,
        .xDlSym = walbuf_dl_sym,
        .xDlClose = walbuf_dl_close,
        .xRandomness = walbuf_randomness,
        .xSleep = walbuf_sleep,
        .xCurrentTime = walbuf_current_time,
        .xGetLastError = walbuf_last_error,
        .xCurrentTimeInt64 = walbuf_current_time64,
    };
    if (sqlite3_vfs_register(&walbuf_vfs, 0) != SQLITE_OK)
        return NULL;
    return WALBUF_VFS_NAME;
}
