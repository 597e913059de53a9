/* mqtt_status.c: the retained status on <prefix>/status/<agent_id>, and the check that no other
 * agent with the same agent_id holds the client id. On every connect the status topic is
 * subscribed first; its retained message tells what the broker had, and only then (or when
 * none came within GUARD_RETAINED_WAIT_MS) is the online status announced, so that the agent
 * that lost the client id finds the winner's status and stops (status_guard.h) instead of taking
 * the client id back. */
#include "transport_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"

#include <stdio.h>
#include <string.h>

/* The status topic could not be subscribed: the check cannot be made, the status is announced
 * at the next tick. */
static void status_unchecked(struct transport *t, const char *why)
{
    log_warn("Subscribing to the status topic %s failed (%s): another agent with agent_id %s would go unnoticed.",
             t->opt.status_topic, why, t->opt.agent_id);
    pthread_mutex_lock(&t->guard_lock);
    guard_subscribed(&t->guard, clock_mono_ms() - GUARD_RETAINED_WAIT_MS);
    pthread_mutex_unlock(&t->guard_lock);
}

static void status_subscribed_ok(void *context, MQTTAsync_successData *resp)
{
    struct transport *t = context;
    if (resp != NULL && resp->alt.qos == 0x80) {
        status_unchecked(t, "SUBACK failure");
        return;
    }
    pthread_mutex_lock(&t->guard_lock);
    guard_subscribed(&t->guard, clock_mono_ms());
    pthread_mutex_unlock(&t->guard_lock);
}

static void status_subscribed_ok5(void *context, MQTTAsync_successData5 *resp)
{
    struct transport *t = context;
    char words[160];
    if (resp != NULL && resp->reasonCode >= 0x80) {
        status_unchecked(t, transport_reason_text(5, resp->reasonCode, words, sizeof words));
        return;
    }
    status_subscribed_ok(context, NULL);
}

static void status_subscribed_fail(void *context, MQTTAsync_failureData *resp)
{
    (void)resp;
    status_unchecked(context, "no SUBACK");
}

static void status_subscribed_fail5(void *context, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    status_unchecked(context, "no SUBACK");
}

/* Every connect: the check starts, and the retained status comes right behind this SUBACK. */
void transport_status_connected(struct transport *t)
{
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    pthread_mutex_lock(&t->guard_lock);
    guard_connected(&t->guard);
    pthread_mutex_unlock(&t->guard_lock);
    ro.context = t;
    PAHO_SET(&ro, t->opt.mqtt_version == 5, status_subscribed);
    int rc = MQTTAsync_subscribe(t->client, t->opt.status_topic, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        status_unchecked(t, MQTTAsync_strerror(rc));
}

void transport_status_lost(struct transport *t)
{
    pthread_mutex_lock(&t->guard_lock);
    guard_lost(&t->guard);
    pthread_mutex_unlock(&t->guard_lock);
}

/* Publishes the online status (the check passed), from whichever thread found it so. */
static void announce(struct transport *t, bool stale_seen, const char *stale)
{
    struct transport_publish_options po = { .qos = 1, .retain = true };
    if (stale_seen)
        log_warn("The retained status on %s named instance %s online when this agent connected: left over from "
                 "an agent that ended without its Last Will, or another agent with agent_id %s is running (then the "
                 "one that connected earlier stops when it reconnects).", t->opt.status_topic, stale, t->opt.agent_id);
    transport_publish_now(t, t->opt.status_topic, t->opt.online_payload, strlen(t->opt.online_payload), &po, false);
}

/* Runs a guard action taken under guard_lock (the lock released). */
static void guard_act(struct transport *t, enum guard_action act, bool stale_seen, bool live, const char *other)
{
    if (act == GUARD_ANNOUNCE) {
        announce(t, stale_seen, other);
    } else if (act == GUARD_TAKEN_OVER && t->failure == TRANSPORT_RUNNING && live) {
        log_error("Another agent with agent_id %s announced itself online on %s (instance %s, this one is %s) with "
                  "another client id; stopping (exit %d): give each agent its own agent_id.", t->opt.agent_id,
                  t->opt.status_topic, other, t->opt.instance, TRANSPORT_TAKEN_OVER);
        t->failure = TRANSPORT_TAKEN_OVER;
    } else if (act == GUARD_TAKEN_OVER && t->failure == TRANSPORT_RUNNING) {
        log_error("Another agent with agent_id %s took over the client id %s (instance %s, this one is %s); stopping "
                  "(exit %d) instead of taking it back in a loop: give each agent its own agent_id.",
                  t->opt.agent_id, t->opt.client_id, other, t->opt.instance, TRANSPORT_TAKEN_OVER);
        t->failure = TRANSPORT_TAKEN_OVER;
    }
}

/* Under guard_lock: what an action needs once the lock is released. */
static enum guard_action guard_take(struct transport *t, enum guard_action act, bool *stale_seen, bool *live,
                                    char *other, size_t len)
{
    *stale_seen = false;
    *live = t->guard.other_live;
    if (act == GUARD_ANNOUNCE) {
        guard_announced(&t->guard);
        *stale_seen = t->guard.stale_seen;
        t->guard.stale_seen = false;
    }
    snprintf(other, len, "%s", t->guard.other);
    return act;
}

void transport_status_message(struct transport *t, const char *payload, size_t len, bool retained)
{
    char other[64];
    bool stale = false, live = false;
    pthread_mutex_lock(&t->guard_lock);
    enum guard_action act = guard_take(t, guard_message(&t->guard, payload, len, retained), &stale, &live, other, sizeof other);
    pthread_mutex_unlock(&t->guard_lock);
    guard_act(t, act, stale, live, other);
}

void transport_status_tick(struct transport *t)
{
    char other[64];
    bool stale = false, live = false;
    pthread_mutex_lock(&t->guard_lock);
    enum guard_action act = guard_take(t, guard_tick(&t->guard, clock_mono_ms()), &stale, &live, other, sizeof other);
    pthread_mutex_unlock(&t->guard_lock);
    guard_act(t, act, stale, live, other);
}
