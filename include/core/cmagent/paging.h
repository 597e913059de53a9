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

/* The longest textSearch, in characters (and at most 4 bytes each): every field a listing searches
 * is at most 255 characters long, so a longer search can match nothing, and SQLite refuses LIKE
 * patterns over 50,000 bytes. */
#define PAGING_TEXT_SEARCH_MAX 255

/* Checks pageSize >= 1, page >= 0, pageSize <= max_page_size and page x pageSize <= max_page_offset
 * (core_settings), textSearch's length (400 "textSearch length must be equal or less than 255"),
 * the sortProperty pattern and that the property is in sortable.
 * On success *column is the column to sort by (the entity's id column when no property is given). */
int paging_validate(struct ctx *ctx, const struct page_request *p, const struct sort_column *sortable,
                    const char **column);

/* totalPages = ceil(total / pageSize); hasNext = (page + 1) < totalPages. */
void paging_info(const struct page_request *p, int64_t total, struct page_info *out);

/* The OFFSET of a page, saturated so that huge page numbers cannot overflow. */
int64_t paging_offset(const struct page_request *p);

/* A cursor (pageToken): where a listing sorted by one property stopped. The next page is read
 * with an index range starting there, so its cost does not grow with the depth. */
struct page_cursor {
    char property[32];            /* the sortProperty it was issued for ("id" when none was given) */
    bool descending;
    char last_id[UUID_STR_LEN];   /* the id of the last row returned */
    char *last_value;             /* that row's sort value as text (heap) */
};

/* The column a cursor continues p's order by, from cursorable (the orders an index serves and whose
 * column is never NULL; sortProperty absent means "id"), or NULL when p's order has none. */
const char *paging_cursor_column(const struct page_request *p, const struct sort_column *cursorable);

/* Encodes a cursor as an opaque token (heap). */
char *paging_cursor_encode(const char *property, bool descending, const char *last_id, const char *last_value);

/* The token of the page after the row (id, created_time, text) when p's order continues by column
 * (from paging_cursor_column): its value is created_time for "created_time", id for "id", and text
 * (the row's title or name) for any other column. NULL when column is NULL. */
char *paging_next_token(const struct page_request *p, const char *column, const char *id, int64_t created_time,
                        const char *text);

/* Decodes token into out and checks that it was issued for p's sortProperty and sortOrder.
 * Returns ERR_OK, or ERR_BAD_REQUEST with ctx->err set. The caller releases out. */
int paging_cursor_decode(struct ctx *ctx, const char *token, const struct page_request *p, struct page_cursor *out);
void paging_cursor_release(struct page_cursor *c);

#endif
