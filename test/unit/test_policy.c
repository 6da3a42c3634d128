/* policy/select: first healthy choice and the cooldown rule, with a fake clock. */
#include "check.h"
#include "policy/select.h"

static void first_healthy_in_order(void) {
  struct sl_policy_health h[3] = {{0}, {0}, {0}};
  CHECK(sl_policy_choose_first_healthy(h, 3, 1000) == 0);
  h[0].cooldown_until_ms = 2000;
  CHECK(sl_policy_choose_first_healthy(h, 3, 1000) == 1);
  CHECK(sl_policy_choose_first_healthy(h, 3, 2000) == 0); /* cooldown over at its end */
}

static void all_cooling_picks_earliest_end(void) {
  struct sl_policy_health h[3] = {{5000}, {3000}, {4000}};
  CHECK(sl_policy_choose_first_healthy(h, 3, 1000) == 1);
  CHECK(sl_policy_choose_first_healthy(h, 0, 1000) == -1);
}

static void cooldown_after_threshold(void) {
  CHECK(sl_policy_cooldown_after_failure(1, 3, 100, 5000) == 0);
  CHECK(sl_policy_cooldown_after_failure(2, 3, 100, 5000) == 0);
  CHECK(sl_policy_cooldown_after_failure(3, 3, 100, 5000) == 5100);
  CHECK(sl_policy_cooldown_after_failure(9, 0, 100, 5000) == 0);
}

CHECK_MAIN(T(first_healthy_in_order), T(all_cooling_picks_earliest_end), T(cooldown_after_threshold))
