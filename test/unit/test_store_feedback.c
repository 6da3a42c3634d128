/* store/feedback with real LMDB files and a fake clock: a decision round trip (queue, then
 * disk), outcomes (owner, master, twice, unknown, bad values), the TTL and the bound, the
 * learn callback and snapshots (kept N, rollback by time), and two processes on one
 * environment. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/feedback.h"
#include "store/lmdb_env.h"

#define T0 1700000000

static int64_t fake_now = T0;
static int64_t clock_fake(void) { return fake_now; }

struct fx {
  char *dir;
  struct sl_lmdb *env;
  struct sl_fb *fb;
};

/* The learn callback of the tests: the state is a counter of outcomes and a sum of need. */
struct tstate {
  uint32_t n;
  float sum;
};
static bool learn_count(void *ud, const struct sl_fb_decision *d, int64_t now, unsigned char *st, size_t *len,
                        size_t cap) {
  struct tstate s = {0};
  if (*len == sizeof s) memcpy(&s, st, sizeof s);
  s.n++;
  s.sum += d->need;
  memcpy(st, &s, sizeof s);
  *len = sizeof s;
  return true;
}

static int fx_open(struct fx *f, const struct sl_fb_opts *o) {
  char msg[512];
  if (!f->dir) f->dir = tmpdir();
  if (!f->dir || sl_lmdb_open(f->dir, 64u << 20, SL_LMDB_NOSYNC, &f->env, msg, sizeof msg)) return -1;
  struct sl_fb_opts oo = o ? *o : (struct sl_fb_opts){0};
  oo.now_s = clock_fake;
  return sl_fb_open(f->env, &oo, &f->fb);
}

static void fx_close(struct fx *f, bool rm) {
  sl_fb_close(f->fb);
  sl_lmdb_close(f->env);
  f->fb = NULL;
  f->env = NULL;
  if (rm) {
    rm_rf(f->dir);
    free(f->dir);
    f->dir = NULL;
  }
}

static struct sl_fb_decision dec(uint64_t owner, const char *router) {
  struct sl_fb_decision d = {.ts_s = fake_now, .owner = owner, .score = 0.25, .strong = 0, .nslots = 2};
  snprintf(d.router, sizeof d.router, "%s", router);
  snprintf(d.target, sizeof d.target, "weak");
  d.slots[0] = 3;
  d.slots[1] = 9;
  return d;
}

static void decision_round_trip_and_outcomes(void) {
  fake_now = T0;
  struct fx f = {0};
  CHECK(fx_open(&f, NULL) == 0);
  struct sl_fb_decision d = dec(77, "auto"), got;
  CHECK(sl_fb_record(f.fb, "0-1", &d) == 0);
  CHECK(sl_fb_record(f.fb, "", &d) == -EINVAL);
  /* found while still queued, and after the flush */
  CHECK(sl_fb_get(f.fb, "0-1", &got) == 0 && got.owner == 77 && got.score == 0.25);
  sl_fb_flush(f.fb);
  CHECK(sl_fb_get(f.fb, "0-1", &got) == 0 && got.nslots == 2 && got.slots[1] == 9 && !got.has_outcome);
  CHECK(sl_fb_get(f.fb, "0-2", &got) == -ENOENT);
  /* another key: as if unknown; bad need; the owner; then twice */
  CHECK(sl_fb_outcome(f.fb, "0-1", 78, false, 0.0, true, NULL) == -ENOENT);
  CHECK(sl_fb_outcome(f.fb, "0-1", 77, false, 1.5, true, NULL) == -EINVAL);
  CHECK(sl_fb_outcome(f.fb, "0-1", 77, false, NAN, true, NULL) == -EINVAL);
  CHECK(sl_fb_outcome(f.fb, "nope", 77, false, 0.0, true, NULL) == -ENOENT);
  CHECK(sl_fb_outcome(f.fb, "0-1", 77, false, 0.0, true, NULL) == 0);
  CHECK(sl_fb_outcome(f.fb, "0-1", 77, false, 1.0, true, NULL) == -EALREADY); /* queued */
  sl_fb_flush(f.fb);
  CHECK(sl_fb_outcome(f.fb, "0-1", 0, true, 1.0, true, NULL) == -EALREADY); /* stored */
  CHECK(sl_fb_get(f.fb, "0-1", &got) == 0 && got.has_outcome && got.need == 0.0f && got.outcome_ts_s == T0);
  /* the master key may answer for any decision */
  CHECK(sl_fb_record(f.fb, "0-2", &d) == 0);
  CHECK(sl_fb_outcome(f.fb, "0-2", 0, true, 0.5, true, NULL) == 0);
  sl_fb_flush(f.fb);
  CHECK(sl_fb_get(f.fb, "0-2", &got) == 0 && got.has_outcome && got.need == 0.5f);
  struct sl_fb_stats st;
  sl_fb_stats(f.fb, &st);
  CHECK(st.recorded == 2 && st.outcomes == 2 && st.dropped == 0 && st.errors == 0 && st.learned == 0);
  /* persistence across reopen */
  fx_close(&f, false);
  CHECK(fx_open(&f, NULL) == 0);
  CHECK(sl_fb_get(f.fb, "0-2", &got) == 0 && got.need == 0.5f);
  fx_close(&f, true);
}

