/* paging.h: ThingsBoard's PageLink rules (protocol §5): validation with its exact messages, the
 * mapping of sortProperty to a column, and the totals of a PageData reply. */
#ifndef CMAGENT_PAGING_H
#define CMAGENT_PAGING_H

#include "cmagent/context.h"

/* A sortable property of an entity and the column it sorts by. Tables end with {NULL, NULL}. */
struct sort_column {
    const char *property;
    const char *column;
};

/* Checks pageSize >= 1, page >= 0, the sortProperty pattern and that the property is in sortable.
 * On success *column is the column to sort by (the entity's id column when no property is given). */
int paging_validate(struct ctx *ctx, const struct page_request *p, const struct sort_column *sortable,
                    const char **column);

/* totalPages = ceil(total / pageSize); hasNext = (page + 1) < totalPages. */
void paging_info(const struct page_request *p, int64_t total, struct page_info *out);

/* The OFFSET of a page, saturated so that huge page numbers cannot overflow. */
int64_t paging_offset(const struct page_request *p);

#endif
