/* cmctl.h: the pieces of cmctl, the command-line client of cmagent, and how they meet:
 * settings (flags > environment > config file > defaults), the session file, the MQTT link,
 * authenticated calls, the command table and the rendering of replies. */
#ifndef CMCTL_H
#define CMCTL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cmagent/client_link.h"

/* Exit statuses: 0 success, 1 an error reply, 2 a usage error, 3 no answer (broker, timeout). */
enum { EXIT_REPLY = 1, EXIT_USAGE = 2, EXIT_LINK = 3 };

#define CMCTL_STR 512

struct settings {
    char broker[CMCTL_STR];
    char prefix[128];
    char cafile[CMCTL_STR], certfile[CMCTL_STR], keyfile[CMCTL_STR];
    char username[256], password[256]; /* the broker's credentials, not a cmagent user's */
    char profile[64];
    char config[CMCTL_STR];
    char token[CMCTL_STR];      /* --token / CMCTL_TOKEN: an access token or API key, no session */
    char request_id[129];       /* --request-id: the envelope's id (a write applies at most once) */
    double timeout_s;
    bool json;
    bool insecure;              /* TLS without verifying the broker's certificate */
};

/* settings.c */
void settings_defaults(struct settings *s);
int settings_from_env(struct settings *s);
int settings_from_file(struct settings *s, const char *path, bool must_exist);
/* Consumes the global options of argv (anywhere), leaving the rest in order in argv; returns the
 * new argc, or -1 after printing a usage error. */
int settings_from_args(struct settings *s, int argc, char **argv, bool *help, bool *version);
const char *config_dir(char *buf, size_t len);

/* session.c: the login kept in a file only the user can read */
struct session {
    char email[256];
    char token[CMCTL_STR];
    char refresh[CMCTL_STR];
    long long expires_at_ms; /* wall clock; 0 unknown */
    char broker[CMCTL_STR];
    char broker_user[256], broker_pass[256]; /* from broker.credentials; empty on an open broker */
};
int session_path(const struct settings *s, char *buf, size_t len);
int session_load(const struct settings *s, struct session *out); /* 0, 1 when there is none, -1 */
int session_save(const struct settings *s, const struct session *ss);
int session_remove(const struct settings *s);
int session_lock(const struct settings *s); /* an fd holding an exclusive lock, or -1 */
void session_unlock(int fd);
long long now_ms(void);

/* link.c: requests to the agent over the transport's client link */
struct client_link *link_open(const struct settings *s, char *err, size_t errlen);
/* Publishes payload to <prefix>/req/<op> and waits for the reply (on the anon/<nonce> topic when
 * anonymous: a request without a token); returns it (cJSON, owned by the caller) and its raw text
 * in *raw (malloc'd), or NULL with err set. */
cJSON *link_request(struct client_link *l, const char *op, const char *payload, bool anonymous, char **raw, char *err,
                    size_t errlen);

/* call.c: authenticated requests */
struct client {
    struct settings *s;
    struct client_link *link;
    struct session ss;
    bool have_session;
};
/* Connects with the broker credentials of the flags (or environment, config file), else with the
 * session's (renewed by broker.credentials when the broker refuses them), else anonymously. */
int client_open(struct client *c, struct settings *s);
/* The same without the session's broker credentials: connects anonymously unless the flags say otherwise. */
int client_open_anonymous(struct client *c, struct settings *s);
/* Asks broker.credentials for the session's broker account and saves it in the session file: 0,
 * 0 with none kept when the agent runs broker_acl none, or an exit status. */
int client_fetch_broker_account(struct client *c);
void client_close(struct client *c);
/* Sends op with data (may be NULL), with the session's token (refreshed when expired); returns the
 * reply (owned by the caller) and its raw text, or NULL after printing what went wrong (*exit_code). */
cJSON *client_call(struct client *c, const char *op, cJSON *data, bool anonymous, char **raw, int *exit_code);
/* client_call, then prints the reply (table or --json) or the error; returns the exit status. */
int client_run(struct client *c, const char *op, cJSON *data, bool anonymous, const char *columns);
int print_error_reply(const char *op, const cJSON *reply);
/* cmd_twofa.c: when *reply (auth.login's) holds a pre-verification token, finishes the login with
 * auth.twoFa.verify (code: --code, CMCTL_LOGIN_CODE or asked for) and puts its reply in *reply and
 * *raw; 0, or the exit status of the failure. */
int login_second_factor(struct client *c, cJSON **reply, char **raw, const char *code, const char *provider);
/* Takes the token pair of an auth.login reply into the session file; 0 or an exit status. */
int client_take_pair(struct client *c, const cJSON *reply);

/* render.c */
void render_reply(const cJSON *reply, const char *columns);
void render_table(const cJSON *rows, const char *columns);
void render_object(const cJSON *obj);
void render_event(const cJSON *ev);
char *value_text(const cJSON *v); /* a cell: ids as their uuid, times as UTC; malloc'd */

/* spec.c: the command table */
enum ftype { F_STR, F_INT, F_BOOL, F_JSON, F_LIST, F_FILE }; /* F_FILE: a file's text (- stdin) */
struct flag_def {
    const char *name;   /* --name */
    const char *key;    /* member of data */
    enum ftype type;
    const char *help;
};
struct cmd_spec {
    const char *group, *verb, *op;
    const char *pos;     /* "id": one positional -> data.id; "ids": one or more -> id / ids; NULL none */
    const char *flags;   /* names of flag_defs, comma separated; "PAGING" stands for the paging set */
    const char *fixed;   /* JSON merged into data before the flags, or NULL */
    const char *columns; /* columns of a listing's table, or NULL (chosen from the rows) */
    const char *summary;
};
struct group_spec {
    const char *name, *summary;
};
extern const struct cmd_spec cmd_specs[];
extern const struct group_spec group_specs[];
const struct flag_def *flag_find(const char *name);
const struct cmd_spec *spec_find(const char *group, const char *verb);
bool spec_has_flag(const struct cmd_spec *c, const char *name);
bool spec_anonymous(const struct cmd_spec *c);

/* build.c: data from a command's arguments */
cJSON *build_data(const struct cmd_spec *c, int argc, char **argv, int *exit_code);
cJSON *parse_json_arg(const char *what, const char *text, int *exit_code);

/* help.c */
void help_main(void);
int help_group(const char *group);
void help_command(const struct cmd_spec *c);
int complete_words(int argc, char **argv);

/* commands */
int cmd_login(struct settings *s, int argc, char **argv);
int cmd_logout(struct settings *s, int argc, char **argv);
int cmd_session(struct settings *s, int argc, char **argv);
int cmd_op(struct settings *s, int argc, char **argv);
int cmd_events(struct settings *s, int argc, char **argv);
int cmd_spec(struct settings *s, const struct cmd_spec *c, int argc, char **argv);

#endif
