/* The pre-scan behind a bounded JSON parse; see json_bound.h. One pass, no allocation:
 * a value is counted where it starts ({, [, a string that is not a member name, or the
 * first byte of a number or literal), depth is tracked with a small stack of container
 * kinds (which tells a member name from a string value), strings are skipped honouring
 * backslash escapes. Text that is not JSON is counted loosely and left to cJSON. */
#include "net/wire/json_bound.h"

#include <errno.h>
#include <stdbool.h>

#define DEPTH_CAP 1024 /* cJSON refuses deeper nesting (CJSON_NESTING_LIMIT 1000) anyway */

/* cJSON skips every byte up to 32 as whitespace: so does the scan, to count as it builds. */
static bool is_space(char c) { return (unsigned char)c <= 32; }

static bool is_delim(char c) {
  return is_space(c) || c == ',' || c == ':' || c == '{' || c == '}' || c == '[' || c == ']' || c == '"';
}

int sl_json_bound_scan(const char *buf, size_t len, const struct sl_json_bound *b, struct sl_json_bound_seen *seen) {
  char stack[DEPTH_CAP];
  int max_depth = b->max_depth > 0 && b->max_depth < DEPTH_CAP ? b->max_depth : DEPTH_CAP;
  int64_t max_values = b->max_values > 0 ? b->max_values : INT64_MAX;
  int depth = 0, deepest = 0, rc = 0;
  int64_t values = 0;
  bool want_key = false; /* the next string is a member name */
  for (size_t i = 0; i < len && !rc; i++) {
    char c = buf[i];
    if (is_space(c)) continue;
    switch (c) {
    case ':':
      continue;
    case ',':
      want_key = depth > 0 && stack[depth - 1] == '{';
      continue;
    case '}':
    case ']':
      if (depth > 0) depth--;
      want_key = false;
      continue;
    case '{':
    case '[':
      values++;
      if (depth == max_depth) {
        deepest = depth + 1;
        rc = -ELOOP;
        break;
      }
      stack[depth++] = c;
      if (depth > deepest) deepest = depth;
      want_key = c == '{';
      break;
    case '"':
      if (!want_key) values++;
      want_key = false;
      for (i++; i < len && buf[i] != '"'; i++)
        if (buf[i] == '\\') i++;
      break;
    default: /* a number or literal (or garbage, which cJSON will refuse) */
      values++;
      want_key = false;
      while (i + 1 < len && !is_delim(buf[i + 1])) i++;
    }
    if (!rc && values > max_values) rc = -E2BIG;
  }
  if (seen) *seen = (struct sl_json_bound_seen){.depth = deepest, .values = values};
  return rc;
}

int sl_json_bound_parse(const char *buf, size_t len, const struct sl_json_bound *b, cJSON **out) {
  *out = NULL;
  int rc = sl_json_bound_scan(buf, len, b, NULL);
  if (rc) return rc;
  *out = cJSON_ParseWithLength(buf, len);
  return *out ? 0 : -EINVAL;
}
