/* The cost router's choice (route_cost.h). */
#include "policy/route_cost.h"

size_t sl_route_cost_pick(const struct sl_cost_target *t, size_t n, double bar, double max_cost,
                          enum sl_cost_why *why) {
  long met = -1, best = -1, cheapest = -1;
  for (size_t i = 0; i < n; i++) {
    if (cheapest < 0 || t[i].cost_usd < t[cheapest].cost_usd) cheapest = (long)i;
    if (max_cost > 0 && t[i].cost_usd > max_cost) continue;
    if (best < 0 || t[i].quality > t[best].quality) best = (long)i;
    if (t[i].quality >= bar && (met < 0 || t[i].cost_usd < t[met].cost_usd)) met = (long)i;
  }
  if (met >= 0) {
    *why = SL_COST_MET;
    return (size_t)met;
  }
  if (best >= 0) {
    *why = SL_COST_BEST;
    return (size_t)best;
  }
  *why = SL_COST_CHEAPEST;
  return cheapest < 0 ? 0 : (size_t)cheapest;
}
