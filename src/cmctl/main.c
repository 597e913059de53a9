/* main.c: cmctl's entry: the settings in their order (defaults, config file, CMCTL_* environment,
 * flags), then the command: login, logout, session, events, op, or GROUP VERB of the table. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CMAGENT_VERSION
#define CMAGENT_VERSION "0"
#endif

/* --config FILE from argv or CMCTL_CONFIG, else $XDG_CONFIG_HOME/cmctl/config if present. */
static int read_config(struct settings *s, int argc, char **argv)
{
    const char *path = getenv("CMCTL_CONFIG");
    char dflt[CMCTL_STR];
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    if (path != NULL && *path)
        return settings_from_file(s, path, true);
    config_dir(dflt, sizeof dflt);
    strncat(dflt, "/config", sizeof dflt - strlen(dflt) - 1);
    return settings_from_file(s, dflt, false);
}

static int run(struct settings *s, int argc, char **argv)
{
    const char *cmd = argv[1];
    if (strcmp(cmd, "login") == 0)
        return cmd_login(s, argc - 2, argv + 2);
    if (strcmp(cmd, "logout") == 0)
        return cmd_logout(s, argc - 2, argv + 2);
    if (strcmp(cmd, "session") == 0)
        return cmd_session(s, argc - 2, argv + 2);
    if (strcmp(cmd, "events") == 0)
        return cmd_events(s, argc - 2, argv + 2);
    if (strcmp(cmd, "op") == 0)
        return cmd_op(s, argc - 2, argv + 2);
    if (strcmp(cmd, "ops") == 0)
        return cmd_spec(s, spec_find("agent", "ops"), argc - 2, argv + 2);
    if (strcmp(cmd, "help") == 0) {
        if (argc > 2 && help_group(argv[2]) == 0)
            return 0;
        help_main();
        return 0;
    }
    for (const struct group_spec *g = group_specs; g->name; g++) {
        if (strcmp(g->name, cmd) != 0)
            continue;
        if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
            help_group(cmd);
            return argc < 3 ? EXIT_USAGE : 0;
        }
        const struct cmd_spec *c = spec_find(cmd, argv[2]);
        if (c == NULL) {
            fprintf(stderr, "cmctl: %s has no command '%s' (cmctl %s --help)\n", cmd, argv[2], cmd);
            return EXIT_USAGE;
        }
        return cmd_spec(s, c, argc - 3, argv + 3);
    }
    fprintf(stderr, "cmctl: unknown command '%s' (cmctl --help)\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct settings s;
    bool help = false, version = false;
    if (argc > 1 && strcmp(argv[1], "__complete") == 0)
        return complete_words(argc - 2, argv + 2);
    settings_defaults(&s);
    if (read_config(&s, argc, argv) || settings_from_env(&s))
        return EXIT_USAGE;
    argc = settings_from_args(&s, argc, argv, &help, &version);
    if (argc < 0)
        return EXIT_USAGE;
    if (version) {
        printf("cmctl %s\n", CMAGENT_VERSION);
        return 0;
    }
    if (argc < 2) {
        help_main();
        return help ? 0 : EXIT_USAGE;
    }
    if (help) { /* --help was taken as a global option: give it back to the command */
        argv[argc++] = (char *)"--help";
        argv[argc] = NULL;
    }
    return run(&s, argc, argv);
}
