/* What config.yaml's keys mean to sluice: one key table per section (model_list entries,
 * litellm_params, model_info, general_settings, the top level) and the "finish" hooks that
 * check keys against each other (provider and api_base, deployment ids, master_key), plus the
 * scratch state every section writes into. router_settings and litellm_settings live in
 * config_router.c, sluice_settings in config_sluice.c.
 * The one idea: LiteLLM's keys mean what they mean in LiteLLM; keys LiteLLM knows but sluice
 * does not implement are warned about once and ignored, providers sluice cannot speak to are
 * refused, and sluice's own section (sluice_settings) refuses unknown keys outright.
 * Every key read here is listed in README.md's config reference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"
#include "net/wire/provider.h"
#include "policy/duration.h"

#define N SL_CFG_N
#define I32 INT32_MAX
#define I64 INT64_MAX
#define KEY SL_CFG_KEY

/* ---- providers (the adapter table, and LiteLLM's names sluice does not speak to, are
 * net/wire/provider.c) ---- */

/* ---- model_list[].litellm_params and model_info ---- */

struct dep_scratch {
  struct sl_deployment d;
  double lp_in_cost, lp_out_cost; /* litellm_params custom pricing; -1: unset */
  int64_t top_rpm, top_tpm;       /* model_list[].rpm/tpm (LiteLLM reads both places) */
  yaml_node_t *id_node;
  char *mi_region;                /* model_info.region (litellm_params.region wins) */
  yaml_node_t *region_node;
};

#define DEP(f) offsetof(struct dep_scratch, f)

/* "openai/gpt-4o" -> provider "openai", upstream "gpt-4o"; "gpt-4o" -> "openai", "gpt-4o". */
static int split_model(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path,
                       struct sl_deployment *d) {
  const char *m = d->model, *slash = strchr(m, '/');
  if (!*m || (slash && (slash == m || !slash[1])))
    return sl_cfg_fail(c, at, path, "expected 'provider/model' or a model name, got '%s'", m);
  if (strcmp(m, "*") == 0) { /* LiteLLM's bare "*": the provider comes from each name (config_wild.c) */
    d->wild |= SL_WILD_INFER;
    d->provider = strdup("openai");
    d->upstream_model = strdup("*");
    return d->provider && d->upstream_model ? 0 : -ENOMEM;
  }
  d->provider = slash ? strndup(m, (size_t)(slash - m)) : strdup("openai");
  d->upstream_model = strdup(slash ? slash + 1 : m);
  return d->provider && d->upstream_model ? 0 : -ENOMEM;
}

static int unsupported_provider(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path,
                                const struct sl_deployment *d) {
  char names[512];
  sl_provider_names(names, sizeof names);
  if (sl_provider_litellm_only(d->provider))
    return sl_cfg_fail(c, at, path, "provider '%s' is not supported yet (supported: %s, and any "
                       "OpenAI-compatible server as openai/ with api_base)", d->provider, names);
  return sl_cfg_fail(c, at, path,
                     "provider '%s' is not supported yet (supported: %s, and any OpenAI-compatible "
                     "server as openai/ with api_base); if '%s' is the model name your server "
                     "expects, write 'openai/%s' or 'hosted_vllm/%s' and set api_base",
                     d->provider, names, d->model, d->model, d->model);
}

