/* Cluster mode: several sluice instances ("hosts") behind a load balancer share, through
 * one Redis, what every host must agree on: key RPM/TPM windows and budgets (admission in
 * one EVALSHA), deployment rpm/tpm, virtual keys, cooldowns and half-open probes, spend
 * totals, and a second response-cache tier. Latency EWMA, sketches and the hedge budget
 * stay per host. Off (every function a no-op, w->cluster NULL) unless the config names a
 * Redis (core/config: cfg->cluster.redis.enabled).
 *
 * Each worker owns a struct sl_cluster: one pipelined command connection and one
 * subscriber connection (core/redis_conn.h). Features live in their own files and hang
 * off this struct:
 *   core/cluster.c         connections, heartbeat and live-host count, degraded state,
 *                          pub/sub dispatch, metrics
 *   core/cluster_admit.c   admission script (key RPM/TPM/budget + the chosen deployment's
 *                          rpm/tpm), settlement, degraded-mode shares and reconciliation
 *   core/cluster_keys.c    virtual keys: Redis hash + pub/sub + version, resync
 *   core/cluster_spend.c   cumulative per-(period, key, group) spend published per host;
 *                          exact /spend/report and /key/info across hosts
 *   core/cluster_health.c  cooldowns and Retry-After spread by pub/sub; probe claimed once
 *   core/cluster_cache.c   the Redis cache tier behind LMDB
 * To add a feature: a file of its own, a pointer in struct sl_cluster, an init/close
 * call in sl_cluster_open/close, a channel in the pub/sub dispatch if it listens.
 *
 * Redis keys are "<ns>:{<tag>}:<rest>": the hash tag keeps one key's (or one
 * deployment's) counters on one slot. */
#ifndef SL_CORE_CLUSTER_H
#define SL_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct sl_worker;
struct sl_request;
struct sl_redis;
struct sl_cluster_admit_state;
struct sl_cluster_keys;
struct sl_cluster_spend;
struct sl_cluster_health;
struct sl_cluster_cache;

struct sl_cluster {
  struct sl_worker *w;
  struct sl_redis *cmd;       /* commands (pipelined) */
  struct sl_redis *sub;       /* SUBSCRIBE connection */
  char instance[128];         /* this host's id (cfg->cluster.redis.instance) */
  char ns[64];                /* key prefix */
  bool up;                    /* cmd and sub both up: not degraded */
  uint64_t down_since_ms;     /* when it became degraded (0: up) */
  unsigned live_hosts;        /* hosts with a fresh heartbeat, >= 1 (this one); last known */
  uv_timer_t *heartbeat;      /* (allocated: uv handles must outlive close) */
  struct sl_cluster_admit_state *admit;
  struct sl_cluster_keys *keys;
  struct sl_cluster_spend *spend;
  struct sl_cluster_health *health;
  struct sl_cluster_cache *cache;
};

/* Worker lifecycle (core/worker.c): after the tenancy store is open; before it closes. */
int sl_cluster_open(struct sl_worker *w);
void sl_cluster_close(struct sl_worker *w);
/* Degraded: Redis cannot be reached (or stopped answering). */
bool sl_cluster_degraded(const struct sl_worker *w);
/* ceil(limit / live hosts): each host's share while degraded. */
int64_t sl_cluster_share(const struct sl_worker *w, int64_t limit);

/* The pub/sub channel names ("<ns>:keys", "<ns>:health", "<ns>:cache"). */
#define SL_CLUSTER_CH_KEYS "keys"
#define SL_CLUSTER_CH_HEALTH "health"
#define SL_CLUSTER_CH_CACHE "cache"
/* Builds "<ns>:<suffix>" into out; returns its length. */
size_t sl_cluster_name(const struct sl_cluster *c, const char *suffix, char *out, size_t cap);

/* Metrics (core/metrics.c): sluice_cluster_redis_up, sluice_cluster_degraded_seconds_total,
 * sluice_cluster_live_hosts and the features' counters; appended to b. */
struct sl_buf;
void sl_cluster_metrics(const struct sl_worker *w, struct sl_buf *b);
/* Adds one to this worker's cluster counter `which` (SL_SHM_CLUSTER_* in store/shm.h). */
void sl_cluster_count(const struct sl_worker *w, int which);

#endif
