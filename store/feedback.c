/* Decisions, outcomes and learned state in LMDB; see feedback.h. The queue is two
 * arrays swapped under a mutex: the loop thread appends to one while the writer thread
 * commits the other, and a lookup searches both (so an outcome for a decision made a
 * moment ago finds it before it reaches the disk). To add a kind of queued operation:
 * an op kind and its case in commit_op(). */
#include "store/feedback.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/lmdb_env.h"

enum { OP_DECISION, OP_OUTCOME };

struct op {
  int kind;
  char id[SL_FB_ID_MAX];
  struct sl_fb_decision d; /* OP_OUTCOME: need and outcome_ts_s only */
};

struct sl_fb {
  struct sl_lmdb *e;
  struct sl_fb_opts o;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv, done_cv;
  struct op *q, *busy; /* queued; being committed */
  size_t qn, busyn;
  uint64_t enq_seq, done_seq;
  bool stop, flush_req;
  _Atomic uint64_t recorded, outcomes, dropped, expired, evicted, errors, learned;
};

static int64_t now_s(const struct sl_fb *fb) { return fb->o.now_s ? fb->o.now_s() : (int64_t)time(NULL); }

static void be64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}
static uint64_t rd_be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static bool id_ok(const char *id) {
  size_t n = id ? strnlen(id, SL_FB_ID_MAX) : 0;
  return n > 0 && n < SL_FB_ID_MAX;
}

static MDB_val idval(const char *id) { return (MDB_val){strlen(id), (void *)id}; }

static int get_decision(MDB_txn *t, struct sl_lmdb *e, const char *id, struct sl_fb_decision *out) {
  MDB_val k = idval(id), v;
  int rc = mdb_get(t, e->dbi_fb, &k, &v);
  if (rc) return rc;
  if (v.mv_size != sizeof *out) return MDB_NOTFOUND; /* another layout: forgotten */
  memcpy(out, v.mv_data, sizeof *out);
  return 0;
}

/* ---- snapshots ---- */

static size_t snap_key(unsigned char *k, const char *router, int64_t ts) {
  size_t n = strnlen(router, SL_FB_NAME_MAX - 1);
  memcpy(k, router, n);
  k[n] = 0;
  be64(k + n + 1, (uint64_t)ts);
  return n + 9;
}

