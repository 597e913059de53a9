/* broker_sync.c: the database's broker accounts told to mosquitto's dynamic security
 * (broker_sync.h). The correlation of the command that tells an account's outcome is
 * "a <version> <p|d|x> <username>" (present, disabled, absent): its success, or for a disabled or
 * absent account a "not found", marks that version applied. */
#include "cmagent/broker_sync.h"

#include "cmagent/api.h"
#include "cmagent/clock.h"
#include "cmagent/dynsec.h"
#include "cmagent/log.h"
#include "cmagent/model.h"
#include "cmagent/store_broker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCOUNTS_PER_QUERY 200
#define ACCOUNTS_PER_PUBLISH 50
#define RESEND_AFTER_MS 10000 /* an unanswered command is sent again after this long */
#define CEVENT_CUSTOMERS_MAX 64

struct sent {
    char username[BROKER_NAME_MAX];
    int64_t version;
    int64_t at_ms;
};

struct confirmed {
    char username[BROKER_NAME_MAX];
    int64_t version;
    bool absent;
};

struct broker_sync {
    struct broker_names names;
    char topic_prefix[256], name_prefix[64], agent_username[BROKER_NAME_MAX];
    int64_t interval_ms, next_reconcile_ms;
    struct store *store;
    struct transport *t;
    struct sent *sent;             /* writer: commands sent and not yet answered */
    size_t nsent, sent_cap;
    pthread_mutex_t lock;          /* guards what the responses bring */
    struct confirmed *confirmed;
    size_t nconfirmed, confirmed_cap;
    char (*listed)[BROKER_NAME_MAX];
    size_t nlisted;
    bool have_listing;
};

struct broker_sync *broker_sync_new(const struct broker_names *names, const char *agent_username,
                                    int64_t reconcile_interval_ms, struct store *store, struct transport *t)
{
    struct broker_sync *bs = xcalloc(1, sizeof *bs);
    snprintf(bs->topic_prefix, sizeof bs->topic_prefix, "%s", names->topic_prefix);
    snprintf(bs->name_prefix, sizeof bs->name_prefix, "%s", names->name_prefix);
    snprintf(bs->agent_username, sizeof bs->agent_username, "%s", agent_username);
    bs->names.topic_prefix = bs->topic_prefix;
    bs->names.name_prefix = bs->name_prefix;
    bs->interval_ms = reconcile_interval_ms;
    bs->next_reconcile_ms = clock_mono_ms() + reconcile_interval_ms;
    bs->store = store;
    bs->t = t;
    pthread_mutex_init(&bs->lock, NULL);
    return bs;
}

void broker_sync_free(struct broker_sync *bs)
{
    if (bs == NULL)
        return;
    pthread_mutex_destroy(&bs->lock);
    free(bs->sent);
    free(bs->confirmed);
    free(bs->listed);
    free(bs);
}

static void publish_batch(struct broker_sync *bs, struct dynsec_batch *b)
{
    char *text = dynsec_batch_take(b);
    if (text == NULL)
        return;
    const struct transport_publish_options qos1 = {.qos = 1};
    if (transport_publish(bs->t, DYNSEC_TOPIC, text, strlen(text), &qos1) != 0)
        log_warn("Publishing to %s failed; the broker is told at the next reconcile.", DYNSEC_TOPIC);
    free(text);
}

static struct sent *find_sent(struct broker_sync *bs, const char *username)
{
    for (size_t i = 0; i < bs->nsent; i++)
        if (strcmp(bs->sent[i].username, username) == 0)
            return &bs->sent[i];
    return NULL;
}

/* Records that version of username was sent now. */
static void note_sent(struct broker_sync *bs, const char *username, int64_t version)
{
    struct sent *s = find_sent(bs, username);
    if (s == NULL) {
        if (bs->nsent == bs->sent_cap) {
            bs->sent_cap = bs->sent_cap ? bs->sent_cap * 2 : 64;
            bs->sent = xrealloc(bs->sent, bs->sent_cap * sizeof *bs->sent);
        }
        s = &bs->sent[bs->nsent++];
        snprintf(s->username, sizeof s->username, "%s", username);
    }
    s->version = version;
    s->at_ms = clock_mono_ms();
}

static void forget_sent(struct broker_sync *bs, const char *username, int64_t version)
{
    struct sent *s = find_sent(bs, username);
    if (s == NULL || s->version > version)
        return;
    *s = bs->sent[--bs->nsent];
}

