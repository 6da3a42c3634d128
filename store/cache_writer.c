/* The cache writer thread: one per process, the only code that opens write txns on the
 * cache. It takes queued operations in batches (many puts per txn, so one commit and
 * one fdatasync cover them), publishes the counters with each batch, keeps the pages in
 * use under the high watermark by evicting (expired first, then least recently used, down
 * to the low watermark), and turns MDB_MAP_FULL, and a full filesystem (ENOSPC), into
 * "evict, retry once, else drop the batch and count it" (failures counted by reason). The one idea: every disk wait of the cache happens here, never on
 * the event loop, and nothing here can fail a request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "store/deadline.h"
#include "store/cache_internal.h"

#define HIST_BUCKETS 4096
#define DELETE_CHUNK 256
#define EVICT_ROUNDS 8
#define READER_CHECK_TICKS 10

static const MDB_val totals_key = {6, "totals"};

struct deltas {
  uint64_t hits, misses, dropped, oversize, errors, no_space, map_full, io;
};

static void deltas_take(struct sl_cache *c, struct deltas *d) {
  d->hits = atomic_exchange(&c->d_hits, 0);
  d->misses = atomic_exchange(&c->d_misses, 0);
  d->dropped = atomic_exchange(&c->d_dropped, 0);
  d->oversize = atomic_exchange(&c->d_oversize, 0);
  d->errors = atomic_exchange(&c->d_errors, 0);
  d->no_space = atomic_exchange(&c->d_no_space, 0);
  d->map_full = atomic_exchange(&c->d_map_full, 0);
  d->io = atomic_exchange(&c->d_io, 0);
}

static void deltas_return(struct sl_cache *c, const struct deltas *d) {
  atomic_fetch_add(&c->d_hits, d->hits);
  atomic_fetch_add(&c->d_misses, d->misses);
  atomic_fetch_add(&c->d_dropped, d->dropped);
  atomic_fetch_add(&c->d_oversize, d->oversize);
  atomic_fetch_add(&c->d_errors, d->errors);
  atomic_fetch_add(&c->d_no_space, d->no_space);
  atomic_fetch_add(&c->d_map_full, d->map_full);
  atomic_fetch_add(&c->d_io, d->io);
}

static bool deltas_zero(struct sl_cache *c) {
  return !atomic_load(&c->d_hits) && !atomic_load(&c->d_misses) && !atomic_load(&c->d_dropped) &&
         !atomic_load(&c->d_oversize) && !atomic_load(&c->d_errors) && !atomic_load(&c->d_no_space) &&
         !atomic_load(&c->d_map_full) && !atomic_load(&c->d_io);
}

static void totals_load(struct sl_cache *c, MDB_txn *t, struct sl_cache_totals *tt) {
  MDB_val k = totals_key, v;
  memset(tt, 0, sizeof *tt);
  if (mdb_get(t, c->e->dbi_cache_stats, &k, &v) == 0 && v.mv_size <= sizeof *tt && v.mv_size >= 10 * sizeof(uint64_t))
    memcpy(tt, v.mv_data, v.mv_size);
}

static int totals_store(struct sl_cache *c, MDB_txn *t, struct sl_cache_totals *tt, const struct deltas *d) {
  if (d) {
    tt->hits += d->hits;
    tt->misses += d->misses;
    tt->dropped += d->dropped;
    tt->oversize += d->oversize;
    tt->errors += d->errors;
    tt->err_no_space += d->no_space;
    tt->err_map_full += d->map_full;
    tt->err_io += d->io;
  }
  tt->version = 1;
  MDB_val k = totals_key, v = {sizeof *tt, tt};
  return mdb_put(t, c->e->dbi_cache_stats, &k, &v, 0);
}

static void sub_bytes(struct sl_cache_totals *tt, uint64_t n) { tt->bytes = tt->bytes > n ? tt->bytes - n : 0; }

static bool no_space(int rc) { return rc == ENOSPC || rc == EDQUOT; }

/* LMDB reports a short write (the filesystem filled up in the middle of a commit) as
 * EIO: call it ENOSPC when the data dir's filesystem has less room than the write needed. */
