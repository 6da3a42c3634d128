/* The response cache, loop-thread side: lookups in a long-lived read txn (renewed per
 * lookup, reset at once so no snapshot stays pinned), queueing of writes for the writer
 * thread (store/cache_writer.c), counters, and the value format. See cache.h for the
 * design. The one idea here: a lookup copies the body out and verifies its checksum
 * after the txn is reset, so the read txn lives for a memcpy, not for the caller. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/cache_internal.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

/* ---- CRC32C (Castagnoli, reflected 0x82F63B78), hardware when the CPU has it ---- */

static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n) {
  while (n--) c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c32, const uint8_t *p, size_t n) {
  uint64_t c = c32;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  c32 = (uint32_t)c;
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

uint32_t sl_cache_crc32c(uint32_t crc, const void *p, size_t n) {
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return ~crc_hw(c, p, n);
#endif
  return ~crc_sw(c, p, n);
}

/* ---- value format ---- */

static uint32_t value_crc(const uint8_t key[SL_CACHE_KEY_LEN], const struct sl_cache_hdr *h, const void *body) {
  struct sl_cache_hdr z = *h;
  z.crc = 0;
  uint32_t c = sl_cache_crc32c(0, key, SL_CACHE_KEY_LEN);
  c = sl_cache_crc32c(c, &z, sizeof z);
  return sl_cache_crc32c(c, body, (size_t)h->body_len);
}

void sl_cache_value_seal(const uint8_t key[SL_CACHE_KEY_LEN], char *buf, size_t len) {
  struct sl_cache_hdr h;
  memcpy(&h, buf, sizeof h);
  (void)len;
  h.crc = value_crc(key, &h, buf + sizeof h);
  memcpy(buf, &h, sizeof h);
}

static bool hdr_sane(const struct sl_cache_hdr *h, size_t len) {
  return len >= sizeof *h && h->magic == SL_CACHE_MAGIC && h->version == SL_CACHE_VERSION &&
         h->hdr_len == sizeof *h && h->body_len == len - sizeof *h;
}

int sl_cache_value_verify(const uint8_t key[SL_CACHE_KEY_LEN], const void *v, size_t len, const void **body,
                          size_t *body_len, int64_t *stored_at, int64_t *expires_at) {
  struct sl_cache_hdr h;
  if (len < sizeof h) return -EBADMSG;
  memcpy(&h, v, sizeof h);
  if (!hdr_sane(&h, len)) return -EBADMSG;
  const char *b = (const char *)v + sizeof h;
  if (value_crc(key, &h, b) != h.crc) return -EBADMSG;
  if (body) *body = b;
  if (body_len) *body_len = (size_t)h.body_len;
  if (stored_at) *stored_at = h.stored_at;
  if (expires_at) *expires_at = h.expires_at;
  return 0;
}

/* ---- queue ---- */

static int enqueue(struct sl_cache *c, struct sl_cache_op *op) {
  pthread_mutex_lock(&c->mu);
  if (c->stop || c->n == c->cap || (op->len && c->qbytes + op->len > c->o.queue_max_bytes)) {
    pthread_mutex_unlock(&c->mu);
    return -ENOBUFS;
  }
  op->seq = ++c->enq_seq;
  c->ring[(c->head + c->n) % c->cap] = *op;
  c->n++;
  c->qbytes += op->len;
  if (op->kind == SL_CACHE_OP_PUT) {
    c->puts_queued++;
    pthread_cond_signal(&c->wake);
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static void bump_now(struct sl_cache *c, int64_t now) {
  int64_t cur = atomic_load_explicit(&c->now, memory_order_relaxed);
  while (now > cur && !atomic_compare_exchange_weak(&c->now, &cur, now)) {
  }
}

/* ---- lifecycle ---- */

int sl_cache_open(struct sl_lmdb *env, const struct sl_cache_opts *opts, struct sl_cache **out) {
  *out = NULL;
  struct sl_cache *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  c->e = env;
  if (opts) c->o = *opts;
  size_t map = env->map_size;
  if (!(c->o.high_water > 0 && c->o.high_water < 1)) c->o.high_water = 0.90;
  if (!(c->o.low_water > 0 && c->o.low_water < c->o.high_water)) c->o.low_water = c->o.high_water * 7 / 9;
  if (!c->o.max_value) {
    c->o.max_value = map / 64;
    if (c->o.max_value > (64u << 20)) c->o.max_value = 64u << 20;
  }
  if (!c->o.queue_max_ops) c->o.queue_max_ops = 4096;
  if (!c->o.queue_max_bytes) {
    c->o.queue_max_bytes = map / 4;
    if (c->o.queue_max_bytes > (64u << 20)) c->o.queue_max_bytes = 64u << 20;
  }
  if (c->o.queue_max_bytes < c->o.max_value + SL_CACHE_HDR_LEN) c->o.queue_max_bytes = c->o.max_value + SL_CACHE_HDR_LEN;
  if (!c->o.batch_max_ops) c->o.batch_max_ops = 256;
  if (!c->o.touch_granularity_s) c->o.touch_granularity_s = 10;
  if (!c->o.maintenance_ms) c->o.maintenance_ms = 1000;
  size_t ps = env->psize ? env->psize : 4096;
  c->high_pages = (size_t)((double)map * c->o.high_water) / ps;
  c->low_pages = (size_t)((double)map * c->o.low_water) / ps;
  c->nodemax = (((ps - 16) / 2) & ~(size_t)1) - 2; /* LMDB's largest in-page node */

  int rc = 0;
  c->cap = c->o.queue_max_ops;
  c->ring = calloc(c->cap, sizeof *c->ring);
  if (!c->ring) rc = -ENOMEM;
  if (!rc) rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &c->rtxn);
  /* Another process grew the file since this environment was opened: adopt its size. */
  if (rc == MDB_MAP_RESIZED && sl_lmdb_remap(env) == 0) rc = mdb_txn_begin(env->env, NULL, MDB_RDONLY, &c->rtxn);
  rc = sl_lmdb_err(rc);
  if (!rc) mdb_txn_reset(c->rtxn);
  if (!rc) rc = sl_lmdb_err(mdb_txn_begin(env->env, NULL, MDB_RDONLY, &c->wrtxn));
  if (!rc) mdb_txn_reset(c->wrtxn);
  if (rc) goto fail;

  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->wake, &ca);
  pthread_cond_init(&c->idle, NULL);
  pthread_condattr_destroy(&ca);

  /* The writer takes no signals: they belong to the loop thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int prc = pthread_create(&c->thr, NULL, sl_cache_writer_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc) {
    rc = -prc;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->idle);
    goto fail;
  }
  c->thr_started = true;
  *out = c;
  return 0;
fail:
  if (c->rtxn) mdb_txn_abort(c->rtxn);
  if (c->wrtxn) mdb_txn_abort(c->wrtxn);
  free(c->ring);
  free(c);
  return rc;
}

void sl_cache_close(struct sl_cache *c) {
  if (!c) return;
  if (c->thr_started) {
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thr, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->idle);
  }
  for (size_t i = 0; i < c->n; i++) free(c->ring[(c->head + i) % c->cap].buf);
  mdb_txn_abort(c->rtxn);
  mdb_txn_abort(c->wrtxn);
  free(c->ring);
  free(c);
}

/* ---- lookups ---- */

static void queue_touch(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN], int64_t now) {
  uint64_t k;
  memcpy(&k, key, sizeof k);
  unsigned slot = key[8] % SL_CACHE_TOUCH_SLOTS;
  if (c->touched[slot].k == k && now - c->touched[slot].t < (int64_t)c->o.touch_granularity_s) return;
  c->touched[slot].k = k;
  c->touched[slot].t = now;
  struct sl_cache_op op = {.kind = SL_CACHE_OP_TOUCH, .t = now};
  memcpy(op.key, key, SL_CACHE_KEY_LEN);
  (void)enqueue(c, &op); /* a lost touch only makes LRU a little less exact */
}

static void queue_del_bad(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN]) {
  struct sl_cache_op op = {.kind = SL_CACHE_OP_DEL_BAD};
  memcpy(op.key, key, SL_CACHE_KEY_LEN);
  (void)enqueue(c, &op);
}

