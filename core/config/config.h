/* The configuration sluice runs with: a LiteLLM proxy config.yaml read into plain
 * structs once, in the master, before any worker forks, and compiled into a plan (plan.h).
 * Workers only read it.
 * Every key sluice reads is listed in README.md's config reference. */
#ifndef SL_CORE_CONFIG_H
#define SL_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config/plan.h"
#include "policy/route_rules.h"

struct sl_route_model;
#include "policy/region.h"

/* Wildcard deployments (LiteLLM's model_name "openai/\*", "*"): flags of sl_deployment.wild. */
enum {
  SL_WILD_PATTERN = 1u,  /* model_name holds one '*': served for every name it matches */
  SL_WILD_INFER = 2u,    /* litellm_params.model is a bare "*": the provider is inferred from
                            the name per request (one deployment per provider, config_wild.c) */
  SL_WILD_OWN_BASE = 4u, /* (load only) api_base was written, not the provider's default */
  SL_WILD_OWN_KEY = 8u,  /* (load only) api_key was written, not read from the environment */
};

/* One model_list entry. */
struct sl_deployment {
  char *model_name;      /* the group name clients ask for */
  char *model;           /* litellm_params.model as written, e.g. "openai/gpt-4o-mini" */
  char *provider;        /* "openai", "hosted_vllm", ... (prefix before '/'; "openai" if none) */
  const struct sl_provider *ops; /* its row in the adapter table (net/wire/provider.h) */
  char *upstream_model;  /* model name sent upstream, e.g. "gpt-4o-mini"; a wildcard
                            deployment's template ("*", "gpt-*": '*' is the matched part) */
  unsigned wild;         /* SL_WILD_* flags (core/config/config_wild.c); 0: not a wildcard */
  char *wild_name;       /* the pattern clients' names are matched against ("openai/\*", "*");
                            NULL unless wild */
  char *api_base;        /* e.g. "https://api.openai.com/v1" (default per provider) */
  char *api_key;         /* may be NULL; os.environ/NAME already resolved */
  char *api_version;     /* azure: the api-version query parameter (default 2024-10-21) */
  /* api_base split up */
  char *host;            /* IPv6 literals without brackets: add them for Host: / URLs */
  uint16_t port;
  bool tls;
  char *base_path;       /* path prefix without trailing '/', may be "" */

  double timeout_s;        /* litellm_params.timeout; 0: router/global default */
  double stream_timeout_s; /* litellm_params.stream_timeout; 0: none */
  int64_t rpm, tpm;        /* 0: unlimited */
  double weight;           /* 0: unset */
  int order;               /* 0: unset */
  int max_retries;         /* -1: unset */

  char *id;                       /* model_info.id, or "<model_name>-<n>" (n from 0 within
                                     the group, file order); unique across deployments */
  double input_cost_per_token;    /* model_info; 0 when unknown */
  double output_cost_per_token;
  int64_t max_input_tokens;       /* 0: unknown */
  char *region;                   /* litellm_params.region or model_info.region (data
                                     residency, policy/region.h); NULL: none */
  char *responses_api;            /* model_info.responses_api: "native" | "translate";
                                     NULL: the provider's default (openai, azure: native) */

  /* Bedrock and Vertex AI (core/config/config_cloud.c) */
  enum sl_dialect dialect;        /* SL_DIALECT_NONE for every other provider */
  char *aws_access_key_id, *aws_secret_access_key, *aws_session_token; /* SigV4; NULL: none */
  char *aws_region_name, *aws_profile_name, *aws_bedrock_runtime_endpoint;
  char *vertex_project, *vertex_location, *vertex_credentials;
  int gcp_cred;                   /* Vertex AI: index into sl_config.gcp_creds; -1: none */
};


struct sl_name_list {
  char **names;
  size_t n;
};

/* One entry of a LiteLLM fallbacks list: {group: [fallback groups...]}. */
struct sl_fallback {
  char *group;
  struct sl_name_list to;
};

