/* session.c: the session file: the access and refresh token of `cmctl login` and the broker
 * account that broker.credentials gave it (broker_acl dynsec), in a file only the
 * user can read ($XDG_CONFIG_HOME/cmctl/session, or session.<profile>; mode 0600 in a 0700
 * directory), replaced atomically, and a lock so that two cmctl refreshing at once do not spend
 * the same refresh token twice. */
#include "cmctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool profile_ok(const char *p)
{
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

int session_path(const struct settings *s, char *buf, size_t len)
{
    char dir[CMCTL_STR];
    int n;
    if (!profile_ok(s->profile)) {
        fprintf(stderr, "cmctl: a profile name is letters, digits, '-' and '_', not '%s'\n", s->profile);
        return -1;
    }
    config_dir(dir, sizeof dir);
    if (s->profile[0])
        n = snprintf(buf, len, "%s/session.%s", dir, s->profile);
    else
        n = snprintf(buf, len, "%s/session", dir);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Creates the directory (and its parent, ~/.config) readable by the user only. */
static int make_dir(void)
{
    char dir[CMCTL_STR], parent[CMCTL_STR];
    char *slash;
    config_dir(dir, sizeof dir);
    snprintf(parent, sizeof parent, "%s", dir);
    slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        if (mkdir(parent, 0700) != 0 && errno != EEXIST)
            goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "cmctl: cannot create %s: %s\n", dir, strerror(errno));
    return -1;
}

static void copy_str(char *dst, size_t len, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int session_load(const struct settings *s, struct session *out)
{
    char path[CMCTL_STR], buf[8192];
    size_t n;
    cJSON *o;
    FILE *f;
    memset(out, 0, sizeof *out);
    if (session_path(s, path, sizeof path))
        return -1;
    f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 1;
        fprintf(stderr, "cmctl: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    o = cJSON_Parse(buf);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        fprintf(stderr, "cmctl: %s is damaged; log in again (cmctl login)\n", path);
        return -1;
    }
    copy_str(out->email, sizeof out->email, o, "email");
    copy_str(out->token, sizeof out->token, o, "token");
    copy_str(out->refresh, sizeof out->refresh, o, "refreshToken");
    copy_str(out->broker, sizeof out->broker, o, "broker");
    copy_str(out->broker_user, sizeof out->broker_user, o, "brokerUsername");
    copy_str(out->broker_pass, sizeof out->broker_pass, o, "brokerPassword");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "expiresAt");
    out->expires_at_ms = cJSON_IsNumber(e) ? (long long)e->valuedouble : 0;
    cJSON_Delete(o);
    return out->token[0] ? 0 : 1;
}

int session_save(const struct settings *s, const struct session *ss)
{
    char path[CMCTL_STR], tmp[CMCTL_STR + 16];
    cJSON *o = cJSON_CreateObject();
    char *text;
    int fd, rc = -1;
    if (session_path(s, path, sizeof path) || make_dir()) {
        cJSON_Delete(o);
        return -1;
    }
    cJSON_AddStringToObject(o, "email", ss->email);
    cJSON_AddStringToObject(o, "broker", ss->broker);
    if (ss->broker_user[0]) {
        cJSON_AddStringToObject(o, "brokerUsername", ss->broker_user);
        cJSON_AddStringToObject(o, "brokerPassword", ss->broker_pass);
    }
    cJSON_AddStringToObject(o, "token", ss->token);
    cJSON_AddStringToObject(o, "refreshToken", ss->refresh);
    cJSON_AddNumberToObject(o, "expiresAt", (double)ss->expires_at_ms);
    text = cJSON_Print(o);
    cJSON_Delete(o);
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, 0600) == 0) {
        size_t len = strlen(text);
        rc = (write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0) ? 0 : -1;
    }
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "cmctl: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    cJSON_free(text);
    return rc;
}

int session_remove(const struct settings *s)
{
    char path[CMCTL_STR];
    if (session_path(s, path, sizeof path))
        return -1;
    if (unlink(path) != 0 && errno != ENOENT) {
        fprintf(stderr, "cmctl: cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int session_lock(const struct settings *s)
{
    char path[CMCTL_STR + 8];
    int fd;
    if (session_path(s, path, CMCTL_STR) || make_dir())
        return -1;
    strcat(path, ".lock");
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        fprintf(stderr, "cmctl: cannot lock %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void session_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
