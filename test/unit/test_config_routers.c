/* core/config/config_routers: routers in model_list. Configs of each kind load (parameters,
 * defaults, rules with their conditions, cost targets, complexity tiers, RouteLLM-style
 * thresholds; the plan resolves every name to its group and the router's own group is
 * served and listed); configs that are wrong are refused with FILE:LINE: key.path and a
 * message saying what is wrong (unknown kind, a target that is not a group or is a router,
 * missing strong/weak/default/rules/quality/tier, threshold and strong_fraction together,
 * out-of-range numbers, unknown keys and conditions, duplicate names, and a router model
 * file that is corrupt, missing or not a file). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config/config.h"
#include "policy/route_builtin.h"
#include "net/wire/answer_check.h"
#include "tmpdir.h"

#undef CHECK_STR
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

static struct sl_config *load(const char *yaml, char *err, size_t errlen) {
  unsetenv("OPENAI_API_KEY");
  struct sl_config *c = NULL;
  err[0] = 0;
  int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", NULL, NULL, &c, err, errlen);
  if (rc) {
    fprintf(stderr, "  load failed: %s\n", err);
    return NULL;
  }
  return c;
}

/* Loads yaml expecting failure; true when err starts with want. */
static bool fails_with(const char *yaml, const char *want) {
  char err[1024] = "";
  struct sl_config *c = NULL;
  int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", NULL, NULL, &c, err, sizeof err);
  if (rc == 0) sl_config_free(c);
  if (rc != -EINVAL || c != NULL || strncmp(err, want, strlen(want)) != 0) {
    fprintf(stderr, "  want: %s\n  got:  %s (rc %d)\n", want, err, rc);
    return false;
  }
  return true;
}

/* Lines 1-9: two deployment groups; a router entry starts on line 10 (model_list[2]), its
 * litellm_params on line 11, its model on line 12, its first parameter on line 13. */
#define GROUPS                                                                                                         \
  "model_list:\n"                                                                                                      \
  "  - model_name: strong\n"                                                                                           \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/big\n"                                                                                          \
  "      api_base: http://127.0.0.1:9/v1\n"                                                                            \
  "  - model_name: weak\n"                                                                                             \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/small\n"                                                                                        \
  "      api_base: http://127.0.0.1:9/v1\n"
#define ROUTER(name, kind) "  - model_name: " name "\n    litellm_params:\n      model: " kind "\n"

static const struct sl_plan_router *plan_router(const struct sl_config *c, const char *name) {
  for (size_t i = 0; c && i < c->plan->nrouters; i++)
    if (strcmp(c->plan->routers[i].cfg->name, name) == 0) return &c->plan->routers[i];
  return NULL;
}

/* ---- configs that load ---- */

