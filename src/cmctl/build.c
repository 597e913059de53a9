/* build.c: a request's data from a command's arguments: the positional ids, the flags of the
 * command's table entry (each one member of data, typed), --data JSON merged in, --set KEY=VALUE. */
#include "cmctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *parse_json_arg(const char *what, const char *text, int *exit_code)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithOpts(text, &end, 1);
    if (v == NULL) {
        fprintf(stderr, "cmctl: %s is not valid JSON (near '%.20s')\n", what, end ? end : text);
        *exit_code = EXIT_USAGE;
    }
    return v;
}

static cJSON *list_value(const char *text)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = text;
    while (*p) {
        size_t l = strcspn(p, ",");
        if (l > 0) {
            char *item = strndup(p, l);
            cJSON_AddItemToArray(a, cJSON_CreateString(item));
            free(item);
        }
        p += l + (p[l] == ',');
    }
    return a;
}

/* The whole text of the file at path ("-": standard input) as a string, or NULL after saying why. */
static cJSON *file_value(const char *flag, const char *path, int *exit_code)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    if (f == NULL) {
        fprintf(stderr, "cmctl: --%s: cannot open '%s': %s\n", flag, path, strerror(errno));
        *exit_code = EXIT_USAGE;
        return NULL;
    }
    do {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *grown = realloc(text, cap);
            if (grown == NULL)
                break;
            text = grown;
        }
        n = fread(text + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    bool failed = ferror(f) || text == NULL;
    if (f != stdin)
        fclose(f);
    if (failed) {
        fprintf(stderr, "cmctl: --%s: cannot read '%s'\n", flag, path);
        free(text);
        *exit_code = EXIT_USAGE;
        return NULL;
    }
    text[len] = '\0';
    cJSON *v = cJSON_CreateString(text);
    free(text);
    return v;
}

static cJSON *typed_value(const struct flag_def *f, const char *flag, const char *v, int *exit_code)
{
    char *end;
    long long n;
    switch (f->type) {
    case F_INT:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (end == v || *end || errno) {
            fprintf(stderr, "cmctl: --%s takes an integer, not '%s'\n", flag, v);
            *exit_code = EXIT_USAGE;
            return NULL;
        }
        return cJSON_CreateNumber((double)n);
    case F_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
            return cJSON_CreateBool(strcmp(v, "true") == 0);
        fprintf(stderr, "cmctl: --%s takes true or false, not '%s'\n", flag, v);
        *exit_code = EXIT_USAGE;
        return NULL;
    case F_JSON:
        return parse_json_arg(flag, v, exit_code);
    case F_LIST:
        return list_value(v);
    case F_FILE:
        return file_value(flag, v, exit_code);
    default:
        return cJSON_CreateString(v);
    }
}

static void put(cJSON *data, const char *key, cJSON *v)
{
    if (cJSON_HasObjectItem(data, key))
        cJSON_ReplaceItemInObjectCaseSensitive(data, key, v);
    else
        cJSON_AddItemToObject(data, key, v);
}

static int merge_object(cJSON *data, cJSON *extra, int *exit_code)
{
    if (!cJSON_IsObject(extra)) {
        fprintf(stderr, "cmctl: --data must be a JSON object\n");
        cJSON_Delete(extra);
        return *exit_code = EXIT_USAGE;
    }
    while (extra->child) {
        cJSON *m = cJSON_DetachItemViaPointer(extra, extra->child);
        char *k = strdup(m->string);
        put(data, k, m);
        free(k);
    }
    cJSON_Delete(extra);
    return 0;
}

