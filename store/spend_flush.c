/* Moving spend from the shared-memory slots into the ledger, exactly once, and the
 * flusher thread that does it every interval. The argument is in spend.h. The one idea
 * here: the decision of what to add is made inside the write txn, from the meta row
 * that the previous committed flush left (LMDB's writer lock makes every flush of every
 * process see the one before it), and the shm counters are only a cache of that row,
 * advanced after the commit. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/deadline.h"
#include "store/keys_internal.h"
#include "store/spend_internal.h"

#define META_IDLE_S (7 * 86400)
#define GC_EVERY_S 3600

/* The slot's counters that the ledger mirrors. Only spend has shm counters today; a
 * request/token pair of total/flushed counters would be read (and advanced) here. */
static void slot_snapshot(struct sl_shm_key *s, int64_t total[SL_SPEND_NFIELDS], int64_t flushed[SL_SPEND_NFIELDS]) {
  memset(total, 0, sizeof(int64_t) * SL_SPEND_NFIELDS);
  memset(flushed, 0, sizeof(int64_t) * SL_SPEND_NFIELDS);
  /* flushed first: it never passes total, so the pair read in this order is sane */
  flushed[SL_SPEND_MICRO] = atomic_load(&s->spend_flushed_micro);
  total[SL_SPEND_MICRO] = atomic_load(&s->spend_total_micro);
}

static void slot_advance(struct sl_shm_key *s, const int64_t total[SL_SPEND_NFIELDS]) {
  int64_t cur = atomic_load(&s->spend_flushed_micro);
  while (cur < total[SL_SPEND_MICRO] &&
         !atomic_compare_exchange_weak(&s->spend_flushed_micro, &cur, total[SL_SPEND_MICRO])) {
  }
}

static bool slot_dirty(struct sl_shm_key *s) {
  return atomic_load(&s->id) != 0 && atomic_load(&s->spend_total_micro) != atomic_load(&s->spend_flushed_micro);
}

static void meta_key(uint8_t k[SLK_META_KEY_LEN], uint64_t id, uint64_t epoch) {
  k[0] = 'M';
  sl__keys_put_be64(k + 1, id);
  sl__keys_put_be64(k + 9, epoch);
}

struct flush_ctx {
  struct sl_lmdb *e;
  struct sl_shm *shm;
  int64_t now;
  bool gc;
  struct sl_spend_flush_plan *plan;
  uint32_t start; /* first slot to look at */
};

static int gc_meta(struct flush_ctx *c, MDB_txn *t) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(t, c->e->dbi_spend, &cur);
  if (rc) return rc;
  MDB_val k = {1, "M"}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const uint8_t *p = k.mv_data;
    if (k.mv_size < 1 || p[0] != 'M') break;
    struct sl__keys_meta m;
    bool stale = k.mv_size != SLK_META_KEY_LEN || v.mv_size != sizeof m;
    if (!stale) {
      memcpy(&m, v.mv_data, sizeof m);
      stale = sl__keys_get_be64(p + 9) != c->shm->epoch && m.updated_at < c->now - META_IDLE_S;
    }
    if (stale && (rc = mdb_cursor_del(cur, 0))) break;
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

