/* core/config/config_semantic + config_routers: the semantic router's config. Loads: the
 * sluice shape (routes with utterances, description, per-route and router score_threshold,
 * embedding_model, embedding_timeout) and LiteLLM's auto_router/<name> with a JSON file at
 * auto_router_config_path (relative to the config file); the plan resolves every route and
 * the embeddings group. Refused, with FILE:LINE: key.path: why: a route group that is not a
 * group or is a router, an embeddings group that is not a group, no routes, no default, a
 * route with no utterances, out-of-range thresholds, unknown route keys, both routes and a
 * config path, a missing or malformed JSON file (naming the element). The JSON parser alone:
 * good and bad documents with their messages. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config/config.h"
#include "core/config/config_semantic.h"
#include "core/config/plan.h"
#include "tmpdir.h"

#undef CHECK_STR
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

static struct sl_config *load(const char *yaml) {
  struct sl_config *c = NULL;
  char err[1024] = "";
  int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", NULL, NULL, &c, err, sizeof err);
  if (rc) fprintf(stderr, "  load failed: %s\n", err);
  return rc ? NULL : c;
}

static bool fails_with(const char *yaml, const char *want) {
  char err[1024] = "";
  struct sl_config *c = NULL;
  int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", NULL, NULL, &c, err, sizeof err);
  if (rc == 0) sl_config_free(c);
  if (rc != -EINVAL || strncmp(err, want, strlen(want)) != 0) {
    fprintf(stderr, "  want: %s\n  got:  %s (rc %d)\n", want, err, rc);
    return false;
  }
  return true;
}

/* Lines 1-12: three deployment groups (math, history, emb); the router on line 13, its
 * litellm_params on 14, its model on 15, its first parameter on 16. */
#define GROUPS                                                                                                         \
  "model_list:\n"                                                                                                      \
  "  - model_name: math\n"                                                                                             \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/a\n"                                                                                            \
  "  - model_name: history\n"                                                                                          \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/b\n"                                                                                            \
  "  - model_name: emb\n"                                                                                              \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/text-embedding-3-small\n"                                                                       \
  "  - model_name: general\n"                                                                                          \
  "    litellm_params: {model: openai/c}\n"
#define ROUTER(name, kind) "  - model_name: " name "\n    litellm_params:\n      model: " kind "\n"

static void semantic_loads(void) {
  struct sl_config *c =
      load(GROUPS ROUTER("topic", "sluice_router/semantic") "      default_model: general\n"
                                                            "      embedding_model: emb\n"
                                                            "      embedding_timeout: 500ms\n"
                                                            "      score_threshold: 0.4\n"
                                                            "      routes:\n"
                                                            "        - model: math\n"
                                                            "          utterances: [solve x, integrate]\n"
                                                            "          score_threshold: 0.6\n"
                                                            "        - model: history\n"
                                                            "          description: wars and kings\n");
  CHECK(c != NULL);
  if (!c) return;
  const struct sl_router_cfg *r = &c->routers[0];
  CHECK(r->kind == SL_ROUTER_SEMANTIC);
  CHECK(r->nsem_routes == 2);
  CHECK_STR(r->sem_routes[0].group, "math");
  CHECK(r->sem_routes[0].nutterances == 2);
  CHECK_STR(r->sem_routes[0].utterances[1], "integrate");
  CHECK(fabs(r->sem_routes[0].score_threshold - 0.6) < 1e-9);
  CHECK(isnan(r->sem_routes[1].score_threshold));
  CHECK(r->sem_routes[1].nutterances == 0);
  CHECK_STR(r->sem_routes[1].description, "wars and kings");
  CHECK(fabs(r->score_threshold - 0.4) < 1e-9);
  CHECK(r->embedding_timeout_ms == 500);
  CHECK_STR(r->embedding_model, "emb");
  const struct sl_plan_router *pr = &c->plan->routers[0];
  CHECK(pr->sem_targets[0] && strcmp(pr->sem_targets[0]->name, "math") == 0);
  CHECK(pr->sem_targets[1] && strcmp(pr->sem_targets[1]->name, "history") == 0);
  CHECK(pr->embed && strcmp(pr->embed->name, "emb") == 0);
  CHECK(pr->deflt && strcmp(pr->deflt->name, "general") == 0);
  CHECK(sl_plan_group(c->plan, "topic") == pr->group);
  sl_config_free(c);
  /* defaults: in-process embedder, 2 s, 0.3 */
  c = load(GROUPS ROUTER("topic", "sluice_router/semantic") "      default_model: general\n"
                                                            "      routes: [{model: math, utterances: [solve x]}]\n");
  CHECK(c && c->routers[0].embedding_model == NULL && c->plan->routers[0].embed == NULL);
  CHECK(c && c->routers[0].embedding_timeout_ms == 2000 && fabs(c->routers[0].score_threshold - 0.3) < 1e-9);
  sl_config_free(c);
}

