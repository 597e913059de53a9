/* test_tables.c: the tables that must stay consistent by hand: the operation table (sorted, no
 * duplicates, every row documented) and the configuration table (every key in the example file,
 * with its default). */
#include "test.h"

#include "cmagent/config.h"
#include "ops.h"

#include <stdlib.h>

static void operation_table_is_sorted_and_documented(void)
{
    size_t n;
    const struct op *t = ops_table(&n);
    CHECK(n > 30);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            CHECK(strcmp(t[i - 1].name, t[i].name) < 0);
        CHECK(t[i].summary != NULL && t[i].summary[0] != '\0');
        CHECK(t[i].handler != NULL);
        CHECK((t[i].flags & OP_ANONYMOUS) || t[i].authorities != 0);
        CHECK(ops_lookup(t[i].name) == &t[i]);
        /* a read leaves no audit row, is never idempotent and has no password work */
        if (t[i].flags & OP_READ) {
            struct api_request req = { .op = t[i].name, .payload = "{}", .payload_len = 2 };
            CHECK(t[i].audit_entity == NULL && !(t[i].flags & OP_IDEMPOTENT) && t[i].prepare == NULL);
            CHECK(!api_prepares(&req));
            CHECK(api_reads_only(t[i].name));
        }
    }
    CHECK(api_reads_only("customer.get") && api_reads_only("device.list") && api_reads_only("event.replay"));
    CHECK(!api_reads_only("customer.create") && !api_reads_only("batch") && !api_reads_only("auth.refresh"));
    CHECK(!api_reads_only("customer.nope"));
    CHECK(ops_lookup("customer.nope") == NULL);
}

static void every_config_key_is_in_the_example(void)
{
    FILE *f = fopen(CMAGENT_SOURCE_DIR "/config/cmagent.conf.example", "r");
    static char text[65536];
    CHECK(f != NULL);
    if (f == NULL)
        return;
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    for (size_t i = 0; i < config_key_count(); i++) {
        char line[128];
        snprintf(line, sizeof line, "\n#%s ", config_key_name(i));
        if (strstr(text, line) == NULL) {
            fprintf(stderr, "config/cmagent.conf.example lacks \"#%s <default>\"\n", config_key_name(i));
            CHECK(0);
        }
    }
    /* and with its default: "# key value" lines of config_print_defaults, "#key value" in the file */
    char *defaults = NULL;
    size_t dlen = 0;
    FILE *m = open_memstream(&defaults, &dlen);
    config_print_defaults(m);
    fclose(m);
    for (char *l = strtok(defaults, "\n"); l != NULL; l = strtok(NULL, "\n")) {
        char want[512];
        if (l[strlen(l) - 1] == ' ')
            continue; /* an empty default: the file shows the key alone */
        snprintf(want, sizeof want, "\n#%s\n", l + 2);
        if (strstr(text, want) == NULL) {
            fprintf(stderr, "config/cmagent.conf.example lacks the default line \"#%s\"\n", l + 2);
            CHECK(0);
        }
    }
    free(defaults);
}

static void config_rejects_unknown_keys_and_bad_values(void)
{
    struct config cfg;
    char err[256], path[] = "/tmp/cmagent-test-conf-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\nbroker tcp://127.0.0.1:1\nkeepalive 1\n", f);
    fclose(f);
    config_init(&cfg);
    CHECK(config_load(&cfg, path, err, sizeof err) != 0);
    CHECK(strstr(err, ":3: invalid value \"1\" for \"keepalive\"") != NULL);
    config_release(&cfg);

    f = fopen(path, "w");
    fputs("brokr tcp://127.0.0.1:1\n", f);
    fclose(f);
    config_init(&cfg);
    CHECK(config_load(&cfg, path, err, sizeof err) != 0);
    CHECK(strstr(err, ":1: unknown key \"brokr\"") != NULL);
    config_release(&cfg);
    remove(path);
}

int main(void)
{
    RUN(operation_table_is_sorted_and_documented);
    RUN(every_config_key_is_in_the_example);
    RUN(config_rejects_unknown_keys_and_bad_values);
    return test_report("test_tables");
}