static int flush_fn(MDB_txn *t, void *ctx) {
  struct flush_ctx *c = ctx;
  struct sl_spend_flush_plan *plan = c->plan;
  plan->n = 0;
  plan->more = false;
  memset(&plan->st, 0, sizeof plan->st);
  uint32_t day = sl_spend_day(c->now);
  int rc = 0;
  struct sl_shm_key *keys = sl_shm_keys(c->shm);
  uint32_t pos = c->start, nclaims = (uint32_t)sl_shm_key_claims(c->shm);
  for (; pos < nclaims && !rc; pos++) {
    if (plan->n == SL_SPEND_FLUSH_BATCH) {
      plan->more = true;
      break;
    }
    int64_t at = sl_shm_key_claimed(c->shm, pos);
    if (at < 0) continue; /* a claim being recorded: the next flush */
    uint32_t i = (uint32_t)at;
    struct sl_shm_key *s = &keys[i];
    uint64_t id = atomic_load(&s->id);
    if (!id) continue;
    uint64_t period_start = atomic_load(&s->period_start);
    int64_t total[SL_SPEND_NFIELDS], flushed[SL_SPEND_NFIELDS], base[SL_SPEND_NFIELDS], delta[SL_SPEND_NFIELDS];
    slot_snapshot(s, total, flushed);
    if (!memcmp(total, flushed, sizeof total)) continue;
    uint8_t mk[SLK_META_KEY_LEN];
    meta_key(mk, id, c->shm->epoch);
    MDB_val k = {sizeof mk, mk}, v;
    struct sl__keys_meta m;
    rc = mdb_get(t, c->e->dbi_spend, &k, &v);
    if (rc && rc != MDB_NOTFOUND) break;
    bool found = !rc && v.mv_size == sizeof m;
    rc = 0;
    if (found) {
      memcpy(&m, v.mv_data, sizeof m);
      found = m.version == SLK_VERSION;
    }
    bool recovered = false, any = false;
    for (int f = 0; f < SL_SPEND_NFIELDS; f++) {
      /* The meta row is the truth; flushed can only lag behind it (a flusher that died
       * between its commit and its shm update, or one that has not updated yet). */
      base[f] = found && m.flushed[f] > flushed[f] ? m.flushed[f] : flushed[f];
      recovered |= base[f] != flushed[f];
      delta[f] = total[f] - base[f];
      any |= delta[f] != 0;
    }
    if (any) {
      rc = sl__keys_spend_add(c->e, t, (unsigned)(id >> 62), id, day, period_start, delta);
      if (rc) break;
      m = (struct sl__keys_meta){.version = SLK_VERSION, .updated_at = c->now};
      memcpy(m.flushed, total, sizeof m.flushed);
      v = (MDB_val){sizeof m, &m};
      if ((rc = mdb_put(t, c->e->dbi_spend, &k, &v, 0))) break;
      plan->st.slots++;
      plan->st.micro += delta[SL_SPEND_MICRO];
    }
    plan->st.recovered += recovered;
    plan->items[plan->n].slot = i;
    memcpy(plan->items[plan->n].total, total, sizeof total);
    plan->n++;
  }
  plan->next = pos;
  if (!rc && c->gc) rc = gc_meta(c, t);
  return rc;
}

static int commit_from(struct sl_lmdb *e, struct sl_shm *shm, int64_t now_unix, bool gc, uint32_t start,
                       struct sl_spend_flush_plan *plan) {
  struct flush_ctx c = {e, shm, now_unix, gc, plan, start};
  plan->n = 0;
  int rc = sl__keys_write(e, flush_fn, &c);
  if (rc) plan->n = 0;
  return rc;
}

int sl_spend_flush_commit(struct sl_lmdb *e, struct sl_shm *shm, int64_t now_unix, bool gc,
                          struct sl_spend_flush_plan *plan) {
  return commit_from(e, shm, now_unix, gc, 0, plan);
}

void sl_spend_flush_apply(struct sl_shm *shm, const struct sl_spend_flush_plan *plan) {
  struct sl_shm_key *keys = sl_shm_keys(shm);
  for (size_t i = 0; i < plan->n; i++) slot_advance(&keys[plan->items[i].slot], plan->items[i].total);
}

static bool any_dirty(struct sl_shm *shm) {
  struct sl_shm_key *keys = sl_shm_keys(shm);
  size_t n = sl_shm_key_claims(shm);
  for (size_t pos = 0; pos < n; pos++) {
    int64_t at = sl_shm_key_claimed(shm, pos);
    if (at >= 0 && slot_dirty(&keys[at])) return true;
  }
  return false;
}

static int flush_with(struct sl_lmdb *e, struct sl_shm *shm, int64_t now, bool gc, struct sl_spend_flush_plan *plan,
                      struct sl_spend_flush_stats *st) {
  if (st) memset(st, 0, sizeof *st);
  if (!any_dirty(shm)) return 0;
  uint32_t start = 0;
  do { /* one txn per batch of dirty slots */
    int rc = commit_from(e, shm, now, gc && start == 0, start, plan);
    if (rc) return rc;
    sl_spend_flush_apply(shm, plan);
    if (st) {
      st->slots += plan->st.slots;
      st->micro += plan->st.micro;
      st->recovered += plan->st.recovered;
    }
    start = plan->next;
  } while (plan->more);
  return 0;
}

