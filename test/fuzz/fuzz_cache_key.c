/* libFuzzer target for the cache key's canonicaliser (core/cache_key.h). On any input
 * it must return, never read outside the input (an exact-size heap copy), and when it
 * accepts the input its output must be a fixed point: canonicalising the canonical form
 * again gives the same bytes (keys already sorted, numbers and strings already in their
 * one spelling). sl_cache_key must accept exactly what the canonicaliser accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/cache_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  struct sl_buf a = {0}, b = {0};
  int rc = sl_cache_key_canonical(buf, size, &a);
  uint8_t key[SL_CACHE_KEY_BYTES];
  int krc = sl_cache_key("group", "ns", "chat/completions", buf, size, key);
  if ((rc == 0) != (krc == 0)) __builtin_trap();
  if (rc == 0 && !a.oom) {
    char *copy = malloc(a.n ? a.n : 1);
    if (copy) {
      memcpy(copy, a.p, a.n);
      if (sl_cache_key_canonical(copy, a.n, &b) != 0 || b.n != a.n || memcmp(a.p, b.p, a.n) != 0) __builtin_trap();
      free(copy);
    }
  }
  sl_buf_free(&a);
  sl_buf_free(&b);
  free(buf);
  return 0;
}
