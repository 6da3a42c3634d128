/* Virtual keys across hosts (cluster mode; see core/cluster.h). The one idea: Redis holds
 * the cluster's copy of every key record, as the very bytes LMDB stores (store/keys.c's
 * TLV), and each host keeps a full replica in its own LMDB, so the request path
 * (sl_keys_lookup) never waits for Redis and keeps working while Redis is down.
 *
 * Redis:  "<ns>:{keys}:all"   hash: field = the key's token (64 hex), value = record bytes
 *         "<ns>:{keys}:ver"   counter, INCR'd by every change
 *         "<ns>:{keys}:epoch" a random id, set once by the first host that finds Redis empty
 *         "<ns>:{keys}:dead"  hash: tokens deleted since Redis last lost its data (tombstones,
 *                             kept 7 days after the last deletion), so a merge never brings
 *                             back a key deleted while Redis was down
 *         channel "<ns>:keys" "<ver> <token>" per change ("<ver> *": resync everything)
 *
 * Writes. An admin write commits to LMDB with a "to push" mark in the same txn; the
 * worker that made it pushes at once (one EVALSHA: HSET or HDEL, INCR, PUBLISH), then
 * reads the field back (HGET) and settles: mark cleared, Redis's value applied. A push
 * that fails leaves the mark; worker 0 pushes every mark on each tick while Redis is up.
 *
 * Reads (worker 0 of each host applies for the whole host: the workers share the LMDB;
 * every apply is idempotent anyway). A message with the next version: HGET the field and
 * apply it. A gap, a tick whose GET ver differs from the version applied, or a
 * reconnect: full resync (GET ver, GET epoch, HGETALL): same epoch as the one this store
 * last synced with -> Redis is the truth (local keys it lacks are deleted, unless marked);
 * another epoch (Redis lost its data, or this store never synced with it) -> merge: Redis's
 * keys are applied, local keys Redis lacks are added to it (HSETNX), nothing is deleted.
 * Marked keys are never overwritten by an apply; one skipped that way is read again on
 * the next tick, after its push settled. LMDB writes run on libuv's thread pool, one at
 * a time per worker, in the order their Redis replies arrived.
 *
 * Extend: a new kind of replicated record follows the same shape (hash + ver + channel). */
#include "core/cluster_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>

#include "core/cluster.h"
#include "core/cluster_features.h"
#include "core/log.h"
#include "core/redis_conn.h"
#include "core/worker.h"
#include "store/keys.h"

#define RECHECK_MAX 1024
#define NAME_MAX_   192

/* KEYS: hash, ver, epoch, dead; ARGV: channel, field, "1" (set) | "0" (delete), value.
 * Refused (-1) while Redis has no epoch: the leader seeds it first, then pushes marks. A
 * delete leaves a tombstone that merges respect. */
static const char PUSH_LUA[] = "if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end\n"
                               "if ARGV[3] == '1' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[4]); "
                               "redis.call('HDEL', KEYS[4], ARGV[2])\n"
                               "else redis.call('HDEL', KEYS[1], ARGV[2]); redis.call('HSET', KEYS[4], ARGV[2], '1'); "
                               "redis.call('EXPIRE', KEYS[4], 604800) end\n"
                               "local v = redis.call('INCR', KEYS[2])\n"
                               "redis.call('PUBLISH', ARGV[1], v .. ' ' .. ARGV[2])\n"
                               "return v\n";

/* KEYS: hash, ver, dead; ARGV: channel, then field, value pairs: added when absent and not
 * deleted meanwhile (a host that was away still holds keys another host deleted). */
static const char MERGE_LUA[] =
    "local added = 0\n"
    "for i = 2, #ARGV, 2 do if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then\n"
    "  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end end\n"
    "if added > 0 then local v = redis.call('INCR', KEYS[2]); redis.call('PUBLISH', ARGV[1], v .. ' *') end\n"
    "return added\n";

struct kjob;

