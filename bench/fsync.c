/* bench/fsync.c: cm-fsync, the disk's part of the floor for a durable write. Times COUNT rounds of
 * one 4 KiB pwrite plus fdatasync on a file in a directory on the same disk as the database, and
 * prints their percentiles: what a commit at one request in flight pays at least, whatever the
 * program around it does. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cm-fsync [OPTION]... DIR\n"
            "Create a file in DIR, write COUNT blocks of 4 KiB to it, one after the other, each\n"
            "followed by fdatasync, and print the latency of each write + fdatasync pair. The file is\n"
            "removed at the end. DIR should be on the disk that holds the database (the agent's WAL\n"
            "grows the same way: appended pages, then one sync per commit).\n"
            "\n"
            "  -n, --count N     measured rounds (default 500), after N/10 unmeasured ones\n"
            "  -w, --wrap N      start over at offset 0 after N blocks, so that later rounds overwrite\n"
            "                    allocated blocks as a reused WAL does (default 0: always append)\n"
            "  -j, --json        print one JSON line instead of text\n"
            "  -l, --label TEXT  label printed with the results\n"
            "  -h, --help        show this help and exit\n"
            "\n"
            "Exit status: 0 on success, 1 when the file cannot be created or written, 2 on a usage\n"
            "error.\n");
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v, in ms. */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);

    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e6;
}

static long parse_count(const char *s, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    return v;
}

/* One round: a block at `block`, then fdatasync; its duration in ns, or 0 on failure. */
static uint64_t round_ns(int fd, const char *buf, long block)
{
    uint64_t t0 = now_ns();

    if (pwrite(fd, buf, BLOCK, (off_t)block * BLOCK) != BLOCK || fdatasync(fd) != 0)
        return 0;
    return now_ns() - t0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'}, {"wrap", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},        {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    long count = 500, wrap = 0, warmup, block = 0;
    const char *label = "fsync";
    int json = 0, opt, fd;
    char path[4096];
    static char buf[BLOCK];
    uint64_t *lat, sum = 0;

    while ((opt = getopt_long(argc, argv, "n:w:jl:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if ((count = parse_count(optarg, 1, 10000000L)) < 0) {
                fprintf(stderr, "cm-fsync: --count must be 1..10000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            if ((wrap = parse_count(optarg, 0, 10000000L)) < 0) {
                fprintf(stderr, "cm-fsync: --wrap must be 0..10000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'l':
            if (strpbrk(optarg, "\"\\") != NULL) {
                fprintf(stderr, "cm-fsync: --label must not contain '\"' or '\\'\n");
                return 2;
            }
            label = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    snprintf(path, sizeof path, "%s/cm-fsync.%ld.tmp", argv[optind], (long)getpid());
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "cm-fsync: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    lat = calloc((size_t)count, sizeof *lat);
    if (lat == NULL) {
        fprintf(stderr, "cm-fsync: out of memory\n");
        close(fd);
        unlink(path);
        return 1;
    }
    memset(buf, 0x5a, sizeof buf);
    warmup = count / 10;
    for (long i = 0; i < warmup + count; i++) {
        uint64_t ns = round_ns(fd, buf, block);

        if (ns == 0) {
            fprintf(stderr, "cm-fsync: write + fdatasync on %s failed: %s\n", path, strerror(errno));
            close(fd);
            unlink(path);
            free(lat);
            return 1;
        }
        if (i >= warmup) {
            lat[i - warmup] = ns;
            sum += ns;
        }
        block = wrap > 0 ? (block + 1) % wrap : block + 1;
    }
    close(fd);
    unlink(path);
    qsort(lat, (size_t)count, sizeof *lat, cmp_u64);
    if (json)
        printf("{\"label\":\"%s\",\"count\":%ld,\"wrap\":%ld,\"mean_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
               label, count, wrap, (double)sum / (double)count / 1e6, pct_ms(lat, (size_t)count, 50),
               pct_ms(lat, (size_t)count, 90), pct_ms(lat, (size_t)count, 99), (double)lat[count - 1] / 1e6);
    else
        printf("%s: %ld rounds of 4 KiB pwrite + fdatasync in %s: mean %.3f ms, p50 %.3f, p90 %.3f, p99 %.3f, "
               "max %.3f\n",
               label, count, argv[optind], (double)sum / (double)count / 1e6, pct_ms(lat, (size_t)count, 50),
               pct_ms(lat, (size_t)count, 90), pct_ms(lat, (size_t)count, 99), (double)lat[count - 1] / 1e6);
    free(lat);
    return 0;
}
