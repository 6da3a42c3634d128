/* router_settings and litellm_settings: how requests pick and leave a model group (routing
 * strategy, model_group_alias, fallbacks, cooldowns, retries, timeouts) and LiteLLM's cache
 * switch (cache, cache_params).
 * The one idea: names that point at model groups are read as they come (so type errors are
 * reported in file order) but checked only once model_list is known, wherever it sits in the
 * file: every alias target, fallback group and fallback must be a model_name (or an alias),
 * and the message names the exact key path and line. Keys LiteLLM reads from both sections
 * (fallbacks, allowed_fails, cooldown_time, ...) are kept apart until then, and
 * router_settings wins, as in LiteLLM.
 * Every key read here is listed in README.md's config reference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"

#define N SL_CFG_N
#define KEY SL_CFG_KEY
#define SCR SL_CFG_SCR
#define I32 INT32_MAX

#define ALIAS_PATH "router_settings.model_group_alias"

/* ---- small helpers ---- */

static int push_node(yaml_node_t ***arr, size_t *n, yaml_node_t *v) {
  yaml_node_t **a = realloc(*arr, (*n + 1) * sizeof *a);
  if (!a)
    return -ENOMEM;
  a[(*n)++] = v;
  *arr = a;
  return 0;
}

static int push_name(struct sl_name_list *l, char *name) {
  char **a = realloc(l->names, (l->n + 1) * sizeof *a);
  if (!a)
    return -ENOMEM;
  a[l->n++] = name;
  l->names = a;
  return 0;
}

void sl_cfg_names_free(struct sl_name_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->names[i]);
  free(l->names);
  l->names = NULL;
  l->n = 0;
}

void sl_cfg_fallbacks_free(struct sl_fallback *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].group);
    sl_cfg_names_free(&v[i].to);
  }
  free(v);
}

/* ---- routing_strategy ---- */

static const struct {
  const char *name;
  enum sl_strategy v;
} strategies[] = {
    {"simple-shuffle", SL_STRAT_SHUFFLE},
    {"least-busy", SL_STRAT_LEAST_BUSY},
    {"latency-based-routing", SL_STRAT_LATENCY},
    {"cost-based-routing", SL_STRAT_COST},
    {"usage-based-routing", SL_STRAT_USAGE},
    {"usage-based-routing-v2", SL_STRAT_USAGE},
};

static int parse_routing_strategy(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                                  void *field) {
  char *name = NULL;
  int rc = sl_cfg_string(c, v, path, &name);
  if (rc)
    return rc;
  for (size_t i = 0; i < N(strategies); i++) {
    if (strcmp(name, strategies[i].name) == 0) {
      *(enum sl_strategy *)field = strategies[i].v;
      free(name);
      return 0;
    }
  }
  char list[256];
  size_t j = 0;
  for (size_t i = 0; i < N(strategies) && j < sizeof list; i++)
    j += (size_t)snprintf(list + j, sizeof list - j, "%s%s", i ? "|" : "", strategies[i].name);
  rc = sl_cfg_fail(c, v, path, "expected one of %s, got '%.80s'", list, name);
  free(name);
  return rc;
}

/* ---- names of model groups: one name, or a list of them ---- */

static int parse_name(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                      struct sl_name_list *l, yaml_node_t ***nodes, size_t *nn) {
  char *name = NULL;
  int rc = sl_cfg_string(c, v, path, &name);
  if (rc == 0 && (rc = push_name(l, name)))
    free(name);
  if (rc == 0)
    rc = push_node(nodes, nn, v);
  return rc;
}

/* [g1, g2] or a bare "g1"; records the value node, then each name's node. */
static int parse_names(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                       struct sl_name_list *l, yaml_node_t ***nodes, size_t *nn) {
  if (push_node(nodes, nn, v))
    return -ENOMEM;
  if (v->type == YAML_SCALAR_NODE && !sl_cfg_is_null(v))
    return parse_name(c, v, path, l, nodes, nn);
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of model groups (or one model group), got %s",
                       v->type == YAML_SCALAR_NODE ? "nothing" : sl_cfg_node_desc(v));
  size_t i = 0;
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++, i++) {
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    int rc = parse_name(c, yaml_document_get_node(c->doc, *it), ip, l, nodes, nn);
    if (rc)
      return rc;
  }
  return 0;
}

