/* store/spend with real LMDB files and a real shared-memory region: days, flushing
 * shm slots into the ledger exactly once (a flusher stopped between its commit and its
 * shm update, concurrent flushers, children killed with SIGKILL in the middle of
 * flush loops, again and again), epochs, budget periods, totals and reports, and the
 * flusher thread with its final flush. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/lmdb_env.h"
#include "store/shm.h"
#include "store/spend.h"
#include "store/spend_internal.h"

#define MiB (1024u * 1024u)
#define T0 1700000000 /* 2023-11-14T22:13:20Z */
#define DAY0 (T0 / 86400)


static struct sl_lmdb *open_env(const char *dir) {
  char msg[512];
  struct sl_lmdb *e;
  return sl_lmdb_open(dir, 8 * MiB, SL_LMDB_NOSYNC, &e, msg, sizeof msg) ? NULL : e;
}

static struct sl_shm_key *slot(struct sl_shm *s, uint64_t id) { return sl_shm_key_slot(s, id); }

static void add(struct sl_shm *s, uint64_t id, int64_t micro) {
  atomic_fetch_add(&slot(s, id)->spend_total_micro, micro);
}

static int64_t total_of(struct sl_lmdb *e, uint64_t id) {
  struct sl_spend_row r;
  if (sl_spend_total(e, SL_SPEND_ID_KIND(id), id, &r)) return -1;
  return r.micro;
}

static int64_t days_sum(struct sl_lmdb *e, uint64_t id) {
  struct sl_spend_row r;
  if (sl_spend_sum(e, SL_SPEND_ID_KIND(id), id, 0, UINT32_MAX, &r)) return -1;
  return r.micro;
}

static uint64_t key_id(int i) {
  char name[32];
  snprintf(name, sizeof name, "key-%d", i);
  return sl_spend_id_name(SL_SPEND_KEY, name, strlen(name));
}

static uint64_t group_id(int i) {
  char name[32];
  snprintf(name, sizeof name, "group-%d", i);
  return sl_spend_id_name(SL_SPEND_GROUP, name, strlen(name));
}

struct rep {
  int n, alice_rows, bad_labels, stop_after;
  int64_t sum;
  uint32_t min_day, max_day;
};

static int report_cb(void *ctx, const struct sl_spend_report_row *row) {
  struct rep *c = ctx;
  c->n++;
  c->sum += row->v.micro;
  if (!strcmp(row->label, "alice")) c->alice_rows++;
  if (row->kind == SL_SPEND_GROUP && strcmp(row->label, "gpt-4o")) c->bad_labels++;
  if (row->kind == SL_SPEND_KEY && row->id == key_id(2) && strcmp(row->label, "")) c->bad_labels++;
  if (row->day < c->min_day) c->min_day = row->day;
  if (row->day > c->max_day) c->max_day = row->day;
  return c->stop_after && c->n == c->stop_after ? 9 : 0;
}

static int report(struct sl_lmdb *e, enum sl_spend_kind kind, uint32_t a, uint32_t b, struct rep *c) {
  memset(c, 0, sizeof *c);
  c->min_day = UINT32_MAX;
  return sl_spend_report(e, kind, a, b, report_cb, c);
}

/* ---- tests ---- */

static void days(void) {
  uint32_t d;
  char s[11];
  CHECK(sl_spend_day(0) == 0 && sl_spend_day(86399) == 0 && sl_spend_day(86400) == 1);
  CHECK(sl_spend_day_parse("1970-01-01", 10, &d) == 0 && d == 0);
  CHECK(sl_spend_day_parse("2023-11-14", 10, &d) == 0 && d == DAY0);
  CHECK(sl_spend_day_parse("2024-02-29", 10, &d) == 0);
  sl_spend_day_format(d, s);
  CHECK_STR(s, "2024-02-29");
  CHECK(sl_spend_day_parse("2023-02-29", 10, &d) == -EINVAL);
  CHECK(sl_spend_day_parse("2023-13-01", 10, &d) == -EINVAL);
  CHECK(sl_spend_day_parse("2023-1-01", 9, &d) == -EINVAL);
  CHECK(sl_spend_day_parse("2023/11/14", 10, &d) == -EINVAL);
  CHECK(sl_spend_day_parse("2000-03-01", 10, &d) == 0 && d == 11017);
  sl_spend_day_format(DAY0, s);
  CHECK_STR(s, "2023-11-14");
  for (uint32_t x = 0; x < 80000; x += 37) { /* round trip through 2189 */
    sl_spend_day_format(x, s);
    CHECK(sl_spend_day_parse(s, 10, &d) == 0 && d == x);
  }
}