static void auto_router_json_loads(void) {
  char *d = tmpdir();
  CHECK(d != NULL);
  if (!d) return;
  char p[4200], y[4200];
  snprintf(p, sizeof p, "%s/routes.json", d);
  FILE *f = fopen(p, "w");
  if (f) {
    fputs("{\"routes\": [{\"name\": \"math\", \"utterances\": [\"solve for x\", \"derivative\"], "
          "\"description\": \"mathematics\", \"score_threshold\": 0.5, \"metadata\": {}},"
          "{\"name\": \"history\", \"utterances\": [\"who won the war\"]}]}",
          f);
    fclose(f);
  }
  snprintf(y, sizeof y, "%s/config.yaml", d);
  f = fopen(y, "w");
  if (f) {
    fputs(GROUPS ROUTER("auto", "auto_router/auto_router_1") "      auto_router_config_path: routes.json\n"
                                                             "      auto_router_default_model: general\n"
                                                             "      auto_router_embedding_model: emb\n",
          f);
    fclose(f);
  }
  struct sl_config *c = NULL;
  char err[1024] = "";
  CHECK(sl_config_load_file(y, NULL, NULL, &c, err, sizeof err) == 0);
  if (err[0]) fprintf(stderr, "  %s\n", err);
  if (c) {
    const struct sl_router_cfg *r = &c->routers[0];
    CHECK(r->kind == SL_ROUTER_SEMANTIC && r->nsem_routes == 2);
    CHECK_STR(r->sem_routes[0].description, "mathematics");
    CHECK(fabs(r->sem_routes[0].score_threshold - 0.5) < 1e-9);
    CHECK_STR(r->sem_routes[1].utterances[0], "who won the war");
    CHECK_STR(r->embedding_model, "emb");
    CHECK_STR(r->default_model, "general");
    CHECK(c->plan->routers[0].sem_targets[1] == sl_plan_group(c->plan, "history"));
  }
  sl_config_free(c);
  /* a route naming no group: refused where the path was written, naming the element */
  f = fopen(p, "w");
  if (f) {
    fputs("{\"routes\": [{\"name\": \"math\", \"utterances\": [\"x\"]}, {\"name\": \"poetry\", \"utterances\": "
          "[\"y\"]}]}",
          f);
    fclose(f);
  }
  c = NULL;
  CHECK(sl_config_load_file(y, NULL, NULL, &c, err, sizeof err) == -EINVAL);
  CHECK(strstr(err, "config.yaml:16: model_list[4].litellm_params.auto_router_config_path: routes[1].name 'poetry' "
                    "is not a model_name in model_list") != NULL);
  if (!strstr(err, "routes[1].name 'poetry'")) fprintf(stderr, "  got: %s\n", err);
  /* malformed JSON: the file and the element */
  f = fopen(p, "w");
  if (f) {
    fputs("{\"routes\": [{\"name\": \"math\", \"utterances\": [\"x\", 3]}]}", f);
    fclose(f);
  }
  CHECK(sl_config_load_file(y, NULL, NULL, &c, err, sizeof err) == -EINVAL);
  CHECK(strstr(err, "config.yaml:16: model_list[4].litellm_params.auto_router_config_path: '") != NULL);
  CHECK(strstr(err, "routes.json': routes[0].utterances[1]: expected a string") != NULL);
  if (!strstr(err, "utterances[1]")) fprintf(stderr, "  got: %s\n", err);
  unlink(p);
  CHECK(sl_config_load_file(y, NULL, NULL, &c, err, sizeof err) == -EINVAL);
  CHECK(strstr(err, "routes.json': No such file or directory") != NULL);
  unlink(y);
  rm_rf(d);
  free(d);
}