static int set_api_base(struct sl_cfg_ctx *c, const struct sl_provider *pv, yaml_node_t *map,
                        yaml_node_t *base_node, const char *path, struct sl_deployment *d) {
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "api_base");
  if (!d->api_base) {
    if (!pv->default_base)
      return sl_cfg_fail(c, map, kp,
                         "missing; provider '%s' needs api_base (the server's URL, e.g. "
                         "http://127.0.0.1:8000/v1)", d->provider);
    if (!(d->api_base = strdup(pv->default_base)))
      return -ENOMEM;
  }
  struct sl_config_url u;
  const char *why = "invalid URL";
  int rc = sl_config_parse_url(d->api_base, &u, &why);
  if (rc == -EINVAL && strchr(d->api_base, '@')) /* may hold a password: never echoed */
    return sl_cfg_fail(c, base_node, kp, "expected an http(s) URL (%s); the value is not shown "
                       "because it may contain credentials", why);
  if (rc == -EINVAL) {
    char shown[512]; /* a query string may hold a key ("?key=..."): its values are not shown */
    sl_config_redact_url(d->api_base, shown, sizeof shown);
    return sl_cfg_fail(c, base_node, kp, "expected an http(s) URL, got '%s' (%s)", shown, why);
  }
  if (rc)
    return rc;
  d->host = u.host;
  d->port = u.port;
  d->tls = u.tls;
  d->base_path = u.path;
  size_t n = strlen(d->api_base); /* keep api_base as written, minus trailing '/' */
  while (n && d->api_base[n - 1] == '/')
    d->api_base[--n] = 0;
  return 0;
}

static void set_api_key_fallback(struct sl_cfg_ctx *c, const struct sl_provider *pv, bool base_set,
                                 yaml_node_t *map, const char *path, struct sl_deployment *d) {
  if (d->api_key && !d->api_key[0]) { /* "" means unset, as in LiteLLM (Python) */
    free(d->api_key);
    d->api_key = NULL;
  }
  if (d->api_key || !pv->key_env[0] || (pv->key_env_default_base_only && base_set))
    return;
  for (size_t i = 0; i < N(pv->key_env) && pv->key_env[i]; i++) {
    const char *v = getenv(pv->key_env[i]);
    if (v && *v) {
      d->api_key = strdup(v); /* NULL on ENOMEM: the request then fails with 401, not here */
      return;
    }
  }
  if (pv->key_optional)
    return;
  char kp[SL_CFG_PATH], shown[512];
  sl_cfg_path_join(kp, path, "api_key");
  sl_config_redact_url(d->api_base, shown, sizeof shown);
  const char *alt = pv->key_env[1];
  sl_cfg_warn_topic(c, map, kp, pv->key_env[0], "not set and %s%s%s%s is not set in the environment; "
                    "requests to %s go without a key", pv->key_env[0], alt ? " (or " : "",
                    alt ? alt : "", alt ? ")" : "", shown);
}

static int finish_litellm_params(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                                 void *target, yaml_node_t *const *seen) {
  struct sl_deployment *d = &((struct dep_scratch *)target)->d;
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "model");
  int rc = split_model(c, seen[0], kp, d);
  if (rc)
    return rc;
  const struct sl_provider *pv = sl_provider_find(d->provider);
  if (!pv)
    return unsupported_provider(c, seen[0], kp, d);
  d->ops = pv;
  if ((rc = sl_cfg_cloud_finish(c, path, map, seen[0], d))) /* Bedrock, Vertex AI: config_cloud.c */
    return rc;
  bool base_set = d->api_base != NULL;
  if (d->wild & SL_WILD_INFER) /* what the per-provider copies keep (config_wild.c) */
    d->wild |= (base_set ? SL_WILD_OWN_BASE : 0u) | (d->api_key && d->api_key[0] ? SL_WILD_OWN_KEY : 0u);
  if ((rc = set_api_base(c, pv, map, seen[1], path, d)))
    return rc;
  set_api_key_fallback(c, pv, base_set, map, path, d);
  return 0;
}