static int disk_rc(struct sl_cache *c, int rc, size_t need_bytes) {
  struct statvfs v;
  if (rc == EIO && statvfs(c->e->dir, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < need_bytes + 64 * 1024)
    return ENOSPC;
  return rc;
}

/* Counts a failure by reason (for the stats and the loop's periodic log line); a full
 * map is not an error (the batch was dropped after eviction), the rest are. */
static void note_no_space(struct sl_cache *c) {
  atomic_fetch_add(&c->d_no_space, 1);
  atomic_fetch_add(&c->r_no_space, 1);
  atomic_store(&c->r_errno, ENOSPC);
}

static void count_error(struct sl_cache *c, int rc) {
  if (getenv("SL_CACHE_DEBUG")) fprintf(stderr, "cache error %d %s\n", rc, mdb_strerror(rc));
  if (rc != MDB_MAP_FULL) atomic_fetch_add(&c->d_errors, 1);
  if (no_space(rc)) {
    note_no_space(c);
  } else if (rc == MDB_MAP_FULL) {
    atomic_fetch_add(&c->d_map_full, 1);
    atomic_fetch_add(&c->r_map_full, 1);
  } else {
    atomic_fetch_add(&c->d_io, 1);
    atomic_fetch_add(&c->r_io, 1);
  }
  atomic_store(&c->r_errno, rc);
  if (sl_lmdb_is_corruption(rc) && !atomic_exchange(&c->broken, true)) sl_lmdb_mark_broken(c->e);
}

/* Bytes freed (roughly) by deleting an entry of `size` value bytes and its LRU record:
 * a value too big for a leaf node lives on whole overflow pages. */
static size_t est_bytes(const struct sl_cache *c, uint64_t size) {
  size_t ps = c->e->psize, node = 8 + SL_CACHE_KEY_LEN, b;
  if (node + size > c->nodemax)
    b = (size_t)((size + 16 + ps - 1) / ps) * ps + node + 8 + 2;
  else
    b = node + (size_t)size + 2;
  return b + node + sizeof(struct sl_cache_meta) + 2;
}

/* ---- measuring ---- */

static int measure(struct sl_cache *c, size_t *used) {
  size_t last;
  int rc = sl_lmdb_used_pages(c->e, c->wrtxn, used, &last);
  if (!rc) atomic_store(&c->used_bytes, (uint64_t)*used * c->e->psize);
  c->bytes_since_measure = 0;
  c->batches_since_measure = 0;
  return rc;
}

/* ---- scanning cache_lru (read txn) and deleting victims (write txns) ---- */

struct victim {
  uint8_t key[SL_CACHE_KEY_LEN];
  int64_t atime;
};

struct victims {
  struct victim *v;
  size_t n, cap;
  bool oom;
};

static void victims_add(struct victims *vs, const uint8_t *key, int64_t atime) {
  if (vs->oom) return;
  if (vs->n == vs->cap) {
    size_t cap = vs->cap ? vs->cap * 2 : 256;
    struct victim *p = realloc(vs->v, cap * sizeof *p);
    if (!p) {
      vs->oom = true;
      return;
    }
    vs->v = p;
    vs->cap = cap;
  }
  memcpy(vs->v[vs->n].key, key, SL_CACHE_KEY_LEN);
  vs->v[vs->n].atime = atime;
  vs->n++;
}

/* Calls fn for every well-formed cache_lru record until it returns false. */
static int scan_lru(struct sl_cache *c, bool (*fn)(void *, const uint8_t *, const struct sl_cache_meta *), void *ctx) {
  int rc = mdb_txn_renew(c->wrtxn);
  if (rc) return rc;
  MDB_cursor *cur;
  rc = mdb_cursor_open(c->wrtxn, c->e->dbi_cache_lru, &cur);
  if (!rc) {
    MDB_val k, v;
    for (int op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
      struct sl_cache_meta m;
      if (k.mv_size != SL_CACHE_KEY_LEN || v.mv_size != sizeof m) continue;
      memcpy(&m, v.mv_data, sizeof m);
      if (!fn(ctx, k.mv_data, &m)) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(cur);
  }
  mdb_txn_reset(c->wrtxn);
  return rc;
}

enum victim_kind { VICTIM_EXPIRED, VICTIM_LRU, VICTIM_FLUSH };

/* Write txns hold remap_lock shared, like every txn of this process: a remap (which
 * needs no live txn in the process) waits for them. */
static int wtxn_begin(struct sl_cache *c, MDB_txn **t) {
  pthread_rwlock_rdlock(&c->e->remap_lock);
  int rc = mdb_txn_begin(c->e->env, NULL, 0, t);
  if (rc) pthread_rwlock_unlock(&c->e->remap_lock);
  return rc;
}

static int wtxn_commit(struct sl_cache *c, MDB_txn *t, int rc) {
  if (!rc) rc = mdb_txn_commit(t);
  else mdb_txn_abort(t);
  pthread_rwlock_unlock(&c->e->remap_lock);
  return rc;
}

/* Deletes the victims in chunks, each entry only if it still qualifies (expired, or
 * not accessed since it was chosen). Returns 0 or the LMDB error. */
static int delete_victims(struct sl_cache *c, const struct victims *vs, enum victim_kind kind, int64_t now,
                          uint64_t *deleted) {
  size_t chunk = DELETE_CHUNK, i = 0;
  bool grown = false;
  while (i < vs->n) {
    size_t m = vs->n - i < chunk ? vs->n - i : chunk;
    MDB_txn *t;
    int rc = wtxn_begin(c, &t);
    if (rc) return rc;
    struct sl_cache_totals tt;
    totals_load(c, t, &tt);
    uint64_t n = 0;
    for (size_t j = i; j < i + m && !rc; j++) {
      MDB_val k = {SL_CACHE_KEY_LEN, (void *)vs->v[j].key}, v;
      struct sl_cache_meta meta;
      rc = mdb_get(t, c->e->dbi_cache_lru, &k, &v);
      if (rc == MDB_NOTFOUND || (!rc && v.mv_size != sizeof meta)) {
        rc = 0;
        continue;
      }
      if (rc) break;
      memcpy(&meta, v.mv_data, sizeof meta);
      if (kind == VICTIM_EXPIRED && meta.expires_at > now) continue;
      if (kind == VICTIM_LRU && meta.atime != vs->v[j].atime) continue;
      rc = mdb_del(t, c->e->dbi_cache, &k, NULL);
      if (rc == MDB_NOTFOUND) rc = 0;
      if (!rc) rc = mdb_del(t, c->e->dbi_cache_lru, &k, NULL);
      if (rc) break;
      sub_bytes(&tt, meta.size);
      if (kind == VICTIM_EXPIRED) tt.expired++;
      if (kind == VICTIM_LRU) tt.evictions++;
      n++;
    }
    if (!rc) rc = totals_store(c, t, &tt, NULL);
    rc = disk_rc(c, wtxn_commit(c, t, rc), m * 2 * c->e->psize);
    if ((rc == MDB_MAP_FULL || no_space(rc)) && chunk > 1) {
      chunk /= 2; /* deleting needs a few fresh pages too: try smaller txns */
      continue;
    }
    if (rc == MDB_MAP_FULL && !grown && sl_lmdb_grow(c->e) == 0) {
      grown = true; /* full to the last page: a few pages past max_size to get out */
      continue;
    }
    if (rc) return rc;
    *deleted += n;
    i += m;
  }
  return 0;
}

struct expired_scan {
  struct sl_cache *c;
  struct victims vs;
  int64_t now;
  size_t got;
  int64_t min, max;
  bool any;
};

static bool expired_fn(void *ctx, const uint8_t *key, const struct sl_cache_meta *m) {
  struct expired_scan *s = ctx;
  if (m->expires_at <= s->now) { /* all of them: they are garbage anyway */
    victims_add(&s->vs, key, m->atime);
    s->got += est_bytes(s->c, m->size);
    return true;
  }
  if (!s->any || m->atime < s->min) s->min = m->atime;
  if (!s->any || m->atime > s->max) s->max = m->atime;
  s->any = true;
  return true;
}

struct lru_scan {
  struct sl_cache *c;
  int64_t now, min;
  uint64_t width;
  uint64_t *hist;
  size_t cut, cut_need, cut_got;
  struct victims vs;
  size_t got;
};

static size_t bucket_of(const struct lru_scan *s, int64_t atime) {
  uint64_t d = atime > s->min ? (uint64_t)atime - (uint64_t)s->min : 0;
  uint64_t b = d / s->width;
  return b < HIST_BUCKETS ? (size_t)b : HIST_BUCKETS - 1;
}

static bool hist_fn(void *ctx, const uint8_t *key, const struct sl_cache_meta *m) {
  struct lru_scan *s = ctx;
  (void)key;
  if (m->expires_at > s->now) s->hist[bucket_of(s, m->atime)] += est_bytes(s->c, m->size);
  return true;
}

static bool pick_fn(void *ctx, const uint8_t *key, const struct sl_cache_meta *m) {
  struct lru_scan *s = ctx;
  if (m->expires_at <= s->now) return true;
  size_t b = bucket_of(s, m->atime);
  if (b > s->cut) return true;
  size_t e = est_bytes(s->c, m->size);
  if (b == s->cut) {
    if (s->cut_got >= s->cut_need) return true;
    s->cut_got += e;
  }
  victims_add(&s->vs, key, m->atime);
  s->got += e;
  return true;
}

/* One round: frees about `need` bytes, expired entries first. Returns bytes freed (est). */
static size_t evict_round(struct sl_cache *c, size_t need, int64_t now) {
  uint64_t deleted = 0;
  struct expired_scan es = {.c = c, .now = now};
  int rc = scan_lru(c, expired_fn, &es);
  if (!rc && es.vs.n) rc = delete_victims(c, &es.vs, VICTIM_EXPIRED, now, &deleted);
  free(es.vs.v);
  if (rc) {
    count_error(c, rc);
    return 0;
  }
  size_t freed = es.got;
  if (freed >= need || !es.any) return freed;

  struct lru_scan ls = {.c = c, .now = now, .min = es.min};
  uint64_t range = (uint64_t)es.max - (uint64_t)es.min;
  ls.width = range / HIST_BUCKETS + 1;
  ls.hist = calloc(HIST_BUCKETS, sizeof *ls.hist);
  if (!ls.hist) return freed;
  rc = scan_lru(c, hist_fn, &ls);
  if (!rc) {
    size_t want = need - freed, cum = 0;
    ls.cut = HIST_BUCKETS - 1;
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
      if (cum + ls.hist[b] >= want) {
        ls.cut = b;
        break;
      }
      cum += ls.hist[b];
    }
    ls.cut_need = want > cum ? want - cum : 0;
    rc = scan_lru(c, pick_fn, &ls);
  }
  if (!rc && ls.vs.n) rc = delete_victims(c, &ls.vs, VICTIM_LRU, now, &deleted);
  free(ls.hist);
  free(ls.vs.v);
  if (rc) {
    count_error(c, rc);
    return freed;
  }
  return freed + ls.got;
}

/* Evicts until the pages in use are at most target (bounded rounds). */
static void evict_to(struct sl_cache *c, size_t target) {
  int64_t now = atomic_load(&c->now);
  for (int round = 0; round < EVICT_ROUNDS; round++) {
    size_t used;
    if (measure(c, &used)) return;
    if (used <= target) return;
    if (!evict_round(c, (used - target) * c->e->psize, now)) return;
  }
  size_t used;
  measure(c, &used);
}

#define DISK_RESERVE_PAGES 16 /* left free on the filesystem, so that deletes can copy on write */

/* The filesystem can fill up long before the map does. When it has less room than the
 * batch (plus a reserve) and the file's own free pages do not cover that either, evict
 * inside the file: a sixteenth of the pages in use, at least what is wanted; counted as
 * a no-space event (the loop logs it). True when it evicted. */
static bool disk_short(struct sl_cache *c, size_t incoming, size_t hw) {
  struct statvfs v;
  size_t ps = c->e->psize, want = incoming + DISK_RESERVE_PAGES, used;
  if (statvfs(c->e->dir, &v) != 0) return false;
  uint64_t room = (uint64_t)v.f_bavail * v.f_frsize / ps;
  if (room >= want || measure(c, &used)) return false;
  if (room + (hw > used ? hw - used : 0) >= want) return false;
  size_t cut = used / 16 > want ? used / 16 : want;
  note_no_space(c);
  evict_to(c, used > cut ? used - cut : 0);
  return true;
}

/* Before a batch of `bytes`: evict when the filesystem is short of room for it, or when
 * the batch could take the pages in use past the high watermark. The free-list walk is skipped while the file itself is small, and
 * otherwise rationed to once per 1/8 of the headroom last seen (or 32 batches). */
static void maybe_evict(struct sl_cache *c, size_t bytes) {
  MDB_envinfo info;
  mdb_env_info(c->e->env, &info);
  /* Every put of a random key dirties its own leaf (and branch) pages in both the cache
   * and the LRU database: copy-on-write needs fresh pages for all of them. */
  size_t ps = c->e->psize, incoming = bytes / ps + 3 * c->batch_puts + 2, hw = (size_t)info.me_last_pgno + 1;
  c->bytes_since_measure += bytes;
  c->batches_since_measure++;
  if (disk_short(c, incoming, hw)) return;
  if (hw + incoming <= c->high_pages) return;
  /* Every process writes into the same headroom: ration by the number of them (two
   * reader slots each). */
  size_t last_used = (size_t)(atomic_load(&c->used_bytes) / ps), procs = info.me_numreaders / 2;
  size_t headroom = last_used < c->high_pages ? (c->high_pages - last_used) * ps : 0;
  if (c->bytes_since_measure < headroom / 8 / (procs ? procs : 1) && c->batches_since_measure < 32) return;
  size_t used;
  if (measure(c, &used)) return;
  if (used + incoming > c->high_pages) evict_to(c, c->low_pages);
}

/* ---- applying a batch ---- */

static int apply_put(struct sl_cache *c, MDB_txn *t, struct sl_cache_op *op, struct sl_cache_totals *tt) {
  MDB_val k = {SL_CACHE_KEY_LEN, op->key}, v;
  struct sl_cache_meta meta;
  int rc = mdb_get(t, c->e->dbi_cache_lru, &k, &v);
  if (rc == 0 && v.mv_size == sizeof meta) {
    memcpy(&meta, v.mv_data, sizeof meta);
    sub_bytes(tt, meta.size);
  } else if (rc && rc != MDB_NOTFOUND) {
    return rc;
  }
  struct sl_cache_hdr h;
  memcpy(&h, op->buf, sizeof h);
  v = (MDB_val){op->len, op->buf};
  rc = mdb_put(t, c->e->dbi_cache, &k, &v, 0);
  if (rc) return rc;
  meta = (struct sl_cache_meta){.atime = h.stored_at, .expires_at = h.expires_at, .size = op->len};
  v = (MDB_val){sizeof meta, &meta};
  rc = mdb_put(t, c->e->dbi_cache_lru, &k, &v, 0);
  if (rc) return rc;
  tt->bytes += op->len;
  tt->stores++;
  return 0;
}

static int apply_touch(struct sl_cache *c, MDB_txn *t, struct sl_cache_op *op) {
  MDB_val k = {SL_CACHE_KEY_LEN, op->key}, v;
  struct sl_cache_meta meta;
  int rc = mdb_get(t, c->e->dbi_cache_lru, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc || v.mv_size != sizeof meta) return rc;
  memcpy(&meta, v.mv_data, sizeof meta);
  if (op->t - meta.atime < (int64_t)c->o.touch_granularity_s) return 0;
  meta.atime = op->t;
  v = (MDB_val){sizeof meta, &meta};
  return mdb_put(t, c->e->dbi_cache_lru, &k, &v, 0);
}

static int apply_del_bad(struct sl_cache *c, MDB_txn *t, struct sl_cache_op *op, struct sl_cache_totals *tt) {
  MDB_val k = {SL_CACHE_KEY_LEN, op->key}, v;
  int rc = mdb_get(t, c->e->dbi_cache, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  if (sl_cache_value_verify(op->key, v.mv_data, v.mv_size, NULL, NULL, NULL, NULL) == 0) return 0;
  uint64_t size = v.mv_size;
  struct sl_cache_meta meta;
  MDB_val mv;
  if (mdb_get(t, c->e->dbi_cache_lru, &k, &mv) == 0 && mv.mv_size == sizeof meta) {
    memcpy(&meta, mv.mv_data, sizeof meta);
    size = meta.size; /* what was counted when it was stored */
  }
  rc = mdb_del(t, c->e->dbi_cache, &k, NULL);
  if (!rc) rc = mdb_del(t, c->e->dbi_cache_lru, &k, NULL);
  if (rc == MDB_NOTFOUND) rc = 0;
  if (!rc) sub_bytes(tt, size);
  return rc;
}

static int apply_ops(struct sl_cache *c, struct sl_cache_op *ops, size_t k) {
  MDB_txn *t;
  int rc = wtxn_begin(c, &t);
  if (rc) return rc;
  struct sl_cache_totals tt;
  totals_load(c, t, &tt);
  struct deltas d;
  deltas_take(c, &d);
  for (size_t i = 0; i < k && !rc; i++) {
    switch (ops[i].kind) {
    case SL_CACHE_OP_PUT: rc = apply_put(c, t, &ops[i], &tt); break;
    case SL_CACHE_OP_TOUCH: rc = apply_touch(c, t, &ops[i]); break;
    case SL_CACHE_OP_DEL_BAD: rc = apply_del_bad(c, t, &ops[i], &tt); break;
    }
  }
  if (!rc) rc = totals_store(c, t, &tt, &d);
  rc = wtxn_commit(c, t, rc);
  if (rc) deltas_return(c, &d);
  return rc;
}

static size_t count_puts(const struct sl_cache_op *ops, size_t k) {
  size_t n = 0;
  for (size_t i = 0; i < k; i++) n += ops[i].kind == SL_CACHE_OP_PUT;
  return n;
}

/* Applies a batch; a full map never fails it outright: a batch that does not fit is
 * applied in halves, and a single op that still does not fit gets room by eviction
 * (below the low watermark if it must: the watermarks are estimates, and pages freed by
 * the last commit are not reusable yet). Returns how many puts were dropped. */
static size_t apply_split(struct sl_cache *c, struct sl_cache_op *ops, size_t k, size_t need_pages, int depth) {
  size_t need_bytes = need_pages * c->e->psize;
  int rc = disk_rc(c, apply_ops(c, ops, k), need_bytes);
  if (rc == MDB_MAP_RESIZED) {
    sl_lmdb_remap(c->e);
    rc = disk_rc(c, apply_ops(c, ops, k), need_bytes);
  }
  bool full = rc == MDB_MAP_FULL || no_space(rc);
  if (full) sl_lmdb_reader_check(c->e); /* a dead reader can pin the free pages */
  if (no_space(rc)) count_error(c, rc); /* counted (and logged by the loop) even when retrying works */
  if (full && k > 1 && depth < 12) { /* smaller transactions first */
    size_t h = k / 2;
    return apply_split(c, ops, h, need_pages / 2 + 1, depth + 1) +
           apply_split(c, ops + h, k - h, need_pages / 2 + 1, depth + 1);
  }
  if (rc == MDB_MAP_FULL) { /* a single op that does not fit: make room for it */
    evict_to(c, c->low_pages > 2 * need_pages ? c->low_pages - 2 * need_pages : c->low_pages / 2);
    rc = apply_ops(c, ops, k);
  } else if (no_space(rc)) {
    /* The filesystem is full below max_size: the file cannot grow, so make room inside
     * it, below the pages in use now (an eighth of them, or twice what the op needs). */
    size_t used;
    if (measure(c, &used) == 0) {
      size_t cut = used / 8 > 2 * need_pages ? used / 8 : 2 * need_pages;
      evict_to(c, used > cut ? used - cut : 0);
    }
    rc = disk_rc(c, apply_ops(c, ops, k), need_bytes);
  }
  if (!rc) return 0;
  if (!no_space(rc)) count_error(c, rc); /* a full disk was counted above */
  return count_puts(ops, k);
}

static void writer_batch(struct sl_cache *c, struct sl_cache_op *ops, size_t k) {
  size_t bytes = 0, puts = 0;
  for (size_t i = 0; i < k; i++) {
    bytes += ops[i].len;
    if (ops[i].kind == SL_CACHE_OP_PUT) {
      sl_cache_value_seal(ops[i].key, ops[i].buf, ops[i].len);
      puts++;
    }
  }
  if (atomic_load(&c->broken)) {
    atomic_fetch_add(&c->d_dropped, puts);
    return;
  }
  c->batch_puts = puts;
  if (puts) maybe_evict(c, bytes);
  size_t dropped = apply_split(c, ops, k, bytes / c->e->psize + 3 * puts + 2, 0);
  if (dropped) atomic_fetch_add(&c->d_dropped, dropped);
}

static void do_flush(struct sl_cache *c) {
  MDB_txn *t;
  int rc = wtxn_begin(c, &t);
  if (!rc) {
    struct sl_cache_totals tt;
    totals_load(c, t, &tt);
    tt.bytes = 0;
    rc = mdb_drop(t, c->e->dbi_cache, 0);
    if (!rc) rc = mdb_drop(t, c->e->dbi_cache_lru, 0);
    if (!rc) rc = totals_store(c, t, &tt, NULL);
    rc = wtxn_commit(c, t, rc);
  }
  if (rc == MDB_MAP_FULL) {
    /* Dropping a huge tree in one txn can itself run out of pages: delete in chunks. */
    struct expired_scan es = {.c = c, .now = INT64_MAX};
    rc = scan_lru(c, expired_fn, &es);
    uint64_t deleted = 0;
    if (!rc) rc = delete_victims(c, &es.vs, VICTIM_FLUSH, INT64_MAX, &deleted);
    free(es.vs.v);
  }
  if (rc) count_error(c, rc);
  size_t used;
  measure(c, &used);
}

/* ---- the thread ---- */

void *sl_cache_writer_main(void *arg) {
  struct sl_cache *c = arg;
  size_t maxb = c->e->map_size / 32;
  if (maxb < c->o.max_value + SL_CACHE_HDR_LEN) maxb = c->o.max_value + SL_CACHE_HDR_LEN;
  struct sl_cache_op *ops = calloc(c->o.batch_max_ops, sizeof *ops);
  {
    size_t used;
    measure(c, &used);
  }
  struct timespec next_tick;
  sl_store_deadline_after(&next_tick, c->o.maintenance_ms);
  bool draining = false;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    /* Puts, a flush, a sync or stop: at once. Touches and counters: at the next tick,
     * so a stream of hits costs one small commit a second, not one per hit. */
    bool timed_out = false;
    while (!c->stop && !c->flush_pending && c->puts_queued == 0 && !(c->sync_waiters && c->done_seq < c->enq_seq) &&
           !(draining && c->n) && !atomic_load(&c->e->need_remap)) {
      if (pthread_cond_timedwait(&c->wake, &c->mu, &next_tick) == ETIMEDOUT) {
        timed_out = true;
        sl_store_deadline_after(&next_tick, c->o.maintenance_ms);
        break;
      }
    }
    bool flush = c->flush_pending;
    c->flush_pending = false;
    size_t k = 0, bytes = 0;
    while (ops && c->n && k < c->o.batch_max_ops) {
      struct sl_cache_op *op = &c->ring[c->head];
      if (k && bytes + op->len > maxb) break;
      ops[k++] = *op;
      if (op->kind == SL_CACHE_OP_PUT) c->puts_queued--;
      bytes += op->len;
      c->qbytes -= op->len;
      c->head = (c->head + 1) % c->cap;
      c->n--;
    }
    if (!ops && c->n) { /* out of memory for the batch array: drop the queue */
      for (; c->n; c->n--, c->head = (c->head + 1) % c->cap) free(c->ring[c->head].buf);
      c->qbytes = c->puts_queued = 0;
    }
    uint64_t target = c->n ? ops[k - 1].seq : c->enq_seq;
    bool stopping = c->stop && c->n == 0 && !c->flush_pending;
    draining = (timed_out || draining) && c->n > 0;
    pthread_mutex_unlock(&c->mu);

    if (atomic_load(&c->e->need_remap)) sl_lmdb_remap(c->e);
    if (flush) do_flush(c);
    if (k) {
      writer_batch(c, ops, k);
      for (size_t i = 0; i < k; i++) free(ops[i].buf);
    } else if (!deltas_zero(c) && !atomic_load(&c->broken)) {
      /* nothing queued: publish the counters alone (sync, tick, or stop) */
      int rc = apply_ops(c, NULL, 0);
      if (rc) count_error(c, rc);
    }
    if (timed_out && ++c->ticks % READER_CHECK_TICKS == 0) sl_lmdb_reader_check(c->e);

    pthread_mutex_lock(&c->mu);
    if (target > c->done_seq) c->done_seq = target;
    pthread_cond_broadcast(&c->idle);
    if (stopping) break;
  }
  pthread_mutex_unlock(&c->mu);
  free(ops);
  return NULL;
}
