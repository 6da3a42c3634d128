/* The shared-memory region: created by the master before it forks, mapped in every
 * worker at the same address, updated with atomics (multi-field state under a spinlock).
 * It holds what every worker must see at once: per-deployment health (cooldown, EWMA
 * latency, in-flight, rpm/tpm sliding windows, latency sketches for hedging), the hedge
 * budget and per-worker counters. Nothing in it is a pointer, so any process can read it.
 * Owners (the one module that reads and writes each part through its own functions):
 * deployments' health, rpm/tpm windows and the hedge budget: core/health_shm.c (the
 * master seeds the budget); Prometheus counters (`m`, `groups`): core/metrics.c; the key
 * table's windows, spend and in-flight: core/tenancy.c (store/spend_flush.c moves spend
 * to the ledger); the table's claims and the reload carry of key windows: store/shm.c;
 * workers[i]: worker i itself (the master reads heartbeats, counts restarts). */
#ifndef SL_STORE_SHM_H
#define SL_STORE_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SL_SHM_MAX_WORKERS 256
#define SL_SHM_SKETCH 128 /* == SL_SKETCH_BUCKETS in policy/hedge.h */
/* Slots of the limiter/spend table (virtual keys, model groups and the gateway) when
 * the config does not say (sluice_settings.max_keys). The table is open-addressed and
 * sized to twice the slots asked for (so probes stay short when it is nearly full); an
 * untouched slot costs no memory (the mapping is demand-zero). */
#define SL_SHM_KEY_SLOTS_DEFAULT 50000
#define SL_SHM_KEY_SLOTS_MAX 1000000
#define SL_SHM_LAT_BUCKETS 16  /* Prometheus latency histogram buckets (see core/metrics.c) */
#define SL_SHM_OVH_BUCKETS 11  /* overhead histogram buckets (core/metrics.c) */
#define SL_SHM_STATUS_SLOTS 20 /* status codes counted one by one, then by class (core/metrics.c) */
#define SL_SHM_FALLBACK_FROM 32 /* requested groups told apart in fallback counts (core/metrics.c) */

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
  _Atomic uint64_t usage_implausible; /* provider usage above SL_USAGE_MAX_TOKENS, replaced by an estimate */
  _Atomic uint64_t region_outside_preferred; /* attempts sent here outside the request's preferred regions */
  _Atomic uint64_t residency_refused; /* requests refused by a data-residency rule (403, 503) */
  /* the winner's time on the provider, and the rest (sluice's overhead), core/metrics.c */
  _Atomic uint64_t upstream_bucket[SL_SHM_LAT_BUCKETS], upstream_count, upstream_sum_us;
  _Atomic uint64_t overhead_bucket[SL_SHM_OVH_BUCKETS], overhead_count, overhead_sum_us;
  _Atomic uint64_t status_code[SL_SHM_STATUS_SLOTS]; /* finished requests by status (metrics.c's table) */
  _Atomic uint64_t fallback_ok_from[SL_SHM_FALLBACK_FROM]; /* 2xx fallbacks here, by the requested group's index */
};

/* Virtual keys with a max_budget seen by a request (LiteLLM's remaining-budget gauge,
 * core/metrics.c): claimed by id, first come; the table's size bounds the series. */
#define SL_SHM_BUDGET_KEYS 256
struct sl_shm_budget_key {
  _Atomic uint64_t id;              /* 0 = free */
  _Atomic uint32_t ready;           /* hash and alias written */
  _Atomic uint64_t max_budget_bits; /* double, as last seen */
  uint8_t hash[32];
  char alias[128];
};

/* A sliding-window counter over one-minute windows (policy/ratelimit.h; exact across
 * processes: updated under its owner's lock). Minutes of the monotonic clock
 * (sl_now_ms() / 60000): system-wide, so every process and every reload generation of
 * this boot agrees on them, and a wall-clock step never moves a window. */
struct sl_shm_window {
  uint64_t minute; /* index of the current window (monotonic minutes) */
  int64_t prev, cur;
};

/* One entry of the limiter/spend table: a virtual key, a model group or the gateway.
 * Spend is kept in micro-USD as integers so atomic adds are exact (the ledger's unit);
 * budgets compare the period's spend in pico-USD, the unit costs are computed in, so a
 * budget far below a micro-USD (LiteLLM's tests use 0.0000001) is exact too. */