/* Order matters: finish_litellm_params reads seen[0] (model) and seen[1] (api_base). */
static const struct sl_cfg_key litellm_params_keys[] = {
    KEY("model", SL_K_STR, DEP(d.model), .flags = SL_F_REQUIRED),
    KEY("api_base", SL_K_STR, DEP(d.api_base)),
    KEY("api_version", SL_K_STR, DEP(d.api_version)),
    KEY("api_key", SL_K_STR, DEP(d.api_key)),
    KEY("timeout", SL_K_NUM, DEP(d.timeout_s)),
    KEY("stream_timeout", SL_K_NUM, DEP(d.stream_timeout_s)),
    KEY("rpm", SL_K_I64, DEP(d.rpm), .max = I64),
    KEY("tpm", SL_K_I64, DEP(d.tpm), .max = I64),
    KEY("weight", SL_K_NUM, DEP(d.weight)),
    KEY("order", SL_K_INT, DEP(d.order), .min = 1, .max = I32),
    KEY("max_retries", SL_K_INT, DEP(d.max_retries), .max = I32),
    KEY("input_cost_per_token", SL_K_NUM, DEP(lp_in_cost)),
    KEY("output_cost_per_token", SL_K_NUM, DEP(lp_out_cost)),
    KEY("region", SL_K_STR, DEP(d.region)),
    KEY("aws_access_key_id", SL_K_STR, DEP(d.aws_access_key_id)),
    KEY("aws_secret_access_key", SL_K_STR, DEP(d.aws_secret_access_key)),
    KEY("aws_session_token", SL_K_STR, DEP(d.aws_session_token)),
    KEY("aws_region_name", SL_K_STR, DEP(d.aws_region_name)),
    KEY("aws_profile_name", SL_K_STR, DEP(d.aws_profile_name)),
    KEY("aws_bedrock_runtime_endpoint", SL_K_STR, DEP(d.aws_bedrock_runtime_endpoint)),
    KEY("vertex_project", SL_K_STR, DEP(d.vertex_project)),
    KEY("vertex_location", SL_K_STR, DEP(d.vertex_location)),
    KEY("vertex_credentials", SL_K_STR, DEP(d.vertex_credentials)),
};

static const struct sl_cfg_section litellm_params_section = {
    litellm_params_keys, N(litellm_params_keys), NULL, NULL, SL_UNKNOWN_WARN,
    "not supported by sluice yet, ignored", finish_litellm_params};

static int finish_model_info(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                             void *target, yaml_node_t *const *seen) {
  struct dep_scratch *ds = target;
  ds->id_node = seen[0];
  if (seen[4]) ds->region_node = seen[4];
  if (ds->d.id && !ds->d.id[0]) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "id");
    return sl_cfg_fail(c, seen[0], kp, "must not be empty");
  }
  return 0;
}

static const char *const responses_api_choices[] = {"native", "translate", NULL};

static const struct sl_cfg_key model_info_keys[] = {
    KEY("id", SL_K_ID, DEP(d.id)),
    KEY("input_cost_per_token", SL_K_NUM, DEP(d.input_cost_per_token)),
    KEY("output_cost_per_token", SL_K_NUM, DEP(d.output_cost_per_token)),
    KEY("max_input_tokens", SL_K_I64, DEP(d.max_input_tokens), .max = I64),
    KEY("region", SL_K_STR, DEP(mi_region)),
    KEY("responses_api", SL_K_ENUM, DEP(d.responses_api), .choices = responses_api_choices),
};

/* LiteLLM allows arbitrary model_info keys (mode, base_model, supports_*...): ignore them. */
static const struct sl_cfg_section model_info_section = {
    model_info_keys, N(model_info_keys), NULL, NULL, SL_UNKNOWN_IGNORE, NULL, finish_model_info};

/* The deployment's region: litellm_params.region or model_info.region (the same when
 * both are set), a region name (policy/region.h). */
static int check_region(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, struct dep_scratch *ds) {
  struct sl_deployment *d = &ds->d;
  char kp[SL_CFG_PATH];
  if (ds->mi_region) {
    if (d->region && strcmp(d->region, ds->mi_region)) {
      sl_cfg_path_join(kp, path, "model_info.region");
      return sl_cfg_fail(c, ds->region_node ? ds->region_node : map, kp,
                         "'%.80s' differs from litellm_params.region '%.80s'; set the region in one place",
                         ds->mi_region, d->region);
    }
    free(d->region);
    d->region = ds->mi_region;
    ds->mi_region = NULL;
    sl_cfg_path_join(kp, path, "model_info.region");
  } else {
    sl_cfg_path_join(kp, path, "litellm_params.region");
  }
  if (d->region && !sl_policy_region_name_ok(d->region, strlen(d->region)))
    return sl_cfg_fail(c, ds->region_node ? ds->region_node : map, kp,
                       "expected a region name (1 to %d characters of letters, digits, '-', '_', '.'), got '%.80s'",
                       SL_REGION_NAME_MAX, d->region);
  return 0;
}

