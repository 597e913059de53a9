/* broker_access.h: who gets which rights on the broker (broker_acl dynsec). The core decides the
 * accounts and their access control lists; api/dynsec.c renders them as mosquitto dynamic-security
 * commands and the agent's broker_sync hands those to the broker. docs/protocol.md "Security
 * model" has the authority table these lists implement. */
#ifndef CMAGENT_BROKER_ACCESS_H
#define CMAGENT_BROKER_ACCESS_H

#include "cmagent/context.h"
#include "cmagent/store_broker.h"

#include <stdbool.h>
#include <stddef.h>

#define BROKER_NAME_MAX 128
#define BROKER_PASSWORD_MAX 64
#define BROKER_ACLS_MAX 24 /* the anonymous role has the most: 11 operations and 6 reads */

/* One entry of a role's access control list, as mosquitto's dynamic security has them. */
struct broker_acl {
    const char *type;              /* "publishClientSend", "publishClientReceive", "subscribePattern", "subscribeLiteral" */
    char topic[384];
    int priority;                  /* higher first */
    bool allow;
};

struct broker_acl_list {
    struct broker_acl items[BROKER_ACLS_MAX];
    size_t n;
};

/* The broker names the agent owns, for topic_prefix P and broker_name_prefix N. */
struct broker_names {
    const char *topic_prefix;      /* P */
    const char *name_prefix;       /* N */
};

/* The broker username of a principal: N u-<userId> for a user's token, N k-<keyId> for an API key.
 * "" for an anonymous one. */
void broker_username(const struct broker_names *names, const struct principal *who, char out[BROKER_NAME_MAX]);

/* The roles every account gets besides its own: "<N>client" (requests, status, the anonymous reply
 * namespace), the anonymous clients' "<N>anon" (also its group) and the agent's "<N>agent". */
void broker_role_name(const struct broker_names *names, const char *which, char out[BROKER_NAME_MAX]);

/* The access control lists of those shared roles. */
void broker_client_acls(const struct broker_names *names, struct broker_acl_list *out);
void broker_anon_acls(const struct broker_names *names, struct broker_acl_list *out);
void broker_agent_acls(const struct broker_names *names, struct broker_acl_list *out);

/* The list of an account's own role (named as the account): its reply namespace and the events its
 * authority may read. */
void broker_account_acls(const struct broker_names *names, const struct broker_state *st, struct broker_acl_list *out);

/* Whether the level after P/reply/ of a reply topic belongs to the caller: its own broker username,
 * or anon/<nonce> (one level of 16 to 128 characters of A-Z a-z 0-9 - _). */
bool broker_reply_level_is_anon(const char *rest);

/* broker.credentials: creates or re-passwords the caller's broker account (for a user's token,
 * the user's; for an API key, the key's) and returns its username and a new random password. The
 * broker hears of it after the commit. 400 when broker_acl is none. */
int broker_credentials(struct ctx *ctx, char username[BROKER_NAME_MAX], char password[BROKER_PASSWORD_MAX]);

#endif
