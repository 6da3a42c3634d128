/* sluice-vindex-bench: the semantic cache's vector index (store/vindex.h) at a given size:
 * recall@1 of the HNSW answer against exact search, and lookup time (sl_vindex_search,
 * which includes the per-lookup catch-up check: a read txn and the sequence counter)
 * p50/p99, for near-duplicate queries (a stored vector plus noise, renormalised: what a
 * paraphrase looks like to a cache) and for random queries (what a miss looks like).
 * Vectors are random unit vectors (fixed seed): harder for an ANN index than text
 * embeddings, which cluster. Never linked into sluice.
 *
 *   sluice-vindex-bench [--n N] [--dim D] [--queries Q] [--ef EF] [--noise E] [--ann-min A]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/lmdb_env.h"
#include "store/vindex.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static void unit(float *v, unsigned dim) {
  double n = 0;
  for (unsigned i = 0; i < dim; i++) {
    v[i] = (float)(sqrt(-2 * log(urand() + 1e-12)) * cos(6.283185307 * urand()));
    n += (double)v[i] * v[i];
  }
  for (unsigned i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

static double clock_us(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}
static double now_us(void) { return clock_us(CLOCK_MONOTONIC); }
/* this thread's CPU time: the lookup's own work, without the time a busy machine's
 * scheduler kept it off the CPU */
static double cpu_us(void) { return clock_us(CLOCK_THREAD_CPUTIME_ID); }

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  qsort(v, n, sizeof *v, cmp_d);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i];
}

int main(int argc, char **argv) {
  size_t n = 10000, queries = 2000, ann_min = 2048;
  unsigned dim = 256, ef = 128;
  double noise = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--n"))
      n = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--dim"))
      dim = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--queries"))
      queries = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--ef"))
      ef = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--noise"))
      noise = strtod(argv[i + 1], NULL);
    else if (!strcmp(argv[i], "--ann-min"))
      ann_min = strtoul(argv[i + 1], NULL, 10);
    else {
      fprintf(stderr, "usage: %s [--n N] [--dim D] [--queries Q] [--ef EF] [--noise E] [--ann-min A]\n", argv[0]);
      return 2;
    }
  }
  char tmpl[] = "/tmp/sl-vbench.XXXXXX";
  char *dir = mkdtemp(tmpl);
  struct sl_lmdb *env = NULL;
  if (!dir || sl_lmdb_open(dir, (size_t)4 << 30, SL_LMDB_NOSYNC, &env, NULL, 0)) {
    fprintf(stderr, "cannot open an LMDB environment in /tmp\n");
    return 1;
  }
  struct sl_vindex *vx = NULL;
  struct sl_vindex_opts o = {
      .dim = dim, .max_entries = n, .ann_min = ann_min, .hnsw_ef_search = ef, .catchup_max = n + 1};
  int rc = sl_vindex_open(env, &o, &vx);
  if (rc) {
    fprintf(stderr, "sl_vindex_open: %d\n", rc);
    return 1;
  }
  float *base = malloc(sizeof(float) * dim * n), *q = malloc(sizeof(float) * dim);
  double t0 = now_us();
  for (size_t i = 0; i < n; i++) {
    unit(base + i * dim, dim);
    uint8_t k[32] = {0};
    memcpy(k, &i, sizeof i);
    if ((rc = sl_vindex_add(vx, k, 1, base + i * dim, 1700000000, 86400))) {
      fprintf(stderr, "sl_vindex_add: %d\n", rc);
      return 1;
    }
  }
  double build_s = (now_us() - t0) / 1e6;
  double *ta = malloc(sizeof(double) * queries), *te = malloc(sizeof(double) * queries);
  double *ca = malloc(sizeof(double) * queries), *ce = malloc(sizeof(double) * queries);
  for (int kind = 0; kind < 2; kind++) { /* 0: near-duplicates, 1: random */
    size_t agree = 0, ann = 0;
    for (size_t j = 0; j < queries; j++) {
      if (kind == 0) {
        const float *b = base + (size_t)(urand() * (double)n) % n * dim;
        unit(q, dim);
        double nn = 0;
        for (unsigned d = 0; d < dim; d++) {
          q[d] = b[d] + (float)noise * q[d];
          nn += (double)q[d] * q[d];
        }
        for (unsigned d = 0; d < dim; d++) q[d] = (float)(q[d] / sqrt(nn));
      } else {
        unit(q, dim);
      }
      struct sl_vindex_hit a, x;
      struct sl_vindex_stats st;
      double s0 = now_us(), c0 = cpu_us();
      int ra = sl_vindex_search(vx, 1, q, 1700000001, &a);
      double s1 = now_us(), c1 = cpu_us();
      sl_vindex_stats_get(vx, &st);
      int re = sl_vindex_search_exact(vx, 1, q, 1700000001, &x);
      double s2 = now_us(), c2 = cpu_us();
      ta[j] = s1 - s0;
      te[j] = s2 - s1;
      ca[j] = c1 - c0;
      ce[j] = c2 - c1;
      ann += st.ann;
      agree += ra == 0 && re == 0 && memcmp(a.key, x.key, 32) == 0;
    }
    printf("n=%zu dim=%u ef=%u queries=%zu kind=%s noise=%.2f build_s=%.1f recall@1=%.4f ann_share=%.2f "
           "ann_p50_us=%.1f ann_p99_us=%.1f exact_p50_us=%.1f exact_p99_us=%.1f "
           "ann_cpu_p50_us=%.1f ann_cpu_p99_us=%.1f exact_cpu_p50_us=%.1f exact_cpu_p99_us=%.1f\n",
           n, dim, ef, queries, kind ? "random" : "near", noise, build_s, (double)agree / (double)queries,
           (double)ann / (double)queries, pct(ta, queries, 0.5), pct(ta, queries, 0.99), pct(te, queries, 0.5),
           pct(te, queries, 0.99), pct(ca, queries, 0.5), pct(ca, queries, 0.99), pct(ce, queries, 0.5),
           pct(ce, queries, 0.99));
  }
  sl_vindex_close(vx);
  sl_lmdb_close(env);
  char p[4200];
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  unlink(p);
  rmdir(dir);
  free(base);
  free(q);
  free(ta);
  free(te);
  free(ca);
  free(ce);
  return 0;
}
