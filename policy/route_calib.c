/* Thresholds for the learned router (see route_calib.h): a quickselect for the k-th
 * largest score, used both by the one-off calibration and by the per-worker ring. */
#include "policy/route_calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The element of rank k (0-based, ascending) of a[0..n), a reordered in place. */
static float select_rank(float *a, size_t n, size_t kk) {
  long lo = 0, hi = (long)n - 1, k = (long)kk;
  while (lo < hi) {
    float pivot = a[lo + (hi - lo) / 2];
    long i = lo, j = hi;
    do {
      while (a[i] < pivot) i++;
      while (pivot < a[j]) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return a[k];
  }
  return a[k];
}

static double clamp01(double f) {
  if (!(f > 0)) return 0; /* NaN too */
  return f > 1 ? 1 : f;
}

double sl_route_calibrate_f(const float *scores, size_t n, double strong_share, float *tmp) {
  if (n == 0) return -HUGE_VAL;
  size_t k = (size_t)floor(clamp01(strong_share) * (double)n + 0.5);
  if (k == 0) return HUGE_VAL;
  if (k > n) k = n;
  if (tmp != scores) memcpy(tmp, scores, n * sizeof *tmp);
  return select_rank(tmp, n, n - k);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double sl_route_calibrate(const double *scores, size_t n, double strong_share) {
  double *t = malloc((n ? n : 1) * sizeof *t);
  if (!t) return NAN;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(scores[i])) t[m++] = scores[i];
  double r;
  size_t k = (size_t)floor(clamp01(strong_share) * (double)m + 0.5);
  if (m == 0)
    r = -HUGE_VAL;
  else if (k == 0)
    r = HUGE_VAL;
  else {
    qsort(t, m, sizeof *t, cmp_double);
    r = t[m - k];
  }
  free(t);
  return r;
}

void sl_route_ring_init(struct sl_route_ring *r, double threshold0) {
  memset(r, 0, sizeof *r);
  r->threshold = threshold0;
}

double sl_route_ring_observe(struct sl_route_ring *r, double score, double strong_fraction) {
  if (isnan(score)) return r->threshold;
  if (!(strong_fraction > 0)) strong_fraction = 0; /* NaN too */
  r->v[r->pos] = (float)score;
  r->pos = (r->pos + 1) % SL_ROUTE_RING;
  if (r->n < SL_ROUTE_RING) r->n++;
  r->since++;
  if (r->n >= SL_ROUTE_RING_WARM && (r->since >= SL_ROUTE_RING_EVERY || r->n == SL_ROUTE_RING_WARM)) {
    float tmp[SL_ROUTE_RING];
    r->threshold = sl_route_calibrate_f(r->v, r->n, strong_fraction, tmp);
    r->since = 0;
  }
  /* the ends are exact whatever the ring holds: none, or every request, to strong */
  if (strong_fraction <= 0) return HUGE_VAL;
  if (strong_fraction >= 1) return -HUGE_VAL;
  return r->threshold;
}
