/* policy/hedge: the sketch's buckets and their inverse, quantiles against known
 * distributions, decay, the hedge delay and the token-bucket budget. */
#include <math.h>

#include "check.h"
#include "policy/choose.h" /* sl_policy_rand01 for random samples */
#include "policy/hedge.h"

/* Relative width of one bucket: e^K - 1. */
static double width(void) { return exp(log((double)SL_SKETCH_MAX_MS) / (SL_SKETCH_BUCKETS - 1)) - 1; }

static void buckets_are_monotonic_and_span_the_range(void) {
  CHECK(sl_policy_sketch_bucket_ms(0) == 1.0);
  CHECK(sl_policy_sketch_bucket_ms(SL_SKETCH_BUCKETS - 1) == SL_SKETCH_MAX_MS);
  CHECK(sl_policy_sketch_bucket_ms(SL_SKETCH_BUCKETS + 5) == SL_SKETCH_MAX_MS);
  for (unsigned b = 1; b < SL_SKETCH_BUCKETS; b++) {
    double r = sl_policy_sketch_bucket_ms(b) / sl_policy_sketch_bucket_ms(b - 1);
    CHECK(r > 1 && fabs(r - 1 - width()) < 1e-6); /* every bucket the same relative width */
  }
  CHECK(width() < (SL_SKETCH_BUCKETS >= 128 ? 0.12 : 0.23));
  CHECK(sl_policy_sketch_bucket(0) == 0 && sl_policy_sketch_bucket(-5) == 0 && sl_policy_sketch_bucket(NAN) == 0);
  CHECK(sl_policy_sketch_bucket(0.3) == 0 && sl_policy_sketch_bucket(1.0) == 0 && sl_policy_sketch_bucket(1.0001) == 1);
  CHECK(sl_policy_sketch_bucket(SL_SKETCH_MAX_MS) == SL_SKETCH_BUCKETS - 1);
  CHECK(sl_policy_sketch_bucket(1e9) == SL_SKETCH_BUCKETS - 1 && sl_policy_sketch_bucket(INFINITY) == SL_SKETCH_BUCKETS - 1);
}

static void bucket_inverse_1ms_to_300s(void) {
  /* 20,000 values log-spaced over 1 ms .. 300 s, plus every bucket's exact bounds */
  double w = width();
  for (int i = 0; i <= 20000; i++) {
    double v = exp(log(300000.0) * i / 20000.0);
    unsigned b = sl_policy_sketch_bucket(v);
    double up = sl_policy_sketch_bucket_ms(b);
    CHECK(v <= up);                              /* never above its bucket's bound */
    CHECK(up <= v * (1 + w) * (1 + 1e-12));      /* and within one bucket width */
    CHECK(b == 0 || v > sl_policy_sketch_bucket_ms(b - 1)); /* the lowest such bucket */
  }
  for (unsigned b = 0; b < SL_SKETCH_BUCKETS; b++) {
    double up = sl_policy_sketch_bucket_ms(b);
    CHECK(sl_policy_sketch_bucket(up) == b);
    CHECK(b == SL_SKETCH_BUCKETS - 1 || sl_policy_sketch_bucket(nextafter(up, INFINITY)) == b + 1);
  }
}

static void quantiles(void) {
  uint32_t c[SL_SKETCH_BUCKETS] = {0};
  CHECK(sl_policy_sketch_quantile(c, 0.95, 0) == 0); /* empty */
  /* 1..1000 ms uniform: every quantile within one bucket above the truth */
  for (int v = 1; v <= 1000; v++) c[sl_policy_sketch_bucket(v)]++;
  double qs[] = {0.01, 0.5, 0.9, 0.95, 0.99, 0.999};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    double truth = ceil(qs[i] * 1000), got = sl_policy_sketch_quantile(c, qs[i], 1);
    CHECK(got >= truth && got <= truth * (1 + width()) + 1e-9);
  }
  CHECK(sl_policy_sketch_quantile(c, 1.0, 1) >= 1000 && sl_policy_sketch_quantile(c, 0, 1) == 1);
  CHECK(sl_policy_sketch_quantile(c, 0.5, 1000) > 0 && sl_policy_sketch_quantile(c, 0.5, 1001) == 0);
  /* 97% at ~50 ms, 3% stalled at 2 s: p95 is the fast mode, p99 the stall */
  uint32_t d[SL_SKETCH_BUCKETS] = {0};
  uint64_t rng = 7;
  for (int k = 0; k < 10000; k++) {
    double v = sl_policy_rand01(&rng) < 0.03 ? 2000 + 100 * sl_policy_rand01(&rng) : 40 + 20 * sl_policy_rand01(&rng);
    d[sl_policy_sketch_bucket(v)]++;
  }
  double p95 = sl_policy_sketch_quantile(d, 0.95, 20), p99 = sl_policy_sketch_quantile(d, 0.99, 20);
  CHECK(p95 >= 58 && p95 <= 60 * (1 + width()));
  CHECK(p99 >= 2000 && p99 <= 2100 * (1 + width()));
}

