/* The semantic cache's vector index: entries {32-byte cache key, 64-bit scope, unit
 * vector of a fixed dimension, stored_at, expires_at}, persisted in LMDB (the vectors
 * environment, databases "semcache" and "semcache_meta") and searched in memory. The
 * one idea: the LMDB database is an append-only log keyed by a global sequence number
 * (8 bytes big-endian), so every process's in-memory copy catches up by reading the
 * records after the last one it saw, and the copy is a ring of max_entries slots
 * indexed by seq % max_entries: the newest max_entries entries, eviction oldest-first
 * for free, identical in every process. "semcache_meta" holds the next sequence number;
 * a lookup compares it with the copy's (one read txn) before searching.
 *
 * Search: entries of the asked scope only, not expired. Exact (a dot product per
 * entry of the scope, a loop the compiler vectorises) while the index holds fewer than
 * ann_min entries; above that, an HNSW graph (hnswlib, store/vindex_hnsw.cpp) gives the
 * candidates, filtered by scope and expiry; when none of them is in the scope (a small
 * scope among big ones), the exact scan of that scope answers.
 *
 * Record: 72-byte header {magic "SLV1", version u16, dim u16, crc32c u32 (over the
 * sequence key and every byte after the crc field), reserved u32, cache key[32], scope
 * u64, stored_at i64, expires_at i64} then dim floats, all little-endian as the host
 * (the file never leaves the machine). A record that fails to decode (torn, damaged,
 * another dimension) is skipped and deleted.
 *
 * Time: no clock reads; callers pass now (unix seconds). Threads: one thread per index
 * (the worker's loop), except sl_vindex_append, which any thread may call.
 * To change the record: bump the version; old records then decode as damaged and go. */
#ifndef SL_STORE_VINDEX_H
#define SL_STORE_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/lmdb_env.h"

#define SL_VINDEX_KEY_LEN 32
#define SL_VINDEX_HDR_LEN 72
#define SL_VINDEX_MAX_DIM 4096

struct sl_vindex;

struct sl_vindex_opts {
  unsigned dim;                  /* required, 1..SL_VINDEX_MAX_DIM */
  size_t max_entries;            /* the bound; default 10000 */
  size_t ann_min;                /* entries from which the HNSW index answers; default 2048
                                    (SIZE_MAX: always exact) */
  unsigned hnsw_m;               /* graph degree; default 16 */
  unsigned hnsw_ef_construction; /* default 100 */
  unsigned hnsw_ef_search;       /* default 128 (recall 0.96 at 100k random vectors; 64: 0.83) */
  unsigned hnsw_k;               /* candidates checked for scope/expiry; default 16 */
  size_t catchup_max;            /* records read per catch-up (bounds one lookup's work); default 1024 */
};

struct sl_vindex_hit {
  uint8_t key[SL_VINDEX_KEY_LEN];
  float similarity; /* dot product of the unit vectors */
  int64_t stored_at, expires_at;
  uint64_t seq;
};

struct sl_vindex_stats {
  size_t entries;    /* in this process's copy (live or expired) */
  uint64_t next_seq; /* the copy has read every record below this */
  uint64_t skipped;  /* damaged records skipped (and deleted) by this process */
  bool ann;          /* the last search used the HNSW index */
};

/* env must outlive the index (it must have the semcache databases: sl_lmdb_open). */
int sl_vindex_open(struct sl_lmdb *env, const struct sl_vindex_opts *o, struct sl_vindex **out);
void sl_vindex_close(struct sl_vindex *vx);

/* Appends an entry to the store (a write txn, committed with the environment's sync
 * flags; older entries past max_entries are deleted in the same txn). v must be a unit
 * vector of dim floats. Touches only the environment and the options: may run on
 * another thread than the index's (the loop hands it to a thread pool, so the commit's
 * fsync never stalls it); the copy sees the entry at its next catch-up. 0, -EINVAL,
 * -EIO, -ENOMEM. */
int sl_vindex_append(struct sl_vindex *vx, const uint8_t key[SL_VINDEX_KEY_LEN], uint64_t scope, const float *v,
                     int64_t now, int64_t ttl_s);
/* sl_vindex_append then sl_vindex_catch_up (the index's thread only). */
int sl_vindex_add(struct sl_vindex *vx, const uint8_t key[SL_VINDEX_KEY_LEN], uint64_t scope, const float *v,
                  int64_t now, int64_t ttl_s);
/* Reads records other processes appended (at most catchup_max). 0 or -EIO. */
int sl_vindex_catch_up(struct sl_vindex *vx);
/* The most similar live entry of scope (catches up first): 0 (hit filled), -ENOENT. */
int sl_vindex_search(struct sl_vindex *vx, uint64_t scope, const float *q, int64_t now, struct sl_vindex_hit *hit);
/* The same, forced exact (for tests and the benchmark's recall). */
int sl_vindex_search_exact(struct sl_vindex *vx, uint64_t scope, const float *q, int64_t now,
                           struct sl_vindex_hit *hit);
void sl_vindex_stats_get(const struct sl_vindex *vx, struct sl_vindex_stats *st);
unsigned sl_vindex_dim(const struct sl_vindex *vx);

/* Record codec (pure; the fuzz target). encode writes SL_VINDEX_HDR_LEN + 4*dim bytes. */
struct sl_vindex_record {
  uint8_t key[SL_VINDEX_KEY_LEN];
  uint64_t scope;
  int64_t stored_at, expires_at;
  unsigned dim;
  const float *v; /* decode: points into the buffer (may be unaligned: memcpy it) */
};
size_t sl_vindex_record_size(unsigned dim);
void sl_vindex_record_encode(uint64_t seq, const struct sl_vindex_record *r, uint8_t *out);
/* 0, or -EBADMSG (bad magic, version, length, dimension other than want_dim when
 * want_dim != 0, checksum). */
int sl_vindex_record_decode(uint64_t seq, const void *buf, size_t len, unsigned want_dim, struct sl_vindex_record *out);

#endif