static void mark_broken(struct sl_cache *c) {
  if (!atomic_exchange(&c->broken, true)) sl_lmdb_mark_broken(c->e);
}

int sl_cache_get(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN], int64_t now_unix,
                 struct sl_cache_entry *out) {
  memset(out, 0, sizeof *out);
  bump_now(c, now_unix);
  if (atomic_load(&c->broken)) {
    atomic_fetch_add(&c->d_misses, 1);
    return -EIO;
  }
  struct sl_cache_hdr h;
  char *body = NULL;
  int ret;
  pthread_rwlock_rdlock(&c->e->remap_lock);
  int rc = mdb_txn_renew(c->rtxn);
  if (rc) {
    pthread_rwlock_unlock(&c->e->remap_lock);
    if (rc == MDB_MAP_RESIZED) {
      atomic_store(&c->e->need_remap, true);
      pthread_mutex_lock(&c->mu);
      pthread_cond_signal(&c->wake);
      pthread_mutex_unlock(&c->mu);
    }
    atomic_fetch_add(&c->d_misses, 1);
    return -EIO;
  }
  MDB_val k = {SL_CACHE_KEY_LEN, (void *)key}, v;
  rc = mdb_get(c->rtxn, c->e->dbi_cache, &k, &v);
  if (rc == MDB_NOTFOUND) {
    ret = -ENOENT;
  } else if (rc) {
    ret = -EIO;
  } else if (v.mv_size < sizeof h) {
    ret = -EBADMSG;
  } else {
    memcpy(&h, v.mv_data, sizeof h);
    if (!hdr_sane(&h, v.mv_size)) {
      ret = -EBADMSG;
    } else if (h.expires_at <= now_unix) {
      ret = -ENOENT;
    } else if (!(body = malloc((size_t)h.body_len + 1))) {
      ret = -ENOMEM;
    } else {
      memcpy(body, (const char *)v.mv_data + sizeof h, (size_t)h.body_len);
      body[h.body_len] = 0;
      ret = 0;
    }
  }
  mdb_txn_reset(c->rtxn);
  pthread_rwlock_unlock(&c->e->remap_lock);

  if (rc && rc != MDB_NOTFOUND && sl_lmdb_is_corruption(rc)) mark_broken(c);
  if (ret == 0 && value_crc(key, &h, body) != h.crc) {
    free(body);
    body = NULL;
    ret = -EBADMSG;
  }
  if (ret == -EBADMSG) queue_del_bad(c, key);
  if (ret) {
    atomic_fetch_add(&c->d_misses, 1);
    return ret;
  }
  atomic_fetch_add(&c->d_hits, 1);
  out->value = body;
  out->len = (size_t)h.body_len;
  out->stored_at = h.stored_at;
  out->expires_at = h.expires_at;
  queue_touch(c, key, now_unix);
  return 0;
}