/* default_fallbacks: [g1, g2] */
static int parse_default_fallbacks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                                   void *field) {
  struct sl_cfg_names *f = field;
  snprintf(f->path, sizeof f->path, "%s", path);
  return parse_names(c, v, path, &f->l, &f->nodes, &f->nnodes);
}

/* fallbacks, context_window_fallbacks, content_policy_fallbacks:
 * [{group: [fallback, ...]}, ...], one group per list item, as LiteLLM requires. */
static int parse_fallbacks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                           void *field) {
  struct sl_cfg_fallbacks *f = field;
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of {model group: [fallback groups]} "
                       "mappings, got %s", sl_cfg_node_desc(v));
  snprintf(f->path, sizeof f->path, "%s", path);
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n && !(f->v = calloc(n, sizeof *f->v)))
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    char ip[SL_CFG_PATH], kp[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    if (item->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, item, ip, "expected a mapping {model group: [fallback groups]}, "
                         "got %s", sl_cfg_node_desc(item));
    struct sl_cfg_pair *ps;
    size_t np;
    int rc = sl_cfg_pairs(c, item, ip, &ps, &np);
    if (rc)
      return rc;
    if (np != 1) {
      free(ps);
      return sl_cfg_fail(c, item, ip, "expected exactly one model group per list item, got %zu "
                         "(write one item per group: - {a: [b]} - {c: [d]})", np);
    }
    yaml_node_t *k = ps[0].k, *val = ps[0].v;
    free(ps);
    f->n = i + 1;
    if (!(f->v[i].group = strdup((const char *)k->data.scalar.value)))
      return -ENOMEM;
    sl_cfg_path_join(kp, ip, f->v[i].group);
    if (push_node(&f->nodes, &f->nnodes, k))
      return -ENOMEM;
    if ((rc = parse_names(c, val, kp, &f->v[i].to, &f->nodes, &f->nnodes)))
      return rc;
  }
  return 0;
}

/* ---- model_group_alias: {alias: group} or {alias: {model: group, hidden: bool}} ---- */

struct alias_item {
  struct sl_alias a;
  yaml_node_t *model_node;
};

static int finish_alias_item(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                             void *target, yaml_node_t *const *seen) {
  ((struct alias_item *)target)->model_node = seen[0];
  return 0;
}

static const struct sl_cfg_key alias_item_keys[] = {
    KEY("model", SL_K_STR, offsetof(struct alias_item, a.group), .flags = SL_F_REQUIRED),
    KEY("hidden", SL_K_BOOL, offsetof(struct alias_item, a.hidden)),
};

static const struct sl_cfg_section alias_item_section = {
    alias_item_keys, N(alias_item_keys), NULL, NULL, SL_UNKNOWN_WARN,
    "unknown model_group_alias key, ignored", finish_alias_item};

static int parse_aliases(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_cfg_scratch *s = field;
  if (v->type != YAML_MAPPING_NODE)
    return sl_cfg_fail(c, v, path, "expected a mapping {alias: model group}, got %s",
                       sl_cfg_node_desc(v));
  struct sl_cfg_pair *ps;
  size_t np;
  int rc = sl_cfg_pairs(c, v, path, &ps, &np);
  if (rc)
    return rc;
  if (np && (!(s->c.aliases = calloc(np, sizeof *s->c.aliases)) ||
             !(s->alias_nodes = calloc(3 * np, sizeof *s->alias_nodes))))
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < np; i++) {
    const char *name = (const char *)ps[i].k->data.scalar.value;
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, name);
    if (!*name) {
      rc = sl_cfg_fail(c, ps[i].k, path, "an alias must not be empty");
      break;
    }
    struct alias_item it = {0};
    yaml_node_t *val = ps[i].v;
    if (val->type == YAML_MAPPING_NODE) {
      rc = sl_cfg_parse_section(c, &alias_item_section, val, kp, &it);
    } else if (val->type == YAML_SCALAR_NODE && !sl_cfg_is_null(val)) {
      rc = sl_cfg_string(c, val, kp, &it.a.group);
      it.model_node = val;
    } else {
      rc = sl_cfg_fail(c, val, kp, "expected a model group name or {model: group, hidden: "
                       "bool}, got %s", val->type == YAML_SCALAR_NODE ? "nothing"
                                                                     : sl_cfg_node_desc(val));
    }
    if (rc == 0 && !(it.a.alias = strdup(name)))
      rc = -ENOMEM;
    s->c.aliases[i] = it.a; /* freed with the config even when incomplete */
    s->c.naliases = i + 1;
    s->alias_nodes[3 * i] = ps[i].k;
    s->alias_nodes[3 * i + 1] = val;
    s->alias_nodes[3 * i + 2] = it.model_node;
  }
  free(ps);
  return rc;
}