static void flush_basics_and_report(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *shm;
  CHECK(e && sl_shm_create(0, 0, &shm) == 0);
  if (!e) return;
  uint64_t k1 = key_id(1), k2 = key_id(2), g1 = group_id(1), gw = SL_SPEND_ID_GATEWAY;
  CHECK(sl_spend_label_set(e, SL_SPEND_GROUP, g1, "gpt-4o") == 0);
  CHECK(sl_spend_label_set(e, SL_SPEND_KEY, k1, "alice") == 0);
  struct sl_spend_flush_stats st;
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.slots == 0); /* nothing yet */
  add(shm, k1, 1500);
  add(shm, g1, 1500);
  add(shm, gw, 1500);
  add(shm, k2, 7);
  add(shm, gw, 7);
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0);
  CHECK(st.slots == 4 && st.micro == 1500 * 3 + 14 && st.recovered == 0);
  CHECK(atomic_load(&slot(shm, k1)->spend_flushed_micro) == 1500);
  CHECK(total_of(e, k1) == 1500 && total_of(e, k2) == 7 && total_of(e, g1) == 1500 && total_of(e, gw) == 1507);
  /* again: nothing moves twice */
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.slots == 0);
  CHECK(total_of(e, k1) == 1500);
  /* the next day */
  add(shm, k1, 100);
  add(shm, gw, 100);
  CHECK(sl_spend_flush(e, shm, T0 + 86400, &st) == 0 && st.slots == 2);
  add(shm, k1, 1);
  CHECK(sl_spend_flush(e, shm, T0 + 3 * 86400, &st) == 0);
  CHECK(total_of(e, k1) == 1601 && days_sum(e, k1) == 1601);
  struct sl_spend_row r;
  CHECK(sl_spend_sum(e, SL_SPEND_KEY, k1, DAY0 + 1, DAY0 + 2, &r) == 0 && r.micro == 100);
  CHECK(sl_spend_sum(e, SL_SPEND_KEY, k1, DAY0, DAY0, &r) == 0 && r.micro == 1500);
  CHECK(sl_spend_sum(e, SL_SPEND_KEY, key_id(99), 0, UINT32_MAX, &r) == 0 && r.micro == 0);
  CHECK(sl_spend_total(e, SL_SPEND_KEY, key_id(99), &r) == 0 && r.micro == 0);
  /* reports: by key, by model, day ranges */
  struct rep c;
  CHECK(report(e, SL_SPEND_KEY, 0, UINT32_MAX, &c) == 0);
  CHECK(c.n == 4 && c.sum == 1608 && c.alice_rows == 3 && c.bad_labels == 0);
  CHECK(c.min_day == DAY0 && c.max_day == DAY0 + 3);
  CHECK(report(e, SL_SPEND_KEY, DAY0 + 1, DAY0 + 2, &c) == 0 && c.n == 1 && c.sum == 100);
  CHECK(report(e, SL_SPEND_KEY, DAY0 + 4, UINT32_MAX, &c) == 0 && c.n == 0);
  CHECK(report(e, SL_SPEND_GROUP, 0, UINT32_MAX, &c) == 0 && c.n == 1 && c.sum == 1500 && c.bad_labels == 0);
  CHECK(report(e, SL_SPEND_GATEWAY, DAY0, DAY0 + 1, &c) == 0 && c.n == 2 && c.sum == 1607);
  memset(&c, 0, sizeof c);
  c.stop_after = 2;
  CHECK(sl_spend_report(e, SL_SPEND_KEY, 0, UINT32_MAX, report_cb, &c) == 9 && c.n == 2);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* The flusher dies after its commit and before it advanced the shm counters: the next
 * flush (here, and from "another process" with its own flusher) adds nothing again. */