struct sl_cluster_keys {
  struct sl_cluster *c; /* valid while !closed */
  struct sl_worker *w;
  int refs; /* 1 (open) + callbacks and jobs outstanding */
  bool closed;
  bool leader; /* worker 0 */
  char hname[NAME_MAX_], vname[NAME_MAX_], ename[NAME_MAX_], dname[NAME_MAX_], chan[NAME_MAX_];
  struct sl_redis_script push_s, merge_s;
  int64_t applied_ver; /* versions up to this are in LMDB (leader) */
  char epoch[64];      /* Redis's key epoch at the last full resync */
  bool synced;         /* a full resync completed since the last (re)connect */
  bool resync_busy, resync_again, tick_busy;
  size_t marks_inflight; /* pushes started by push_marks, not answered yet */
  struct kjob *q_head, *q_tail;
  bool job_running;
  uint8_t (*recheck)[32];
  size_t nrecheck;
  uint64_t applied, resyncs, pushes, push_failures;
};

static void kref(struct sl_cluster_keys *k) { k->refs++; }
static void kunref(struct sl_cluster_keys *k) {
  if (--k->refs == 0) {
    free(k->recheck);
    free(k);
  }
}
static bool live(const struct sl_cluster_keys *k) { return !k->closed && k->c && k->c->cmd; }

static void hex_of(const uint8_t hash[32], char out[65]) { sl_keys_hash_hex(hash, out); }

static int unhex(const char *s, size_t n, uint8_t hash[32]) {
  if (n != 64) return -1;
  for (size_t i = 0; i < 32; i++) {
    int v = 0;
    for (int j = 0; j < 2; j++) {
      char ch = s[2 * i + j];
      int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
      if (d < 0) return -1;
      v = v << 4 | d;
    }
    hash[i] = (uint8_t)v;
  }
  return 0;
}

static void ignore_cb(void *ud, const struct redisReply *rep, const char *err) {
  (void)ud;
  (void)rep;
  (void)err;
}

/* ---- LMDB jobs: one at a time, in order ---- */

struct kjob {
  uv_work_t work;
  struct sl_cluster_keys *k;
  struct kjob *next;
  struct sl_keys_remote *r;
  size_t n;
  void **vals; /* owned copies of r[i].val */
  bool full;
  bool merge;        /* full but nothing deleted; then local-only keys go to Redis */
  int64_t ver_after; /* a resync: the version its snapshot reflects */
  char epoch[64];    /* a resync: Redis's epoch; set_epoch: the one to store */
  bool set_epoch;    /* only stores epoch */
  int rc;
  struct sl_keys_apply_stats st;
};

static void job_free(struct kjob *j) {
  for (size_t i = 0; i < j->n; i++) free(j->vals[i]);
  free(j->vals);
  free(j->r);
  free(j);
}

static struct kjob *job_new(struct sl_cluster_keys *k, size_t n) {
  struct kjob *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->k = k;
  j->ver_after = -1;
  if (n && (!(j->r = calloc(n, sizeof *j->r)) || !(j->vals = calloc(n, sizeof *j->vals)))) {
    free(j->r);
    free(j);
    return NULL;
  }
  return j;
}

/* Copies a Redis string into entry i of j (present). 0 or -ENOMEM. */
static int job_set(struct kjob *j, size_t i, const uint8_t hash[32], const char *val, size_t n) {
  struct sl_keys_remote *e = &j->r[i];
  memcpy(e->hash, hash, 32);
  if (val) {
    if (!(j->vals[i] = malloc(n ? n : 1))) return -ENOMEM;
    memcpy(j->vals[i], val, n);
    e->val = j->vals[i];
    e->n = n;
    e->present = true;
  }
  if (i >= j->n) j->n = i + 1;
  return 0;
}

