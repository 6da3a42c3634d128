/* libFuzzer target for policy/duration, the one duration parser. Input: the text.
 * Properties: never reads past the string, answers 0, -EINVAL or -ERANGE only; a
 * success is at most 2^53 ms; the seconds form succeeds exactly when the millisecond
 * form does with a whole, nonzero number of seconds, and agrees with it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, data, n);
  s[n] = 0;
  uint64_t ms = 0;
  int64_t sec = 0;
  int a = sl_policy_duration_parse_ms(s, &ms);
  int b = sl_policy_duration_parse_s(s, &sec);
  if (a != 0 && a != -EINVAL && a != -ERANGE) abort();
  if (b != 0 && b != -EINVAL && b != -ERANGE) abort();
  if (a == 0 && ms > 9007199254740992ull) abort();
  if (b == 0 && (a != 0 || ms == 0 || ms % 1000 || (uint64_t)sec * 1000 != ms)) abort();
  if (a == 0 && ms && ms % 1000 == 0 && b != 0) abort();
  free(s);
  return 0;
}
