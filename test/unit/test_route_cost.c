/* policy/route_cost: the cost router's pick, by hand. The cheapest target meeting the
 * quality bar within the cap; none meets the bar -> the best quality within the cap; none
 * within the cap -> the cheapest; ties to the first in order; the bar and the cap are
 * inclusive; a cap <= 0 is no cap; the order of targets does not matter otherwise. */
#include "check.h"
#include "policy/route_cost.h"

#define NT(a) (sizeof(a) / sizeof *(a))

/* weak, mid, strong — cost order not the list order, so "first" and "cheapest" differ */
static const struct sl_cost_target three[] = {
    {0.95, 10.0}, /* 0 strong */
    {0.50, 1.0},  /* 1 weak */
    {0.80, 3.0},  /* 2 mid */
};

static void cheapest_meeting_bar(void) {
  enum sl_cost_why why = SL_COST_CHEAPEST;
  CHECK(sl_route_cost_pick(three, 3, 0.7, 0, &why) == 2 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(three, 3, 0.9, 0, &why) == 0 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(three, 3, 0.0, 0, &why) == 1 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(three, 3, 0.5, 0, &why) == 1 && why == SL_COST_MET); /* the bar is inclusive */
  CHECK(sl_route_cost_pick(three, 3, 0.51, 0, &why) == 2 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(three, 3, 0.95, 0, &why) == 0 && why == SL_COST_MET);
  /* within a cap that excludes the strong one */
  CHECK(sl_route_cost_pick(three, 3, 0.7, 5.0, &why) == 2 && why == SL_COST_MET);
  /* the cap is inclusive */
  CHECK(sl_route_cost_pick(three, 3, 0.9, 10.0, &why) == 0 && why == SL_COST_MET);
}

static void best_within_cap_when_none_meets(void) {
  enum sl_cost_why why = SL_COST_MET;
  /* bar above every quality, no cap: the best quality (fail open to quality) */
  CHECK(sl_route_cost_pick(three, 3, 0.99, 0, &why) == 0 && why == SL_COST_BEST);
  /* the strong one meets the bar but costs more than the cap: best within the cap */
  CHECK(sl_route_cost_pick(three, 3, 0.9, 5.0, &why) == 2 && why == SL_COST_BEST);
  CHECK(sl_route_cost_pick(three, 3, 0.9, 2.999, &why) == 1 && why == SL_COST_BEST);
  CHECK(sl_route_cost_pick(three, 3, 1.0, 1.0, &why) == 1 && why == SL_COST_BEST);
}

static void cheapest_when_none_within_cap(void) {
  enum sl_cost_why why = SL_COST_MET;
  CHECK(sl_route_cost_pick(three, 3, 0.7, 0.5, &why) == 1 && why == SL_COST_CHEAPEST);
  CHECK(sl_route_cost_pick(three, 3, 0.0, 0.999, &why) == 1 && why == SL_COST_CHEAPEST);
  /* a cap <= 0 is no cap */
  CHECK(sl_route_cost_pick(three, 3, 0.7, -1, &why) == 2 && why == SL_COST_MET);
}

static void ties_go_to_the_first(void) {
  enum sl_cost_why why;
  const struct sl_cost_target same_cost[] = {{0.6, 2.0}, {0.9, 2.0}, {0.9, 2.0}};
  CHECK(sl_route_cost_pick(same_cost, 3, 0.5, 0, &why) == 0 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(same_cost, 3, 0.7, 0, &why) == 1 && why == SL_COST_MET);
  /* none meets: the best quality, the first of equals */
  CHECK(sl_route_cost_pick(same_cost, 3, 0.95, 0, &why) == 1 && why == SL_COST_BEST);
  /* none within the cap: the cheapest, the first of equals */
  CHECK(sl_route_cost_pick(same_cost, 3, 0.5, 1.0, &why) == 0 && why == SL_COST_CHEAPEST);
  const struct sl_cost_target cheap_tie[] = {{0.9, 5.0}, {0.2, 1.0}, {0.3, 1.0}};
  CHECK(sl_route_cost_pick(cheap_tie, 3, 0.5, 0.5, &why) == 1 && why == SL_COST_CHEAPEST);
}

static void one_target_and_free_ones(void) {
  enum sl_cost_why why;
  const struct sl_cost_target one[] = {{0.4, 7.0}};
  CHECK(sl_route_cost_pick(one, 1, 0.3, 0, &why) == 0 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(one, 1, 0.5, 0, &why) == 0 && why == SL_COST_BEST);
  CHECK(sl_route_cost_pick(one, 1, 0.5, 1.0, &why) == 0 && why == SL_COST_CHEAPEST);
  /* unpriced targets cost 0: the cheapest meeting the bar is the first meeting it */
  const struct sl_cost_target free2[] = {{0.5, 0}, {0.9, 0}};
  CHECK(sl_route_cost_pick(free2, NT(free2), 0.8, 0.01, &why) == 1 && why == SL_COST_MET);
  CHECK(sl_route_cost_pick(free2, NT(free2), 0.1, 0.01, &why) == 0 && why == SL_COST_MET);
}

CHECK_MAIN(T(cheapest_meeting_bar), T(best_within_cap_when_none_meets), T(cheapest_when_none_within_cap),
           T(ties_go_to_the_first), T(one_target_and_free_ones))
