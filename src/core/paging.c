/* paging.c: validation and arithmetic of paged listings. */
#include "cmagent/paging.h"

#include "cmagent/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The bounds of one page's work (core_settings): its size, and how deep an offset page starts,
 * since OFFSET steps over every row before it. page x pageSize is compared by division: both may
 * be as large as 2^53. */
static int page_too_large(struct ctx *ctx, const struct page_request *p)
{
    int64_t max_size = ctx->settings != NULL ? ctx->settings->max_page_size : 0;
    int64_t max_offset = ctx->settings != NULL ? ctx->settings->max_page_offset : 0;

    if (max_size > 0 && p->page_size > max_size)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "Incorrect page link page size '%lld'. Page size must be at most %lld (max_page_size).",
                         (long long)p->page_size, (long long)max_size);
    if (max_offset > 0 && p->page > max_offset / p->page_size)
        return error_set(&ctx->err, ERR_BAD_REQUEST,
                         "Page %lld of size %lld starts deeper than max_page_offset (%lld rows): continue with "
                         "pageToken where the listing offers it, or narrow it with textSearch",
                         (long long)p->page, (long long)p->page_size, (long long)max_offset);
    return ERR_OK;
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
    if (page_too_large(ctx, p) != ERR_OK)
        return ctx->err.kind;
    if (p->text_search != NULL && (utf8_length(p->text_search) > PAGING_TEXT_SEARCH_MAX ||
                                   strlen(p->text_search) > 4 * PAGING_TEXT_SEARCH_MAX))
        return error_set(&ctx->err, ERR_BAD_REQUEST, "textSearch length must be equal or less than %d",
                         PAGING_TEXT_SEARCH_MAX);
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

const char *paging_cursor_column(const struct page_request *p, const struct sort_column *cursorable)
{
    const char *prop = p->sort_property != NULL ? p->sort_property : "id";
    for (const struct sort_column *c = cursorable; c->property != NULL; c++) {
        if (strcmp(c->property, prop) == 0)
            return c->column;
    }
    return NULL;
}

/* The token is the hex of "c1" US property US A|D US last id US last value (US = 0x1f). */
#define CURSOR_SEP '\x1f'

char *paging_cursor_encode(const char *property, bool descending, const char *last_id, const char *last_value)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(property) + strlen(last_id) + strlen(last_value) + 16;
    char *plain = xcalloc(n, 1), *out;
    int len = snprintf(plain, n, "c1%c%s%c%c%c%s%c%s", CURSOR_SEP, property, CURSOR_SEP, descending ? 'D' : 'A',
                       CURSOR_SEP, last_id, CURSOR_SEP, last_value);
    out = xcalloc(2 * (size_t)len + 1, 1);
    for (int i = 0; i < len; i++) {
        out[2 * i] = hex[(unsigned char)plain[i] >> 4];
        out[2 * i + 1] = hex[(unsigned char)plain[i] & 15];
    }
    free(plain);
    return out;
}

char *paging_next_token(const struct page_request *p, const char *column, const char *id, int64_t created_time,
                        const char *text)
{
    char num[32];
    const char *value;

    if (column == NULL)
        return NULL;
    if (strcmp(column, "created_time") == 0) {
        snprintf(num, sizeof num, "%lld", (long long)created_time);
        value = num;
    } else {
        value = strcmp(column, "id") == 0 ? id : text;
    }
    return paging_cursor_encode(p->sort_property != NULL ? p->sort_property : "id", p->descending, id,
                                value != NULL ? value : "");
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int paging_cursor_decode(struct ctx *ctx, const char *token, const struct page_request *p, struct page_cursor *out)
{
    size_t n = strlen(token);
    char *plain = NULL, *field[5];
    const char *want = p->sort_property != NULL ? p->sort_property : "id";
    int rc = ERR_OK;

    memset(out, 0, sizeof *out);
    if (n == 0 || n % 2 != 0 || n > 4096)
        goto bad;
    plain = xcalloc(n / 2 + 1, 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(token[2 * i]), lo = hex_digit(token[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            goto bad;
        plain[i] = (char)(hi << 4 | lo);
    }
    field[0] = plain;
    for (int f = 1; f < 5; f++) {
        char *sep = strchr(field[f - 1], CURSOR_SEP);
        if (sep == NULL)
            goto bad;
        *sep = '\0';
        field[f] = sep + 1;
    }
    if (strcmp(field[0], "c1") != 0 || strlen(field[1]) >= sizeof out->property || strlen(field[3]) != UUID_STR_LEN - 1 ||
        (strcmp(field[2], "A") != 0 && strcmp(field[2], "D") != 0))
        goto bad;
    if (strcmp(field[1], want) != 0 || (field[2][0] == 'D') != p->descending) {
        rc = error_set(&ctx->err, ERR_BAD_REQUEST,
                       "pageToken was issued for sortProperty '%s' %s; repeat them with it",
                       field[1], field[2][0] == 'D' ? "DESC" : "ASC");
        goto out;
    }
    strcpy(out->property, field[1]);
    out->descending = field[2][0] == 'D';
    strcpy(out->last_id, field[3]);
    out->last_value = xstrdup_or_null(field[4]);
    goto out;
bad:
    rc = error_set(&ctx->err, ERR_BAD_REQUEST, "Invalid pageToken");
out:
    free(plain);
    return rc;
}

void paging_cursor_release(struct page_cursor *c)
{
    free(c->last_value);
    c->last_value = NULL;
}
