/* Routers in model_list: entries whose litellm_params.model is `sluice_router/<kind>`
 * (learned | rules | cost | chain) or LiteLLM's `auto_router/complexity_router`. A router is a
 * model group clients ask for; its targets are other groups.
 * The one idea: a router entry is read with the same key-table engine as a deployment, its
 * group names are checked once model_list is known (every target must be a deployment group,
 * never another router), and its learned model file is read and validated here, at load, so a
 * corrupt file fails `sluice check` and a reload (the serving generation keeps its own).
 * To add a router parameter: a field in struct sl_router_cfg (config.h), a row in
 * router_params_keys, and its line in README.md's config reference. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "net/wire/answer_check.h"
#include "core/config/config_parse.h"
#include "core/config/config_semantic.h"
#include "policy/route_builtin.h"
#include "policy/route_model.h"

#define N SL_CFG_N
#define KEY SL_CFG_KEY
#define RT(f) offsetof(struct sl_router_cfg, f)
#define MAX_MODEL_FILE (64u << 20)

static const char *const tier_names[4] = {"SIMPLE", "MEDIUM", "COMPLEX", "REASONING"};

static bool is_router_model(const char *m) {
  return strncmp(m, "sluice_router/", 14) == 0 || strncmp(m, "auto_router/", 12) == 0;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
      return yaml_document_get_node(doc, p->value);
  }
  return NULL;
}

/* The key node itself (its line is the key's line; a block mapping's own node starts at its
 * first key). */
static yaml_node_t *map_key(yaml_document_t *doc, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0) return k;
  }
  return NULL;
}

bool sl_cfg_entry_is_router(struct sl_cfg_ctx *c, yaml_node_t *item) {
  yaml_node_t *m = map_get(c->doc, map_get(c->doc, item, "litellm_params"), "model");
  return m && m->type == YAML_SCALAR_NODE && is_router_model((const char *)m->data.scalar.value);
}

/* ---- values ---- */

static int parse_threshold(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  return sl_cfg_number_in(c, v, path, -1, 1, "a number from -1 to 1 (the router's score scale)", field);
}

static int parse_fraction(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  return sl_cfg_number_in(c, v, path, 0, 1, "a number from 0 to 1", field);
}

/* ---- cascade: checks, refusal_phrases, min_mean_logprob ---- */

static int parse_checks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of check names (%s, logprob, math), got %s",
                       SL_CASCADE_DEFAULT_CHECKS, sl_cfg_node_desc(v));
  unsigned mask = 0;
  for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
    yaml_node_t *it = yaml_document_get_node(c->doc, *i);
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, (size_t)(i - v->data.sequence.items.start));
    const char *text, *env;
    int rc = it->type == YAML_SCALAR_NODE ? sl_cfg_scalar(c, it, ip, &text, &env) : -1;
    enum sl_answer_check k;
    if (rc > 0) return rc;
    if (rc || sl_answer_check_parse(text, &k))
      return sl_cfg_fail(c, it, ip, "unknown check %s (%s, logprob, math)",
                         it->type == YAML_SCALAR_NODE ? text : sl_cfg_node_desc(it), SL_CASCADE_DEFAULT_CHECKS);
    mask |= 1u << k;
  }
  *(unsigned *)field = mask;
  return 0;
}

static int parse_phrases(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_router_cfg *r = (struct sl_router_cfg *)((char *)field - RT(refusal_phrases));
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of phrases, got %s", sl_cfg_node_desc(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (!(r->refusal_phrases = calloc(n ? n : 1, sizeof *r->refusal_phrases))) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    const char *text, *env;
    if (it->type != YAML_SCALAR_NODE) return sl_cfg_fail(c, it, ip, "expected a phrase, got %s", sl_cfg_node_desc(it));
    int rc = sl_cfg_scalar(c, it, ip, &text, &env);
    if (rc) return rc;
    if (!text[0] || strlen(text) > 200) return sl_cfg_fail(c, it, ip, "a phrase of 1 to 200 bytes");
    if (!(r->refusal_phrases[i] = strdup(text))) return -ENOMEM;
    r->nrefusal_phrases = i + 1;
  }
  return 0;
}

static int parse_logprob(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  return sl_cfg_number_in(c, v, path, -100, 0, "a mean token logprob from -100 to 0, e.g. -1.0", field);
}

static int parse_stream_checks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  const char *text = NULL, *env;
  int rc = v->type == YAML_SCALAR_NODE ? sl_cfg_scalar(c, v, path, &text, &env) : 0;
  if (rc) return rc;
  if (!text || (strcmp(text, "hold") && strcmp(text, "early")))
    return sl_cfg_fail(c, v, path, "expected hold or early, got %s", text ? text : sl_cfg_node_desc(v));
  *(bool *)field = strcmp(text, "early") == 0;
  return 0;
}

