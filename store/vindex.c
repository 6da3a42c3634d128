/* The semantic cache's vector index; see vindex.h. */
#include "store/vindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/cache.h" /* sl_cache_crc32c */
#include "store/vindex_hnsw.h"

#define MAGIC       "SLV1"
#define VERSION     1
#define DAMAGED_MAX 64 /* damaged records deleted per catch-up */

struct slot {
  uint64_t seq; /* 0: empty (sequence numbers start at 1) */
  uint64_t scope;
  int64_t stored_at, expires_at;
  uint8_t key[SL_VINDEX_KEY_LEN];
};

struct sl_vindex {
  struct sl_lmdb *env;
  struct sl_vindex_opts o;
  MDB_txn *rtxn; /* long-lived, reset between uses */
  struct slot *slots;
  float *vecs;           /* max_entries * dim */
  struct sl__hnsw *hnsw; /* NULL: exact only */
  size_t entries;
  uint64_t next; /* every record below has been read */
  uint64_t skipped;
  bool ann_used;
};

/* ---- record codec ---- */

size_t sl_vindex_record_size(unsigned dim) { return SL_VINDEX_HDR_LEN + (size_t)dim * sizeof(float); }

static uint32_t record_crc(uint64_t seq, const uint8_t *rec, size_t len) {
  uint8_t k[8];
  for (int i = 0; i < 8; i++) k[i] = (uint8_t)(seq >> (56 - 8 * i));
  uint32_t c = sl_cache_crc32c(0, k, sizeof k);
  return sl_cache_crc32c(c, rec + 12, len - 12);
}

void sl_vindex_record_encode(uint64_t seq, const struct sl_vindex_record *r, uint8_t *out) {
  size_t len = sl_vindex_record_size(r->dim);
  uint16_t ver = VERSION, dim = (uint16_t)r->dim;
  uint32_t zero = 0;
  memcpy(out, MAGIC, 4);
  memcpy(out + 4, &ver, 2);
  memcpy(out + 6, &dim, 2);
  memcpy(out + 12, &zero, 4);
  memcpy(out + 16, r->key, SL_VINDEX_KEY_LEN);
  memcpy(out + 48, &r->scope, 8);
  memcpy(out + 56, &r->stored_at, 8);
  memcpy(out + 64, &r->expires_at, 8);
  memcpy(out + SL_VINDEX_HDR_LEN, r->v, (size_t)r->dim * sizeof(float));
  uint32_t crc = record_crc(seq, out, len);
  memcpy(out + 8, &crc, 4);
}

int sl_vindex_record_decode(uint64_t seq, const void *buf, size_t len, unsigned want_dim,
                            struct sl_vindex_record *out) {
  const uint8_t *p = buf;
  if (len < SL_VINDEX_HDR_LEN || memcmp(p, MAGIC, 4) != 0) return -EBADMSG;
  uint16_t ver, dim;
  uint32_t crc, reserved;
  memcpy(&ver, p + 4, 2);
  memcpy(&dim, p + 6, 2);
  memcpy(&crc, p + 8, 4);
  memcpy(&reserved, p + 12, 4);
  if (ver != VERSION || dim == 0 || dim > SL_VINDEX_MAX_DIM || (want_dim && dim != want_dim) || reserved != 0)
    return -EBADMSG; /* a reserved word that is not zero was not written by this version */
  if (len != sl_vindex_record_size(dim) || record_crc(seq, p, len) != crc) return -EBADMSG;
  memcpy(out->key, p + 16, SL_VINDEX_KEY_LEN);
  memcpy(&out->scope, p + 48, 8);
  memcpy(&out->stored_at, p + 56, 8);
  memcpy(&out->expires_at, p + 64, 8);
  out->dim = dim;
  out->v = (const float *)(const void *)(p + SL_VINDEX_HDR_LEN);
  return 0;
}

static void seq_key(uint64_t seq, uint8_t k[8]) {
  for (int i = 0; i < 8; i++) k[i] = (uint8_t)(seq >> (56 - 8 * i));
}

static uint64_t key_seq(const MDB_val *k) {
  if (k->mv_size != 8) return 0;
  const uint8_t *p = k->mv_data;
  uint64_t s = 0;
  for (int i = 0; i < 8; i++) s = s << 8 | p[i];
  return s;
}

/* ---- the in-memory copy ---- */

