/* libFuzzer target for cluster mode's two small formats: the "<ns>:health" pub/sub
 * message (core/cluster_health.h) and the Redis cache tier's value header
 * (core/cluster_cache.h). Input: the bytes (first byte picks the decoder). Properties:
 * the decoders answer 0 or -EINVAL only and never read past the input; a decoded message
 * encodes again and decodes to the same fields; a decoded value's body offset is inside
 * the input, its times ordered, and encoding them again gives the same header. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cluster_cache.h"
#include "core/cluster_health.h"
#include "net/base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n == 0) return 0;
  char *s = malloc(n); /* exactly n bytes: ASan sees any read past them */
  if (!s) return 0;
  memcpy(s, data + 1, n - 1);
  size_t len = n - 1;
  if (data[0] & 1) {
    struct sl_health_msg m, m2;
    int rc = sl_cluster_health_msg_decode(s, len, &m);
    if (rc != 0 && rc != -EINVAL) abort();
    if (rc == 0) {
      char out[1024];
      int k = sl_cluster_health_msg_encode(&m, out, sizeof out);
      if (k < 0 || sl_cluster_health_msg_decode(out, (size_t)k, &m2) != 0) abort();
      if (m.type != m2.type || strcmp(m.dep, m2.dep) || strcmp(m.from, m2.from) ||
          m.remaining_ms != m2.remaining_ms || m.len_ms != m2.len_ms || m.why != m2.why)
        abort();
    }
  } else {
    int64_t a = 0, b = 0;
    size_t off = 0;
    int rc = sl_cluster_cache_value_decode(s, len, &a, &b, &off);
    if (rc != 0 && rc != -EINVAL) abort();
    if (rc == 0) {
      if (off > len || a < 0 || b < a) abort();
      struct sl_buf e = {0};
      if (sl_cluster_cache_value_encode(a, b, s + off, len - off, &e) != 0 || e.n != len || memcmp(e.p, s, len))
        abort();
      sl_buf_free(&e);
    }
  }
  free(s);
  return 0;
}