/* ---- targets: [{model: group, quality: q}, ...] ---- */

static int parse_targets(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_router_cfg *r = (struct sl_router_cfg *)((char *)field - RT(targets));
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of {model: <group>, quality: <0..1>}, got %s",
                       sl_cfg_node_desc(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (!n) return sl_cfg_fail(c, v, path, "empty; name at least one target group");
  if (n > SL_ROUTER_MAX_TARGETS)
    return sl_cfg_fail(c, v, path, "%zu targets; a router takes at most %d", n, SL_ROUTER_MAX_TARGETS);
  if (!(r->targets = calloc(n, sizeof *r->targets))) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    char ip[SL_CFG_PATH], kp[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    r->ntargets = i + 1;
    r->targets[i].quality = -1;
    if (it->type == YAML_SCALAR_NODE) { /* a bare group name */
      int rc = sl_cfg_string(c, it, ip, &r->targets[i].group);
      if (rc) return rc;
      continue;
    }
    if (it->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, it, ip, "expected {model: <group>, quality: <0..1>}, got %s", sl_cfg_node_desc(it));
    struct sl_cfg_pair *ps = NULL;
    size_t np = 0;
    int rc = sl_cfg_pairs(c, it, ip, &ps, &np);
    if (rc) return rc;
    for (size_t j = 0; rc == 0 && j < np; j++) {
      const char *k = (const char *)ps[j].k->data.scalar.value;
      sl_cfg_path_join(kp, ip, k);
      if (strcmp(k, "model") == 0 || strcmp(k, "group") == 0)
        rc = sl_cfg_string(c, ps[j].v, kp, &r->targets[i].group);
      else if (strcmp(k, "quality") == 0)
        rc = parse_fraction(c, ps[j].v, kp, &r->targets[i].quality);
      else
        rc = sl_cfg_fail(c, ps[j].k, kp, "unknown key (a target has model and quality)");
    }
    free(ps);
    if (rc) return rc;
    if (!r->targets[i].group) return sl_cfg_fail(c, it, ip, "missing 'model' (the target group)");
  }
  return 0;
}

/* ---- rules: [{name, if: {field: value(s)}, then: group}, ...] ---- */

static int string_list(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char *const **out,
                       size_t *n) {
  size_t cnt = v->type == YAML_SEQUENCE_NODE ? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 1;
  if (v->type == YAML_MAPPING_NODE || cnt == 0)
    return sl_cfg_fail(c, v, path, "expected a string or a non-empty list of strings, got %s", sl_cfg_node_desc(v));
  char **a = calloc(cnt, sizeof *a);
  if (!a) return -ENOMEM;
  *out = (const char *const *)a;
  *n = cnt;
  for (size_t i = 0; i < cnt; i++) {
    yaml_node_t *it = v->type == YAML_SEQUENCE_NODE ? yaml_document_get_node(c->doc, v->data.sequence.items.start[i]) : v;
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    if (it->type != YAML_SCALAR_NODE)
      return sl_cfg_fail(c, it, ip, "expected a string, got %s", sl_cfg_node_desc(it));
    const char *text, *env;
    int rc = sl_cfg_scalar(c, it, ip, &text, &env); /* numbers and booleans match as written */
    if (rc) return rc;
    if (!(a[i] = strdup(text))) return -ENOMEM;
  }
  return 0;
}

static int parse_cond(struct sl_cfg_ctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
                      struct sl_rule_cond *conds, size_t *nconds, size_t cap) {
  const char *name = (const char *)k->data.scalar.value;
  enum sl_rule_field f = sl_rule_field_parse(name);
  if (f == SL_RF_FIELDS)
    return sl_cfg_fail(c, k, path, "unknown condition (use header, metadata, tags, key_alias, key_tags, team, "
                       "tier, user, model, region, min_prompt_tokens, max_prompt_tokens, tools, stream)");
  int kind = sl_rule_field_kind(f);
  const char *text, *env;
  if (kind == 3) { /* {name: value(s)} */
    if (v->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, v, path, "expected a mapping of %s name to value(s), got %s", name, sl_cfg_node_desc(v));
    struct sl_cfg_pair *ps = NULL;
    size_t np = 0;
    int rc = sl_cfg_pairs(c, v, path, &ps, &np);
    for (size_t j = 0; rc == 0 && j < np; j++) {
      char kp[SL_CFG_PATH];
      sl_cfg_path_join(kp, path, (const char *)ps[j].k->data.scalar.value);
      if (*nconds >= cap) {
        rc = sl_cfg_fail(c, ps[j].k, kp, "too many conditions in one rule (at most %zu)", cap);
        break;
      }
      struct sl_rule_cond *cd = &conds[(*nconds)++];
      cd->field = f;
      if (!(cd->name = strdup((const char *)ps[j].k->data.scalar.value))) rc = -ENOMEM;
      if (rc == 0) rc = string_list(c, ps[j].v, kp, &cd->values, &cd->nvalues);
    }
    free(ps);
    return rc;
  }
  if (*nconds >= cap) return sl_cfg_fail(c, k, path, "too many conditions in one rule (at most %zu)", cap);
  struct sl_rule_cond *cd = &conds[(*nconds)++];
  cd->field = f;
  if (kind == 0) return string_list(c, v, path, &cd->values, &cd->nvalues);
  if (v->type != YAML_SCALAR_NODE)
    return sl_cfg_fail(c, v, path, "expected %s, got %s", kind == 1 ? "a whole number" : "true or false",
                       sl_cfg_node_desc(v));
  int rc = sl_cfg_scalar(c, v, path, &text, &env);
  if (rc) return rc;
  if (kind == 2) {
    if (sl_config_parse_bool(text, &cd->flag)) return sl_cfg_fail(c, v, path, "expected true or false, got '%.40s'", text);
    return 0;
  }
  int64_t x;
  if (sl_config_parse_int(text, &x) || x < 0) return sl_cfg_fail(c, v, path, "expected a whole number >= 0, got '%.40s'", text);
  cd->num = x;
  return 0;
}

#define MAX_CONDS 16

static int parse_rule(struct sl_cfg_ctx *c, yaml_node_t *it, const char *ip, struct sl_rule *rule, char **then) {
  if (it->type != YAML_MAPPING_NODE)
    return sl_cfg_fail(c, it, ip, "expected {name: ..., if: {...}, then: <group>}, got %s", sl_cfg_node_desc(it));
  struct sl_rule_cond *conds = calloc(MAX_CONDS, sizeof *conds);
  if (!conds) return -ENOMEM;
  rule->conds = conds;
  struct sl_cfg_pair *ps = NULL;
  size_t np = 0;
  int rc = sl_cfg_pairs(c, it, ip, &ps, &np);
  char kp[SL_CFG_PATH];
  for (size_t j = 0; rc == 0 && j < np; j++) {
    const char *k = (const char *)ps[j].k->data.scalar.value;
    sl_cfg_path_join(kp, ip, k);
    if (strcmp(k, "name") == 0) {
      rc = sl_cfg_string(c, ps[j].v, kp, (char **)&rule->name);
    } else if (strcmp(k, "then") == 0 || strcmp(k, "model") == 0) {
      rc = sl_cfg_string(c, ps[j].v, kp, then);
    } else if (strcmp(k, "if") == 0 || strcmp(k, "when") == 0) {
      if (ps[j].v->type != YAML_MAPPING_NODE) {
        rc = sl_cfg_fail(c, ps[j].v, kp, "expected a mapping of conditions (all must hold), got %s",
                         sl_cfg_node_desc(ps[j].v));
        break;
      }
      struct sl_cfg_pair *cs = NULL;
      size_t nc = 0;
      rc = sl_cfg_pairs(c, ps[j].v, kp, &cs, &nc);
      for (size_t m = 0; rc == 0 && m < nc; m++) {
        char cp[SL_CFG_PATH];
        sl_cfg_path_join(cp, kp, (const char *)cs[m].k->data.scalar.value);
        rc = parse_cond(c, cs[m].k, cs[m].v, cp, conds, &rule->nconds, MAX_CONDS);
      }
      free(cs);
    } else {
      rc = sl_cfg_fail(c, ps[j].k, kp, "unknown key (a rule has name, if and then)");
    }
  }
  free(ps);
  if (rc == 0 && !*then) rc = sl_cfg_fail(c, it, ip, "missing 'then' (the group this rule sends to)");
  return rc;
}

static int parse_rules(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_router_cfg *r = (struct sl_router_cfg *)((char *)field - RT(rules));
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of rules, got %s", sl_cfg_node_desc(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (!(r->rules = calloc(n ? n : 1, sizeof *r->rules)) || !(r->rule_targets = calloc(n ? n : 1, sizeof(char *))))
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    r->nrules = i + 1;
    r->rules[i].target = i;
    int rc = parse_rule(c, it, ip, &r->rules[i], &r->rule_targets[i]);
    if (rc) return rc;
    if (!r->rules[i].name) {
      char nm[32];
      snprintf(nm, sizeof nm, "rule%zu", i);
      if (!(r->rules[i].name = strdup(nm))) return -ENOMEM;
    }
  }
  return 0;
}

