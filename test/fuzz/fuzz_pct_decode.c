/* libFuzzer target for net/base's percent-decoder (request paths such as /v1/models/{id},
 * and admin query strings). Properties: never writes past outlen; on success the length is
 * at most the input's, the output is NUL-terminated and holds no other NUL, and with '+'
 * kept every '+' of the output was a '+' or a %2B in the input (so plus_space only ever
 * turns '+' into ' '). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  size_t outlen = (size_t)data[0] % 64 + 1; /* the first byte picks the room */
  const char *s = (const char *)data + 1;
  size_t sn = n - 1;
  char *in = malloc(sn ? sn : 1), *a = malloc(outlen), *b = malloc(outlen);
  if (!in || !a || !b) abort();
  if (sn) memcpy(in, s, sn);
  long ka = sl_pct_decode(in, sn, false, a, outlen);
  long kb = sl_pct_decode(in, sn, true, b, outlen);
  if ((ka < 0) != (kb < 0) || ka != kb) abort(); /* '+' changes bytes, never lengths */
  if (ka >= 0) {
    if ((size_t)ka > sn || (size_t)ka >= outlen || a[ka] != 0 || b[kb] != 0) abort();
    if (memchr(a, 0, (size_t)ka)) abort();
    for (long i = 0; i < ka; i++)
      if (a[i] != b[i] && !(a[i] == '+' && b[i] == ' ')) abort();
  }
  free(in);
  free(a);
  free(b);
  return 0;
}