/* One flag at argv[*i]; 0, or an exit status after printing why not. */
static int one_flag(const struct cmd_spec *c, cJSON *data, int argc, char **argv, int *i, int *exit_code)
{
    char name[64];
    const char *a = argv[*i] + 2, *eq = strchr(a, '='), *v = NULL;
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    const struct flag_def *f;
    snprintf(name, sizeof name, "%.*s", (int)n, a);
    f = flag_find(name);
    if (f == NULL || !spec_has_flag(c, name)) {
        fprintf(stderr, "cmctl: %s %s has no option --%s (cmctl %s %s --help)\n", c->group, c->verb, name, c->group,
                c->verb);
        return *exit_code = EXIT_USAGE;
    }
    if (eq)
        v = eq + 1;
    else if (f->type == F_BOOL && (*i + 1 >= argc || (strcmp(argv[*i + 1], "true") && strcmp(argv[*i + 1], "false"))))
        v = "true";
    else if (*i + 1 < argc)
        v = argv[++*i];
    else {
        fprintf(stderr, "cmctl: --%s needs a value\n", name);
        return *exit_code = EXIT_USAGE;
    }
    if (strcmp(name, "data") == 0) {
        cJSON *extra = parse_json_arg("--data", v, exit_code);
        return extra ? merge_object(data, extra, exit_code) : *exit_code;
    }
    if (strcmp(name, "set") == 0) {
        const char *e = strchr(v, '=');
        if (e == NULL || e == v) {
            fprintf(stderr, "cmctl: --set takes KEY=VALUE, not '%s'\n", v);
            return *exit_code = EXIT_USAGE;
        }
        char *k = strndup(v, (size_t)(e - v));
        put(data, k, cJSON_CreateString(e + 1));
        free(k);
        return 0;
    }
    cJSON *val = typed_value(f, name, v, exit_code);
    if (val == NULL)
        return *exit_code;
    put(data, f->key, val);
    return 0;
}

static int positionals(const struct cmd_spec *c, cJSON *data, char **pos, int npos, int *exit_code)
{
    int want_many = c->pos && (strcmp(c->pos, "ids") == 0 || strcmp(c->pos, "idlist") == 0);
    if (c->pos == NULL && npos == 0)
        return 0;
    if (c->pos == NULL || npos == 0 || (npos > 1 && !want_many)) {
        if (c->pos == NULL)
            fprintf(stderr, "cmctl: %s %s takes no argument '%s'\n", c->group, c->verb, pos[0]);
        else
            fprintf(stderr, "cmctl: %s %s takes %s %s (cmctl %s %s --help)\n", c->group, c->verb,
                    want_many ? "one or more" : "one", want_many ? "IDs" : "ID", c->group, c->verb);
        return *exit_code = EXIT_USAGE;
    }
    if (want_many && (npos > 1 || strcmp(c->pos, "idlist") == 0)) {
        cJSON *a = cJSON_CreateArray();
        for (int k = 0; k < npos; k++)
            cJSON_AddItemToArray(a, cJSON_CreateString(pos[k]));
        put(data, "ids", a);
    } else
        put(data, want_many ? "id" : c->pos, cJSON_CreateString(pos[0]));
    return 0;
}

cJSON *build_data(const struct cmd_spec *c, int argc, char **argv, int *exit_code)
{
    cJSON *data = c->fixed ? cJSON_Parse(c->fixed) : cJSON_CreateObject();
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    bool only_pos = false;
    *exit_code = 0;
    for (int i = 0; i < argc && *exit_code == 0; i++) {
        if (!only_pos && strcmp(argv[i], "--") == 0)
            only_pos = true;
        else if (!only_pos && strncmp(argv[i], "--", 2) == 0)
            one_flag(c, data, argc, argv, &i, exit_code);
        else
            pos[npos++] = argv[i];
    }
    if (*exit_code == 0)
        positionals(c, data, pos, npos, exit_code);
    free(pos);
    if (*exit_code == 0 && spec_has_flag(c, "page-size") && !cJSON_HasObjectItem(data, "pageSize"))
        cJSON_AddNumberToObject(data, "pageSize", 100);
    if (*exit_code != 0) {
        cJSON_Delete(data);
        return NULL;
    }
    return data;
}
