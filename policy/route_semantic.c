/* The semantic router's pick; see route_semantic.h. Exact search (a dot product per
 * utterance): a router has tens to a few thousand utterances, a few microseconds each. */
#include "policy/route_semantic.h"

#include <math.h>

#include "policy/embed_hash.h"

double sl_route_semantic_score(const struct sl_sem_route *r, const float *q, unsigned dim) {
  if (!r->vecs || !r->nvec) return NAN;
  double best = -INFINITY;
  for (size_t i = 0; i < r->nvec; i++) {
    double s = sl_embed_dot(r->vecs + i * dim, q, dim);
    if (s > best) best = s;
  }
  return best;
}

long sl_route_semantic_pick(const struct sl_sem_route *routes, size_t n, const float *q, unsigned dim, double *score) {
  long win = -1;
  double best = NAN;
  for (size_t i = 0; i < n; i++) {
    double s = sl_route_semantic_score(&routes[i], q, dim);
    if (isnan(s)) continue;
    if (s >= routes[i].threshold && (win < 0 || s > best)) {
      win = (long)i;
      best = s;
    } else if (win < 0 && (isnan(best) || s > best)) {
      best = s; /* the best seen so far while nothing qualifies */
    }
  }
  *score = best;
  return win;
}
