/* Hedging arithmetic (see hedge.h): a log-bucketed latency sketch, its quantile, the
 * hedge delay and the hedge budget. The one idea: bucket b holds latencies in
 * (e^((b-1)K), e^(bK)] ms, with K chosen so the SL_SKETCH_BUCKETS buckets span 1 ms to
 * SL_SKETCH_MAX_MS; every bucket is then the same relative width (e^K - 1), a quantile
 * is a walk over cumulative counts reporting the bucket's upper bound (never below the
 * true value, so a hedge fires late rather than early), and the whole state is an array
 * of counters that other processes can bump with atomics. */
#include "policy/hedge.h"

#include <math.h>

/* ln(SL_SKETCH_MAX_MS) / (SL_SKETCH_BUCKETS - 1): the log-width of one bucket. */
static double log_width(void) { return log((double)SL_SKETCH_MAX_MS) / (double)(SL_SKETCH_BUCKETS - 1); }

double sl_policy_sketch_bucket_ms(unsigned b) {
  if (b >= SL_SKETCH_BUCKETS) b = SL_SKETCH_BUCKETS - 1;
  if (b == SL_SKETCH_BUCKETS - 1) return (double)SL_SKETCH_MAX_MS; /* exact at the top */
  return exp((double)b * log_width());
}

unsigned sl_policy_sketch_bucket(double ms) {
  if (!(ms > 1.0)) return 0; /* also NaN and negatives */
  if (ms >= (double)SL_SKETCH_MAX_MS) return SL_SKETCH_BUCKETS - 1;
  double x = ceil(log(ms) / log_width());
  unsigned b = x >= SL_SKETCH_BUCKETS - 1 ? SL_SKETCH_BUCKETS - 1 : (unsigned)x;
  /* log() rounding can land one off at a boundary: make ms <= bucket_ms(b) exact. */
  while (b > 0 && ms <= sl_policy_sketch_bucket_ms(b - 1)) b--;
  while (b < SL_SKETCH_BUCKETS - 1 && ms > sl_policy_sketch_bucket_ms(b)) b++;
  return b;
}

static uint64_t total_of(const uint32_t counts[SL_SKETCH_BUCKETS]) {
  uint64_t t = 0;
  for (unsigned b = 0; b < SL_SKETCH_BUCKETS; b++) t += counts[b];
  return t;
}

double sl_policy_sketch_quantile(const uint32_t counts[SL_SKETCH_BUCKETS], double q, uint32_t min_samples) {
  uint64_t total = total_of(counts);
  if (total == 0 || total < min_samples) return 0;
  if (!(q > 0)) q = 0; /* also NaN */
  if (q > 1) q = 1;
  double r = ceil(q * (double)total);
  uint64_t rank = r < 1 ? 1 : r > (double)total ? total : (uint64_t)r;
  uint64_t cum = 0;
  for (unsigned b = 0; b < SL_SKETCH_BUCKETS; b++) {
    cum += counts[b];
    if (cum >= rank) return sl_policy_sketch_bucket_ms(b);
  }
  return sl_policy_sketch_bucket_ms(SL_SKETCH_BUCKETS - 1);
}

bool sl_policy_sketch_should_decay(const uint32_t counts[SL_SKETCH_BUCKETS], uint32_t max_total) {
  return max_total > 0 && total_of(counts) > max_total;
}

uint64_t sl_policy_hedge_delay_ms(uint64_t fixed_ms, const uint32_t counts[SL_SKETCH_BUCKETS], double q,
                                  uint64_t min_ms) {
  if (fixed_ms > 0) return fixed_ms;
  double v = sl_policy_sketch_quantile(counts, q, SL_HEDGE_MIN_SAMPLES);
  if (!(v > 0)) return 0;
  uint64_t d = (uint64_t)ceil(v);
  return d < min_ms ? min_ms : d;
}

/* ratio or burst (tokens) as milli-tokens, rounded, within [0, 1e12]. */
static int64_t to_milli(double x) {
  if (!(x > 0)) return 0;
  if (x > 1e9) x = 1e9;
  return (int64_t)llround(x * 1000.0);
}

int64_t sl_policy_budget_deposit(int64_t milli, double ratio, double burst) {
  int64_t cap = to_milli(burst), add = to_milli(ratio);
  if (milli < 0) milli = 0;
  int64_t v = milli > INT64_MAX - add ? INT64_MAX : milli + add;
  return v > cap ? cap : v;
}

int64_t sl_policy_budget_withdraw(int64_t milli) { return milli < 1000 ? -1 : milli - 1000; }
