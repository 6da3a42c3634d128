/* libFuzzer target for the strict JSON validator (net/wire/json_valid.h) that checks every
 * provider answer: on any input it returns without reading outside the buffer (the input is
 * copied into an exact-size heap block), and whatever it accepts cJSON parses too, to a
 * value of the same type (differential check; cJSON is the more lenient of the two), and
 * the member ranges found in the same pass are those the field scanner (json_scan.h) finds. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_scan.h"
#include "net/wire/json_valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  struct sl_json_member m[2] = {{.key = "usage", .klen = 5}, {.key = "choices", .klen = 7}};
  enum sl_json_type t = sl_json_validate_members(buf, size, m, 2);
  if (t == SL_JSON_OBJECT) {
    for (int k = 0; k < 2; k++) {
      size_t vs, ve;
      int rc = sl_json_top_field(buf, size, m[k].key, &vs, &ve);
      if (m[k].found != (rc == 0)) __builtin_trap();
      if (m[k].found && (m[k].vs != vs || m[k].ve != ve || ve > size)) __builtin_trap();
    }
  }
  if (t != SL_JSON_INVALID && memchr(buf, 0, size) == NULL) {
    cJSON *j = cJSON_ParseWithLength(buf, size);
    if (j) { /* cJSON refuses some valid texts (e.g. nesting past its own limit of 1000) */
      if ((t == SL_JSON_OBJECT) != cJSON_IsObject(j) || (t == SL_JSON_ARRAY) != cJSON_IsArray(j)) __builtin_trap();
      cJSON_Delete(j);
    }
  }
  free(buf);
  return 0;
}