static void learned_loads(void) {
  char err[1024];
  struct sl_config *c = load(GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n"
                                                                            "      weak_model: weak\n"
                                                                            "      strong_fraction: 0.3\n"
                                                                            "      max_routed_bytes: 1KiB\n"
                                                                            "      allow_override: false\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  CHECK(c->ndeployments == 2 && c->nrouters == 1);
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK_STR(r->name, "auto");
  CHECK(r->kind == SL_ROUTER_LEARNED);
  CHECK_STR(r->strong_model, "strong");
  CHECK_STR(r->weak_model, "weak");
  CHECK_STR(r->default_model, "strong"); /* fail open to quality */
  CHECK(r->strong_fraction == 0.3 && isnan(r->threshold));
  CHECK(r->max_routed_bytes == 1024);
  CHECK(!r->allow_override && !r->shadow);
  CHECK(r->rmodel != NULL); /* the built-in model */
  const struct sl_plan *p = c->plan;
  CHECK(p->nrouters == 1 && p->ngroups == 3);
  const struct sl_plan_router *pr = plan_router(c, "auto");
  CHECK(pr && pr->cfg == r);
  if (!pr) goto out;
  CHECK(pr->strong == sl_plan_group(p, "strong") && pr->weak == sl_plan_group(p, "weak"));
  CHECK(pr->deflt == pr->strong);
  const struct sl_group *g = sl_plan_group(p, "auto");
  CHECK(g && g->router == pr && g->n == 0 && pr->group == g);
  CHECK(sl_plan_group(p, "strong")->router == NULL);
  /* the router's name is a model clients can list */
  CHECK(p->models_json && strstr(p->models_json, "\"auto\"") != NULL);
out:
  sl_config_free(c);
}

static void learned_threshold_and_defaults(void) {
  char err[1024];
  struct sl_config *c = load(GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n"
                                                                            "      weak_model: weak\n"
                                                                            "      threshold: -0.25\n"
                                                                            "      default_model: weak\n"
                                                                            "      shadow: true\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->threshold == -0.25 && r->strong_fraction < 0);
  CHECK(r->max_routed_bytes == 4096 && r->allow_override && r->shadow);
  CHECK_STR(r->default_model, "weak");
  const struct sl_plan_router *pr = plan_router(c, "auto");
  CHECK(pr && pr->threshold0 == -0.25 && pr->deflt == sl_plan_group(c->plan, "weak"));
  sl_config_free(c);
}

static void rules_loads(void) {
  char err[1024];
  struct sl_config *c =
      load(GROUPS ROUTER(
               "by-rule",
               "sluice_router/rules") "      default_model: weak\n"
                                      "      rules:\n"
                                      "        - name: premium\n"
                                      "          if:\n"
                                      "            header: {x-tier: [gold, platinum]}\n"
                                      "            stream: false\n"
                                      "          then: strong\n"
                                      "        - if: {metadata: {vip: true}, min_prompt_tokens: 100, tags: urgent}\n"
                                      "          then: strong\n"
                                      "        - then: weak\n",
           err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->kind == SL_ROUTER_RULES && r->nrules == 3);
  CHECK(r->rmodel == NULL); /* a rules router reads no model */
  CHECK_STR(r->rules[0].name, "premium");
  CHECK(r->rules[0].nconds == 2);
  const struct sl_rule_cond *h = &r->rules[0].conds[0];
  CHECK(h->field == SL_RF_HEADER);
  CHECK_STR(h->name, "x-tier");
  CHECK(h->nvalues == 2);
  if (h->nvalues == 2) {
    CHECK_STR(h->values[0], "gold");
    CHECK_STR(h->values[1], "platinum");
  }
  CHECK(r->rules[0].conds[1].field == SL_RF_STREAM && r->rules[0].conds[1].flag == false);
  CHECK_STR(r->rule_targets[0], "strong");
  CHECK_STR(r->rules[1].name, "rule1"); /* unnamed rules get their position */
  CHECK(r->rules[1].nconds == 3);
  CHECK(r->rules[1].conds[0].field == SL_RF_METADATA);
  CHECK_STR(r->rules[1].conds[0].name, "vip");
  CHECK(r->rules[1].conds[0].nvalues == 1);
  CHECK_STR(r->rules[1].conds[0].values[0], "true"); /* booleans match as written */
  CHECK(r->rules[1].conds[1].field == SL_RF_MIN_TOKENS && r->rules[1].conds[1].num == 100);
  CHECK(r->rules[1].conds[2].field == SL_RF_TAGS && r->rules[1].conds[2].nvalues == 1);
  CHECK(r->rules[2].nconds == 0); /* a catch-all */
  const struct sl_plan_router *pr = plan_router(c, "by-rule");
  CHECK(pr && pr->rule_targets[0] == sl_plan_group(c->plan, "strong"));
  CHECK(pr && pr->rule_targets[2] == sl_plan_group(c->plan, "weak"));
  CHECK(pr && pr->deflt == sl_plan_group(c->plan, "weak"));
  sl_config_free(c);
}

static void cost_and_chain_load(void) {
  char err[1024];
  struct sl_config *c = load(
      GROUPS ROUTER(
          "cheap",
          "sluice_router/cost") "      min_quality: 0.7\n"
                                "      max_cost_usd: 0.05\n"
                                "      targets:\n"
                                "        - {model: weak, quality: 0.6}\n"
                                "        - {model: strong, quality: 0.9}\n" ROUTER(
                                    "chain",
                                    "sluice_router/chain") "      strong_model: strong\n"
                                                           "      weak_model: weak\n"
                                                           "      rules:\n"
                                                           "        - {name: tools, if: {tools: true}, then: strong}\n",
      err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  CHECK(c->nrouters == 2);
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->kind == SL_ROUTER_COST && r->ntargets == 2);
  CHECK(r->min_quality == 0.7 && r->max_cost_usd == 0.05);
  CHECK_STR(r->targets[0].group, "weak");
  CHECK(r->targets[0].quality == 0.6 && r->targets[1].quality == 0.9);
  CHECK(r->rmodel == NULL);              /* a fixed bar: no learned score needed */
  CHECK_STR(r->default_model, "strong"); /* the last target */
  const struct sl_router_cfg *ch = &c->routers[1];
  CHECK(ch->kind == SL_ROUTER_CHAIN && ch->nrules == 1 && ch->rmodel != NULL);
  CHECK(ch->rules[0].conds[0].field == SL_RF_TOOLS && ch->rules[0].conds[0].flag);
  const struct sl_plan_router *pc = plan_router(c, "cheap");
  CHECK(pc && pc->targets[0] == sl_plan_group(c->plan, "weak") && pc->targets[1] == sl_plan_group(c->plan, "strong"));
  CHECK(sl_plan_group(c->plan, "chain") && sl_plan_group(c->plan, "chain")->router == plan_router(c, "chain"));
  sl_config_free(c);
  /* a cost router without min_quality takes its bar from the learned score: it loads a model */
  c = load(GROUPS ROUTER("cheap", "sluice_router/cost") "      targets:\n"
                                                        "        - {model: weak, quality: 0.6}\n"
                                                        "        - {model: strong, quality: 0.9}\n",
           err, sizeof err);
  CHECK(c && c->routers[0].rmodel != NULL && c->routers[0].min_quality < 0);
  sl_config_free(c);
}

static void cascade_loads(void) {
  char err[1024];
  struct sl_config *c = load(GROUPS ROUTER("frugal", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n"
                                                                             "      checks: [refusal, logprob, math]\n"
                                                                             "      refusal_phrases: [\"no way\"]\n"
                                                                             "      min_mean_logprob: -2.5\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->kind == SL_ROUTER_CASCADE && r->ntargets == 2);
  CHECK(r->checks == (1u << SL_AC_REFUSAL | 1u << SL_AC_LOGPROB | 1u << SL_AC_MATH));
  CHECK(r->nrefusal_phrases == 1 && strcmp(r->refusal_phrases[0], "no way") == 0);
  CHECK(r->min_mean_logprob == -2.5);
  CHECK_STR(r->default_model, "strong");
  const struct sl_plan_router *p = plan_router(c, "frugal");
  CHECK(p && p->targets[0] == sl_plan_group(c->plan, "weak") && p->targets[1] == sl_plan_group(c->plan, "strong"));
  sl_config_free(c);
  c = load(GROUPS ROUTER("frugal", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n", err, sizeof err);
  CHECK(c && c->routers[0].checks == (1u << SL_AC_LENGTH | 1u << SL_AC_EMPTY | 1u << SL_AC_REFUSAL | 1u << SL_AC_JSON |
                                      1u << SL_AC_TOOLS)); /* the default checks */
  CHECK(c && c->routers[0].min_mean_logprob == -1.0);
  sl_config_free(c);
  CHECK(fails_with(GROUPS ROUTER("f", "sluice_router/cascade") "      targets: [{model: weak}]\n",
                   "r.yaml:11: model_list[2].litellm_params: a cascade needs at least two targets"));
  CHECK(fails_with(GROUPS ROUTER("f", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n"
                                                              "      checks: [refusal, vibes]\n",
                   "r.yaml:14: model_list[2].litellm_params.checks[1]: unknown check vibes"));
  CHECK(fails_with(GROUPS ROUTER("f", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n"
                                                              "      min_mean_logprob: 2\n",
                   "r.yaml:14: model_list[2].litellm_params.min_mean_logprob: expected a mean token logprob"));
  CHECK(fails_with(GROUPS ROUTER("f", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n"
                                                              "      stream_checks: later\n",
                   "r.yaml:14: model_list[2].litellm_params.stream_checks: expected hold or early, got later"));
  c = load(GROUPS ROUTER("f", "sluice_router/cascade") "      targets: [{model: weak}, {model: strong}]\n"
                                                      "      stream_checks: early\n      early_tokens: 8\n",
           err, sizeof err);
  CHECK(c && c->routers[0].stream_early && c->routers[0].early_tokens == 8);
  sl_config_free(c);
}

static void complexity_router_loads(void) {
  char err[1024];
  struct sl_config *c =
      load(GROUPS ROUTER("smart", "auto_router/complexity_router") "      complexity_router_config:\n"
                                                                   "        tiers: {SIMPLE: weak, MEDIUM: weak, "
                                                                   "COMPLEX: strong, REASONING: strong}\n"
                                                                   "        tier_boundaries: {simple_medium: 0.2, "
                                                                   "medium_complex: 0.5, complex_reasoning: 0.9}\n",
           err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->kind == SL_ROUTER_TIERS && r->rmodel != NULL);
  CHECK_STR(r->tiers[0], "weak");
  CHECK_STR(r->tiers[3], "strong");
  CHECK(r->tier_bounds[0] == 0.2 && r->tier_bounds[1] == 0.5 && r->tier_bounds[2] == 0.9);
  CHECK_STR(r->default_model, "strong"); /* the REASONING tier */
  const struct sl_plan_router *pr = plan_router(c, "smart");
  CHECK(pr && pr->tiers[1] == sl_plan_group(c->plan, "weak") && pr->tiers[2] == sl_plan_group(c->plan, "strong"));
  sl_config_free(c);
  /* LiteLLM's default boundaries when none are given */
  c = load(GROUPS ROUTER("smart", "auto_router/complexity_router") "      complexity_router_config:\n"
                                                                   "        tiers: {SIMPLE: weak, MEDIUM: weak, "
                                                                   "COMPLEX: strong, REASONING: strong}\n",
           err, sizeof err);
  CHECK(c && c->routers[0].tier_bounds[0] == 0.15 && c->routers[0].tier_bounds[2] == 0.60);
  sl_config_free(c);
}

/* The router model file is read relative to the config file, and a good one loads. */
static void model_file_relative_to_config(void) {
  char *d = tmpdir();
  CHECK(d != NULL);
  if (!d) return;
  char p[4200], y[4200];
  snprintf(p, sizeof p, "%s/app.slrt", d);
  size_t n;
  const unsigned char *b = sl_route_builtin_model(&n);
  FILE *f = fopen(p, "wb");
  CHECK(f && fwrite(b, 1, n, f) == n);
  if (f) fclose(f);
  snprintf(y, sizeof y, "%s/config.yaml", d);
  f = fopen(y, "w");
  CHECK(f != NULL);
  if (f) {
    fputs(GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n"
                                                         "      weak_model: weak\n"
                                                         "      router_model_path: app.slrt\n",
          f);
    fclose(f);
  }
  struct sl_config *c = NULL;
  char err[1024] = "";
  CHECK(sl_config_load_file(y, NULL, NULL, &c, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "  %s\n", err);
  CHECK(c && c->routers[0].rmodel != NULL);
  sl_config_free(c);
  unlink(p);
  unlink(y);
  rm_rf(d);
  free(d);
}

/* ---- configs that are refused ---- */

struct err_case {
  const char *yaml;
  const char *want;
};

static const struct err_case errors[] = {
    {GROUPS ROUTER("auto", "sluice_router/magic"),
     "r.yaml:12: model_list[2].litellm_params.model: unknown router 'sluice_router/magic' (sluice_router/learned, "
     "rules, cost, chain, cascade or semantic)"},
    {GROUPS ROUTER("auto", "auto_router/semantic"),
     "r.yaml:11: model_list[2].litellm_params: a semantic router needs routes (or auto_router_config_path)"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      temperature: 0.1\n",
     "r.yaml:15: model_list[2].litellm_params.temperature: unknown key"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_modle: strong\n      weak_model: weak\n",
     "r.yaml:13: model_list[2].litellm_params.strong_modle: unknown key (did you mean 'strong_model'?)"},
    /* names that are not groups */
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: gpt-5\n      weak_model: weak\n",
     "r.yaml:13: model_list[2].litellm_params.strong_model: strong_model 'gpt-5' is not a model_name in model_list"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: wek\n",
     "r.yaml:14: model_list[2].litellm_params.weak_model: weak_model 'wek' is not a model_name in model_list"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {if: {tools: true}, then: weak}\n"
                                               "        - {if: {tools: false}, then: nowhere}\n",
     "r.yaml:16: model_list[2].litellm_params.rules[1].then: rule 'then' 'nowhere' is not a model_name in "
     "model_list"},
    {GROUPS ROUTER("c", "sluice_router/cost") "      targets:\n"
                                              "        - {model: weak, quality: 0.5}\n"
                                              "        - {model: strnog, quality: 0.9}\n",
     "r.yaml:15: model_list[2].litellm_params.targets[1].model: target 'strnog' is not a model_name in model_list"},
    /* a router is not a target */
    {GROUPS ROUTER(
         "a", "sluice_router/rules") "      default_model: weak\n"
                                     "      rules: [{if: {tools: true}, then: strong}]\n" ROUTER(
                                         "b",
                                         "sluice_router/learned") "      strong_model: a\n      weak_model: weak\n",
     "r.yaml:18: model_list[3].litellm_params.strong_model: strong_model 'a' is a router; a router's targets are "
     "deployment groups"},
    {GROUPS ROUTER("a", "sluice_router/rules") "      default_model: a\n"
                                               "      rules: [{if: {tools: true}, then: strong}]\n",
     "r.yaml:13: model_list[2].litellm_params.default_model: default_model 'a' is a router"},
    /* what a kind needs */
    {GROUPS ROUTER("r", "sluice_router/rules") "      rules: [{if: {tools: true}, then: strong}]\n",
     "r.yaml:11: model_list[2].litellm_params: a rules router needs default_model (when no rule matches)"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n",
     "r.yaml:11: model_list[2].litellm_params: a rules router needs rules"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n",
     "r.yaml:11: model_list[2].litellm_params: a learned router needs strong_model and weak_model"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      weak_model: weak\n",
     "r.yaml:11: model_list[2].litellm_params: a learned router needs strong_model and weak_model"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      threshold: 0.1\n      strong_fraction: 0.3\n",
     "r.yaml:16: model_list[2].litellm_params.strong_fraction: give strong_fraction or threshold, not both"},
    {GROUPS ROUTER("c", "sluice_router/cost") "      min_quality: 0.5\n",
     "r.yaml:11: model_list[2].litellm_params: a cost router needs targets"},
    {GROUPS ROUTER("c", "sluice_router/cost") "      targets: [weak, strong]\n",
     "r.yaml:13: model_list[2].litellm_params.targets[0]: target 'weak' needs a quality (0..1) for the cost router"},
    {GROUPS ROUTER("c", "sluice_router/chain") "      strong_model: strong\n",
     "r.yaml:11: model_list[2].litellm_params: a chain router needs targets, or strong_model and weak_model"},
    {GROUPS ROUTER("t",
                   "auto_router/complexity_router") "      complexity_router_config:\n"
                                                    "        tiers: {SIMPLE: weak, MEDIUM: weak, COMPLEX: strong}\n",
     "r.yaml:11: model_list[2].litellm_params: complexity_router_config.tiers needs a group for REASONING"},
    {GROUPS ROUTER(
         "t", "auto_router/complexity_router") "      complexity_router_config:\n"
                                               "        tiers: {SIMPLE: weak, MEDIUM: weak, COMPLEX: strong, "
                                               "REASONING: strong}\n"
                                               "        tier_boundaries: {simple_medium: 0.5, medium_complex: 0.4}\n",
     "r.yaml:11: model_list[2].litellm_params: complexity_router_config.tier_boundaries must increase"},
    {GROUPS ROUTER("t", "auto_router/complexity_router") "      complexity_router_config:\n"
                                                         "        tiers: {EASY: weak}\n",
     "r.yaml:14: model_list[2].litellm_params.complexity_router_config.tiers.EASY: unknown tier (SIMPLE, MEDIUM, "
     "COMPLEX, REASONING)"},
    /* values */
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      threshold: 2\n",
     "r.yaml:15: model_list[2].litellm_params.threshold: expected a number from -1 to 1 (the router's score scale), "
     "got '2'"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      strong_fraction: 30%\n",
     "r.yaml:15: model_list[2].litellm_params.strong_fraction: expected a number from 0 to 1, got '30%'"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      max_routed_bytes: 10\n",
     "r.yaml:15: model_list[2].litellm_params.max_routed_bytes: expected a size in bytes of at least 64"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {if: {colour: blue}, then: weak}\n",
     "r.yaml:15: model_list[2].litellm_params.rules[0].if.colour: unknown condition (use header, metadata"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {if: {min_prompt_tokens: lots}, then: weak}\n",
     "r.yaml:15: model_list[2].litellm_params.rules[0].if.min_prompt_tokens: expected a whole number >= 0, got "
     "'lots'"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {if: {stream: maybe}, then: weak}\n",
     "r.yaml:15: model_list[2].litellm_params.rules[0].if.stream: expected true or false, got 'maybe'"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {name: x, if: {tools: true}}\n",
     "r.yaml:15: model_list[2].litellm_params.rules[0]: missing 'then' (the group this rule sends to)"},
    {GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n"
                                               "      rules:\n"
                                               "        - {if: {header: x-tier}, then: weak}\n",
     "r.yaml:15: model_list[2].litellm_params.rules[0].if.header: expected a mapping of header name to value(s)"},
    /* names */
    {GROUPS ROUTER("weak", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n",
     "r.yaml:10: model_list[2]"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n" ROUTER(
         "auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n",
     "r.yaml:15: model_list[3]"},
    /* model files */
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      router_model_path: /nonexistent/sluice/app.slrt\n",
     "r.yaml:15: model_list[2].litellm_params.router_model_path: cannot read router model "
     "'/nonexistent/sluice/app.slrt': No such file or directory"},
    {GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                    "      router_model_path: /tmp\n",
     "r.yaml:15: model_list[2].litellm_params.router_model_path: cannot read router model '/tmp': not a regular "
     "file of at most 64 MiB"},
};

static void refused(void) {
  for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
    bool ok = fails_with(errors[i].yaml, errors[i].want);
    if (!ok) fprintf(stderr, "  (case %zu)\n", i);
    CHECK(ok);
  }
}

/* The messages for duplicate names say what is wrong. */
static void refused_names_say_why(void) {
  CHECK(
      fails_with(GROUPS ROUTER("weak", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n",
                 "r.yaml:10: model_list[2].model_name: router 'weak' has the name of a deployment group"));
  CHECK(fails_with(
      GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n" ROUTER(
          "auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n",
      "r.yaml:15: model_list[3].model_name: two routers are named 'auto'"));
}

/* Aliases and fallbacks name groups of deployments, never a router (the router's targets
 * carry their fallbacks); a router never shares a name with an alias (which would win?). */
#define AUTO ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
static void routers_are_not_aliases_or_fallbacks(void) {
  CHECK(fails_with(GROUPS AUTO "router_settings:\n  fallbacks: [{weak: [auto]}]\n",
                   "r.yaml:16: router_settings.fallbacks[0].weak[0]: 'auto' is a router; aliases and fallbacks name "
                   "groups of deployments"));
  CHECK(fails_with(GROUPS AUTO "router_settings:\n  fallbacks: [{auto: [weak]}]\n",
                   "r.yaml:16: router_settings.fallbacks[0].auto: 'auto' is a router"));
  CHECK(fails_with(GROUPS AUTO "router_settings:\n  default_fallbacks: [auto]\n",
                   "r.yaml:16: router_settings.default_fallbacks[0]: 'auto' is a router"));
  CHECK(fails_with(GROUPS AUTO "router_settings:\n  model_group_alias: {gpt-4: auto}\n",
                   "r.yaml:16: router_settings.model_group_alias.gpt-4: 'auto' is a router"));
  CHECK(fails_with(GROUPS AUTO "router_settings:\n  model_group_alias: {auto: weak}\n",
                   "r.yaml:10: model_list[2].model_name: router 'auto' has the name of a "
                   "router_settings.model_group_alias"));
  /* fallbacks on the target groups are fine */
  char err[1024];
  struct sl_config *c = load(GROUPS AUTO "router_settings:\n  fallbacks: [{weak: [strong]}]\n", err, sizeof err);
  CHECK(c != NULL);
  if (c) {
    const struct sl_group *w = sl_plan_group(c->plan, "weak");
    CHECK(w && w->nfallbacks[SL_FB_GENERAL] == 1 && w->fallbacks[SL_FB_GENERAL][0] == sl_plan_group(c->plan, "strong"));
  }
  sl_config_free(c);
}

/* At most 32 cost targets (router.c weighs them on its stack). */
static void too_many_targets(void) {
  char y[8192];
  size_t n = (size_t)snprintf(y, sizeof y, GROUPS ROUTER("c", "sluice_router/cost") "      targets:\n");
  for (int i = 0; i < 33; i++) n += (size_t)snprintf(y + n, sizeof y - n, "        - {model: weak, quality: 0.5}\n");
  CHECK(fails_with(y, "r.yaml:14: model_list[2].litellm_params.targets: 33 targets; a router takes at most 32"));
  y[n - strlen("        - {model: weak, quality: 0.5}\n")] = 0; /* 32 */
  char err[1024];
  struct sl_config *c = load(y, err, sizeof err);
  CHECK(c && c->routers[0].ntargets == 32);
  sl_config_free(c);
}

/* A corrupt model file (not a sluice router model) is refused naming the file and why. */
static void corrupt_model_file(void) {
  char *d = tmpdir();
  CHECK(d != NULL);
  if (!d) return;
  char p[4200], y[8400];
  snprintf(p, sizeof p, "%s/bad.slrt", d);
  FILE *f = fopen(p, "wb");
  CHECK(f != NULL);
  if (f) {
    fputs("this is not a router model at all", f);
    fclose(f);
  }
  snprintf(y, sizeof y,
           GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n      weak_model: weak\n"
                                                          "      router_model_path: %s\n",
           p);
  char want[8400];
  snprintf(want, sizeof want,
           "r.yaml:15: model_list[2].litellm_params.router_model_path: router model '%s' refused: ", p);
  CHECK(fails_with(y, want));
  /* an empty file too */
  f = fopen(p, "wb");
  if (f) fclose(f);
  CHECK(fails_with(y, want));
  unlink(p);
  rm_rf(d);
  free(d);
}

/* Learning from outcomes (core/router_online.h): the keys, their defaults, and what is refused. */
static bool fails_containing(const char *yaml, const char *needle) {
  char err[1024] = "";
  struct sl_config *c = NULL;
  int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", NULL, NULL, &c, err, sizeof err);
  if (rc == 0) sl_config_free(c);
  if (rc != -EINVAL || !strstr(err, needle)) {
    fprintf(stderr, "  want: ...%s...\n  got:  %s (rc %d)\n", needle, err, rc);
    return false;
  }
  return true;
}

static void learning_keys(void) {
  char err[1024];
  struct sl_config *c = load(GROUPS ROUTER("auto", "sluice_router/learned") "      strong_model: strong\n"
                                                                            "      weak_model: weak\n"
                                                                            "      learning: online\n"
                                                                            "      frozen: true\n"
                                                                            "      exploration_budget_usd_per_day: 2.5\n"
                                                                            "      max_shift_per_hour: 0.5\n"
                                                                            "      evidence_half_life: 1h\n"
                                                                            ROUTER("plain", "sluice_router/learned")
                                                                            "      strong_model: strong\n"
                                                                            "      weak_model: weak\n",
                             err, sizeof err);
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0], *p = &c->routers[1];
  CHECK(r->learn_online && r->frozen && r->exploration_budget_usd_per_day == 2.5 && r->max_shift_per_hour == 0.5);
  CHECK(r->evidence_half_life_ms == 3600000);
  CHECK(!p->learn_online && !p->frozen && p->exploration_budget_usd_per_day == 0 && p->max_shift_per_hour == 0.2);
  CHECK(p->evidence_half_life_ms == 86400000);
  sl_config_free(c);
  CHECK(fails_containing(GROUPS ROUTER("r", "sluice_router/rules") "      default_model: weak\n      learning: online\n",
                         "'learning: online' needs a learned router (sluice_router/learned or chain) or a cascade, "
                         "not 'sluice_router/rules'"));
  CHECK(fails_containing(GROUPS AUTO "      learning: sometimes\n", "learning"));
  CHECK(fails_containing(GROUPS AUTO "      learning: online\n      max_shift_per_hour: 3\n",
                         "max_shift_per_hour must be from 0 to 2"));
  CHECK(fails_containing(GROUPS AUTO "      exploration_budget_usd_per_day: -1\n", "exploration_budget_usd_per_day"));
}

CHECK_MAIN(T(learned_loads), T(cascade_loads), T(learned_threshold_and_defaults), T(rules_loads), T(cost_and_chain_load),
           T(complexity_router_loads), T(model_file_relative_to_config), T(refused), T(refused_names_say_why),
           T(corrupt_model_file), T(routers_are_not_aliases_or_fallbacks), T(too_many_targets), T(learning_keys))
