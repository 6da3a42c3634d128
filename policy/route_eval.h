/* The standard metrics of a strong/weak router on held-out rows (score, weak quality,
 * strong quality), as /work/shared/data/README.md and RouteLLM define them. The one idea:
 * one curve, quality against the fraction of calls sent to strong, from which every
 * number is read:
 *   curve[k] = (sum of strong over the k highest-scored rows + sum of weak over the rest) / n,
 *   k = 0..n (ties in score broken by row order: the earlier row goes to strong first);
 *   W = curve[0] (weak alone), S = curve[n] (strong alone);
 *   PGR(k) = (curve[k] - W) / (S - W);
 *   CPT(x) = the smallest k/n with curve[k] >= W + x (S - W);
 *   APGR = the area under PGR against k/n (trapezoids), so weak alone 0, strong alone 1,
 *   random routing 0.5 (in expectation; exactly 0.5 for the analytic random row).
 * The oracle scores each row by strong - weak. To add a metric: read it off the curve. */
#ifndef SL_POLICY_ROUTE_EVAL_H
#define SL_POLICY_ROUTE_EVAL_H

#include <stddef.h>
#include <stdint.h>

struct sl_route_eval_row {
  double score, weak, strong;
};

struct sl_route_eval_result {
  size_t n;
  double weak, strong; /* mean quality of each model alone */
  double cpt50, cpt80, apgr;
};

/* Fills curve[0..n] (n + 1 doubles) for rows ordered by score. 0, -EINVAL (n == 0),
 * -ENOMEM. */
int sl_route_eval_curve(const struct sl_route_eval_row *rows, size_t n, double *curve);
/* The metrics from a curve. When S <= W (no gap to recover) cpt and apgr are NaN. */
void sl_route_eval_metrics(const double *curve, size_t n, struct sl_route_eval_result *r);
/* CPT(x) from a curve: a fraction in [0, 1], NaN when S <= W. */
double sl_route_eval_cpt(const double *curve, size_t n, double x);
/* The curve and metrics of the scores in rows; curve may be NULL. 0, -EINVAL, -ENOMEM. */
int sl_route_eval_run(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r, double *curve);
/* The oracle router on the same rows (scores strong - weak); curve may be NULL. */
int sl_route_eval_oracle(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r, double *curve);
/* Random routing, analytic: CPT(x) = x, APGR = 0.5, W and S of the rows. */
void sl_route_eval_random(const struct sl_route_eval_row *rows, size_t n, struct sl_route_eval_result *r);
/* Random routing, one seeded draw (scores from a fixed PRNG). */
int sl_route_eval_random_seeded(const struct sl_route_eval_row *rows, size_t n, uint64_t seed,
                                struct sl_route_eval_result *r, double *curve);

#endif