/* GCC/clang vector extensions: 8 lanes (two SSE registers without -mavx, one AVX
 * register with it), loads through memcpy so no alignment is assumed. */
typedef float v8f __attribute__((vector_size(32)));

static float dot(const float *a, const float *b, unsigned n) {
  v8f acc0 = {0}, acc1 = {0};
  unsigned i = 0;
  for (; i + 16 <= n; i += 16) {
    v8f x0, y0, x1, y1;
    memcpy(&x0, a + i, sizeof x0);
    memcpy(&y0, b + i, sizeof y0);
    memcpy(&x1, a + i + 8, sizeof x1);
    memcpy(&y1, b + i + 8, sizeof y1);
    acc0 += x0 * y0;
    acc1 += x1 * y1;
  }
  acc0 += acc1;
  float t = ((acc0[0] + acc0[1]) + (acc0[2] + acc0[3])) + ((acc0[4] + acc0[5]) + (acc0[6] + acc0[7]));
  for (; i < n; i++) t += a[i] * b[i];
  return t;
}

static void clear_copy(struct sl_vindex *vx) {
  memset(vx->slots, 0, vx->o.max_entries * sizeof *vx->slots);
  vx->entries = 0;
  vx->next = 1;
  if (vx->hnsw) {
    sl__hnsw_free(vx->hnsw);
    vx->hnsw = NULL;
    if (sl__hnsw_new(vx->o.dim, vx->o.max_entries, vx->o.hnsw_m, vx->o.hnsw_ef_construction, 100, &vx->hnsw))
      vx->hnsw = NULL; /* exact only from now on */
  }
}

static void put_copy(struct sl_vindex *vx, uint64_t seq, const struct sl_vindex_record *r) {
  size_t i = seq % vx->o.max_entries;
  struct slot *s = &vx->slots[i];
  if (!s->seq) vx->entries++;
  s->seq = seq;
  s->scope = r->scope;
  s->stored_at = r->stored_at;
  s->expires_at = r->expires_at;
  memcpy(s->key, r->key, SL_VINDEX_KEY_LEN);
  float *dst = vx->vecs + i * vx->o.dim;
  memcpy(dst, r->v, (size_t)vx->o.dim * sizeof(float));
  if (vx->hnsw && sl__hnsw_add(vx->hnsw, dst, i)) {
    sl__hnsw_free(vx->hnsw); /* out of memory: exact search still answers */
    vx->hnsw = NULL;
  }
}

/* ---- open / close ---- */

int sl_vindex_open(struct sl_lmdb *env, const struct sl_vindex_opts *o, struct sl_vindex **out) {
  if (!env || !o || o->dim == 0 || o->dim > SL_VINDEX_MAX_DIM) return -EINVAL;
  struct sl_vindex *vx = calloc(1, sizeof *vx);
  if (!vx) return -ENOMEM;
  vx->env = env;
  vx->o = *o;
  if (!vx->o.max_entries) vx->o.max_entries = 10000;
  if (!vx->o.ann_min) vx->o.ann_min = 2048;
  if (!vx->o.hnsw_m) vx->o.hnsw_m = 16;
  if (!vx->o.hnsw_ef_construction) vx->o.hnsw_ef_construction = 100;
  if (!vx->o.hnsw_ef_search) vx->o.hnsw_ef_search = 128;
  if (!vx->o.hnsw_k) vx->o.hnsw_k = 16;
  if (!vx->o.catchup_max) vx->o.catchup_max = 1024;
  vx->slots = calloc(vx->o.max_entries, sizeof *vx->slots);
  vx->vecs = aligned_alloc(64, ((vx->o.max_entries * vx->o.dim * sizeof(float)) + 63) / 64 * 64);
  int rc = vx->slots && vx->vecs ? 0 : -ENOMEM;
  if (!rc && vx->o.ann_min < vx->o.max_entries)
    rc = sl__hnsw_new(vx->o.dim, vx->o.max_entries, vx->o.hnsw_m, vx->o.hnsw_ef_construction, 100, &vx->hnsw);
  if (!rc && mdb_txn_begin(env->env, NULL, MDB_RDONLY, &vx->rtxn)) rc = -EIO;
  if (rc) {
    sl_vindex_close(vx);
    return rc;
  }
  mdb_txn_reset(vx->rtxn);
  vx->next = 1;
  *out = vx;
  return 0;
}