/* ---- router_settings ---- */

static const struct sl_cfg_key router_keys[] = {
    KEY("num_retries", SL_K_INT, SCR(router_retries), .max = I32),
    KEY("timeout", SL_K_NUM, SCR(router_timeout), .flags = SL_F_POSITIVE),
    KEY("routing_strategy", SL_K_FUNC, SCR(c.routing_strategy), .fn = parse_routing_strategy),
    KEY("model_group_alias", SL_K_FUNC, 0, .fn = parse_aliases),
    KEY("fallbacks", SL_K_FUNC, SCR(router_fb[SL_CFG_FB_GENERAL]), .fn = parse_fallbacks),
    KEY("context_window_fallbacks", SL_K_FUNC, SCR(router_fb[SL_CFG_FB_CONTEXT_WINDOW]),
        .fn = parse_fallbacks),
    KEY("content_policy_fallbacks", SL_K_FUNC, SCR(router_fb[SL_CFG_FB_CONTENT_POLICY]),
        .fn = parse_fallbacks),
    KEY("default_fallbacks", SL_K_FUNC, SCR(router_default_fb), .fn = parse_default_fallbacks),
    KEY("max_fallbacks", SL_K_INT, SCR(c.max_fallbacks), .max = I32),
    KEY("allowed_fails", SL_K_INT, SCR(router_allowed_fails), .max = I32),
    KEY("cooldown_time", SL_K_NUM, SCR(router_cooldown)),
    KEY("retry_after", SL_K_NUM, SCR(c.retry_after_s)),
    KEY("stream_timeout", SL_K_NUM, SCR(router_stream_timeout), .flags = SL_F_POSITIVE),
    /* the Redis LiteLLM's Router shares usage through: cluster mode (config_cluster.c) */
    KEY("redis_host", SL_K_FUNC, SCR(cluster.router.v[SL_CFG_REDIS_HOST]), .fn = sl_cfg_keep_node),
    KEY("redis_port", SL_K_FUNC, SCR(cluster.router.v[SL_CFG_REDIS_PORT]), .fn = sl_cfg_keep_node),
    KEY("redis_password", SL_K_FUNC, SCR(cluster.router.v[SL_CFG_REDIS_PASSWORD]), .fn = sl_cfg_keep_node),
    KEY("redis_db", SL_K_FUNC, SCR(cluster.router.v[SL_CFG_REDIS_DB]), .fn = sl_cfg_keep_node),
    KEY("redis_url", SL_K_FUNC, SCR(cluster.router.v[SL_CFG_REDIS_URL]), .fn = sl_cfg_keep_node),
    KEY("redis_startup_nodes", SL_K_FUNC, SCR(cluster.router), .fn = sl_cfg_redis_unsupported),
    KEY("redis_sentinel_nodes", SL_K_FUNC, SCR(cluster.router), .fn = sl_cfg_redis_unsupported),
    KEY("redis_service_name", SL_K_FUNC, SCR(cluster.router), .fn = sl_cfg_redis_unsupported),
};

static const char *const router_known[] = {
    "routing_strategy_args", "allowed_fails_policy", "disable_cooldowns", "retry_policy",
    "model_group_retry_policy", "cache_responses", "cache_kwargs", "caching_groups", "client_ttl", "enable_pre_call_checks",
    "optional_pre_call_checks", "enable_tag_filtering", "tag_filtering_match_any",
    "default_litellm_params", "default_max_parallel_requests", "default_priority",
    "provider_budget_config", "polling_interval", "set_verbose", "debug_level",
    "routing_groups", "alerting_config", "assistants_config", "router_general_settings",
    "ignore_invalid_deployments", "model_group_affinity_config", NULL};