struct err_case {
  const char *yaml, *want;
};

static const struct err_case errors[] = {
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes: [{model: poetry, utterances: [rhyme]}]\n",
     "r.yaml:17: model_list[4].litellm_params.routes[0].model: route 0's model 'poetry' is not a model_name in "
     "model_list"},
    {GROUPS ROUTER(
         "t", "sluice_router/semantic") "      default_model: general\n"
                                        "      routes: [{model: math, utterances: [x]}]\n" ROUTER(
                                            "u",
                                            "sluice_router/semantic") "      default_model: general\n"
                                                                      "      routes: [{model: t, utterances: [y]}]\n",
     "r.yaml:22: model_list[5].litellm_params.routes[0].model: route 0's model 't' is a router"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      embedding_model: embed\n"
                                                  "      routes: [{model: math, utterances: [x]}]\n",
     "r.yaml:17: model_list[4].litellm_params.embedding_model: embedding_model 'embed' is not a model_name"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n",
     "r.yaml:14: model_list[4].litellm_params: a semantic router needs routes (or auto_router_config_path)"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      routes: [{model: math, utterances: [x]}]\n",
     "r.yaml:14: model_list[4].litellm_params: a semantic router needs default_model (or auto_router_default_model)"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes: [{model: math}]\n",
     "r.yaml:17: model_list[4].litellm_params.routes[0]: route 'math' needs utterances (or a description)"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes: [{utterances: [x]}]\n",
     "r.yaml:17: model_list[4].litellm_params.routes[0]: missing 'model' (the group this route sends to)"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes:\n"
                                                  "        - model: math\n"
                                                  "          utterances: [x]\n"
                                                  "          score_threshold: 1.5\n",
     "r.yaml:20: model_list[4].litellm_params.routes[0].score_threshold: expected a similarity from -1 to 1, got "
     "'1.5'"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes:\n"
                                                  "        - model: math\n"
                                                  "          utterance: [x]\n",
     "r.yaml:19: model_list[4].litellm_params.routes[0].utterance: unknown key (a route has model, utterances, "
     "description and score_threshold)"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes: [{model: math, utterances: [[x]]}]\n",
     "r.yaml:17: model_list[4].litellm_params.routes[0].utterances[0]:"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      routes: []\n",
     "r.yaml:17: model_list[4].litellm_params.routes: empty; give at least one route"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      score_threshold: -2\n"
                                                  "      routes: [{model: math, utterances: [x]}]\n",
     "r.yaml:17: model_list[4].litellm_params.score_threshold: expected a number from -1 to 1"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      embedding_timeout: soon\n"
                                                  "      routes: [{model: math, utterances: [x]}]\n",
     "r.yaml:17: model_list[4].litellm_params.embedding_timeout:"},
    {GROUPS ROUTER("t", "sluice_router/semantic") "      default_model: general\n"
                                                  "      auto_router_config_path: r.json\n"
                                                  "      routes: [{model: math, utterances: [x]}]\n",
     "r.yaml:17: model_list[4].litellm_params.auto_router_config_path: give routes or auto_router_config_path, not "
     "both"},
    {GROUPS ROUTER("t", "auto_router/auto_router_1") "      auto_router_default_model: general\n",
     "r.yaml:14: model_list[4].litellm_params: a semantic router needs routes (or auto_router_config_path)"},
};

