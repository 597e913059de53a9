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
    char username[BROKER_NAME_MAX];
    if (!r->bound)
        return NULL;
    const char *rest = topic + strlen(r->prefix) + strlen("/reply/"); /* the namespace rule held */
    if (broker_reply_level_is_anon(rest))
        return NULL;
    if (who->authority == AUTHORITY_NONE)
        return "is not <topic_prefix>/reply/anon/<nonce of 16 to 128 characters A-Z a-z 0-9 - _>, where an "
               "anonymous request is answered (broker_acl dynsec)";
    broker_username(&r->names, who, username);
    size_t n = strlen(username);
    if (strncmp(rest, username, n) == 0 && (rest[n] == '\0' || rest[n] == '/'))
        return NULL;
    return "is neither the caller's reply namespace <topic_prefix>/reply/<its broker username>/ nor "
           "<topic_prefix>/reply/anon/<nonce> (broker_acl dynsec)";
}
