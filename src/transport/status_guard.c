/* status_guard.c: two agents with one agent_id share one client id and so one MQTT session, and
 * take it from each other in a loop: the broker closes the older connection, that agent
 * reconnects and closes the newer one. Each agent process has an instance id in its retained
 * status; this module reads what arrives on the status topic and decides, at each connect,
 * whether another instance holds the client id (see status_guard.h for the rules). */
#include "status_guard.h"

#include <ctype.h>
#include <string.h>

/* The string value of "key" in a flat JSON object ("" when absent or not a plain string). */
static void member(const char *p, size_t len, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (size_t i = 0; i + klen + 2 < len; i++) {
        if (p[i] != '"' || strncmp(p + i + 1, key, klen) != 0 || p[i + 1 + klen] != '"')
            continue;
        size_t j = i + klen + 2;
        while (j < len && isspace((unsigned char)p[j]))
            j++;
        if (j >= len || p[j] != ':')
            continue;
        j++;
        while (j < len && isspace((unsigned char)p[j]))
            j++;
        if (j >= len || p[j] != '"')
            continue;
        size_t n = 0;
        for (j++; j < len && p[j] != '"' && p[j] != '\\' && n + 1 < outlen; j++)
            out[n++] = p[j];
        out[n] = '\0';
        return;
    }
}

bool guard_parse(const char *payload, size_t len, char *instance, size_t instance_len)
{
    char state[16];
    member(payload, len, "state", state, sizeof state);
    member(payload, len, "instance", instance, instance_len);
    return strcmp(state, "online") == 0;
}

void guard_init(struct status_guard *g, const char *instance)
{
    memset(g, 0, sizeof *g);
    g->instance = instance != NULL ? instance : "";
}

void guard_connected(struct status_guard *g)
{
    g->phase = GUARD_CHECKING;
    g->subscribed = false;
}

void guard_subscribed(struct status_guard *g, int64_t now_ms)
{
    g->subscribed = true;
    g->subscribed_ms = now_ms;
}

void guard_lost(struct status_guard *g)
{
    g->phase = GUARD_IDLE;
}

void guard_announced(struct status_guard *g)
{
    g->phase = GUARD_ANNOUNCED;
    g->announced_before = true;
}

enum guard_action guard_message(struct status_guard *g, const char *payload, size_t len, bool retained)
{
    char instance[64];
    bool online = guard_parse(payload, len, instance, sizeof instance);
    bool other = online && strcmp(instance, g->instance) != 0;

    if (g->phase == GUARD_CHECKING) {
        if (!retained)
            return GUARD_NOTHING;
        if (other && g->announced_before) {
            strcpy(g->other, instance[0] != '\0' ? instance : "without an instance id");
            return GUARD_TAKEN_OVER;
        }
        if (other) {
            g->stale_seen = true;
            strcpy(g->other, instance[0] != '\0' ? instance : "without an instance id");
        }
        return GUARD_ANNOUNCE;
    }
    if (g->phase == GUARD_ANNOUNCED && !retained && other) {
        g->other_live = true;
        strcpy(g->other, instance[0] != '\0' ? instance : "without an instance id");
        return GUARD_TAKEN_OVER;
    }
    return GUARD_NOTHING;
}

enum guard_action guard_tick(struct status_guard *g, int64_t now_ms)
{
    if (g->phase == GUARD_CHECKING && g->subscribed && now_ms - g->subscribed_ms >= GUARD_RETAINED_WAIT_MS)
        return GUARD_ANNOUNCE;
    return GUARD_NOTHING;
}
