/* config.c: the table of every configuration key and the parser of the configuration file.
 * Adding a key is one row here, one field in struct config and one line in
 * config/cmagent.conf.example (a unit test checks that the table and the example agree). */
#include "cmagent/config.h"

#include "cmagent/alloc.h"
#include "cmagent/log.h"
#include "cmagent/topic.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { KEY_STRING, KEY_INT };

struct key {
    const char *name;
    enum key_type type;
    size_t offset;   /* of the field in struct config */
    long min, max;   /* KEY_INT bounds */
    const char *def; /* default, as text */
};

#define S(name, def) { #name, KEY_STRING, offsetof(struct config, name), 0, 0, def }
#define I(name, min, max, def) { #name, KEY_INT, offsetof(struct config, name), min, max, #def }

static const struct key keys[] = {
    S(broker, "tcp://127.0.0.1:1883"),
    S(username, ""),
    S(password, ""),
    S(client_id, ""),
    S(agent_id, "cmagent"),
    S(topic_prefix, "cm/v1"),
    S(share_group, ""),
    S(cafile, ""),
    S(capath, ""),
    S(certfile, ""),
    S(keyfile, ""),
    S(keyfile_password, ""),
    I(mqtt_version, 3, 5, 5),
    I(keepalive, 5, 3600, 30),
    I(session_expiry, 0, 4294967295L, 86400),
    I(max_payload, 1024, 268435455L, 262144),
    I(max_batch_commands, 1, 10000, 100),
    I(max_batch_rows, 1, 10000000, 2000),
    I(max_page_size, 1, 1000000, 1000),
    I(max_page_offset, 0, 1000000000000L, 100000),
    I(max_reply, 65536, 268435455L, 2097152),
    I(max_reply_topic, 32, 65535, 1024),
    S(database, "cmagent.db"),
    S(database_check, "quick"),
    I(event_retention_days, 1, 3650, 7),
    I(max_group_commit, 1, 10000, 256),
    I(reader_threads, 0, 64, 2),
    I(unassign_chunk_size, 1, 1000000, 2000),
    I(import_max_rows, 1, 1000000, 100000),
    I(import_chunk_rows, 1, 100000, 50),
    I(import_max_atomic_rows, 1, 100000, 1000),
    I(import_chunk_ms, 1, 10000, 5),
    I(idempotency_window, 1, 31536000L, 86400),
    S(sysadmin_email, "sysadmin@cmagent.local"),
    S(sysadmin_password, ""),
    S(base_url, "http://localhost:8080"),
    I(access_token_ttl, 60, 31536000L, 9000),
    I(refresh_token_ttl, 60, 31536000L, 604800),
    I(activation_token_ttl, 1, 24, 24),
    I(password_hash_cost, 0, 11, 0),
    I(password_hash_threads, 1, 16, 1),
    I(password_reset_token_ttl, 1, 720, 24),
    I(password_min_length, 1, 4096, 6),
    I(password_max_length, 1, 4096, 72),
    I(password_min_uppercase, 0, 4096, 0),
    I(password_min_lowercase, 0, 4096, 0),
    I(password_min_digits, 0, 4096, 0),
    I(password_min_special, 0, 4096, 0),
    I(password_allow_whitespace, 0, 1, 1),
    I(password_reuse_days, 0, 3650, 0),
    I(max_failed_login_attempts, 0, 1000, 5),
    I(user_token_access_enabled, 0, 1, 1),
    I(auth_rate_per_client, 0, 1000000, 300),
    I(auth_rate_per_email, 0, 1000000, 20),
    I(password_queue_per_tenant, 1, 100000, 64),
    I(rate_limit_per_second, 0, 1000000, 0),
    I(audit_retention_days, 0, 3650, 30),
    I(max_json_field_size, 0, 268435455L, 16384),
    I(max_text_field_length, 0, 268435455L, 1024),
    I(max_dashboard_configuration_size, 0, 268435455L, 262144),
    I(max_api_keys_per_user, 0, 1000000, 100),
    S(broker_acl, "none"),
    S(broker_secret, ""),
    S(broker_name_prefix, "cm-"),
    I(broker_reconcile_interval, 5, 86400, 300),
    S(smtp_url, ""),
    S(smtp_from, "cmagent@localhost"),
    S(smtp_username, ""),
    S(smtp_password, ""),
    I(smtp_timeout, 1, 600, 30),
    I(mail_claim_s, 1, 86400, 60),
    I(mail_retry_s, 1, 86400, 30),
    I(mail_max_attempts, 1, 1000, 10),
    S(log_level, "info"),
    S(log_target, "stderr"),
    S(syslog_socket, "/dev/log"),
    S(metrics_listen, ""),
    I(stats_interval, 0, 86400, 0),
};