void sl_cache_entry_free(struct sl_cache_entry *e) {
  free(e->value);
  memset(e, 0, sizeof *e);
}

/* ---- writes ---- */

int sl_cache_put(struct sl_cache *c, const uint8_t key[SL_CACHE_KEY_LEN], const void *value, size_t len,
                 int64_t ttl_s, int64_t now_unix) {
  bump_now(c, now_unix);
  if (atomic_load(&c->broken)) return -EIO;
  if (ttl_s <= 0) return -EINVAL;
  if (len > c->o.max_value) {
    atomic_fetch_add(&c->d_oversize, 1);
    return -EFBIG;
  }
  struct sl_cache_hdr h = {
      .magic = SL_CACHE_MAGIC,
      .version = SL_CACHE_VERSION,
      .hdr_len = sizeof h,
      .stored_at = now_unix,
      .expires_at = ttl_s > INT64_MAX - now_unix ? INT64_MAX : now_unix + ttl_s,
      .body_len = len,
  };
  struct sl_cache_op op = {.kind = SL_CACHE_OP_PUT, .t = now_unix, .len = sizeof h + len};
  memcpy(op.key, key, SL_CACHE_KEY_LEN);
  op.buf = malloc(op.len);
  if (!op.buf) return -ENOMEM;
  memcpy(op.buf, &h, sizeof h);
  if (len) memcpy(op.buf + sizeof h, value, len);
  int rc = enqueue(c, &op);
  if (rc) {
    free(op.buf);
    atomic_fetch_add(&c->d_dropped, 1);
  }
  return rc;
}