/* ---- complexity_router_config: {tiers: {SIMPLE: g, ...}, tier_boundaries: {...}} ---- */

static int parse_complexity(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_router_cfg *r = (struct sl_router_cfg *)((char *)field - RT(tiers));
  if (v->type != YAML_MAPPING_NODE)
    return sl_cfg_fail(c, v, path, "expected a mapping with tiers, got %s", sl_cfg_node_desc(v));
  struct sl_cfg_pair *ps = NULL;
  size_t np = 0;
  int rc = sl_cfg_pairs(c, v, path, &ps, &np);
  for (size_t j = 0; rc == 0 && j < np; j++) {
    const char *k = (const char *)ps[j].k->data.scalar.value;
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, k);
    if (strcmp(k, "tiers") != 0 && strcmp(k, "tier_boundaries") != 0) {
      sl_cfg_warn(c, ps[j].k, kp, "not used by sluice (tiers are bands of the learned score), ignored");
      continue;
    }
    if (ps[j].v->type != YAML_MAPPING_NODE) {
      rc = sl_cfg_fail(c, ps[j].v, kp, "expected a mapping, got %s", sl_cfg_node_desc(ps[j].v));
      break;
    }
    struct sl_cfg_pair *ts = NULL;
    size_t nt = 0;
    rc = sl_cfg_pairs(c, ps[j].v, kp, &ts, &nt);
    static const char *const bounds[3] = {"simple_medium", "medium_complex", "complex_reasoning"};
    for (size_t m = 0; rc == 0 && m < nt; m++) {
      const char *tk = (const char *)ts[m].k->data.scalar.value;
      char tp[SL_CFG_PATH];
      sl_cfg_path_join(tp, kp, tk);
      int idx = -1;
      const char *const *names = k[4] == 's' ? tier_names : bounds;
      size_t nn = k[4] == 's' ? 4 : 3;
      for (size_t q = 0; q < nn; q++)
        if (strcmp(names[q], tk) == 0) idx = (int)q;
      if (idx < 0) {
        rc = sl_cfg_fail(c, ts[m].k, tp, k[4] == 's' ? "unknown tier (SIMPLE, MEDIUM, COMPLEX, REASONING)"
                                                     : "unknown boundary (simple_medium, medium_complex, complex_reasoning)");
        break;
      }
      rc = k[4] == 's' ? sl_cfg_string(c, ts[m].v, tp, &r->tiers[idx]) : parse_fraction(c, ts[m].v, tp, &r->tier_bounds[idx]);
    }
    free(ts);
  }
  free(ps);
  return rc;
}

