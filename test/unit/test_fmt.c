/* Number formatting on every response's path without printf: sl_fmt_u64 (net/base) and
 * the x-sluice-cost value (sl_tenancy_format_cost), checked against printf over edges and
 * a fixed-seed sweep. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/tenancy.h"
#include "net/base/buf.h"

static void u64_like_printf(void) {
  uint64_t edges[] = {0, 1, 9, 10, 99, 100, 999999, 1000000, 4294967295u, 18446744073709551615u};
  char a[32], b[32];
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    size_t n = sl_fmt_u64(edges[i], a);
    snprintf(b, sizeof b, "%" PRIu64, edges[i]);
    CHECK_STR(a, b);
    CHECK(n == strlen(b));
  }
  uint64_t x = 88172645463325252u; /* xorshift, fixed seed */
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t v = x >> (x % 64);
    sl_fmt_u64(v, a);
    snprintf(b, sizeof b, "%" PRIu64, v);
    CHECK_STR(a, b);
  }
}

static void cost_like_printf(void) {
  int64_t edges[] = {0, 1, 999999, 1000000, 1000001, 123456789, INT64_MAX, -1, -1234567};
  char a[32], b[32];
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    sl_tenancy_format_cost(edges[i], a);
    snprintf(b, sizeof b, "%lld.%06lld", (long long)(edges[i] / 1000000), (long long)(edges[i] % 1000000));
    CHECK_STR(a, b);
  }
  sl_tenancy_format_cost(1500, a);
  CHECK_STR(a, "0.001500");
}

/* Percent-decoding: paths keep '+', query strings read it as a space; malformed escapes, a
 * NUL byte and a result that does not fit are refused. */
static void pct_decode(void) {
  char out[16];
  CHECK(sl_pct_decode("a%2Fb+c", 7, false, out, sizeof out) == 5);
  CHECK_STR(out, "a/b+c");
  CHECK(sl_pct_decode("a%2fb+c", 7, true, out, sizeof out) == 5);
  CHECK_STR(out, "a/b c");
  CHECK(sl_pct_decode("", 0, false, out, sizeof out) == 0 && out[0] == 0);
  CHECK(sl_pct_decode("ab%2", 4, false, out, sizeof out) == -1);  /* cut escape */
  CHECK(sl_pct_decode("ab%zz", 5, false, out, sizeof out) == -1); /* not hex */
  CHECK(sl_pct_decode("a%00b", 5, false, out, sizeof out) == -1); /* NUL */
  CHECK(sl_pct_decode("0123456789abcdef", 16, false, out, sizeof out) == -1); /* no room for the NUL */
  CHECK(sl_pct_decode("0123456789abcde", 15, false, out, sizeof out) == 15);
}

int main(void) {
  static const struct check_case cases[] = {
      {"u64_like_printf", u64_like_printf},
      {"cost_like_printf", cost_like_printf},
      {"pct_decode", pct_decode},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
