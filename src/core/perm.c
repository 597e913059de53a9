/* perm.c: who may do what to which entity. Every core operation asks here after loading its target. */
#include "cmagent/perm.h"

#include <string.h>

int perm_require(struct ctx *ctx, unsigned mask)
{
    if (ctx->who.authority != AUTHORITY_NONE && (mask & AUTH_BIT(ctx->who.authority)))
        return ERR_OK;
    return error_forbidden(&ctx->err);
}

int perm_customer(struct ctx *ctx, enum perm_op op, const struct customer *c)
{
    const struct principal *w = &ctx->who;

    if (w->authority == AUTHORITY_TENANT_ADMIN && strcmp(c->tenant_id, w->tenant_id) == 0)
        return ERR_OK;
    if (w->authority == AUTHORITY_CUSTOMER_USER && op == PERM_READ &&
        strcmp(c->tenant_id, w->tenant_id) == 0 && strcmp(c->id, w->customer_id) == 0)
        return ERR_OK;
    return error_forbidden(&ctx->err);
}

int perm_user(struct ctx *ctx, enum perm_op op, const struct user *t)
{
    const struct principal *w = &ctx->who;

    switch (w->authority) {
    case AUTHORITY_SYS_ADMIN:
        if (t->authority != AUTHORITY_CUSTOMER_USER)
            return ERR_OK;
        break;
    case AUTHORITY_TENANT_ADMIN:
        if (t->authority != AUTHORITY_SYS_ADMIN && strcmp(t->tenant_id, w->tenant_id) == 0)
            return ERR_OK;
        break;
    case AUTHORITY_CUSTOMER_USER:
        if (t->authority == AUTHORITY_CUSTOMER_USER && strcmp(t->tenant_id, w->tenant_id) == 0 &&
            strcmp(t->customer_id, w->customer_id) == 0 &&
            (op == PERM_READ || (op == PERM_WRITE && strcmp(t->id, w->user_id) == 0)))
            return ERR_OK;
        break;
    case AUTHORITY_NONE:
        break;
    }
    return error_forbidden(&ctx->err);
}

int perm_tenant(struct ctx *ctx)
{
    return perm_require(ctx, AUTH_SYS);
}
