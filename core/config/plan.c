/* Compiling a loaded config into the plan the workers run from; see plan.h. The one idea:
 * every name in the config (group, alias, fallback target, provider) is resolved here, once,
 * so that what the request path holds are pointers and precomputed strings. */
#include "core/config/plan.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config/config.h"
#include "policy/duration.h"
#include "policy/route_model.h"

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const struct sl_plan_name *)a)->name, ((const struct sl_plan_name *)b)->name);
}

const struct sl_group *sl_plan_group(const struct sl_plan *p, const char *name) {
  if (!p || !name) return NULL;
  struct sl_plan_name key = {name, NULL};
  const struct sl_plan_name *f = bsearch(&key, p->names, p->nnames, sizeof *p->names, cmp_name);
  return f ? f->group : NULL;
}

static bool pattern_matches(const struct sl_plan_pattern *pt, const char *name, size_t n) {
  return n >= pt->prefix + pt->suffix && strncmp(name, pt->pattern, pt->prefix) == 0 &&
         memcmp(name + n - pt->suffix, pt->pattern + pt->prefix + 1, pt->suffix) == 0;
}

const struct sl_provider *sl_plan_wild_infer(const char *name, size_t *strip) {
  *strip = 0;
  const char *slash = strchr(name, '/');
  if (slash && slash[1] && (size_t)(slash - name) < 64) {
    char pv[64];
    memcpy(pv, name, (size_t)(slash - name));
    pv[slash - name] = 0;
    const struct sl_provider *r = sl_provider_find(pv);
    if (r) {
      *strip = (size_t)(slash - name) + 1;
      return r;
    }
  }
  if (strncasecmp(name, "claude", 6) == 0) return sl_provider_find("anthropic");
  if (strncasecmp(name, "gemini", 6) == 0) return sl_provider_find("gemini");
  return sl_provider_find("openai");
}

/* A name a pattern may pass upstream: model names' characters only (it may end up in a
 * path, Azure's, or a header), no "..", at most 256 bytes. */
static bool wild_name_ok(const char *s, size_t n) {
  if (!n || n > 256 || strstr(s, "..")) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._:/@+", ch)))
      return false;
  }
  return true;
}

const struct sl_group *sl_plan_match(const struct sl_plan *p, const char *name) {
  if (!p || !name) return NULL;
  size_t n = strlen(name);
  if (!wild_name_ok(name, n)) return NULL;
  for (size_t i = 0; i < p->npatterns; i++) {
    const struct sl_plan_pattern *pt = &p->patterns[i];
    if (!pattern_matches(pt, name, n) || n == pt->prefix + pt->suffix) continue; /* '*' matches 1+ bytes */
    if (pt->infer) {
      char part[512];
      size_t k = n - pt->prefix - pt->suffix, strip;
      if (k >= sizeof part) continue;
      memcpy(part, name + pt->prefix, k);
      part[k] = 0;
      if (sl_plan_wild_infer(part, &strip) != pt->infer) continue;
    }
    return pt->group;
  }
  return NULL;
}

int sl_plan_wild_model(const struct sl_deployment *d, const char *name, char *out, size_t cap) {
  if (!d->wild || !d->wild_name || !name) return -1;
  const char *star = strchr(d->wild_name, '*');
  struct sl_plan_pattern pt = {d->wild_name, (size_t)(star - d->wild_name), strlen(star + 1), NULL, NULL};
  size_t n = strlen(name);
  const char *part = name;
  size_t k = n;
  if (pattern_matches(&pt, name, n)) {
    part = name + pt.prefix;
    k = n - pt.prefix - pt.suffix;
  }
  const char *slash = memchr(part, '/', k);
  if (slash && (size_t)(slash - part) + 1 < k && (size_t)(slash - part) < 64) { /* "<its own provider>/" is dropped */
    char pv[64];
    memcpy(pv, part, (size_t)(slash - part));
    pv[slash - part] = 0;
    if (d->ops && sl_provider_find(pv) == d->ops) {
      k -= (size_t)(slash - part) + 1;
      part = slash + 1;
    }
  }
  const char *t = d->upstream_model, *ts = strchr(t, '*');
  if (!ts) return snprintf(out, cap, "%s", t);
  return snprintf(out, cap, "%.*s%.*s%s", (int)(ts - t), t, (int)k, part, ts + 1);
}

