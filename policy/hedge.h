/* Request hedging decisions. A per-deployment latency sketch (fixed log-spaced buckets,
 * halved periodically so it follows recent behaviour) gives the adaptive hedge delay as
 * a quantile; a token bucket caps hedges to a fraction of requests. All state is plain
 * integers so it can live in shared memory and be updated with atomics by the caller. */
#ifndef SL_POLICY_HEDGE_H
#define SL_POLICY_HEDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SKETCH_BUCKETS 128     /* must equal SL_SHM_SKETCH in store/shm.h */
#define SL_SKETCH_MAX_MS 300000  /* upper bound of the last bucket (5 min) */
#define SL_HEDGE_MIN_SAMPLES 20  /* an adaptive delay needs this many samples first */

/* Bucket of a latency in ms: log-spaced, bucket b covers (e^((b-1)K), e^(bK)] ms with
 * K = ln(SL_SKETCH_MAX_MS) / (SL_SKETCH_BUCKETS - 1); bucket 0 takes everything up to
 * 1 ms, the last everything above the one before it. Every bucket is e^K - 1 wide:
 * 22% with 64 buckets, 10.4% with 128 (raise both SL_SKETCH_BUCKETS and SL_SHM_SKETCH
 * for ~10% precision; 64 buckets cannot span 1 ms..5 min at 12%). */
unsigned sl_policy_sketch_bucket(double ms);
/* Upper bound (ms) of a bucket: ms <= sl_policy_sketch_bucket_ms(sl_policy_sketch_bucket(ms))
 * for ms <= SL_SKETCH_MAX_MS, and within one bucket width of it. */
double sl_policy_sketch_bucket_ms(unsigned b);
/* The q-quantile (0<q<1) of the counts, in ms: the upper bound of the bucket holding the
 * ceil(q x total)-th sample (so never below the true quantile, at most one bucket width
 * above); 0 when fewer than min_samples in total. */
double sl_policy_sketch_quantile(const uint32_t counts[SL_SKETCH_BUCKETS], double q, uint32_t min_samples);
/* True when the sketch should be halved (its total passed max_total; 0 = never). The
 * caller halves every counter (c / 2), which keeps the shape and ages old samples. */
bool sl_policy_sketch_should_decay(const uint32_t counts[SL_SKETCH_BUCKETS], uint32_t max_total);

/* The hedge delay for a deployment: fixed_ms when set, else the quantile of its sketch
 * rounded up to whole ms (clamped to at least min_ms); 0 = do not hedge (no fixed delay
 * and fewer than SL_HEDGE_MIN_SAMPLES samples). */
uint64_t sl_policy_hedge_delay_ms(uint64_t fixed_ms, const uint32_t counts[SL_SKETCH_BUCKETS], double q,
                                  uint64_t min_ms);

/* Hedge budget as a token bucket in milli-tokens (an integer, for atomics): each request
 * deposits ratio*1000 (rounded), capped at burst*1000 (a value above the cap, as after a
 * reload that lowered burst, comes back as the cap); a hedge withdraws 1000. These
 * return the new value; withdraw returns -1 when the bucket holds less than one hedge.
 * burst < 1 never allows a hedge. */
int64_t sl_policy_budget_deposit(int64_t milli, double ratio, double burst);
int64_t sl_policy_budget_withdraw(int64_t milli);

#endif