int sl_spend_flush(struct sl_lmdb *e, struct sl_shm *shm, int64_t now_unix, struct sl_spend_flush_stats *st) {
  if (st) memset(st, 0, sizeof *st);
  if (!any_dirty(shm)) return 0;
  struct sl_spend_flush_plan *plan = malloc(sizeof *plan);
  if (!plan) return -ENOMEM;
  int rc = flush_with(e, shm, now_unix, false, plan, st);
  free(plan);
  return rc;
}

/* ---- the thread ---- */

struct sl_spend_flusher {
  struct sl_lmdb *e;
  struct sl_shm *shm;
  unsigned interval_ms;
  pthread_t thr;
  pthread_mutex_t mu;
  pthread_cond_t wake;
  bool stop, kick;
  int final_rc;
  struct sl_spend_flush_plan *plan;
  _Atomic uint64_t flushes, errors;
  _Atomic int last_error;
};

static void *flusher_main(void *arg) {
  struct sl_spend_flusher *f = arg;
  struct timespec next, last_gc;
  clock_gettime(CLOCK_MONOTONIC, &last_gc);
  last_gc.tv_sec -= GC_EVERY_S; /* the first flush with work also collects */
  sl_store_deadline_after(&next, f->interval_ms);
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->stop && !f->kick)
      if (pthread_cond_timedwait(&f->wake, &f->mu, &next) == ETIMEDOUT) break;
    bool stopping = f->stop;
    f->kick = false;
    pthread_mutex_unlock(&f->mu);

    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    bool gc = mono.tv_sec - last_gc.tv_sec >= GC_EVERY_S;
    int rc = flush_with(f->e, f->shm, (int64_t)time(NULL), gc, f->plan, NULL);
    if (gc && !rc) last_gc = mono;
    atomic_fetch_add(&f->flushes, 1);
    if (rc) atomic_fetch_add(&f->errors, 1);
    atomic_store(&f->last_error, rc);
    sl_store_deadline_after(&next, f->interval_ms);

    pthread_mutex_lock(&f->mu);
    if (stopping) {
      f->final_rc = rc;
      break;
    }
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

int sl_spend_flusher_start(struct sl_lmdb *e, struct sl_shm *shm, unsigned interval_ms,
                           struct sl_spend_flusher **out) {
  *out = NULL;
  struct sl_spend_flusher *f = calloc(1, sizeof *f);
  if (!f) return -ENOMEM;
  f->plan = malloc(sizeof *f->plan);
  if (!f->plan) {
    free(f);
    return -ENOMEM;
  }
  f->e = e;
  f->shm = shm;
  f->interval_ms = interval_ms ? interval_ms : 1000;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->wake, &ca);
  pthread_condattr_destroy(&ca);
  /* The thread takes no signals: they belong to the loop thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int prc = pthread_create(&f->thr, NULL, flusher_main, f);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc) {
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->wake);
    free(f->plan);
    free(f);
    return -prc;
  }
  *out = f;
  return 0;
}

void sl_spend_flusher_kick(struct sl_spend_flusher *f) {
  pthread_mutex_lock(&f->mu);
  f->kick = true;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->mu);
}

void sl_spend_flusher_stats(struct sl_spend_flusher *f, uint64_t *flushes, uint64_t *errors, int *last_error) {
  if (flushes) *flushes = atomic_load(&f->flushes);
  if (errors) *errors = atomic_load(&f->errors);
  if (last_error) *last_error = atomic_load(&f->last_error);
}

int sl_spend_flusher_stop(struct sl_spend_flusher *f) {
  if (!f) return 0;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thr, NULL);
  int rc = f->final_rc;
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->wake);
  free(f->plan);
  free(f);
  return rc;
}
