/* update.h: what every save of a stored record over its old self shares (customer, tenant, user,
 * device, asset, edge, dashboard): the optimistic lock on its version, and ifEqual "skip" (Ditto's
 * if-equal): a save whose fields all equal the stored ones writes nothing, emits no event and
 * answers the stored record with its version. Each record names the fields a client can set in a
 * table of field_spec; one comparison serves them all. */
#ifndef CMAGENT_UPDATE_H
#define CMAGENT_UPDATE_H

#include "cmagent/context.h"

#include <stdbool.h>
#include <stddef.h>

/* How an update treats the stored record (bits). */
enum update_flags {
    UPDATE_CHECK_VERSION = 1u << 0, /* the version given must equal the stored one, else 409 */
    UPDATE_SKIP_EQUAL = 1u << 1,    /* ifEqual "skip": nothing is saved when no field changes */
};

/* A field of a record: a heap string (char *: NULL and "" alike), an id (char[UUID_STR_LEN]: ""
 * and NULL_UUID alike) or an int64_t. */
enum field_kind { FIELD_END = 0, FIELD_TEXT, FIELD_ID, FIELD_INT64 };

struct field_spec {
    enum field_kind kind;
    size_t offset;
};

#define FIELD_TEXT_OF(type, member) { FIELD_TEXT, offsetof(type, member) }
#define FIELD_ID_OF(type, member) { FIELD_ID, offsetof(type, member) }
#define FIELD_INT64_OF(type, member) { FIELD_INT64, offsetof(type, member) }
#define FIELDS_END { FIELD_END, 0 }

/* The eight fields of a struct contact that is member of type (customers and tenants have one). */
#define FIELD_CONTACT_OF(type, member)                                                           \
    FIELD_TEXT_OF(type, member.country), FIELD_TEXT_OF(type, member.state),                      \
        FIELD_TEXT_OF(type, member.city), FIELD_TEXT_OF(type, member.address),                   \
        FIELD_TEXT_OF(type, member.address2), FIELD_TEXT_OF(type, member.zip),                   \
        FIELD_TEXT_OF(type, member.phone), FIELD_TEXT_OF(type, member.email)

/* 409 errorCode 35 "<what> was already changed by someone else" when how checks the version and
 * given is not stored. */
int update_check_version(struct ctx *ctx, unsigned how, int64_t given, int64_t stored, const char *what);

/* Whether the save of next over stored (two records of one type, fields ending with FIELDS_END)
 * is skipped: how has UPDATE_SKIP_EQUAL and no field differs. */
bool update_unchanged(unsigned how, const void *next, const void *stored, const struct field_spec *fields);

#endif