static void job_run(uv_work_t *wk) {
  struct kjob *j = wk->data;
  struct sl_keys *keys = j->k->w->keys;
  if (j->set_epoch)
    j->rc = sl_keys_epoch_set(keys, j->epoch);
  else
    j->rc = sl_keys_apply(keys, j->r, j->n, j->full && !j->merge, &j->st);
}

static void job_start_next(struct sl_cluster_keys *k);
static void resync(struct sl_cluster_keys *k);
static void merge_push(struct sl_cluster_keys *k, struct kjob *j);

static void recheck_add(struct sl_cluster_keys *k, const uint8_t hash[32]) {
  for (size_t i = 0; i < k->nrecheck; i++)
    if (!memcmp(k->recheck[i], hash, 32)) return;
  if (k->nrecheck >= RECHECK_MAX) {
    k->synced = false; /* too many: the next tick resyncs everything */
    return;
  }
  if (!k->recheck && !(k->recheck = malloc(RECHECK_MAX * sizeof *k->recheck))) return;
  memcpy(k->recheck[k->nrecheck++], hash, 32);
}

static void job_after(uv_work_t *wk, int status) {
  struct kjob *j = wk->data;
  struct sl_cluster_keys *k = j->k;
  k->job_running = false;
  if (!k->closed) {
    if (status || j->rc) {
      sl_log(SL_LOG_WARN, "cluster keys: cannot apply Redis's keys to the local store", "\"error\":\"%s\",\"full\":%s",
             status ? uv_strerror(status) : strerror(-j->rc), j->full ? "true" : "false");
      if (j->full || j->set_epoch) k->resync_busy = false; /* the next tick tries again */
    } else if (!j->set_epoch) {
      k->applied += j->st.written + j->st.deleted;
      for (size_t i = 0; i < j->n; i++)
        if (j->r[i].skipped) recheck_add(k, j->r[i].hash);
      if (j->st.written || j->st.deleted || j->st.bad)
        sl_log(SL_LOG_INFO, "cluster keys: applied", "\"written\":%u,\"deleted\":%u,\"bad\":%u,\"full\":%s",
               j->st.written, j->st.deleted, j->st.bad, j->full ? "true" : "false");
      if (j->full && j->merge) {
        merge_push(k, j); /* then stores the epoch, then resyncs */
      } else if (j->full) {
        k->applied_ver = j->ver_after;
        snprintf(k->epoch, sizeof k->epoch, "%s", j->epoch);
        k->synced = true;
        k->resync_busy = false;
        k->resyncs++;
        if (k->resync_again) {
          k->resync_again = false;
          resync(k);
        }
      }
    } else { /* the epoch is stored: resync again, now as Redis's own store */
      k->resync_busy = false;
      resync(k);
    }
  }
  job_free(j);
  job_start_next(k);
  kunref(k);
}

static void job_start_next(struct sl_cluster_keys *k) {
  while (!k->job_running && k->q_head && !k->closed) {
    struct kjob *j = k->q_head;
    k->q_head = j->next;
    if (!k->q_head) k->q_tail = NULL;
    j->work.data = j;
    kref(k);
    if (uv_queue_work(&k->w->loop, &j->work, job_run, job_after) == 0) {
      k->job_running = true;
      return;
    }
    kunref(k);
    if (j->full || j->set_epoch) k->resync_busy = false;
    job_free(j);
  }
  while (k->closed && k->q_head) { /* closing: queued jobs are dropped */
    struct kjob *j = k->q_head;
    k->q_head = j->next;
    job_free(j);
  }
  if (!k->q_head) k->q_tail = NULL;
}

static void job_queue(struct sl_cluster_keys *k, struct kjob *j) {
  if (k->q_tail)
    k->q_tail->next = j;
  else
    k->q_head = j;
  k->q_tail = j;
  job_start_next(k);
}

/* ---- one key: HGET then apply ---- */

struct fetch_ctx {
  struct sl_cluster_keys *k;
  uint8_t hash[32];
  uint64_t clear_seq;
};

