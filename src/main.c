/* main.c: the command line: cmagent -c FILE [--init-dynsec FILE] | --version | --help. */
#include "cmagent/agent.h"
#include "cmagent/config.h"
#include "cmagent/crash_report.h"
#include "cmagent/dynsec.h"
#include "cmagent/metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cmagent [-c FILE]\n"
            "Customer management agent: serves ThingsBoard-style customer management over MQTT.\n\n"
            "  -c, --config FILE   read settings from FILE (mosquitto.conf style: \"key value\" lines)\n"
            "      --defaults      print every configuration key with its default and exit\n"
            "      --init-dynsec FILE  write mosquitto's dynamic-security configuration FILE (it must not\n"
            "                      exist) with the agent's account (username, broker_secret) and exit\n"
            "  -v, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n\n"
            "Without -c the defaults apply: broker tcp://127.0.0.1:1883, database cmagent.db.\n"
            "SIGTERM or SIGINT stop it cleanly (exit code 0).\n");
}

/* Writes the plugin's first configuration; never over an existing file (it holds the accounts). */
static int init_dynsec(const struct config *cfg, const char *file)
{
    if (cfg->broker_secret[0] == '\0') {
        fprintf(stderr, "cmagent: --init-dynsec needs broker_secret, the agent's broker password\n");
        return 2;
    }
    struct broker_names names = { cfg->topic_prefix, cfg->broker_name_prefix };
    const char *user = cfg->username[0] != '\0' ? cfg->username : "cmagent";
    char *text = dynsec_initial_config(&names, user, cfg->broker_secret);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "cmagent: cannot create %s: %s\n", file, strerror(errno));
        free(text);
        return 1;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    free(text);
    if (!ok) {
        fprintf(stderr, "cmagent: writing %s failed: %s\n", file, strerror(errno));
        unlink(file);
        return 1;
    }
    printf("cmagent: wrote %s with the broker account %s\n", file, user);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' }, { "version", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },         { "defaults", no_argument, NULL, 'd' },
        { "init-dynsec", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    struct config cfg;
    const char *path = NULL, *dynsec_file = NULL;
    char err[600];
    int opt, rc;

    crash_report_install("cmagent");

    while ((opt = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'v': printf("cmagent %s\n", CMAGENT_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        case 'd': config_print_defaults(stdout); return 0;
        case 'i': dynsec_file = optarg; break;
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
    if (dynsec_file != NULL) {
        rc = init_dynsec(&cfg, dynsec_file);
        config_release(&cfg);
        return rc;
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