static void add_account(struct broker_sync *bs, struct dynsec_batch *b, const struct broker_state *st)
{
    char corr[BROKER_NAME_MAX + 48];
    const char p = st->presence == BROKER_PRESENT ? 'p' : st->presence == BROKER_DISABLED ? 'd' : 'x';
    snprintf(corr, sizeof corr, "a %lld %c %s", (long long)st->version, p, st->username);
    dynsec_batch_account(b, &bs->names, st, st->password, corr);
    note_sent(bs, st->username, st->version);
}

/* Whether a pending account's change ends its sessions (a new password of an existing client). */
static bool ends_sessions(const struct broker_state *st)
{
    return st->presence == BROKER_PRESENT && st->applied > 0 && (st->password != NULL || st->rotate);
}

enum which { PENDING_BEFORE_REPLIES, PENDING_AFTER_REPLIES, EVERY_ACCOUNT };

/* Sends the accounts of the database: the pending ones of a phase (skipping those sent lately), or all. */
static void send_accounts(struct broker_sync *bs, enum which which)
{
    bool pending_only = which != EVERY_ACCOUNT;
    struct dynsec_batch *b = dynsec_batch_new();
    char after[BROKER_NAME_MAX] = "";
    size_t accounts = 0;
    int64_t now_mono = clock_mono_ms();

    for (;;) {
        struct broker_state *v = NULL;
        size_t n = 0;
        if (store_broker_states(bs->store, pending_only, after, ACCOUNTS_PER_QUERY, clock_now_ms(), &v, &n) != STORE_OK) {
            log_error("Reading the broker accounts failed: %s", store_errmsg(bs->store));
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct sent *s = find_sent(bs, v[i].username);
            if (pending_only && s != NULL && s->version >= v[i].version && now_mono - s->at_ms < RESEND_AFTER_MS)
                continue;
            if (pending_only && ends_sessions(&v[i]) != (which == PENDING_AFTER_REPLIES))
                continue;
            add_account(bs, b, &v[i]);
            if (++accounts % ACCOUNTS_PER_PUBLISH == 0)
                publish_batch(bs, b);
        }
        if (n > 0)
            snprintf(after, sizeof after, "%s", v[n - 1].username);
        broker_states_free(v, n);
        if (n < ACCOUNTS_PER_QUERY)
            break;
    }
    publish_batch(bs, b);
    dynsec_batch_free(b);
    if (accounts > 0)
        log_debug("Told the broker about %zu accounts%s.", accounts, pending_only ? " that changed" : "");
}

void broker_sync_after_commit(struct broker_sync *bs, bool after_replies)
{
    send_accounts(bs, after_replies ? PENDING_AFTER_REPLIES : PENDING_BEFORE_REPLIES);
}

static void reconcile(struct broker_sync *bs)
{
    struct dynsec_batch *b = dynsec_batch_new();
    dynsec_batch_list_clients(b, "list");
    publish_batch(bs, b);
    dynsec_batch_free(b);
    send_accounts(bs, EVERY_ACCOUNT);
    bs->next_reconcile_ms = clock_mono_ms() + bs->interval_ms;
}

void broker_sync_connected(struct broker_sync *bs)
{
    struct dynsec_batch *b = dynsec_batch_new();
    dynsec_batch_baseline(b, &bs->names, bs->agent_username);
    publish_batch(bs, b);
    dynsec_batch_free(b);
    bs->nsent = 0;
    reconcile(bs);
}

int64_t broker_sync_tick(struct broker_sync *bs)
{
    int64_t left = bs->next_reconcile_ms - clock_mono_ms();
    if (left > 0)
        return left;
    reconcile(bs);
    return bs->interval_ms;
}

/* ---- responses (paho's thread) ---- */

static void on_one_response(void *arg, const char *command, const char *error, const char *correlation,
                            const char *const *clients, size_t nclients)
{
    struct broker_sync *bs = arg;
    long long version = 0;
    char presence = 0, username[BROKER_NAME_MAX];

    if (correlation != NULL && strcmp(command, "listClients") == 0 && strcmp(correlation, "list") == 0) {
        if (error != NULL) {
            log_warn("The broker refused to list its clients: %s.", error);
            return;
        }
        bs->listed = xrealloc(bs->listed, (nclients ? nclients : 1) * sizeof *bs->listed);
        for (size_t i = 0; i < nclients; i++)
            snprintf(bs->listed[i], sizeof bs->listed[i], "%s", clients[i]);
        bs->nlisted = nclients;
        bs->have_listing = true;
        return;
    }
    if (correlation == NULL || sscanf(correlation, "a %lld %c %127s", &version, &presence, username) != 3)
        return;
    bool ok = error == NULL || (presence != 'p' && strcasestr(error, "not found") != NULL);
    if (!ok) {
        log_warn("The broker refused %s for %s: %s; trying again at the next reconcile.", command, username, error);
        return;
    }
    if (bs->nconfirmed == bs->confirmed_cap) {
        bs->confirmed_cap = bs->confirmed_cap ? bs->confirmed_cap * 2 : 64;
        bs->confirmed = xrealloc(bs->confirmed, bs->confirmed_cap * sizeof *bs->confirmed);
    }
    struct confirmed *c = &bs->confirmed[bs->nconfirmed++];
    snprintf(c->username, sizeof c->username, "%s", username);
    c->version = version;
    c->absent = presence == 'x';
}