static void fetch_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct fetch_ctx *f = ud;
  struct sl_cluster_keys *k = f->k;
  if (!k->closed && rep && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_NIL)) {
    struct kjob *j = job_new(k, 1);
    if (j && job_set(j, 0, f->hash, rep->type == REDIS_REPLY_STRING ? rep->str : NULL, rep->len) == 0) {
      j->r[0].clear_seq = f->clear_seq;
      job_queue(k, j);
    } else if (j) {
      job_free(j);
    }
  } else if (!k->closed && k->leader) {
    recheck_add(k, f->hash); /* failed: read again on the next tick */
  }
  (void)err;
  free(f);
  kunref(k);
}

static int fetch(struct sl_cluster_keys *k, const uint8_t hash[32], uint64_t clear_seq) {
  if (!live(k)) return -1;
  struct fetch_ctx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->k = k;
  memcpy(f->hash, hash, 32);
  f->clear_seq = clear_seq;
  char hex[65];
  hex_of(hash, hex);
  const char *argv[] = {"HGET", k->hname, hex};
  size_t lens[] = {4, strlen(k->hname), 64};
  kref(k);
  if (!sl_redis_cmd(k->c->cmd, fetch_cb, f, 3, argv, lens)) {
    free(f);
    kunref(k);
    return -1;
  }
  return 0;
}

/* ---- pushes ---- */

struct push_ctx {
  struct sl_cluster_keys *k;
  uint8_t hash[32];
  uint64_t seq;
  bool from_marks;
};

static void push_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct push_ctx *p = ud;
  struct sl_cluster_keys *k = p->k;
  if (p->from_marks && k->marks_inflight) k->marks_inflight--;
  if (!k->closed) {
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0) {
      k->pushes++;
      fetch(k, p->hash, p->seq); /* settle: mark cleared, Redis's value (maybe newer) applied */
    } else {
      k->push_failures++;
      if (!(rep && rep->type == REDIS_REPLY_INTEGER)) /* -1: not seeded yet; the leader pushes later */
        sl_log(SL_LOG_WARN, "cluster keys: push failed; kept to push again", "\"error\":\"%s\"",
               err                                     ? err
               : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                       : "unexpected reply");
    }
  }
  free(p);
  kunref(k);
}

/* Pushes what LMDB holds for hash now (if it is marked). 0 sent (or nothing to send), -1 not. */
static int push_hash(struct sl_cluster_keys *k, const uint8_t hash[32], bool from_marks) {
  if (!live(k) || !k->w->keys) return -1;
  void *val;
  size_t n;
  uint64_t seq;
  int rc = sl_keys_raw_get(k->w->keys, hash, &val, &n, &seq);
  if ((rc && rc != -ENOENT) || !seq) { /* unmarked: already pushed by someone */
    free(val);
    return rc && rc != -ENOENT ? -1 : 0;
  }
  struct push_ctx *p = calloc(1, sizeof *p);
  if (!p) {
    free(val);
    return -1;
  }
  p->k = k;
  memcpy(p->hash, hash, 32);
  p->seq = seq;
  p->from_marks = from_marks;
  char hex[65];
  hex_of(hash, hex);
  const char *argv[] = {k->hname, k->vname, k->ename, k->dname, k->chan, hex, rc == 0 ? "1" : "0",
                        val ? (const char *)val : ""};
  size_t lens[] = {strlen(k->hname), strlen(k->vname), strlen(k->ename), strlen(k->dname), strlen(k->chan), 64, 1,
                   val ? n : 0};
  kref(k);
  uint64_t t = sl_redis_eval(k->c->cmd, &k->push_s, push_cb, p, 4, 4, argv, lens);
  free(val);
  if (!t) {
    free(p);
    kunref(k);
    return -1;
  }
  if (from_marks) k->marks_inflight++;
  return 0;
}

void sl_cluster_keys_push(struct sl_worker *w, const uint8_t hash[32]) {
  if (!w->cluster || !w->cluster->keys) return;
  push_hash(w->cluster->keys, hash, false);
}

