/* libFuzzer target for the strict JSON validator (net/wire/json_valid.h) that checks every
 * provider answer: on any input it returns without reading outside the buffer (the input is
 * copied into an exact-size heap block), and whatever it accepts cJSON parses too, to a
 * value of the same type (differential check; cJSON is the more lenient of the two). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  enum sl_json_type t = sl_json_validate(buf, size);
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