struct sl_shm_key {
  _Atomic uint64_t id;               /* 0 = free; else a nonzero hash of the key/group name */
  _Atomic uint32_t lock;
  struct sl_shm_window req, tok;     /* requests and tokens per minute */
  _Atomic int64_t spend_total_micro; /* everything added since this region was made (flushing) */
  _Atomic int64_t spend_flushed_micro; /* part of spend_total already in the LMDB ledger */
  _Atomic int64_t period_spend_pico;  /* spend in the current budget period (saturating) */
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
  /* Load: in flight, and the rpm/tpm sliding windows (owned by core/health_shm.c; read
   * and written under `lock`) */
  _Atomic int64_t inflight;
  struct sl_shm_window req, tok;
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
  /* cluster mode (core/cluster.c owns these): 0 off, 1 up, 2 degraded; ms spent degraded
   * before the current outage; when the current one began (0: up); the live-host count;
   * admissions by mode (SL_SHM_CLUSTER_*) */
  _Atomic uint32_t cluster_state, cluster_live_hosts;
  _Atomic uint64_t cluster_degraded_ms, cluster_down_since_ms;
  _Atomic uint64_t cluster_admissions[4];
};
enum { SL_SHM_CLUSTER_ADMIT_REDIS, SL_SHM_CLUSTER_ADMIT_DEGRADED, SL_SHM_CLUSTER_RECONCILED, SL_SHM_CLUSTER_ADMIT_N };

/* Per router and target group: what the router sent there (core/router.c). */
#define SL_SHM_MAX_ROUTERS 16
#define SL_SHM_ROUTER_TARGETS 64 /* by group index */
struct sl_shm_router_target {
  _Atomic uint64_t requests, shadow_would, cost_micro, strong_cost_micro;
};
#define SL_SHM_CASCADE_CHECKS 16 /* counters of a cascade's failed checks, by check (core/cascade.c) */
struct sl_shm_router {
  struct sl_shm_router_target t[SL_SHM_ROUTER_TARGETS];
  _Atomic uint64_t cascade_failed[SL_SHM_CASCADE_CHECKS];
};

/* Cluster mode's shared cooldowns and cache tier (core/cluster_health.c,
 * core/cluster_cache.c): every worker's counts, for /metrics. */
struct sl_shm_cluster_hc {
  _Atomic uint64_t cache_hits, cache_misses, cache_errors, cache_stores, cache_store_errors, cache_oversize;
  _Atomic uint64_t cooldowns_published, cooldowns_applied, recoveries_applied, probe_won, probe_lost, probe_errors;
};

/* The dashboard's ring of recent request summaries (core/dashboard.c owns it): every
 * worker writes, any worker reads. Fixed-size records, strings truncated to fixed widths,
 * nothing a pointer. A writer takes sequence number n = head++ (one atomic add), marks
 * slot n % SL_DASH_RING busy (seq = 2n+1), copies, then publishes seq = 2n+2; a reader
 * copies a slot and keeps the copy only if seq read before and after is 2n+2 (seqlock). */
#define SL_DASH_RING 4096
#define SL_DASH_ATTEMPTS 8
#define SL_DASH_ID 64   /* request ids, deployment-free names: 63 bytes + NUL */
#define SL_DASH_NAME 64 /* group, key, router, fallback names */
#define SL_DASH_PATH 96
struct sl_dash_attempt {
  int32_t dep;          /* index into the generation's deployments; -1: none */
  int16_t group;        /* its group's index; -1: none */
  uint16_t status;      /* upstream HTTP status; 0: none */
  uint8_t outcome;      /* enum sl_attempt_outcome */
  uint8_t flags;        /* 1: hedge, 2: probe */
  uint32_t start_ms;    /* offset from the request's start */
  uint32_t dur_ms;
};
struct sl_dash_rec {
  _Atomic uint64_t seq; /* 2n+1 while record n is written, 2n+2 once it is whole */
  uint64_t ts_ms;       /* wall clock, unix ms, at the request's start */
  uint64_t end_mono_ms; /* monotonic ms at its end (the overview's window) */
  uint32_t latency_ms, ttft_ms, upstream_ms; /* ttft/upstream: UINT32_MAX = none */
  int32_t group_index, fallback_index; /* asked-for group, answering fallback; -1: none */
  int64_t tokens_in, tokens_out, cost_pico;
  double router_score;
  uint16_t status;
  uint8_t cache, natt, nfallbacks, flags; /* flags: 1 stream, 2 router_scored, 4 hedge_won,
                                             8 attempts truncated, 16 master/no key */
  uint8_t hedges_fired, method_len;
  int16_t router_index; /* plan->routers index; -1: none */
  int16_t router_would; /* shadow: its group index; -1: none */
  int16_t fallbacks[4]; /* groups tried after the first (group index), in order */
  struct sl_dash_attempt att[SL_DASH_ATTEMPTS];
  /* the strings last: readers that need only the numbers copy the prefix before `id` */
  char id[SL_DASH_ID];
  char method[8];
  char path[SL_DASH_PATH];
  char key[SL_DASH_NAME];
  char router_reason[SL_DASH_NAME];
  char err[SL_DASH_NAME];
};
struct sl_shm_dash {
  _Atomic uint64_t head; /* records ever written: the next sequence number */
  struct sl_dash_rec ring[SL_DASH_RING];
};

