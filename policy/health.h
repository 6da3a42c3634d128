/* Deployment health as pure arithmetic: a peak-sensitive EWMA of latency, and the
 * cooldown state machine (closed -> open for cooldown_time -> half-open probe ->
 * closed on success, or open again with the cooldown doubled, up to a cap). The caller
 * keeps the state (in shared memory) and applies the returned values. */
#ifndef SL_POLICY_HEALTH_H
#define SL_POLICY_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

/* Peak EWMA (Finagle-style): a sample above the average replaces it at once; below it,
 * the average decays toward the sample with time constant tau_ms over dt_ms. prev == 0
 * means no history (the sample is taken as is). */
double sl_policy_ewma(double prev, double sample_ms, uint64_t dt_ms, double tau_ms);
/* The EWMA as read idle_ms after its last sample: it decays toward 0 with the same tau
 * (tower/Finagle), so a deployment that lost its traffic by being slow looks cheaper
 * again after a while, gets a request, and either wins its traffic back or jumps up
 * again (peak). Use it for sl_candidate.ewma_ms; without it an idle slow deployment
 * keeps its stale cost and latency routing never tries it again. */
double sl_policy_ewma_decay(double ewma_ms, uint64_t idle_ms, double tau_ms);

struct sl_cooldown {
  uint64_t window_start_ms;  /* start of the current one-minute failure window */
  uint32_t fails_in_window;
  uint64_t until_ms;         /* open until; 0 = closed */
  uint64_t last_cooldown_ms; /* length of the last cooldown, doubled after a failed probe */
  bool half_open;            /* not read: the state follows from until_ms and the time (see
                              * sl_policy_cooldown_half_open); the functions clear it */
};

struct sl_cooldown_rules {
  uint32_t allowed_fails;  /* failures within a minute that open the breaker: the Nth
                            * failure opens it (0 behaves as 1). Note LiteLLM opens on
                            * failures > allowed_fails; map its setting with +1 for that. */
  uint64_t cooldown_ms;    /* cooldown_time; 0 = no cooldowns from errors or auth */
  uint64_t max_cooldown_ms; /* cap of the doubling (never below cooldown_ms) */
};

enum sl_failure_kind {
  SL_FAIL_ERROR = 0,   /* retryable error: counts toward allowed_fails */
  SL_FAIL_RATE_LIMIT,  /* 429: cools down at once, for retry_after_ms when given */
  SL_FAIL_AUTH,        /* 401/403/404 from upstream: cools down at once */
};

/* Applies one failure. retry_after_ms: the upstream's Retry-After (0 = none).
 * Closed: ERROR counts in a one-minute window (starting at its first failure) and opens
 * for cooldown_ms on the allowed_fails-th; RATE_LIMIT opens at once for retry_after_ms
 * when given, else cooldown_ms; AUTH opens at once for cooldown_ms.
 * Half-open (cooldown over): the probe failed, any kind: open for twice the last
 * cooldown, capped at max_cooldown_ms (a longer Retry-After still wins).
 * Open: the failure of a call sent before it opened: ignored, except that a 429's
 * Retry-After reaching past the current end extends it. */
void sl_policy_cooldown_fail(struct sl_cooldown *s, const struct sl_cooldown_rules *r,
                             enum sl_failure_kind k, uint64_t retry_after_ms, uint64_t now_ms);
/* Applies one success. Half-open: the probe succeeded: closes the breaker, resets the
 * doubling and the failure window. Open: a call sent before it opened: ignored (only the
 * probe decides). Closed: nothing to do; failures of the current minute still count. */
void sl_policy_cooldown_ok(struct sl_cooldown *s, uint64_t now_ms);
/* Open (cooling) at now? until_ms > now. Exactly at until_ms it is half-open. */
bool sl_policy_cooling(const struct sl_cooldown *s, uint64_t now_ms);
/* Half-open at now: the cooldown is over (until_ms != 0 && until_ms <= now) and the next
 * call is the probe. */
bool sl_policy_cooldown_half_open(const struct sl_cooldown *s, uint64_t now_ms);

#endif
