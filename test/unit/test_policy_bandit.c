/* policy/bandit.h: the online correction (bounded shift per hour), Thompson sampling with
 * a fixed seed, and the exploration budget. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "policy/bandit.h"

static void slots_fold_and_dedupe(void) {
  uint32_t b[] = {3, 3 + SL_LEARN_SLOTS, 7, 3, 5000};
  uint16_t s[8];
  size_t n = sl_learn_slots(b, 5, s, 8);
  CHECK(n == 3 && s[0] == 3 && s[1] == 7 && s[2] == (5000 & (SL_LEARN_SLOTS - 1)));
  CHECK(sl_learn_slots(b, 5, s, 2) == 2);
}

static void observe_moves_toward_evidence_and_is_bounded(void) {
  struct sl_learn_state st;
  sl_learn_init(&st);
  uint16_t s[2] = {1, 2};
  CHECK(sl_learn_adjust(&st, s, 2) == 0);
  uint64_t t = 1000 * 3600;
  /* weak was fine, many times within one hour: bias goes negative, at most 0.1 */
  for (int i = 0; i < 50; i++) sl_learn_observe(&st, s, 2, 0.0, t + (uint64_t)i, 0.1, 0);
  CHECK(fabs(st.bias[1] + 0.1) < 1e-6 && fabs(st.bias[2] + 0.1) < 1e-6);
  CHECK(fabs(sl_learn_adjust(&st, s, 2) + 0.1) < 1e-6);
  CHECK(st.outcomes == 50 && st.ok[1] > 10 && st.need[1] == 0);
  /* the next hour: another 0.1 */
  sl_learn_observe(&st, s, 2, 0.0, t + 3600, 0.1, 0);
  CHECK(fabs(st.bias[1] + 0.2) < 1e-6);
  /* frozen movement: max 0 changes evidence but not the bias */
  sl_learn_observe(&st, s, 2, 1.0, t + 7200, 0.0, 0);
  CHECK(fabs(st.bias[1] + 0.2) < 1e-6);
  /* unbounded: reaches the target, never beyond [-1, 1] */
  for (int i = 0; i < 500; i++) sl_learn_observe(&st, s, 2, 1.0, t + 10800, 100, 0);
  double target = SL_LEARN_GAIN * (st.need[1] - st.ok[1]) / (st.need[1] + st.ok[1] + 2);
  CHECK(fabs(st.bias[1] - target) < 1e-5 && st.bias[1] > 0.8 && st.bias[1] <= 1);
  /* other slots untouched; bad input ignored */
  CHECK(st.bias[3] == 0);
  uint64_t n = st.outcomes;
  sl_learn_observe(&st, s, 2, NAN, t, 1, 0);
  sl_learn_observe(&st, s, 2, 1.5, t, 1, 0);
  CHECK(st.outcomes == n);
  CHECK(sl_learn_valid(&st, sizeof st) && !sl_learn_valid(&st, sizeof st - 1));
  st.bias[9] = NAN;
  CHECK(!sl_learn_valid(&st, sizeof st));
}

static void beta_draws_have_the_right_mean_and_are_reproducible(void) {
  struct sl_rng r = {42}, r2 = {42};
  double sum = 0;
  for (int i = 0; i < 20000; i++) {
    double x = sl_bandit_beta(&r, 2, 8);
    CHECK(x > 0 && x < 1);
    sum += x;
  }
  CHECK(fabs(sum / 20000 - 0.2) < 0.01);
  double a = 0, b = 0;
  r = (struct sl_rng){7};
  r2 = (struct sl_rng){7};
  for (int i = 0; i < 10; i++) a += sl_bandit_beta(&r, 0.5, 0.5), b += sl_bandit_beta(&r2, 0.5, 0.5);
  CHECK(a == b);
}

static void sampled_adjust_narrows_with_evidence(void) {
  struct sl_learn_state st;
  sl_learn_init(&st);
  uint16_t s[1] = {5};
  struct sl_rng r = {1};
  /* no evidence: draws spread widely around 0 */
  double lo = 1, hi = -1;
  for (int i = 0; i < 1000; i++) {
    double x = sl_bandit_sample_adjust(&st, s, 1, &r, 3600, 0);
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  CHECK(lo < -0.6 && hi > 0.6);
  /* much "weak was fine": draws stay near the (negative) mean */
  for (int i = 0; i < 200; i++) sl_learn_observe(&st, s, 1, 0.0, 3600, 100, 0);
  double mean = sl_learn_adjust(&st, s, 1), worst = 0;
  for (int i = 0; i < 1000; i++) {
    double d = fabs(sl_bandit_sample_adjust(&st, s, 1, &r, 3600, 0) - mean);
    if (d > worst) worst = d;
  }
  CHECK(mean < -0.8 && worst < 0.35);
  /* ten half-lives later the evidence has faded: the draws spread again (the mean stays) */
  double hl = 60, spread = 0;
  for (int i = 0; i < 1000; i++) {
    double d = fabs(sl_bandit_sample_adjust(&st, s, 1, &r, 3600 + 600, hl) - mean);
    if (d > spread) spread = d;
  }
  CHECK(spread > 0.6 && sl_learn_adjust(&st, s, 1) == mean);
  CHECK(fabs(sl_learn_keep(3600, 3660, 60) - 0.5) < 1e-12 && sl_learn_keep(3600, 4000, 0) == 1);
  /* and a new outcome after them weighs as much as the faded past */
  float ok0 = st.ok[5];
  sl_learn_observe(&st, s, 1, 1.0, 3600 + 600, 100, hl);
  CHECK(st.ok[5] < ok0 / 500 && st.need[5] == 1.0f && st.seen_s[5] == 4200);
}

static void budget_per_day(void) {
  struct sl_bandit_budget b = {0};
  uint64_t day = 20000 * 86400ull;
  CHECK(sl_bandit_budget_take(&b, day, 0.4, 1.0));
  CHECK(sl_bandit_budget_take(&b, day + 10, 0.5, 1.0));
  CHECK(!sl_bandit_budget_take(&b, day + 20, 0.2, 1.0)); /* would go over */
  CHECK(fabs(b.spent_usd - 0.9) < 1e-9 && b.explorations == 2);
  CHECK(sl_bandit_budget_take(&b, day + 30, 0.1, 1.0));
  CHECK(!sl_bandit_budget_take(&b, day + 86400 - 1, 0.01, 1.0));
  CHECK(sl_bandit_budget_take(&b, day + 86400, 0.6, 1.0)); /* a new day */
  CHECK(!sl_bandit_budget_take(&b, day + 86400, 0.1, 0));  /* no budget: no exploration */
  CHECK(!sl_bandit_budget_take(&b, day + 86400, NAN, 1.0));
}

CHECK_MAIN(T(slots_fold_and_dedupe), T(observe_moves_toward_evidence_and_is_bounded),
           T(beta_draws_have_the_right_mean_and_are_reproducible), T(sampled_adjust_narrows_with_evidence),
           T(budget_per_day))
