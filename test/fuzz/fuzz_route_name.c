/* libFuzzer target for policy/route_name (RouteLLM's router-<name>-<threshold> model names,
 * straight from clients' bodies). Properties: on success the name is a non-empty slice
 * inside the input after "router-", followed by '-', and the threshold is within -1..1;
 * the answer depends only on the bytes given (no read past n). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n ? n : 1); /* exactly n bytes: ASan catches any read past them */
  if (!s) return 0;
  if (n) memcpy(s, data, n);
  size_t at, len;
  double t;
  if (sl_route_name_routellm(s, n, &at, &len, &t)) {
    if (at != 7 || len == 0 || at + len >= n || s[at + len] != '-' || memcmp(s, "router-", 7)) abort();
    if (!(t >= -1 && t <= 1) || isnan(t)) abort();
  }
  free(s);
  return 0;
}