const struct sl_cfg_section sl_cfg_router_section = {
    router_keys, N(router_keys), router_known, "not supported yet, ignored", SL_UNKNOWN_WARN,
    "unknown router_settings key, ignored", NULL};

/* ---- litellm_settings (and its cache_params) ---- */

static int finish_cache_params(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                               void *target, yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  s->cache_type_node = seen[0] ? seen[0] : map;
  s->cache_emb_node = seen[5] ? seen[5] : seen[6] ? seen[6] : map;
  s->cluster.cache.map = map;
  s->cluster.ns_node = seen[2] ? seen[2] : map;
  return 0;
}

/* Order matters: finish_cache_params reads seen[0] (type), seen[5] and seen[6] (the
 * embedding model, either spelling). */
static const struct sl_cfg_key cache_params_keys[] = {
    KEY("type", SL_K_STR, SCR(c.cache.type)),
    KEY("ttl", SL_K_NUM, SCR(c.cache.ttl_s), .min = 1), /* the store keeps whole seconds */
    KEY("namespace", SL_K_STR, SCR(c.cache.namespace_)),
    KEY("shared", SL_K_BOOL, SCR(c.cache.shared)),
    KEY("similarity_threshold", SL_K_NUM, SCR(c.cache.similarity_threshold)), /* <= 1: finish_litellm */
    KEY("redis_semantic_cache_embedding_model", SL_K_STR, SCR(c.cache.embedding_model)),
    KEY("qdrant_semantic_cache_embedding_model", SL_K_STR, SCR(c.cache.embedding_model_q)),
    /* type: redis: the Redis of cluster mode, and its second cache tier (config_cluster.c
     * reads these; with the LMDB types they are warned about as ignored) */
    KEY("host", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_HOST]), .fn = sl_cfg_keep_node),
    KEY("port", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_PORT]), .fn = sl_cfg_keep_node),
    KEY("username", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_USERNAME]), .fn = sl_cfg_keep_node),
    KEY("password", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_PASSWORD]), .fn = sl_cfg_keep_node),
    KEY("db", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_DB]), .fn = sl_cfg_keep_node),
    KEY("ssl", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_SSL]), .fn = sl_cfg_keep_node),
    KEY("url", SL_K_FUNC, SCR(cluster.cache.v[SL_CFG_REDIS_URL]), .fn = sl_cfg_keep_node),
    KEY("max_connections", SL_K_FUNC, SCR(cluster.cache.max_conn), .fn = sl_cfg_keep_node),
    KEY("redis_startup_nodes", SL_K_FUNC, SCR(cluster.cache), .fn = sl_cfg_redis_unsupported),
    KEY("startup_nodes", SL_K_FUNC, SCR(cluster.cache), .fn = sl_cfg_redis_unsupported),
    KEY("service_name", SL_K_FUNC, SCR(cluster.cache), .fn = sl_cfg_redis_unsupported),
    KEY("sentinel_nodes", SL_K_FUNC, SCR(cluster.cache), .fn = sl_cfg_redis_unsupported),
};

/* supported_call_types, mode, s3_*, ...: meaningless for LMDB */
static const struct sl_cfg_section cache_params_section = {
    cache_params_keys, N(cache_params_keys), NULL, NULL, SL_UNKNOWN_WARN,
    "not used by sluice's LMDB cache, ignored", finish_cache_params};

