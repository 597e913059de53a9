/* cmd_op.c: the commands of the table (`cmctl customer list ...`) and `cmctl op NAME [JSON]`, which
 * sends any operation with the JSON given (or read from standard input with '-') as its data. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const anonymous_ops[] = {
    "agent.ping", "auth.login", "auth.refresh", "auth.activate", "auth.checkActivateToken",
    "auth.resetPassword", "auth.resetPasswordByEmail", "auth.twoFa.providers", "auth.twoFa.sendCode",
    "auth.twoFa.verify", NULL,
};

static bool op_anonymous(const char *op)
{
    for (int i = 0; anonymous_ops[i]; i++)
        if (strcmp(op, anonymous_ops[i]) == 0)
            return true;
    return false;
}

int cmd_spec(struct settings *s, const struct cmd_spec *c, int argc, char **argv)
{
    struct client cl;
    cJSON *data;
    int rc;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help_command(c);
            return 0;
        }
    data = build_data(c, argc, argv, &rc);
    if (data == NULL)
        return rc;
    if ((rc = client_open(&cl, s)) == 0) {
        rc = client_run(&cl, c->op, data, spec_anonymous(c), c->columns);
        client_close(&cl);
    }
    cJSON_Delete(data);
    return rc;
}

static char *read_stdin(void)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    return buf;
}

static int usage_op(void)
{
    printf("usage: cmctl op NAME [JSON | -]\n\n"
           "Sends the operation NAME (any of `cmctl agent ops`) with JSON, an object, as its data\n"
           "('-': read it from standard input), with the session's token unless the operation needs none.\n"
           "Prints the reply's data as a table, or the reply as it came with --json.\n\n"
           "  cmctl op customer.list '{\"pageSize\":10,\"textSearch\":\"acme\"}'\n"
           "  cmctl --json op customer.get '{\"id\":\"...\"}' | jq .data.title\n");
    return 0;
}

int cmd_op(struct settings *s, int argc, char **argv)
{
    struct client cl;
    cJSON *data = NULL;
    int rc = 0;
    if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)
        return argc == 0 ? (usage_op(), EXIT_USAGE) : usage_op();
    if (argc > 2) {
        fprintf(stderr, "cmctl: op takes NAME and at most one JSON argument (quote it)\n");
        return EXIT_USAGE;
    }
    if (argc == 2) {
        char *text = strcmp(argv[1], "-") == 0 ? read_stdin() : strdup(argv[1]);
        data = parse_json_arg("the data", text, &rc);
        free(text);
        if (data == NULL)
            return rc;
        if (!cJSON_IsObject(data)) {
            fprintf(stderr, "cmctl: the data must be a JSON object\n");
            cJSON_Delete(data);
            return EXIT_USAGE;
        }
    }
    if ((rc = client_open(&cl, s)) == 0) {
        bool anonymous = op_anonymous(argv[0]) || (!s->token[0] && !cl.have_session);
        rc = client_run(&cl, argv[0], data, anonymous, NULL);
        client_close(&cl);
    }
    cJSON_Delete(data);
    return rc;
}
