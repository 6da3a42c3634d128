/* policy/health: the peak EWMA and its idle decay, and the cooldown breaker (failure
 * window, 429 with and without Retry-After, auth, half-open probe and doubling), driven
 * by a fake clock. */
#include <math.h>

#include "check.h"
#include "policy/health.h"

static bool close_to(double a, double b) { return fabs(a - b) < 1e-9 * (fabs(b) + 1); }

static void ewma_peak_and_decay(void) {
  CHECK(sl_policy_ewma(0, 42, 0, 5000) == 42);          /* no history */
  CHECK(sl_policy_ewma(20, 200, 1, 5000) == 200);       /* a peak replaces the average at once */
  CHECK(sl_policy_ewma(200, 20, 0, 5000) == 200);       /* no time passed: no weight to the sample */
  double tau_later = sl_policy_ewma(200, 20, 5000, 5000); /* one tau: 1/e of the past remains */
  CHECK(close_to(tau_later, 20 + 180 * exp(-1)));
  CHECK(sl_policy_ewma(200, 20, 1000000, 5000) < 20.0001); /* long ago: the sample */
  /* a fall is gradual: successive 20s from 200 approach 20 monotonically */
  double e = 200, prev = 200;
  for (int i = 0; i < 50; i++) {
    e = sl_policy_ewma(e, 20, 100, 5000);
    CHECK(e < prev && e > 20);
    prev = e;
  }
  CHECK(e > 20 && e < 200 * exp(-50 * 100 / 5000.0) + 20 + 1e-6);
  CHECK(sl_policy_ewma(100, 50, 10, 0) == 50); /* tau 0: no memory */
}

static void ewma_idle_decay(void) {
  CHECK(sl_policy_ewma_decay(0, 99999, 5000) == 0);
  CHECK(sl_policy_ewma_decay(200, 0, 5000) == 200);
  CHECK(close_to(sl_policy_ewma_decay(200, 5000, 5000), 200 * exp(-1)));
  /* a 200 ms deployment idle for tau*ln(10) looks like a 20 ms one */
  CHECK(fabs(sl_policy_ewma_decay(200, (uint64_t)(5000 * log(10)), 5000) - 20) < 0.01);
  CHECK(sl_policy_ewma_decay(200, 10, 0) == 200); /* no tau: no decay */
}

static const struct sl_cooldown_rules RULES = {.allowed_fails = 3, .cooldown_ms = 5000, .max_cooldown_ms = 60000};

static void fails_open_on_reaching_allowed_fails(void) {
  struct sl_cooldown s = {0};
  uint64_t t = 1000;
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t);
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t + 10);
  CHECK(s.fails_in_window == 2 && s.until_ms == 0 && !sl_policy_cooling(&s, t + 10));
  sl_policy_cooldown_ok(&s, t + 20); /* a success in between does not forgive (window count) */
  CHECK(s.fails_in_window == 2);
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t + 30);
  CHECK(s.until_ms == t + 30 + 5000 && s.last_cooldown_ms == 5000 && s.fails_in_window == 0);
  CHECK(sl_policy_cooling(&s, t + 30) && sl_policy_cooling(&s, t + 5029));
  CHECK(!sl_policy_cooling(&s, t + 5030) && sl_policy_cooldown_half_open(&s, t + 5030)); /* exactly at the end */
  CHECK(!sl_policy_cooldown_half_open(&s, t + 5029));
}

static void failure_window_expires(void) {
  struct sl_cooldown s = {0};
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, 0); /* time 0 is a valid start */
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, 59999);
  CHECK(s.fails_in_window == 2 && s.window_start_ms == 0);
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, 60000); /* the minute has passed: a new window */
  CHECK(s.fails_in_window == 1 && s.window_start_ms == 60000 && s.until_ms == 0);
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, 60001);
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, 119999);
  CHECK(s.until_ms == 119999 + 5000);
  /* allowed_fails 0 behaves as 1 */
  struct sl_cooldown_rules zero = {0, 1000, 8000};
  struct sl_cooldown z = {0};
  sl_policy_cooldown_fail(&z, &zero, SL_FAIL_ERROR, 0, 50);
  CHECK(z.until_ms == 1050);
  /* cooldown_time 0: errors never open */
  struct sl_cooldown_rules off = {1, 0, 0};
  struct sl_cooldown o = {0};
  sl_policy_cooldown_fail(&o, &off, SL_FAIL_ERROR, 0, 50);
  sl_policy_cooldown_fail(&o, &off, SL_FAIL_AUTH, 0, 60);
  CHECK(o.until_ms == 0 && !sl_policy_cooling(&o, 60));
}