struct sl_shm {
  uint32_t magic;
  uint32_t ndeployments;
  uint64_t epoch;                     /* random per region: tells spend flushes apart */
  _Atomic int64_t hedge_budget_milli; /* token bucket shared by all workers */
  _Atomic uint32_t draining;          /* readiness turns false while set */
  uint32_t nkeys;                     /* slots of the key table (2 x max_keys) */
  _Atomic uint32_t nkeys_used;        /* slots claimed */
  uint64_t keys_off;                  /* its byte offset from the start of the region */
  uint64_t claimed_off;               /* offset of _Atomic uint32_t claimed[nkeys]: slot + 1 of
                                         each claim in claim order (0: being written), so
                                         a scan of the used slots never touches the rest */
  struct sl_shm_worker workers[SL_SHM_MAX_WORKERS];
  struct sl_shm_metrics groups[SL_SHM_MAX_WORKERS]; /* by group index */
  struct sl_shm_router routers[SL_SHM_MAX_ROUTERS]; /* by router index (plan.h) */
  struct sl_shm_cluster_hc cluster_hc;              /* cluster mode's cooldowns and cache tier */
  struct sl_shm_budget_key budget_keys[SL_SHM_BUDGET_KEYS]; /* core/metrics.c */
  struct { _Atomic uint64_t exported, dropped, failed; } trace_spans; /* core/trace.c */
  struct sl_shm_dash dash;                          /* the dashboard's recent requests */
  struct sl_shm_deployment deployments[];
  /* then, at keys_off: struct sl_shm_key keys[nkeys]; at claimed_off: the claim list */
};

/* The key table (nkeys slots). */
/* The EWMA fields hold doubles as their bit patterns (atomics of uint64_t): both ways. */
static inline double sl_shm_bits_to_d(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}
static inline uint64_t sl_shm_d_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

static inline struct sl_shm_key *sl_shm_keys(struct sl_shm *s) {
  return (struct sl_shm_key *)(void *)((char *)s + s->keys_off);
}

/* The slot for id (a nonzero hash), claimed on first use; NULL when the table is full. */
struct sl_shm_key *sl_shm_key_slot(struct sl_shm *s, uint64_t id);
/* The slot of id if one was claimed; never claims (admin reads). */
struct sl_shm_key *sl_shm_key_find(struct sl_shm *s, uint64_t id);
/* Claimed slots in claim order, for scans (the spend flusher): positions 0 ..
 * sl_shm_key_claims(s) - 1; sl_shm_key_claimed returns the slot index of a position, or
 * -1 while its claim is still being recorded (the next scan sees it). */
size_t sl_shm_key_claims(struct sl_shm *s);
/* A reload is not a restart for limits either: copies the rate-limit windows (requests
 * and tokens per minute) of every key, group and gateway slot claimed in `from` into the
 * slot of the same id in `to` (claimed there), before the new generation serves. Spend
 * bookkeeping is not copied (the ledger has it) and neither are in-flight counts (the old
 * workers release their own). */
void sl_shm_carry_limits(struct sl_shm *from, struct sl_shm *to);
int64_t sl_shm_key_claimed(struct sl_shm *s, size_t pos);

/* max_keys: how many keys, groups and gateway entries the table must hold (0: the
 * default); the table gets 2 x max_keys slots. -EINVAL above SL_SHM_KEY_SLOTS_MAX. */
int sl_shm_create(size_t ndeployments, size_t max_keys, struct sl_shm **out);
void sl_shm_destroy(struct sl_shm *s);

/* Cross-process spinlock for one deployment's multi-field state. A holder that died
 * (kill -9) cannot block others for long: after ~1 ms of spinning the lock is taken. */
void sl_shm_lock(_Atomic uint32_t *l);
void sl_shm_unlock(_Atomic uint32_t *l);

#endif
