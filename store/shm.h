/* The shared-memory region: created by the master before it forks, mapped in every
 * worker at the same address, updated only with atomics. It holds what every worker
 * must see at once: per-deployment health (cooldown, EWMA latency, in-flight, the
 * current minute's usage, latency sketches for hedging), the hedge budget and
 * per-worker counters. Nothing in it is a pointer, so any process can read it. */
#ifndef SL_STORE_SHM_H
#define SL_STORE_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SHM_MAX_WORKERS 256
#define SL_SHM_SKETCH 128 /* == SL_SKETCH_BUCKETS in policy/hedge.h */

struct sl_shm_deployment {
  /* Cooldown breaker; multi-field updates hold `lock` (a few nanoseconds). */
  _Atomic uint32_t lock;
  _Atomic uint64_t cooldown_until_ms;   /* monotonic ms; readable without the lock */
  uint64_t window_start_ms;
  uint32_t fails_in_window;
  uint64_t last_cooldown_ms;
  bool half_open;
  _Atomic uint32_t probe_busy;          /* a half-open probe is in flight */
  /* Latency: peak EWMAs (doubles stored as bits) and when they were last updated. */
  _Atomic uint64_t ewma_ms_bits, ewma_ttft_ms_bits;
  _Atomic uint64_t ewma_at_ms, ewma_ttft_at_ms;
  _Atomic uint32_t sketch[SL_SHM_SKETCH], sketch_ttft[SL_SHM_SKETCH];
  /* Load */
  _Atomic int64_t inflight;
  _Atomic uint64_t minute;              /* minute number the counters below belong to */
  _Atomic int64_t requests_minute, tokens_minute;
  /* Totals */
  _Atomic uint64_t requests, failures, successes, hedges;
};

struct sl_shm_worker {
  _Atomic int32_t pid;
  _Atomic uint64_t requests;
  _Atomic uint64_t restarts;
};

struct sl_shm {
  uint32_t magic;
  uint32_t ndeployments;
  _Atomic int64_t hedge_budget_milli; /* token bucket shared by all workers */
  struct sl_shm_worker workers[SL_SHM_MAX_WORKERS];
  struct sl_shm_deployment deployments[];
};

int sl_shm_create(size_t ndeployments, struct sl_shm **out);
void sl_shm_destroy(struct sl_shm *s);

/* Cross-process spinlock for one deployment's multi-field state. A holder that died
 * (kill -9) cannot block others for long: after ~1 ms of spinning the lock is taken. */
void sl_shm_lock(_Atomic uint32_t *l);
void sl_shm_unlock(_Atomic uint32_t *l);

#endif