static int finish_litellm(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                          void *target, yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  s->litellm_budget_node = map;
  if (s->litellm_budget_duration) { /* the gateway's period: a typo is refused here, never
                                       read later as "never resets" */
    struct sl_cfg_pair *pairs = NULL;
    size_t np = 0;
    int prc = sl_cfg_pairs(c, map, path, &pairs, &np);
    if (prc)
      return prc;
    yaml_node_t *at = map;
    for (size_t i = 0; i < np; i++)
      if (pairs[i].k->type == YAML_SCALAR_NODE &&
          strcmp((const char *)pairs[i].k->data.scalar.value, "budget_duration") == 0)
        at = pairs[i].v;
    free(pairs);
    char bp[SL_CFG_PATH];
    sl_cfg_path_join(bp, path, "budget_duration");
    if ((prc = sl_cfg_check_period(c, at, bp, s->litellm_budget_duration)))
      return prc;
  }
  const char *t = s->c.cache.type;
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "cache_params.type");
  struct sl_cache_settings *cs = &s->c.cache;
  if (cs->similarity_threshold > 1.0) {
    char tp[SL_CFG_PATH];
    sl_cfg_path_join(tp, path, "cache_params.similarity_threshold");
    return sl_cfg_fail(c, s->cache_type_node, tp, "must be between 0 and 1 (a cosine similarity), got %g",
                       cs->similarity_threshold);
  }
  if (cs->embedding_model_q) { /* the qdrant spelling of the same key */
    if (cs->embedding_model && strcmp(cs->embedding_model, cs->embedding_model_q) != 0) {
      char mp[SL_CFG_PATH];
      sl_cfg_path_join(mp, path, "cache_params.qdrant_semantic_cache_embedding_model");
      return sl_cfg_fail(c, s->cache_type_node, mp, "names another embedding model than "
                         "redis_semantic_cache_embedding_model ('%s' vs '%s'): give one",
                         cs->embedding_model_q, cs->embedding_model);
    }
    free(cs->embedding_model);
    cs->embedding_model = cs->embedding_model_q;
    cs->embedding_model_q = NULL;
  }
  if (strcmp(t, "local") == 0 || strcmp(t, "disk") == 0)
    return 0;
  if (strcmp(t, "redis") == 0) /* the local LMDB cache stays; Redis is cluster mode's, and its second
                                  cache tier with cache: true (config_cluster.c) */
    return 0;
  if (strcmp(t, "semantic") == 0 || strcmp(t, "redis-semantic") == 0 || strcmp(t, "qdrant-semantic") == 0) {
    cs->semantic = true;
    if (strcmp(t, "semantic") != 0 && cs->enabled)
      sl_cfg_warn(c, s->cache_type_node, kp, "cache type '%s' is served by sluice's own semantic cache: "
                  "the vectors live in its LMDB store (DATA_DIR/vectors), not in %s", t,
                  t[0] == 'r' ? "Redis" : "Qdrant");
    return 0;
  }
  if (s->c.cache.enabled)
    return sl_cfg_fail(c, s->cache_type_node, kp, "cache type '%s' is not supported: sluice "
                       "caches in LMDB (use type: local, disk or semantic)", t);
  /* LiteLLM reads cache_params only when cache is on: so does sluice */
  sl_cfg_warn(c, s->cache_type_node, kp, "cache type '%s' is not supported by sluice (it caches "
              "in LMDB); ignored because litellm_settings.cache is not true", t);
  char *local = strdup("local");
  if (!local)
    return -ENOMEM;
  free(s->c.cache.type);
  s->c.cache.type = local;
  return 0;
}

static const struct sl_cfg_key litellm_keys[] = {
    KEY("num_retries", SL_K_INT, SCR(litellm_retries), .max = I32),
    KEY("request_timeout", SL_K_NUM, SCR(litellm_timeout), .flags = SL_F_POSITIVE),
    KEY("fallbacks", SL_K_FUNC, SCR(litellm_fb[SL_CFG_FB_GENERAL]), .fn = parse_fallbacks),
    KEY("context_window_fallbacks", SL_K_FUNC, SCR(litellm_fb[SL_CFG_FB_CONTEXT_WINDOW]),
        .fn = parse_fallbacks),
    KEY("content_policy_fallbacks", SL_K_FUNC, SCR(litellm_fb[SL_CFG_FB_CONTENT_POLICY]),
        .fn = parse_fallbacks),
    KEY("default_fallbacks", SL_K_FUNC, SCR(litellm_default_fb), .fn = parse_default_fallbacks),
    KEY("allowed_fails", SL_K_INT, SCR(litellm_allowed_fails), .max = I32),
    KEY("cooldown_time", SL_K_NUM, SCR(litellm_cooldown)),
    KEY("cache", SL_K_BOOL, SCR(c.cache.enabled)),
    KEY("cache_params", SL_K_MAP, 0, .sub = &cache_params_section),
    KEY("max_budget", SL_K_NUM, SCR(litellm_max_budget)),
    KEY("budget_duration", SL_K_STR, SCR(litellm_budget_duration)),
    /* "otel" turns tracing on; other callbacks are warned about (config_tracing.c) */
    KEY("callbacks", SL_K_FUNC, 0, .fn = sl_cfg_parse_callbacks),
    KEY("success_callback", SL_K_FUNC, 0, .fn = sl_cfg_parse_callbacks),
    KEY("failure_callback", SL_K_FUNC, 0, .fn = sl_cfg_parse_callbacks),
};

