/* The response cache's second tier (cluster mode with cache_params.type: redis;
 * core/cluster_cache.c): Redis behind the local LMDB cache, so one host's fill is
 * another host's hit. Same key as the local cache (rq->ckey: virtual-key scope, group,
 * namespace, endpoint, body), so per-key separation holds across hosts too. */
#ifndef SL_CORE_CLUSTER_CACHE_H
#define SL_CORE_CLUSTER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/verdict.h"

struct sl_request;
struct sl_worker;
struct sl_buf;

/* Largest answer the tier stores (bigger ones stay local, counted). */
#define SL_CLUSTER_CACHE_MAX_VALUE ((size_t)8 << 20)

/* After a local MISS, for the single-flight leader (rq->ckey set): SL_CACHE_PENDING (a GET
 * is on its way: a hit is served and written into the local cache, a miss, an error or
 * a timeout calls upstream: sl_attempts_start), or SL_CACHE_MISS at once (no tier, or
 * Redis is down: go upstream now). */
enum sl_cache_kind sl_cluster_cache_lookup(struct sl_request *rq);
/* A fill of the local cache: the same answer goes to Redis too (asynchronously, PX ttl_s),
 * unless the tier is off, Redis is down or the answer is above the bound. */
void sl_cluster_cache_store(struct sl_worker *w, const uint8_t ckey[32], const char *json, size_t len,
                            int64_t stored_at, int64_t ttl_s);

/* The stored value: "SLR1 <stored_at> <expires_at>\n" (unix seconds) then the answer's
 * bytes, so a hit on another host has the entry's age and end. Appends to out; 0 or
 * -ENOMEM / -EINVAL. */
int sl_cluster_cache_value_encode(int64_t stored_at, int64_t expires_at, const char *body, size_t len,
                                  struct sl_buf *out);
/* 0 with the header's times and where the body starts, or -EINVAL (not such a value). */
int sl_cluster_cache_value_decode(const char *p, size_t n, int64_t *stored_at, int64_t *expires_at, size_t *body_off);

/* Flush across the cluster (DELETE /cache in cluster mode; the caller has flushed this
 * host's local cache already): deletes the tier's entries "<ns>:{c}:*" (a script that
 * SCANs one batch and UNLINKs it, called until the cursor is back at 0, so Redis is never
 * blocked by a long scan), then PUBLISHes "flush <instance>" on "<ns>:cache": every
 * worker of every host (this one's included) flushes its local cache when it hears it.
 * Without the tier only the message is sent. Returns 0 when started (done is called
 * exactly once, later), or -ENOTCONN (not in cluster mode, or Redis is down: nothing was
 * sent, done is not called). Entries filled concurrently (an answer already on its way
 * from upstream when the flush ran) may survive it. */
struct sl_cluster_cache_flushed {
  bool ok;          /* the tier's entries were deleted and the other hosts told */
  bool tier;        /* the Redis tier is on (there was something to delete) */
  uint64_t deleted; /* tier entries deleted (so far, when !ok) */
  const char *err;  /* when !ok: why ("timeout", "connection lost", a Redis error, ...) */
};
typedef void (*sl_cluster_cache_flush_cb)(void *ud, const struct sl_cluster_cache_flushed *f);
int sl_cluster_cache_flush(struct sl_worker *w, sl_cluster_cache_flush_cb done, void *ud);

/* sluice_cache_redis_{hits,misses,errors,stores,oversize}_total; appended to b (with the
 * tier on only). */
void sl_cluster_cache_metrics(const struct sl_worker *w, struct sl_buf *b);

#endif
