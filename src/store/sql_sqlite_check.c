/* sql_sqlite_check.c: the SQLite engine's checks before a database file is used: an empty file is
 * refused (it is not a first start), and PRAGMA quick_check when database_check is quick. */
#include "sql_sqlite.h"
#include "store_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "cmagent/model.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An existing file of 0 bytes is not a database SQLite would refuse: it would quietly become a new
 * one, with a new system administrator, hiding whatever emptied it (a failed restore, a truncating
 * copy, a full disk). Only a missing file is a first start. */
int sql_sqlite_refuse_empty_file(const char *path, char *err, unsigned long errlen)
{
    struct stat st;

    if (strcmp(path, ":memory:") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 0)
        return 0;
    snprintf(err, errlen,
             "database %s is an empty file (0 bytes), not a database: refusing to start a new database in its "
             "place. Restore it from a backup, or remove it to start with a new database.",
             path);
    return -1;
}

/* Appends quick_check's text, one finding a line, to buf as "finding; finding", without the line
 * that only names the schema ("*** in database main ***"). */
static void append_findings(char *buf, size_t cap, size_t *len, const char *text)
{
    while (*text != '\0') {
        size_t n = strcspn(text, "\n");
        bool schema_line = n > 3 && strncmp(text, "***", 3) == 0;
        if (!schema_line && n > 0 && *len + 3 < cap)
            *len += (size_t)snprintf(buf + *len, cap - *len, "%s%.*s", *len > 0 ? "; " : "", (int)n, text);
        text += n;
        if (*text == '\n')
            text++;
    }
}

/* quick_check visits the pages in b-tree order, which on a cold page cache is a random read of the
 * whole file: 11 s for a 778 MB database on a disk that reads it in order in 1.5 s. So the file is
 * read once in order first (when it fits in half the free memory; a larger one would only push
 * itself out again), and the check then runs from memory: 2.1 s in all (docs/benchmarks.md). */
static void read_file_in_order(const char *path)
{
    enum { CHUNK = 1 << 20 };
    struct stat st;
    long free_pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && free_pages > 0 && page > 0 && st.st_size < (off_t)free_pages * page / 2) {
        char *buf = xcalloc(CHUNK, 1);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (read(fd, buf, CHUNK) > 0)
            ;
        free(buf);
    }
    close(fd);
}

/* PRAGMA quick_check: every page and b-tree of the file is well formed (it does not compare indexes
 * with their tables, as integrity_check does). Returns STORE_OK, or STORE_ERROR with SQLite's first
 * findings in s->errmsg. */
int sql_sqlite_quick_check(struct store *s, sqlite3 *db, const char *path)
{
    sqlite3_stmt *st = NULL;
    int64_t t0 = clock_mono_ms();
    size_t len = 0;

    read_file_in_order(path);
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &st, NULL);

    if (rc != SQLITE_OK) {
        sql_sqlite_rc(s, db, rc);
        return STORE_ERROR;
    }
    s->errmsg[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (text == NULL || strcmp(text, "ok") == 0)
            continue;
        append_findings(s->errmsg, sizeof s->errmsg, &len, text);
    }
    if (rc != SQLITE_DONE && s->errmsg[0] == '\0')
        sql_sqlite_rc(s, db, rc);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || s->errmsg[0] != '\0') {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        snprintf(s->errmsg, sizeof s->errmsg,
                 "the file is damaged (PRAGMA quick_check: %s). Restore it from a backup; to start on it anyway, "
                 "set database_check off",
                 why);
        return STORE_ERROR;
    }
    log_info("Database %s checked (PRAGMA quick_check) in %lld ms.", path, (long long)(clock_mono_ms() - t0));
    return STORE_OK;
}