static void ttl_and_bound(void) {
  fake_now = T0;
  struct fx f = {0};
  struct sl_fb_opts o = {.ttl_s = 100, .max_decisions = 5, .queue_max = 8, .manual = true};
  CHECK(fx_open(&f, &o) == 0);
  char id[16];
  struct sl_fb_decision d = dec(1, "auto"), got;
  for (int i = 0; i < 8; i++) {
    snprintf(id, sizeof id, "a-%d", i);
    d.ts_s = fake_now + i;
    CHECK(sl_fb_record(f.fb, id, &d) == 0);
  }
  /* the queue is bounded: a ninth is dropped, counted */
  CHECK(sl_fb_record(f.fb, "a-8", &d) == -ENOSPC);
  sl_fb_flush(f.fb);
  /* the bound: the oldest three went */
  CHECK(sl_fb_get(f.fb, "a-0", &got) == -ENOENT && sl_fb_get(f.fb, "a-2", &got) == -ENOENT);
  CHECK(sl_fb_get(f.fb, "a-3", &got) == 0 && sl_fb_get(f.fb, "a-7", &got) == 0);
  struct sl_fb_stats st;
  sl_fb_stats(f.fb, &st);
  CHECK(st.evicted == 3 && st.dropped == 1);
  /* the TTL: past it, an outcome finds nothing; the next batch sweeps them away */
  fake_now = T0 + 105;
  CHECK(sl_fb_outcome(f.fb, "a-3", 1, false, 0, true, NULL) == -ENOENT);
  CHECK(sl_fb_outcome(f.fb, "a-5", 1, false, 0, true, NULL) == 0);
  sl_fb_flush(f.fb);
  CHECK(sl_fb_get(f.fb, "a-3", &got) == -ENOENT && sl_fb_get(f.fb, "a-4", &got) == -ENOENT);
  CHECK(sl_fb_get(f.fb, "a-5", &got) == 0 && got.has_outcome);
  sl_fb_stats(f.fb, &st);
  CHECK(st.expired == 2);
  fx_close(&f, true);
}