static void crash_between_commit_and_shm_update(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *shm;
  CHECK(e && sl_shm_create(0, 0, &shm) == 0);
  if (!e) return;
  struct sl_spend_flush_plan *plan = malloc(sizeof *plan);
  uint64_t k = key_id(1);
  add(shm, k, 1000);
  CHECK(sl_spend_flush_commit(e, shm, T0, false, plan) == 0);
  CHECK(plan->n == 1 && plan->st.micro == 1000);
  /* "dies" here: no sl_spend_flush_apply */
  CHECK(atomic_load(&slot(shm, k)->spend_flushed_micro) == 0);
  CHECK(total_of(e, k) == 1000);
  add(shm, k, 5); /* more spend meanwhile */
  struct sl_spend_flush_stats st;
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0);
  CHECK(st.recovered == 1 && st.micro == 5);
  CHECK(total_of(e, k) == 1005 && atomic_load(&slot(shm, k)->spend_flushed_micro) == 1005);
  /* the same with nothing new: the recovery only advances shm */
  add(shm, k, 20);
  CHECK(sl_spend_flush_commit(e, shm, T0, false, plan) == 0);
  CHECK(sl_spend_flush_commit(e, shm, T0, false, plan) == 0); /* a second flusher, before the first applied */
  CHECK(plan->st.micro == 0 && plan->st.recovered == 1 && plan->n == 1);
  CHECK(total_of(e, k) == 1025);
  sl_spend_flush_apply(shm, plan);
  CHECK(atomic_load(&slot(shm, k)->spend_flushed_micro) == 1025);
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.slots == 0);
  /* a late apply of an older plan never moves flushed backwards */
  struct sl_spend_flush_plan *old = malloc(sizeof *old);
  add(shm, k, 1);
  CHECK(sl_spend_flush_commit(e, shm, T0, false, old) == 0);
  add(shm, k, 1);
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.micro == 1 && st.recovered == 1);
  sl_spend_flush_apply(shm, old);
  CHECK(atomic_load(&slot(shm, k)->spend_flushed_micro) == 1027);
  CHECK(total_of(e, k) == 1027 && days_sum(e, k) == 1027);
  /* after a reopen of the environment (the process restarted, the shm region lived on) */
  sl_lmdb_close(e);
  e = open_env(dir);
  add(shm, k, 3);
  CHECK(sl_spend_flush_commit(e, shm, T0, false, plan) == 0);
  sl_lmdb_close(e);
  e = open_env(dir);
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.micro == 0 && st.recovered == 1);
  CHECK(total_of(e, k) == 1030);
  free(old);
  free(plan);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* A restart makes a new shm region (a new epoch, counters from 0): the ledger keeps
 * adding, and the old epoch's progress rows never confuse the new one. */
