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
#define SL_SHM_KEY_SLOTS 4096  /* virtual keys, groups and the gateway in the limiter/spend table */
#define SL_SHM_LAT_BUCKETS 16  /* Prometheus latency histogram buckets (see core/metrics.c) */

/* Prometheus counters of one deployment (or, in `groups`, of requests of a group that
 * reached no deployment: cache hits, errors before routing). Plain shared atomics: every
 * worker adds to the same counters, so any worker can render the sums. */
enum { SL_SC_2XX, SL_SC_4XX, SL_SC_5XX, SL_SC_OTHER, SL_SC_N };     /* status class */
enum { SL_CR_NONE, SL_CR_MISS, SL_CR_HIT, SL_CR_BYPASS, SL_CR_N };  /* cache result */
struct sl_shm_metrics {
  _Atomic uint64_t requests[SL_SC_N][SL_CR_N];
  _Atomic uint64_t latency_bucket[SL_SHM_LAT_BUCKETS], latency_count, latency_sum_us;
  _Atomic uint64_t ttft_bucket[SL_SHM_LAT_BUCKETS], ttft_count, ttft_sum_us;
  _Atomic uint64_t tokens_in, tokens_out, cost_micro_usd;
  _Atomic uint64_t retries, fallbacks, hedges_fired, hedges_won, cooldowns, rate_limited;
};

/* A sliding-window counter over one-minute windows (exact across processes: updated
 * under the slot's lock). */
struct sl_shm_window {
  uint64_t minute; /* index of the current window (unix minutes) */
  int64_t prev, cur;
};

/* One entry of the limiter/spend table: a virtual key, a model group or the gateway.
 * Spend is kept in micro-USD as integers so atomic adds are exact. */
struct sl_shm_key {
  _Atomic uint64_t id;               /* 0 = free; else a nonzero hash of the key/group name */
  _Atomic uint32_t lock;
  struct sl_shm_window req, tok;     /* requests and tokens per minute */
  _Atomic int64_t spend_total_micro; /* everything added since this region was made (flushing) */
  _Atomic int64_t spend_flushed_micro; /* part of spend_total already in the LMDB ledger */
  _Atomic int64_t period_spend_micro;  /* spend in the current budget period */
  _Atomic uint64_t period_start;     /* unix seconds of the current budget period's start */
  _Atomic uint32_t loaded;           /* period spend loaded from the ledger */
  _Atomic int64_t inflight;          /* requests in flight (a key's max_parallel_requests) */
};

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
  struct sl_shm_metrics m;
};

struct sl_shm_worker {
  _Atomic int32_t pid;
  _Atomic uint64_t requests;
  _Atomic uint64_t restarts;
  _Atomic int64_t connections;       /* open client connections */
  _Atomic uint64_t heartbeat_ms;     /* monotonic ms of the worker loop's last tick (watchdog) */
};

struct sl_shm {
  uint32_t magic;
  uint32_t ndeployments;
  uint64_t epoch;                     /* random per region: tells spend flushes apart */
  _Atomic int64_t hedge_budget_milli; /* token bucket shared by all workers */
  _Atomic uint32_t draining;          /* readiness turns false while set */
  struct sl_shm_worker workers[SL_SHM_MAX_WORKERS];
  struct sl_shm_metrics groups[SL_SHM_MAX_WORKERS]; /* by group index (groups <= deployments) */
  struct sl_shm_key keys[SL_SHM_KEY_SLOTS];
  struct sl_shm_deployment deployments[];
};

/* The slot for id (a nonzero hash), claimed on first use; NULL when the table is full. */
struct sl_shm_key *sl_shm_key_slot(struct sl_shm *s, uint64_t id);

int sl_shm_create(size_t ndeployments, struct sl_shm **out);
void sl_shm_destroy(struct sl_shm *s);

/* Cross-process spinlock for one deployment's multi-field state. A holder that died
 * (kill -9) cannot block others for long: after ~1 ms of spinning the lock is taken. */
void sl_shm_lock(_Atomic uint32_t *l);
void sl_shm_unlock(_Atomic uint32_t *l);

#endif
