/* The route stage (router.h): a router group picks the target group of one request.
 * Reads: the prompt (the last user turn, capped at max_routed_bytes, into a per-worker
 * buffer: no allocation for a learned decision), tools and turns, the request's metadata and
 * the key's labels (for rules, through a lookup that parses the key's JSON labels only when a
 * rule asks), and the per-request overrides (header x-sluice-router-threshold, body
 * sluice.router, RouteLLM's router-<name>-<threshold> model names). Writes: rq->group (the
 * target) and the decision (router, score, reason) that respond.c puts in x-sluice-router-*
 * headers and the summary puts in the access log; the per-router counters in shared memory.
 * To add a router kind: its case in decide(). */
#include "core/router.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cascade.h"
#include "core/region.h"
#include "core/request_internal.h"
#include "core/router_semantic.h"
#include "core/router_online.h"
#include "net/http_parse.h"
#include "policy/route_calib.h"
#include "policy/route_cost.h"
#include "policy/route_model.h"
#include "policy/route_name.h"
#include "policy/route_rules.h"
#include "store/keys.h"
#include "store/shm.h"

struct sl_router_state {
  struct sl_route_ring ring;
  struct sl_sem_state *sem; /* semantic routers (core/router_semantic.c) */
};

int sl_router_worker_init(struct sl_worker *w) {
  const struct sl_plan *p = w->cfg->plan;
  size_t cap = 0;
  for (size_t i = 0; i < p->nrouters; i++)
    if (p->routers[i].cfg->max_routed_bytes > cap) cap = p->routers[i].cfg->max_routed_bytes;
  if (!p->nrouters) return 0;
  w->router_state = calloc(p->nrouters, sizeof *w->router_state);
  w->route_scratch = calloc(1, sizeof *w->route_scratch);
  w->route_text = malloc(cap + 1);
  if (!w->router_state || !w->route_scratch || !w->route_text) return -1;
  for (size_t i = 0; i < p->nrouters; i++) sl_route_ring_init(&w->router_state[i].ring, p->routers[i].threshold0);
  return 0;
}

void sl_router_warm(struct sl_worker *w) {
  const struct sl_plan *p = w->cfg->plan;
  for (size_t i = 0; w->router_state && i < p->nrouters; i++)
    if (p->routers[i].cfg->kind == SL_ROUTER_SEMANTIC) sl__sem_warm(w, &p->routers[i], &w->router_state[i].sem);
}

void sl_router_worker_free(struct sl_worker *w) {
  for (size_t i = 0; w->router_state && i < w->cfg->plan->nrouters; i++) sl__sem_state_free(w->router_state[i].sem);
  free(w->router_state);
  free(w->route_scratch);
  free(w->route_text);
  w->router_state = NULL;
  w->route_scratch = NULL;
  w->route_text = NULL;
}

/* ---- RouteLLM's names ---- */

static const struct sl_plan_router *router_named(const struct sl_plan *p, const char *name, size_t n) {
  for (size_t i = 0; i < p->nrouters; i++)
    if (strlen(p->routers[i].cfg->name) == n && memcmp(p->routers[i].cfg->name, name, n) == 0) return &p->routers[i];
  static const char *const routellm[] = {"mf", "bert", "causal_llm", "sw_ranking", "random"};
  for (size_t k = 0; k < sizeof routellm / sizeof *routellm; k++)
    if (strlen(routellm[k]) == n && memcmp(routellm[k], name, n) == 0)
      for (size_t i = 0; i < p->nrouters; i++)
        if (p->routers[i].cfg->kind == SL_ROUTER_LEARNED) return &p->routers[i];
  return NULL;
}

bool sl_router_parse_routellm(const struct sl_worker *w, const char *name, const struct sl_group **g,
                              double *threshold) {
  size_t at, len;
  double t;
  if (!sl_route_name_routellm(name, strlen(name), &at, &len, &t)) return false;
  const struct sl_plan_router *r = router_named(w->cfg->plan, name + at, len);
  if (!r) return false;
  *g = r->group;
  *threshold = t;
  return true;
}

/* ---- the prompt ---- */

struct text {
  char *p;
  size_t n, cap;
};

static void put(struct text *t, const char *s, size_t n) {
  if (t->n && t->n < t->cap) t->p[t->n++] = '\n';
  size_t room = t->cap - t->n;
  if (n > room) n = room;
  memcpy(t->p + t->n, s, n);
  t->n += n;
}

