/* The compiled plan: the config turned, once at load (in the master, before fork), into the
 * tables the request path reads without looking anything up by name again.
 * - groups: per model group its deployment indices and, per fallback kind (general,
 *   context_window, content_policy), its fallback groups as pointers (the group's own entry,
 *   else the "*" entry, else default_fallbacks; aliases resolved; the group itself dropped;
 *   max_fallbacks applied);
 * - names: every name a client may send (group names and model_group_alias), sorted, each
 *   with its group pointer: one binary search per request;
 * - per deployment: its provider adapter (net/wire/provider.h), wire format, the upstream
 *   path per route, the credential header, timeouts in ms, its price and its region;
 * - patterns: the wildcard groups (model_name with a '*', core/config/config_wild.c), the
 *   longest literal prefix first, then config order: tried after the exact names miss;
 * - the routing strategy as policy's enum, the gateway budget period in seconds, and the
 *   GET /v1/models body.
 * The one idea: the config says what the user wrote; the plan says what the workers do.
 * To add something the request path needs from the config: compute it here, in
 * sl_plan_compile, and give it a field. */
#ifndef SL_CORE_CONFIG_PLAN_H
#define SL_CORE_CONFIG_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/wire/provider.h"
#include "policy/choose.h"
#include "policy/prices.h"

struct sl_config;

/* Which fallbacks list applies (LiteLLM's fallbacks / context_window_fallbacks /
 * content_policy_fallbacks); the specific kinds fall back to the general one. */
enum sl_fb_kind { SL_FB_GENERAL = 0, SL_FB_CONTEXT_WINDOW, SL_FB_CONTENT_POLICY, SL_FB_KINDS };

struct sl_plan_router;

/* A model group: the deployments sharing one model_name, in config order; or a router (no
 * deployments: `router` says how it picks one of its target groups per request). */
struct sl_group {
  const char *name;
  size_t *deps; /* indexes into cfg->deployments */
  size_t n;
  uint64_t spend_id; /* ledger / shm slot id of the group (set by each worker at start: the
                        store names it, and the config room does not include store/) */
  const struct sl_group **fallbacks[SL_FB_KINDS];
  size_t nfallbacks[SL_FB_KINDS];
  size_t index; /* position in plan->groups */
  const struct sl_plan_router *router; /* NULL: a group of deployments */
};

/* A router, compiled: its config (config.h's sl_router_cfg: kind, parameters, rules, the
 * loaded model) with every group name resolved to its group. */
struct sl_plan_router {
  const struct sl_router_cfg *cfg;
  const struct sl_group *group;              /* the router's own group */
  const struct sl_group *strong, *weak, *deflt;
  const struct sl_group **rule_targets;      /* per rule */
  const struct sl_group **targets;           /* cost targets, per cfg->targets */
  const struct sl_group *tiers[4];           /* complexity tiers */
  const struct sl_group *judge;              /* cascade: the judge group; NULL: none */
  const struct sl_group **sem_targets;       /* semantic: per cfg->sem_routes, its group */
  const struct sl_group *embed;              /* semantic: the embeddings group; NULL: in-process */
  double threshold0;                         /* the threshold before any traffic: cfg threshold, else
                                                the model's training quantile for strong_fraction, else 0 */
  size_t index;                              /* position in plan->routers */
};

/* One deployment, compiled. */
struct sl_plan_dep {
  const struct sl_provider *ops;
  enum sl_wire wire;
  enum sl_dialect dialect;    /* Bedrock / Vertex AI: the request is rewritten and signed per
                                 attempt (core/dialect.c); path[] is then all NULL */
  bool responses;             /* serves /responses natively (provider default or model_info.responses_api) */
  char *path[SL_PROV_ROUTES]; /* NULL: the provider has no such route */
  const char *auth_name;      /* the credential header, "Authorization" / "x-api-key" / ... */
  char *auth_value;           /* NULL: no key configured */
  size_t auth_value_len;
  uint64_t timeout_ms;        /* litellm_params.timeout; 0: the request's deadline only */
  uint64_t stream_timeout_ms; /* stream_timeout (or router_settings'); 0: timeout_ms */
  struct sl_price price;      /* USD per token */
  bool priced;                /* false: neither configured nor in the price table (costs 0) */
  const char *region;         /* data residency region (the config's string); NULL: none */
};

struct sl_plan_name {
  const char *name;
  const struct sl_group *group;
};

/* A wildcard group: the names its pattern matches (and, for a bare "*" deployment's group,
 * the names whose inferred provider is its own) are served by it. */
struct sl_plan_pattern {
  const char *pattern;            /* model_name as written, one '*' */
  size_t prefix, suffix;          /* lengths of the literal text before and after the '*' */
  const struct sl_group *group;
  const struct sl_provider *infer; /* non-NULL: only names inferred to be this provider's */
};

struct sl_plan {
  struct sl_group *groups;
  size_t ngroups;
  struct sl_plan_dep *deps; /* parallel to cfg->deployments */
  size_t ndeps;
  struct sl_plan_router *routers;
  size_t nrouters;
  struct sl_plan_name *names; /* sorted by name (strcmp) */
  size_t nnames;
  enum sl_strategy strategy;
  int64_t budget_period_s; /* general_settings.budget_duration; 0: the budget never resets */
  struct sl_plan_pattern *patterns; /* longest prefix first, then config order */
  size_t npatterns;
  char *models_json;       /* GET /v1/models body (hidden aliases left out) */
  size_t models_json_len;
};

/* Builds the plan of a loaded, validated config: 0 or -ENOMEM (-EINVAL only for a config
 * that did not pass validation). */
int sl_plan_compile(const struct sl_config *c, struct sl_plan **out);
void sl_plan_free(struct sl_plan *p);

/* The group a client's model name means (a group name or an alias), or NULL. */
const struct sl_group *sl_plan_group(const struct sl_plan *p, const char *name);

/* The wildcard group whose pattern matches name, its '*' standing for at least one byte
 * (tried after sl_plan_group misses: exact names and aliases win), or NULL. Names of other
 * characters than letters, digits and "-._:/@+", with "..", or longer than 256 bytes match
 * no pattern (the name may go into a path). */
const struct sl_group *sl_plan_match(const struct sl_plan *p, const char *name);

/* LiteLLM's provider inference for a bare "*" deployment: "<provider>/<model>" is that
 * provider when the adapter table has it (*strip = its length plus the '/'), a name starting
 * "claude" is anthropic's, "gemini" gemini's, anything else openai's (*strip 0). NULL only
 * when the table lacks the row. */
const struct sl_provider *sl_plan_wild_infer(const char *name, size_t *strip);

/* The upstream model of wildcard deployment d for the client's model name: the part of name
 * that d's pattern matched (the whole name when it does not match), without a leading
 * "<provider>/" naming d's own provider, put in place of the '*' of d's upstream model.
 * Written like snprintf (the length, -1 when d is not a wildcard). */
struct sl_deployment;
int sl_plan_wild_model(const struct sl_deployment *d, const char *name, char *out, size_t cap);

#endif
