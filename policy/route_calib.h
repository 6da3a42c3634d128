/* Thresholds for the learned router: a fixed threshold from a sample of scores
 * (sl_route_calibrate, RouteLLM's calibration), and one that follows traffic (the ring:
 * the (1 - f) quantile of the last SL_ROUTE_RING scores, recomputed every
 * SL_ROUTE_RING_EVERY requests), so the strong share stays near its target when the score
 * distribution drifts. Decision rule everywhere: strong when score >= threshold. Pure: one
 * ring per worker, no locks, no clock. */
#ifndef SL_POLICY_ROUTE_CALIB_H
#define SL_POLICY_ROUTE_CALIB_H

#include <stddef.h>

#define SL_ROUTE_RING       256
#define SL_ROUTE_RING_EVERY 16u
#define SL_ROUTE_RING_WARM  32u /* scores seen before the ring's own quantile is used */

struct sl_route_ring {
  float v[SL_ROUTE_RING];
  unsigned n, pos, since;
  double threshold;
};

/* threshold0: used until the ring holds SL_ROUTE_RING_WARM scores (e.g. the model's
 * quantile at 1 - strong_fraction). */
void sl_route_ring_init(struct sl_route_ring *r, double threshold0);
/* Adds score; recomputes the (1 - strong_fraction) quantile every SL_ROUTE_RING_EVERY
 * requests once warm; returns the threshold for this decision. NaN scores are ignored. A
 * strong_fraction of 0 (or below) returns +HUGE_VAL, of 1 (or above) -HUGE_VAL. */
double sl_route_ring_observe(struct sl_route_ring *r, double score, double strong_fraction);

/* The threshold sending round(strong_share * n) of these scores to strong (ties may send
 * more): the k-th largest score; +HUGE_VAL for a share that rounds to none; -HUGE_VAL
 * when n is 0. Allocates a copy (not for the request path). */
double sl_route_calibrate(const double *scores, size_t n, double strong_share);

/* The same over floats in place, without allocating (tmp: n floats of scratch). */
double sl_route_calibrate_f(const float *scores, size_t n, double strong_share, float *tmp);

#endif