/* ---- the entry ---- */

static int finish_router_params(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                                yaml_node_t *const *seen) {
  struct sl_router_cfg *r = target;
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "model");
  const char *m = r->model;
  static const struct {
    const char *name;
    enum sl_router_kind kind;
  } kinds[] = {{"sluice_router/learned", SL_ROUTER_LEARNED}, {"sluice_router/rules", SL_ROUTER_RULES},
               {"sluice_router/cost", SL_ROUTER_COST},       {"sluice_router/chain", SL_ROUTER_CHAIN},
               {"sluice_router/cascade", SL_ROUTER_CASCADE},
               {"auto_router/complexity_router", SL_ROUTER_TIERS}, {"sluice_router/semantic", SL_ROUTER_SEMANTIC}};
  size_t i = 0;
  while (i < N(kinds) && strcmp(kinds[i].name, m)) i++;
  if (i == N(kinds)) {
    if (strncmp(m, "auto_router/", 12) == 0 && m[12]) { /* LiteLLM's semantic auto_router/<name> */
      r->kind = SL_ROUTER_SEMANTIC;
      return 0;
    }
    return sl_cfg_fail(c, seen[0], kp, "unknown router '%s' (sluice_router/learned, rules, cost, chain, cascade or semantic)", m);
  }
  r->kind = kinds[i].kind;
  r->learn_online = r->learning && strcmp(r->learning, "online") == 0;
  if (r->learn_online && r->kind != SL_ROUTER_LEARNED && r->kind != SL_ROUTER_CHAIN && r->kind != SL_ROUTER_CASCADE)
    return sl_cfg_fail(c, seen[0], kp, "'learning: online' needs a learned router (sluice_router/learned or chain) "
                       "or a cascade, not '%s'", m);
  if (r->max_shift_per_hour > 2) {
    sl_cfg_path_join(kp, path, "max_shift_per_hour");
    return sl_cfg_fail(c, seen[0], kp, "max_shift_per_hour must be from 0 to 2 (the score scale is -1..1)");
  }
  return 0;
}

static const char *const learning_choices[] = {"off", "online", NULL};