bool broker_sync_on_response(struct broker_sync *bs, const char *payload, size_t len)
{
    pthread_mutex_lock(&bs->lock);
    int rc = dynsec_parse(payload, len, on_one_response, bs);
    bool wake = bs->nconfirmed > 0 || bs->have_listing;
    pthread_mutex_unlock(&bs->lock);
    if (rc != 0)
        log_warn("An unreadable message on %s.", DYNSEC_RESPONSE_TOPIC);
    return wake;
}

/* ---- the writer applies them ---- */

/* A listed client that is an account of ours (<N>u-... or <N>k-...). */
static bool ours(const struct broker_sync *bs, const char *username)
{
    size_t n = strlen(bs->name_prefix);
    return strncmp(username, bs->name_prefix, n) == 0 &&
           (strncmp(username + n, "u-", 2) == 0 || strncmp(username + n, "k-", 2) == 0);
}

static void delete_strays(struct broker_sync *bs, char (*listed)[BROKER_NAME_MAX], size_t n)
{
    struct dynsec_batch *b = dynsec_batch_new();
    size_t strays = 0;
    for (size_t i = 0; i < n; i++) {
        bool exists = true;
        if (!ours(bs, listed[i]) || store_broker_exists(bs->store, listed[i], &exists) != STORE_OK || exists)
            continue;
        log_warn("Broker client %s has no account in the database: deleting it.", listed[i]);
        dynsec_batch_delete(b, listed[i], NULL);
        strays++;
    }
    publish_batch(bs, b);
    dynsec_batch_free(b);
    if (strays > 0)
        log_info("Reconcile: deleted %zu broker clients the database does not know.", strays);
}

void broker_sync_apply(struct broker_sync *bs)
{
    pthread_mutex_lock(&bs->lock);
    struct confirmed *c = bs->confirmed;
    size_t n = bs->nconfirmed;
    char (*listed)[BROKER_NAME_MAX] = bs->have_listing ? bs->listed : NULL;
    size_t nlisted = bs->nlisted;
    bs->confirmed = NULL;
    bs->nconfirmed = bs->confirmed_cap = 0;
    if (bs->have_listing) {
        bs->listed = NULL;
        bs->nlisted = 0;
        bs->have_listing = false;
    }
    pthread_mutex_unlock(&bs->lock);

    if (n > 0) {
        int rc = store_begin_unsynced(bs->store);
        for (size_t i = 0; i < n && rc == STORE_OK; i++)
            rc = store_broker_applied(bs->store, c[i].username, c[i].version, c[i].absent);
        if (rc == STORE_OK)
            rc = store_commit(bs->store);
        if (rc != STORE_OK) {
            log_warn("Marking broker accounts applied failed (%s); they are sent again.", store_errmsg(bs->store));
            store_rollback(bs->store);
        } else {
            for (size_t i = 0; i < n; i++)
                forget_sent(bs, c[i].username, c[i].version);
        }
    }
    if (listed != NULL)
        delete_strays(bs, listed, nlisted);
    free(c);
    free(listed);
}

void broker_sync_publish_cevents(struct broker_sync *bs, const struct outbox_event *ev)
{
    char ids[CEVENT_CUSTOMERS_MAX][UUID_STR_LEN], topic[1024];
    const struct transport_publish_options qos1 = {.qos = 1};
    size_t n = api_event_customers(ev->payload, ids, CEVENT_CUSTOMERS_MAX);
    for (size_t i = 0; i < n; i++) {
        snprintf(topic, sizeof topic, "%s/cevent/%s/%s/%s/%s", bs->topic_prefix, ev->tenant_id, ids[i],
                 ev->entity_type, ev->event_type);
        transport_publish(bs->t, topic, ev->payload, strlen(ev->payload), &qos1);
    }
}
