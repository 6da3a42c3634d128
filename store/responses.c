/* Stored responses (see responses.h), in three databases of the shared environment:
 *   "responses"        id -> record (store/responses_internal.h: header, owner,
 *                      response, items, CRC32C)
 *   "responses_age"    be64(created, sign bit flipped) || id -> {bytes, expires}: the
 *                      records oldest first, so that eviction and the expiry sweep find
 *                      their victims in O(log n) without reading records
 *   "responses_stats"  "totals" -> {version, bytes, writes}: bytes is the sum over the
 *                      age entries; the record count is the "responses" tree's own
 * The one idea: every change to a record changes its age entry and the byte total in
 * the same write txn, so the three always agree (a damaged record whose age entry cannot
 * be found leaves that entry behind; the sweep and eviction drop it, and its bytes, when
 * they reach it). Writes are synchronous txns of the calling thread; a put that finds
 * the map or the disk full drops the oldest records in a txn of its own, commits one
 * more small txn (LMDB reuses freed pages only from the second commit after the one
 * that freed them) and tries once more; then it is -ENOSPC. Bounds: a put's sweep looks
 * at the 64 oldest age entries and drops at most 16 expired records (with one TTL the
 * oldest are the first to expire; a get deletes any other it finds expired); eviction
 * drops at most 4096 records per txn. Reads copy the value out of a long-lived read txn
 * (renewed per get, reset at once) and check it outside the txn. One store handle
 * belongs to one thread. To extend the record, bump SL_RESP_VERSION (old records then
 * read as damaged and are dropped). */
#include "store/responses.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "store/cache.h"
#include "store/keys_internal.h"
#include "store/responses_internal.h"

#define DEFAULT_TTL_S     ((int64_t)30 * 86400)
#define DEFAULT_MAX_VALUE ((size_t)16 << 20)
#define SWEEP_LOOK        64
#define SWEEP_MAX         16
#define EVICT_MAX         4096
#define AGE_KEY_MAX       (8 + SL_RESP_ID_MAX)
#define TOTALS_VERSION    1

struct sl_resp_store {
  struct sl_lmdb *e;
  struct sl_resp_store_opts o;
  MDB_txn *rtxn; /* reset between gets */
};

struct age_val {
  uint64_t bytes; /* id + record, as counted in the totals */
  int64_t expires;
};

struct totals {
  uint64_t version;
  uint64_t bytes;
  uint64_t writes; /* bumped by every store, so that a txn that writes it always commits a change */
};

static const MDB_val totals_key = {6, (void *)"totals"};

/* ---- the record format ---- */

size_t sl__resp_record_len(size_t owner_len, size_t resp_len, size_t items_len) {
  size_t n = SL_RESP_HDR_LEN;
  if (owner_len > SIZE_MAX - n) return 0;
  n += owner_len;
  if (resp_len > SIZE_MAX - n) return 0;
  n += resp_len;
  if (items_len > SIZE_MAX - n) return 0;
  return n + items_len;
}

static uint32_t record_crc(const void *id, size_t id_len, const struct sl__resp_hdr *h, const char *payload,
                           size_t payload_len) {
  struct sl__resp_hdr z = *h;
  z.crc = 0;
  uint32_t c = sl_cache_crc32c(0, id, id_len);
  c = sl_cache_crc32c(c, &z, sizeof z);
  return sl_cache_crc32c(c, payload, payload_len);
}

void sl__resp_record_encode(const void *id, size_t id_len, const struct sl__resp_view *v, char *buf) {
  struct sl__resp_hdr h = {
      .magic = SL_RESP_MAGIC,
      .version = SL_RESP_VERSION,
      .hdr_len = SL_RESP_HDR_LEN,
      .created = v->created,
      .expires = v->expires,
      .owner_len = (uint32_t)v->owner_len,
      .resp_len = v->resp_len,
      .items_len = v->items_len,
  };
  char *p = buf + sizeof h;
  if (v->owner_len) memcpy(p, v->owner, v->owner_len);
  p += v->owner_len;
  if (v->resp_len) memcpy(p, v->resp, v->resp_len);
  p += v->resp_len;
  if (v->items_len) memcpy(p, v->items, v->items_len);
  h.crc = record_crc(id, id_len, &h, buf + sizeof h, v->owner_len + v->resp_len + v->items_len);
  memcpy(buf, &h, sizeof h);
}