static int finish_deployment(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                             void *target, yaml_node_t *const *seen) {
  struct dep_scratch *ds = target;
  struct sl_deployment *d = &ds->d;
  if (!d->model_name[0]) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "model_name");
    return sl_cfg_fail(c, seen[0], kp, "must not be empty");
  }
  /* litellm_params wins over the deployment-level rpm/tpm, and over model_info pricing */
  if (d->rpm < 0)
    d->rpm = ds->top_rpm > 0 ? ds->top_rpm : 0;
  if (d->tpm < 0)
    d->tpm = ds->top_tpm > 0 ? ds->top_tpm : 0;
  if (ds->lp_in_cost >= 0)
    d->input_cost_per_token = ds->lp_in_cost;
  if (ds->lp_out_cost >= 0)
    d->output_cost_per_token = ds->lp_out_cost;
  int rc = sl_cfg_wild_check(c, path, seen[0] ? seen[0] : map, seen[1] ? seen[1] : map, d);
  return rc ? rc : check_region(c, path, map, ds);
}

static const struct sl_cfg_key deployment_keys[] = {
    KEY("model_name", SL_K_STR, DEP(d.model_name), .flags = SL_F_REQUIRED),
    KEY("litellm_params", SL_K_MAP, 0, .flags = SL_F_REQUIRED, .sub = &litellm_params_section),
    KEY("model_info", SL_K_MAP, 0, .sub = &model_info_section),
    KEY("rpm", SL_K_I64, DEP(top_rpm), .max = I64),
    KEY("tpm", SL_K_I64, DEP(top_tpm), .max = I64),
};

static const struct sl_cfg_section deployment_section = {
    deployment_keys, N(deployment_keys), NULL, NULL, SL_UNKNOWN_WARN,
    "unknown model_list entry key, ignored", finish_deployment};

/* ---- scratch: sl_config plus the settings whose precedence is resolved at the end ---- */

#define SCR SL_CFG_SCR

void sl_cfg_scratch_init(struct sl_cfg_scratch *s) {
  memset(s, 0, sizeof *s);
  s->router_retries = s->litellm_retries = -1;
  s->router_timeout = s->litellm_timeout = -1;
  s->router_allowed_fails = s->litellm_allowed_fails = -1;
  s->router_cooldown = s->litellm_cooldown = -1;
  s->router_stream_timeout = s->litellm_max_budget = -1;
  s->port = -1;
}

/* Every default of config.yaml's keys, in one table (README's config reference shows the same
 * values). Keys whose value LiteLLM takes from either router_settings or litellm_settings
 * (num_retries, timeout, allowed_fails, cooldown_time) fall back to these in
 * sl_cfg_router_resolve. To add a key with a default: its value here. */
