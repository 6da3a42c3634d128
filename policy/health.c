/* Deployment health arithmetic (see health.h): the peak-sensitive latency EWMA and the
 * cooldown breaker. The one idea: the breaker's state is read from `until_ms` and the
 * time alone (0 = closed, in the future = open, in the past = half-open), so a state kept
 * in shared memory can never disagree with itself; each function is a transition on
 * that state given one outcome. */
#include "policy/health.h"

#include <math.h>

#define WINDOW_MS 60000 /* failures are counted per minute (LiteLLM allowed_fails) */

double sl_policy_ewma(double prev, double sample_ms, uint64_t dt_ms, double tau_ms) {
  if (!(prev > 0) || !isfinite(prev)) return sample_ms; /* no history */
  if (sample_ms >= prev) return sample_ms;              /* peak: jump up at once */
  if (!(tau_ms > 0)) return sample_ms;
  double w = exp(-(double)dt_ms / tau_ms); /* weight of the past after dt */
  return prev * w + sample_ms * (1.0 - w);
}

double sl_policy_ewma_decay(double ewma_ms, uint64_t idle_ms, double tau_ms) {
  if (!(ewma_ms > 0) || !(tau_ms > 0)) return ewma_ms > 0 ? ewma_ms : 0;
  return ewma_ms * exp(-(double)idle_ms / tau_ms);
}

bool sl_policy_cooling(const struct sl_cooldown *s, uint64_t now_ms) { return s->until_ms > now_ms; }

bool sl_policy_cooldown_half_open(const struct sl_cooldown *s, uint64_t now_ms) {
  return s->until_ms != 0 && s->until_ms <= now_ms;
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Opens the breaker for len ms (len 0: cooldowns are off, the failure is forgotten). */
static void open_for(struct sl_cooldown *s, uint64_t len, uint64_t now) {
  s->window_start_ms = now;
  s->fails_in_window = 0;
  s->half_open = false;
  if (len == 0) {
    s->until_ms = 0;
    s->last_cooldown_ms = 0;
    return;
  }
  s->until_ms = add_sat(now, len);
  if (s->until_ms == 0) s->until_ms = 1; /* never reads as closed */
  s->last_cooldown_ms = len;
}

void sl_policy_cooldown_fail(struct sl_cooldown *s, const struct sl_cooldown_rules *r,
                             enum sl_failure_kind k, uint64_t retry_after_ms, uint64_t now_ms) {
  uint64_t now = now_ms;
  if (s->until_ms > now) {
    /* Open: the outcome of a call sent before the breaker opened. It adds nothing, except
     * that a Retry-After reaching past the cooldown is honoured. */
    if (k == SL_FAIL_RATE_LIMIT && retry_after_ms > 0 && add_sat(now, retry_after_ms) > s->until_ms) {
      s->until_ms = add_sat(now, retry_after_ms);
      if (retry_after_ms > s->last_cooldown_ms) s->last_cooldown_ms = retry_after_ms;
    }
    return;
  }
  if (s->until_ms != 0) {
    /* Half-open: the probe failed. Open again for twice the last cooldown, capped; a
     * Retry-After longer than that still wins. */
    uint64_t cap = r->max_cooldown_ms > r->cooldown_ms ? r->max_cooldown_ms : r->cooldown_ms;
    uint64_t last = s->last_cooldown_ms ? s->last_cooldown_ms : r->cooldown_ms;
    uint64_t len = last > cap / 2 ? cap : last * 2;
    if (k == SL_FAIL_RATE_LIMIT && retry_after_ms > len) len = retry_after_ms;
    if (len == 0) len = 1; /* cooldown_ms 0 and no cap: still leave half-open */
    open_for(s, len, now);
    return;
  }
  /* Closed. */
  switch (k) {
  case SL_FAIL_RATE_LIMIT: open_for(s, retry_after_ms > 0 ? retry_after_ms : r->cooldown_ms, now); return;
  case SL_FAIL_AUTH: open_for(s, r->cooldown_ms, now); return;
  case SL_FAIL_ERROR:
  default: break;
  }
  if (s->fails_in_window == 0 || now < s->window_start_ms || now - s->window_start_ms >= WINDOW_MS) {
    s->window_start_ms = now;
    s->fails_in_window = 0;
  }
  if (s->fails_in_window < UINT32_MAX) s->fails_in_window++;
  uint32_t threshold = r->allowed_fails ? r->allowed_fails : 1;
  if (s->fails_in_window >= threshold) open_for(s, r->cooldown_ms, now);
}

void sl_policy_cooldown_ok(struct sl_cooldown *s, uint64_t now_ms) {
  if (s->until_ms > now_ms) return; /* open: a call sent before it opened; only the probe decides */
  if (s->until_ms != 0) {
    /* Half-open: the probe succeeded. Closed, with a clean slate. */
    s->until_ms = 0;
    s->last_cooldown_ms = 0;
    s->fails_in_window = 0;
    s->window_start_ms = now_ms;
  }
  /* Closed: a success does not forgive failures of the same minute (allowed_fails counts
   * failures within a minute, not consecutive ones); the window expires by itself. */
  s->half_open = false;
}
