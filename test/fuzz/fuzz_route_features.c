/* libFuzzer target for policy/route_features: the learned router's features on arbitrary
 * text. Input: byte 0 picks the hash bits and the tools flag, the rest is the text.
 * Properties: never reads past the text or writes past the scratch, every bucket is below
 * 2^bits, every dense cue is finite, and a second run gives the same features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route_features.h"

static struct sl_route_scratch a, b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n == 0) return 0;
  unsigned bits = SL_ROUTE_BITS_MIN + data[0] % (SL_ROUTE_BITS_MAX - SL_ROUTE_BITS_MIN + 1);
  char *t = malloc(n - 1 ? n - 1 : 1); /* exact size: ASan sees any over-read */
  if (!t) return 0;
  memcpy(t, data + 1, n - 1);
  struct sl_route_input in = {t, n - 1, data[0] >> 4, (data[0] & 8) != 0};
  sl_route_features(&in, bits, &a);
  if (a.nidx > SL_ROUTE_IDX_CAP) abort();
  for (uint32_t i = 0; i < a.nidx; i++)
    if (a.idx[i] >= (1u << bits)) abort();
  for (unsigned d = 0; d < SL_ROUTE_DENSE; d++)
    if (!isfinite(a.dense[d])) abort();
  sl_route_features(&in, bits, &b);
  if (a.nidx != b.nidx || memcmp(a.idx, b.idx, a.nidx * sizeof a.idx[0]) != 0 ||
      memcmp(a.dense, b.dense, sizeof a.dense) != 0)
    abort();
  free(t);
  return 0;
}
