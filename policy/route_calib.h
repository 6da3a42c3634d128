/* STUB until h/learned merges. */
#ifndef SL_POLICY_ROUTE_CALIB_H
#define SL_POLICY_ROUTE_CALIB_H
#include <stddef.h>
#define SL_ROUTE_RING 256
struct sl_route_ring {
  float v[SL_ROUTE_RING];
  unsigned n, pos, since;
  double threshold;
};
void sl_route_ring_init(struct sl_route_ring *r, double threshold0);
double sl_route_ring_observe(struct sl_route_ring *r, double score, double strong_fraction);
double sl_route_calibrate(const double *scores, size_t n, double strong_share);
#endif
