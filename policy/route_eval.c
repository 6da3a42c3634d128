/* The router metrics (see route_eval.h): one sort by score, one pass for the curve. */
#include "policy/route_eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct ranked {
  double score;
  size_t i;
};

static int by_score_desc(const void *a, const void *b) {
  const struct ranked *x = a, *y = b;
  if (x->score > y->score) return -1;
  if (x->score < y->score) return 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

int sl_route_eval_curve(const struct sl_route_eval_row *rows, size_t n, double *curve) {
  if (n == 0) return -EINVAL;
  struct ranked *r = malloc(n * sizeof *r);
  if (!r) return -ENOMEM;
  double weak = 0;
  for (size_t i = 0; i < n; i++) {
    r[i].score = isnan(rows[i].score) ? -HUGE_VAL : rows[i].score;
    r[i].i = i;
    weak += rows[i].weak;
  }
  qsort(r, n, sizeof *r, by_score_desc);
  double sum = weak;
  curve[0] = sum / (double)n;
  for (size_t k = 1; k <= n; k++) {
    const struct sl_route_eval_row *row = &rows[r[k - 1].i];
    sum += row->strong - row->weak;
    curve[k] = sum / (double)n;
  }
  free(r);
  return 0;
}

double sl_route_eval_cpt(const double *curve, size_t n, double x) {
  double w = curve[0], s = curve[n];
  if (!(s > w)) return NAN;
  double target = w + x * (s - w) - 1e-12;
  for (size_t k = 0; k <= n; k++)
    if (curve[k] >= target) return (double)k / (double)n;
  return 1.0;
}

void sl_route_eval_metrics(const double *curve, size_t n, struct sl_route_eval_result *r) {
  r->n = n;
  r->weak = curve[0];
  r->strong = curve[n];
  double gap = r->strong - r->weak;
  if (!(gap > 0)) {
    r->cpt50 = r->cpt80 = r->apgr = NAN;
    return;
  }
  r->cpt50 = sl_route_eval_cpt(curve, n, 0.5);
  r->cpt80 = sl_route_eval_cpt(curve, n, 0.8);
  double area = 0;
  for (size_t k = 1; k <= n; k++) area += ((curve[k - 1] - r->weak) + (curve[k] - r->weak)) / (2.0 * gap);
  r->apgr = area / (double)n;
}

int sl_route_eval_run(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r, double *curve) {
  if (n == 0) return -EINVAL;
  double *c = curve ? curve : malloc((n + 1) * sizeof *c);
  if (!c) return -ENOMEM;
  int rc = sl_route_eval_curve(rows, n, c);
  if (rc == 0) sl_route_eval_metrics(c, n, r);
  if (!curve) free(c);
  return rc;
}

static int run_with_scores(const struct sl_route_eval_row *rows, size_t n, const double *scores,
                           struct sl_route_eval_result *r, double *curve) {
  struct sl_route_eval_row *t = malloc(n * sizeof *t);
  if (!t) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    t[i] = rows[i];
    t[i].score = scores ? scores[i] : rows[i].strong - rows[i].weak;
  }
  int rc = sl_route_eval_run(t, n, r, curve);
  free(t);
  return rc;
}

int sl_route_eval_oracle(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r,
                         double *curve) {
  if (n == 0) return -EINVAL;
  return run_with_scores(rows, n, NULL, r, curve);
}

void sl_route_eval_random(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r) {
  double w = 0, s = 0;
  for (size_t i = 0; i < n; i++) {
    w += rows[i].weak;
    s += rows[i].strong;
  }
  r->n = n;
  r->weak = n ? w / (double)n : NAN;
  r->strong = n ? s / (double)n : NAN;
  int gap = n && r->strong > r->weak;
  r->cpt50 = gap ? 0.5 : NAN;
  r->cpt80 = gap ? 0.8 : NAN;
  r->apgr = gap ? 0.5 : NAN;
}

int sl_route_eval_random_seeded(const struct sl_route_eval_row *rows, size_t n, uint64_t seed,
                                struct sl_route_eval_result *r, double *curve) {
  if (n == 0) return -EINVAL;
  double *sc = malloc(n * sizeof *sc);
  if (!sc) return -ENOMEM;
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i++) { /* splitmix64 */
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    sc[i] = (double)(z >> 11) / 9007199254740992.0;
  }
  int rc = run_with_scores(rows, n, sc, r, curve);
  free(sc);
  return rc;
}