const struct sl_config sl_cfg_defaults = {
    /* router_settings / litellm_settings */
    .num_retries = 2, /* LiteLLM's Router default (DEFAULT_MAX_RETRIES) */
    .timeout_s = 600, /* LiteLLM's */
    .routing_strategy = SL_STRAT_SHUFFLE,
    .max_fallbacks = 5,
    .allowed_fails = 3,
    .cooldown_time_s = 5,
    .retry_after_s = 0,
    /* sluice_settings */
    .listen_host = "127.0.0.1",
    .port = 4000,
    .data_dir = "./sluice-data",
    .max_body_bytes = 16u << 20,
    .max_header_bytes = 32u << 10,
    .max_json_depth = 64,
    .max_json_values = 500000,
    .header_timeout_ms = 10000,
    .body_timeout_ms = 30000,
    .keepalive_timeout_ms = 75000,
    .body_min_rate = 1024,
    .body_deadline_ms = 120000,
    .drain_timeout_ms = 30000,
    .connect_timeout_ms = 5000,
    .wild_models_refresh_ms = 600000,
    .log_level = "info",
    .stream_idle_timeout_ms = 60000,
    .cooldown_max_ms = 300000,
    .hedging = {.enabled = false,
                .delay_ms = 0,
                .quantile = 0.95,
                .min_delay_ms = 10,
                .max_extra = 1,
                .budget_ratio = 0.10,
                .budget_burst = 10},
    .access_log = true,
    /* litellm_settings.cache, cache_params; sluice_settings.cache */
    .cache = {.enabled = false, .type = "local", .ttl_s = 3600, .namespace_ = "", .max_size = (size_t)1 << 30,
              .similarity_threshold = 0.9, .semantic_max_entries = 10000},
    .responses = {.max_size = (size_t)256 << 20, .ttl_ms = 30ull * 86400 * 1000},
    /* cluster mode: general_settings.coordination_redis and friends, sluice_settings.cluster
     * (host "127.0.0.1", ns "sluice" and instance hostname:port are set where they apply:
     * config_cluster.c, core/cluster.c) */
    .cluster = {.redis = {.port = 6379, .timeout_ms = 100, .connect_timeout_ms = 1000, .heartbeat_ms = 1000},
                .cache_tier = false,
                .fail_closed_budget = false},
    .tracing = {.enabled = false, .capture_content = false, .sample_ratio = 1, .queue_size = 2048,
                .batch_size = 512, .schedule_delay_ms = 1000, .export_timeout_ms = 10000},
};

int sl_cfg_scratch_defaults(struct sl_cfg_scratch *s) {
  struct sl_config *c = &s->c;
  const struct sl_config *d = &sl_cfg_defaults;
  *c = *d;
  /* the strings are the config's own (freed with it) */
  c->listen_host = strdup(d->listen_host);
  c->data_dir = strdup(d->data_dir);
  c->log_level = strdup(d->log_level);
  c->cache.type = strdup(d->cache.type);
  c->cache.namespace_ = strdup(d->cache.namespace_);
  return c->listen_host && c->data_dir && c->log_level && c->cache.type && c->cache.namespace_
             ? 0
             : -ENOMEM;
}

void sl_cfg_scratch_clear(struct sl_cfg_scratch *s) {
  sl_cfg_config_clear(&s->c);
  sl_cfg_router_scratch_clear(s);
  free(s->listen);
  free(s->host);
  free(s->id_nodes);
  free(s->router_nodes);
  free(s->router_index);
  s->router_nodes = NULL;
  s->router_index = NULL;
  free(s->litellm_budget_duration);
  s->litellm_budget_duration = NULL;
  free(s->tracing_endpoint);
  free(s->tracing_headers);
  s->tracing_endpoint = s->tracing_headers = NULL;
  s->listen = s->host = NULL;
  s->id_nodes = NULL;
}

/* ---- model_list ---- */

static void dep_scratch_init(struct dep_scratch *ds) {
  memset(ds, 0, sizeof *ds);
  ds->d.rpm = ds->d.tpm = -1;
  ds->d.max_retries = -1;
  ds->lp_in_cost = ds->lp_out_cost = -1;
}

static int parse_model_list(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                            void *target) {
  struct sl_cfg_scratch *s = target;
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of deployments, got %s",
                       sl_cfg_node_desc(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n == 0)
    return sl_cfg_fail(c, v, path, "empty; sluice has nothing to serve (add a deployment)");
  s->c.deployments = calloc(n, sizeof *s->c.deployments);
  s->id_nodes = calloc(n, sizeof *s->id_nodes);
  s->c.routers = calloc(n, sizeof *s->c.routers);
  s->router_nodes = calloc(n, sizeof *s->router_nodes);
  s->router_index = calloc(n, sizeof *s->router_index);
  if (!s->c.deployments || !s->id_nodes || !s->c.routers || !s->router_nodes || !s->router_index)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *item = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    if (item->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, item, ip, "expected a mapping with model_name and litellm_params, "
                         "got %s", sl_cfg_node_desc(item));
    if (sl_cfg_entry_is_router(c, item)) { /* a router: a group whose targets are groups */
      size_t k = s->c.nrouters++;
      s->router_nodes[k] = item;
      s->router_index[k] = i;
      int rc = sl_cfg_parse_router(c, item, ip, &s->c.routers[k]);
      if (rc)
        return rc;
      continue;
    }
    struct dep_scratch ds;
    dep_scratch_init(&ds);
    int rc = sl_cfg_parse_section(c, &deployment_section, item, ip, &ds);
    free(ds.mi_region);
    if (rc) {
      sl_cfg_deployment_clear(&ds.d);
      return rc;
    }
    size_t k = s->c.ndeployments++;
    s->c.deployments[k] = ds.d;
    s->id_nodes[k] = ds.id_node ? ds.id_node : item;
    s->router_index[n - 1 - k] = i; /* deployments' positions from the end (routers' from the start) */
  }
  return 0;
}