/* A message's content: a string, or parts with text (OpenAI and Anthropic shapes). */
static void put_content(struct text *t, const cJSON *c) {
  if (cJSON_IsString(c)) {
    put(t, c->valuestring, strlen(c->valuestring));
    return;
  }
  if (!cJSON_IsArray(c)) return;
  for (const cJSON *part = c->child; part && t->n < t->cap; part = part->next) {
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (cJSON_IsString(tx)) put(t, tx->valuestring, strlen(tx->valuestring));
    else if (cJSON_IsString(part)) put(t, part->valuestring, strlen(part->valuestring));
  }
}

/* The text the router reads: the last user turn (chat, messages, responses input), or the
 * prompt (completions); turns counts the user turns. */
static void prompt_text(const cJSON *body, struct text *t, unsigned *turns) {
  *turns = 0;
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
  if (!cJSON_IsArray(msgs)) msgs = cJSON_GetObjectItemCaseSensitive(body, "input");
  if (cJSON_IsString(msgs)) { /* Responses API: input as a string */
    *turns = 1;
    put_content(t, msgs);
    return;
  }
  const cJSON *last = NULL;
  for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m; m = m->next) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0) {
      last = m;
      (*turns)++;
    }
  }
  if (last) {
    put_content(t, cJSON_GetObjectItemCaseSensitive(last, "content"));
    return;
  }
  const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
  if (cJSON_IsArray(prompt)) prompt = prompt->child;
  if (cJSON_IsString(prompt)) {
    *turns = 1;
    put_content(t, prompt);
  }
}

static bool has_tools(const cJSON *body) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
  if (cJSON_IsArray(tools) && tools->child) return true;
  const cJSON *fns = cJSON_GetObjectItemCaseSensitive(body, "functions");
  return cJSON_IsArray(fns) && fns->child;
}

/* ---- facts for rules ---- */

struct facts_ctx {
  const struct sl_request *rq;
  cJSON *key_meta, *key_tags; /* parsed on first use */
  bool meta_done, tags_done;
  char num[8][32];            /* numbers and booleans written as text, for one lookup (the
                                 matcher compares before it asks for the next field) */
  size_t nnum;
};

static size_t push(struct sl_rule_str *out, size_t max, size_t n, const char *p, size_t len) {
  if (n < max) out[n] = (struct sl_rule_str){p, len};
  return n + 1;
}

