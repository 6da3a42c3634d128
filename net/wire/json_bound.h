/* A bounded JSON parse for client bodies. The one idea: before cJSON builds a tree
 * (about 64 bytes per value, so a 16 MiB body of `0,` pairs would cost over 500 MB),
 * a cheap pre-scan over the bytes counts the values and the nesting depth without
 * allocating, and refuses bodies over the limits; only a body within them is parsed.
 * The scan does not validate: malformed text within the limits is left to cJSON.
 * To bound another parse, call sl_json_bound_parse with its own limits. */
#ifndef SL_NET_JSON_BOUND_H
#define SL_NET_JSON_BOUND_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct sl_json_bound {
  int max_depth;       /* deepest nesting of objects/arrays (the top level is depth 1) */
  int64_t max_values;  /* values of every kind (objects, arrays, strings, numbers, literals) */
};

/* What the scan saw (up to the point where it stopped). */
struct sl_json_bound_seen {
  int depth;
  int64_t values;
};

/* Scans buf: 0 within the limits; -E2BIG when it holds more than max_values values;
 * -ELOOP when it nests deeper than max_depth. Allocates nothing. seen may be NULL. */
int sl_json_bound_scan(const char *buf, size_t len, const struct sl_json_bound *b, struct sl_json_bound_seen *seen);

/* Scan, then cJSON_ParseWithLength. 0 with *out set; -E2BIG / -ELOOP from the scan;
 * -EINVAL when cJSON rejects the text (*out NULL). */
int sl_json_bound_parse(const char *buf, size_t len, const struct sl_json_bound *b, cJSON **out);

#endif