struct marks_ctx {
  uint8_t (*h)[32];
  size_t n, cap;
};

static int marks_cb(void *ctx, const uint8_t hash[32], uint64_t seq) {
  struct marks_ctx *m = ctx;
  (void)seq;
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    void *p = realloc(m->h, cap * sizeof *m->h);
    if (!p) return -ENOMEM;
    m->h = p;
    m->cap = cap;
  }
  memcpy(m->h[m->n++], hash, 32);
  return 0;
}

/* Leader: every marked key to Redis (writes made while Redis was down, failed pushes). */
static void push_marks(struct sl_cluster_keys *k) {
  if (k->marks_inflight) return; /* the last round is still on its way */
  struct marks_ctx m = {0};
  if (sl_keys_pending_list(k->w->keys, marks_cb, &m) == 0 && m.n) {
    sl_log(SL_LOG_INFO, "cluster keys: pushing keys written while Redis could not be reached", "\"keys\":%zu", m.n);
    for (size_t i = 0; i < m.n; i++)
      if (push_hash(k, m.h[i], true)) break;
  }
  free(m.h);
}

/* ---- full resync ---- */

struct resync_ctx {
  struct sl_cluster_keys *k;
  int waiting;
  bool failed;
  bool have_ver;
  int64_t ver;
  char epoch[64];
  bool have_epoch;
  struct kjob *j;
};

static void resync_done(struct resync_ctx *rs) {
  struct sl_cluster_keys *k = rs->k;
  if (k->closed) {
    if (rs->j) job_free(rs->j);
  } else if (rs->failed || !rs->j) {
    if (rs->j) job_free(rs->j);
    k->resync_busy = false; /* the next tick tries again */
  } else if (!rs->have_epoch) {
    /* Redis holds no key state (new, restarted or flushed): stamp an epoch, then merge */
    job_free(rs->j);
    char ep[33];
    uint8_t rnd[16] = {0};
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
      uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)k;
      memcpy(rnd, &x, sizeof x);
    }
    for (int i = 0; i < 16; i++) snprintf(ep + 2 * i, 3, "%02x", rnd[i]);
    const char *argv[] = {"SET", k->ename, ep, "NX"};
    size_t lens[] = {3, strlen(k->ename), 32, 2};
    k->resync_busy = false;
    if (live(k)) sl_redis_cmd(k->c->cmd, ignore_cb, NULL, 4, argv, lens); /* the reply is not needed */
    sl_log(SL_LOG_INFO, "cluster keys: Redis holds no keys yet; merging this host's keys into it", NULL);
    resync(k); /* pipelined after the SET */
  } else {
    char local[64] = "";
    sl_keys_epoch_get(k->w->keys, local);
    struct kjob *j = rs->j;
    j->full = true;
    j->ver_after = rs->have_ver ? rs->ver : 0;
    snprintf(j->epoch, sizeof j->epoch, "%s", rs->epoch);
    j->merge = strcmp(local, rs->epoch) != 0;
    if (j->merge)
      sl_log(SL_LOG_INFO, "cluster keys: first sync of this store with this Redis: merging", "\"epoch\":\"%s\"",
             rs->epoch);
    job_queue(k, j);
  }
  free(rs);
  kunref(k);
}

static void resync_ver_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct resync_ctx *rs = ud;
  (void)err;
  if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL))
    rs->failed = true;
  else if (rep->type == REDIS_REPLY_STRING) {
    rs->have_ver = true;
    rs->ver = strtoll(rep->str, NULL, 10);
  }
  if (--rs->waiting == 0) resync_done(rs);
}

static void resync_epoch_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct resync_ctx *rs = ud;
  (void)err;
  if (!rep || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL))
    rs->failed = true;
  else if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof rs->epoch) {
    rs->have_epoch = true;
    memcpy(rs->epoch, rep->str, rep->len);
    rs->epoch[rep->len] = 0;
  }
  if (--rs->waiting == 0) resync_done(rs);
}