/* A JSON value as text for matching: strings as they are, numbers and booleans written. */
static size_t push_json(struct facts_ctx *f, struct sl_rule_str *out, size_t max, size_t n, const cJSON *v) {
  if (cJSON_IsString(v)) return push(out, max, n, v->valuestring, strlen(v->valuestring));
  if (f->nnum >= 8) return n;
  char *b = f->num[f->nnum];
  if (cJSON_IsBool(v)) snprintf(b, 32, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else if (cJSON_IsNumber(v)) snprintf(b, 32, "%.17g", v->valuedouble);
  else return n;
  f->nnum++;
  return push(out, max, n, b, strlen(b));
}

static size_t push_array(struct facts_ctx *f, struct sl_rule_str *out, size_t max, size_t n, const cJSON *a) {
  if (cJSON_IsString(a)) return push_json(f, out, max, n, a);
  for (const cJSON *v = cJSON_IsArray(a) ? a->child : NULL; v; v = v->next) n = push_json(f, out, max, n, v);
  return n;
}

static const cJSON *key_meta(struct facts_ctx *f) {
  if (!f->meta_done && f->rq->key && f->rq->key->metadata[0]) f->key_meta = cJSON_Parse(f->rq->key->metadata);
  f->meta_done = true;
  return f->key_meta;
}

static size_t lookup(void *ud, enum sl_rule_field field, const char *name, struct sl_rule_str *out, size_t max) {
  struct facts_ctx *f = ud;
  const struct sl_request *rq = f->rq;
  const struct sl_key_record *k = rq->key;
  const cJSON *body = rq->json, *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
  size_t n = 0;
  f->nnum = 0; /* the previous lookup's values are compared: reuse their room */
  switch (field) {
  case SL_RF_HEADER:
    for (size_t i = 0; i < rq->hr->nheaders; i++) {
      const struct sl_header *h = &rq->hr->headers[i];
      if (h->name.n == strlen(name) && strncasecmp(h->name.p, name, h->name.n) == 0)
        n = push(out, max, n, h->value.p, h->value.n);
    }
    return n;
  case SL_RF_METADATA: return push_json(f, out, max, n, cJSON_GetObjectItemCaseSensitive(meta, name));
  case SL_RF_TAGS:
    n = push_array(f, out, max, n, cJSON_GetObjectItemCaseSensitive(body, "tags"));
    return push_array(f, out, max, n, cJSON_GetObjectItemCaseSensitive(meta, "tags"));
  case SL_RF_KEY_ALIAS: return k && k->key_alias[0] ? push(out, max, n, k->key_alias, strlen(k->key_alias)) : 0;
  case SL_RF_KEY_TAGS:
    if (!f->tags_done && k && k->tags[0]) f->key_tags = cJSON_Parse(k->tags);
    f->tags_done = true;
    n = push_array(f, out, max, n, f->key_tags);
    return push_array(f, out, max, n, cJSON_GetObjectItemCaseSensitive(key_meta(f), "tags"));
  case SL_RF_TEAM: return k && k->team_id[0] ? push(out, max, n, k->team_id, strlen(k->team_id)) : 0;
  case SL_RF_TIER: return push_json(f, out, max, n, cJSON_GetObjectItemCaseSensitive(key_meta(f), "tier"));
  case SL_RF_USER: {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "user");
    if (cJSON_IsString(u)) return push_json(f, out, max, n, u);
    return k && k->user_id[0] ? push(out, max, n, k->user_id, strlen(k->user_id)) : 0;
  }
  case SL_RF_MODEL: {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");
    return push_json(f, out, max, n, m);
  }
  case SL_RF_REGION: /* the preferred regions in force (key, general_settings, request: core/region.c) */
    for (size_t i = 0; rq->region && i < rq->region->rule.preferred.n; i++)
      n = push(out, max, n, rq->region->rule.preferred.name[i], strlen(rq->region->rule.preferred.name[i]));
    return n;
  default: return 0;
  }
}

/* ---- overrides ---- */

struct overrides {
  double threshold;       /* NAN: none */
  double strong_fraction; /* -1: none */
  double max_cost_usd;    /* -1: none */
  bool any;
};

/* The key's router settings in its metadata: sluice_router (pinned router) and
 * sluice_router_override (false: no per-request overrides). */
static bool key_forbids_override(struct facts_ctx *f) {
  if (!f->rq->key || !strstr(f->rq->key->metadata, "sluice_router_override")) return false;
  return cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(key_meta(f), "sluice_router_override"));
}

static bool read_overrides(struct sl_request *rq, struct overrides *o, double routellm_t, struct sl_refusal *r) {
  o->threshold = routellm_t;
  o->strong_fraction = o->max_cost_usd = -1;
  double t;
  int hn = sl_http_header_number(rq->hr->headers, rq->hr->nheaders, "x-sluice-router-threshold", &t);
  if (hn) {
    if (hn < 0 || !(t >= -1 && t <= 1))
      return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
                       "x-sluice-router-threshold must be a number from -1 to 1 (the router's score scale)");
    o->threshold = t;
  }
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(rq->json, "sluice");
  const cJSON *ro = cJSON_GetObjectItemCaseSensitive(s, "router");
  if (ro && !cJSON_IsObject(ro))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'sluice.router' must be an object");
  for (const cJSON *it = ro ? ro->child : NULL; it; it = it->next) {
    bool ok = cJSON_IsNumber(it);
    double v = ok ? it->valuedouble : 0;
    if (strcmp(it->string, "threshold") == 0 && ok && v >= -1 && v <= 1) o->threshold = v;
    else if (strcmp(it->string, "strong_fraction") == 0 && ok && v >= 0 && v <= 1) o->strong_fraction = v;
    else if (strcmp(it->string, "max_cost_usd") == 0 && ok && v > 0 && isfinite(v)) o->max_cost_usd = v;
    else
      return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
                       "'sluice.router.%.60s' is not a router override (threshold: -1..1, strong_fraction: 0..1, "
                       "max_cost_usd: > 0)", it->string);
  }
  o->any = !isnan(o->threshold) || o->strong_fraction >= 0 || o->max_cost_usd > 0;
  return true;
}

