/* broker_sync.h: keeps mosquitto's dynamic security in step with the database (broker_acl dynsec).
 * Every function but broker_sync_on_response runs on the writer thread, which owns the store.
 * What the database says an account should be (store_broker.h) is told to the broker after the
 * commit that changed it, before that batch's replies go out; the broker's answers are marked in
 * the database; and on every connect and every broker_reconcile_interval the agent re-sends every
 * account and deletes the broker clients of its prefix the database does not know. A crash
 * between a commit and the broker hearing of it is therefore repaired at the next start. */
#ifndef CMAGENT_BROKER_SYNC_H
#define CMAGENT_BROKER_SYNC_H

#include "cmagent/broker_access.h"
#include "cmagent/events.h"
#include "cmagent/store.h"
#include "cmagent/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker_sync;

struct broker_sync *broker_sync_new(const struct broker_names *names, const char *agent_username,
                                    int64_t reconcile_interval_ms, struct store *store, struct transport *t);
void broker_sync_free(struct broker_sync *bs);

/* After a commit: tells the broker what changed (the accounts the database has pending). Called
 * twice. Before the batch's replies (after_replies false) with what must hold when the requester
 * reads its reply: new accounts, disabled and deleted ones. After them (true) with new passwords
 * of accounts the broker has: mosquitto ends an account's sessions when its password changes, and
 * the session that asked must get its reply first. */
void broker_sync_after_commit(struct broker_sync *bs, bool after_replies);

/* Connected (again): the baseline, then a full reconcile. */
void broker_sync_connected(struct broker_sync *bs);

/* Between batches: the periodic reconcile when it is due. Returns ms until it is due. */
int64_t broker_sync_tick(struct broker_sync *bs);

/* paho's thread: a message on the plugin's response topic. Returns true when the writer should
 * call broker_sync_apply(). */
bool broker_sync_on_response(struct broker_sync *bs, const char *payload, size_t len);

/* Marks what the broker confirmed and deletes strays the last listing showed. */
void broker_sync_apply(struct broker_sync *bs);

/* The customer-scoped copies of an event: <prefix>/cevent/<tenantId>/<customerId>/<TYPE>/<EVENT>
 * for every customer it concerns (api_event_customers). QoS 1, not tracked by the outbox. */
void broker_sync_publish_cevents(struct broker_sync *bs, const struct outbox_event *ev);

#endif