#define NKEYS (sizeof keys / sizeof keys[0])

size_t config_key_count(void) { return NKEYS; }
const char *config_key_name(size_t i) { return i < NKEYS ? keys[i].name : NULL; }

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int apply(struct config *cfg, const struct key *k, const char *value, char *err, size_t errlen)
{
    char *field = (char *)cfg + k->offset;

    if (k->type == KEY_STRING) {
        char *copy = xstrdup(value);
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < k->min || v > k->max) {
        snprintf(err, errlen, "invalid value \"%s\" for \"%s\": must be an integer %ld..%ld",
                 value, k->name, k->min, k->max);
        return -1;
    }
    *(long *)field = v;
    return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const struct key *k = find_key(key);
    if (k == NULL) {
        snprintf(err, errlen, "unknown key \"%s\"", key);
        return -1;
    }
    return apply(cfg, k, value, err, errlen);
}

int config_init(struct config *cfg)
{
    char err[128];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++)
        if (apply(cfg, &keys[i], keys[i].def, err, sizeof err) != 0)
            return -1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096], why[512];
    unsigned char seen[NKEYS] = { 0 };
    int lineno = 0, rc = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %zu characters", path, lineno, sizeof line - 2);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *sp = s;
        while (*sp != '\0' && !isspace((unsigned char)*sp))
            sp++;
        char empty[1] = "";
        char *value = empty;
        if (*sp != '\0') {
            *sp = '\0';
            value = trim(sp + 1);
        }
        const struct key *k = find_key(s);
        if (k == NULL) {
            snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, s);
            rc = -1;
        } else if (seen[k - keys]) {
            snprintf(err, errlen, "%s:%d: key \"%s\" is duplicate", path, lineno, s);
            rc = -1;
        } else if (apply(cfg, k, value, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        } else {
            seen[k - keys] = 1;
        }
    }
    fclose(f);
    return rc;
}

