/* dynsec.h: mosquitto's dynamic-security plugin in JSON (the api layer's renderer of what
 * broker_access.h decides): the commands the agent publishes on $CONTROL/dynamic-security/v1, the
 * replies it reads on .../response, and the plugin's first configuration file. */
#ifndef CMAGENT_DYNSEC_H
#define CMAGENT_DYNSEC_H

#include "cmagent/broker_access.h"

#include <stdbool.h>
#include <stddef.h>

#define DYNSEC_TOPIC "$CONTROL/dynamic-security/v1"
#define DYNSEC_RESPONSE_TOPIC "$CONTROL/dynamic-security/v1/response"

/* Commands gathered for one publish. */
struct dynsec_batch;

struct dynsec_batch *dynsec_batch_new(void);
void dynsec_batch_free(struct dynsec_batch *b);
size_t dynsec_batch_size(const struct dynsec_batch *b);   /* commands gathered */
/* The gathered commands as {"commands":[...]} (heap), and an empty batch again; NULL when empty. */
char *dynsec_batch_take(struct dynsec_batch *b);

/* The shared roles, the anonymous group's role and the agent's role on its own client. Idempotent:
 * what already exists answers an error the agent ignores, and changes nothing. */
void dynsec_batch_baseline(struct dynsec_batch *b, const struct broker_names *names, const char *agent_username);

/* Makes the broker client of st what its presence says (store_broker.h): present (its role with
 * its rights, created with password or, when none is given, a random one nobody knows; given
 * password, or with st->rotate a random one; enabled), disabled (which ends its sessions), or
 * deleted (the same). The command that tells the outcome carries correlation. */
void dynsec_batch_account(struct dynsec_batch *b, const struct broker_names *names, const struct broker_state *st,
                          const char *password, const char *correlation);

/* Deletes a client and its role (a client of the agent's prefix the database does not know). */
void dynsec_batch_delete(struct dynsec_batch *b, const char *username, const char *correlation);

/* Lists every client (the response's clients). */
void dynsec_batch_list_clients(struct dynsec_batch *b, const char *correlation);

/* One response of a reply: its command, its error (NULL: it succeeded), its correlation (or NULL),
 * and for listClients the usernames. */
typedef void dynsec_response_fn(void *arg, const char *command, const char *error, const char *correlation,
                                const char *const *clients, size_t nclients);

/* Calls fn for every response in a reply. Returns 0, or -1 when it is not a reply. */
int dynsec_parse(const char *payload, size_t len, dynsec_response_fn *fn, void *arg);

/* The plugin's first configuration (plugin_opt_config_file): the agent's client with the plugin's
 * admin role and its own, the baseline above, the anonymous group set, every default access denied
 * but unsubscribing, and nothing else (heap JSON). */
char *dynsec_initial_config(const struct broker_names *names, const char *agent_username, const char *agent_password);

#endif
