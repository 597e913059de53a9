/* reply_topic.c: the rules of a reply destination (reply_topic.h): the namespace under
 * <topic_prefix>/reply/ and its binding to the requester. */
#include "cmagent/reply_topic.h"

#include "cmagent/topic.h"

#include <string.h>

const char *reply_topic_refusal(const struct reply_rules *r, const char *topic, size_t len)
{
    size_t plen = strlen(r->prefix);
    static const char reply_level[] = "/reply/";
    const size_t rlen = sizeof reply_level - 1;

    if (len > r->max_bytes && len <= TOPIC_MAX_BYTES)
        return "is longer than max_reply_topic";
    const char *why = topic_name_refusal(topic, len);
    if (why != NULL)
        return why;
    /* The name is valid and has no empty level, so one more byte after P/reply/ is one more level. */
    if (len <= plen + rlen || memcmp(topic, r->prefix, plen) != 0 || memcmp(topic + plen, reply_level, rlen) != 0)
        return "is outside the reply namespace <topic_prefix>/reply/";
    return NULL;
}

const char *reply_topic_binding_refusal(const struct reply_rules *r, const struct principal *who, const char *topic)
{
    (void)r;
    (void)who;
    (void)topic;
    return NULL;
}