/* Snapshot times of router in t, oldest first (at most max; returns how many in all). */
static size_t snap_list(MDB_txn *t, struct sl_lmdb *e, const char *router, int64_t *ts, size_t max) {
  unsigned char kb[SL_FB_NAME_MAX + 9];
  size_t pn = snap_key(kb, router, 0) - 8, n = 0;
  MDB_cursor *c;
  if (mdb_cursor_open(t, e->dbi_fb_snap, &c)) return 0;
  MDB_val k = {pn + 8, kb}, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  while (!rc && k.mv_size == pn + 8 && memcmp(k.mv_data, kb, pn) == 0) {
    if (n < max) ts[n] = (int64_t)rd_be64((unsigned char *)k.mv_data + pn);
    n++;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  return n;
}

/* Keeps the current state of router as a snapshot at ts, then at most keep. */
static int snapshot(MDB_txn *t, struct sl_lmdb *e, const char *router, int64_t ts, unsigned keep) {
  MDB_val k = {strlen(router), (void *)router}, v;
  int rc = mdb_get(t, e->dbi_fb_state, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  unsigned char kb[SL_FB_NAME_MAX + 9];
  MDB_val sk = {snap_key(kb, router, ts), kb};
  rc = mdb_put(t, e->dbi_fb_snap, &sk, &v, 0);
  if (rc) return rc;
  int64_t all[256];
  size_t n = snap_list(t, e, router, all, 256);
  for (size_t i = 0; n > keep && i < n - keep && i < 256; i++) {
    MDB_val dk = {snap_key(kb, router, all[i]), kb};
    mdb_del(t, e->dbi_fb_snap, &dk, NULL);
  }
  return 0;
}

/* ---- the writer ---- */

static int put_decision(MDB_txn *t, struct sl_fb *fb, const char *id, const struct sl_fb_decision *d) {
  struct sl_lmdb *e = fb->e;
  struct sl_fb_decision old;
  unsigned char ak[8 + SL_FB_ID_MAX];
  size_t idn = strlen(id);
  memcpy(ak + 8, id, idn);
  if (get_decision(t, e, id, &old) == 0) { /* an id used again (a restarted worker): drop its old age entry */
    be64(ak, (uint64_t)old.ts_s);
    MDB_val k = {8 + idn, ak};
    mdb_del(t, e->dbi_fb_age, &k, NULL);
  }
  MDB_val k = idval(id), v = {sizeof *d, (void *)d};
  int rc = mdb_put(t, e->dbi_fb, &k, &v, 0);
  if (rc) return rc;
  be64(ak, (uint64_t)d->ts_s);
  MDB_val kk = {8 + idn, ak}, empty = {0, ""};
  return mdb_put(t, e->dbi_fb_age, &kk, &empty, 0);
}

static int apply_outcome(MDB_txn *t, struct sl_fb *fb, const struct op *op, unsigned char *state) {
  struct sl_lmdb *e = fb->e;
  struct sl_fb_decision d;
  int rc = get_decision(t, e, op->id, &d);
  if (rc == MDB_NOTFOUND) return 0; /* expired in between */
  if (rc) return rc;
  if (d.has_outcome) return 0;
  d.has_outcome = 1;
  d.need = op->d.need;
  d.learns = op->d.learns;
  d.outcome_ts_s = op->d.outcome_ts_s;
  MDB_val k = idval(op->id), v = {sizeof d, &d};
  rc = mdb_put(t, e->dbi_fb, &k, &v, 0);
  if (rc || !fb->o.learn || !d.router[0]) return rc;
  MDB_val sk = {strlen(d.router), d.router}, sv;
  size_t len = 0;
  rc = mdb_get(t, e->dbi_fb_state, &sk, &sv);
  if (rc == 0 && sv.mv_size <= SL_FB_STATE_MAX) {
    memcpy(state, sv.mv_data, sv.mv_size);
    len = sv.mv_size;
  } else if (rc && rc != MDB_NOTFOUND)
    return rc;
  int64_t now = op->d.outcome_ts_s;
  if (!fb->o.learn(fb->o.learn_ud, &d, now, state, &len, SL_FB_STATE_MAX) || !len) return 0;
  int64_t ts[256];
  size_t n = snap_list(t, e, d.router, ts, 256);
  if (len && (!n || now - ts[n < 256 ? n - 1 : 255] >= fb->o.snapshot_every_s)) {
    rc = snapshot(t, e, d.router, now, fb->o.keep_snapshots);
    if (rc) return rc;
  }
  sv = (MDB_val){len, state};
  rc = mdb_put(t, e->dbi_fb_state, &sk, &sv, 0);
  if (!rc) atomic_fetch_add(&fb->learned, 1);
  return rc;
}

/* The TTL and the bound: the oldest decisions go, a chunk per batch. */
static int sweep(MDB_txn *t, struct sl_fb *fb) {
  struct sl_lmdb *e = fb->e;
  MDB_stat st;
  int rc = mdb_stat(t, e->dbi_fb, &st);
  if (rc) return rc;
  size_t entries = st.ms_entries;
  int64_t cutoff = now_s(fb) - fb->o.ttl_s;
  MDB_cursor *c;
  rc = mdb_cursor_open(t, e->dbi_fb_age, &c);
  if (rc) return rc;
  MDB_val k, v;
  for (int i = 0; i < 1024; i++) {
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc) break;
    int64_t ts = (int64_t)rd_be64(k.mv_data);
    bool old = ts<cutoff, over = entries> fb->o.max_decisions;
    if (!old && !over) break;
    MDB_val dk = {k.mv_size - 8, (char *)k.mv_data + 8};
    if (mdb_del(t, e->dbi_fb, &dk, NULL) == 0 && entries) entries--;
    rc = mdb_cursor_del(c, 0);
    if (rc) break;
    atomic_fetch_add(old ? &fb->expired : &fb->evicted, 1);
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static void commit(struct sl_fb *fb, const struct op *ops, size_t n, unsigned char *state) {
  MDB_txn *t;
  int rc = mdb_txn_begin(fb->e->env, NULL, 0, &t);
  if (rc) {
    atomic_fetch_add(&fb->errors, 1);
    return;
  }
  for (size_t i = 0; i < n && !rc; i++)
    rc = ops[i].kind == OP_DECISION ? put_decision(t, fb, ops[i].id, &ops[i].d) : apply_outcome(t, fb, &ops[i], state);
  if (!rc) rc = sweep(t, fb);
  if (!rc)
    rc = mdb_txn_commit(t);
  else
    mdb_txn_abort(t);
  if (rc) atomic_fetch_add(&fb->errors, 1);
}

static void *writer(void *arg) {
  struct sl_fb *fb = arg;
  unsigned char *state = malloc(SL_FB_STATE_MAX);
  pthread_mutex_lock(&fb->mu);
  for (;;) {
    if (!fb->stop && !fb->flush_req && !fb->qn) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += SL_FB_FLUSH_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&fb->cv, &fb->mu, &ts);
    }
    fb->flush_req = false;
    struct op *b = fb->q;
    fb->q = fb->busy;
    fb->busy = b;
    fb->busyn = fb->qn;
    fb->qn = 0;
    uint64_t seq = fb->enq_seq;
    bool stop = fb->stop;
    pthread_mutex_unlock(&fb->mu);
    if (fb->busyn && state) commit(fb, fb->busy, fb->busyn, state);
    pthread_mutex_lock(&fb->mu);
    fb->busyn = 0;
    fb->done_seq = seq;
    pthread_cond_broadcast(&fb->done_cv);
    if (stop && !fb->qn) break;
  }
  pthread_mutex_unlock(&fb->mu);
  free(state);
  return NULL;
}

int sl_fb_open(struct sl_lmdb *e, const struct sl_fb_opts *o, struct sl_fb **out) {
  struct sl_fb *fb = calloc(1, sizeof *fb);
  if (!fb) return -ENOMEM;
  fb->e = e;
  if (o) fb->o = *o;
  if (fb->o.ttl_s <= 0) fb->o.ttl_s = 7 * 86400;
  if (!fb->o.max_decisions) fb->o.max_decisions = 500000;
  if (!fb->o.queue_max) fb->o.queue_max = 4096;
  if (!fb->o.keep_snapshots) fb->o.keep_snapshots = 24;
  if (fb->o.snapshot_every_s <= 0) fb->o.snapshot_every_s = 600;
  fb->q = calloc(fb->o.queue_max, sizeof *fb->q);
  fb->busy = calloc(fb->o.queue_max, sizeof *fb->busy);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (!fb->q || !fb->busy || pthread_mutex_init(&fb->mu, NULL) || pthread_cond_init(&fb->cv, &ca) ||
      pthread_cond_init(&fb->done_cv, NULL)) {
    free(fb->q);
    free(fb->busy);
    free(fb);
    return -ENOMEM;
  }
  pthread_condattr_destroy(&ca);
  if (!fb->o.manual && pthread_create(&fb->th, NULL, writer, fb)) {
    free(fb->q);
    free(fb->busy);
    free(fb);
    return -EAGAIN;
  }
  *out = fb;
  return 0;
}

void sl_fb_close(struct sl_fb *fb) {
  if (!fb) return;
  if (fb->o.manual) sl_fb_flush(fb);
  pthread_mutex_lock(&fb->mu);
  fb->stop = true;
  pthread_cond_signal(&fb->cv);
  pthread_mutex_unlock(&fb->mu);
  if (!fb->o.manual) pthread_join(fb->th, NULL);
  pthread_mutex_destroy(&fb->mu);
  pthread_cond_destroy(&fb->cv);
  pthread_cond_destroy(&fb->done_cv);
  free(fb->q);
  free(fb->busy);
  free(fb);
}

static int enqueue(struct sl_fb *fb, const struct op *op) {
  if (fb->qn >= fb->o.queue_max) {
    atomic_fetch_add(&fb->dropped, 1);
    return -ENOSPC;
  }
  fb->q[fb->qn++] = *op;
  fb->enq_seq++;
  if (fb->qn == 1) pthread_cond_signal(&fb->cv); /* the writer sleeps only on an empty queue */
  return 0;
}

int sl_fb_record(struct sl_fb *fb, const char *id, const struct sl_fb_decision *d) {
  if (!id_ok(id) || !d) return -EINVAL;
  struct op op = {.kind = OP_DECISION, .d = *d};
  memcpy(op.id, id, strlen(id) + 1);
  op.d.has_outcome = 0;
  pthread_mutex_lock(&fb->mu);
  int rc = enqueue(fb, &op);
  pthread_mutex_unlock(&fb->mu);
  if (!rc) atomic_fetch_add(&fb->recorded, 1);
  return rc;
}

/* The newest queued or in-flight operations for id (under mu): the decision and whether
 * an outcome is queued. */
static bool pending(struct sl_fb *fb, const char *id, struct sl_fb_decision *d, bool *outcome) {
  bool found = false;
  const struct op *arrs[2] = {fb->busy, fb->q};
  size_t ns[2] = {fb->busyn, fb->qn};
  for (int a = 0; a < 2; a++)
    for (size_t i = 0; i < ns[a]; i++) {
      const struct op *op = &arrs[a][i];
      if (strcmp(op->id, id) != 0) continue;
      if (op->kind == OP_DECISION) {
        *d = op->d;
        found = true;
        *outcome = false;
      } else {
        *outcome = true;
      }
    }
  return found;
}

static int lookup(struct sl_fb *fb, const char *id, struct sl_fb_decision *d, bool *queued_outcome) {
  *queued_outcome = false;
  pthread_mutex_lock(&fb->mu);
  bool found = pending(fb, id, d, queued_outcome);
  pthread_mutex_unlock(&fb->mu);
  if (found) return 0;
  MDB_txn *t;
  int rc = mdb_txn_begin(fb->e->env, NULL, MDB_RDONLY, &t);
  if (rc) return -EIO;
  rc = get_decision(t, fb->e, id, d);
  mdb_txn_abort(t);
  if (rc == MDB_NOTFOUND) return -ENOENT;
  return rc ? -EIO : 0;
}

int sl_fb_get(struct sl_fb *fb, const char *id, struct sl_fb_decision *out) {
  if (!id_ok(id)) return -ENOENT;
  bool q;
  return lookup(fb, id, out, &q);
}

int sl_fb_outcome(struct sl_fb *fb, const char *id, uint64_t owner, bool master, double need, bool learns,
                  struct sl_fb_decision *dout) {
  if (!(need >= 0 && need <= 1)) return -EINVAL;
  if (!id_ok(id)) return -ENOENT;
  struct sl_fb_decision d;
  bool queued;
  int rc = lookup(fb, id, &d, &queued);
  if (rc) return rc;
  int64_t now = now_s(fb);
  if ((!master && d.owner != owner) || d.ts_s < now - fb->o.ttl_s) return -ENOENT;
  if (d.has_outcome || queued) return -EALREADY;
  struct op op = {.kind = OP_OUTCOME};
  memcpy(op.id, id, strlen(id) + 1);
  op.d.need = (float)need;
  op.d.learns = learns;
  op.d.outcome_ts_s = now;
  pthread_mutex_lock(&fb->mu);
  /* a second outcome raced in between: refuse it here, where the queue is stable */
  bool again = false;
  struct sl_fb_decision dd;
  pending(fb, id, &dd, &again);
  rc = again ? -EALREADY : enqueue(fb, &op);
  pthread_mutex_unlock(&fb->mu);
  if (!rc) atomic_fetch_add(&fb->outcomes, 1);
  if (dout) *dout = d;
  return rc;
}

void sl_fb_flush(struct sl_fb *fb) {
  if (fb->o.manual) { /* the writer's work, here and now (tests) */
    unsigned char *state = malloc(SL_FB_STATE_MAX);
    pthread_mutex_lock(&fb->mu);
    struct op *b = fb->q;
    fb->q = fb->busy;
    fb->busy = b;
    fb->busyn = fb->qn;
    fb->qn = 0;
    pthread_mutex_unlock(&fb->mu);
    if (fb->busyn && state) commit(fb, fb->busy, fb->busyn, state);
    pthread_mutex_lock(&fb->mu);
    fb->busyn = 0;
    pthread_mutex_unlock(&fb->mu);
    free(state);
    return;
  }
  pthread_mutex_lock(&fb->mu);
  uint64_t target = fb->enq_seq;
  fb->flush_req = true;
  pthread_cond_signal(&fb->cv);
  while (fb->done_seq < target) pthread_cond_wait(&fb->done_cv, &fb->mu);
  pthread_mutex_unlock(&fb->mu);
}

void sl_fb_stats(struct sl_fb *fb, struct sl_fb_stats *s) {
  *s = (struct sl_fb_stats){atomic_load(&fb->recorded), atomic_load(&fb->outcomes), atomic_load(&fb->dropped),
                            atomic_load(&fb->expired),  atomic_load(&fb->evicted),  atomic_load(&fb->errors),
                            atomic_load(&fb->learned)};
}

/* ---- learned state ---- */

int sl_fb_state_get(struct sl_lmdb *e, const char *router, void *buf, size_t cap, size_t *len) {
  MDB_txn *t;
  if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t)) return -EIO;
  MDB_val k = {strlen(router), (void *)router}, v;
  int rc = mdb_get(t, e->dbi_fb_state, &k, &v);
  if (rc == 0) {
    if (v.mv_size > cap)
      rc = -ENOSPC;
    else {
      memcpy(buf, v.mv_data, v.mv_size);
      *len = v.mv_size;
    }
  } else {
    rc = rc == MDB_NOTFOUND ? -ENOENT : -EIO;
  }
  mdb_txn_abort(t);
  return rc;
}

