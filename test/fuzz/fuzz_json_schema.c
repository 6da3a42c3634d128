/* libFuzzer target for the JSON-Schema subset validator (net/wire/json_schema.h): the input is
 * a schema and a value, separated by the first newline; both parsed with cJSON and, when both
 * parse, validated (the value against the schema, and each against itself as a schema). On any
 * input: no crash, no read out of bounds, bounded time (the depth and step limits), a result of
 * 0 or -1, and a NUL-terminated reason that is non-empty exactly when the result is -1. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_schema.h"

static void one(const cJSON *s, const cJSON *v) {
  char why[96];
  memset(why, 'x', sizeof why);
  int r = sl_json_schema_validate(s, s, v, why, sizeof why);
  if (r != 0 && r != -1) __builtin_trap();
  if (!memchr(why, 0, sizeof why)) __builtin_trap();
  if ((r == -1) != (why[0] != 0)) __builtin_trap();
  if (sl_json_schema_validate(s, NULL, v, NULL, 0) != r) __builtin_trap(); /* no reason: same answer */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *nl = memchr(data, '\n', size);
  size_t sn = nl ? (size_t)(nl - (const char *)data) : size;
  cJSON *s = cJSON_ParseWithLength((const char *)data, sn);
  cJSON *v = nl ? cJSON_ParseWithLength(nl + 1, size - sn - 1) : NULL;
  if (s && v) one(s, v);
  if (s) one(s, s);
  if (v) one(v, v);
  cJSON_Delete(s);
  cJSON_Delete(v);
  return 0;
}