static struct sl_group *group_by_name(struct sl_plan *p, const char *name) {
  for (size_t i = 0; i < p->ngroups; i++)
    if (strcmp(p->groups[i].name, name) == 0) return &p->groups[i];
  return NULL;
}

static int build_groups(struct sl_plan *p, const struct sl_config *c) {
  p->groups = calloc(c->ndeployments + c->nrouters + 1, sizeof *p->groups);
  if (!p->groups) return -ENOMEM;
  for (size_t i = 0; i < c->ndeployments; i++) {
    struct sl_group *g = group_by_name(p, c->deployments[i].model_name);
    if (!g) {
      g = &p->groups[p->ngroups];
      g->index = p->ngroups++;
      g->name = c->deployments[i].model_name;
      size_t n = 0;
      for (size_t j = i; j < c->ndeployments; j++) n += strcmp(c->deployments[j].model_name, g->name) == 0;
      if (!(g->deps = calloc(n, sizeof *g->deps))) return -ENOMEM;
    }
    g->deps[g->n++] = i;
  }
  for (size_t i = 0; i < c->nrouters; i++) { /* routers after the deployment groups */
    struct sl_group *g = &p->groups[p->ngroups];
    g->index = p->ngroups++;
    g->name = c->routers[i].name;
  }
  return 0;
}

/* Routers: names resolved to groups (validated at load: every one exists). */
static int build_routers(struct sl_plan *p, const struct sl_config *c) {
  if (!c->nrouters) return 0;
  if (!(p->routers = calloc(c->nrouters, sizeof *p->routers))) return -ENOMEM;
  for (size_t i = 0; i < c->nrouters; i++) {
    const struct sl_router_cfg *rc = &c->routers[i];
    struct sl_plan_router *r = &p->routers[p->nrouters++];
    r->cfg = rc;
    r->index = i;
    struct sl_group *g = group_by_name(p, rc->name);
    r->group = g;
    g->router = r;
    r->strong = rc->strong_model ? group_by_name(p, rc->strong_model) : NULL;
    r->weak = rc->weak_model ? group_by_name(p, rc->weak_model) : NULL;
    r->deflt = group_by_name(p, rc->default_model);
    if (!r->deflt) return -EINVAL;
    if (!(r->rule_targets = calloc(rc->nrules + 1, sizeof *r->rule_targets))) return -ENOMEM;
    for (size_t j = 0; j < rc->nrules; j++) r->rule_targets[j] = group_by_name(p, rc->rule_targets[j]);
    if (!(r->targets = calloc(rc->ntargets + 1, sizeof *r->targets))) return -ENOMEM;
    for (size_t j = 0; j < rc->ntargets; j++) r->targets[j] = group_by_name(p, rc->targets[j].group);
    r->judge = rc->judge_model ? group_by_name(p, rc->judge_model) : NULL;
    for (int j = 0; j < 4; j++) r->tiers[j] = rc->tiers[j] ? group_by_name(p, rc->tiers[j]) : NULL;
    if (!(r->sem_targets = calloc(rc->nsem_routes + 1, sizeof *r->sem_targets))) return -ENOMEM;
    for (size_t j = 0; j < rc->nsem_routes; j++) r->sem_targets[j] = group_by_name(p, rc->sem_routes[j].group);
    r->embed = rc->embedding_model ? group_by_name(p, rc->embedding_model) : NULL;
    r->threshold0 = !isnan(rc->threshold)                   ? rc->threshold
                    : rc->rmodel && rc->strong_fraction >= 0 ? sl_route_model_quantile(rc->rmodel, 1.0 - rc->strong_fraction)
                                                             : 0;
  }
  return 0;
}