static void resync_all_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct resync_ctx *rs = ud;
  (void)err;
  if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements % 2) {
    rs->failed = true;
  } else {
    size_t n = rep->elements / 2;
    struct kjob *j = job_new(rs->k, n);
    size_t m = 0;
    for (size_t i = 0; j && i < n; i++) {
      const redisReply *f = rep->element[2 * i], *v = rep->element[2 * i + 1];
      uint8_t h[32];
      if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || unhex(f->str, f->len, h)) continue;
      if (job_set(j, m++, h, v->str, v->len)) {
        job_free(j);
        j = NULL;
      }
    }
    if (!j)
      rs->failed = true;
    else
      j->n = m;
    rs->j = j;
  }
  if (--rs->waiting == 0) resync_done(rs);
}

static void resync(struct sl_cluster_keys *k) {
  if (!k->leader || !live(k) || !k->w->keys) return;
  if (k->resync_busy) {
    k->resync_again = true;
    return;
  }
  struct resync_ctx *rs = calloc(1, sizeof *rs);
  if (!rs) return;
  rs->k = k;
  kref(k);
  k->resync_busy = true;
  /* ver first: the hash read after it holds at least that version */
  const char *a1[] = {"GET", k->vname}, *a2[] = {"GET", k->ename}, *a3[] = {"HGETALL", k->hname};
  size_t l1[] = {3, strlen(k->vname)}, l2[] = {3, strlen(k->ename)}, l3[] = {7, strlen(k->hname)};
  rs->waiting = 3;
  if (!sl_redis_cmd(k->c->cmd, resync_ver_cb, rs, 2, a1, l1)) {
    k->resync_busy = false;
    free(rs);
    kunref(k);
    return;
  }
  if (!sl_redis_cmd(k->c->cmd, resync_epoch_cb, rs, 2, a2, l2)) rs->failed = true, rs->waiting--;
  if (!sl_redis_cmd(k->c->cmd, resync_all_cb, rs, 2, a3, l3)) rs->failed = true, rs->waiting--;
  /* waiting >= 1: the GET's callback finishes it */
}

/* ---- merge: local keys Redis lacks go to Redis (HSETNX), then the epoch is stored ---- */

struct merge_ctx {
  struct sl_cluster_keys *k;
  uint8_t (*have)[32]; /* Redis's keys, sorted */
  size_t nhave;
  char (*hex)[65];
  void **vals;
  size_t *vlens;
  size_t n, cap;
  bool oom;
  char epoch[64];
};

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, 32); }

static void merge_free(struct merge_ctx *m) {
  for (size_t i = 0; i < m->n; i++) free(m->vals[i]);
  free(m->vals);
  free(m->vlens);
  free(m->hex);
  free(m->have);
  free(m);
}

static int merge_collect(void *ctx, const uint8_t hash[32], const void *val, size_t n) {
  struct merge_ctx *m = ctx;
  if (m->nhave && bsearch(hash, m->have, m->nhave, 32, cmp_hash)) return 0;
  if (sl_keys_raw_check(val, n)) return 0; /* damaged: never spread */
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    void *h = realloc(m->hex, cap * sizeof *m->hex);
    if (h) m->hex = h;
    void *v = h ? realloc(m->vals, cap * sizeof *m->vals) : NULL;
    if (v) m->vals = v;
    void *l = v ? realloc(m->vlens, cap * sizeof *m->vlens) : NULL;
    if (l) m->vlens = l;
    if (!l) {
      m->oom = true;
      return 1;
    }
    m->cap = cap;
  }
  if (!(m->vals[m->n] = malloc(n ? n : 1))) {
    m->oom = true;
    return 1;
  }
  memcpy(m->vals[m->n], val, n);
  m->vlens[m->n] = n;
  hex_of(hash, m->hex[m->n]);
  m->n++;
  return 0;
}