/* router_settings.model_group_alias: alias -> group (value a string or {model, hidden}). */
struct sl_alias {
  char *alias;
  char *group;
  bool hidden; /* not listed by /v1/models */
};

struct sl_hedging {
  bool enabled;              /* default false */
  uint64_t delay_ms;         /* fixed hedge delay; 0 = adaptive (quantile below) */
  double quantile;           /* adaptive delay: this quantile of the deployment's recent
                                latency (TTFT for streams); default 0.95 */
  uint64_t min_delay_ms;     /* floor for the adaptive delay; default 10 */
  int max_extra;             /* extra attempts per request; default 1 */
  double budget_ratio;       /* hedges allowed per request, token bucket; default 0.10 */
  double budget_burst;       /* bucket size in hedges; default 10 */
};

/* A router: a model_list entry whose litellm_params.model is sluice_router/<kind> (or
 * LiteLLM's auto_router/complexity_router, or its semantic auto_router/<name>). Its model_name is a group clients ask for; its
 * targets are other groups (core/config/config_routers.c). */
enum sl_router_kind {
  SL_ROUTER_LEARNED = 0, /* learned score vs threshold: strong_model or weak_model */
  SL_ROUTER_RULES,       /* first matching rule's group, else default_model */
  SL_ROUTER_COST,        /* cheapest target whose quality meets the bar, within max_cost_usd */
  SL_ROUTER_CHAIN,       /* rules, then learned (as the cost router's bar when targets are set) */
  SL_ROUTER_TIERS,       /* LiteLLM complexity_router: tiers on bands of the learned score */
  SL_ROUTER_CASCADE,     /* targets cheap first: the next one when the answer fails a check */
  SL_ROUTER_SEMANTIC,    /* routes described by utterances: the nearest over its threshold (config_semantic.c) */
};

/* The cascade's answer checks (net/wire/answer_check.h's enum sl_answer_check, by name). */
#define SL_CASCADE_DEFAULT_CHECKS "length, empty, refusal, json, tool_args"

#define SL_ROUTER_MAX_TARGETS 32 /* cost targets per router (router.c weighs them on its stack) */

struct sl_router_target {
  char *group;
  double quality; /* [0, 1]; -1: unset (cost routers need it) */
};

/* A semantic route: a target group and the texts that describe it. */
struct sl_sem_route_cfg {
  char *group;
  char **utterances; /* embedded once per worker (core/router_semantic.c) */
  size_t nutterances;
  char *description; /* NULL: none; else embedded as one more utterance */
  double score_threshold; /* NAN: the router's score_threshold */
};