/* ---- the decision ---- */

struct decision {
  const struct sl_group *target;
  double score;
  bool scored;
  const char *reason; /* "learned", "cost", "fallback", or NULL with rule set */
  const char *rule;
  char buf[80];       /* a reason written per decision ("semantic:<group>") */
};

static double dep_price_usd(const struct sl_worker *w, const struct sl_group *g, int64_t in, int64_t out) {
  if (!g || !g->n) return 0;
  const struct sl_price *p = &w->cfg->plan->deps[g->deps[0]].price;
  return p->input * (double)in + p->output * (double)out;
}

/* The output tokens a cost estimate assumes: what the body asks for at most, else 256. */
static int64_t est_out_tokens(const cJSON *body) { return sl_tenancy_max_output(body, 256, 1000000000); }

static double learned_score(struct sl_request *rq, const struct sl_plan_router *r, struct decision *d) {
  struct sl_worker *w = rq->w;
  struct text t = {w->route_text, 0, r->cfg->max_routed_bytes};
  unsigned turns;
  prompt_text(rq->json, &t, &turns);
  if (!t.n) return NAN; /* nothing to read: cannot decide */
  struct sl_route_input in = {.text = t.p, .len = t.n, .turns = turns, .tools = has_tools(rq->json)};
  double s = sl_route_model_score(r->cfg->rmodel, &in, w->route_scratch);
  if (isfinite(s)) {
    d->score = s;
    d->scored = true;
  }
  return s;
}

/* strong vs weak on the learned score: the threshold from the override, the strong
 * fraction (the worker's ring of recent scores; a per-request fraction reads the model's
 * training quantiles), or the configured threshold. */
static const struct sl_group *strong_or_weak(struct sl_request *rq, const struct sl_plan_router *r, double s,
                                             const struct overrides *o, double *thr_out) {
  const struct sl_router_cfg *c = r->cfg;
  struct sl_route_ring *ring = &rq->w->router_state[r->index].ring;
  double thr, f = o->strong_fraction >= 0 ? o->strong_fraction : c->strong_fraction;
  *thr_out = NAN;
  if (isnan(o->threshold) && f >= 0 && (f <= 0 || f >= 1)) /* none / all: no quantile can say it exactly */
    return f >= 1 ? r->strong : r->weak;
  if (!isnan(o->threshold)) thr = o->threshold;
  else if (o->strong_fraction >= 0) thr = sl_route_model_quantile(c->rmodel, 1.0 - o->strong_fraction);
  else if (c->strong_fraction >= 0) thr = sl_route_ring_observe(ring, s, c->strong_fraction);
  else thr = r->threshold0;
  *thr_out = thr;
  return s >= thr ? r->strong : r->weak;
}

static const struct sl_group *by_cost(struct sl_request *rq, const struct sl_plan_router *r, double bar,
                                      const struct overrides *o) {
  const struct sl_router_cfg *c = r->cfg;
  struct sl_cost_target t[SL_ROUTER_MAX_TARGETS];
  size_t n = c->ntargets < SL_ROUTER_MAX_TARGETS ? c->ntargets : SL_ROUTER_MAX_TARGETS;
  int64_t out = est_out_tokens(rq->json);
  for (size_t i = 0; i < n; i++)
    t[i] = (struct sl_cost_target){c->targets[i].quality, dep_price_usd(rq->w, r->targets[i], rq->est_tokens, out)};
  enum sl_cost_why why;
  double cap = o->max_cost_usd > 0 ? o->max_cost_usd : c->max_cost_usd;
  return r->targets[sl_route_cost_pick(t, n, bar, cap, &why)];
}

/* A cascade with learning: online skips its cheap steps for a prompt once the learned
 * evidence that they fail it reaches this (in the learned score's units). */
#define CASCADE_SKIP_MARGIN 0.05

