/* Wildcard deployments at request time (LiteLLM's model_name "openai/\*", "*"): the group a
 * client's name matches by pattern, and per attempt the upstream model that name means for
 * the chosen deployment, its price and its path. The one idea: the pattern match and the
 * template are the plan's (core/config/plan.c: sl_plan_match, sl_plan_wild_model); this file
 * only carries them into the request's arena, so the rest of the request path reads
 * sl_attempt_model(at) where it read the deployment's upstream_model. */
#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "policy/prices.h"

const struct sl_group *sl_wild_group(struct sl_request *rq, const char *name) {
  const struct sl_group *g = sl_plan_match(rq->w->cfg->plan, name);
  if (!g) return NULL;
  /* "<group>\x1f<name>" (request_internal.h): the name, and with its group the cache key's group */
  size_t gn = strlen(g->name), n = strlen(name);
  char *s = sl_arena_alloc(rq->arena, gn + n + 2);
  if (!s) return NULL;
  memcpy(s, g->name, gn);
  s[gn] = 0x1f;
  memcpy(s + gn + 1, name, n + 1);
  rq->wild_model = s;
  return g;
}

int sl_wild_attempt_prepare(struct sl_attempt *at) {
  const struct sl_request *rq = at->rq;
  const struct sl_deployment *d = &rq->w->cfg->deployments[at->dep];
  at->wild_model = NULL;
  if (!d->wild) return 0;
  /* the name the pattern matched (checked there); reached otherwise (a router's target, a
   * fallback), the group's own name: its pattern, passed as written */
  const char *name = rq->wild_model ? strrchr(rq->wild_model, 0x1f) + 1 : at->group->name;
  int n = sl_plan_wild_model(d, name, NULL, 0);
  if (n < 0) return 0;
  char *s = sl_arena_alloc(rq->arena, (size_t)n + 1);
  if (!s) return -1;
  sl_plan_wild_model(d, name, s, (size_t)n + 1);
  at->wild_model = s;
  return 0;
}

const char *sl_attempt_model(const struct sl_attempt *at) {
  return at->wild_model ? at->wild_model : at->rq->w->cfg->deployments[at->dep].upstream_model;
}

const struct sl_price *sl_attempt_price(const struct sl_attempt *at) {
  const struct sl_worker *w = at->rq->w;
  const struct sl_deployment *d = &w->cfg->deployments[at->dep];
  bool configured = d->input_cost_per_token > 0 || d->output_cost_per_token > 0;
  if (at->wild_model && !configured) {
    const struct sl_price_entry *e = sl_prices_lookup(at->wild_model);
    static const struct sl_price none;
    return e ? &e->price : &none;
  }
  return &w->prices[at->dep];
}

const char *sl_wild_cache_group(struct sl_request *rq) {
  /* the cache key hashes the group instead of the body's model: for a wildcard the group and
   * the name (two names a pattern serves are two models), as sl_wild_group wrote them */
  return rq->wild_model ? rq->wild_model : rq->group->name;
}
