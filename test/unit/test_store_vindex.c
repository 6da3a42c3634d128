/* store/vindex: the semantic cache's vector index with real LMDB files in temp dirs:
 * exact vs HNSW agreement (recall@1 over fixed-seed random unit vectors), TTL, the
 * bound (oldest first, in memory and on disk), scope isolation, a damaged record
 * skipped and deleted, two processes (fork) seeing each other's entries, the record
 * codec. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tmpdir.h"
#include "store/lmdb_env.h"
#include "store/vindex.h"

#define T0  1700000000
#define DIM 64

static uint64_t rng = 42;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static void unit(float *v, unsigned dim) {
  double n = 0;
  for (unsigned i = 0; i < dim; i++) {
    double u1 = urand() + 1e-12, u2 = urand();
    v[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307 * u2));
    n += (double)v[i] * v[i];
  }
  for (unsigned i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

/* q near base: base + eps * noise, renormalised */
static void near(const float *base, float eps, float *q, unsigned dim) {
  unit(q, dim);
  double n = 0;
  for (unsigned i = 0; i < dim; i++) {
    q[i] = base[i] + eps * q[i];
    n += (double)q[i] * q[i];
  }
  for (unsigned i = 0; i < dim; i++) q[i] = (float)(q[i] / sqrt(n));
}

static void key_of(uint64_t i, uint8_t k[32]) {
  memset(k, 0, 32);
  memcpy(k, &i, 8);
  k[31] = 0xA5;
}

static uint64_t key_id(const uint8_t k[32]) {
  uint64_t i;
  memcpy(&i, k, 8);
  return i;
}

static struct sl_lmdb *open_env(const char *dir) {
  struct sl_lmdb *e = NULL;
  if (sl_lmdb_open(dir, (size_t)256 << 20, SL_LMDB_NOSYNC, &e, NULL, 0)) return NULL;
  return e;
}

static void codec_roundtrip_and_damage(void) {
  float v[DIM];
  unit(v, DIM);
  struct sl_vindex_record r = {.scope = 77, .stored_at = T0, .expires_at = T0 + 60, .dim = DIM, .v = v};
  key_of(5, r.key);
  size_t len = sl_vindex_record_size(DIM);
  uint8_t *buf = malloc(len);
  sl_vindex_record_encode(9, &r, buf);
  struct sl_vindex_record d;
  CHECK(sl_vindex_record_decode(9, buf, len, DIM, &d) == 0);
  CHECK(d.scope == 77 && d.stored_at == T0 && d.expires_at == T0 + 60 && d.dim == DIM);
  CHECK(memcmp(d.key, r.key, 32) == 0 && memcmp(d.v, v, sizeof v) == 0);
  CHECK(sl_vindex_record_decode(10, buf, len, DIM, &d) == -EBADMSG);    /* moved to another seq */
  CHECK(sl_vindex_record_decode(9, buf, len - 1, DIM, &d) == -EBADMSG); /* torn */
  CHECK(sl_vindex_record_decode(9, buf, len, DIM * 2, &d) == -EBADMSG); /* another dimension */
  buf[100] ^= 1;
  CHECK(sl_vindex_record_decode(9, buf, len, DIM, &d) == -EBADMSG); /* a flipped bit */
  CHECK(sl_vindex_record_decode(9, buf, 3, 0, &d) == -EBADMSG);
  free(buf);
}

