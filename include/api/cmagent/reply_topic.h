/* reply_topic.h: where the agent may publish a request's reply (docs/protocol.md "Reply
 * destinations"). The destination a request names, its MQTT 5 Response Topic or, without one, the
 * envelope's replyTo, is checked by reply_topic_refusal() (the namespace rule, for every request
 * and every broker) and then by reply_topic_binding_refusal() (which requester may be answered
 * there). A request whose destination either refuses is not applied and nothing is published for
 * it: a reply the broker refuses would cost the agent its connection, and one outside the namespace
 * would land on a topic that others read (events, status, another client's replies). */
#ifndef CMAGENT_REPLY_TOPIC_H
#define CMAGENT_REPLY_TOPIC_H

#include "cmagent/broker_access.h"
#include "cmagent/context.h"

#include <stddef.h>

struct reply_rules {
    const char *prefix;           /* topic_prefix P, a valid topic name of its own */
    size_t max_bytes;             /* max_reply_topic, at most TOPIC_MAX_BYTES */
    bool bound;                   /* broker_acl dynsec: the level after P/reply/ names who may read */
    struct broker_names names;    /* with bound: how a principal's broker username is made */
};

/* The namespace rule: a destination is accepted when it is a topic name the broker takes from a
 * publisher (topic.h: UTF-8 without overlong forms, surrogates or U+0000, no control character
 * U+0001-U+001F / U+007F-U+009F, no non-character, no + or #, no leading '$', no empty level, at
 * most 65535 bytes), at most r->max_bytes long, and starts with "P/reply/" followed by at least one
 * level. topic[0..len) need not be NUL-terminated and may hold NUL bytes. Returns NULL when it is
 * accepted, else the reason, a phrase that follows the topic in a log line ("is outside the reply
 * namespace <topic_prefix>/reply/"). */
const char *reply_topic_refusal(const struct reply_rules *r, const char *topic, size_t len);

/* The binding rule, checked after the namespace rule and after authentication, before anything of
 * the request runs: whether who (AUTHORITY_NONE for an anonymous request, a failed authentication
 * or a request that was never handled) may be answered on topic. Returns NULL when it may, else the
 * reason, as reply_topic_refusal() does.
 *
 * With broker_acl none (r->bound false) the broker does not keep a client to its own reply topics
 * (any client may subscribe to P/reply/#), so no level of the namespace belongs to a principal and
 * every destination the namespace rule accepted may be answered: this returns NULL.
 * With broker_acl dynsec the broker lets each account read P/reply/<its username>/# only, and
 * anybody read P/reply/anon/<nonce> for the nonces it knows. So an authenticated request is
 * answered under P/reply/<its broker username>/ (broker_access.h) or on P/reply/anon/<nonce>, an
 * anonymous one (or one whose authentication failed) only on P/reply/anon/<nonce>: nobody can have
 * a reply of theirs delivered into another's namespace. */
const char *reply_topic_binding_refusal(const struct reply_rules *r, const struct principal *who, const char *topic);

#endif
