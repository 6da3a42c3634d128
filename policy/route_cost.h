/* The cost router's choice: the cheapest target whose quality meets the request's bar,
 * among those whose estimated cost is within the request's cap. Pure: the caller passes
 * each target's quality and estimated cost (its price times the request's estimated
 * tokens). When no target meets the bar, the best quality within the cap wins (fail open to
 * quality); when none is within the cap, the cheapest. Ties go to the first in order.
 * To add a criterion (latency, say): a field in sl_cost_target and a line in the
 * comparison. */
#ifndef SL_POLICY_ROUTE_COST_H
#define SL_POLICY_ROUTE_COST_H

#include <stdbool.h>
#include <stddef.h>

struct sl_cost_target {
  double quality;  /* [0, 1] */
  double cost_usd; /* estimated cost of this request on the target */
};

enum sl_cost_why {
  SL_COST_MET,      /* the cheapest meeting the bar within the cap */
  SL_COST_BEST,     /* none met the bar: the best quality within the cap */
  SL_COST_CHEAPEST, /* none within the cap: the cheapest */
};

/* max_cost <= 0: no cap. Returns the index (n > 0), and why in *why. */
size_t sl_route_cost_pick(const struct sl_cost_target *t, size_t n, double bar, double max_cost,
                          enum sl_cost_why *why);

#endif