struct sl_router_cfg {
  char *name;              /* model_name */
  char *model;             /* litellm_params.model as written */
  enum sl_router_kind kind;
  char *strong_model, *weak_model, *default_model;
  char *router_model_path; /* NULL: the built-in model */
  double strong_fraction;  /* -1: unset */
  double threshold;        /* NAN: unset */
  size_t max_routed_bytes; /* default 4096 */
  bool shadow;
  bool allow_override;     /* per-request threshold / strong_fraction / max_cost_usd; default true */
  double max_cost_usd;     /* 0: none */
  double min_quality;      /* cost router's bar; -1: from the learned score */
  struct sl_router_target *targets; /* cost / chain */
  size_t ntargets;
  struct sl_rule *rules;   /* policy/route_rules.h; target = index into rule_targets */
  size_t nrules;
  char **rule_targets;     /* per rule: the group */
  char *tiers[4];          /* complexity_router: SIMPLE, MEDIUM, COMPLEX, REASONING groups */
  double tier_bounds[3];   /* simple_medium, medium_complex, complex_reasoning (score CDF) */
  /* cascade */
  unsigned checks;          /* 1u << enum sl_answer_check; default SL_CASCADE_DEFAULT_CHECKS */
  char **refusal_phrases;   /* NULL: the built-in list */
  size_t nrefusal_phrases;
  double min_mean_logprob;  /* the logprob check's bar; default -1.0 */
  bool stream_early;        /* stream_checks: early (default hold) */
  size_t early_tokens;      /* early: the events held and checked; default 20 */
  char *judge_model;        /* a chat group asked yes/no about a step's answer; NULL: none */
  double judge_budget_usd_per_day; /* the judge's spend a day (all workers); default 1 */
  uint64_t judge_timeout_ms;       /* the judge call's own timeout; default 10 s */
  struct sl_route_model *rmodel; /* loaded at config load (NULL for rules and cost-only) */
  void *rules_mem;         /* owns the rules' conditions and strings */
  struct sl_sem_route_cfg *sem_routes; /* semantic: routes (YAML `routes` or auto_router_config_path's JSON) */
  size_t nsem_routes;
  char *embedding_model;   /* semantic: an embeddings group; NULL: the in-process embedder */
  uint64_t embedding_timeout_ms; /* semantic: the prompt embedding's own timeout; default 2000 */
  double score_threshold;  /* semantic: a route's default threshold; default 0.3 */
  char *auto_router_config_path; /* LiteLLM's auto_router: the routes' JSON file */
  /* learning from outcomes (core/router_online.c) */
  char *learning;          /* "off" (default) | "online" */
  bool learn_online;       /* learning: online */
  bool frozen;             /* online state used but not updated */
  double exploration_budget_usd_per_day; /* 0: no exploration */
  double max_shift_per_hour;             /* a slot's bias moves at most this per hour; default 0.2 */
  uint64_t evidence_half_life_ms;        /* outcomes' weight halves over this; default 1 day */
};

struct sl_cache_settings {
  bool enabled;        /* litellm_settings.cache; default false */
  char *type;          /* cache_params.type: "local" | "disk" (both = LMDB); default "local" */
  double ttl_s;        /* cache_params.ttl; default 3600 */
  char *namespace_;    /* cache_params.namespace; default "" */
  bool shared;         /* cache_params.shared: one cache for all keys; default false (per key) */
  size_t max_size;     /* sluice_settings.cache.max_size; default 1 GiB */
  /* the semantic cache (core/semcache.c): cache_params.type semantic (or LiteLLM's
   * redis-semantic / qdrant-semantic, kept in sluice's LMDB store all the same) */
  bool semantic;
  double similarity_threshold; /* cache_params.similarity_threshold; default 0.9 */
  char *embedding_model;       /* cache_params.{redis,qdrant}_semantic_cache_embedding_model:
                                  an embeddings model group; NULL: the in-process embedder */
  char *embedding_model_q;     /* (parsing only: the qdrant spelling, merged into embedding_model) */
  int64_t semantic_max_entries; /* sluice_settings.cache.semantic_max_entries; default 10000 */
};

/* Cluster mode (core/cluster.h): several sluice instances share limits, budgets, keys,
 * cooldowns and a second cache tier through one Redis. On when any source names a Redis
 * (first match wins): general_settings.coordination_redis, litellm_settings.cache_params
 * with type redis, router_settings.redis_*, the REDIS_* environment (core/config/config_cluster.c). */
struct sl_redis_settings {
  bool enabled;             /* a source named a Redis */
  char *source;             /* the key that named it, e.g. "router_settings.redis_host" */
  char *host;               /* default "127.0.0.1" when only a port or URL without host */
  int port;                 /* default 6379 */
  char *username;           /* ACL user; NULL: default user */
  char *password;           /* NULL: no AUTH */
  int db;                   /* SELECT n; default 0 */
  bool ssl;                 /* TLS (rediss://, ssl: true, REDIS_SSL); verified against the CA store */
  char *ns;                 /* key prefix: cache_params.namespace or "sluice"; keys are "<ns>:{...}..." */
  uint64_t timeout_ms;      /* sluice_settings.cluster.timeout: one command's reply; default 100 ms,
                               after which the request is decided as degraded */
  uint64_t connect_timeout_ms; /* sluice_settings.cluster.connect_timeout; default 1000 ms */
  uint64_t heartbeat_ms;    /* sluice_settings.cluster.heartbeat; default 1000 ms; a host is live
                               while its heartbeat is younger than 3 heartbeats */
  char *instance;           /* sluice_settings.cluster.instance: this host's id; default hostname:port */
};

