/* main.c: the command line: cmagent -c FILE | --version | --help. */
#include "cmagent/agent.h"
#include "cmagent/config.h"
#include "cmagent/metrics_http.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cmagent [-c FILE]\n"
            "Customer management agent: serves ThingsBoard-style customer management over MQTT.\n\n"
            "  -c, --config FILE   read settings from FILE (mosquitto.conf style: \"key value\" lines)\n"
            "      --defaults      print every configuration key with its default and exit\n"
            "  -v, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n\n"
            "Without -c the defaults apply: broker tcp://127.0.0.1:1883, database cmagent.db.\n"
            "SIGTERM or SIGINT stop it cleanly (exit code 0).\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' }, { "version", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },         { "defaults", no_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    struct config cfg;
    const char *path = NULL;
    char err[600];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'v': printf("cmagent %s\n", CMAGENT_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        case 'd': config_print_defaults(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmagent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (config_init(&cfg) != 0) {
        fprintf(stderr, "cmagent: out of memory\n");
        return 1;
    }
    if ((path != NULL && config_load(&cfg, path, err, sizeof err) != 0) || config_finish(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "cmagent: %s\n", err);
        config_release(&cfg);
        return 2;
    }
    const char *why = cfg.metrics_listen[0] != '\0' ? metrics_http_refusal(cfg.metrics_listen) : NULL;
    if (why != NULL) {
        fprintf(stderr, "cmagent: invalid value \"%s\" for \"metrics_listen\": %s\n", cfg.metrics_listen, why);
        config_release(&cfg);
        return 2;
    }
    rc = agent_run(&cfg);
    config_release(&cfg);
    return rc;
}
