/* policy/duration: the one duration parser (config timeouts, hedge delays, budget
 * periods, key lifetimes). */
#include <errno.h>

#include "check.h"
#include "policy/duration.h"

static void units(void) {
  uint64_t ms;
  CHECK(sl_policy_duration_parse_ms("500ms", &ms) == 0 && ms == 500);
  CHECK(sl_policy_duration_parse_ms("10", &ms) == 0 && ms == 10000);
  CHECK(sl_policy_duration_parse_ms("10s", &ms) == 0 && ms == 10000);
  CHECK(sl_policy_duration_parse_ms("1.5s", &ms) == 0 && ms == 1500);
  CHECK(sl_policy_duration_parse_ms("2m", &ms) == 0 && ms == 120000);
  CHECK(sl_policy_duration_parse_ms("2min", &ms) == 0 && ms == 120000);
  CHECK(sl_policy_duration_parse_ms("1h", &ms) == 0 && ms == 3600000);
  CHECK(sl_policy_duration_parse_ms("30d", &ms) == 0 && ms == 30ull * 86400000);
  CHECK(sl_policy_duration_parse_ms("1w", &ms) == 0 && ms == 7ull * 86400000);
  CHECK(sl_policy_duration_parse_ms("1mo", &ms) == 0 && ms == 30ull * 86400000);
  CHECK(sl_policy_duration_parse_ms("10 s", &ms) == 0 && ms == 10000);
  CHECK(sl_policy_duration_parse_ms("1e3ms", &ms) == 0 && ms == 1000);
  CHECK(sl_policy_duration_parse_ms("1_000ms", &ms) == 0 && ms == 1000);
  CHECK(sl_policy_duration_parse_ms("0", &ms) == 0 && ms == 0);
}

static void refusals(void) {
  uint64_t ms = 7;
  const char *bad[] = {"30x", "", "s", "-1s", "10S", "1m30s", "1d ", "0x10s", "1..5s", "_1s", "1_s", "nan", "inf",
                       "1e", "+", "1 d x", "30dd", "1mon"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (sl_policy_duration_parse_ms(bad[i], &ms) != -EINVAL) fprintf(stderr, "  accepted '%s'\n", bad[i]);
    CHECK(sl_policy_duration_parse_ms(bad[i], &ms) == -EINVAL);
  }
  CHECK(ms == 7); /* untouched on error */
  CHECK(sl_policy_duration_parse_ms(NULL, &ms) == -EINVAL);
  CHECK(sl_policy_duration_parse_ms("1e300h", &ms) == -ERANGE);
}

static void whole_seconds(void) {
  int64_t s = -5;
  CHECK(sl_policy_duration_parse_s("30d", &s) == 0 && s == 30 * 86400);
  CHECK(sl_policy_duration_parse_s("1.5h", &s) == 0 && s == 5400);
  CHECK(sl_policy_duration_parse_s("45", &s) == 0 && s == 45);
  CHECK(sl_policy_duration_parse_s("1mo", &s) == 0 && s == 30 * 86400);
  s = -5;
  CHECK(sl_policy_duration_parse_s("30x", &s) == -EINVAL && s == -5);
  CHECK(sl_policy_duration_parse_s("500ms", &s) == -EINVAL);
  CHECK(sl_policy_duration_parse_s("1.5s", &s) == -EINVAL);
  CHECK(sl_policy_duration_parse_s("0", &s) == -EINVAL);
  CHECK(sl_policy_duration_parse_s("0d", &s) == -EINVAL);
}

CHECK_MAIN(T(units), T(refusals), T(whole_seconds))
