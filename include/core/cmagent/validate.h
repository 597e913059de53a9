/* validate.h: ThingsBoard's field rules shared by every entity: @Length (255 characters),
 * @NoXss, blank and 0x00 checks, and the e-mail pattern. Field-constraint violations are collected,
 * then reported together as "Validation error: a, b" (sorted), as ConstraintValidator does. */
#ifndef CMAGENT_VALIDATE_H
#define CMAGENT_VALIDATE_H

#include "cmagent/context.h"

#include <stdbool.h>
#include <stddef.h>

#define VALIDATE_MAX_VIOLATIONS 32
#define FIELD_MAX_LENGTH 255

struct violations {
    char *items[VALIDATE_MAX_VIOLATIONS];
    size_t n;
};

/* "<label> length must be equal or less than <max>" when value has more than max characters. */
void check_length(struct violations *v, const char *label, const char *value, size_t max);
/* "<label> is malformed" when value holds markup or a {{...}} template (ThingsBoard's NoXss). */
void check_no_xss(struct violations *v, const char *label, const char *value);
/* Both of the above for an optional string field with the default 255 limit. */
void check_field(struct violations *v, const char *label, const char *value);

/* The free-form fields ThingsBoard bounds only by its HTTP request size, bounded here by the
 * settings of ctx (none when it has no settings or the setting is 0):
 * a JSON field (additionalInfo): NoXss, and "<label> of <n> bytes exceeds max_json_field_size of
 * <max> bytes" past that many bytes of compact JSON text; */
void check_free_json(struct violations *v, const struct ctx *ctx, const char *label, const char *json);
/* a text field (address, address2): NoXss, and "<label> length must be equal or less than <max>"
 * past max_text_field_length characters; */
void check_free_text(struct violations *v, const struct ctx *ctx, const char *label, const char *text);
/* a dashboard's configuration: "configuration of <n> bytes exceeds max_dashboard_configuration_size
 * of <max> bytes". */
void check_configuration_size(struct violations *v, const struct ctx *ctx, const char *json);

struct contact;
/* The field constraints of an entity with a title and contact details (ThingsBoard's
 * ContactBased: tenants and customers), in their order: title, country, state, city, address,
 * address2, zip, phone, email, additionalInfo. */
void check_contact_fields(struct violations *v, const struct ctx *ctx, const char *title, const struct contact *k,
                          const char *additional_info);

/* Reports the collected violations as one ERR_BAD_REQUEST and frees them. Returns ERR_OK if none. */
int violations_report(struct ctx *ctx, struct violations *v);

bool is_blank(const char *s);
bool email_is_valid(const char *s);
size_t utf8_length(const char *s);

/* ThingsBoard's validateString: "<what> should be specified!" when value is NULL or blank. (The
 * 0x00 rule is enforced for every string by the api, which rejects \u0000 before parsing.) */
int require_string(struct ctx *ctx, const char *what, const char *value);

#endif
