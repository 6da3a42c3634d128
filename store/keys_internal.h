/* Internals shared by store/keys.c, store/spend.c and store/spend_flush.c: transactions
 * that follow the environment's remap_lock rule, SHA-256, and the spend database's key
 * layout. Not an API for other rooms. The one idea: every txn these files open holds
 * remap_lock shared for its whole life, so a remap (which needs no txn of this process
 * inside the map) can never pull the map from under one of them. */
#ifndef SL_STORE_KEYS_INTERNAL_H
#define SL_STORE_KEYS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/lmdb_env.h"
#include "store/spend.h"

/* Begins a txn (flags: 0 or MDB_RDONLY) holding e->remap_lock shared. On
 * MDB_MAP_RESIZED (another process grew the file) the map is re-established once and
 * the begin retried. Returns an LMDB code; on success end it with sl__keys_commit/sl__keys_abort. */
int sl__keys_begin(struct sl_lmdb *e, unsigned flags, MDB_txn **t);
int sl__keys_commit(struct sl_lmdb *e, MDB_txn *t);
void sl__keys_abort(struct sl_lmdb *e, MDB_txn *t);
/* The same for a long-lived read txn that is renewed and reset (one thread only). */
int sl__keys_renew(struct sl_lmdb *e, MDB_txn *t);
void sl__keys_reset(struct sl_lmdb *e, MDB_txn *t);

/* Runs fn inside one write txn and commits when fn returns 0. fn returns 0 or an LMDB
 * code (MDB_* or a positive errno such as ENOENT). MDB_MAP_FULL (the cache left no
 * room) grows the map once (sl_lmdb_grow) and runs fn again from scratch, so fn must
 * compute everything it writes inside the txn. Returns 0 or -errno. */
int sl__keys_write(struct sl_lmdb *e, int (*fn)(MDB_txn *t, void *ctx), void *ctx);

void sl__keys_sha256(const void *p, size_t n, uint8_t out[32]);

/* ---- the "spend" database ----
 *   'R' kind id(8, big-endian) day(4, big-endian) -> struct sl__keys_row   daily rows
 *   'T' kind id                                   -> struct sl__keys_row   totals
 *   'P' kind id                                   -> struct sl__keys_period current budget period
 *   'M' id epoch(8, big-endian)                   -> struct sl__keys_meta  flush progress of a
 *                                                    shm slot in one shm epoch
 *   'L' kind id                                   -> label bytes (key alias, group name)
 *   'K' hash(32)                                  -> u64 sequence: cluster mode's "to push"
 *                                                    mark of a key (store/keys.h)
 *   'E' 'k'                                       -> the Redis key epoch last synced with
 *   'E' 's'                                       -> this ledger's id (32 hex, cluster mode)
 * Values are native byte order (the file never leaves the host) and start with a
 * version word. */
#define SLK_ROW_KEY_LEN 14
#define SLK_ID_KEY_LEN 10
#define SLK_META_KEY_LEN 17
#define SLK_VERSION 1u

struct sl__keys_row {
  uint32_t version, reserved;
  int64_t v[SL_SPEND_NFIELDS]; /* micro-USD, requests, tokens in, tokens out */
};

struct sl__keys_period {
  uint32_t version, reserved;
  uint64_t period_start;
  int64_t v[SL_SPEND_NFIELDS];
};

struct sl__keys_meta {
  uint32_t version, reserved;
  int64_t flushed[SL_SPEND_NFIELDS];
  int64_t updated_at; /* unix seconds; rows of dead epochs are dropped after a week */
};

void sl__keys_put_be64(uint8_t *p, uint64_t v);
uint64_t sl__keys_get_be64(const uint8_t *p);
void sl__keys_row_key(uint8_t k[SLK_ROW_KEY_LEN], unsigned kind, uint64_t id, uint32_t day);
void sl__keys_id_key(uint8_t k[SLK_ID_KEY_LEN], char tag, unsigned kind, uint64_t id);

/* Adds d to the day row, the total row and the period row of (kind, id) in txn t. The
 * period row restarts when period_start is newer than the stored one. */
int sl__keys_spend_add(struct sl_lmdb *e, MDB_txn *t, unsigned kind, uint64_t id, uint32_t day, uint64_t period_start,
                  const int64_t d[SL_SPEND_NFIELDS]);
/* Writes the label row of (kind, id) unless it already says label. */
int sl__keys_label_put(struct sl_lmdb *e, MDB_txn *t, unsigned kind, uint64_t id, const char *label, size_t n);

#endif
