/* The response cache: 32-byte keys (core/cache_key.h) -> stored response bytes with a
 * TTL, in the shared LMDB environment (store/lmdb_env.h). The one idea: the event loop
 * only ever reads (a memory-mapped lookup in a long-lived read txn that is renewed per
 * lookup and reset right after); everything that writes (puts, LRU touches, deletes of
 * bad entries, eviction, flush, counters) is queued to a writer thread per process that
 * batches it into few write transactions. Puts wake the writer at once; touches and
 * counters wait for its tick (maintenance_ms), so a stream of hits costs about one
 * small commit a second. The queue is bounded and drops when full, and MDB_MAP_FULL
 * never reaches a request: the batch is retried once after eviction, else dropped and
 * counted; the filesystem running out of space (ENOSPC, EDQUOT) is handled the same way,
 * with eviction below the pages in use (the file cannot grow). If the map is full to its last page, so that even a delete cannot get the
 * pages its copy-on-write needs, the map grows by 1/64 (at most 1/16 in all) to get out.
 *
 * Stored value: a 40-byte header {magic "SLC1", version, header length, stored_at,
 * expires_at, body length, CRC32C over key + header + body} then the body. A value whose
 * header, length or checksum does not match is a miss and is deleted.
 *
 * Eviction (by the writer, when the pages in use pass high_water of the map size, and
 * after MDB_MAP_FULL): expired entries first, then approximate LRU down to low_water.
 * Recency lives in the "cache_lru" database (key -> {last access, expires_at, size});
 * a hit queues a touch, which the writer applies only when the recorded access is older
 * than touch_granularity_s (and the reader suppresses repeated touches of a hot key),
 * so hot keys cost almost no writes. The victims are chosen with a size-weighted
 * histogram of access times (4096 buckets): bounded memory, exact LRU order whenever
 * the access times span fewer than 4096 distinct seconds, bucket order otherwise. A
 * fresh entry's access time is its stored_at, so with no hits this is oldest-first.
 *
 * Time: no clock reads. Callers pass now_unix (wall-clock seconds) into every call;
 * the writer uses the latest value it was given for expiry decisions.
 *
 * Threads: sl_cache_get / sl_cache_stats_get use the cache's one read txn and must be
 * called from a single thread (the worker's loop thread). sl_cache_put / sl_cache_flush
 * may be called from any thread and never block on the disk. */
#ifndef SL_STORE_CACHE_H
#define SL_STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/lmdb_env.h"

#define SL_CACHE_KEY_LEN 32
#define SL_CACHE_HDR_LEN 40

struct sl_cache;

struct sl_cache_opts {
  double high_water;            /* fraction of the map size that starts eviction; default 0.90 */
  double low_water;             /* eviction goes down to this fraction; default 0.70 */
  size_t max_value;             /* largest body stored; default map/64, at most 64 MiB */
  size_t queue_max_ops;         /* queued puts/touches/deletes; default 4096 */
  size_t queue_max_bytes;       /* queued bytes; default min(64 MiB, map/4) */
  size_t batch_max_ops;         /* ops per write txn; default 256 */
  unsigned touch_granularity_s; /* default 10 */
  unsigned maintenance_ms;      /* writer wakes this often to publish counters; default 1000 */
};

struct sl_cache_entry {
  char *value;        /* malloc'd copy of the stored body, NUL-terminated; free with free() */
  size_t len;
  int64_t stored_at;  /* unix seconds */
  int64_t expires_at; /* unix seconds; ttl = expires_at - stored_at */
};

struct sl_cache_stats {
  /* the whole environment (every process) */
  uint64_t entries;     /* live entries (expired ones not yet evicted included) */
  uint64_t bytes;       /* stored value bytes (headers + bodies) */
  uint64_t used_bytes;  /* pages in use x page size, measured by this call */
  uint64_t max_bytes;   /* the configured bound (map size) */
  /* counters summed over every process since the file was created; this process's
   * are included before its writer publishes them, except for the ones inside a commit
   * at this very moment (they show up a few milliseconds later) */
  uint64_t hits, misses, stores, evictions, expired, dropped_writes, oversize, errors;
  /* store trouble by reason: the filesystem was found full (ENOSPC, EDQUOT, or less room
   * than a batch needs: eviction inside the file runs, as for a full map, and a failed
   * batch is retried), batches dropped because the map stayed full after eviction, and
   * any other I/O or LMDB error */
  uint64_t err_no_space, err_map_full, err_io;
  /* this process */
  uint64_t queued_ops, queued_bytes;
  bool broken;          /* the environment reported corruption; the cache is off */
};

/* Starts the cache on an open environment (which must outlive it) and its writer
 * thread. Call in the worker process after fork, from the loop thread. opts may be
 * NULL (defaults). */
int sl_cache_open(struct sl_lmdb *env, const struct sl_cache_opts *opts, struct sl_cache **out);
/* Applies everything queued, publishes the counters, joins the writer thread and frees
 * the cache. The environment stays open. */
void sl_cache_close(struct sl_cache *c);

/* Lookup. 0 on a hit (out filled; the caller frees out->value); otherwise a miss:
 * -ENOENT (absent or expired), -EBADMSG (damaged; deleted by the writer), -EIO (the
 * environment failed), -ENOMEM. Counts the hit or miss. */
int sl_cache_get(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN], int64_t now_unix,
                 struct sl_cache_entry *out);
void sl_cache_entry_free(struct sl_cache_entry *e);

/* Queues a store of len bytes (copied) for ttl_s seconds. Never blocks on the disk.
 * 0 when queued; -EINVAL (ttl_s <= 0), -EFBIG (over max_value), -ENOBUFS (queue
 * full: dropped and counted), -EIO (cache broken), -ENOMEM. */
int sl_cache_put(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN], const void *value, size_t len,
                 int64_t ttl_s, int64_t now_unix);

/* Queues a flush of every entry (DELETE /cache); puts queued earlier are discarded,
 * later ones are applied after it. Returns at once. */
int sl_cache_flush(struct sl_cache *c);

/* Fills st; a read txn, no disk write. */
int sl_cache_stats_get(struct sl_cache *c, struct sl_cache_stats *st);

/* Store failures since the last report, for one log line per interval: 1 (out filled)
 * when some failed and at least interval_ms passed since the last report (now_ms: any
 * monotonic clock of the caller), else 0. Loop thread. */
struct sl_cache_error_report {
  uint64_t no_space, map_full, io;
  int last_errno; /* errno-style (ENOSPC, EIO, ...) or an LMDB code; mdb_strerror names both */
};
int sl_cache_errors_report(struct sl_cache *c, uint64_t now_ms, uint64_t interval_ms,
                           struct sl_cache_error_report *out);

/* Blocks until everything queued before the call is committed. For tests, tools and
 * shutdown; never on the event loop. */
int sl_cache_sync(struct sl_cache *c);

/* Checks a stored value (header, length, checksum) for key; on success gives the body
 * and times. For tests and tools that walk the database. -EBADMSG when damaged. */
int sl_cache_value_verify(const uint8_t key[SL_CACHE_KEY_LEN], const void *v, size_t len, const void **body,
                          size_t *body_len, int64_t *stored_at, int64_t *expires_at);
/* CRC32C (Castagnoli), as used in the value header; crc starts at 0. */
uint32_t sl_cache_crc32c(uint32_t crc, const void *p, size_t n);

#endif