static void decay_halves_and_keeps_shape(void) {
  uint32_t c[SL_SKETCH_BUCKETS] = {0};
  c[10] = 3000, c[20] = 1000;
  CHECK(!sl_policy_sketch_should_decay(c, 4000)); /* at max_total: not yet */
  c[30] = 1;
  CHECK(sl_policy_sketch_should_decay(c, 4000));
  CHECK(!sl_policy_sketch_should_decay(c, 0)); /* 0: never */
  double before = sl_policy_sketch_quantile(c, 0.5, 1);
  for (unsigned b = 0; b < SL_SKETCH_BUCKETS; b++) c[b] /= 2;
  CHECK(!sl_policy_sketch_should_decay(c, 4000) && sl_policy_sketch_quantile(c, 0.5, 1) == before);
  /* counts near UINT32_MAX do not overflow the total */
  uint32_t big[SL_SKETCH_BUCKETS];
  for (unsigned b = 0; b < SL_SKETCH_BUCKETS; b++) big[b] = UINT32_MAX;
  CHECK(sl_policy_sketch_should_decay(big, UINT32_MAX));
  CHECK(sl_policy_sketch_quantile(big, 0.5, 1) == sl_policy_sketch_bucket_ms(SL_SKETCH_BUCKETS / 2 - 1));
}

static void hedge_delay(void) {
  uint32_t c[SL_SKETCH_BUCKETS] = {0};
  CHECK(sl_policy_hedge_delay_ms(0, c, 0.95, 10) == 0);   /* no data, no fixed delay: no hedge */
  CHECK(sl_policy_hedge_delay_ms(250, c, 0.95, 10) == 250); /* fixed wins */
  c[sl_policy_sketch_bucket(50)] = SL_HEDGE_MIN_SAMPLES - 1;
  CHECK(sl_policy_hedge_delay_ms(0, c, 0.95, 10) == 0); /* too few samples */
  c[sl_policy_sketch_bucket(50)]++;
  uint64_t d = sl_policy_hedge_delay_ms(0, c, 0.95, 10);
  CHECK(d >= 50 && d <= (uint64_t)ceil(50 * (1 + width())) && d == (uint64_t)ceil(sl_policy_sketch_quantile(c, 0.95, 1)));
  CHECK(sl_policy_hedge_delay_ms(0, c, 0.95, 500) == 500); /* at least min_ms */
  CHECK(sl_policy_hedge_delay_ms(40, c, 0.95, 500) == 40);  /* a fixed delay is taken as given */
}

static void budget_token_bucket(void) {
  /* 10% of requests, burst 2: after 100 requests, 2 hedges (the cap), then 1 per 10 */
  int64_t m = 0;
  for (int i = 0; i < 100; i++) m = sl_policy_budget_deposit(m, 0.1, 2);
  CHECK(m == 2000);
  m = sl_policy_budget_withdraw(m);
  CHECK(m == 1000);
  m = sl_policy_budget_withdraw(m);
  CHECK(m == 0 && sl_policy_budget_withdraw(m) == -1);
  CHECK(sl_policy_budget_withdraw(999) == -1);
  for (int i = 0; i < 9; i++) m = sl_policy_budget_deposit(m, 0.1, 2);
  CHECK(m == 900 && sl_policy_budget_withdraw(m) == -1);
  m = sl_policy_budget_deposit(m, 0.1, 2);
  CHECK(m == 1000 && sl_policy_budget_withdraw(m) == 0);
  /* long run: hedges granted track the ratio */
  int64_t b = 0;
  int hedges = 0;
  for (int i = 0; i < 10000; i++) {
    b = sl_policy_budget_deposit(b, 0.05, 10);
    int64_t w = sl_policy_budget_withdraw(b); /* try to hedge every request */
    if (w >= 0) b = w, hedges++;
  }
  CHECK(hedges == 500);
  /* a lowered cap clamps; nonsense ratios deposit nothing; burst < 1 never allows one */
  CHECK(sl_policy_budget_deposit(50000, 0.1, 2) == 2000);
  CHECK(sl_policy_budget_deposit(100, -1, 2) == 100 && sl_policy_budget_deposit(100, NAN, 2) == 100);
  int64_t s = 0;
  for (int i = 0; i < 100; i++) s = sl_policy_budget_deposit(s, 0.5, 0.5);
  CHECK(s == 500 && sl_policy_budget_withdraw(s) == -1);
}

CHECK_MAIN(T(buckets_are_monotonic_and_span_the_range), T(bucket_inverse_1ms_to_300s), T(quantiles),
           T(decay_halves_and_keeps_shape), T(hedge_delay), T(budget_token_bucket))
