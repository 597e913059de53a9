/* settings.c: where cmctl finds the broker, its TLS files and credentials, the topic prefix and the
 * output mode: the defaults, then the config file, then CMCTL_* variables, then the flags. */
#include "cmctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct key {
    const char *name;   /* config key; the flag is --name with '_' as '-' */
    const char *env;
    size_t off, len;    /* a char[] member of struct settings */
};

#define K(n, e, m) { n, e, offsetof(struct settings, m), sizeof(((struct settings *)0)->m) }
static const struct key keys[] = {
    K("broker", "CMCTL_BROKER", broker),
    K("topic_prefix", "CMCTL_PREFIX", prefix),
    K("cafile", "CMCTL_CAFILE", cafile),
    K("certfile", "CMCTL_CERTFILE", certfile),
    K("keyfile", "CMCTL_KEYFILE", keyfile),
    K("broker_username", "CMCTL_BROKER_USERNAME", username),
    K("broker_password", "CMCTL_BROKER_PASSWORD", password),
    K("profile", "CMCTL_PROFILE", profile),
    K("token", "CMCTL_TOKEN", token),
};
#define NKEYS (sizeof keys / sizeof keys[0])

void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->broker, sizeof s->broker, "tcp://127.0.0.1:1883");
    snprintf(s->prefix, sizeof s->prefix, "cm/v1");
    s->timeout_s = 10;
}

/* $XDG_CONFIG_HOME/cmctl, or ~/.config/cmctl */
const char *config_dir(char *buf, size_t len)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (x != NULL && x[0] == '/')
        snprintf(buf, len, "%s/cmctl", x);
    else
        snprintf(buf, len, "%s/.config/cmctl", home && *home ? home : ".");
    return buf;
}

static int set_key(struct settings *s, const struct key *k, const char *v, const char *where)
{
    if (strlen(v) >= k->len) {
        fprintf(stderr, "cmctl: %s: the value of %s is too long (at most %zu bytes)\n", where, k->name, k->len - 1);
        return -1;
    }
    memcpy((char *)s + k->off, v, strlen(v) + 1);
    return 0;
}

static int set_timeout(struct settings *s, const char *v, const char *where)
{
    char *end;
    double t = strtod(v, &end);
    if (end == v || *end != '\0' || !(t > 0 && t <= 3600)) {
        fprintf(stderr, "cmctl: %s: timeout must be a number of seconds from 0 to 3600, not '%s'\n", where, v);
        return -1;
    }
    s->timeout_s = t;
    return 0;
}

int settings_from_env(struct settings *s)
{
    const char *v;
    for (size_t i = 0; i < NKEYS; i++)
        if ((v = getenv(keys[i].env)) != NULL && *v && set_key(s, &keys[i], v, keys[i].env))
            return -1;
    if ((v = getenv("CMCTL_TIMEOUT")) != NULL && *v && set_timeout(s, v, "CMCTL_TIMEOUT"))
        return -1;
    if ((v = getenv("CMCTL_JSON")) != NULL && strcmp(v, "1") == 0)
        s->json = true;
    return 0;
}

static char *trim(char *p)
{
    char *e;
    while (*p == ' ' || *p == '\t')
        p++;
    e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return p;
}

static int file_line(struct settings *s, char *line, const char *where)
{
    char *p = trim(line), *v;
    if (*p == '\0' || *p == '#')
        return 0;
    v = p + strcspn(p, " \t");
    if (*v)
        *v++ = '\0';
    v = trim(v);
    if (strcmp(p, "timeout") == 0)
        return set_timeout(s, v, where);
    if (strcmp(p, "insecure") == 0) {
        s->insecure = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
        return 0;
    }
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(p, keys[i].name) == 0)
            return set_key(s, &keys[i], v, where);
    fprintf(stderr, "cmctl: %s: unknown key '%s'\n", where, p);
    return -1;
}

int settings_from_file(struct settings *s, const char *path, bool must_exist)
{
    char line[2048], where[CMCTL_STR + 32];
    struct stat st;
    int n = 0, rc = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!must_exist && errno == ENOENT)
            return 0;
        fprintf(stderr, "cmctl: cannot read the config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        snprintf(where, sizeof where, "%s:%d", path, ++n);
        rc = file_line(s, line, where);
    }
    if (rc == 0 && (s->password[0] || s->token[0]) && fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "cmctl: warning: %s holds a password or token but others may read it (chmod 600 %s)\n",
                path, path);
    fclose(f);
    return rc;
}

/* --name VALUE or --name=VALUE for the string keys, --timeout, and the switches. */
static int global_option(struct settings *s, int argc, char **argv, int *i, bool *help, bool *version)
{
    const char *a = argv[*i], *eq, *v = NULL;
    char name[64];
    size_t n;
    if (strcmp(a, "--json") == 0)
        return s->json = true, 1;
    if (strcmp(a, "--insecure") == 0)
        return s->insecure = true, 1;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        return *help = true, 1;
    if (strcmp(a, "--version") == 0)
        return *version = true, 1;
    if (strcmp(a, "-p") == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "cmctl: -p needs a profile name\n");
            return -1;
        }
        return set_key(s, &keys[7], argv[++*i], "-p") ? -1 : 1;
    }
    if (strncmp(a, "--", 2) != 0)
        return 0;
    eq = strchr(a, '=');
    n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (n == 0 || n >= sizeof name)
        return 0;
    memcpy(name, a + 2, n);
    name[n] = '\0';
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
    bool known = strcmp(name, "timeout") == 0 || strcmp(name, "config") == 0 || strcmp(name, "request_id") == 0;
    for (size_t k = 0; k < NKEYS && !known; k++)
        known = strcmp(name, keys[k].name) == 0 || (strcmp(name, "prefix") == 0 && k == 1);
    if (!known)
        return 0;
    if (eq)
        v = eq + 1;
    else if (*i + 1 < argc)
        v = argv[++*i];
    else {
        fprintf(stderr, "cmctl: %s needs a value\n", a);
        return -1;
    }
    if (strcmp(name, "timeout") == 0)
        return set_timeout(s, v, a) ? -1 : 1;
    if (strcmp(name, "config") == 0) /* read before the environment, see main.c */
        return 1;
    if (strcmp(name, "request_id") == 0) {
        if (strlen(v) < 1 || strlen(v) >= sizeof s->request_id) {
            fprintf(stderr, "cmctl: --request-id must be 1 to 128 characters\n");
            return -1;
        }
        snprintf(s->request_id, sizeof s->request_id, "%s", v);
        return 1;
    }
    if (strcmp(name, "prefix") == 0)
        snprintf(name, sizeof name, "topic_prefix");
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(name, keys[k].name) == 0)
            return set_key(s, &keys[k], v, a) ? -1 : 1;
    return 0;
}

int settings_from_args(struct settings *s, int argc, char **argv, bool *help, bool *version)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { /* the rest is the command's, untouched */
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        int rc = global_option(s, argc, argv, &i, help, version);
        if (rc < 0)
            return -1;
        if (rc == 0)
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}
