/* STUB until h/learned merges (the learned router's engine): the agreed interface. */
#ifndef SL_POLICY_ROUTE_MODEL_H
#define SL_POLICY_ROUTE_MODEL_H
#include <stdbool.h>
#include <stddef.h>
struct sl_route_model;
struct sl_route_input {
  const char *text;
  size_t len;
  unsigned turns;
  bool tools;
};
struct sl_route_scratch {
  unsigned idx[4096];
};
int sl_route_model_parse(const void *bytes, size_t n, struct sl_route_model **out, char *err, size_t errlen);
void sl_route_model_free(struct sl_route_model *m);
double sl_route_model_score(const struct sl_route_model *m, const struct sl_route_input *in, struct sl_route_scratch *s);
double sl_route_model_cdf(const struct sl_route_model *m, double score);
double sl_route_model_quantile(const struct sl_route_model *m, double q);
const char *sl_route_model_id(const struct sl_route_model *m);
#endif