static void store_epoch(struct sl_cluster_keys *k, const char *epoch) {
  struct kjob *j = job_new(k, 0);
  if (!j) {
    k->resync_busy = false;
    return;
  }
  j->set_epoch = true;
  snprintf(j->epoch, sizeof j->epoch, "%s", epoch);
  job_queue(k, j);
}

static void merge_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct merge_ctx *m = ud;
  struct sl_cluster_keys *k = m->k;
  if (!k->closed) {
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
      sl_log(SL_LOG_INFO, "cluster keys: merged this host's keys into Redis", "\"added\":%lld", rep->integer);
      store_epoch(k, m->epoch);
    } else {
      sl_log(SL_LOG_WARN, "cluster keys: merge into Redis failed; retried on the next tick", "\"error\":\"%s\"",
             err                                     ? err
             : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                     : "unexpected reply");
      k->resync_busy = false;
    }
  }
  merge_free(m);
  kunref(k);
}

/* After a merge apply (j: Redis's keys): push the local keys Redis lacks. */
static void merge_push(struct sl_cluster_keys *k, struct kjob *j) {
  struct merge_ctx *m = calloc(1, sizeof *m);
  if (!m) {
    k->resync_busy = false;
    return;
  }
  m->k = k;
  snprintf(m->epoch, sizeof m->epoch, "%s", j->epoch);
  if (j->n && !(m->have = malloc(j->n * 32))) m->oom = true;
  for (size_t i = 0; !m->oom && i < j->n; i++) memcpy(m->have[i], j->r[i].hash, 32);
  m->nhave = m->oom ? 0 : j->n;
  if (m->nhave) qsort(m->have, m->nhave, 32, cmp_hash);
  int rc = m->oom ? -ENOMEM : sl_keys_raw_list(k->w->keys, merge_collect, m);
  if (rc || m->oom || !live(k)) {
    k->resync_busy = false;
    merge_free(m);
    return;
  }
  if (m->n == 0) { /* nothing to add */
    store_epoch(k, m->epoch);
    merge_free(m);
    return;
  }
  size_t argc = 4 + 2 * m->n;
  const char **argv = calloc(argc, sizeof *argv);
  size_t *lens = calloc(argc, sizeof *lens);
  if (!argv || !lens) {
    free(argv);
    free(lens);
    k->resync_busy = false;
    merge_free(m);
    return;
  }
  argv[0] = k->hname, lens[0] = strlen(k->hname);
  argv[1] = k->vname, lens[1] = strlen(k->vname);
  argv[2] = k->dname, lens[2] = strlen(k->dname);
  argv[3] = k->chan, lens[3] = strlen(k->chan);
  for (size_t i = 0; i < m->n; i++) {
    argv[4 + 2 * i] = m->hex[i], lens[4 + 2 * i] = 64;
    argv[5 + 2 * i] = m->vals[i], lens[5 + 2 * i] = m->vlens[i];
  }
  kref(k);
  uint64_t t = sl_redis_eval(k->c->cmd, &k->merge_s, merge_cb, m, 3, (int)(argc - 3), argv, lens);
  free(argv);
  free(lens);
  if (!t) {
    k->resync_busy = false;
    merge_free(m);
    kunref(k);
  }
}

/* ---- the hooks ---- */

int sl_cluster_keys_open(struct sl_cluster *c) {
  c->keys = NULL;
  if (!c->w->keys) return 0; /* no key store on this host (no master key): nothing to share */
  struct sl_cluster_keys *k = calloc(1, sizeof *k);
  if (!k) return -ENOMEM;
  k->c = c;
  k->w = c->w;
  k->refs = 1;
  k->leader = c->w->index == 0;
  sl_cluster_name(c, "{keys}:all", k->hname, sizeof k->hname);
  sl_cluster_name(c, "{keys}:ver", k->vname, sizeof k->vname);
  sl_cluster_name(c, "{keys}:epoch", k->ename, sizeof k->ename);
  sl_cluster_name(c, "{keys}:dead", k->dname, sizeof k->dname);
  sl_cluster_name(c, SL_CLUSTER_CH_KEYS, k->chan, sizeof k->chan);
  sl_redis_script_init(&k->push_s, "keys_push", PUSH_LUA);
  sl_redis_script_init(&k->merge_s, "keys_merge", MERGE_LUA);
  sl_keys_set_pending_marks(c->w->keys, true);
  c->keys = k;
  return 0;
}