/* Deployments without model_info.id get "<model_name>-<n>", n counting from 0 within the
 * group in file order: readable in x-sluice-* headers and logs, stable while the group's
 * order is. Ids must be unique. */
static int assign_ids(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  struct sl_deployment *ds = s->c.deployments;
  for (size_t i = 0; i < s->c.ndeployments; i++) {
    if (ds[i].id)
      continue;
    size_t pos = 0;
    for (size_t j = 0; j < i; j++)
      pos += strcmp(ds[j].model_name, ds[i].model_name) == 0;
    if (asprintf(&ds[i].id, "%s-%zu", ds[i].model_name, pos) < 0) {
      ds[i].id = NULL;
      return -ENOMEM;
    }
  }
  for (size_t i = 0; i < s->c.ndeployments; i++) {
    for (size_t j = 0; j < i; j++) {
      if (strcmp(ds[i].id, ds[j].id))
        continue;
      char kp[SL_CFG_PATH], other[SL_CFG_PATH];
      size_t n = s->c.ndeployments + s->c.nrouters;
      sl_cfg_path_index(kp, "model_list", s->router_index[n - 1 - i]);
      sl_cfg_path_index(other, "model_list", s->router_index[n - 1 - j]);
      strncat(kp, ".model_info.id", sizeof kp - strlen(kp) - 1);
      return sl_cfg_fail(c, s->id_nodes[i], kp,
                         "id '%s' is also the id of %s (ids must be unique; deployments without "
                         "model_info.id get '<model_name>-<n>')", ds[i].id, other);
    }
  }
  return 0;
}

/* ---- general_settings ---- */

static int finish_general(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map,
                          void *target, yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  s->master_key_node = seen[0];
  if (s->c.master_key && !s->c.master_key[0]) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "master_key");
    return sl_cfg_fail(c, seen[0], kp, "empty; remove the key to run without authentication");
  }
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "budget_duration");
  return sl_cfg_check_period(c, seen[2], kp, s->c.budget_duration);
}

int sl_cfg_check_period(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, const char *text) {
  int64_t secs;
  if (!text || sl_policy_duration_parse_s(text, &secs) == 0)
    return 0;
  return sl_cfg_fail(c, at, path,
                     "expected a duration such as \"30d\", \"12h\", \"15m\" or \"45s\" (whole seconds, "
                     "at least 1s; units s, m, h, d, w, mo), got '%.80s'", text);
}

/* permitted_regions / preferred_regions: [name, ...] (policy/region.h) */
static int add_region(struct sl_cfg_ctx *c, yaml_node_t *e, const char *ip, char *name, void *ud) {
  int rc = sl_policy_region_list_add(ud, name, strlen(name));
  if (rc == -E2BIG)
    rc = sl_cfg_fail(c, e, ip, "more than %d regions", SL_REGION_LIST_MAX);
  else if (rc)
    rc = sl_cfg_fail(c, e, ip, "expected a region name (1 to %d characters of letters, digits, '-', '_', '.'), "
                     "got '%.80s'", SL_REGION_NAME_MAX, name);
  free(name);
  return rc;
}

static int parse_regions(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_region_list *l = field;
  l->n = 0;
  return sl_cfg_strings(c, v, path, "region names", add_region, l);
}