struct sl_cluster_settings {
  struct sl_redis_settings redis;
  bool cache_tier;          /* cache_params.type redis (with cache: true): Redis is the second
                               cache tier behind the local LMDB cache */
  bool fail_closed_budget;  /* general_settings.fail_closed_budget_enforcement; default false */
};

/* OpenTelemetry traces (core/trace.c; core/config/config_tracing.c resolves them from
 * sluice_settings.tracing, litellm_settings.callbacks: [otel] and the OTEL_* environment). */
struct sl_tracing {
  bool enabled;          /* default false */
  const char *source;    /* what turned it on (static text), for sluice check; NULL: off */
  char *endpoint;        /* the traces URL spans are POSTed to (.../v1/traces) */
  char *host;            /* split up (IPv6 literals bare) */
  uint16_t port;
  bool tls;
  char *path;
  char *headers;         /* extra request headers: "name\0value\0" nheaders times */
  size_t headers_len;
  int nheaders;
  char *service_name;    /* resource service.name; default OTEL_SERVICE_NAME, else "sluice" */
  bool capture_content;  /* gen_ai.input.messages / output.messages; default false */
  double sample_ratio;   /* share of new traces recorded (a client's sampled flag wins); default 1 */
  /* the batch span processor (OTEL_BSP_* environment) */
  uint32_t queue_size;        /* spans queued per worker before drops; default 2048 */
  uint32_t batch_size;        /* spans that make a batch go at once; default 512 */
  uint64_t schedule_delay_ms; /* export interval; default 1000 */
  uint64_t export_timeout_ms; /* one export's limit; default 10000 */
};

struct sl_gcp_sa;

struct sl_config {
  struct sl_deployment *deployments;
  size_t ndeployments;
  struct sl_router_cfg *routers; /* model_list entries that are routers */
  size_t nrouters;

  /* general_settings */
  char *master_key; /* NULL: no auth */
  double max_budget;      /* USD cap for the whole gateway; 0: none */
  char *budget_duration;  /* period after which max_budget's spend resets ("30d", "1h"); NULL: never */
  struct sl_region_list permitted_regions, preferred_regions; /* residency default for keys
                                                                 without their own; n 0: none */

  /* router_settings */
  int num_retries;       /* default 0 */
  double timeout_s;      /* default 600 (LiteLLM's) */
  enum sl_strategy routing_strategy; /* policy's enum: "simple-shuffle" (default), "least-busy",
                                       "latency-based-routing", "cost-based-routing",
                                       "usage-based-routing" and "-v2" */
  struct sl_alias *aliases;
  size_t naliases;
  struct sl_fallback *fallbacks, *context_window_fallbacks, *content_policy_fallbacks;
  size_t nfallbacks, ncontext_window_fallbacks, ncontent_policy_fallbacks;
  struct sl_name_list default_fallbacks;
  int max_fallbacks;         /* default 5 */
  int allowed_fails;         /* failures within a minute before a cooldown; default 3 */
  double cooldown_time_s;    /* default 5 */
  double retry_after_s;      /* minimum wait before a retry; default 0 */