void sl_cluster_keys_close(struct sl_cluster *c) {
  struct sl_cluster_keys *k = c->keys;
  if (!k) return;
  c->keys = NULL;
  k->closed = true;
  k->c = NULL;
  job_start_next(k); /* drops what is queued */
  kunref(k);
}

void sl_cluster_keys_on_up(struct sl_cluster *c) {
  struct sl_cluster_keys *k = c->keys;
  if (!k || !k->leader) return;
  k->synced = false;
  resync(k);
}

void sl_cluster_keys_on_message(struct sl_cluster *c, const char *msg, size_t n) {
  struct sl_cluster_keys *k = c->keys;
  if (!k || !k->leader) return;
  char buf[128];
  if (n >= sizeof buf) return;
  memcpy(buf, msg, n);
  buf[n] = 0;
  char *sp = strchr(buf, ' ');
  if (!sp) return;
  *sp = 0;
  char *end;
  long long ver = strtoll(buf, &end, 10);
  if (*end || ver <= 0) return;
  const char *id = sp + 1;
  if (!k->synced || k->resync_busy) {
    resync(k); /* (again, once the running one is done) */
    return;
  }
  if (ver <= k->applied_ver) return; /* in what was applied already */
  uint8_t h[32];
  if (ver != k->applied_ver + 1 || unhex(id, strlen(id), h)) { /* a gap, or "*": everything */
    resync(k);
    return;
  }
  k->applied_ver = ver; /* its HGET and apply run in order behind everything before it */
  if (fetch(k, h, 0)) resync(k);
}

static void tick_ver_cb(void *ud, const struct redisReply *rep, const char *err) {
  struct sl_cluster_keys *k = ud;
  (void)err;
  k->tick_busy = false;
  if (!k->closed && rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
    const redisReply *v = rep->element[0], *e = rep->element[1];
    int64_t ver = v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
    bool same_epoch = e->type == REDIS_REPLY_STRING && e->len == strlen(k->epoch) && !memcmp(e->str, k->epoch, e->len);
    if (ver != k->applied_ver || !same_epoch) { /* a lost message, or Redis lost its data */
      sl_log(SL_LOG_INFO, "cluster keys: version check found missed changes; resyncing",
             "\"redis\":%lld,\"applied\":%lld,\"same_epoch\":%s", (long long)ver, (long long)k->applied_ver,
             same_epoch ? "true" : "false");
      resync(k);
    }
  }
  kunref(k);
}

void sl_cluster_keys_tick(struct sl_cluster *c) {
  struct sl_cluster_keys *k = c->keys;
  if (!k || !k->leader || !live(k) || !c->up) return;
  if (!k->synced) {
    resync(k);
    return;
  }
  if (k->resync_busy) return;
  /* keys skipped while marked: read again now that their pushes have settled */
  for (size_t i = 0; i < k->nrecheck; i++) fetch(k, k->recheck[i], 0);
  k->nrecheck = 0;
  push_marks(k);
  if (!k->tick_busy) {
    const char *argv[] = {"MGET", k->vname, k->ename};
    size_t lens[] = {4, strlen(k->vname), strlen(k->ename)};
    kref(k);
    k->tick_busy = true;
    if (!sl_redis_cmd(c->cmd, tick_ver_cb, k, 3, argv, lens)) {
      k->tick_busy = false;
      kunref(k);
    }
  }
}