const struct sl_cfg_section sl_cfg_litellm_section = {
    litellm_keys, N(litellm_keys), NULL, NULL, SL_UNKNOWN_WARN, "not supported yet, ignored",
    finish_litellm};

/* ---- resolving: precedence, then names checked against model_list ---- */

struct groups {
  const char **names; /* model groups [0, ngroups), then aliases */
  size_t ngroups, n;
  const struct sl_config *cfg; /* for its routers (config_routers.c), named in errors */
};

static bool in_names(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

static int groups_build(const struct sl_cfg_scratch *s, struct groups *g) {
  g->names = malloc((s->c.ndeployments + s->c.naliases + 1) * sizeof *g->names);
  if (!g->names)
    return -ENOMEM;
  g->n = 0;
  g->cfg = &s->c;
  for (size_t i = 0; i < s->c.ndeployments; i++)
    if (!in_names(g->names, g->n, s->c.deployments[i].model_name))
      g->names[g->n++] = s->c.deployments[i].model_name;
  g->ngroups = g->n;
  for (size_t i = 0; i < s->c.naliases; i++)
    if (s->c.aliases[i].alias)
      g->names[g->n++] = s->c.aliases[i].alias;
  return 0;
}

static int unknown_group(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path,
                         const char *name, const struct groups *g, size_t ncands,
                         const char *why) {
  for (size_t i = 0; i < g->cfg->nrouters; i++)
    if (strcmp(g->cfg->routers[i].name, name) == 0)
      return sl_cfg_fail(c, at, path, "'%.80s' is a router; aliases and fallbacks name groups of deployments "
                         "(a router's target groups carry their own fallbacks)", name);
  const char *guess = sl_config_did_you_mean(name, g->names, ncands);
  char hint[SL_CFG_PATH + 32] = "";
  if (guess)
    snprintf(hint, sizeof hint, "; did you mean '%s'?", guess);
  return sl_cfg_fail(c, at, path, "unknown model group '%.80s' (%s%s)", name, why, hint);
}

#define NOT_A_GROUP "not a model_name in model_list or a router_settings.model_group_alias"

static int check_aliases(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s, const struct groups *g) {
  for (size_t i = 0; i < s->c.naliases; i++) {
    const struct sl_alias *a = &s->c.aliases[i];
    yaml_node_t *key = s->alias_nodes[3 * i], *val = s->alias_nodes[3 * i + 1];
    char kp[SL_CFG_PATH], tp[SL_CFG_PATH];
    sl_cfg_path_join(kp, ALIAS_PATH, a->alias);
    if (in_names(g->names, g->ngroups, a->alias))
      return sl_cfg_fail(c, key, kp, "'%s' is a model_name in model_list; an alias must not "
                         "hide a model group (remove the alias or rename one of them)", a->alias);
    if (val->type == YAML_MAPPING_NODE)
      sl_cfg_path_join(tp, kp, "model");
    else
      snprintf(tp, sizeof tp, "%s", kp);
    if (in_names(g->names, g->ngroups, a->group))
      continue;
    if (in_names(g->names, g->n, a->group))
      return sl_cfg_fail(c, s->alias_nodes[3 * i + 2], tp, "'%s' is itself an alias; an alias "
                         "must name a model_name in model_list", a->group);
    return unknown_group(c, s->alias_nodes[3 * i + 2], tp, a->group, g, g->ngroups,
                         "an alias must name a model_name in model_list");
  }
  return 0;
}

/* Checks one name list; nodes[0] is its value node (a scalar for the one-name shorthand). */
static int check_names(struct sl_cfg_ctx *c, const struct sl_name_list *l,
                       yaml_node_t *const *nodes, const char *path, const struct groups *g) {
  for (size_t j = 0; j < l->n; j++) {
    if (in_names(g->names, g->n, l->names[j]))
      continue;
    char tp[SL_CFG_PATH];
    if (nodes[0]->type == YAML_SCALAR_NODE)
      snprintf(tp, sizeof tp, "%s", path);
    else
      sl_cfg_path_index(tp, path, j);
    return unknown_group(c, nodes[1 + j], tp, l->names[j], g, g->n, NOT_A_GROUP);
  }
  return 0;
}

static int check_fallbacks(struct sl_cfg_ctx *c, const struct sl_cfg_fallbacks *f,
                           const struct groups *g) {
  size_t k = 0;
  for (size_t i = 0; i < f->n; i++) {
    const struct sl_fallback *fb = &f->v[i];
    char ip[SL_CFG_PATH], kp[SL_CFG_PATH];
    sl_cfg_path_index(ip, f->path, i);
    sl_cfg_path_join(kp, ip, fb->group);
    yaml_node_t *key = f->nodes[k];
    /* "*": LiteLLM's generic entry, for groups without their own */
    if (strcmp(fb->group, "*") != 0 && !in_names(g->names, g->n, fb->group))
      return unknown_group(c, key, kp, fb->group, g, g->n, NOT_A_GROUP);
    for (size_t j = 0; j < i; j++) {
      if (strcmp(f->v[j].group, fb->group) == 0) {
        sl_cfg_warn(c, key, kp, "'%s' already has an entry at %s[%zu]; LiteLLM uses the first, "
                    "so this one is ignored", fb->group, f->path, j);
        break;
      }
    }
    int rc = check_names(c, &fb->to, f->nodes + k + 1, kp, g);
    if (rc)
      return rc;
    k += 2 + fb->to.n;
  }
  return 0;
}

static void take_fallbacks(struct sl_cfg_fallbacks *router, struct sl_cfg_fallbacks *litellm,
                           struct sl_fallback **dst, size_t *n) {
  struct sl_cfg_fallbacks *w = router->path[0] ? router : litellm->path[0] ? litellm : NULL;
  if (!w)
    return;
  *dst = w->v;
  *n = w->n;
  w->v = NULL;
  w->n = 0;
}

/* The cooldown doubles from cooldown_time up to cooldown_max: the cap cannot be below the
 * start. When cooldown_max is not set, it grows to cooldown_time (a LiteLLM config with
 * cooldown_time: 600 must start). */
static int resolve_cooldown(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  double first_ms = s->c.cooldown_time_s * 1000;
  if (first_ms <= (double)s->c.cooldown_max_ms)
    return 0;
  if (s->cooldown_max_node)
    return sl_cfg_fail(c, s->cooldown_max_node, "sluice_settings.cooldown_max", "shorter than "
                       "%s (%gs); the cap on a cooldown must be at least the first cooldown",
                       s->router_cooldown >= 0 ? "router_settings.cooldown_time"
                                               : "litellm_settings.cooldown_time",
                       s->c.cooldown_time_s);
  s->c.cooldown_max_ms = first_ms >= 1e15 ? (uint64_t)1e15 : (uint64_t)(first_ms + 0.5);
  return 0;
}

/* litellm_settings.max_budget / budget_duration: LiteLLM's budget for the whole proxy,
 * the same one as general_settings' (which sluice also reads); one place may set it. */
static int resolve_budget(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  struct sl_config *cfg = &s->c;
  if (s->litellm_max_budget >= 0) {
    if (cfg->max_budget > 0)
      return sl_cfg_fail(c, s->litellm_budget_node, "litellm_settings.max_budget", "also set in "
                         "general_settings.max_budget; set the gateway's budget in one place");
    cfg->max_budget = s->litellm_max_budget;
  }
  if (s->litellm_budget_duration) {
    if (cfg->budget_duration)
      return sl_cfg_fail(c, s->litellm_budget_node, "litellm_settings.budget_duration", "also set "
                         "in general_settings.budget_duration; set it in one place");
    cfg->budget_duration = s->litellm_budget_duration;
    s->litellm_budget_duration = NULL;
  }
  return 0;
}

int sl_cfg_router_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  struct sl_config *cfg = &s->c;
  /* router_settings.stream_timeout: the streams' timeout of deployments without their own */
  for (size_t i = 0; s->router_stream_timeout > 0 && i < cfg->ndeployments; i++)
    if (cfg->deployments[i].stream_timeout_s <= 0)
      cfg->deployments[i].stream_timeout_s = s->router_stream_timeout;
  int brc = resolve_budget(c, s);
  if (brc)
    return brc;
  /* router_settings wins over litellm_settings; else the one defaults table */
  const struct sl_config *d = &sl_cfg_defaults;
  cfg->num_retries = s->router_retries >= 0    ? s->router_retries
                     : s->litellm_retries >= 0 ? s->litellm_retries
                                               : d->num_retries;
  cfg->timeout_s = s->router_timeout > 0    ? s->router_timeout
                   : s->litellm_timeout > 0 ? s->litellm_timeout
                                            : d->timeout_s;
  cfg->allowed_fails = s->router_allowed_fails >= 0    ? s->router_allowed_fails
                       : s->litellm_allowed_fails >= 0 ? s->litellm_allowed_fails
                                                       : d->allowed_fails;
  cfg->cooldown_time_s = s->router_cooldown >= 0    ? s->router_cooldown
                         : s->litellm_cooldown >= 0 ? s->litellm_cooldown
                                                    : d->cooldown_time_s;
  int rc = resolve_cooldown(c, s);
  if (rc)
    return rc;

  struct groups g;
  if (groups_build(s, &g))
    return -ENOMEM;
  rc = check_aliases(c, s, &g);
  /* the semantic cache's embeddings group (its vectors come through sluice) must be one */
  const char *em = cfg->cache.embedding_model;
  if (rc == 0 && em && cfg->cache.semantic && !in_names(g.names, g.ngroups, em))
    rc = sl_cfg_fail(c, s->cache_emb_node, "litellm_settings.cache_params.redis_semantic_cache_embedding_model",
                     "'%s' is not a model_name in model_list (the embeddings group for the semantic cache)", em);
  /* both sections' lists are checked (a typo is an error even where it is overridden) */
  for (int k = 0; rc == 0 && k < SL_CFG_FB_KINDS; k++) {
    rc = check_fallbacks(c, &s->router_fb[k], &g);
    if (rc == 0)
      rc = check_fallbacks(c, &s->litellm_fb[k], &g);
  }
  struct sl_cfg_names *dfb[] = {&s->router_default_fb, &s->litellm_default_fb};
  for (size_t k = 0; rc == 0 && k < N(dfb); k++)
    if (dfb[k]->path[0])
      rc = check_names(c, &dfb[k]->l, dfb[k]->nodes, dfb[k]->path, &g);
  free(g.names);
  if (rc)
    return rc;

  take_fallbacks(&s->router_fb[SL_CFG_FB_GENERAL], &s->litellm_fb[SL_CFG_FB_GENERAL],
                 &cfg->fallbacks, &cfg->nfallbacks);
  take_fallbacks(&s->router_fb[SL_CFG_FB_CONTEXT_WINDOW],
                 &s->litellm_fb[SL_CFG_FB_CONTEXT_WINDOW], &cfg->context_window_fallbacks,
                 &cfg->ncontext_window_fallbacks);
  take_fallbacks(&s->router_fb[SL_CFG_FB_CONTENT_POLICY],
                 &s->litellm_fb[SL_CFG_FB_CONTENT_POLICY], &cfg->content_policy_fallbacks,
                 &cfg->ncontent_policy_fallbacks);
  struct sl_cfg_names *w = s->router_default_fb.path[0]    ? &s->router_default_fb
                           : s->litellm_default_fb.path[0] ? &s->litellm_default_fb
                                                           : NULL;
  if (w) {
    cfg->default_fallbacks = w->l;
    memset(&w->l, 0, sizeof w->l);
  }
  return 0;
}

static void fallbacks_scratch_clear(struct sl_cfg_fallbacks *f) {
  sl_cfg_fallbacks_free(f->v, f->n);
  free(f->nodes);
  memset(f, 0, sizeof *f);
}

static void names_scratch_clear(struct sl_cfg_names *f) {
  sl_cfg_names_free(&f->l);
  free(f->nodes);
  memset(f, 0, sizeof *f);
}

void sl_cfg_router_scratch_clear(struct sl_cfg_scratch *s) {
  for (int k = 0; k < SL_CFG_FB_KINDS; k++) {
    fallbacks_scratch_clear(&s->router_fb[k]);
    fallbacks_scratch_clear(&s->litellm_fb[k]);
  }
  names_scratch_clear(&s->router_default_fb);
  names_scratch_clear(&s->litellm_default_fb);
  free(s->alias_nodes);
  s->alias_nodes = NULL;
}
