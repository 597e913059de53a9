/* paging.c: validation and arithmetic of paged listings. */
#include "cmagent/paging.h"

#include <ctype.h>
#include <string.h>

/* ^[\p{L}0-9_-]+$: letters (any script: UTF-8 bytes >= 0x80 are taken as letters), digits, '_', '-'. */
static bool sort_property_is_valid(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '_' || c == '-' || c >= 0x80))
            return false;
    }
    return true;
}

int paging_validate(struct ctx *ctx, const struct page_request *p, const struct sort_column *sortable,
                    const char **column)
{
    *column = "id";
    if (p->page_size < 1)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "Incorrect page link page size '%lld'. Page size must be greater than zero.",
                         (long long)p->page_size);
    if (p->page < 0)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "Incorrect page link page '%lld'. Page must be positive integer.", (long long)p->page);
    if (p->sort_property == NULL)
        return ERR_OK;
    if (!sort_property_is_valid(p->sort_property))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid sort property");
    for (const struct sort_column *c = sortable; c->property != NULL; c++) {
        if (strcmp(c->property, p->sort_property) == 0) {
            *column = c->column;
            return ERR_OK;
        }
    }
    return error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid sort property '%s'", p->sort_property);
}

void paging_info(const struct page_request *p, int64_t total, struct page_info *out)
{
    out->total_elements = total;
    out->total_pages = p->page_size > 0 ? (total + p->page_size - 1) / p->page_size : 0;
    out->has_next = (p->page + 1) < out->total_pages;
}

int64_t paging_offset(const struct page_request *p)
{
    if (p->page > 0 && p->page_size > INT64_MAX / p->page)
        return INT64_MAX;
    return p->page * p->page_size;
}