static void rate_limit_honours_retry_after(void) {
  struct sl_cooldown s = {0};
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_RATE_LIMIT, 20000, 1000); /* at once, for Retry-After */
  CHECK(s.until_ms == 21000 && s.last_cooldown_ms == 20000);
  struct sl_cooldown b = {0};
  sl_policy_cooldown_fail(&b, &RULES, SL_FAIL_RATE_LIMIT, 1500, 1000); /* shorter than cooldown_time: still honoured */
  CHECK(b.until_ms == 2500);
  struct sl_cooldown c = {0};
  sl_policy_cooldown_fail(&c, &RULES, SL_FAIL_RATE_LIMIT, 0, 1000); /* no Retry-After: cooldown_time */
  CHECK(c.until_ms == 6000);
  /* while open, a later 429 with a longer Retry-After extends it; a shorter one does not */
  sl_policy_cooldown_fail(&c, &RULES, SL_FAIL_RATE_LIMIT, 30000, 2000);
  CHECK(c.until_ms == 32000);
  sl_policy_cooldown_fail(&c, &RULES, SL_FAIL_RATE_LIMIT, 1000, 3000);
  CHECK(c.until_ms == 32000);
  /* ...and errors of calls sent before it opened change nothing */
  sl_policy_cooldown_fail(&c, &RULES, SL_FAIL_ERROR, 0, 3000);
  sl_policy_cooldown_fail(&c, &RULES, SL_FAIL_AUTH, 0, 3000);
  CHECK(c.until_ms == 32000 && c.fails_in_window == 0);
}

static void auth_opens_at_once(void) {
  struct sl_cooldown s = {0};
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_AUTH, 99999, 7000); /* Retry-After ignored */
  CHECK(s.until_ms == 12000 && sl_policy_cooling(&s, 11999));
}

static void success_while_open_is_ignored(void) {
  struct sl_cooldown s = {0};
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_RATE_LIMIT, 10000, 0);
  sl_policy_cooldown_ok(&s, 100); /* a call sent before the 429 came back fine */
  CHECK(s.until_ms == 10000 && sl_policy_cooling(&s, 9999));
}

static void half_open_probe(void) {
  struct sl_cooldown s = {0};
  uint64_t t = 0;
  for (int i = 0; i < 3; i++) sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t);
  CHECK(s.until_ms == 5000);
  /* probe fails: twice as long each time, capped at max_cooldown_ms */
  uint64_t expect[] = {10000, 20000, 40000, 60000, 60000};
  for (int i = 0; i < 5; i++) {
    t = s.until_ms; /* the probe goes out exactly when the cooldown ends */
    CHECK(sl_policy_cooldown_half_open(&s, t));
    sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t + 50); /* its failure, 50 ms later */
    CHECK(s.last_cooldown_ms == expect[i] && s.until_ms == t + 50 + expect[i]);
    CHECK(!s.half_open);
  }
  /* probe succeeds: closed, doubling and counters reset */
  t = s.until_ms + 1;
  sl_policy_cooldown_ok(&s, t);
  CHECK(s.until_ms == 0 && s.last_cooldown_ms == 0 && s.fails_in_window == 0 && !s.half_open);
  CHECK(!sl_policy_cooling(&s, t) && !sl_policy_cooldown_half_open(&s, t));
  /* and the next trip starts again at cooldown_time */
  for (int i = 0; i < 3; i++) sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_ERROR, 0, t + 1);
  CHECK(s.until_ms == t + 1 + 5000 && s.last_cooldown_ms == 5000);
}

static void half_open_probe_rate_limited(void) {
  struct sl_cooldown s = {0};
  sl_policy_cooldown_fail(&s, &RULES, SL_FAIL_RATE_LIMIT, 2000, 0); /* open 2 s */
  /* the probe gets a 429: doubled (4 s), unless Retry-After says longer */
  struct sl_cooldown a = s, b = s;
  sl_policy_cooldown_fail(&a, &RULES, SL_FAIL_RATE_LIMIT, 1000, 2000);
  CHECK(a.until_ms == 6000 && a.last_cooldown_ms == 4000);
  sl_policy_cooldown_fail(&b, &RULES, SL_FAIL_RATE_LIMIT, 9000, 2000);
  CHECK(b.until_ms == 11000 && b.last_cooldown_ms == 9000);
  /* the cap never goes below cooldown_time */
  struct sl_cooldown_rules low = {1, 5000, 1000};
  struct sl_cooldown c = {0};
  sl_policy_cooldown_fail(&c, &low, SL_FAIL_ERROR, 0, 0);
  sl_policy_cooldown_fail(&c, &low, SL_FAIL_ERROR, 0, 5000);
  CHECK(c.until_ms == 10000);
}

CHECK_MAIN(T(ewma_peak_and_decay), T(ewma_idle_decay), T(fails_open_on_reaching_allowed_fails),
           T(failure_window_expires), T(rate_limit_honours_retry_after), T(auth_opens_at_once),
           T(success_while_open_is_ignored), T(half_open_probe), T(half_open_probe_rate_limited))