static void epochs(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *a, *b;
  CHECK(e && sl_shm_create(0, 0, &a) == 0 && sl_shm_create(0, 0, &b) == 0);
  if (!e) return;
  CHECK(a->epoch != b->epoch);
  uint64_t k = key_id(7);
  add(a, k, 400);
  struct sl_spend_flush_plan *plan = malloc(sizeof *plan);
  CHECK(sl_spend_flush_commit(e, a, T0, false, plan) == 0); /* and a "crash" */
  /* the new region: its counters start at 0 */
  add(b, k, 50);
  struct sl_spend_flush_stats st;
  CHECK(sl_spend_flush(e, b, T0 + 10, &st) == 0 && st.micro == 50 && st.recovered == 0);
  CHECK(total_of(e, k) == 450);
  /* two live regions on one data dir (two sluice instances): each its own progress */
  add(a, k, 1);
  add(b, k, 2);
  CHECK(sl_spend_flush(e, a, T0 + 20, &st) == 0 && st.micro == 1 && st.recovered == 1);
  CHECK(sl_spend_flush(e, b, T0 + 20, &st) == 0 && st.micro == 2);
  CHECK(total_of(e, k) == 453);
  /* meta rows of a dead epoch go after a week idle; the live one stays */
  add(b, k, 4);
  CHECK(sl_spend_flush_commit(e, b, T0 + 8 * 86400, true, plan) == 0);
  sl_spend_flush_apply(b, plan);
  MDB_txn *t;
  int metas = 0;
  CHECK(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t) == 0);
  MDB_cursor *cur;
  mdb_cursor_open(t, e->dbi_spend, &cur);
  MDB_val mk, mv;
  for (int op = MDB_FIRST; mdb_cursor_get(cur, &mk, &mv, op) == 0; op = MDB_NEXT)
    if (((const char *)mk.mv_data)[0] == 'M') metas++;
  mdb_cursor_close(cur);
  mdb_txn_abort(t);
  CHECK(metas == 1);
  CHECK(total_of(e, k) == 457);
  free(plan);
  sl_shm_destroy(a);
  sl_shm_destroy(b);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static void budget_periods(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *shm;
  CHECK(e && sl_shm_create(0, 0, &shm) == 0);
  if (!e) return;
  uint64_t k = key_id(3), n = key_id(4);
  int64_t m;
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, T0, &m) == 0 && m == 0); /* nothing yet */
  struct sl_shm_key *s = slot(shm, k);
  const int64_t P1 = T0, H = 3600, P2 = T0 + H;
  atomic_store(&s->period_start, (uint64_t)P1);
  add(shm, k, 300);
  CHECK(sl_spend_flush(e, shm, P1 + 10, NULL) == 0);
  add(shm, k, 200);
  CHECK(sl_spend_flush(e, shm, P1 + 20, NULL) == 0);
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P1, &m) == 0 && m == 500);
  /* the 1h period rolls over (the caller moves period_start): a fresh period */
  atomic_store(&s->period_start, (uint64_t)P2);
  add(shm, k, 70);
  CHECK(sl_spend_flush(e, shm, P2 + 5, NULL) == 0);
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P2, &m) == 0 && m == 70);
  /* a later period that saw no flush yet: nothing spent in it */
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P2 + H, &m) == 0 && m == 0);
  /* a past period: the whole days since its start (an upper bound) */
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P1, &m) == 0 && m == 570);
  /* a slot whose period_start was never set (no budget_duration): all time */
  add(shm, n, 11);
  CHECK(sl_spend_flush(e, shm, T0, NULL) == 0);
  add(shm, n, 11);
  CHECK(sl_spend_flush(e, shm, T0 + 5 * 86400, NULL) == 0);
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, n, 0, &m) == 0 && m == 22);
  /* survives a restart: a new region loads the period and goes on */
  struct sl_shm *shm2;
  CHECK(sl_shm_create(0, 0, &shm2) == 0);
  sl_lmdb_close(e);
  e = open_env(dir);
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P2, &m) == 0 && m == 70);
  struct sl_shm_key *s2 = slot(shm2, k);
  atomic_store(&s2->period_start, (uint64_t)P2);
  atomic_store(&s2->period_spend_pico, m * 1000000);
  add(shm2, k, 30);
  CHECK(sl_spend_flush(e, shm2, P2 + 100, NULL) == 0);
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, P2, &m) == 0 && m == 100);
  CHECK(total_of(e, k) == 600);
  sl_shm_destroy(shm2);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* The flusher thread: flushes on its own every interval and once more on stop. */