/* Group names, then aliases (validation keeps an alias from shadowing a group). */
static int build_names(struct sl_plan *p, const struct sl_config *c) {
  p->names = calloc(p->ngroups + c->naliases + 1, sizeof *p->names);
  if (!p->names) return -ENOMEM;
  for (size_t i = 0; i < p->ngroups; i++)
    p->names[p->nnames++] = (struct sl_plan_name){p->groups[i].name, &p->groups[i]};
  for (size_t i = 0; i < c->naliases; i++) {
    const struct sl_group *g = group_by_name(p, c->aliases[i].group);
    if (!g) return -EINVAL; /* validation names the alias; a plan never holds a dangling one */
    p->names[p->nnames++] = (struct sl_plan_name){c->aliases[i].alias, g};
  }
  qsort(p->names, p->nnames, sizeof *p->names, cmp_name);
  return 0;
}

static int cmp_pattern(const void *a, const void *b) {
  const struct sl_plan_pattern *x = a, *y = b;
  if (x->prefix != y->prefix) return x->prefix > y->prefix ? -1 : 1;
  return x->group->index < y->group->index ? -1 : x->group->index > y->group->index;
}

/* The wildcard groups, longest literal prefix first, then config order. */
static int build_patterns(struct sl_plan *p, const struct sl_config *c) {
  if (!(p->patterns = calloc(p->ngroups + 1, sizeof *p->patterns))) return -ENOMEM;
  for (size_t i = 0; i < p->ngroups; i++) {
    const struct sl_group *g = &p->groups[i];
    if (!g->n || !(c->deployments[g->deps[0]].wild & SL_WILD_PATTERN)) continue;
    const struct sl_deployment *d = &c->deployments[g->deps[0]];
    const char *star = strchr(d->wild_name, '*');
    struct sl_plan_pattern *pt = &p->patterns[p->npatterns++];
    *pt = (struct sl_plan_pattern){d->wild_name, (size_t)(star - d->wild_name), strlen(star + 1), g, NULL};
    for (size_t j = 0; j < g->n && !pt->infer; j++)
      if (c->deployments[g->deps[j]].wild & SL_WILD_INFER) pt->infer = c->deployments[g->deps[j]].ops;
  }
  qsort(p->patterns, p->npatterns, sizeof *p->patterns, cmp_pattern);
  return 0;
}

/* The first entry for group (LiteLLM uses the first; validation warns about the rest). */
static const struct sl_fallback *find_entry(const struct sl_fallback *list, size_t n, const char *group) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i].group, group) == 0) return &list[i];
  return NULL;
}

/* LiteLLM's order: the kind's own entry for the group, else the general entry for the
 * group, else the general "*" entry, else default_fallbacks. Targets are groups or aliases;
 * the group itself is never its own fallback; at most max_fallbacks. */
static int build_fallbacks(struct sl_plan *p, const struct sl_config *c, struct sl_group *g) {
  for (int k = 0; k < SL_FB_KINDS; k++) {
    const struct sl_fallback *f = NULL;
    if (k == SL_FB_CONTEXT_WINDOW) f = find_entry(c->context_window_fallbacks, c->ncontext_window_fallbacks, g->name);
    if (k == SL_FB_CONTENT_POLICY) f = find_entry(c->content_policy_fallbacks, c->ncontent_policy_fallbacks, g->name);
    if (!f) f = find_entry(c->fallbacks, c->nfallbacks, g->name);
    if (!f) f = find_entry(c->fallbacks, c->nfallbacks, "*");
    const struct sl_name_list *names = f ? &f->to : &c->default_fallbacks;
    size_t cap = c->max_fallbacks > 0 ? (size_t)c->max_fallbacks : 0;
    if (names->n == 0 || cap == 0) continue;
    g->fallbacks[k] = calloc(names->n < cap ? names->n : cap, sizeof *g->fallbacks[k]);
    if (!g->fallbacks[k]) return -ENOMEM;
    for (size_t i = 0; i < names->n && g->nfallbacks[k] < cap; i++) {
      const struct sl_group *t = sl_plan_group(p, names->names[i]);
      if (!t) return -EINVAL; /* validation refuses unknown targets */
      if (t != g) g->fallbacks[k][g->nfallbacks[k]++] = t;
    }
  }
  return 0;
}