void sl_vindex_close(struct sl_vindex *vx) {
  if (!vx) return;
  if (vx->rtxn) mdb_txn_abort(vx->rtxn);
  if (vx->hnsw) sl__hnsw_free(vx->hnsw);
  free(vx->slots);
  free(vx->vecs);
  free(vx);
}

/* ---- LMDB ---- */

static uint64_t meta_next(MDB_txn *txn, MDB_dbi meta) {
  MDB_val k = {4, "next"}, v;
  uint64_t n = 1;
  if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 8) memcpy(&n, v.mv_data, 8);
  return n ? n : 1;
}

static void delete_seqs(struct sl_vindex *vx, const uint64_t *seqs, size_t n) {
  MDB_txn *w;
  if (!n || mdb_txn_begin(vx->env->env, NULL, 0, &w)) return;
  for (size_t i = 0; i < n; i++) {
    uint8_t kb[8];
    seq_key(seqs[i], kb);
    MDB_val k = {8, kb};
    mdb_del(w, vx->env->dbi_semcache, &k, NULL);
  }
  mdb_txn_commit(w); /* a failure leaves them for the next catch-up that reads them */
}

int sl_vindex_catch_up(struct sl_vindex *vx) {
  if (mdb_txn_renew(vx->rtxn)) return -EIO;
  uint64_t next = meta_next(vx->rtxn, vx->env->dbi_semcache_meta);
  if (next == vx->next) {
    mdb_txn_reset(vx->rtxn);
    return 0;
  }
  if (next < vx->next) clear_copy(vx); /* the store was emptied or replaced */
  uint64_t from = vx->next;
  if (next > vx->o.max_entries && from < next - vx->o.max_entries) from = next - vx->o.max_entries;
  uint64_t damaged[DAMAGED_MAX];
  size_t ndamaged = 0, read = 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(vx->rtxn, vx->env->dbi_semcache, &cur);
  if (rc) {
    mdb_txn_reset(vx->rtxn);
    return -EIO;
  }
  uint8_t kb[8];
  seq_key(from, kb);
  MDB_val k = {8, kb}, v;
  uint64_t last = from - 1;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && read < vx->o.catchup_max;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    uint64_t seq = key_seq(&k);
    if (seq >= next) break; /* a writer's record past the meta we read */
    read++;
    last = seq;
    struct sl_vindex_record r;
    if (!seq || sl_vindex_record_decode(seq, v.mv_data, v.mv_size, vx->o.dim, &r)) {
      vx->skipped++;
      if (seq && ndamaged < DAMAGED_MAX) damaged[ndamaged++] = seq;
      continue;
    }
    put_copy(vx, seq, &r);
  }
  mdb_cursor_close(cur);
  mdb_txn_reset(vx->rtxn);
  /* read everything up to next (or stopped at the bound: the rest next time) */
  vx->next = read >= vx->o.catchup_max ? last + 1 : next;
  delete_seqs(vx, damaged, ndamaged);
  return 0;
}

int sl_vindex_append(struct sl_vindex *vx, const uint8_t key[SL_VINDEX_KEY_LEN], uint64_t scope, const float *v,
                     int64_t now, int64_t ttl_s) {
  if (ttl_s <= 0) return -EINVAL;
  size_t len = sl_vindex_record_size(vx->o.dim);
  uint8_t *buf = malloc(len);
  if (!buf) return -ENOMEM;
  struct sl_vindex_record r = {.scope = scope, .stored_at = now, .expires_at = now + ttl_s, .dim = vx->o.dim, .v = v};
  memcpy(r.key, key, SL_VINDEX_KEY_LEN);
  MDB_txn *w;
  if (mdb_txn_begin(vx->env->env, NULL, 0, &w)) {
    free(buf);
    return -EIO;
  }
  uint64_t seq = meta_next(w, vx->env->dbi_semcache_meta);
  sl_vindex_record_encode(seq, &r, buf);
  uint8_t kb[8];
  seq_key(seq, kb);
  MDB_val k = {8, kb}, val = {len, buf};
  uint64_t nn = seq + 1;
  MDB_val mk = {4, "next"}, mv = {8, &nn};
  int rc = mdb_put(w, vx->env->dbi_semcache, &k, &val, MDB_APPEND);
  if (rc == MDB_KEYEXIST) rc = mdb_put(w, vx->env->dbi_semcache, &k, &val, 0);
  if (!rc) rc = mdb_put(w, vx->env->dbi_semcache_meta, &mk, &mv, 0);
  /* the bound: records older than the newest max_entries go, oldest first */
  if (!rc && nn > vx->o.max_entries) {
    MDB_cursor *cur;
    if (!(rc = mdb_cursor_open(w, vx->env->dbi_semcache, &cur))) {
      MDB_val ck, cv;
      while (mdb_cursor_get(cur, &ck, &cv, MDB_FIRST) == 0 && key_seq(&ck) < nn - vx->o.max_entries)
        if ((rc = mdb_cursor_del(cur, 0))) break;
      mdb_cursor_close(cur);
    }
  }
  free(buf);
  if (rc) {
    mdb_txn_abort(w);
    return -EIO;
  }
  return mdb_txn_commit(w) ? -EIO : 0;
}

