/* update.c: the version check and the ifEqual "skip" comparison that every update shares
 * (update.h). The records differ only in their table of fields. */
#include "cmagent/update.h"

#include <stdint.h>
#include <string.h>

int update_check_version(struct ctx *ctx, unsigned how, int64_t given, int64_t stored, const char *what)
{
    if ((how & UPDATE_CHECK_VERSION) && given != stored)
        return error_set(&ctx->err, ERR_CONFLICT, "%s was already changed by someone else", what);
    return ERR_OK;
}

static bool blank(const char *s) { return s == NULL || *s == '\0'; }

static bool null_id(const char *id) { return id[0] == '\0' || strcmp(id, NULL_UUID) == 0; }

static bool field_same(const struct field_spec *f, const char *a, const char *b)
{
    switch (f->kind) {
    case FIELD_TEXT: {
        const char *x, *y;
        memcpy(&x, a + f->offset, sizeof x);
        memcpy(&y, b + f->offset, sizeof y);
        return blank(x) ? blank(y) : (y != NULL && strcmp(x, y) == 0);
    }
    case FIELD_ID: {
        const char *x = a + f->offset, *y = b + f->offset;
        return null_id(x) ? null_id(y) : strcmp(x, y) == 0;
    }
    case FIELD_INT64: {
        int64_t x, y;
        memcpy(&x, a + f->offset, sizeof x);
        memcpy(&y, b + f->offset, sizeof y);
        return x == y;
    }
    case FIELD_END:
        break;
    }
    return true;
}

bool update_unchanged(unsigned how, const void *next, const void *stored, const struct field_spec *fields)
{
    if (!(how & UPDATE_SKIP_EQUAL))
        return false;
    for (const struct field_spec *f = fields; f->kind != FIELD_END; f++)
        if (!field_same(f, next, stored))
            return false;
    return true;
}
