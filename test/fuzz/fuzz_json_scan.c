/* libFuzzer target for the top-level field scanner (net/json_scan.h) that the proxy
 * uses to splice the model name: on any input it must return, never read outside the
 * buffer (the input is copied into an exact-size heap block), and when it finds a field
 * the range must lie inside the input and be non-empty. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/json_scan.h"

static void check(const char *buf, size_t len, const char *key) {
  size_t start = (size_t)-1, end = (size_t)-1;
  int rc = sl_json_top_field(buf, len, key, &start, &end);
  if (rc == 0) {
    if (!(start < end && end <= len)) __builtin_trap();
    /* A string value's range includes both quotes. */
    if (buf[start] == '"' && (end - start < 2 || buf[end - 1] != '"')) __builtin_trap();
  } else if (rc != -ENOENT && rc != -EINVAL) {
    __builtin_trap();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  check(buf, size, "model");
  check(buf, size, "stream");
  free(buf);
  return 0;
}