/* Exact and HNSW over the same 5000 entries: recall@1 of the ANN answer vs the exact one. */
static void exact_vs_ann_recall(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  CHECK(e);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = DIM, .max_entries = 6000, .ann_min = 1000, .catchup_max = 100000};
  CHECK(sl_vindex_open(e, &o, &vx) == 0);
  enum { N = 5000, Q = 300 };
  float *base = malloc(sizeof(float) * DIM * N);
  for (int i = 0; i < N; i++) {
    unit(base + i * DIM, DIM);
    uint8_t k[32];
    key_of((uint64_t)i, k);
    CHECK(sl_vindex_add(vx, k, 1, base + i * DIM, T0, 3600) == 0);
  }
  struct sl_vindex_stats st;
  sl_vindex_stats_get(vx, &st);
  CHECK(st.entries == N);
  int agree = 0, found = 0;
  for (int j = 0; j < Q; j++) {
    float q[DIM];
    near(base + (size_t)(j * 13 % N) * DIM, 0.5f, q, DIM);
    struct sl_vindex_hit a, x;
    CHECK(sl_vindex_search(vx, 1, q, T0 + 1, &a) == 0);
    sl_vindex_stats_get(vx, &st);
    CHECK(st.ann);
    CHECK(sl_vindex_search_exact(vx, 1, q, T0 + 1, &x) == 0);
    agree += key_id(a.key) == key_id(x.key);
    found += key_id(x.key) == (uint64_t)(j * 13 % N);
    CHECK(a.similarity <= x.similarity + 1e-5f);
  }
  if (getenv("SL_TEST_VERBOSE")) printf("recall@1 %d/%d, exact finds the source %d/%d\n", agree, Q, found, Q);
  CHECK(agree >= Q * 95 / 100);
  CHECK(found >= Q * 95 / 100);
  free(base);
  sl_vindex_close(vx);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static void ttl_expires(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = DIM, .max_entries = 100};
  CHECK(sl_vindex_open(e, &o, &vx) == 0);
  float v[DIM], w[DIM];
  unit(v, DIM);
  unit(w, DIM);
  uint8_t k[32];
  key_of(1, k);
  CHECK(sl_vindex_add(vx, k, 3, v, T0, 10) == 0);
  key_of(2, k);
  CHECK(sl_vindex_add(vx, k, 3, w, T0, 100) == 0);
  struct sl_vindex_hit h;
  CHECK(sl_vindex_search(vx, 3, v, T0 + 9, &h) == 0 && key_id(h.key) == 1 && h.similarity > 0.999f);
  CHECK(h.stored_at == T0 && h.expires_at == T0 + 10);
  CHECK(sl_vindex_search(vx, 3, v, T0 + 10, &h) == 0 && key_id(h.key) == 2); /* 1 expired */
  CHECK(sl_vindex_search(vx, 3, v, T0 + 100, &h) == -ENOENT);
  CHECK(sl_vindex_add(vx, k, 3, w, T0, 0) == -EINVAL);
  sl_vindex_close(vx);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static size_t db_count(struct sl_lmdb *e) {
  MDB_txn *t;
  MDB_stat s;
  mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t);
  mdb_stat(t, e->dbi_semcache, &s);
  mdb_txn_abort(t);
  return s.ms_entries;
}

static void bound_evicts_oldest(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = DIM, .max_entries = 50, .ann_min = 20};
  CHECK(sl_vindex_open(e, &o, &vx) == 0);
  float *vs = malloc(sizeof(float) * DIM * 120);
  for (int i = 0; i < 120; i++) {
    unit(vs + i * DIM, DIM);
    uint8_t k[32];
    key_of((uint64_t)i, k);
    CHECK(sl_vindex_add(vx, k, 1, vs + i * DIM, T0 + i, 3600) == 0);
  }
  struct sl_vindex_stats st;
  sl_vindex_stats_get(vx, &st);
  CHECK(st.entries == 50);
  CHECK(db_count(e) == 50);
  struct sl_vindex_hit h;
  for (int i = 0; i < 120; i++) { /* the newest 50 are found as themselves, the rest are gone */
    CHECK(sl_vindex_search_exact(vx, 1, vs + i * DIM, T0 + 200, &h) == 0);
    if (i >= 70)
      CHECK(key_id(h.key) == (uint64_t)i && h.similarity > 0.999f);
    else
      CHECK(key_id(h.key) >= 70);
    CHECK(sl_vindex_search(vx, 1, vs + i * DIM, T0 + 200, &h) == 0);
    if (i >= 70)
      CHECK(key_id(h.key) == (uint64_t)i);
    else
      CHECK(key_id(h.key) >= 70);
  }
  free(vs);
  sl_vindex_close(vx);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static void scopes_are_isolated(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = DIM, .max_entries = 3000, .ann_min = 500};
  CHECK(sl_vindex_open(e, &o, &vx) == 0);
  float v[DIM], q[DIM];
  uint8_t k[32];
  /* a big scope 1 and one entry of scope 2 nearly equal to scope 1's entry 0 */
  float first[DIM];
  for (int i = 0; i < 1000; i++) {
    unit(v, DIM);
    if (i == 0) memcpy(first, v, sizeof v);
    key_of((uint64_t)i, k);
    CHECK(sl_vindex_add(vx, k, 1, v, T0, 3600) == 0);
  }
  near(first, 0.05f, q, DIM);
  key_of(5000, k);
  CHECK(sl_vindex_add(vx, k, 2, q, T0, 3600) == 0);
  struct sl_vindex_hit h;
  CHECK(sl_vindex_search(vx, 2, first, T0 + 1, &h) == 0 && key_id(h.key) == 5000); /* the small scope, via exact */
  CHECK(sl_vindex_search(vx, 1, q, T0 + 1, &h) == 0 && key_id(h.key) == 0);
  CHECK(sl_vindex_search(vx, 3, q, T0 + 1, &h) == -ENOENT);
  CHECK(sl_vindex_search_exact(vx, 3, q, T0 + 1, &h) == -ENOENT);
  sl_vindex_close(vx);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

