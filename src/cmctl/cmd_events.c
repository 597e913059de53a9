/* cmd_events.c: `cmctl events`: the tenant's change events. Without --follow one event.replay page;
 * with --follow it subscribes <prefix>/event/<tenant>/# first, replays what came after --after,
 * then prints each event as it arrives, skipping repeats (delivery is at least once) and asking
 * event.replay for whatever of its tenant lies in a gap of seq before printing the next one. */
#include "cmctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NULL_UUID "13814000-1dd2-11b2-8080-808080808080"

struct follow {
    struct client *c;
    long long last;     /* the last seq printed, -1 none yet */
    long long count;    /* stop after this many events, 0 never */
    long long printed;
    bool replay_ok;     /* false once event.replay was refused (not a tenant administrator) */
};

static int usage_events(void)
{
    printf("usage: cmctl events [--follow] [--after SEQ] [--limit N] [--tenant ID] [--count N]\n\n"
           "Without --follow: the tenant's events after SEQ (event.replay, tenant administrator).\n"
           "With --follow: streams the events of the tenant (of --tenant, or the caller's; a system\n"
           "administrator sees every tenant's) as they are published, one a line (--json: the event\n"
           "as published). A gap in seq is filled from event.replay, repeats are skipped. --after\n"
           "first replays the events after SEQ; --count stops after N events.\n");
    return 0;
}

static int print_event(struct follow *f, const cJSON *ev, const char *raw)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
    if (cJSON_IsNumber(seq))
        f->last = (long long)seq->valuedouble;
    if (f->c->s->json) {
        char *t = raw ? NULL : cJSON_PrintUnformatted(ev);
        printf("%s\n", raw ? raw : t);
        fflush(stdout);
        cJSON_free(t);
    } else
        render_event(ev);
    return f->count > 0 && ++f->printed >= f->count;
}

/* Prints the tenant's events after f->last and before `before` (0: all); 1 when --count is reached. */
static int replay(struct follow *f, long long before)
{
    while (f->replay_ok) {
        cJSON *data = cJSON_CreateObject(), *reply;
        char *raw = NULL;
        int rc, n = 0;
        cJSON_AddNumberToObject(data, "afterSeq", (double)(f->last < 0 ? 0 : f->last));
        cJSON_AddNumberToObject(data, "limit", 1000);
        reply = client_call(f->c, "event.replay", data, false, &raw, &rc);
        cJSON_Delete(data);
        free(raw);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
        if (reply == NULL || !cJSON_IsNumber(st) || st->valueint != 200) {
            if (reply != NULL)
                print_error_reply("event.replay", reply);
            fprintf(stderr, "cmctl: events: a gap in seq cannot be filled; following without replay\n");
            f->replay_ok = false;
            cJSON_Delete(reply);
            return 0;
        }
        const cJSON *evs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "data"), "events");
        for (const cJSON *e = evs ? evs->child : NULL; e; e = e->next, n++) {
            const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "seq");
            if (!cJSON_IsNumber(seq) || (before > 0 && seq->valuedouble >= (double)before)) {
                n = -1;
                break;
            }
            if (seq->valuedouble > (double)f->last && print_event(f, e, NULL)) {
                cJSON_Delete(reply);
                return 1;
            }
        }
        cJSON_Delete(reply);
        if (n < 1000)
            return 0;
    }
    return 0;
}

/* The caller's tenant, from the first user its listing shows; "+" (every tenant) otherwise. */
static void own_tenant(struct client *c, char *buf, size_t len)
{
    cJSON *data = cJSON_CreateObject(), *reply;
    char *raw = NULL;
    int rc;
    snprintf(buf, len, "+");
    cJSON_AddNumberToObject(data, "pageSize", 1);
    reply = client_call(c, "user.list", data, false, &raw, &rc);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "data"), "data");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "tenantId");
    if (cJSON_IsObject(t))
        t = cJSON_GetObjectItemCaseSensitive(t, "id");
    if (cJSON_IsString(t) && strcmp(t->valuestring, NULL_UUID) != 0)
        snprintf(buf, len, "%s", t->valuestring);
    cJSON_Delete(data);
    cJSON_Delete(reply);
    free(raw);
}