int sl_cache_flush(struct sl_cache *c) {
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->n; i++) free(c->ring[(c->head + i) % c->cap].buf);
  c->n = c->head = c->qbytes = c->puts_queued = 0;
  c->flush_pending = true;
  ++c->enq_seq;
  pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int sl_cache_sync(struct sl_cache *c) {
  pthread_mutex_lock(&c->mu);
  uint64_t target = ++c->enq_seq;
  c->sync_waiters++;
  pthread_cond_signal(&c->wake);
  while (c->done_seq < target) pthread_cond_wait(&c->idle, &c->mu);
  c->sync_waiters--;
  pthread_mutex_unlock(&c->mu);
  return 0;
}

/* ---- stats ---- */

int sl_cache_stats_get(struct sl_cache *c, struct sl_cache_stats *st) {
  memset(st, 0, sizeof *st);
  struct sl_cache_totals t = {0};
  MDB_stat ms = {0};
  st->broken = atomic_load(&c->broken);
  int rc = 0;
  if (!st->broken) {
    pthread_rwlock_rdlock(&c->e->remap_lock);
    rc = mdb_txn_renew(c->rtxn);
    if (!rc) {
      rc = mdb_stat(c->rtxn, c->e->dbi_cache, &ms);
      MDB_val k = {6, "totals"}, v;
      if (!rc && mdb_get(c->rtxn, c->e->dbi_cache_stats, &k, &v) == 0 && v.mv_size <= sizeof t &&
          v.mv_size >= 10 * sizeof(uint64_t))
        memcpy(&t, v.mv_data, v.mv_size); /* a shorter record from an older build: the rest stay 0 */
      mdb_txn_reset(c->rtxn);
    }
    /* used_bytes as of now (the writer measures only near the high watermark) */
    size_t used;
    if (!rc && sl_lmdb_used_pages(c->e, c->rtxn, &used, NULL) == 0)
      atomic_store(&c->used_bytes, (uint64_t)used * c->e->psize);
    pthread_rwlock_unlock(&c->e->remap_lock);
  }
  st->entries = ms.ms_entries;
  st->bytes = t.bytes;
  st->used_bytes = atomic_load(&c->used_bytes);
  st->max_bytes = c->e->map_size;
  st->hits = t.hits + atomic_load(&c->d_hits);
  st->misses = t.misses + atomic_load(&c->d_misses);
  st->stores = t.stores;
  st->evictions = t.evictions;
  st->expired = t.expired;
  st->dropped_writes = t.dropped + atomic_load(&c->d_dropped);
  st->oversize = t.oversize + atomic_load(&c->d_oversize);
  st->errors = t.errors + atomic_load(&c->d_errors);
  st->err_no_space = t.err_no_space + atomic_load(&c->d_no_space);
  st->err_map_full = t.err_map_full + atomic_load(&c->d_map_full);
  st->err_io = t.err_io + atomic_load(&c->d_io);
  pthread_mutex_lock(&c->mu);
  st->queued_ops = c->n;
  st->queued_bytes = c->qbytes;
  pthread_mutex_unlock(&c->mu);
  return sl_lmdb_err(rc);
}

int sl_cache_errors_report(struct sl_cache *c, uint64_t now_ms, uint64_t interval_ms,
                           struct sl_cache_error_report *out) {
  if (c->reported && now_ms - c->report_ms < interval_ms) return 0;
  if (!atomic_load(&c->r_no_space) && !atomic_load(&c->r_map_full) && !atomic_load(&c->r_io)) return 0;
  out->no_space = atomic_exchange(&c->r_no_space, 0);
  out->map_full = atomic_exchange(&c->r_map_full, 0);
  out->io = atomic_exchange(&c->r_io, 0);
  out->last_errno = atomic_load(&c->r_errno);
  c->reported = true;
  c->report_ms = now_ms;
  return 1;
}