static void decide(struct sl_request *rq, const struct sl_plan_router *r, const struct overrides *o,
                   struct facts_ctx *fc, struct decision *d) {
  const struct sl_router_cfg *c = r->cfg;
  d->target = r->deflt;
  d->reason = "fallback";
  if (c->nrules) {
    struct sl_rule_facts f = {.prompt_tokens = rq->est_tokens,
                              .tools = has_tools(rq->json),
                              .stream = rq->stream,
                              .lookup = lookup,
                              .ud = fc};
    long i = sl_rules_match(c->rules, c->nrules, &f);
    if (i >= 0) {
      d->target = r->rule_targets[c->rules[i].target];
      d->rule = c->rules[i].name;
      d->reason = NULL;
      return;
    }
    if (c->kind == SL_ROUTER_RULES) return; /* default_model, "fallback" */
  }
  if (c->kind == SL_ROUTER_SEMANTIC) { /* the prompt's embedding against the routes' utterances */
    struct text t = {rq->w->route_text, 0, c->max_routed_bytes};
    unsigned turns;
    prompt_text(rq->json, &t, &turns);
    double s;
    sl__sem_decide(rq, r, &rq->w->router_state[r->index].sem, t.p, t.n, &d->target, &s, d->buf, sizeof d->buf);
    d->reason = d->buf; /* a decision still to come (route_pending) is made in router_semantic.c */
    d->scored = isfinite(s);
    d->score = d->scored ? s : 0;
    return;
  }
  double s = NAN, thr = NAN;
  if (c->rmodel) s = learned_score(rq, r, d);
  if (c->learn_online && isfinite(s)) s = sl_online_score(rq, r, s); /* core/router_online.c */
  switch (c->kind) {
  case SL_ROUTER_SEMANTIC:
  case SL_ROUTER_RULES: return;
  case SL_ROUTER_LEARNED:
    if (!isfinite(s)) return;
    d->target = strong_or_weak(rq, r, s, o, &thr);
    d->reason = "learned";
    if (c->learn_online) sl_online_explore(rq, r, thr, &d->target, &d->reason);
    break;
  case SL_ROUTER_TIERS: {
    if (!isfinite(s)) return;
    double q = sl_route_model_cdf(c->rmodel, s);
    int tier = 0;
    while (tier < 3 && q >= c->tier_bounds[tier]) tier++;
    d->target = r->tiers[tier];
    d->reason = "learned";
    break;
  }
  case SL_ROUTER_CASCADE: /* the cheapest first; the attempts escalate on a failed check */
    d->target = r->targets[0];
    d->reason = "cascade";
    rq->cascade = r;
    rq->cascade_step = 0;
    /* learning: online: prompts like those whose cheap answers kept failing their checks
     * skip straight to the last target (the outcomes come from the checks themselves) */
    if (c->learn_online && rq->learn.online && rq->learn.adjust >= CASCADE_SKIP_MARGIN) {
      rq->cascade_step = (int)c->ntargets - 1;
      d->target = r->targets[rq->cascade_step];
      d->reason = "cascade_skip";
    }
    break;
  case SL_ROUTER_COST:
  case SL_ROUTER_CHAIN: {
    if (c->ntargets) {
      double bar = c->min_quality >= 0 ? c->min_quality : isfinite(s) ? sl_route_model_cdf(c->rmodel, s) : 1.0;
      d->target = by_cost(rq, r, bar, o);
      d->reason = "cost";
      break;
    }
    if (!isfinite(s)) return;
    d->target = strong_or_weak(rq, r, s, o, &thr);
    d->reason = "learned";
    if (c->learn_online) sl_online_explore(rq, r, thr, &d->target, &d->reason);
    double cap = o->max_cost_usd > 0 ? o->max_cost_usd : c->max_cost_usd;
    int64_t out = est_out_tokens(rq->json);
    if (cap > 0 && d->target == r->strong && dep_price_usd(rq->w, r->strong, rq->est_tokens, out) > cap) {
      d->target = r->weak;
      d->reason = "cost";
    }
    break;
  }
  }
}

/* ---- the stage ---- */

static const struct sl_plan_router *pinned(struct facts_ctx *fc) {
  const struct sl_key_record *k = fc->rq->key;
  if (!k || !strstr(k->metadata, "sluice_router")) return NULL;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(key_meta(fc), "sluice_router");
  if (!cJSON_IsString(p)) return NULL;
  return router_named(fc->rq->w->cfg->plan, p->valuestring, strlen(p->valuestring));
}

static void count(struct sl_request *rq);