int sl__resp_record_header(const void *rec, size_t len, struct sl__resp_hdr *h) {
  if (len < sizeof *h) return -EBADMSG;
  memcpy(h, rec, sizeof *h);
  if (h->magic != SL_RESP_MAGIC || h->version != SL_RESP_VERSION || h->hdr_len != sizeof *h ||
      h->owner_len > SL_RESP_OWNER_MAX)
    return -EBADMSG;
  uint64_t rest = len - sizeof *h;
  if (h->resp_len > rest || h->items_len > rest - h->resp_len || h->owner_len != rest - h->resp_len - h->items_len)
    return -EBADMSG;
  return 0;
}

int sl__resp_record_decode(const void *id, size_t id_len, const void *rec, size_t len, struct sl__resp_view *out) {
  struct sl__resp_hdr h;
  if (sl__resp_record_header(rec, len, &h)) return -EBADMSG;
  const char *p = (const char *)rec + sizeof h;
  if (record_crc(id, id_len, &h, p, len - sizeof h) != h.crc) return -EBADMSG;
  out->owner = p;
  out->owner_len = h.owner_len;
  out->resp = p + h.owner_len;
  out->resp_len = (size_t)h.resp_len;
  out->items = out->resp + h.resp_len;
  out->items_len = (size_t)h.items_len;
  out->created = h.created;
  out->expires = h.expires;
  return 0;
}

/* ---- keys and totals ---- */

static size_t age_key(uint8_t k[AGE_KEY_MAX], int64_t created, const void *id, size_t id_len) {
  sl__keys_put_be64(k, (uint64_t)created ^ ((uint64_t)1 << 63)); /* negative times sort first */
  memcpy(k + 8, id, id_len);
  return 8 + id_len;
}

static int64_t age_created(const uint8_t *k) { return (int64_t)(sl__keys_get_be64(k) ^ ((uint64_t)1 << 63)); }

static void totals_load(struct sl_resp_store *s, MDB_txn *t, struct totals *tt) {
  MDB_val k = totals_key, v;
  memset(tt, 0, sizeof *tt);
  if (mdb_get(t, s->e->dbi_resp_stats, &k, &v) == 0 && v.mv_size == sizeof *tt) memcpy(tt, v.mv_data, sizeof *tt);
}

static int totals_store(struct sl_resp_store *s, MDB_txn *t, struct totals *tt) {
  tt->version = TOTALS_VERSION;
  tt->writes++;
  MDB_val k = totals_key, v = {sizeof *tt, tt};
  return mdb_put(t, s->e->dbi_resp_stats, &k, &v, 0);
}

static void sub_bytes(struct totals *tt, uint64_t n) { tt->bytes = tt->bytes > n ? tt->bytes - n : 0; }

/* ---- dropping records (inside a write txn) ---- */

/* Deletes id's record and, when its header can be read, its age entry and bytes.
 * MDB_NOTFOUND when there is no record. */
static int drop_record(struct sl_resp_store *s, MDB_txn *t, struct totals *tt, const void *id, size_t id_len) {
  MDB_val k = {id_len, (void *)id}, v;
  int rc = mdb_get(t, s->e->dbi_resp, &k, &v);
  if (rc) return rc;
  struct sl__resp_hdr h;
  if (sl__resp_record_header(v.mv_data, v.mv_size, &h) == 0) {
    uint8_t ak[AGE_KEY_MAX];
    MDB_val a = {age_key(ak, h.created, id, id_len), ak}, av;
    rc = mdb_get(t, s->e->dbi_resp_age, &a, &av);
    if (rc == 0) {
      struct age_val x = {0};
      if (av.mv_size == sizeof x) memcpy(&x, av.mv_data, sizeof x);
      sub_bytes(tt, x.bytes);
      rc = mdb_del(t, s->e->dbi_resp_age, &a, NULL);
    }
    if (rc && rc != MDB_NOTFOUND) return rc;
  }
  return mdb_del(t, s->e->dbi_resp, &k, NULL);
}

