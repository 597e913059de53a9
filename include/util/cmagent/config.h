/* config.h: the agent's settings, read from a mosquitto.conf-style file ("key value" lines, '#'
 * comments). Every key is one row of the table in config.c, with its type, bounds and default. */
#ifndef CMAGENT_CONFIG_H
#define CMAGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
    /* MQTT */
    char *broker;            /* tcp://host:port or ssl://host:port */
    char *username;
    char *password;
    char *client_id;         /* empty: "cmagent-<agent_id>" */
    char *agent_id;
    char *topic_prefix;
    char *share_group;       /* empty: plain subscription */
    char *cafile, *capath;   /* both empty: the system's trust store (ssl:// brokers) */
    char *certfile, *keyfile, *keyfile_password; /* the client certificate of mutual TLS */
    long mqtt_version;       /* 5 or 3 */
    long keepalive;          /* seconds */
    long session_expiry;     /* seconds the broker keeps our session while we are away */
    long max_payload;        /* bytes */
    long max_batch_commands; /* commands one batch request may hold */
    long max_batch_rows;     /* the sum of pageSize and limit over a batch's commands */
    long max_page_size;      /* the largest pageSize of a listing */
    long max_page_offset;    /* the deepest first row (page x pageSize) of an offset page */
    long max_reply;          /* bytes of a reply, and of the rows one request may read */
    long max_reply_topic;    /* bytes of a reply destination (Response Topic or replyTo) */
    /* Storage */
    char *database;
    char *database_check;           /* "quick": PRAGMA quick_check at start; "off" */
    long event_retention_days;
    long reader_threads;     /* threads that run reads on read-only connections beside the writer */
    long max_group_commit;   /* requests the writer commits in one transaction at most */
    long import_max_rows;    /* rows one import.run may hold */
    long import_chunk_rows;  /* rows an import runs in one request, and per transaction of its job */
    long import_max_atomic_rows; /* rows of an atomic import or a dry run (run in the request) */
    long import_chunk_ms;    /* an import job's chunk takes no more rows once this long went */
    long unassign_chunk_size; /* rows of a deleted customer (unassigned) or tenant (deleted) per transaction */
    long idempotency_window; /* seconds a write's first reply is kept for repeats of its request id */
    /* Identity */
    char *sysadmin_email;
    char *sysadmin_password; /* empty: a random one is generated and logged once at bootstrap */
    char *base_url;
    long access_token_ttl;   /* seconds */
    long refresh_token_ttl;  /* seconds */
    long activation_token_ttl; /* hours, 1..24 as ThingsBoard */
    long password_hash_cost; /* yescrypt cost, 0 = libcrypt's default */
    long password_hash_threads; /* verifier threads that hash and check passwords beside the writer */
    long password_reset_token_ttl; /* hours */
    /* Password policy (ThingsBoard's UserPasswordPolicy) and logins */
    long password_min_length, password_max_length;
    long password_min_uppercase, password_min_lowercase, password_min_digits, password_min_special;
    long password_allow_whitespace; /* 1 or 0 */
    long password_reuse_days;       /* 0 = no reuse rule */
    long max_failed_login_attempts; /* 0 = no lockout */
    long user_token_access_enabled; /* 1: user.token ("login as") is allowed, 0: refused */
    long auth_rate_per_client;      /* anonymous authentication requests per client per minute, 0 = none */
    long auth_rate_per_email;       /* ... naming one e-mail per minute, 0 = none */
    long password_queue_per_tenant; /* password requests waiting for a verifier, per tenant */
    long rate_limit_per_second;     /* per principal, 0 = none */
    long audit_retention_days;      /* 0 = keep forever */
    long max_json_field_size;       /* bytes of an additionalInfo, 0 = none */
    long max_text_field_length;     /* characters of an address or address2, 0 = none */
    long max_dashboard_configuration_size; /* bytes of a dashboard's configuration, 0 = none */
    long max_api_keys_per_user;     /* 0 = none */
    /* Broker access control (docs/broker-acl.md) */
    char *broker_acl;               /* "none": an open broker; "dynsec": the agent provisions mosquitto's dynamic security */
    char *broker_secret;            /* dynsec: the agent's own broker password (overrides password) */
    char *broker_name_prefix;       /* dynsec: prefix of the broker clients and roles the agent owns */
    long broker_reconcile_interval; /* dynsec: seconds between comparisons of the broker with the database */
    /* Mail */
    char *smtp_url, *smtp_from, *smtp_username, *smtp_password;
    long smtp_timeout;              /* seconds per mail */
    long mail_claim_s;              /* the lease of a queued mail an agent claimed for sending */
    long mail_retry_s;              /* the first retry of a failed queued mail (then doubling) */
    long mail_max_attempts;         /* failed sends of a queued mail before it is dropped */
    /* Logging */
    char *log_level;
    char *log_target;               /* "stderr", "syslog" or "journald" */
    char *syslog_socket;            /* the syslog daemon's datagram socket (log_target syslog) */
    /* Metrics */
    char *metrics_listen;           /* "127.0.0.1:9464": the Prometheus endpoint; empty: none */
    long stats_interval;            /* seconds between publishes of the retained stats topic, 0 = never */
};

/* Fills cfg with every default. Returns 0, or -1 on allocation failure. */
int config_init(struct config *cfg);

/* Reads path over the defaults. On error returns -1 and writes "path:line: problem" into err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Sets one key from text, as a line of the file would. Returns 0 or -1 with err filled. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Applies CMAGENT_SYSADMIN_EMAIL / CMAGENT_SYSADMIN_PASSWORD from the environment, then checks
 * rules that span keys. Returns 0 or -1 with err filled. */
int config_finish(struct config *cfg, char *err, size_t errlen);

/* Frees every string. NULL-safe. */
void config_release(struct config *cfg);

/* Writes every key with its default, one "# key default" line each, for config examples and tests. */
void config_print_defaults(void *file);

/* The number of keys, and the name of key i (for tests that compare the table to the example file). */
size_t config_key_count(void);
const char *config_key_name(size_t i);

#endif
