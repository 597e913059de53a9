/* help.c: --help at every level (cmctl, a group, a command), all drawn from the command table, and
 * `cmctl __complete WORDS...`, the candidates the bash completion offers for the next word. */
#include "cmctl.h"

#include <stdio.h>
#include <string.h>

static const char *const top_commands[][2] = {
    { "login", "log in and keep the token pair in the session file" },
    { "logout", "revoke the session's tokens and remove the session file" },
    { "session", "who is logged in with this profile, until when" },
    { "events", "the tenant's change events (--follow to stream them)" },
    { "op", "send any operation: cmctl op NAME [JSON]" },
    { NULL, NULL },
};

static const char *const global_options[] = {
    "--json", "--broker", "--prefix", "--cafile", "--certfile", "--keyfile", "--insecure", "--broker-username",
    "--broker-password", "--profile", "--config", "--token", "--timeout", "--request-id", "--help", "--version", NULL,
};

void help_main(void)
{
    printf("usage: cmctl [OPTIONS] COMMAND [ARGS]\n\n"
           "cmctl talks to cmagent over MQTT 5 (request/reply with Response Topic and Correlation Data).\n\n"
           "Commands:\n");
    for (int i = 0; top_commands[i][0]; i++)
        printf("  %-12s %s\n", top_commands[i][0], top_commands[i][1]);
    for (const struct group_spec *g = group_specs; g->name; g++)
        printf("  %-12s %s\n", g->name, g->summary);
    printf("\nOptions (anywhere on the line; environment variable; config file key):\n"
           "  --json                 print replies as they came (one JSON object a line), for jq\n"
           "  --broker URI           CMCTL_BROKER, broker: tcp://host:port or ssl://host:port (tcp://127.0.0.1:1883)\n"
           "  --prefix P             CMCTL_PREFIX, topic_prefix: the agent's topic prefix (cm/v1)\n"
           "  --cafile F, --certfile F, --keyfile F\n"
           "                         CMCTL_CAFILE ..., cafile ...: TLS trust store, client certificate and key\n"
           "  --insecure             insecure true: TLS without checking the broker's certificate\n"
           "  --broker-username U, --broker-password P\n"
           "                         CMCTL_BROKER_USERNAME/PASSWORD, broker_username/password: the broker's login\n"
           "  -p, --profile NAME     CMCTL_PROFILE, profile: keep several sessions (session.NAME)\n"
           "  --config FILE          CMCTL_CONFIG: the config file ($XDG_CONFIG_HOME/cmctl/config)\n"
           "  --token T              CMCTL_TOKEN, token: an access token or API key instead of the session\n"
           "  --timeout S            CMCTL_TIMEOUT, timeout: seconds to wait for a reply (10)\n"
           "  --request-id ID        the request's id: a repeated write applies once\n\n"
           "Exit status: 0 success, 1 an error reply (status, errorCode and message on stderr),\n"
           "2 a usage error or no session, 3 no connection or no reply.\n"
           "`cmctl GROUP --help` lists a group's commands, `cmctl GROUP COMMAND --help` its options.\n");
}

int help_group(const char *group)
{
    const struct group_spec *g = group_specs;
    while (g->name && strcmp(g->name, group) != 0)
        g++;
    if (g->name == NULL)
        return EXIT_USAGE;
    printf("usage: cmctl %s COMMAND [ARGS] [--json]\n\n%s\n\nCommands:\n", group, g->summary);
    for (const struct cmd_spec *c = cmd_specs; c->group; c++)
        if (strcmp(c->group, group) == 0)
            printf("  %-22s %s (%s)\n", c->verb, c->summary, c->op);
    printf("\n`cmctl %s COMMAND --help` lists a command's options.\n", group);
    return 0;
}

static const char *pos_usage(const struct cmd_spec *c)
{
    if (c->pos == NULL)
        return "";
    if (strcmp(c->pos, "ids") == 0 || strcmp(c->pos, "idlist") == 0)
        return " ID...";
    if (strcmp(c->pos, "customerId") == 0)
        return " CUSTOMER_ID";
    return " ID";
}

static void flag_line(const struct flag_def *f)
{
    static const char *const meta[] = { "TEXT", "N", "true|false", "JSON", "A,B,..." };
    char left[64];
    snprintf(left, sizeof left, "--%s %s", f->name, meta[f->type]);
    printf("  %-28s %s%s%s\n", left, f->help, f->key ? " -> " : "", f->key ? f->key : "");
}

void help_command(const struct cmd_spec *c)
{
    printf("usage: cmctl %s %s%s [OPTIONS]\n\n%s: operation %s", c->group, c->verb, pos_usage(c), c->summary, c->op);
    if (c->pos)
        printf(", ID%s -> data.%s", strcmp(c->pos, "ids") == 0 ? "s" : "",
               strcmp(c->pos, "ids") == 0 ? "id (several: data.ids)" : strcmp(c->pos, "idlist") == 0 ? "ids" : c->pos);
    printf(".\n\nOptions, each a member of the request's data:\n");
    for (const char *p = c->flags; p && *p;) {
        size_t l = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)l, p);
        if (flag_find(name))
            flag_line(flag_find(name));
        p += l + (p[l] == ',');
    }
    flag_line(flag_find("data"));
    flag_line(flag_find("set"));
    printf("\nThe reply prints as a table; --json prints it as it came. `cmctl --help` lists the global options.\n");
}

static void complete_flags(const struct cmd_spec *c)
{
    for (const char *p = c->flags; p && *p;) {
        size_t l = strcspn(p, ",");
        printf("--%.*s\n", (int)l, p);
        p += l + (p[l] == ',');
    }
    printf("--data\n--set\n--help\n");
}

/* argv: the words before the one being completed (without "cmctl"). */
int complete_words(int argc, char **argv)
{
    const char *w[2] = { NULL, NULL };
    int n = 0;
    for (int i = 0; i < argc && n < 2; i++) {
        if (argv[i][0] == '-') {
            for (int k = 0; global_options[k]; k++) /* skip a global option's value */
                if (strcmp(argv[i], global_options[k]) == 0 && strcmp(argv[i], "--json") && strcmp(argv[i], "--insecure"))
                    i++;
            continue;
        }
        w[n++] = argv[i];
    }
    if (n == 0) {
        for (int i = 0; top_commands[i][0]; i++)
            printf("%s\n", top_commands[i][0]);
        for (const struct group_spec *g = group_specs; g->name; g++)
            printf("%s\n", g->name);
        for (int k = 0; global_options[k]; k++)
            printf("%s\n", global_options[k]);
    } else if (n == 1) {
        for (const struct cmd_spec *c = cmd_specs; c->group; c++)
            if (strcmp(c->group, w[0]) == 0)
                printf("%s\n", c->verb);
        if (strcmp(w[0], "op") == 0) {
            for (const struct cmd_spec *c = cmd_specs; c->group; c++)
                if (c->fixed == NULL)
                    printf("%s\n", c->op);
            printf("auth.login\nauth.logout\nauth.refresh\nevent.replay\nuser.setEnabled\n");
        }
        if (strcmp(w[0], "events") == 0)
            printf("--follow\n--after\n--limit\n--tenant\n--count\n");
        if (strcmp(w[0], "login") == 0)
            printf("--email\n--password\n--password-stdin\n");
    } else {
        const struct cmd_spec *c = spec_find(w[0], w[1]);
        if (c)
            complete_flags(c);
        else if (strcmp(w[0], "events") == 0)
            printf("--follow\n--after\n--limit\n--tenant\n--count\n");
    }
    return 0;
}