/* Drops the age entry under cursor c, its bytes, and the record it names unless that id
 * now holds a sound record of another creation time (then the entry was a leftover). */
static int drop_at(struct sl_resp_store *s, MDB_txn *t, MDB_cursor *c, const MDB_val *ak, const MDB_val *av,
                   struct totals *tt) {
  struct age_val x = {0};
  if (av->mv_size == sizeof x) memcpy(&x, av->mv_data, sizeof x);
  int rc = 0;
  if (ak->mv_size > 8 && ak->mv_size <= AGE_KEY_MAX) {
    uint8_t kb[AGE_KEY_MAX];
    memcpy(kb, ak->mv_data, ak->mv_size);
    MDB_val rk = {ak->mv_size - 8, kb + 8}, rv;
    rc = mdb_get(t, s->e->dbi_resp, &rk, &rv);
    if (rc == 0) {
      struct sl__resp_hdr h;
      if (sl__resp_record_header(rv.mv_data, rv.mv_size, &h) != 0 || h.created == age_created(kb))
        rc = mdb_del(t, s->e->dbi_resp, &rk, NULL);
    } else if (rc == MDB_NOTFOUND) {
      rc = 0;
    }
  }
  if (!rc) rc = mdb_cursor_del(c, 0);
  if (!rc) sub_bytes(tt, x.bytes);
  return rc;
}

/* Drops up to SWEEP_MAX expired records among the SWEEP_LOOK oldest. */
static int sweep_expired(struct sl_resp_store *s, MDB_txn *t, int64_t now, struct totals *tt) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(t, s->e->dbi_resp_age, &c);
  if (rc) return rc;
  MDB_val k, v;
  unsigned looked = 0, dropped = 0;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && looked < SWEEP_LOOK && dropped < SWEEP_MAX;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    looked++;
    struct age_val x = {0};
    if (v.mv_size == sizeof x) memcpy(&x, v.mv_data, sizeof x); /* a malformed entry: expires 0, dropped */
    if (x.expires > now) continue;
    rc = drop_at(s, t, c, &k, &v, tt);
    if (rc) break;
    dropped++;
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Drops the oldest records while the total is above target (at most EVICT_MAX). */
static int evict_to(struct sl_resp_store *s, MDB_txn *t, uint64_t target, struct totals *tt) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(t, s->e->dbi_resp_age, &c);
  if (rc) return rc;
  MDB_val k, v;
  for (unsigned n = 0; tt->bytes > target && n < EVICT_MAX; n++) {
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
      tt->bytes = 0; /* nothing is left to count */
      rc = 0;
      break;
    }
    if (rc || (rc = drop_at(s, t, c, &k, &v, tt))) break;
  }
  mdb_cursor_close(c);
  return rc;
}

/* ---- write txns ---- */

static bool no_space(int rc) { return rc == ENOSPC || rc == EDQUOT; }
static bool full(int rc) { return rc == MDB_MAP_FULL || no_space(rc); }

/* LMDB reports a short write (the filesystem filled up during a commit) as EIO: call it
 * ENOSPC when the data dir's filesystem has less room than the write needed (as the
 * cache does). */
