/* First-healthy deployment choice and the consecutive-failure cooldown rule. */
#include "policy/select.h"

int sl_policy_choose_first_healthy(const struct sl_policy_health *h, size_t n, uint64_t now_ms) {
  if (n == 0) return -1;
  size_t best = 0;
  for (size_t i = 0; i < n; i++) {
    if (h[i].cooldown_until_ms <= now_ms) return (int)i;
    if (h[i].cooldown_until_ms < h[best].cooldown_until_ms) best = i;
  }
  return (int)best;
}

uint64_t sl_policy_cooldown_after_failure(uint32_t consecutive_failures, uint32_t threshold,
                                          uint64_t now_ms, uint64_t cooldown_ms) {
  if (threshold == 0 || consecutive_failures < threshold) return 0;
  return now_ms + cooldown_ms;
}