static int follow(struct client *c, const char *tenant_arg, long long after, long long count)
{
    struct follow f = { c, after, count, 0, true };
    char tenant[64], filter[300], err[400], *topic, *payload;
    if (tenant_arg)
        snprintf(tenant, sizeof tenant, "%s", tenant_arg);
    else
        own_tenant(c, tenant, sizeof tenant);
    f.replay_ok = strcmp(tenant, "+") != 0;
    snprintf(filter, sizeof filter, "%s/event/%s/#", client_link_prefix(c->link), tenant);
    if (client_link_subscribe_events(c->link, filter, err, sizeof err)) {
        fprintf(stderr, "cmctl: %s\n", err);
        return EXIT_LINK;
    }
    fprintf(stderr, "cmctl: following %s\n", filter);
    if (after >= 0 && replay(&f, 0))
        return 0;
    for (;;) {
        int got = client_link_next_event(c->link, -1, &topic, &payload);
        if (got < 0) {
            fprintf(stderr, "cmctl: events: the connection to the broker was lost\n");
            return EXIT_LINK;
        }
        cJSON *ev = cJSON_Parse(payload);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
        int done = 0;
        if (cJSON_IsNumber(seq)) {
            long long s = (long long)seq->valuedouble;
            if (f.last >= 0 && s > f.last + 1)
                done = replay(&f, s);
            if (!done && s > f.last)
                done = print_event(&f, ev, payload);
        }
        cJSON_Delete(ev);
        free(topic);
        free(payload);
        if (done)
            return 0;
    }
}

static int long_arg(const char *flag, const char *v, long long *out)
{
    char *end;
    *out = strtoll(v, &end, 10);
    if (end == v || *end || *out < 0) {
        fprintf(stderr, "cmctl: events: %s takes a number from 0, not '%s'\n", flag, v);
        return -1;
    }
    return 0;
}

int cmd_events(struct settings *s, int argc, char **argv)
{
    long long after = -1, limit = 100, count = 0;
    const char *tenant = NULL;
    bool follow_on = false;
    struct client c;
    int rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return usage_events();
        if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0)
            follow_on = true;
        else if (v && strcmp(a, "--after") == 0 && ++i)
            rc = long_arg(a, v, &after);
        else if (v && strcmp(a, "--limit") == 0 && ++i)
            rc = long_arg(a, v, &limit);
        else if (v && strcmp(a, "--count") == 0 && ++i)
            rc = long_arg(a, v, &count);
        else if (v && strcmp(a, "--tenant") == 0 && ++i)
            tenant = v;
        else {
            fprintf(stderr, "cmctl: events: unexpected argument '%s' (cmctl events --help)\n", a);
            return EXIT_USAGE;
        }
        if (rc)
            return EXIT_USAGE;
    }
    if ((rc = client_open(&c, s)) != 0)
        return rc;
    if (follow_on)
        rc = follow(&c, tenant, after, count);
    else {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "afterSeq", (double)(after < 0 ? 0 : after));
        cJSON_AddNumberToObject(data, "limit", (double)limit);
        char *raw = NULL;
        cJSON *reply = client_call(&c, "event.replay", data, false, &raw, &rc);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
        if (reply != NULL && (!cJSON_IsNumber(st) || st->valueint != 200))
            rc = print_error_reply("event.replay", reply);
        else if (reply != NULL && s->json)
            printf("%s\n", raw);
        else if (reply != NULL) {
            const cJSON *evs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "data"), "events");
            for (const cJSON *e = evs ? evs->child : NULL; e; e = e->next)
                render_event(e);
        }
        cJSON_Delete(data);
        cJSON_Delete(reply);
        free(raw);
    }
    client_close(&c);
    return rc;
}