static int disk_rc(struct sl_resp_store *s, int rc, size_t need) {
  struct statvfs v;
  if (rc == EIO && statvfs(s->e->dir, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < need + 64 * 1024) return ENOSPC;
  return rc;
}

typedef int (*txn_fn)(struct sl_resp_store *s, MDB_txn *t, void *ctx);

/* One write txn: fn, committed when it returns 0. Returns an LMDB code (or fn's). */
static int run_txn(struct sl_resp_store *s, txn_fn fn, void *ctx, size_t need) {
  MDB_txn *t;
  int rc = sl__keys_begin(s->e, 0, &t);
  if (!rc) {
    rc = fn(s, t, ctx);
    if (rc == 0)
      rc = sl__keys_commit(s->e, t);
    else
      sl__keys_abort(s->e, t);
  }
  rc = disk_rc(s, rc, need);
  if (sl_lmdb_is_corruption(rc)) sl_lmdb_mark_broken(s->e);
  return rc;
}

static int to_errno(int rc) {
  if (rc == 0) return 0;
  if (full(rc)) return -ENOSPC;
  if (rc == ENOMEM) return -ENOMEM;
  return -EIO;
}

struct put_ctx {
  const char *id;
  size_t id_len;
  const char *rec;
  size_t len;
  int64_t created, expires;
};

static int put_fn(struct sl_resp_store *s, MDB_txn *t, void *arg) {
  struct put_ctx *p = arg;
  struct totals tt;
  totals_load(s, t, &tt);
  int rc = drop_record(s, t, &tt, p->id, p->id_len);
  if (rc && rc != MDB_NOTFOUND) return rc;
  if ((rc = sweep_expired(s, t, p->created, &tt))) return rc;
  uint64_t acct = (uint64_t)p->id_len + p->len; /* <= max_bytes: checked by the caller */
  if (tt.bytes > s->o.max_bytes - acct && (rc = evict_to(s, t, s->o.max_bytes - acct, &tt))) return rc;
  if (tt.bytes > s->o.max_bytes - acct) return ENOSPC; /* EVICT_MAX was not enough: the caller makes room */
  MDB_val k = {p->id_len, (void *)p->id}, v = {p->len, (void *)p->rec};
  if ((rc = mdb_put(t, s->e->dbi_resp, &k, &v, 0))) return rc;
  uint8_t ak[AGE_KEY_MAX];
  struct age_val x = {acct, p->expires};
  MDB_val a = {age_key(ak, p->created, p->id, p->id_len), ak}, av = {sizeof x, &x};
  if ((rc = mdb_put(t, s->e->dbi_resp_age, &a, &av, 0))) return rc;
  tt.bytes += acct;
  return totals_store(s, t, &tt);
}

struct room_ctx {
  uint64_t need;
};

/* Frees room for a put that found the map or the disk full: the oldest records go until
 * `need` bytes of them are gone (their pages are reusable once this txn commits). */
static int room_fn(struct sl_resp_store *s, MDB_txn *t, void *arg) {
  struct room_ctx *r = arg;
  struct totals tt;
  totals_load(s, t, &tt);
  int rc = evict_to(s, t, tt.bytes > r->need ? tt.bytes - r->need : 0, &tt);
  return rc ? rc : totals_store(s, t, &tt);
}

/* ---- the API ---- */

int sl_resp_store_open(struct sl_lmdb *env, const struct sl_resp_store_opts *o, struct sl_resp_store **out) {
  *out = NULL;
  struct sl_resp_store *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->e = env;
  if (o) s->o = *o;
  if (s->o.ttl_s <= 0) s->o.ttl_s = DEFAULT_TTL_S;
  if (!s->o.max_bytes) s->o.max_bytes = env->map_size / 8;
  if (!s->o.max_value) s->o.max_value = DEFAULT_MAX_VALUE;
  int rc = sl__keys_begin(env, MDB_RDONLY, &s->rtxn);
  if (rc) {
    free(s);
    return sl_lmdb_err(rc);
  }
  sl__keys_reset(env, s->rtxn);
  *out = s;
  return 0;
}

void sl_resp_store_close(struct sl_resp_store *s) {
  if (!s) return;
  mdb_txn_abort(s->rtxn);
  free(s);
}

int sl_resp_store_put(struct sl_resp_store *s, const char *id, const char *owner, int64_t now_unix, const char *resp,
                      size_t resp_len, const char *items, size_t items_len) {
  if (!owner) owner = "";
  size_t id_len = id ? strlen(id) : 0, owner_len = strlen(owner);
  if (id_len == 0 || id_len > SL_RESP_ID_MAX || owner_len > SL_RESP_OWNER_MAX) return -EINVAL;
  if ((resp_len && !resp) || (items_len && !items)) return -EINVAL;
  if (resp_len > s->o.max_value || items_len > s->o.max_value - resp_len) return -E2BIG;
  size_t len = sl__resp_record_len(owner_len, resp_len, items_len);
  if (len == 0 || len > SIZE_MAX - id_len) return -E2BIG;
  if (id_len + len > s->o.max_bytes) return -ENOSPC; /* would not fit even alone */
  int64_t ttl = s->o.ttl_s;
  struct sl__resp_view v = {
      .owner = owner,
      .owner_len = owner_len,
      .resp = resp,
      .resp_len = resp_len,
      .items = items,
      .items_len = items_len,
      .created = now_unix,
  };
  if (__builtin_add_overflow(now_unix, ttl, &v.expires)) v.expires = INT64_MAX;
  char *rec = malloc(len);
  if (!rec) return -ENOMEM;
  sl__resp_record_encode(id, id_len, &v, rec);
  struct put_ctx p = {.id = id, .id_len = id_len, .rec = rec, .len = len, .created = v.created, .expires = v.expires};
  int rc = run_txn(s, put_fn, &p, len);
  if (full(rc)) {
    /* Make room in a txn of its own, then try once more. A map full to the last page
     * may not even have the pages a delete copies: grow it a little (sl_lmdb_grow). */
    sl_lmdb_reader_check(s->e); /* a dead reader can pin free pages */
    struct room_ctx r = {.need = 2 * ((uint64_t)id_len + len) + 16 * (uint64_t)(s->e->psize ? s->e->psize : 4096)};
    int rr = run_txn(s, room_fn, &r, 0);
    if (rr == MDB_MAP_FULL && sl_lmdb_grow(s->e) == 0) rr = run_txn(s, room_fn, &r, 0);
    /* Pages a txn frees are reusable only from the second txn after it (LMDB keeps the
     * previous meta page's snapshot whole): one more small commit before the retry. */
    struct room_ctx tick = {0};
    if (!rr) (void)run_txn(s, room_fn, &tick, 0);
    rc = run_txn(s, put_fn, &p, len);
  }
  free(rec);
  return to_errno(rc);
}

struct drop_ctx {
  const char *id;
  size_t id_len;
  int64_t created, now; /* expired mode: drop only this record, if expired */
  bool expired_mode;
};

/* Drops a record a get found damaged or expired, unless another process replaced it
 * since (checked again inside the write txn). */
static int drop_fn(struct sl_resp_store *s, MDB_txn *t, void *arg) {
  struct drop_ctx *d = arg;
  MDB_val k = {d->id_len, (void *)d->id}, v;
  int rc = mdb_get(t, s->e->dbi_resp, &k, &v);
  if (rc) return rc;
  struct sl__resp_view w;
  bool bad = sl__resp_record_decode(d->id, d->id_len, v.mv_data, v.mv_size, &w) != 0;
  if (d->expired_mode ? bad || w.created != d->created || w.expires > d->now : !bad) return MDB_NOTFOUND;
  struct totals tt;
  totals_load(s, t, &tt);
  if ((rc = drop_record(s, t, &tt, d->id, d->id_len))) return rc;
  return totals_store(s, t, &tt);
}

static bool owner_is(const struct sl__resp_view *w, const char *owner) {
  size_t n = strlen(owner);
  return w->owner_len == n && (n == 0 || memcmp(w->owner, owner, n) == 0);
}

static char *dup_nul(const char *p, size_t n) {
  char *r = malloc(n + 1);
  if (!r) return NULL;
  if (n) memcpy(r, p, n);
  r[n] = 0;
  return r;
}

int sl_resp_store_get(struct sl_resp_store *s, const char *id, const char *owner, int64_t now_unix,
                      struct sl_resp_record *out) {
  memset(out, 0, sizeof *out);
  if (!owner) owner = "";
  size_t id_len = id ? strlen(id) : 0;
  if (id_len == 0 || id_len > SL_RESP_ID_MAX) return -ENOENT;
  int rc = sl__keys_renew(s->e, s->rtxn);
  if (rc) return to_errno(rc);
  MDB_val k = {id_len, (void *)id}, v;
  char *copy = NULL;
  size_t len = 0;
  rc = mdb_get(s->rtxn, s->e->dbi_resp, &k, &v);
  if (rc == 0) {
    len = v.mv_size;
    copy = malloc(len ? len : 1);
    if (copy && len) memcpy(copy, v.mv_data, len);
  }
  sl__keys_reset(s->e, s->rtxn);
  if (rc == MDB_NOTFOUND) return -ENOENT;
  if (rc) {
    if (sl_lmdb_is_corruption(rc)) sl_lmdb_mark_broken(s->e);
    return to_errno(rc);
  }
  if (!copy) return -ENOMEM;
  struct sl__resp_view w;
  struct drop_ctx d = {.id = id, .id_len = id_len};
  int ret = 0;
  if (sl__resp_record_decode(id, id_len, copy, len, &w) != 0) {
    (void)run_txn(s, drop_fn, &d, 0); /* damaged: it reads as absent, and goes */
    ret = -ENOENT;
  } else if (!owner_is(&w, owner)) {
    ret = -ENOENT; /* never say that another key's response exists */
  } else if (w.expires <= now_unix) {
    d.expired_mode = true;
    d.created = w.created;
    d.now = now_unix;
    (void)run_txn(s, drop_fn, &d, 0);
    ret = -ETIME;
  } else {
    out->response = dup_nul(w.resp, w.resp_len);
    out->items = dup_nul(w.items, w.items_len);
    if (!out->response || !out->items) {
      sl_resp_record_free(out);
      ret = -ENOMEM;
    } else {
      out->response_len = w.resp_len;
      out->items_len = w.items_len;
      out->created = w.created;
      out->expires = w.expires;
    }
  }
  free(copy);
  return ret;
}

struct del_ctx {
  const char *id, *owner;
  size_t id_len;
  int result;
};

static int del_fn(struct sl_resp_store *s, MDB_txn *t, void *arg) {
  struct del_ctx *d = arg;
  d->result = -ENOENT;
  MDB_val k = {d->id_len, (void *)d->id}, v;
  int rc = mdb_get(t, s->e->dbi_resp, &k, &v);
  if (rc) return rc;
  struct sl__resp_view w;
  bool bad = sl__resp_record_decode(d->id, d->id_len, v.mv_data, v.mv_size, &w) != 0;
  if (!bad && !owner_is(&w, d->owner)) return MDB_NOTFOUND;
  struct totals tt;
  totals_load(s, t, &tt);
  if ((rc = drop_record(s, t, &tt, d->id, d->id_len)) || (rc = totals_store(s, t, &tt))) return rc;
  if (!bad) d->result = 0; /* a damaged record goes too, but was never there */
  return 0;
}

int sl_resp_store_delete(struct sl_resp_store *s, const char *id, const char *owner) {
  if (!owner) owner = "";
  size_t id_len = id ? strlen(id) : 0;
  if (id_len == 0 || id_len > SL_RESP_ID_MAX) return -ENOENT;
  struct del_ctx d = {.id = id, .owner = owner, .id_len = id_len};
  int rc = run_txn(s, del_fn, &d, 0);
  if (rc == MDB_MAP_FULL && sl_lmdb_grow(s->e) == 0) rc = run_txn(s, del_fn, &d, 0); /* no page to copy into */
  if (rc == 0 || rc == MDB_NOTFOUND) return d.result;
  return rc == MDB_MAP_FULL || no_space(rc) ? -EIO : to_errno(rc);
}

void sl_resp_record_free(struct sl_resp_record *r) {
  if (!r) return;
  free(r->response);
  free(r->items);
  memset(r, 0, sizeof *r);
}

int sl_resp_store_stats(struct sl_resp_store *s, uint64_t *records, uint64_t *bytes) {
  *records = *bytes = 0;
  int rc = sl__keys_renew(s->e, s->rtxn);
  if (rc) return to_errno(rc);
  MDB_stat ms;
  struct totals tt;
  rc = mdb_stat(s->rtxn, s->e->dbi_resp, &ms);
  if (!rc) totals_load(s, s->rtxn, &tt);
  sl__keys_reset(s->e, s->rtxn);
  if (rc) return to_errno(rc);
  *records = ms.ms_entries;
  *bytes = tt.bytes;
  return 0;
}