static void learn_callback_snapshots_and_rollback(void) {
  fake_now = T0;
  struct fx f = {0};
  struct sl_fb_opts o = {.learn = learn_count, .keep_snapshots = 3, .snapshot_every_s = 10};
  CHECK(fx_open(&f, &o) == 0);
  char id[16];
  struct sl_fb_decision d = dec(5, "auto");
  for (int i = 0; i < 10; i++) {
    fake_now = T0 + i * 10;
    d.ts_s = fake_now;
    snprintf(id, sizeof id, "s-%d", i);
    CHECK(sl_fb_record(f.fb, id, &d) == 0);
    CHECK(sl_fb_outcome(f.fb, id, 5, false, i % 2 ? 1.0 : 0.0, true, NULL) == 0);
    sl_fb_flush(f.fb);
  }
  struct tstate s;
  size_t len = 0;
  CHECK(sl_fb_state_get(f.env, "auto", &s, sizeof s, &len) == 0 && len == sizeof s && s.n == 10 && s.sum == 5);
  CHECK(sl_fb_state_get(f.env, "other", &s, sizeof s, &len) == -ENOENT);
  /* snapshots before each change (the first change has nothing to keep): the last 3 */
  int64_t ts[8];
  int n = sl_fb_snapshots(f.env, "auto", ts, 8);
  CHECK(n == 3 && ts[0] == T0 + 90 && ts[1] == T0 + 80 && ts[2] == T0 + 70);
  /* the snapshot at T0+80 holds the state before the outcome of T0+80: 8 outcomes */
  int64_t at;
  CHECK(sl_fb_snapshot_get(f.env, "auto", T0 + 85, &s, sizeof s, &len, &at) == 0 && at == T0 + 80 && s.n == 8);
  CHECK(sl_fb_snapshot_get(f.env, "auto", T0, &s, sizeof s, &len, &at) == -ENOENT);
  /* rollback = put the snapshot back (the current state is kept as a snapshot first) */
  CHECK(sl_fb_state_put(f.env, "auto", &s, sizeof s, T0 + 200, 3) == 0);
  CHECK(sl_fb_state_get(f.env, "auto", &s, sizeof s, &len) == 0 && s.n == 8);
  n = sl_fb_snapshots(f.env, "auto", ts, 8);
  CHECK(n == 3 && ts[0] == T0 + 200);
  CHECK(sl_fb_snapshot_get(f.env, "auto", INT64_MAX, &s, sizeof s, &len, &at) == 0 && s.n == 10);
  struct sl_fb_stats st;
  sl_fb_stats(f.fb, &st);
  CHECK(st.learned == 10 && st.errors == 0);
  fx_close(&f, true);
}

/* A child process records a decision and an outcome on the same files; the parent sees
 * both, and its own learn callback's state adds to the child's. */
static void two_processes(void) {
  fake_now = T0;
  struct fx f = {0};
  struct sl_fb_opts o = {.learn = learn_count};
  f.dir = tmpdir();
  pid_t pid = fork();
  if (pid == 0) {
    struct fx c = {.dir = f.dir};
    if (fx_open(&c, &o)) _exit(1);
    struct sl_fb_decision d = dec(9, "auto");
    int rc = sl_fb_record(c.fb, "1-1", &d);
    rc |= sl_fb_outcome(c.fb, "1-1", 9, false, 1.0, true, NULL);
    sl_fb_flush(c.fb);
    sl_fb_close(c.fb);
    sl_lmdb_close(c.env);
    _exit(rc ? 2 : 0);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(fx_open(&f, &o) == 0);
  struct sl_fb_decision got;
  CHECK(sl_fb_get(f.fb, "1-1", &got) == 0 && got.owner == 9 && got.has_outcome && got.need == 1.0f);
  CHECK(sl_fb_outcome(f.fb, "1-1", 9, false, 0.0, true, NULL) == -EALREADY);
  struct sl_fb_decision d = dec(9, "auto");
  CHECK(sl_fb_record(f.fb, "0-1", &d) == 0 && sl_fb_outcome(f.fb, "0-1", 9, false, 0.0, true, NULL) == 0);
  sl_fb_flush(f.fb);
  struct tstate s;
  size_t len;
  CHECK(sl_fb_state_get(f.env, "auto", &s, sizeof s, &len) == 0 && s.n == 2 && s.sum == 1);
  fx_close(&f, true);
}

CHECK_MAIN(T(decision_round_trip_and_outcomes), T(ttl_and_bound), T(learn_callback_snapshots_and_rollback),
           T(two_processes))
