/* A strict JSON validator that allocates nothing. The one idea: to know that a provider's
 * answer is well-formed JSON of the right shape, sluice need not build a tree (cJSON costs
 * a malloc per value, and a whole-body parse was the largest cost of a small proxied
 * request); one pass over the bytes with a fixed stack of containers says yes or no, and
 * sl_json_top_field (json_scan.h) then finds the member that must be there.
 * Grammar: RFC 8259 (no comments, no trailing commas, no leading zeros, no bare control
 * characters in strings, \u escapes of four hex digits); surrounding whitespace allowed.
 * UTF-8 is not checked (cJSON, used elsewhere, does not check it either). */
#ifndef SL_NET_WIRE_JSON_VALID_H
#define SL_NET_WIRE_JSON_VALID_H

#include <stddef.h>

enum sl_json_type { SL_JSON_INVALID = 0, SL_JSON_OBJECT, SL_JSON_ARRAY, SL_JSON_STRING, SL_JSON_NUMBER, SL_JSON_LITERAL };

/* Nesting deeper than this is refused (SL_JSON_INVALID). */
#define SL_JSON_VALID_MAX_DEPTH 512

/* The type of the one value buf holds, or SL_JSON_INVALID when buf is not exactly one
 * well-formed JSON value (with optional whitespace around it). */
enum sl_json_type sl_json_validate(const char *buf, size_t len);

/* A top-level member to find while validating: key (plain ASCII, no escapes) in, and on
 * return found with the value's byte range [vs, ve) (a string's includes its quotes). A
 * key that appears twice reports its first value, as cJSON's lookup does. */
struct sl_json_member {
  const char *key;
  size_t klen;
  int found;
  size_t vs, ve;
};

/* sl_json_validate, and in the same pass the ranges of the members asked for when the
 * value is an object. One walk over the bytes instead of one per member. */
enum sl_json_type sl_json_validate_members(const char *buf, size_t len, struct sl_json_member *m, size_t nm);

#endif