int sl_vindex_add(struct sl_vindex *vx, const uint8_t key[SL_VINDEX_KEY_LEN], uint64_t scope, const float *v,
                  int64_t now, int64_t ttl_s) {
  int rc = sl_vindex_append(vx, key, scope, v, now, ttl_s);
  return rc ? rc : sl_vindex_catch_up(vx);
}

/* ---- search ---- */

static bool live(const struct slot *s, uint64_t scope, int64_t now) {
  return s->seq && s->scope == scope && s->expires_at > now;
}

static void fill_hit(const struct slot *s, float sim, struct sl_vindex_hit *hit) {
  memcpy(hit->key, s->key, SL_VINDEX_KEY_LEN);
  hit->similarity = sim;
  hit->stored_at = s->stored_at;
  hit->expires_at = s->expires_at;
  hit->seq = s->seq;
}

static int exact(struct sl_vindex *vx, uint64_t scope, const float *q, int64_t now, struct sl_vindex_hit *hit) {
  long best = -1;
  float bs = -2.0f;
  for (size_t i = 0; i < vx->o.max_entries; i++) {
    const struct slot *s = &vx->slots[i];
    if (!live(s, scope, now)) continue;
    float d = dot(q, vx->vecs + i * vx->o.dim, vx->o.dim);
    if (d > bs || (d == bs && s->seq > vx->slots[best].seq)) { /* ties: the newest */
      bs = d;
      best = (long)i;
    }
  }
  if (best < 0) return -ENOENT;
  fill_hit(&vx->slots[best], bs, hit);
  return 0;
}

int sl_vindex_search_exact(struct sl_vindex *vx, uint64_t scope, const float *q, int64_t now,
                           struct sl_vindex_hit *hit) {
  sl_vindex_catch_up(vx);
  vx->ann_used = false;
  return exact(vx, scope, q, now, hit);
}

int sl_vindex_search(struct sl_vindex *vx, uint64_t scope, const float *q, int64_t now, struct sl_vindex_hit *hit) {
  sl_vindex_catch_up(vx); /* a failed catch-up still searches what is here */
  vx->ann_used = false;
  if (!vx->hnsw || vx->entries < vx->o.ann_min) return exact(vx, scope, q, now, hit);
  size_t k = vx->o.hnsw_k, labels[256];
  float sims[256];
  if (k > 256) k = 256;
  int n = sl__hnsw_search(vx->hnsw, q, k, vx->o.hnsw_ef_search, labels, sims);
  if (n < 0) return exact(vx, scope, q, now, hit);
  vx->ann_used = true;
  for (int i = 0; i < n; i++) {
    if (labels[i] >= vx->o.max_entries) continue;
    const struct slot *s = &vx->slots[labels[i]];
    if (!live(s, scope, now)) continue;
    fill_hit(s, sims[i], hit);
    return 0;
  }
  vx->ann_used = false; /* none of the candidates is this scope's: ask the scope itself */
  return exact(vx, scope, q, now, hit);
}

void sl_vindex_stats_get(const struct sl_vindex *vx, struct sl_vindex_stats *st) {
  st->entries = vx->entries;
  st->next_seq = vx->next;
  st->skipped = vx->skipped;
  st->ann = vx->ann_used;
}

unsigned sl_vindex_dim(const struct sl_vindex *vx) { return vx->o.dim; }
