/* libFuzzer target for the bounded-parse pre-scan (net/json_bound.h). The scan must never
 * read out of bounds or allocate, and must never undercount: whenever cJSON builds a tree
 * from the input, the scan's value count and depth are at least the tree's (equal when the
 * input is one JSON text with nothing after it), so a limit the scan lets through bounds
 * the tree. Limits taken from the first two bytes are checked to refuse exactly past them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_bound.h"

static void measure(const cJSON *j, int d, int64_t *n, int *depth) {
  (*n)++;
  if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
    if (d > *depth) *depth = d;
    for (const cJSON *c = j->child; c; c = c->next) measure(c, d + 1, n, depth);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int lim_depth = data[0] % 70 + 1;
  int64_t lim_values = data[1] * 4 + 1;
  const char *p = (const char *)data + 2;
  size_t n = size - 2;
  const struct sl_json_bound none = {.max_depth = 0, .max_values = 0}; /* no limits */
  struct sl_json_bound_seen seen;
  if (sl_json_bound_scan(p, n, &none, &seen) != 0) {
    /* only the scanner's own depth cap can refuse without limits */
    if (seen.depth <= 1000) __builtin_trap();
    return 0;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
  if (j) {
    int64_t values = 0;
    int depth = 0;
    measure(j, 1, &values, &depth);
    if (seen.values < values || seen.depth < depth) __builtin_trap();
    while (end && end < p + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end == p + n && (seen.values != values || seen.depth != depth)) __builtin_trap();
    cJSON_Delete(j);
  }
  const struct sl_json_bound b = {.max_depth = lim_depth, .max_values = lim_values};
  int rc = sl_json_bound_scan(p, n, &b, NULL);
  if (seen.depth > lim_depth) {
    if (rc == 0) __builtin_trap();
  } else if (seen.values > lim_values) {
    if (rc != -E2BIG) __builtin_trap();
  } else if (rc != 0) {
    __builtin_trap();
  }
  return 0;
}