int sl_fb_state_put(struct sl_lmdb *e, const char *router, const void *bytes, size_t len, int64_t now_s,
                    unsigned keep) {
  if (!router[0] || strlen(router) >= SL_FB_NAME_MAX || len > SL_FB_STATE_MAX) return -EINVAL;
  MDB_txn *t;
  if (mdb_txn_begin(e->env, NULL, 0, &t)) return -EIO;
  int rc = snapshot(t, e, router, now_s, keep ? keep : 24);
  MDB_val k = {strlen(router), (void *)router}, v = {len, (void *)bytes};
  if (!rc) rc = mdb_put(t, e->dbi_fb_state, &k, &v, 0);
  if (!rc)
    rc = mdb_txn_commit(t);
  else
    mdb_txn_abort(t);
  return rc ? sl_lmdb_err(rc) : 0;
}

int sl_fb_snapshots(struct sl_lmdb *e, const char *router, int64_t *ts, size_t max) {
  MDB_txn *t;
  if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t)) return -EIO;
  int64_t all[256];
  size_t n = snap_list(t, e, router, all, 256);
  mdb_txn_abort(t);
  if (n > 256) n = 256;
  size_t k = 0;
  for (size_t i = n; i-- > 0 && k < max;) ts[k++] = all[i];
  return (int)k;
}

int sl_fb_snapshot_get(struct sl_lmdb *e, const char *router, int64_t at, void *buf, size_t cap, size_t *len,
                       int64_t *ts_out) {
  int64_t ts[256];
  int n = sl_fb_snapshots(e, router, ts, 256);
  if (n < 0) return n;
  for (int i = 0; i < n; i++) {
    if (ts[i] > at) continue;
    MDB_txn *t;
    if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t)) return -EIO;
    unsigned char kb[SL_FB_NAME_MAX + 9];
    MDB_val k = {snap_key(kb, router, ts[i]), kb}, v;
    int rc = mdb_get(t, e->dbi_fb_snap, &k, &v);
    if (!rc && v.mv_size > cap)
      rc = -ENOSPC;
    else if (!rc) {
      memcpy(buf, v.mv_data, v.mv_size);
      *len = v.mv_size;
      *ts_out = ts[i];
    } else
      rc = -EIO;
    mdb_txn_abort(t);
    return rc;
  }
  return -ENOENT;
}
