/* libFuzzer target for policy/route_model: the router model file parser. Input: the file
 * bytes; when the first byte is odd the checksum is rewritten first, so the fuzzer reaches
 * the checks behind it. Properties: parse answers 0 or -EINVAL (never crashes, never reads
 * past n); a parsed model scores a fixed text within [-1, 1], its quantiles are
 * non-decreasing and its cdf stays in [0, 1]. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route_model.h"

static struct sl_route_scratch scratch;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return 0;
  memcpy(b, data, n);
  if (n >= 8 && (b[0] & 1)) {
    b[0] = 'S'; /* keep the magic reachable */
    uint64_t s = sl_route_fnv64(b, n - 8);
    for (int i = 0; i < 8; i++) b[n - 8 + i] = (uint8_t)(s >> (8 * i));
  }
  struct sl_route_model *m = NULL;
  char err[256];
  int rc = sl_route_model_parse(b, n, &m, err, sizeof err);
  if (rc != 0 && rc != -EINVAL && rc != -ENOMEM) abort();
  if (rc == 0) {
    const char *t = "What is 2 + 2?\nA. 3\nB. 4\nAnswer:";
    struct sl_route_input in = {t, strlen(t), 1, false};
    double s = sl_route_model_score(m, &in, &scratch);
    if (!(s >= -1 && s <= 1)) abort();
    double prev = -2;
    for (int i = 0; i <= 20; i++) {
      double q = sl_route_model_quantile(m, i / 20.0);
      if (q < prev) abort();
      prev = q;
      double c = sl_route_model_cdf(m, q);
      if (!(c >= 0 && c <= 1)) abort();
    }
    if (strlen(sl_route_model_id(m)) != 12) abort();
    sl_route_model_free(m);
  } else if (m != NULL) {
    abort();
  }
  free(b);
  return 0;
}
