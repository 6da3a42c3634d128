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

struct sl_cooldown {
  uint64_t window_start_ms;  /* start of the current one-minute failure window */
  uint32_t fails_in_window;
  uint64_t until_ms;         /* open until; 0 = closed */
  uint64_t last_cooldown_ms; /* length of the last cooldown, doubled after a failed probe */
  bool half_open;            /* cooldown ended, the next call is a probe */
};

struct sl_cooldown_rules {
  uint32_t allowed_fails;  /* failures within a minute that open the breaker (LiteLLM allowed_fails) */
  uint64_t cooldown_ms;    /* cooldown_time */
  uint64_t max_cooldown_ms;
};

enum sl_failure_kind {
  SL_FAIL_ERROR = 0,   /* retryable error: counts toward allowed_fails */
  SL_FAIL_RATE_LIMIT,  /* 429: cools down at once, for retry_after_ms when given */
  SL_FAIL_AUTH,        /* 401/403/404 from upstream: cools down at once */
};

/* Applies one failure. retry_after_ms: the upstream's Retry-After (0 = none). A failure
 * of a half-open probe doubles the last cooldown (capped). */
void sl_policy_cooldown_fail(struct sl_cooldown *s, const struct sl_cooldown_rules *r,
                             enum sl_failure_kind k, uint64_t retry_after_ms, uint64_t now_ms);
/* Applies one success: closes the breaker and resets the doubling. */
void sl_policy_cooldown_ok(struct sl_cooldown *s, uint64_t now_ms);
/* Open (cooling) at now? Once until_ms has passed the state reads half-open. */
bool sl_policy_cooling(const struct sl_cooldown *s, uint64_t now_ms);

#endif