/* Seconds to whole ms; a positive timeout never becomes 0 ("none"). */
static uint64_t secs_to_ms(double s) {
  if (!(s > 0)) return 0;
  uint64_t ms = (uint64_t)(s * 1000.0);
  return ms ? ms : 1;
}

static char *path_for(const struct sl_deployment *d, enum sl_prov_route r) {
  int n = sl_provider_path(d->ops, r, NULL, d->base_path, d->upstream_model, d->api_version, NULL, 0);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (s) sl_provider_path(d->ops, r, NULL, d->base_path, d->upstream_model, d->api_version, s, (size_t)n + 1);
  return s;
}

static int build_dep(struct sl_plan_dep *pd, const struct sl_deployment *d) {
  if (!d->ops) return -EINVAL;
  pd->ops = d->ops;
  pd->wire = d->ops->wire;
  pd->dialect = d->dialect; /* Converse, Claude through Bedrock's invoke or Vertex: Anthropic's body */
  if (d->dialect == SL_DIALECT_BEDROCK_CONVERSE || d->dialect == SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC ||
      d->dialect == SL_DIALECT_VERTEX_ANTHROPIC)
    pd->wire = SL_WIRE_ANTHROPIC;
  pd->responses = d->dialect ? false
                : d->responses_api ? strcmp(d->responses_api, "native") == 0 && d->ops->wire == SL_WIRE_OPENAI
                                   : d->ops->responses;
  for (int r = 0; r < SL_PROV_ROUTES; r++) {
    int n =
        sl_provider_path(d->ops, (enum sl_prov_route)r, NULL, d->base_path, d->upstream_model, d->api_version, NULL, 0);
    if (n >= 0 && !(pd->path[r] = path_for(d, (enum sl_prov_route)r))) return -ENOMEM;
  }
  pd->auth_name = sl_provider_auth_name(d->ops);
  if (d->api_key && d->api_key[0]) {
    int n = sl_provider_auth_value(d->ops, d->api_key, NULL, 0);
    if (n < 0 || !(pd->auth_value = malloc((size_t)n + 1))) return -ENOMEM;
    sl_provider_auth_value(d->ops, d->api_key, pd->auth_value, (size_t)n + 1);
    pd->auth_value_len = (size_t)n;
  }
  pd->timeout_ms = secs_to_ms(d->timeout_s);
  pd->stream_timeout_ms = secs_to_ms(d->stream_timeout_s);
  pd->region = d->region;
  /* configured prices (litellm_params or model_info) win over the built-in table */
  if (d->input_cost_per_token > 0 || d->output_cost_per_token > 0) {
    pd->price = (struct sl_price){.input = d->input_cost_per_token, .output = d->output_cost_per_token};
    pd->priced = true;
  } else {
    const char *pm = d->upstream_model; /* Vertex's OpenAI endpoint names models google/<model> */
    if (d->dialect == SL_DIALECT_VERTEX_OPENAI && strchr(pm, '/')) pm = strchr(pm, '/') + 1;
    const struct sl_price_entry *e = sl_prices_lookup(pm);
    if (e) pd->price = e->price;
    pd->priced = e != NULL;
  }
  return 0;
}

/* GET /v1/models: groups in config order, then the aliases that are not hidden, then the
 * wildcard patterns. */
