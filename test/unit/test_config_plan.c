/* core/config/plan: the compiled plan. Groups and their deployment indices, the sorted name
 * table (groups and model_group_alias to group pointers), fallback chains per kind (the
 * kind's own entry, then the general one, "*", default_fallbacks; aliases resolved; the group
 * itself dropped; max_fallbacks applied), per-deployment provider ops, wire, paths, auth
 * header, timeouts in ms and prices, the strategy as policy's enum, the budget period in
 * seconds, and a bad budget_duration refused at load with FILE:LINE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config/config.h"

#undef CHECK_STR
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

static struct sl_config *load(const char *yaml, char *err, size_t errlen) {
  unsetenv("OPENAI_API_KEY");
  unsetenv("ANTHROPIC_API_KEY");
  unsetenv("AZURE_API_KEY");
  unsetenv("AZURE_OPENAI_API_KEY");
  struct sl_config *c = NULL;
  err[0] = 0;
  if (sl_config_load_string(yaml, strlen(yaml), "p.yaml", NULL, NULL, &c, err, errlen)) return NULL;
  return c;
}

#define DEP(group, model)                                                                                              \
  "  - model_name: " group "\n    litellm_params:\n      model: " model "\n      api_base: http://127.0.0.1:9/v1\n"

static const char *fb_names(const struct sl_group *g, enum sl_fb_kind k) {
  static char buf[256];
  buf[0] = 0;
  for (size_t i = 0; g && i < g->nfallbacks[k]; i++) {
    if (i) strcat(buf, ",");
    strcat(buf, g->fallbacks[k][i]->name);
  }
  return buf;
}

static void groups_and_names(void) {
  char err[512];
  struct sl_config *c = load(
      "model_list:\n" DEP("a", "openai/x") DEP("b", "openai/y")
          DEP("a",
              "openai/z") "router_settings:\n  model_group_alias:\n    fast: a\n    secret: {model: b, hidden: true}\n",
      err, sizeof err);
  CHECK(c && c->plan);
  if (!c) return;
  const struct sl_plan *p = c->plan;
  CHECK(p->ngroups == 2);
  CHECK_STR(p->groups[0].name, "a");
  CHECK(p->groups[0].n == 2 && p->groups[0].deps[0] == 0 && p->groups[0].deps[1] == 2);
  CHECK(p->groups[1].n == 1 && p->groups[1].deps[0] == 1 && p->groups[1].index == 1);
  CHECK(sl_plan_group(p, "a") == &p->groups[0]);
  CHECK(sl_plan_group(p, "fast") == &p->groups[0]);
  CHECK(sl_plan_group(p, "secret") == &p->groups[1]); /* hidden from /v1/models, still served */
  CHECK(sl_plan_group(p, "c") == NULL);
  CHECK(sl_plan_group(p, "") == NULL);
  CHECK(sl_plan_group(p, "A") == NULL);
  CHECK(sl_plan_group(p, NULL) == NULL);
  CHECK(p->nnames == 4);
  for (size_t i = 1; i < p->nnames; i++) CHECK(strcmp(p->names[i - 1].name, p->names[i].name) < 0);
  CHECK(p->models_json && strstr(p->models_json, "\"id\":\"a\"") && strstr(p->models_json, "\"id\":\"fast\""));
  CHECK(p->models_json && !strstr(p->models_json, "secret"));
  CHECK(p->models_json_len == strlen(p->models_json));
  sl_config_free(c);
}

#define FOUR DEP("a", "openai/x") DEP("b", "openai/y") DEP("c", "openai/z") DEP("d", "openai/w")

