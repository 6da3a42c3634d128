/* Internals shared by store/cache.c (the loop-thread side: lookups, queueing, stats)
 * and store/cache_writer.c (the writer thread: batches, eviction, flush). Not an API
 * for other rooms. The one idea: the queue and its mutex are the only thing both
 * threads touch, apart from a few atomics (counters not yet published, the latest
 * clock value, the broken flag). */
#ifndef SL_STORE_CACHE_INTERNAL_H
#define SL_STORE_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/cache.h"

#define SL_CACHE_MAGIC 0x31434c53u /* "SLC1" little-endian */
#define SL_CACHE_VERSION 1
#define SL_CACHE_TOUCH_SLOTS 256

/* The stored value's header (native byte order: the file never leaves the host). */
struct sl_cache_hdr {
  uint32_t magic;
  uint16_t version;
  uint16_t hdr_len;
  int64_t stored_at;
  int64_t expires_at;
  uint64_t body_len;
  uint32_t crc; /* CRC32C of key, this header with crc = 0, body */
  uint32_t reserved;
};
_Static_assert(sizeof(struct sl_cache_hdr) == SL_CACHE_HDR_LEN, "cache header is 40 bytes");

/* "cache_lru" value: what eviction needs without touching the (maybe large) value. */
struct sl_cache_meta {
  int64_t atime;      /* last recorded access (stored_at when never hit) */
  int64_t expires_at;
  uint64_t size;      /* stored value bytes, header included */
};

/* "cache_stats" record "totals": counters summed over every process. */
struct sl_cache_totals {
  uint64_t version;
  uint64_t hits, misses, stores, evictions, expired, dropped, oversize, errors;
  uint64_t bytes;
  /* appended later: a shorter record from an older build loads with these at 0 */
  uint64_t err_no_space, err_map_full, err_io;
};

enum sl_cache_op_kind { SL_CACHE_OP_PUT, SL_CACHE_OP_TOUCH, SL_CACHE_OP_DEL_BAD };

struct sl_cache_op {
  uint8_t kind;
  uint8_t key[SL_CACHE_KEY_LEN];
  int64_t t;        /* touch: access time */
  char *buf;        /* put: header + body, header sealed by the writer */
  size_t len;
  uint64_t seq;
};

struct sl_cache {
  struct sl_lmdb *e;
  struct sl_cache_opts o;
  MDB_txn *rtxn;  /* loop thread: lookups and stats */
  MDB_txn *wrtxn; /* writer thread: measurements and eviction scans */

  pthread_mutex_t mu;
  pthread_cond_t wake; /* writer waits for work */
  pthread_cond_t idle; /* sl_cache_sync waits for done_seq */
  struct sl_cache_op *ring;
  size_t cap, head, n, qbytes;
  bool flush_pending, stop;
  size_t puts_queued;     /* puts wake the writer at once; touches wait for its tick */
  unsigned sync_waiters;
  uint64_t enq_seq, done_seq;
  pthread_t thr;
  bool thr_started;

  _Atomic int64_t now;
  _Atomic uint64_t d_hits, d_misses, d_dropped, d_oversize, d_errors; /* not yet published */
  _Atomic uint64_t d_no_space, d_map_full, d_io;                       /* failed stores by reason, ditto */
  _Atomic uint64_t r_no_space, r_map_full, r_io; /* ditto, since the last sl_cache_errors_report */
  _Atomic int r_errno;                           /* the last store error (errno-style, or an MDB_ code) */
  uint64_t report_ms;                            /* loop thread: when the last report was due */
  bool reported;
  _Atomic uint64_t used_bytes;
  _Atomic bool broken;

  /* loop thread only: suppresses repeated touches of hot keys */
  struct {
    uint64_t k;
    int64_t t;
  } touched[SL_CACHE_TOUCH_SLOTS];

  /* writer only */
  size_t high_pages, low_pages, nodemax;
  size_t bytes_since_measure;
  size_t batch_puts; /* puts in the batch being applied (writer thread) */
  unsigned batches_since_measure, ticks;
};

void *sl_cache_writer_main(void *arg);
/* Fills a put's header checksum (writer side, off the loop). */
void sl_cache_value_seal(const uint8_t key[SL_CACHE_KEY_LEN], char *buf, size_t len);

#endif