bool sl_router_route(struct sl_request *rq, struct sl_refusal *r) {
  struct facts_ctx fc = {.rq = rq};
  const struct sl_plan_router *pr = pinned(&fc);
  if (!pr) pr = rq->group->router;
  bool ok = true;
  if (pr) {
    struct overrides o = {.threshold = NAN};
    ok = read_overrides(rq, &o, rq->routellm_threshold, r);
    if (ok && o.any && (!pr->cfg->allow_override || key_forbids_override(&fc)))
      ok = sl_refuse(r, 403, SL_ERR_ROUTER_OVERRIDE_FORBIDDEN, NULL,
                     "Router '%.100s' does not allow per-request overrides %s (threshold, strong_fraction, "
                     "max_cost_usd)", pr->cfg->name,
                     pr->cfg->allow_override ? "for this key (metadata.sluice_router_override: false)"
                                             : "(allow_override: false)");
    if (ok) {
      struct decision d = {0};
      decide(rq, pr, &o, &fc, &d);
      rq->router = pr;
      rq->router_scored = d.scored;
      rq->router_score = d.score;
      /* "override" only when an override fed the decision taken: a threshold or strong
       * fraction a learned choice, a cost cap a cost choice */
      bool learned_ov = !isnan(o.threshold) || o.strong_fraction >= 0;
      bool used = d.reason && ((!strcmp(d.reason, "learned") && learned_ov) || (!strcmp(d.reason, "cost") && o.max_cost_usd > 0));
      if (d.rule) snprintf(rq->router_reason, sizeof rq->router_reason, "rule:%s", d.rule);
      else snprintf(rq->router_reason, sizeof rq->router_reason, "%s", used ? "override" : d.reason);
      if (pr->cfg->shadow) {
        rq->router_would = d.target;
        rq->cascade = NULL; /* shadow: the default answers, unchecked */
        d.target = pr->deflt;
        snprintf(rq->router_reason, sizeof rq->router_reason, "shadow");
      }
      rq->group = d.target;
      if (!rq->route_pending) count(rq); /* else counted when the decision is made */
    }
  }
  cJSON_Delete(fc.key_meta);
  cJSON_Delete(fc.key_tags);
  return ok;
}

/* ---- counters (shared memory, every worker adds) ---- */

static struct sl_shm_router_target *slot(const struct sl_request *rq, const struct sl_group *target) {
  struct sl_shm *s = rq->w->shm;
  if (!s || !rq->router || rq->router->index >= SL_SHM_MAX_ROUTERS || !target ||
      target->index >= SL_SHM_ROUTER_TARGETS)
    return NULL;
  return &s->routers[rq->router->index].t[target->index];
}

void sl__router_count(struct sl_request *rq) { count(rq); }

static void count(struct sl_request *rq) {
  struct sl_shm_router_target *t = slot(rq, rq->group);
  if (!t) return;
  atomic_fetch_add(&t->requests, 1);
  if (rq->router_would) {
    struct sl_shm_router_target *wt = slot(rq, rq->router_would);
    if (wt) atomic_fetch_add(&wt->shadow_would, 1);
  }
}

/* The strongest target: strong_model, else the highest-quality cost target, else the
 * REASONING tier, else the priciest of the rules' targets and the default. */
static const struct sl_group *strongest(const struct sl_worker *w, const struct sl_plan_router *r) {
  if (r->strong) return r->strong;
  const struct sl_router_cfg *c = r->cfg;
  long best = -1;
  for (size_t i = 0; i < c->ntargets; i++)
    if (best < 0 || c->targets[i].quality > c->targets[best].quality) best = (long)i;
  if (best >= 0) return r->targets[best];
  if (r->tiers[3]) return r->tiers[3];
  const struct sl_group *g = r->deflt;
  for (size_t i = 0; i < c->nrules; i++)
    if (dep_price_usd(w, r->rule_targets[i], 1000, 1000) > dep_price_usd(w, g, 1000, 1000)) g = r->rule_targets[i];
  return g;
}

void sl_router_account(struct sl_request *rq) {
  if (!rq->router || rq->router_accounted) return;
  rq->router_accounted = true;
  sl_learn_record(rq); /* the decision, for outcomes (core/router_online.c) */
  struct sl_shm_router_target *t = slot(rq, rq->group);
  if (!t) return;
  if (rq->cost_micro > 0) atomic_fetch_add(&t->cost_micro, (uint64_t)rq->cost_micro);
  double strong = dep_price_usd(rq->w, strongest(rq->w, rq->router), rq->tokens_in, rq->tokens_out);
  if (strong > 0) atomic_fetch_add(&t->strong_cost_micro, (uint64_t)llround(strong * 1e6));
}

