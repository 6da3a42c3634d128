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
/* An attempt starts on deployment dep: counts it against the deployment's rpm/tpm for
 * this minute and, for a probe, claims the probe slot. False when the deployment is at
 * its limit or another worker claimed the probe first (choose another). */
bool sl_health_begin(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens);
/* The attempt ended. ok: success (latency/ttft in ms, 0 = unknown); otherwise `kind`
 * with retry_after_ms. cancelled: neither (a hedge loser or client abort). */
void sl_health_end(struct sl_worker *w, size_t dep, bool probe, bool cancelled, bool ok,
                   enum sl_failure_kind kind, uint64_t retry_after_ms, double latency_ms, double ttft_ms);
/* Adaptive hedge delay for dep (ms), 0 = do not hedge. */
uint64_t sl_health_hedge_delay(struct sl_worker *w, size_t dep, bool stream);
/* Takes one hedge from the shared budget; false when exhausted. */
bool sl_health_hedge_take(struct sl_worker *w);
/* Every request pays into the hedge budget. */
void sl_health_hedge_deposit(struct sl_worker *w);
/* ms left in the current rate-limit minute. */
uint64_t sl_health_minute_left(void);

#endif
