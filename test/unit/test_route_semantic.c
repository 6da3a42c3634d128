/* policy/route_semantic (the semantic router's pick: max cosine per route, the best route
 * over its threshold, else the default) and policy/embed_hash (deterministic, unit length,
 * similar texts closer than unrelated ones). */
#include <math.h>

#include "check.h"
#include "policy/embed_hash.h"
#include "policy/route_semantic.h"

#define D 4

/* unit vectors along the axes and one between x and y */
static const float X[D] = {1, 0, 0, 0}, Y[D] = {0, 1, 0, 0}, Z[D] = {0, 0, 1, 0};

static void best_route_over_threshold(void) {
  const float a[2 * D] = {1, 0, 0, 0, 0, 0, 0, 1}; /* route 0: x, w */
  const float b[D] = {0, 1, 0, 0};                 /* route 1: y */
  struct sl_sem_route r[2] = {{a, 2, 0.5}, {b, 1, 0.5}};
  double s;
  CHECK(sl_route_semantic_pick(r, 2, X, D, &s) == 0 && fabs(s - 1) < 1e-6);
  CHECK(sl_route_semantic_pick(r, 2, Y, D, &s) == 1 && fabs(s - 1) < 1e-6);
  /* between x and y, nearer y */
  const float q[D] = {0.6f, 0.8f, 0, 0};
  CHECK(sl_route_semantic_pick(r, 2, q, D, &s) == 1 && fabs(s - 0.8) < 1e-6);
  /* the max over a route's utterances, not their mean: w alone matches route 0 fully */
  const float w[D] = {0, 0, 0, 1};
  CHECK(sl_route_semantic_pick(r, 2, w, D, &s) == 0 && fabs(s - 1) < 1e-6);
  CHECK(fabs(sl_route_semantic_score(&r[0], w, D) - 1) < 1e-6);
}

static void below_threshold_is_default(void) {
  const float a[D] = {1, 0, 0, 0}, b[D] = {0, 1, 0, 0};
  struct sl_sem_route r[2] = {{a, 1, 0.9}, {b, 1, 0.9}};
  const float q[D] = {0.6f, 0.8f, 0, 0};
  double s;
  CHECK(sl_route_semantic_pick(r, 2, q, D, &s) == -1 && fabs(s - 0.8) < 1e-6); /* the best score seen */
  CHECK(sl_route_semantic_pick(r, 2, Z, D, &s) == -1 && fabs(s) < 1e-6);
  /* the threshold is inclusive */
  r[1].threshold = 0.8f;
  CHECK(sl_route_semantic_pick(r, 2, q, D, &s) == 1);
  /* a higher-scoring route under its own threshold loses to a lower one over its threshold */
  r[1].threshold = 0.95;
  r[0].threshold = 0.5;
  CHECK(sl_route_semantic_pick(r, 2, q, D, &s) == 0 && fabs(s - 0.6) < 1e-6);
}

static void unembedded_routes_are_skipped(void) {
  const float b[D] = {0, 1, 0, 0};
  struct sl_sem_route r[2] = {{NULL, 0, 0}, {b, 1, 0.5}};
  double s;
  CHECK(sl_route_semantic_pick(r, 2, X, D, &s) == -1 && fabs(s) < 1e-6);
  CHECK(sl_route_semantic_pick(r, 2, Y, D, &s) == 1);
  CHECK(isnan(sl_route_semantic_score(&r[0], X, D)));
  CHECK(sl_route_semantic_pick(r, 1, X, D, &s) == -1 && isnan(s));
  CHECK(sl_route_semantic_pick(r, 0, X, D, &s) == -1 && isnan(s));
}

static void ties_go_to_the_first(void) {
  const float a[D] = {0, 1, 0, 0}, b[D] = {0, 1, 0, 0};
  struct sl_sem_route r[2] = {{a, 1, 0}, {b, 1, 0}};
  double s;
  CHECK(sl_route_semantic_pick(r, 2, Y, D, &s) == 0);
}

static float sim(const char *a, const char *b) {
  float va[SL_EMBED_HASH_DIM], vb[SL_EMBED_HASH_DIM];
  sl_embed_hash(a, strlen(a), 0, va, SL_EMBED_HASH_DIM);
  sl_embed_hash(b, strlen(b), 0, vb, SL_EMBED_HASH_DIM);
  return sl_embed_dot(va, vb, SL_EMBED_HASH_DIM);
}

static void embed_hash_deterministic_unit(void) {
  float a[SL_EMBED_HASH_DIM], b[SL_EMBED_HASH_DIM];
  const char *t = "What is the derivative of x squared?";
  sl_embed_hash(t, strlen(t), 0, a, SL_EMBED_HASH_DIM);
  sl_embed_hash(t, strlen(t), 0, b, SL_EMBED_HASH_DIM);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK(fabs(sl_embed_dot(a, a, SL_EMBED_HASH_DIM) - 1) < 1e-5);
  /* case does not matter; punctuation separates words */
  CHECK(sim("What is the DERIVATIVE of x squared", "what is the derivative of x squared?") > 0.999f);
  float z[SL_EMBED_HASH_DIM];
  sl_embed_hash("!!! ...", 7, 0, z, SL_EMBED_HASH_DIM);
  CHECK(sl_embed_dot(z, z, SL_EMBED_HASH_DIM) == 0); /* no word: the zero vector */
  /* max_bytes cuts the text */
  sl_embed_hash("alpha beta", 10, 5, a, SL_EMBED_HASH_DIM);
  sl_embed_hash("alpha", 5, 0, b, SL_EMBED_HASH_DIM);
  CHECK(memcmp(a, b, sizeof a) == 0);
}

static void embed_hash_similar_closer(void) {
  float near =
      sim("How do I compute the derivative of a polynomial function?", "compute the derivative of this polynomial");
  float far = sim("How do I compute the derivative of a polynomial function?",
                  "Which painter made the Mona Lisa famous in Renaissance Italy?");
  CHECK(near > far + 0.2f);
  CHECK(sim("write a python function to sort a list", "python code that sorts a list") >
        sim("write a python function to sort a list", "the history of the roman empire"));
}

CHECK_MAIN(T(best_route_over_threshold), T(below_threshold_is_default), T(unembedded_routes_are_skipped),
           T(ties_go_to_the_first), T(embed_hash_deterministic_unit), T(embed_hash_similar_closer))
