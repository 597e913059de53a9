/* csv.h: a reader of comma-separated values as RFC 4180 defines them: records end with CRLF or LF,
 * a field may be quoted ("...") and then hold commas, line breaks and doubled quotes ("" is one "),
 * and the last record may end without a line break. A UTF-8 byte order mark before the first
 * record is skipped, and so are lines that are wholly empty (no record has zero fields). What RFC
 * 4180 does not allow is refused with the line it is on: a quote inside an unquoted field, text
 * after a closing quote, a quoted field left open at the end, and a NUL byte. */
#ifndef CMAGENT_CSV_H
#define CMAGENT_CSV_H

#include <stdbool.h>
#include <stddef.h>

/* One record: n fields, each a NUL-terminated heap string (owned by the reader: copy what you keep).
 * index counts records from 0 (the header, when there is one); line is the line it starts on (from 1).
 * Returning false stops the reading, which then returns CSV_STOPPED. */
typedef bool csv_record_fn(void *arg, size_t index, size_t line, char **fields, size_t n);

enum csv_result { CSV_OK = 0, CSV_MALFORMED, CSV_STOPPED };

/* Reads text[0..len) record by record. On CSV_MALFORMED err holds a message naming the line. */
enum csv_result csv_read(const char *text, size_t len, csv_record_fn *fn, void *arg, char *err, size_t errlen);

#endif
