/* STUB until h/learned merges: a length-based score so the request path can be built. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/route_builtin.h"
#include "policy/route_calib.h"
#include "policy/route_model.h"

struct sl_route_model {
  int x;
};
static const unsigned char builtin[] = "SLRTSTUB";
const unsigned char *sl_route_builtin_model(size_t *len) {
  *len = sizeof builtin - 1;
  return builtin;
}
int sl_route_model_parse(const void *bytes, size_t n, struct sl_route_model **out, char *err, size_t errlen) {
  if (n < 8 || memcmp(bytes, "SLRT", 4)) {
    snprintf(err, errlen, "not a sluice router model (bad magic)");
    return -EINVAL;
  }
  *out = calloc(1, sizeof **out);
  return *out ? 0 : -ENOMEM;
}
void sl_route_model_free(struct sl_route_model *m) { free(m); }
double sl_route_model_score(const struct sl_route_model *m, const struct sl_route_input *in, struct sl_route_scratch *s) {
  (void)m;
  (void)s;
  return tanh((double)in->len / 400.0) - 0.5;
}
double sl_route_model_cdf(const struct sl_route_model *m, double score) { return (score + 0.5) / 1.5 < 0 ? 0 : (score + 0.5) / 1.5 > 1 ? 1 : (score + 0.5) / 1.5; }
double sl_route_model_quantile(const struct sl_route_model *m, double q) { return q * 1.5 - 0.5; }
const char *sl_route_model_id(const struct sl_route_model *m) { return "stub00000000"; }
void sl_route_ring_init(struct sl_route_ring *r, double t0) {
  memset(r, 0, sizeof *r);
  r->threshold = t0;
}
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}
double sl_route_ring_observe(struct sl_route_ring *r, double score, double f) {
  r->v[r->pos] = (float)score;
  r->pos = (r->pos + 1) % SL_ROUTE_RING;
  if (r->n < SL_ROUTE_RING) r->n++;
  if (++r->since >= 16 && r->n >= 16) {
    r->since = 0;
    float t[SL_ROUTE_RING];
    memcpy(t, r->v, r->n * sizeof *t);
    qsort(t, r->n, sizeof *t, cmpf);
    size_t k = (size_t)((1.0 - f) * r->n);
    if (k >= r->n) k = r->n - 1;
    r->threshold = t[k];
  }
  return r->threshold;
}
double sl_route_calibrate(const double *s, size_t n, double share) { return 0; }
