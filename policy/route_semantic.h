/* The semantic router's pick: routes described by example utterances (their unit vectors),
 * a prompt's unit vector, and per route a score threshold. A route's score is its BEST
 * utterance similarity (max cosine over its utterances, not the centroid: a route whose
 * utterances cover several topics matches each of them, and one close example is enough,
 * as in semantic-router / LiteLLM's auto router); among the routes whose score reaches
 * their own threshold the highest score wins; none: the default (-1). Pure: no I/O, no clock.
 * To change the aggregation (centroid, top-k mean): route_score() in route_semantic.c. */
#ifndef SL_POLICY_ROUTE_SEMANTIC_H
#define SL_POLICY_ROUTE_SEMANTIC_H

#include <stddef.h>

struct sl_sem_route {
  const float *vecs; /* nvec unit vectors of dim floats, one after another; NULL: not embedded yet */
  size_t nvec;
  double threshold; /* the score needed to win, in [-1, 1] */
};

/* The index of the winning route, or -1 for the default (no route embedded, or no route's
 * best score reaches its threshold). *score: the winning route's score; with -1, the best
 * score any embedded route had (NAN when none was embedded). Ties go to the first route. */
long sl_route_semantic_pick(const struct sl_sem_route *routes, size_t n, const float *q, unsigned dim, double *score);

/* One route's score: the best dot product of q with its vectors (NAN when it has none). */
double sl_route_semantic_score(const struct sl_sem_route *r, const float *q, unsigned dim);

#endif