static void fallbacks_per_kind(void) {
  char err[512];
  struct sl_config *c = load("model_list:\n" FOUR "router_settings:\n"
                             "  model_group_alias: {dd: d}\n"
                             "  fallbacks: [{a: [b, a, dd]}, {\"*\": [c]}]\n"
                             "  context_window_fallbacks: [{a: [c]}]\n"
                             "  content_policy_fallbacks: [{b: [d]}]\n"
                             "  default_fallbacks: [d]\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_plan *p = c->plan;
  const struct sl_group *a = sl_plan_group(p, "a"), *b = sl_plan_group(p, "b"), *cc = sl_plan_group(p, "c"),
                        *d = sl_plan_group(p, "d");
  /* a: its own entry; itself dropped; the alias resolved to d */
  CHECK_STR(fb_names(a, SL_FB_GENERAL), "b,d");
  CHECK(a->fallbacks[SL_FB_GENERAL][1] == d);
  CHECK_STR(fb_names(a, SL_FB_CONTEXT_WINDOW), "c");
  CHECK_STR(fb_names(a, SL_FB_CONTENT_POLICY), "b,d"); /* no content-policy entry: the general one */
  /* b: no general entry: "*" */
  CHECK_STR(fb_names(b, SL_FB_GENERAL), "c");
  CHECK_STR(fb_names(b, SL_FB_CONTENT_POLICY), "d");
  CHECK_STR(fb_names(b, SL_FB_CONTEXT_WINDOW), "c");
  /* c: "*" names c itself: dropped, nothing left (default_fallbacks does not apply when "*" exists) */
  CHECK_STR(fb_names(cc, SL_FB_GENERAL), "");
  CHECK_STR(fb_names(d, SL_FB_GENERAL), "c");
  sl_config_free(c);

  /* without "*": default_fallbacks for groups without an entry */
  c = load("model_list:\n" FOUR "router_settings:\n  fallbacks: [{a: [b]}]\n  default_fallbacks: [d, c]\n", err,
           sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  p = c->plan;
  CHECK_STR(fb_names(sl_plan_group(p, "a"), SL_FB_GENERAL), "b");
  CHECK_STR(fb_names(sl_plan_group(p, "b"), SL_FB_GENERAL), "d,c");
  CHECK_STR(fb_names(sl_plan_group(p, "b"), SL_FB_CONTEXT_WINDOW), "d,c");
  CHECK_STR(fb_names(sl_plan_group(p, "d"), SL_FB_GENERAL), "c"); /* itself dropped */
  sl_config_free(c);

  /* nothing configured: no fallbacks anywhere */
  c = load("model_list:\n" FOUR, err, sizeof err);
  CHECK(c != NULL);
  for (size_t i = 0; c && i < c->plan->ngroups; i++)
    for (int k = 0; k < SL_FB_KINDS; k++) CHECK(c->plan->groups[i].nfallbacks[k] == 0);
  sl_config_free(c);
}

static void fallbacks_cap(void) {
  char err[512];
  struct sl_config *c =
      load("model_list:\n" FOUR "router_settings:\n  max_fallbacks: 2\n  fallbacks: [{a: [a, b, c, d]}]\n"
           "  context_window_fallbacks: [{b: [c, d, a]}]\n",
           err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  /* the cap counts fallbacks taken, after the group itself is dropped */
  CHECK_STR(fb_names(sl_plan_group(c->plan, "a"), SL_FB_GENERAL), "b,c");
  CHECK_STR(fb_names(sl_plan_group(c->plan, "b"), SL_FB_CONTEXT_WINDOW), "c,d");
  sl_config_free(c);
  c = load("model_list:\n" FOUR "router_settings:\n  max_fallbacks: 0\n  fallbacks: [{a: [b]}]\n", err, sizeof err);
  CHECK(c != NULL);
  CHECK(c && sl_plan_group(c->plan, "a")->nfallbacks[SL_FB_GENERAL] == 0);
  sl_config_free(c);
}

static void strategies(void) {
  static const struct {
    const char *name;
    enum sl_strategy s;
  } t[] = {{"simple-shuffle", SL_STRAT_SHUFFLE},        {"least-busy", SL_STRAT_LEAST_BUSY},
           {"latency-based-routing", SL_STRAT_LATENCY}, {"cost-based-routing", SL_STRAT_COST},
           {"usage-based-routing", SL_STRAT_USAGE},     {"usage-based-routing-v2", SL_STRAT_USAGE}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char yaml[512], err[512];
    snprintf(yaml, sizeof yaml, "model_list:\n" DEP("a", "openai/x") "router_settings:\n  routing_strategy: %s\n",
             t[i].name);
    struct sl_config *c = load(yaml, err, sizeof err);
    CHECK(c && c->plan->strategy == t[i].s && c->routing_strategy == t[i].s);
    sl_config_free(c);
  }
  char err[512];
  struct sl_config *c = load("model_list:\n" DEP("a", "openai/x"), err, sizeof err);
  CHECK(c && c->plan->strategy == SL_STRAT_SHUFFLE);
  sl_config_free(c);
}

static void deployments(void) {
  char err[512];
  struct sl_config *c =
      load("model_list:\n"
           "  - model_name: o\n    litellm_params: {model: openai/gpt-4o-mini, api_key: sk-o, timeout: 2.5, "
           "stream_timeout: 0.25}\n"
           "  - model_name: an\n    litellm_params: {model: anthropic/claude-x, api_key: sk-a, api_base: "
           "\"http://h:1/v1\"}\n"
           "  - model_name: az\n    litellm_params: {model: azure/prod, api_key: k, api_base: \"https://r.example\", "
           "api_version: v9}\n"
           "  - model_name: v\n    litellm_params: {model: hosted_vllm/m, api_base: \"http://h:2/base/\", "
           "input_cost_per_token: 0.5, timeout: 0.0001}\n"
           "  - model_name: u\n    litellm_params: {model: openai/not-a-known-model-xyz, api_base: \"http://h:3\"}\n"
           "router_settings:\n  stream_timeout: 7\n",
           err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_plan_dep *o = &c->plan->deps[0], *an = &c->plan->deps[1], *az = &c->plan->deps[2],
                           *v = &c->plan->deps[3], *u = &c->plan->deps[4];
  CHECK(c->plan->ndeps == 5);
  CHECK(o->ops == sl_provider_find("openai") && o->wire == SL_WIRE_OPENAI);
  CHECK_STR(o->path[SL_PROV_CHAT], "/v1/chat/completions");
  CHECK_STR(o->path[SL_PROV_EMBEDDINGS], "/v1/embeddings");
  CHECK_STR(o->auth_name, "Authorization");
  CHECK_STR(o->auth_value, "Bearer sk-o");
  CHECK(o->auth_value_len == strlen("Bearer sk-o"));
  CHECK(o->timeout_ms == 2500 && o->stream_timeout_ms == 250);
  CHECK(o->priced && o->price.input > 0); /* gpt-4o-mini is in the built-in table */
  CHECK(an->wire == SL_WIRE_ANTHROPIC);
  CHECK_STR(an->path[SL_PROV_CHAT], "/v1/messages");
  CHECK_STR(an->path[SL_PROV_MESSAGES], "/v1/messages");
  CHECK(an->path[SL_PROV_EMBEDDINGS] == NULL);
  CHECK_STR(an->auth_name, "x-api-key");
  CHECK_STR(an->auth_value, "sk-a");
  CHECK(an->timeout_ms == 0 && an->stream_timeout_ms == 7000); /* router_settings.stream_timeout */
  CHECK_STR(az->path[SL_PROV_CHAT], "/openai/deployments/prod/chat/completions?api-version=v9");
  CHECK_STR(az->auth_name, "api-key");
  CHECK_STR(az->auth_value, "k");
  CHECK_STR(v->path[SL_PROV_COMPLETIONS], "/base/completions");
  CHECK(v->auth_value == NULL); /* no key: no credential header */
  CHECK(v->timeout_ms == 1);    /* a positive timeout never rounds to "none" */
  CHECK(v->priced && v->price.input == 0.5 && v->price.output == 0);
  CHECK(!u->priced && u->price.input == 0 && u->price.output == 0);
  sl_config_free(c);
}

static void budget_period(void) {
  char err[512];
  struct sl_config *c =
      load("model_list:\n" DEP("a", "openai/x") "general_settings:\n  max_budget: 1\n  budget_duration: 30d\n", err,
           sizeof err);
  CHECK(c && c->plan->budget_period_s == 30 * 86400);
  sl_config_free(c);
  c = load("model_list:\n" DEP("a", "openai/x") "litellm_settings: {max_budget: 1, budget_duration: 1h}\n", err,
           sizeof err);
  CHECK(c && c->plan->budget_period_s == 3600);
  sl_config_free(c);
  c = load("model_list:\n" DEP("a", "openai/x") "general_settings:\n  max_budget: 1\n", err, sizeof err);
  CHECK(c && c->plan->budget_period_s == 0);
  sl_config_free(c);
  /* a typo is a startup error naming the file, the line and the key, in either section */
  c = load("model_list:\n" DEP("a", "openai/x") "general_settings:\n  max_budget: 1\n  budget_duration: 30x\n", err,
           sizeof err);
  CHECK(c == NULL);
  CHECK(strncmp(err, "p.yaml:8: general_settings.budget_duration: expected a duration", 63) == 0);
  CHECK(strstr(err, "'30x'") != NULL);
  c = load("model_list:\n" DEP("a", "openai/x") "litellm_settings:\n  max_budget: 1\n  budget_duration: 2 weeks\n", err,
           sizeof err);
  CHECK(c == NULL);
  CHECK(strncmp(err, "p.yaml:8: litellm_settings.budget_duration: expected a duration", 63) == 0);
  c = load("model_list:\n" DEP("a", "openai/x") "litellm_settings: {budget_duration: 1500ms}\n", err, sizeof err);
  CHECK(c == NULL);
  CHECK(strstr(err, "p.yaml:6: litellm_settings.budget_duration:") == err);
}

/* Data residency: litellm_params.region or model_info.region into the plan; the gateway
 * default lists; bad names and a disagreement refused with the key's path. */
static void regions(void) {
  char err[512];
  struct sl_config *c = load("model_list:\n"
                             "  - model_name: a\n    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', "
                             "region: eu-west-1}\n"
                             "  - model_name: a\n    litellm_params: {model: openai/y, api_base: 'http://127.0.0.1:9/v1'}\n"
                             "    model_info: {region: eu-central-1}\n"
                             "  - model_name: a\n    litellm_params: {model: openai/z, api_base: 'http://127.0.0.1:9/v1', "
                             "region: us-1}\n    model_info: {region: us-1}\n" DEP("b", "openai/w")
                             "general_settings:\n  permitted_regions: [eu-west-1, eu-central-1, eu-west-1]\n"
                             "  preferred_regions: [eu-west-1]\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK_STR(c->plan->deps[0].region, "eu-west-1");
  CHECK_STR(c->plan->deps[1].region, "eu-central-1");
  CHECK_STR(c->plan->deps[2].region, "us-1");
  CHECK(c->plan->deps[3].region == NULL);
  CHECK(c->permitted_regions.n == 2 && !strcmp(c->permitted_regions.name[1], "eu-central-1"));
  CHECK(c->preferred_regions.n == 1 && !strcmp(c->preferred_regions.name[0], "eu-west-1"));
  sl_config_free(c);
  c = load("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', "
           "region: eu-a}\n    model_info: {region: eu-b}\n",
           err, sizeof err);
  CHECK(c == NULL && strstr(err, "model_list[0].model_info.region: 'eu-b' differs from litellm_params.region 'eu-a'"));
  c = load("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_base: 'http://127.0.0.1:9/v1', "
           "region: 'eu west'}\n",
           err, sizeof err);
  CHECK(c == NULL && strstr(err, "model_list[0].litellm_params.region: expected a region name"));
  c = load("model_list:\n" DEP("a", "openai/x") "general_settings:\n  permitted_regions: eu-a\n", err, sizeof err);
  CHECK(c == NULL && strstr(err, "general_settings.permitted_regions: expected a list of region names"));
  c = load("model_list:\n" DEP("a", "openai/x") "general_settings:\n  preferred_regions: [ok, 'n/o']\n", err, sizeof err);
  CHECK(c == NULL && strstr(err, "general_settings.preferred_regions[1]: expected a region name"));
}

/* Wildcard deployments: patterns after exact names (longest literal prefix first), a bare "*"
 * copied once per provider with a key, and the upstream model each name means. */
static void wildcards(void) {
  char err[512];
  unsetenv("OPENAI_API_KEY");
  unsetenv("ANTHROPIC_API_KEY");
  setenv("GEMINI_API_KEY", "g-key", 1);
  struct sl_config *c = NULL;
  const char *yaml = "model_list:\n"
                     "  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:9/v1'}\n"
                     "  - model_name: openai/gpt-4o\n    litellm_params: {model: openai/gpt-4o, api_base: 'http://127.0.0.1:9/v1'}\n"
                     "  - model_name: 'gpt-*'\n    litellm_params: {model: 'azure/dep-*', api_base: 'https://x.example', api_key: k}\n"
                     "  - model_name: '*'\n    litellm_params: {model: '*'}\n"
                     "    model_info: {id: any}\n";
  int rc = sl_config_load_string(yaml, strlen(yaml), "p.yaml", NULL, NULL, &c, err, sizeof err);
  unsetenv("GEMINI_API_KEY");
  CHECK(rc == 0 && c);
  if (!c) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  const struct sl_plan *p = c->plan;
  CHECK(c->ndeployments == 5); /* the bare '*' and its gemini copy (no other key is set) */
  CHECK_STR(c->deployments[4].model_name, "*@gemini");
  CHECK_STR(c->deployments[4].id, "any@gemini");
  CHECK_STR(c->deployments[4].api_key, "g-key");
  CHECK_STR(c->deployments[4].host, "generativelanguage.googleapis.com");
  CHECK(c->deployments[3].ops == sl_provider_find("openai") && c->deployments[4].ops == sl_provider_find("gemini"));
  const struct sl_group *oa = sl_plan_group(p, "openai/*"), *exact = sl_plan_group(p, "openai/gpt-4o"),
                        *gpt = sl_plan_group(p, "gpt-*"), *any = sl_plan_group(p, "*"), *gem = sl_plan_group(p, "*@gemini");
  CHECK(oa && exact && gpt && any && gem);
  CHECK(p->npatterns == 4 && p->patterns[0].group == oa && p->patterns[1].group == gpt); /* longest prefix first */
  CHECK(sl_plan_match(p, "openai/gpt-4o-mini") == oa);
  CHECK(sl_plan_group(p, "openai/gpt-4o") == exact); /* the exact name is looked up first */
  CHECK(sl_plan_match(p, "gpt-4.1") == gpt);         /* "gpt-" is longer than "" */
  CHECK(sl_plan_match(p, "o3") == any);
  CHECK(sl_plan_match(p, "gemini-2.5-flash") == gem);
  CHECK(sl_plan_match(p, "gemini/gemini-2.0-flash") == gem);
  CHECK(sl_plan_match(p, "claude-3-5-haiku") == NULL); /* anthropic inferred, and no copy has its key */
  CHECK(sl_plan_match(p, "anthropic/claude-3-5-haiku") == NULL);
  CHECK(sl_plan_match(p, "bad name") == NULL && sl_plan_match(p, "openai/../x") == NULL);
  CHECK(sl_plan_match(p, "") == NULL);
  char m[128];
  CHECK(sl_plan_match(p, "gpt-") == any); /* "gpt-*" needs a byte for its '*'; the bare '*' takes it */
  CHECK(sl_plan_match(p, "openai/") == any);
  CHECK(sl_plan_wild_model(&c->deployments[3], "openai/", m, sizeof m) > 0 && !strcmp(m, "openai/"));
  CHECK(sl_plan_wild_model(&c->deployments[0], "openai/gpt-4o-mini", m, sizeof m) == 11 && !strcmp(m, "gpt-4o-mini"));
  CHECK(sl_plan_wild_model(&c->deployments[2], "gpt-4.1", m, sizeof m) > 0 && !strcmp(m, "dep-4.1"));
  CHECK(sl_plan_wild_model(&c->deployments[3], "openai/o3", m, sizeof m) > 0 && !strcmp(m, "o3"));
  CHECK(sl_plan_wild_model(&c->deployments[3], "o3", m, sizeof m) > 0 && !strcmp(m, "o3"));
  CHECK(sl_plan_wild_model(&c->deployments[4], "gemini/gemini-2.0-flash", m, sizeof m) > 0 &&
        !strcmp(m, "gemini-2.0-flash"));
  CHECK(sl_plan_wild_model(&c->deployments[1], "openai/gpt-4o", m, sizeof m) == -1); /* not a wildcard */
  size_t strip;
  CHECK(sl_plan_wild_infer("claude-sonnet-4", &strip) == sl_provider_find("anthropic") && strip == 0);
  CHECK(sl_plan_wild_infer("groq/llama3", &strip) == sl_provider_find("groq") && strip == 5);
  CHECK(sl_plan_wild_infer("meta-llama/Llama-3", &strip) == sl_provider_find("openai") && strip == 0);
  /* /v1/models: the concrete groups, then each pattern once (not the per-provider copies) */
  CHECK(strstr(p->models_json, "\"id\":\"openai/gpt-4o\"") && strstr(p->models_json, "\"id\":\"openai/*\""));
  CHECK(strstr(p->models_json, "\"id\":\"*\"") && !strstr(p->models_json, "*@gemini"));
  CHECK(strstr(p->models_json, "openai/gpt-4o") < strstr(p->models_json, "openai/*"));
  /* the Azure path of a wildcard holds '*' until the request fills it */
  CHECK(strstr(p->deps[2].path[SL_PROV_CHAT], "/openai/deployments/dep-*/chat/completions"));
  sl_config_free(c);
  c = load("model_list:\n" DEP("'a*b*'", "'openai/*'"), err, sizeof err);
  CHECK(c == NULL && strstr(err, "model_list[0].model_name: 'a*b*' has more than one '*'"));
  c = load("model_list:\n" DEP("x", "'openai/*'"), err, sizeof err);
  CHECK(c == NULL && strstr(err, "model_list[0].litellm_params.model: 'openai/*' has a '*' but model_name 'x' has none"));
  c = load("model_list:\n" DEP("'x-*'", "'openai/*-*'"), err, sizeof err);
  CHECK(c == NULL && strstr(err, "litellm_params.model: 'openai/*-*' has more than one '*'"));
  c = load("model_list:\n" DEP("'x-*'", "openai/fixed"), err, sizeof err); /* every match to one model */
  CHECK(c && sl_plan_match(c->plan, "x-1") == sl_plan_group(c->plan, "x-*"));
  if (c && sl_plan_wild_model(&c->deployments[0], "x-1", m, sizeof m) > 0) CHECK_STR(m, "fixed");
  sl_config_free(c);
}

CHECK_MAIN(T(groups_and_names), T(fallbacks_per_kind), T(fallbacks_cap), T(strategies), T(deployments),
           T(budget_period), T(regions), T(wildcards))
