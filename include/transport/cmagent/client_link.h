/* client_link.h: a client's MQTT 5 connection to cmagent (what cmctl talks through): a client id
 * and a reply topic of its own (<prefix>/reply/<broker username>/<nonce> with broker credentials,
 * <prefix>/reply/anon/<nonce> for requests without a token and without credentials), one request
 * at a time matched on its Correlation Data, and a queue of event messages. Payloads are text: the
 * caller reads the JSON. */
#ifndef CMAGENT_CLIENT_LINK_H
#define CMAGENT_CLIENT_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct client_link_options {
    const char *broker;            /* tcp://, mqtt://, ssl:// or mqtts:// URI */
    const char *prefix;            /* the agent's topic prefix, "cm/v1" */
    const char *username, *password; /* the broker's credentials, NULL or "" for none */
    const char *cafile, *certfile, *keyfile; /* TLS files, NULL or "" for none */
    double timeout_s;              /* for the connect, the subscriptions and each reply */
    bool insecure;                 /* TLS without verifying the broker's certificate */
};

struct client_link;
/* Connects and subscribes to the reply topics; NULL with err set. */
struct client_link *client_link_open(const struct client_link_options *o, char *err, size_t errlen);
void client_link_close(struct client_link *l);
const char *client_link_prefix(const struct client_link *l);
/* Publishes payload to <prefix>/req/<op> and waits for its reply (on the anon/<nonce> topic when
 * anonymous: a request without a token); returns the reply's text (malloc'd), or NULL with err set. */
char *client_link_request(struct client_link *l, const char *op, const char *payload, bool anonymous, char *err,
                          size_t errlen);
int client_link_subscribe_events(struct client_link *l, const char *filter, char *err, size_t errlen);
/* The next event message, waiting at most timeout_ms (-1: forever): 1 got one, 0 timeout, -1 lost. */
int client_link_next_event(struct client_link *l, int timeout_ms, char **topic, char **payload);

#endif
