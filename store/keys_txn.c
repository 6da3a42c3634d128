/* Transactions for the key store and the spend ledger, and SHA-256 (mbedcrypto). The
 * one idea: every txn here holds the environment's remap_lock shared from begin to
 * end, and a begin that finds the file grown by another process (MDB_MAP_RESIZED)
 * re-establishes the map with no lock of its own held, then retries once. */
#include <errno.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "store/keys_internal.h"

static int remap(struct sl_lmdb *e) {
  atomic_store(&e->need_remap, true);
  return sl_lmdb_remap(e);
}

int sl__keys_begin(struct sl_lmdb *e, unsigned flags, MDB_txn **t) {
  for (int attempt = 0;; attempt++) {
    pthread_rwlock_rdlock(&e->remap_lock);
    int rc = mdb_txn_begin(e->env, NULL, flags, t);
    if (rc == 0) return 0;
    pthread_rwlock_unlock(&e->remap_lock);
    if (rc != MDB_MAP_RESIZED || attempt || remap(e)) return rc;
  }
}

int sl__keys_commit(struct sl_lmdb *e, MDB_txn *t) {
  int rc = mdb_txn_commit(t);
  pthread_rwlock_unlock(&e->remap_lock);
  return rc;
}

void sl__keys_abort(struct sl_lmdb *e, MDB_txn *t) {
  mdb_txn_abort(t);
  pthread_rwlock_unlock(&e->remap_lock);
}

int sl__keys_renew(struct sl_lmdb *e, MDB_txn *t) {
  for (int attempt = 0;; attempt++) {
    pthread_rwlock_rdlock(&e->remap_lock);
    int rc = mdb_txn_renew(t);
    if (rc == 0) return 0;
    pthread_rwlock_unlock(&e->remap_lock);
    if (rc != MDB_MAP_RESIZED || attempt || remap(e)) return rc;
  }
}

void sl__keys_reset(struct sl_lmdb *e, MDB_txn *t) {
  mdb_txn_reset(t);
  pthread_rwlock_unlock(&e->remap_lock);
}

int sl__keys_write(struct sl_lmdb *e, int (*fn)(MDB_txn *t, void *ctx), void *ctx) {
  bool grown = false;
  for (;;) {
    MDB_txn *t;
    int rc = sl__keys_begin(e, 0, &t);
    if (rc) return sl_lmdb_err(rc);
    rc = fn(t, ctx);
    if (rc == 0)
      rc = sl__keys_commit(e, t);
    else
      sl__keys_abort(e, t);
    if (rc == MDB_MAP_FULL && !grown) {
      grown = true;
      sl_lmdb_reader_check(e); /* a dead reader can pin free pages */
      if (sl_lmdb_grow(e) == 0) continue;
    }
    if (rc == 0) sl_lmdb_reserve(e); /* keep the tenancy store's disk reserve whole */
    return sl_lmdb_err(rc);
  }
}

void sl__keys_sha256(const void *p, size_t n, uint8_t out[32]) {
#if MBEDTLS_VERSION_MAJOR >= 3
  mbedtls_sha256(p, n, out, 0);
#else
  mbedtls_sha256_ret(p, n, out, 0);
#endif
}

void sl__keys_put_be64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

uint64_t sl__keys_get_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

void sl__keys_row_key(uint8_t k[SLK_ROW_KEY_LEN], unsigned kind, uint64_t id, uint32_t day) {
  k[0] = 'R';
  k[1] = (uint8_t)kind;
  sl__keys_put_be64(k + 2, id);
  k[10] = (uint8_t)(day >> 24);
  k[11] = (uint8_t)(day >> 16);
  k[12] = (uint8_t)(day >> 8);
  k[13] = (uint8_t)day;
}

void sl__keys_id_key(uint8_t k[SLK_ID_KEY_LEN], char tag, unsigned kind, uint64_t id) {
  k[0] = (uint8_t)tag;
  k[1] = (uint8_t)kind;
  sl__keys_put_be64(k + 2, id);
}