static void refused(void) {
  for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
    bool ok = fails_with(errors[i].yaml, errors[i].want);
    if (!ok) fprintf(stderr, "  (case %zu)\n", i);
    CHECK(ok);
  }
}

struct json_case {
  const char *json, *want; /* want NULL: parses */
};

static const struct json_case json_cases[] = {
    {"{\"routes\":[{\"name\":\"a\",\"utterances\":[\"x\"]}]}", NULL},
    /* LiteLLM's documented file: encoder keys and route keys sluice does not use are ignored */
    {"{\"encoder_type\":\"openai\",\"encoder_name\":\"text-embedding-3-large\",\"routes\":[{\"name\":\"a\","
     "\"utterances\":[\"litellm is great\"],\"description\":\"positive affirmation\",\"function_schemas\":null,"
     "\"llm\":null,\"score_threshold\":0.5,\"metadata\":{}}]}",
     NULL},
    {"{\"routes\":[{\"name\":\"a\",\"description\":\"d\",\"score_threshold\":null}]}", NULL},
    {"[1]", "expected an object with \"routes\": [...]"},
    {"{\"routes\":{}}", "expected an object with \"routes\": [...]"},
    {"{\"routes\":[]}", "routes: empty; give at least one route"},
    {"{\"routes\":[", "not valid JSON"},
    {"{\"routes\":[3]}", "routes[0]: expected an object"},
    {"{\"routes\":[{\"utterances\":[\"x\"]}]}", "routes[0]: missing \"name\""},
    {"{\"routes\":[{\"name\":\"\"}]}", "routes[0].name: expected a group name"},
    {"{\"routes\":[{\"name\":\"a\"}]}", "routes[0]: route 'a' needs utterances (or a description)"},
    {"{\"routes\":[{\"name\":\"a\",\"utterances\":[\"x\"]},{\"name\":\"b\",\"utterances\":\"y\"}]}",
     "routes[1].utterances: expected a list of strings"},
    {"{\"routes\":[{\"name\":\"a\",\"utterances\":[\"\"]}]}", "routes[0].utterances[0]: an utterance is 1 to"},
    {"{\"routes\":[{\"name\":\"a\",\"utterances\":[\"x\"],\"score_threshold\":2}]}",
     "routes[0].score_threshold: expected a similarity from -1 to 1"},
    {"{\"routes\":[{\"name\":\"a\",\"utterances\":[\"x\"],\"utterances\":[\"y\"]}]}",
     "routes[0].utterances: given twice"},
};

static void json_parser(void) {
  for (size_t i = 0; i < sizeof json_cases / sizeof *json_cases; i++) {
    struct sl_sem_route_cfg *rs = NULL;
    size_t n = 0;
    char err[256] = "";
    int rc = sl_sem_routes_json(json_cases[i].json, strlen(json_cases[i].json), &rs, &n, err, sizeof err);
    bool ok = json_cases[i].want ? rc == -EINVAL && rs == NULL && n == 0 &&
                                       strncmp(err, json_cases[i].want, strlen(json_cases[i].want)) == 0
                                 : rc == 0 && n == 1 && rs && strcmp(rs[0].group, "a") == 0;
    if (!ok) fprintf(stderr, "  json case %zu: rc %d err %s\n", i, rc, err);
    CHECK(ok);
    sl_sem_routes_free(rs, n);
  }
}

/* the complexity router keeps its meaning under auto_router/ */
static void complexity_router_still_tiers(void) {
  struct sl_config *c =
      load(GROUPS ROUTER("t", "auto_router/complexity_router") "      complexity_router_config:\n"
                                                               "        tiers: {SIMPLE: math, MEDIUM: math, COMPLEX: "
                                                               "history, REASONING: history}\n");
  CHECK(c && c->routers[0].kind == SL_ROUTER_TIERS);
  sl_config_free(c);
}

CHECK_MAIN(T(semantic_loads), T(auto_router_json_loads), T(refused), T(json_parser), T(complexity_router_still_tiers))
