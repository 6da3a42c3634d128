/* Glue between the shared-memory health region (store/shm.h) and the pure routing
 * decisions (policy/): snapshots candidates for policy, and records what each attempt
 * taught us (latency, TTFT, failures, cooldowns) for every worker to see. */
#ifndef SL_CORE_HEALTH_SHM_H
#define SL_CORE_HEALTH_SHM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/worker.h"
#include "policy/choose.h"
#include "policy/health.h"

/* Fills out[i] for each deployment of g (in group order). tried[i] marks excluded ones. */
void sl_health_snapshot(struct sl_worker *w, const struct sl_group *g, const bool *tried, bool stream,
                        struct sl_candidate *out);
/* An attempt starts on deployment dep: takes one request and est_tokens from the
 * deployment's rpm/tpm sliding windows (policy/ratelimit.h, on the monotonic clock, as
 * keys) and, for a probe, claims the probe slot. False when a window has no room or
 * another worker claimed the probe first (choose another). */
bool sl_health_begin(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens);
/* The same with the limits given (cluster mode, core/cluster_admit.c: -1 to count without
 * a check when Redis admitted it, or this host's share while degraded); < 0: unlimited. */
bool sl_health_begin_limits(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens, int64_t rpm, int64_t tpm);
/* The attempt ended. ok: success (latency/ttft in ms, 0 = unknown); otherwise `kind`
 * with retry_after_ms. cancelled: neither (a hedge loser or client abort). */
void sl_health_end(struct sl_worker *w, size_t dep, bool probe, bool cancelled, bool ok,
                   enum sl_failure_kind kind, uint64_t retry_after_ms, double latency_ms, double ttft_ms);
/* Cluster mode (core/cluster_health.c): another host's cooldown of dep, or this host's
 * lost probe claim. Opens the breaker until at least until_ms (lengthens, never
 * shortens); len_ms > 0 becomes its last cooldown length, so the doubling after a failed
 * probe goes on from it. True when it lengthened. */
bool sl_health_cooldown_extend(struct sl_worker *w, size_t dep, uint64_t until_ms, uint64_t len_ms);
/* Another host's probe of dep succeeded: closes the breaker (a clean slate, as a local
 * probe's success), unless it stays open past max_until_ms (a longer cooldown of its own,
 * e.g. a later 429's Retry-After). True when it closed. */
bool sl_health_cooldown_clear(struct sl_worker *w, size_t dep, uint64_t max_until_ms);
/* dep's cooldown end (monotonic ms; 0: closed) and last cooldown length. */
uint64_t sl_health_cooldown_until(struct sl_worker *w, size_t dep, uint64_t *len_ms);
/* Adaptive hedge delay for dep (ms), 0 = do not hedge. */
uint64_t sl_health_hedge_delay(struct sl_worker *w, size_t dep, bool stream);
/* The shared hedge budget as it is now (milli-hedges), for sl_policy_should_hedge. */
int64_t sl_health_hedge_budget(struct sl_worker *w);
/* Takes one hedge from the shared budget; false when exhausted. */
bool sl_health_hedge_take(struct sl_worker *w);
/* Every request pays into the hedge budget. */
void sl_health_hedge_deposit(struct sl_worker *w);
/* ms until the next rate-limit window boundary (monotonic minutes): what a rate-limited
 * choice gives as its Retry-After. A sliding window may need longer than that. */
uint64_t sl_health_minute_left(void);
/* A reload is not a restart for a deployment's rpm/tpm either: copies from's windows into
 * to (the same deployment in the next generation's region). */
struct sl_shm_deployment;
void sl_health_carry_windows(struct sl_shm_deployment *from, struct sl_shm_deployment *to);

#endif
