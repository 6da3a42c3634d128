/* A small scanner over JSON text that finds where a top-level field's value sits,
 * without building a tree. The proxy uses it to rewrite one field (the model name) by
 * splicing byte ranges, so the client's body is forwarded as it came everywhere else. */
#ifndef SL_NET_JSON_SCAN_H
#define SL_NET_JSON_SCAN_H

#include <stddef.h>

/* Finds the value of top-level key `key` in the JSON object in buf. On success stores
 * the value's byte range [*start, *end) (for a string: including its quotes) and
 * returns 0; -ENOENT when absent; -EINVAL when buf is not a well-formed object. */
int sl_json_top_field(const char *buf, size_t len, const char *key, size_t *start, size_t *end);

/* Like sl_json_top_field, but the range covers the whole member (`"key": value`) plus
 * one separating comma, so cutting [*start, *end) out leaves a valid object. */
int sl_json_top_member(const char *buf, size_t len, const char *key, size_t *start, size_t *end);

struct cJSON;
/* The name of a member that appears twice in a parsed object (cJSON keeps every
 * duplicate), or NULL. O(k log k). */
const char *sl_json_duplicate_member(const struct cJSON *obj);

#endif
