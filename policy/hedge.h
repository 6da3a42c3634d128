/* Request hedging decisions. A per-deployment latency sketch (fixed log-spaced buckets,
 * halved periodically so it follows recent behaviour) gives the adaptive hedge delay as
 * a quantile; a token bucket caps hedges to a fraction of requests. All state is plain
 * integers so it can live in shared memory and be updated with atomics by the caller. */
#ifndef SL_POLICY_HEDGE_H
#define SL_POLICY_HEDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SKETCH_BUCKETS 64

/* Bucket of a latency in ms (log-linear, ~12% wide buckets from 1 ms to ~5 min). */
unsigned sl_policy_sketch_bucket(double ms);
/* Upper bound (ms) of a bucket. */
double sl_policy_sketch_bucket_ms(unsigned b);
/* The q-quantile (0<q<1) of the counts, in ms; 0 when fewer than min_samples in total. */
double sl_policy_sketch_quantile(const uint32_t counts[SL_SKETCH_BUCKETS], double q, uint32_t min_samples);
/* True when the sketch should be halved (its total passed max_total). */
bool sl_policy_sketch_should_decay(const uint32_t counts[SL_SKETCH_BUCKETS], uint32_t max_total);

/* The hedge delay for a deployment: fixed_ms when set, else the quantile of its sketch
 * (clamped to at least min_ms); 0 = do not hedge (no data yet and no fixed delay). */
uint64_t sl_policy_hedge_delay_ms(uint64_t fixed_ms, const uint32_t counts[SL_SKETCH_BUCKETS], double q,
                                  uint64_t min_ms);

/* Hedge budget as a token bucket in milli-tokens (an integer, for atomics): each request
 * deposits ratio*1000, capped at burst*1000; a hedge withdraws 1000. These return the
 * new value; withdraw returns -1 when the bucket holds less than one hedge. */
int64_t sl_policy_budget_deposit(int64_t milli, double ratio, double burst);
int64_t sl_policy_budget_withdraw(int64_t milli);

#endif