void sl_router_metrics(const struct sl_worker *w, struct sl_buf *b) {
  const struct sl_plan *p = w->cfg->plan;
  if (!p || !p->nrouters || !w->shm) return; /* no plan: a worker built by hand (unit tests) */
  sl_buf_puts(b, "# HELP sluice_router_requests_total Requests a router sent to each target group.\n"
                 "# TYPE sluice_router_requests_total counter\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++)
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      uint64_t n = atomic_load(&w->shm->routers[i].t[g].requests);
      if (n) sl_buf_printf(b, "sluice_router_requests_total{router=\"%s\",target=\"%s\"} %llu\n", p->routers[i].cfg->name,
                           w->groups[g].name, (unsigned long long)n);
    }
  sl_buf_puts(b, "# HELP sluice_router_shadow_would_total Requests a shadow router would have sent to each target.\n"
                 "# TYPE sluice_router_shadow_would_total counter\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++)
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      uint64_t n = atomic_load(&w->shm->routers[i].t[g].shadow_would);
      if (n) sl_buf_printf(b, "sluice_router_shadow_would_total{router=\"%s\",target=\"%s\"} %llu\n",
                           p->routers[i].cfg->name, w->groups[g].name, (unsigned long long)n);
    }
  sl_buf_puts(b, "# HELP sluice_router_cost_usd_total What routed requests cost, per router and target.\n"
                 "# TYPE sluice_router_cost_usd_total counter\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++)
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      const struct sl_shm_router_target *t = &w->shm->routers[i].t[g];
      if (atomic_load(&t->requests))
        sl_buf_printf(b, "sluice_router_cost_usd_total{router=\"%s\",target=\"%s\"} %.6f\n", p->routers[i].cfg->name,
                      w->groups[g].name, (double)atomic_load(&t->cost_micro) / 1e6);
    }
  sl_buf_puts(b, "# HELP sluice_router_always_strong_cost_usd_total What the same requests would have cost on the "
                 "router's strongest target (same tokens, its price).\n"
                 "# TYPE sluice_router_always_strong_cost_usd_total counter\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++)
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      const struct sl_shm_router_target *t = &w->shm->routers[i].t[g];
      if (atomic_load(&t->requests))
        sl_buf_printf(b, "sluice_router_always_strong_cost_usd_total{router=\"%s\",target=\"%s\"} %.6f\n",
                      p->routers[i].cfg->name, w->groups[g].name, (double)atomic_load(&t->strong_cost_micro) / 1e6);
    }
  sl_buf_puts(b, "# HELP sluice_router_cascade_checks_failed_total Answers of a cascade's steps that failed a check "
                 "(each sent the request on to the next target), by check.\n"
                 "# TYPE sluice_router_cascade_checks_failed_total counter\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++) {
    if (p->routers[i].cfg->kind != SL_ROUTER_CASCADE) continue;
    for (size_t k = 0; k < SL_SHM_CASCADE_CHECKS && sl_cascade_counter_label(k); k++) {
      const char *label = sl_cascade_counter_label(k);
      if (label[0])
        sl_buf_printf(b, "sluice_router_cascade_checks_failed_total{router=\"%s\",check=\"%s\"} %llu\n",
                      p->routers[i].cfg->name, label,
                      (unsigned long long)atomic_load(&w->shm->routers[i].cascade_failed[k]));
    }
  }
  sl_buf_puts(b, "# HELP sluice_router_savings_usd Estimated savings of a router against always-strong "
                 "(always_strong_cost - cost over every target).\n"
                 "# TYPE sluice_router_savings_usd gauge\n");
  for (size_t i = 0; i < p->nrouters && i < SL_SHM_MAX_ROUTERS; i++) {
    double saved = 0;
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      const struct sl_shm_router_target *t = &w->shm->routers[i].t[g];
      saved += ((double)atomic_load(&t->strong_cost_micro) - (double)atomic_load(&t->cost_micro)) / 1e6;
    }
    sl_buf_printf(b, "sluice_router_savings_usd{router=\"%s\"} %.6f\n", p->routers[i].cfg->name, saved);
  }
}