  /* sluice_settings */
  char *listen_host;     /* default "127.0.0.1" */
  uint16_t port;         /* default 4000; 0 = ephemeral */
  int workers;           /* default 0 = number of CPUs */
  char *data_dir;        /* default "./sluice-data" */
  size_t max_body_bytes;     /* default 16 MiB -> 413 */
  size_t max_header_bytes;   /* default 32 KiB -> 431 */
  int max_json_depth;        /* request body nesting; default 64 -> 400 */
  int64_t max_json_values;   /* request body values; default 500000 -> 413 */
  uint64_t header_timeout_ms;    /* default 10000 -> 408 */
  uint64_t body_timeout_ms;      /* default 30000 -> 408 */
  uint64_t keepalive_timeout_ms; /* default 75000 */
  size_t body_memory_budget;     /* per worker; default 0 = max(max_body_bytes, 16 MiB) -> 503 */
  size_t body_min_rate;          /* bytes/s per 10 s window; default 1024; 0 = off -> 408 */
  uint64_t body_deadline_ms;     /* whole body; default 120000; 0 = off -> 408 */
  struct sl_name_list allowed_hosts; /* Host names accepted without a master key */
  uint64_t drain_timeout_ms;     /* default 30000 */
  uint64_t connect_timeout_ms;   /* default 5000 */
  uint64_t wild_models_refresh_ms; /* sluice_settings.wildcard_models_refresh: how often each worker
                                     re-reads its wildcard deployments' provider lists; default 10 min; 0: never */
  char *ca_file;                 /* NULL: system bundle */
  char *tls_cert, *tls_key;      /* sluice_settings.tls PEM files; NULL: plain HTTP */
  char *log_level;               /* "debug" | "info" | "warn" | "error"; default "info" */
  char *log_file;                /* NULL: stdout; reopened on SIGUSR1 */
  uint64_t stream_idle_timeout_ms; /* longest silence between stream chunks; default 60000 */
  uint64_t cooldown_max_ms;        /* cap for a cooldown that doubles after failed probes; default 300000 */
  int max_keys;                    /* virtual keys + groups the limiter table holds; 0: default 50000 */
  struct sl_hedging hedging;       /* sluice_settings.hedging */
  struct sl_cache_settings cache;  /* litellm_settings.cache / cache_params, sluice_settings.cache */
  struct {
    size_t max_size;  /* sluice_settings.responses.max_size: the store's map; default 256 MiB */
    uint64_t ttl_ms;  /* sluice_settings.responses.ttl: how long a response is kept; default 30 days */
  } responses;        /* stored responses (Responses API store / previous_response_id) */
  struct {
    bool litellm_names; /* sluice_settings.metrics.litellm_names: LiteLLM's metric families too */
  } metrics;
  bool access_log;               /* default true */
  struct sl_cluster_settings cluster; /* cluster mode; cluster.redis.enabled false: one host */
  struct sl_tracing tracing;     /* OpenTelemetry traces; enabled false: none */
  struct sl_gcp_sa *gcp_creds;   /* distinct Vertex AI service accounts (core/gcp_token.h) */
  size_t ngcp_creds;

  char *source; /* file path or "<embedded>" */

  struct sl_plan *plan; /* compiled at load (plan.h): what the workers read on the request path */
};

/* Parses and validates. On failure returns -EINVAL (or -errno for I/O) and writes one
 * message naming the key path and YAML line into err, e.g.
 *   "config.yaml:12: model_list[1].litellm_params.rpm: expected a non-negative integer, got 'ten'"
 * Unknown keys are reported through warn (once each) and do not fail. */
typedef void (*sl_config_warn_fn)(void *ud, const char *msg);
int sl_config_load_file(const char *path, sl_config_warn_fn warn, void *ud,
                        struct sl_config **out, char *err, size_t errlen);
int sl_config_load_string(const char *yaml, size_t len, const char *name,
                          sl_config_warn_fn warn, void *ud,
                          struct sl_config **out, char *err, size_t errlen);
void sl_config_free(struct sl_config *c);

/* The embedded default: two local mock deployments in group "demo" (and "gpt-4o-mini"),
 * so `sluice` with no --config answers with no API keys. */
extern const char sl_config_default_yaml[];

#endif
