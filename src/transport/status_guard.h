/* status_guard.h: the check, on the agent's own retained status topic, that no other agent with the
 * same agent_id holds the client id. Pure logic (no paho, no locking: the caller locks). Never
 * included outside src/transport/. */
#ifndef CMAGENT_STATUS_GUARD_H
#define CMAGENT_STATUS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long after the SUBACK of the status topic the guard waits for its retained message before
 * it takes the topic for empty. The broker sends it right behind the SUBACK. */
#define GUARD_RETAINED_WAIT_MS 200

enum guard_phase {
    GUARD_IDLE,       /* not connected */
    GUARD_CHECKING,   /* connected, status topic subscribed, awaiting its retained message */
    GUARD_ANNOUNCED,  /* our online status is published */
};

enum guard_action {
    GUARD_NOTHING,
    GUARD_ANNOUNCE,   /* the check passed: publish the online status now */
    GUARD_TAKEN_OVER, /* another agent holds the client id: stop */
};

struct status_guard {
    const char *instance;       /* ours */
    enum guard_phase phase;
    bool announced_before;      /* a connection of this process announced itself */
    bool subscribed;
    int64_t subscribed_ms;      /* monotonic, when the SUBACK came */
    char other[64];             /* the other instance, for the log (GUARD_TAKEN_OVER) */
    bool other_live;            /* ... announced itself while this one was online (another client id) */
    bool stale_seen;            /* the first connect found another instance online (logged once) */
};

/* A status payload's "state" is "online" and its "instance" (empty when it has none) is copied. */
bool guard_parse(const char *payload, size_t len, char *instance, size_t instance_len);

void guard_init(struct status_guard *g, const char *instance);
void guard_connected(struct status_guard *g);
void guard_subscribed(struct status_guard *g, int64_t now_ms);
void guard_lost(struct status_guard *g);
/* After the caller published the online status on GUARD_ANNOUNCE. */
void guard_announced(struct status_guard *g);

/* A message on the status topic. At connect the retained one tells the state the broker had: on
 * a reconnect, another instance online means it connected in between and took the client id
 * (mosquitto closes the older connection without a DISCONNECT 0x8E); on the first connect it may
 * be left over from an agent that died without its Last Will, so this agent goes on and the
 * other, when alive, stops at its reconnect. After the announcement, another instance announcing
 * itself online is a second agent with the same agent_id and another client id. Messages the
 * session held back from before the connect (not retained) are no evidence and are ignored. */
enum guard_action guard_message(struct status_guard *g, const char *payload, size_t len, bool retained);

/* GUARD_ANNOUNCE when the retained message did not come within GUARD_RETAINED_WAIT_MS. */
enum guard_action guard_tick(struct status_guard *g, int64_t now_ms);

#endif
