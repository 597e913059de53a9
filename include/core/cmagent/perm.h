/* perm.h: ThingsBoard CE's permission rules (thingsboard-customers.md §6), checked per entity after
 * the entity is loaded: a missing entity is 404 before any of these, a refusal is 403 errorCode 20. */
#ifndef CMAGENT_PERM_H
#define CMAGENT_PERM_H

#include "cmagent/context.h"

enum perm_op { PERM_READ, PERM_WRITE, PERM_CREATE, PERM_DELETE };

#define AUTH_BIT(a) (1u << (a))
#define AUTH_SYS      AUTH_BIT(AUTHORITY_SYS_ADMIN)
#define AUTH_TENANT   AUTH_BIT(AUTHORITY_TENANT_ADMIN)
#define AUTH_CUSTOMER AUTH_BIT(AUTHORITY_CUSTOMER_USER)
#define AUTH_ANY_USER (AUTH_SYS | AUTH_TENANT | AUTH_CUSTOMER)

/* ERR_OK when the caller's authority is in mask, else 403. */
int perm_require(struct ctx *ctx, unsigned mask);

/* CUSTOMER: the tenant's admin may do anything; a customer user may READ its own customer. */
int perm_customer(struct ctx *ctx, enum perm_op op, const struct customer *c);

/* USER: SYS_ADMIN any user but customer users; TENANT_ADMIN any user of its tenant but system
 * administrators; CUSTOMER_USER reads users of its own customer and writes only itself. */
int perm_user(struct ctx *ctx, enum perm_op op, const struct user *target);

/* TENANT: only the system administrator. */
int perm_tenant(struct ctx *ctx);

#endif