static const struct sl_cfg_key router_params_keys[] = {
    KEY("model", SL_K_STR, RT(model), .flags = SL_F_REQUIRED),
    KEY("strong_model", SL_K_STR, RT(strong_model)),
    KEY("weak_model", SL_K_STR, RT(weak_model)),
    KEY("default_model", SL_K_STR, RT(default_model)),
    KEY("router_model_path", SL_K_STR, RT(router_model_path)),
    KEY("strong_fraction", SL_K_FUNC, RT(strong_fraction), .fn = parse_fraction),
    KEY("threshold", SL_K_FUNC, RT(threshold), .fn = parse_threshold),
    KEY("max_routed_bytes", SL_K_SIZE, RT(max_routed_bytes), .min = 64),
    KEY("shadow", SL_K_BOOL, RT(shadow)),
    KEY("allow_override", SL_K_BOOL, RT(allow_override)),
    KEY("max_cost_usd", SL_K_NUM, RT(max_cost_usd)),
    KEY("min_quality", SL_K_FUNC, RT(min_quality), .fn = parse_fraction),
    KEY("targets", SL_K_FUNC, RT(targets), .fn = parse_targets),
    KEY("rules", SL_K_FUNC, RT(rules), .fn = parse_rules),
    KEY("complexity_router_config", SL_K_FUNC, RT(tiers), .fn = parse_complexity),
    KEY("checks", SL_K_FUNC, RT(checks), .fn = parse_checks),
    KEY("refusal_phrases", SL_K_FUNC, RT(refusal_phrases), .fn = parse_phrases),
    KEY("min_mean_logprob", SL_K_FUNC, RT(min_mean_logprob), .fn = parse_logprob),
    KEY("stream_checks", SL_K_FUNC, RT(stream_early), .fn = parse_stream_checks),
    KEY("early_tokens", SL_K_SIZE, RT(early_tokens), .min = 1),
    KEY("judge_model", SL_K_STR, RT(judge_model)),
    KEY("judge_budget_usd_per_day", SL_K_NUM, RT(judge_budget_usd_per_day)),
    KEY("judge_timeout", SL_K_DUR, RT(judge_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("learning", SL_K_ENUM, RT(learning), .choices = learning_choices),
    KEY("frozen", SL_K_BOOL, RT(frozen)),
    KEY("exploration_budget_usd_per_day", SL_K_NUM, RT(exploration_budget_usd_per_day)),
    KEY("max_shift_per_hour", SL_K_NUM, RT(max_shift_per_hour)),
    KEY("evidence_half_life", SL_K_DUR, RT(evidence_half_life_ms), .flags = SL_F_POSITIVE),
    /* LiteLLM's auto_router names for the default */
    KEY("auto_router_default_model", SL_K_STR, RT(default_model)),
    /* semantic (config_semantic.c) */
    KEY("routes", SL_K_FUNC, RT(sem_routes), .fn = sl_cfg_parse_semantic_routes),
    KEY("embedding_model", SL_K_STR, RT(embedding_model)),
    KEY("auto_router_embedding_model", SL_K_STR, RT(embedding_model)),
    KEY("embedding_timeout", SL_K_DUR, RT(embedding_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("score_threshold", SL_K_FUNC, RT(score_threshold), .fn = parse_threshold),
    KEY("auto_router_config_path", SL_K_STR, RT(auto_router_config_path)),
};

static const struct sl_cfg_section router_params_section = {
    router_params_keys, N(router_params_keys), NULL, NULL, SL_UNKNOWN_ERROR,
    "unknown router parameter", finish_router_params};

static const struct sl_cfg_key router_entry_keys[] = {
    KEY("model_name", SL_K_STR, RT(name), .flags = SL_F_REQUIRED),
    KEY("litellm_params", SL_K_MAP, 0, .flags = SL_F_REQUIRED, .sub = &router_params_section),
};

static const struct sl_cfg_section router_entry_section = {
    router_entry_keys, N(router_entry_keys), NULL, NULL, SL_UNKNOWN_IGNORE, NULL, NULL};

void sl_cfg_router_clear(struct sl_router_cfg *r) {
  free(r->name);
  free(r->model);
  free(r->strong_model);
  free(r->weak_model);
  free(r->default_model);
  free(r->router_model_path);
  free(r->learning);
  for (size_t i = 0; i < r->ntargets; i++) free(r->targets[i].group);
  free(r->targets);
  for (size_t i = 0; i < r->nrules; i++) {
    struct sl_rule *ru = &r->rules[i];
    for (size_t j = 0; j < ru->nconds; j++) {
      struct sl_rule_cond *cd = (struct sl_rule_cond *)&ru->conds[j];
      free((char *)cd->name);
      for (size_t k = 0; k < cd->nvalues; k++) free((char *)cd->values[k]);
      free((void *)cd->values);
    }
    free((void *)ru->conds);
    free((char *)ru->name);
    free(r->rule_targets[i]);
  }
  if (r->rules && !r->nrules) free((void *)r->rules[0].conds);
  free(r->rules);
  free(r->rule_targets);
  for (int i = 0; i < 4; i++) free(r->tiers[i]);
  for (size_t i = 0; i < r->nrefusal_phrases; i++) free(r->refusal_phrases[i]);
  free(r->refusal_phrases);
  free(r->judge_model);
  sl_route_model_free(r->rmodel);
  sl_sem_routes_free(r->sem_routes, r->nsem_routes);
  free(r->embedding_model);
  free(r->auto_router_config_path);
  memset(r, 0, sizeof *r);
}

int sl_cfg_parse_router(struct sl_cfg_ctx *c, yaml_node_t *item, const char *path, struct sl_router_cfg *r) {
  memset(r, 0, sizeof *r);
  r->strong_fraction = -1;
  r->threshold = NAN;
  r->max_routed_bytes = 4096;
  r->allow_override = true;
  r->min_quality = -1;
  r->checks = 1u << SL_AC_LENGTH | 1u << SL_AC_EMPTY | 1u << SL_AC_REFUSAL | 1u << SL_AC_JSON | 1u << SL_AC_TOOLS;
  r->min_mean_logprob = -1.0;
  r->early_tokens = 20;
  r->judge_budget_usd_per_day = 1.0;
  r->judge_timeout_ms = 10000;
  r->max_shift_per_hour = 0.2;
  r->evidence_half_life_ms = 86400000;
  r->tier_bounds[0] = 0.15; /* LiteLLM's complexity_router boundaries, read as score quantiles */
  r->tier_bounds[1] = 0.35;
  r->tier_bounds[2] = 0.60;
  r->embedding_timeout_ms = 2000;
  r->score_threshold = 0.3;
  return sl_cfg_parse_section(c, &router_entry_section, item, path, r);
}

/* ---- after model_list: names and the model file ---- */

/* Where a name was written, for errors that name its line and key path: the value of key in
 * map (path joined with key), else map itself (path as it is). */
static yaml_node_t *node_at(struct sl_cfg_ctx *c, yaml_node_t *map, const char *key, const char *path, char *out) {
  yaml_node_t *v = map_get(c->doc, map, key);
  if (v) sl_cfg_path_join(out, path, key);
  else snprintf(out, SL_CFG_PATH, "%s", path);
  return v ? v : map;
}

static yaml_node_t *seq_item(struct sl_cfg_ctx *c, yaml_node_t *seq, size_t i) {
  if (!seq || seq->type != YAML_SEQUENCE_NODE || i >= (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start))
    return NULL;
  return yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
}

static int load_model(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, struct sl_router_cfg *r) {
  char err[256] = "";
  if (!r->router_model_path) {
    size_t n;
    const unsigned char *b = sl_route_builtin_model(&n);
    int rc = sl_route_model_parse(b, n, &r->rmodel, err, sizeof err);
    return rc ? sl_cfg_fail(c, at, path, "the built-in router model is unusable: %s", err) : 0;
  }
  char full[4096];
  const char *p = r->router_model_path;
  const char *slash = strrchr(c->name, '/');
  if (p[0] != '/' && slash && c->name[0] != '<') /* relative to the config file */
    snprintf(full, sizeof full, "%.*s/%s", (int)(slash - c->name), c->name, p);
  else
    snprintf(full, sizeof full, "%s", p);
  unsigned char *b = NULL;
  size_t n = 0;
  char kp[SL_CFG_PATH];
  at = node_at(c, at, "router_model_path", path, kp);
  int rc = sl_cfg_read_file(full, MAX_MODEL_FILE, (char **)&b, &n);
  if (rc == -ENOMEM) return rc;
  if (rc)
    return sl_cfg_fail(c, at, kp, "cannot read router model '%s': %s", full,
                       rc == -EFBIG ? "not a regular file of at most 64 MiB" : strerror(-rc));
  rc = sl_route_model_parse(b, n, &r->rmodel, err, sizeof err);
  free(b);
  if (rc == -ENOMEM) return rc;
  if (rc) return sl_cfg_fail(c, at, kp, "router model '%s' refused: %s", full, err);
  return 0;
}

static bool is_group(const struct sl_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->ndeployments; i++)
    if (strcmp(cfg->deployments[i].model_name, name) == 0) return true;
  return false;
}

static int check_group(struct sl_cfg_ctx *c, const struct sl_config *cfg, yaml_node_t *at, const char *path,
                       const char *what, const char *name) {
  if (!name || is_group(cfg, name)) return 0;
  for (size_t i = 0; i < cfg->nrouters; i++)
    if (strcmp(cfg->routers[i].name, name) == 0)
      return sl_cfg_fail(c, at, path, "%s '%s' is a router; a router's targets are deployment groups", what, name);
  return sl_cfg_fail(c, at, path, "%s '%s' is not a model_name in model_list", what, name);
}

/* The semantic router's groups: each route's (where its model was written; a route from the
 * auto_router JSON at auto_router_config_path) and the embeddings group. */
static int check_semantic_groups(struct sl_cfg_ctx *c, const struct sl_config *cfg, const struct sl_router_cfg *r,
                                 yaml_node_t *lp, const char *p) {
  char kp[SL_CFG_PATH], ip[SL_CFG_PATH], tp[SL_CFG_PATH];
  bool json = r->auto_router_config_path != NULL;
  yaml_node_t *routes = node_at(c, lp, json ? "auto_router_config_path" : "routes", p, kp);
  for (size_t j = 0; j < r->nsem_routes; j++) {
    yaml_node_t *it = json ? NULL : seq_item(c, routes, j), *at = routes;
    if (json) snprintf(tp, sizeof tp, "%s", kp);
    else sl_cfg_path_index(ip, kp, j);
    if (it && it->type == YAML_MAPPING_NODE) at = node_at(c, it, map_get(c->doc, it, "model") ? "model" : "name", ip, tp);
    char what[200];
    snprintf(what, sizeof what, json ? "routes[%zu].name" : "route %zu's model", j);
    int rc = check_group(c, cfg, at, tp, what, r->sem_routes[j].group);
    if (rc) return rc;
  }
  const char *ek = map_get(c->doc, lp, "embedding_model") ? "embedding_model" : "auto_router_embedding_model";
  yaml_node_t *at = node_at(c, lp, ek, p, kp);
  return check_group(c, cfg, at, kp, ek, r->embedding_model);
}

/* Every group a router names, each checked where it was written. */
static int check_groups(struct sl_cfg_ctx *c, const struct sl_config *cfg, const struct sl_router_cfg *r,
                        yaml_node_t *lp, const char *p) {
  char kp[SL_CFG_PATH], ip[SL_CFG_PATH], tp[SL_CFG_PATH];
  static const char *const keys[] = {"strong_model", "weak_model", "default_model", "judge_model"};
  const char *names[] = {r->strong_model, r->weak_model, r->default_model, r->judge_model};
  for (size_t i = 0; i < 4; i++) {
    const char *key = keys[i];
    if (i == 2 && !map_get(c->doc, lp, key) && map_get(c->doc, lp, "auto_router_default_model"))
      key = "auto_router_default_model";
    yaml_node_t *at = node_at(c, lp, key, p, kp);
    int rc = check_group(c, cfg, at, kp, keys[i], names[i]);
    if (rc) return rc;
  }
  yaml_node_t *targets = node_at(c, lp, "targets", p, kp);
  for (size_t j = 0; j < r->ntargets; j++) {
    yaml_node_t *it = seq_item(c, targets, j);
    sl_cfg_path_index(ip, kp, j);
    yaml_node_t *at = it && it->type == YAML_MAPPING_NODE ? node_at(c, it, map_get(c->doc, it, "model") ? "model" : "group", ip, tp) : it;
    if (!at) at = targets;
    int rc = check_group(c, cfg, at, it && it->type == YAML_MAPPING_NODE ? tp : ip, "target", r->targets[j].group);
    if (rc) return rc;
  }
  yaml_node_t *rules = node_at(c, lp, "rules", p, kp);
  for (size_t j = 0; j < r->nrules; j++) {
    yaml_node_t *it = seq_item(c, rules, j);
    sl_cfg_path_index(ip, kp, j);
    yaml_node_t *at = it ? node_at(c, it, map_get(c->doc, it, "then") ? "then" : "model", ip, tp) : rules;
    int rc = check_group(c, cfg, at, it ? tp : ip, "rule 'then'", r->rule_targets[j]);
    if (rc) return rc;
  }
  int src = check_semantic_groups(c, cfg, r, lp, p);
  if (src) return src;
  yaml_node_t *cx = node_at(c, lp, "complexity_router_config", p, kp);
  yaml_node_t *tiers = node_at(c, cx, "tiers", kp, ip);
  for (int j = 0; j < 4; j++) {
    yaml_node_t *at = node_at(c, tiers, tier_names[j], ip, tp);
    int rc = check_group(c, cfg, at, tp, "tier", r->tiers[j]);
    if (rc) return rc;
  }
  return 0;
}

int sl_cfg_routers_resolve(struct sl_cfg_ctx *c, struct sl_config *cfg, yaml_node_t *const *nodes,
                           const size_t *index) {
  for (size_t i = 0; i < cfg->nrouters; i++) {
    struct sl_router_cfg *r = &cfg->routers[i];
    char p[SL_CFG_PATH], np[SL_CFG_PATH];
    snprintf(np, sizeof np, "model_list[%zu].model_name", index[i]);
    snprintf(p, sizeof p, "model_list[%zu].litellm_params", index[i]);
    yaml_node_t *lp = map_get(c->doc, nodes[i], "litellm_params");
    yaml_node_t *at = map_key(c->doc, nodes[i], "litellm_params"); /* errors about the parameters as a whole */
    if (!at) at = nodes[i];
    yaml_node_t *name_at = map_get(c->doc, nodes[i], "model_name");
    if (!name_at) name_at = nodes[i];
    if (is_group(cfg, r->name))
      return sl_cfg_fail(c, name_at, np, "router '%s' has the name of a deployment group; give it its own model_name",
                         r->name);
    for (size_t j = 0; j < i; j++)
      if (strcmp(cfg->routers[j].name, r->name) == 0)
        return sl_cfg_fail(c, name_at, np, "two routers are named '%s'", r->name);
    for (size_t j = 0; j < cfg->naliases; j++)
      if (cfg->aliases[j].alias && strcmp(cfg->aliases[j].alias, r->name) == 0)
        return sl_cfg_fail(c, name_at, np, "router '%s' has the name of a router_settings.model_group_alias; "
                           "rename one of them", r->name);
    int rc = 0;
    if (r->kind == SL_ROUTER_SEMANTIC && r->auto_router_config_path) {
      char kp[SL_CFG_PATH];
      yaml_node_t *ap = node_at(c, lp, "auto_router_config_path", p, kp);
      if (r->nsem_routes) return sl_cfg_fail(c, ap, kp, "give routes or auto_router_config_path, not both");
      if ((rc = sl_cfg_semantic_load(c, ap, kp, r))) return rc;
    }
    rc = check_groups(c, cfg, r, lp, p);
    if (rc) return rc;
    bool learned = r->kind == SL_ROUTER_LEARNED || r->kind == SL_ROUTER_TIERS ||
                   (r->kind == SL_ROUTER_CHAIN && r->strong_model) ||
                   (r->kind == SL_ROUTER_COST && r->min_quality < 0) ||
                   (r->kind == SL_ROUTER_CASCADE && r->learn_online); /* the prompt's features */
    switch (r->kind) {
    case SL_ROUTER_LEARNED:
      if (!r->strong_model || !r->weak_model)
        return sl_cfg_fail(c, at, p, "a learned router needs strong_model and weak_model");
      break;
    case SL_ROUTER_RULES:
      if (!r->nrules) return sl_cfg_fail(c, at, p, "a rules router needs rules");
      if (!r->default_model) return sl_cfg_fail(c, at, p, "a rules router needs default_model (when no rule matches)");
      break;
    case SL_ROUTER_COST:
    case SL_ROUTER_CHAIN:
      if (r->kind == SL_ROUTER_COST && r->ntargets < 1) return sl_cfg_fail(c, at, p, "a cost router needs targets");
      if (r->kind == SL_ROUTER_CHAIN && !r->ntargets && !(r->strong_model && r->weak_model))
        return sl_cfg_fail(c, at, p, "a chain router needs targets, or strong_model and weak_model");
      for (size_t j = 0; j < r->ntargets; j++)
        if (r->targets[j].quality < 0) {
          char kp[SL_CFG_PATH], ip[SL_CFG_PATH];
          yaml_node_t *tn = node_at(c, lp, "targets", p, kp), *it = seq_item(c, tn, j);
          sl_cfg_path_index(ip, kp, j);
          return sl_cfg_fail(c, it ? it : tn, ip, "target '%s' needs a quality (0..1) for the cost router",
                             r->targets[j].group);
        }
      break;
    case SL_ROUTER_CASCADE:
      if (r->ntargets < 2) return sl_cfg_fail(c, at, p, "a cascade needs at least two targets (cheap first)");
      break;
    case SL_ROUTER_SEMANTIC:
      if (!r->nsem_routes) return sl_cfg_fail(c, at, p, "a semantic router needs routes (or auto_router_config_path)");
      if (!r->default_model)
        return sl_cfg_fail(c, at, p, "a semantic router needs default_model (or auto_router_default_model): where "
                           "prompts that match no route go");
      break;
    case SL_ROUTER_TIERS:
      for (int j = 0; j < 4; j++)
        if (!r->tiers[j])
          return sl_cfg_fail(c, at, p, "complexity_router_config.tiers needs a group for %s", tier_names[j]);
      if (!(r->tier_bounds[0] <= r->tier_bounds[1] && r->tier_bounds[1] <= r->tier_bounds[2]))
        return sl_cfg_fail(c, at, p, "complexity_router_config.tier_boundaries must increase");
      break;
    }
    if (!r->default_model) /* fail open to quality */
      r->default_model = strdup(r->strong_model ? r->strong_model
                                : r->kind == SL_ROUTER_TIERS ? r->tiers[3]
                                : r->ntargets ? r->targets[r->ntargets - 1].group
                                              : r->rule_targets[0]);
    if (!r->default_model) return -ENOMEM;
    if (r->strong_fraction >= 0 && !isnan(r->threshold)) {
      char kp[SL_CFG_PATH];
      yaml_node_t *sf = node_at(c, lp, "strong_fraction", p, kp);
      return sl_cfg_fail(c, sf, kp, "give strong_fraction or threshold, not both");
    }
    if (learned && (rc = load_model(c, lp ? lp : at, p, r))) return rc;
  }
  return 0;
}