static void damaged_record_skipped_and_deleted(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = DIM, .max_entries = 100};
  CHECK(sl_vindex_open(e, &o, &vx) == 0);
  float v[DIM];
  uint8_t k[32];
  for (int i = 0; i < 3; i++) {
    unit(v, DIM);
    key_of((uint64_t)i, k);
    CHECK(sl_vindex_add(vx, k, 1, v, T0, 3600) == 0);
  }
  /* damage seq 2 and truncate seq 3 behind the index's back, then a second reader */
  MDB_txn *t;
  CHECK(mdb_txn_begin(e->env, NULL, 0, &t) == 0);
  uint8_t kb[8] = {0, 0, 0, 0, 0, 0, 0, 2};
  MDB_val mk = {8, kb}, mv;
  CHECK(mdb_get(t, e->dbi_semcache, &mk, &mv) == 0);
  uint8_t *copy = malloc(mv.mv_size);
  memcpy(copy, mv.mv_data, mv.mv_size);
  copy[200] ^= 0x40;
  MDB_val nv = {mv.mv_size, copy};
  CHECK(mdb_put(t, e->dbi_semcache, &mk, &nv, 0) == 0);
  kb[7] = 3;
  CHECK(mdb_get(t, e->dbi_semcache, &mk, &mv) == 0);
  nv.mv_size = mv.mv_size - 7;
  memcpy(copy, mv.mv_data, nv.mv_size);
  CHECK(mdb_put(t, e->dbi_semcache, &mk, &nv, 0) == 0);
  CHECK(mdb_txn_commit(t) == 0);
  free(copy);
  struct sl_vindex *vy = NULL;
  CHECK(sl_vindex_open(e, &o, &vy) == 0);
  CHECK(sl_vindex_catch_up(vy) == 0);
  struct sl_vindex_stats st;
  sl_vindex_stats_get(vy, &st);
  CHECK(st.entries == 1 && st.skipped == 2 && st.next_seq == 4);
  CHECK(db_count(e) == 1);
  sl_vindex_close(vy);
  sl_vindex_close(vx);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

/* A child process adds; the parent's copy catches up on its next search, and the other way. */
static void two_processes_see_each_other(void) {
  char *dir = tmpdir();
  float a[DIM], b[DIM];
  unit(a, DIM);
  unit(b, DIM);
  {
    struct sl_lmdb *e = open_env(dir);
    struct sl_vindex *vx = NULL;
    struct sl_vindex_opts o = {.dim = DIM, .max_entries = 100};
    CHECK(sl_vindex_open(e, &o, &vx) == 0);
    struct sl_vindex_hit h;
    CHECK(sl_vindex_search(vx, 1, a, T0, &h) == -ENOENT);
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);
    pid_t pid = fork();
    if (pid == 0) { /* its own environment after fork, as a worker opens one */
      char c;
      struct sl_lmdb *ce = open_env(dir);
      struct sl_vindex *cx = NULL;
      int bad = !ce || sl_vindex_open(ce, &o, &cx) != 0;
      uint8_t k[32];
      key_of(1, k);
      bad |= sl_vindex_add(cx, k, 1, a, T0, 3600) != 0;
      bad |= write(p[1], "x", 1) != 1;
      bad |= read(q[0], &c, 1) != 1; /* the parent added b */
      struct sl_vindex_hit ch;
      bad |= sl_vindex_search(cx, 1, b, T0 + 1, &ch) != 0 || key_id(ch.key) != 2;
      sl_vindex_close(cx);
      sl_lmdb_close(ce);
      _exit(bad);
    }
    char c;
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(sl_vindex_search(vx, 1, a, T0 + 1, &h) == 0 && key_id(h.key) == 1 && h.similarity > 0.999f);
    uint8_t k[32];
    key_of(2, k);
    CHECK(sl_vindex_add(vx, k, 1, b, T0, 3600) == 0);
    CHECK(write(q[1], "x", 1) == 1);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sl_vindex_close(vx);
    sl_lmdb_close(e);
  }
  { /* a restart reads everything back */
    struct sl_lmdb *e = open_env(dir);
    struct sl_vindex *vx = NULL;
    struct sl_vindex_opts o = {.dim = DIM, .max_entries = 100};
    CHECK(sl_vindex_open(e, &o, &vx) == 0);
    struct sl_vindex_hit h;
    CHECK(sl_vindex_search(vx, 1, b, T0 + 2, &h) == 0 && key_id(h.key) == 2);
    sl_vindex_close(vx);
    sl_lmdb_close(e);
  }
  rm_rf(dir);
  free(dir);
}

static void bad_options_refused(void) {
  char *dir = tmpdir();
  struct sl_lmdb *e = open_env(dir);
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {.dim = 0};
  CHECK(sl_vindex_open(e, &o, &vx) == -EINVAL);
  o.dim = SL_VINDEX_MAX_DIM + 1;
  CHECK(sl_vindex_open(e, &o, &vx) == -EINVAL);
  sl_lmdb_close(e);
  rm_rf(dir);
  free(dir);
}

CHECK_MAIN(T(codec_roundtrip_and_damage), T(exact_vs_ann_recall), T(ttl_expires), T(bound_evicts_oldest),
           T(scopes_are_isolated), T(damaged_record_skipped_and_deleted), T(two_processes_see_each_other),
           T(bad_options_refused))