static void flusher_thread(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *shm;
  CHECK(e && sl_shm_create(0, 0, &shm) == 0);
  if (!e) return;
  struct sl_spend_flusher *f;
  CHECK(sl_spend_flusher_start(e, shm, 5, &f) == 0);
  uint64_t k = key_id(1), g = group_id(1);
  int64_t expect = 0;
  for (int i = 0; i < 2000; i++) {
    add(shm, k, i);
    add(shm, g, 2 * i);
    expect += i;
    if (i % 500 == 0) {
      struct timespec ts = {0, 6 * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  /* it catches up on its own */
  for (int i = 0; i < 400 && atomic_load(&slot(shm, k)->spend_flushed_micro) != expect; i++) {
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
  CHECK(atomic_load(&slot(shm, k)->spend_flushed_micro) == expect);
  add(shm, k, 1);
  sl_spend_flusher_kick(f);
  add(shm, g, 5);
  uint64_t flushes, errors;
  int last;
  sl_spend_flusher_stats(f, &flushes, &errors, &last);
  CHECK(flushes > 0 && errors == 0 && last == 0);
  CHECK(sl_spend_flusher_stop(f) == 0); /* the final flush takes the rest */
  CHECK(total_of(e, k) == expect + 1 && total_of(e, g) == 2 * expect + 5);
  CHECK(days_sum(e, g) == 2 * expect + 5);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* Children (forked before this process has any thread or environment) add spend to
 * random slots and run flushers (their thread plus direct flushes), and are killed with
 * SIGKILL at random moments: in the middle of txns, between commits and shm updates,
 * holding LMDB's writer lock. After every round, and at the end, one flush from here
 * must leave the ledger equal to the shm totals, slot by slot. */
static int64_t spend_sum(struct sl_shm *shm, const uint64_t *ids, int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; i++) sum += atomic_load(&slot(shm, ids[i])->spend_total_micro);
  return sum;
}

static void killed_flushers(void) {
  char *dir = tmpdir();
  struct sl_shm *shm;
  CHECK(sl_shm_create(0, 0, &shm) == 0);
  struct sl_lmdb *e = open_env(dir); /* create the file, then close before forking */
  CHECK(e != NULL);
  if (!e) return;
  sl_lmdb_close(e);
  enum { NIDS = 24, ROUNDS = 60, KIDS = 3 };
  uint64_t ids[NIDS];
  for (int i = 0; i < NIDS; i++) ids[i] = i % 3 == 0 ? group_id(i) : key_id(i);
  ids[NIDS - 1] = SL_SPEND_ID_GATEWAY;
  unsigned seed = 12345;
  int kills = 0, bad_rounds = 0;
  unsigned recovered = 0;
  int64_t leftover = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int round = 0; round < ROUNDS; round++) {
    int64_t before = spend_sum(shm, ids, NIDS);
    pid_t kids[KIDS];
    for (int c = 0; c < KIDS; c++) {
      kids[c] = fork();
      if (kids[c] == 0) {
        struct sl_lmdb *ce = open_env(dir);
        if (!ce) _exit(2);
        unsigned s = (unsigned)(round * 31 + c * 7 + 1);
        struct sl_spend_flusher *f = NULL;
        if (c == 0 && sl_spend_flusher_start(ce, shm, 1, &f)) _exit(3);
        for (uint64_t i = 0;; i++) {
          s = s * 1103515245u + 12345u;
          add(shm, ids[(s >> 8) % NIDS], (int64_t)((s >> 16) % 1000) + 1);
          if (c != 0 && i % 16 == 0) sl_spend_flush(ce, shm, T0 + (int64_t)(i % 5) * 86400, NULL);
        }
      }
    }
    /* On a loaded machine the children may need longer than the random delay below
     * to start: wait (bounded) until they have added something, so every round kills
     * working children rather than ones still starting. */
    for (int waited = 0; waited < 5000 && spend_sum(shm, ids, NIDS) == before; waited++) {
      struct timespec ms = {0, 1000000L};
      nanosleep(&ms, NULL);
    }
    seed = seed * 1103515245u + 12345u;
    struct timespec ts = {0, (long)(2 + (seed >> 16) % 25) * 1000000L};
    nanosleep(&ts, NULL);
    for (int c = 0; c < KIDS; c++) kill(kids[c], SIGKILL);
    for (int c = 0; c < KIDS; c++) {
      int status;
      waitpid(kids[c], &status, 0);
      if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) kills++;
    }
    /* no thread here, so a check in between rounds is safe */
    e = open_env(dir);
    CHECK(e != NULL);
    if (!e) break;
    struct sl_spend_flush_stats st;
    CHECK(sl_spend_flush(e, shm, T0, &st) == 0);
    recovered += st.recovered;
    leftover += st.micro;
    for (int i = 0; i < NIDS; i++) {
      int64_t want = atomic_load(&slot(shm, ids[i])->spend_total_micro);
      if (total_of(e, ids[i]) != want || days_sum(e, ids[i]) != want ||
          atomic_load(&slot(shm, ids[i])->spend_flushed_micro) != want) {
        bad_rounds++;
        break;
      }
    }
    sl_lmdb_close(e);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(kills == ROUNDS * KIDS);
  CHECK(bad_rounds == 0);
  /* everything ever added is in the ledger once: the gateway's day rows by report too */
  e = open_env(dir);
  int64_t all = 0, ledger = 0;
  for (int i = 0; i < NIDS; i++) {
    all += atomic_load(&slot(shm, ids[i])->spend_total_micro);
    ledger += total_of(e, ids[i]);
  }
  CHECK(all > 0 && ledger == all);
  sl_lmdb_close(e);
  sl_shm_destroy(shm);
  rm_rf(dir);
  free(dir);
  if (getenv("SL_TEST_VERBOSE"))
    fprintf(stderr,
            "killed_flushers: %d kills, %u slots recovered after a kill, %lld micro left for the final "
            "flush, total %lld, %.2f s\n",
            kills, recovered, (long long)leftover, (long long)all,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* Issue 11.11: the key table holds max_keys payers (10,000+ by default), refuses the
 * next one instead of serving it untracked, and a flush moves every dirty slot even
 * when there are more than one txn's batch. */
static void many_keys(void) {
  struct sl_shm *small;
  CHECK(sl_shm_create(2, 10, &small) == 0);
  for (int i = 0; i < 10; i++) CHECK(sl_shm_key_slot(small, key_id(i)) != NULL);
  CHECK(sl_shm_key_slot(small, key_id(10)) == NULL);      /* full: refused */
  CHECK(sl_shm_key_slot(small, key_id(3)) != NULL);       /* the ones it has stay */
  CHECK(sl_shm_key_find(small, key_id(3)) == sl_shm_key_slot(small, key_id(3)));
  CHECK(sl_shm_key_find(small, key_id(11)) == NULL);
  sl_shm_destroy(small);
  CHECK(sl_shm_create(0, 2000000, &small) == -EINVAL);

  char *dir = tmpdir();
  char msg[512];
  struct sl_lmdb *e = NULL;
  CHECK(sl_lmdb_open(dir, 64 * MiB, SL_LMDB_NOSYNC, &e, msg, sizeof msg) == 0);
  struct sl_shm *shm;
  CHECK(e && sl_shm_create(0, 0, &shm) == 0);
  if (!e) return;
  enum { N = 12000 }; /* > SL_SPEND_FLUSH_BATCH x 2 */
  for (int i = 0; i < N; i++) {
    struct sl_shm_key *k = slot(shm, key_id(i));
    CHECK(k != NULL);
    if (k) atomic_fetch_add(&k->spend_total_micro, i + 1);
  }
  struct sl_spend_flush_stats st;
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0);
  CHECK(st.slots == N && st.micro == (int64_t)N * (N + 1) / 2);
  CHECK(total_of(e, key_id(0)) == 1 && total_of(e, key_id(N - 1)) == N);
  CHECK(sl_spend_flush(e, shm, T0, &st) == 0 && st.slots == 0);
  sl_shm_destroy(shm);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* Issue 11.3: ledger sums saturate instead of wrapping negative. */
static void ledger_saturates(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_shm *a, *b;
  CHECK(e && sl_shm_create(0, 0, &a) == 0 && sl_shm_create(0, 0, &b) == 0);
  if (!e) return;
  uint64_t k = key_id(77);
  add(a, k, INT64_MAX / 2 + 10); /* two regions (a reload, a restart) of absurd spend */
  add(b, k, INT64_MAX / 2 + 10);
  CHECK(sl_spend_flush(e, a, T0, NULL) == 0 && sl_spend_flush(e, b, T0, NULL) == 0);
  CHECK(total_of(e, k) == INT64_MAX && days_sum(e, k) == INT64_MAX);
  int64_t m = 0;
  CHECK(sl_spend_period_load(e, SL_SPEND_KEY, k, 0, &m) == 0 && m == INT64_MAX);
  sl_shm_destroy(a);
  sl_shm_destroy(b);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

CHECK_MAIN(T(days), T(flush_basics_and_report), T(crash_between_commit_and_shm_update), T(epochs),
           T(budget_periods), T(flusher_thread), T(killed_flushers), T(many_keys), T(ledger_saturates))