static const struct sl_cfg_key general_keys[] = {
    KEY("master_key", SL_K_STR, SCR(c.master_key)),
    KEY("max_budget", SL_K_NUM, SCR(c.max_budget)),
    KEY("budget_duration", SL_K_STR, SCR(c.budget_duration)),
    KEY("permitted_regions", SL_K_FUNC, SCR(c.permitted_regions), .fn = parse_regions),
    KEY("preferred_regions", SL_K_FUNC, SCR(c.preferred_regions), .fn = parse_regions),
    /* cluster mode (config_cluster.c) */
    KEY("coordination_redis", SL_K_FUNC, SCR(cluster.coord), .fn = sl_cfg_parse_coordination_redis),
    KEY("fail_closed_budget_enforcement", SL_K_BOOL, SCR(c.cluster.fail_closed_budget)),
};

static const struct sl_cfg_section general_section = {
    general_keys, N(general_keys), NULL, NULL, SL_UNKNOWN_WARN, "not supported yet, ignored",
    finish_general};

/* ---- the top level ---- */

static int warn_environment_variables(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                                      void *target) {
  sl_cfg_warn(c, c->cur_key, path, "not applied by sluice (export these variables before starting it), "
              "ignored");
  return 0;
}

static int resolve_master_key(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  yaml_node_t *at = s->master_key_node ? s->master_key_node : s->root;
  if (!s->c.master_key) { /* LiteLLM's fallback when general_settings has none */
    const char *env = getenv("LITELLM_MASTER_KEY");
    if (!env || !*env)
      return 0;
    if (!(s->c.master_key = strdup(env)))
      return -ENOMEM;
  }
  if (strncmp(s->c.master_key, "sk-", 3) != 0)
    sl_cfg_warn(c, at, "general_settings.master_key",
                "does not start with 'sk-' (LiteLLM requires that; sluice accepts it)");
  return 0;
}

static int finish_root(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                       yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  if (s->c.ndeployments == 0)
    return sl_cfg_fail(c, map, "model_list",
                       "missing or empty; sluice has nothing to serve (add a deployment)");
  int rc = resolve_master_key(c, s);
  if (rc == 0)
    rc = sl_cfg_wild_expand(c, s); /* before ids: the copies get theirs */
  if (rc == 0)
    rc = assign_ids(c, s);
  if (rc == 0)
    rc = sl_cfg_routers_resolve(c, &s->c, s->router_nodes, s->router_index);
  if (rc == 0)
    rc = sl_cfg_router_resolve(c, s);
  if (rc == 0)
    rc = sl_cfg_tracing_resolve(c, s);
  if (rc == 0)
    rc = sl_cfg_cloud_resolve(c, &s->c);
  return rc ? rc : sl_cfg_cluster_resolve(c, s);
}

static const struct sl_cfg_key root_keys[] = {
    KEY("model_list", SL_K_FUNC, 0, .fn = parse_model_list),
    KEY("general_settings", SL_K_MAP, 0, .sub = &general_section),
    KEY("router_settings", SL_K_MAP, 0, .sub = &sl_cfg_router_section),
    KEY("litellm_settings", SL_K_MAP, 0, .sub = &sl_cfg_litellm_section),
    KEY("sluice_settings", SL_K_MAP, 0, .sub = &sl_cfg_sluice_section),
    KEY("environment_variables", SL_K_FUNC, 0, .fn = warn_environment_variables),
};

static const char *const root_known[] = {
    "include", "credential_list", "callback_settings", "guardrails", "mcp_servers",
    "mcp_aliases", "vector_store_registry", "files_settings", "finetune_settings",
    "assistant_settings", "search_tools", "prompts", "pass_through_endpoints",
    "model_group_settings", "user_api_key_cache_ttl", NULL};

const struct sl_cfg_section sl_cfg_root_section = {
    root_keys, N(root_keys), root_known, "not supported yet, ignored", SL_UNKNOWN_WARN,
    "unknown top-level key, ignored", finish_root};