static int build_models_json(struct sl_plan *p, const struct sl_config *c) {
  cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray();
  if (!root || !data) {
    cJSON_Delete(root);
    cJSON_Delete(data);
    return -ENOMEM;
  }
  cJSON_AddStringToObject(root, "object", "list");
  cJSON_AddItemToObject(root, "data", data);
  /* then each wildcard pattern once (a bare "*"'s per-provider copies share theirs) */
  for (size_t i = 0; i < p->ngroups + c->naliases + p->ngroups; i++) {
    if (i >= p->ngroups && i < p->ngroups + c->naliases && c->aliases[i - p->ngroups].hidden) continue;
    const char *id = i < p->ngroups ? p->groups[i].name : i < p->ngroups + c->naliases ? c->aliases[i - p->ngroups].alias : NULL;
    if (i < p->ngroups && p->groups[i].n && (c->deployments[p->groups[i].deps[0]].wild & SL_WILD_PATTERN)) continue;
    if (!id) {
      const struct sl_group *g = &p->groups[i - p->ngroups - c->naliases];
      if (!g->n || !(c->deployments[g->deps[0]].wild & SL_WILD_PATTERN)) continue;
      id = c->deployments[g->deps[0]].wild_name;
      bool seen = false;
      for (const struct sl_group *h = p->groups; h < g && !seen; h++)
        seen = h->n && (c->deployments[h->deps[0]].wild & SL_WILD_PATTERN) &&
               strcmp(c->deployments[h->deps[0]].wild_name, id) == 0;
      if (seen) continue;
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 1677610602);
    cJSON_AddStringToObject(m, "owned_by", "sluice");
    cJSON_AddItemToArray(data, m);
  }
  p->models_json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!p->models_json) return -ENOMEM;
  p->models_json_len = strlen(p->models_json);
  return 0;
}

int sl_plan_compile(const struct sl_config *c, struct sl_plan **out) {
  *out = NULL;
  struct sl_plan *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  p->strategy = c->routing_strategy;
  int rc = 0;
  if (c->budget_duration && sl_policy_duration_parse_s(c->budget_duration, &p->budget_period_s))
    rc = -EINVAL; /* validated at load with the file and line; never "never resets" here */
  if (rc == 0) rc = build_groups(p, c);
  if (rc == 0) rc = build_routers(p, c);
  if (rc == 0) rc = build_names(p, c);
  if (rc == 0) rc = build_patterns(p, c);
  for (size_t i = 0; rc == 0 && i < p->ngroups; i++) rc = build_fallbacks(p, c, &p->groups[i]);
  if (rc == 0 && !(p->deps = calloc(c->ndeployments ? c->ndeployments : 1, sizeof *p->deps))) rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < c->ndeployments; i++) {
    p->ndeps = i + 1;
    rc = build_dep(&p->deps[i], &c->deployments[i]);
  }
  if (rc == 0) rc = build_models_json(p, c);
  if (rc) {
    sl_plan_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void sl_plan_free(struct sl_plan *p) {
  if (!p) return;
  for (size_t i = 0; i < p->ngroups; i++) {
    free(p->groups[i].deps);
    for (int k = 0; k < SL_FB_KINDS; k++) free(p->groups[i].fallbacks[k]);
  }
  free(p->groups);
  for (size_t i = 0; i < p->nrouters; i++) {
    free(p->routers[i].rule_targets);
    free(p->routers[i].targets);
    free(p->routers[i].sem_targets);
  }
  free(p->routers);
  for (size_t i = 0; i < p->ndeps; i++) {
    for (int r = 0; r < SL_PROV_ROUTES; r++) free(p->deps[i].path[r]);
    free(p->deps[i].auth_value);
  }
  free(p->deps);
  free(p->names);
  free(p->patterns);
  cJSON_free(p->models_json);
  free(p);
}