int config_finish(struct config *cfg, char *err, size_t errlen)
{
    const char *env_email = getenv("CMAGENT_SYSADMIN_EMAIL");
    const char *env_password = getenv("CMAGENT_SYSADMIN_PASSWORD");
    enum log_level level;
    enum log_target target;

    if (env_email != NULL && *env_email != '\0' && config_set(cfg, "sysadmin_email", env_email, err, errlen) != 0)
        return -1;
    if (env_password != NULL && *env_password != '\0' &&
        config_set(cfg, "sysadmin_password", env_password, err, errlen) != 0)
        return -1;
    if (cfg->mqtt_version != 3 && cfg->mqtt_version != 5) {
        snprintf(err, errlen, "invalid value \"%ld\" for \"mqtt_version\": must be 5 or 3", cfg->mqtt_version);
        return -1;
    }
    if (log_level_parse(cfg->log_level, &level) != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"log_level\": must be error, warning, info or debug",
                 cfg->log_level);
        return -1;
    }
    if (log_target_parse(cfg->log_target, &target) != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"log_target\": must be stderr, syslog or journald",
                 cfg->log_target);
        return -1;
    }
    if (target == LOG_TARGET_SYSLOG && cfg->syslog_socket[0] == '\0') {
        snprintf(err, errlen, "\"syslog_socket\" must name the syslog socket (/dev/log) for log_target syslog");
        return -1;
    }
    if (strncmp(cfg->broker, "tcp://", 6) != 0 && strncmp(cfg->broker, "ssl://", 6) != 0 &&
        strncmp(cfg->broker, "mqtt://", 7) != 0 && strncmp(cfg->broker, "mqtts://", 8) != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"broker\": must start with tcp:// or ssl://", cfg->broker);
        return -1;
    }
    const char *why = topic_name_refusal(cfg->topic_prefix, strlen(cfg->topic_prefix));
    if (why != NULL) {
        snprintf(err, errlen, "invalid value \"%s\" for \"topic_prefix\": it %s (it must be a topic name)",
                 cfg->topic_prefix, why);
        return -1;
    }
    why = topic_name_refusal(cfg->agent_id, strlen(cfg->agent_id));
    if (why == NULL && strchr(cfg->agent_id, '/') != NULL)
        why = "contains '/'";
    if (why != NULL) {
        snprintf(err, errlen, "invalid value \"%s\" for \"agent_id\": it %s (it must be one topic level)",
                 cfg->agent_id, why);
        return -1;
    }
    if (cfg->password_min_length > cfg->password_max_length) {
        snprintf(err, errlen, "\"password_min_length\" %ld exceeds \"password_max_length\" %ld",
                 cfg->password_min_length, cfg->password_max_length);
        return -1;
    }
    if (cfg->smtp_url[0] != '\0' && strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
        strncmp(cfg->smtp_url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"smtp_url\": must start with smtp:// or smtps://",
                 cfg->smtp_url);
        return -1;
    }
    if (cfg->database[0] == '\0') {
        snprintf(err, errlen, "\"database\" must name a file or a postgresql:// URI");
        return -1;
    }
    if (strcmp(cfg->database_check, "quick") != 0 && strcmp(cfg->database_check, "off") != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"database_check\": must be quick or off", cfg->database_check);
        return -1;
    }
    if (strcmp(cfg->broker_acl, "none") != 0 && strcmp(cfg->broker_acl, "dynsec") != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"broker_acl\": must be none or dynsec", cfg->broker_acl);
        return -1;
    }
    if (strcmp(cfg->broker_acl, "dynsec") == 0 && cfg->broker_secret[0] == '\0') {
        snprintf(err, errlen, "\"broker_acl dynsec\" needs \"broker_secret\", the agent's own broker password");
        return -1;
    }
    size_t np = strlen(cfg->broker_name_prefix);
    if (np == 0 || np > 32 || strspn(cfg->broker_name_prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != np ||
        strcmp(cfg->broker_name_prefix, "anon") == 0) {
        snprintf(err, errlen, "invalid value \"%s\" for \"broker_name_prefix\": 1 to 32 of A-Z a-z 0-9 - _",
                 cfg->broker_name_prefix);
        return -1;
    }
    if (strcmp(cfg->broker_acl, "dynsec") == 0 && cfg->username[0] == '\0' &&
        config_set(cfg, "username", "cmagent", err, errlen) != 0)
        return -1;
    if (cfg->broker_secret[0] != '\0' && config_set(cfg, "password", cfg->broker_secret, err, errlen) != 0)
        return -1;
    log_threshold = level;
    log_set_target(target, cfg->syslog_socket);
    if (cfg->client_id[0] == '\0') {
        char id[256];
        snprintf(id, sizeof id, "cmagent-%s", cfg->agent_id);
        if (config_set(cfg, "client_id", id, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void config_release(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == KEY_STRING) {
            char **field = (char **)((char *)cfg + keys[i].offset);
            free(*field);
            *field = NULL;
        }
    }
}

void config_print_defaults(void *file)
{
    for (size_t i = 0; i < NKEYS; i++)
        fprintf((FILE *)file, "# %s %s\n", keys[i].name, keys[i].def);
}
