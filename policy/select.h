/* Deployment choice for the foundation: the first healthy deployment of a group, in
 * config order. Pure: the caller passes the health snapshot and the time. The routing
 * issue replaces this with the strategies (shuffle, least-busy, latency, cost). */
#ifndef SL_POLICY_SELECT_H
#define SL_POLICY_SELECT_H

#include <stddef.h>
#include <stdint.h>

struct sl_policy_health {
  uint64_t cooldown_until_ms; /* monotonic ms; 0 = healthy */
};

/* Returns the position (0..n-1) of the first candidate not cooling down at now_ms; when
 * all are cooling down, the one whose cooldown ends first (serving beats refusing).
 * Returns -1 only when n == 0. */
int sl_policy_choose_first_healthy(const struct sl_policy_health *h, size_t n, uint64_t now_ms);

/* Failure bookkeeping: after `threshold` consecutive failures a deployment cools down
 * for cooldown_ms. Returns the new cooldown_until (0 if not cooling). */
uint64_t sl_policy_cooldown_after_failure(uint32_t consecutive_failures, uint32_t threshold,
                                          uint64_t now_ms, uint64_t cooldown_ms);

#endif
