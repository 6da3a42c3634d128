/* core/config/plan_models: a provider's model list parsed (ids, bounds, Anthropic's has_more
 * / last_id, errors), which wildcard deployments may list it, and the /v1/models body: the
 * concrete groups and aliases first, each pattern replaced by the provider ids mapped through
 * it ("openai/\*" + "gpt-4o" -> "openai/gpt-4o", a bare "*"'s copy for another provider
 * "anthropic/..."), only names the request path takes back to the same deployment and the same
 * upstream model (exact groups and longer patterns win), sorted, duplicates removed, and the
 * pattern itself when none of its deployments has a list. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config/config.h"
#include "core/config/plan.h"
#include "core/config/plan_models.h"

static void parse_pages(void) {
  struct sl_model_ids l = {0};
  bool trunc = false, more = true;
  char last[64], err[128];
  const char *b = "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"},{\"id\":7},{\"x\":1},\"s\",{\"id\":\"\"},"
                  "{\"id\":\"o3\"}]}";
  CHECK(sl_plan_models_parse(b, strlen(b), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0);
  CHECK(l.n == 2 && !strcmp(l.ids[0], "gpt-4o") && !strcmp(l.ids[1], "o3"));
  CHECK(!trunc && !more && last[0] == 0);
  /* Anthropic's next page: appended; has_more needs last_id */
  b = "{\"data\":[{\"type\":\"model\",\"id\":\"claude-a\"}],\"has_more\":true,\"last_id\":\"claude-a\"}";
  CHECK(sl_plan_models_parse(b, strlen(b), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0);
  CHECK(l.n == 3 && !strcmp(l.ids[2], "claude-a") && more && !strcmp(last, "claude-a"));
  b = "{\"data\":[],\"has_more\":true}";
  CHECK(sl_plan_models_parse(b, strlen(b), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0 && !more);
  b = "{\"data\":[],\"has_more\":true,\"last_id\":"
      "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}";
  CHECK(sl_plan_models_parse(b, strlen(b), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0 && !more);
  /* the count bound */
  b = "{\"data\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}";
  CHECK(sl_plan_models_parse(b, strlen(b), 4, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0);
  CHECK(l.n == 4 && trunc && !strcmp(l.ids[3], "a"));
  sl_model_ids_free(&l);
  CHECK(l.n == 0 && l.ids == NULL);
  /* a 257-byte id is skipped */
  char big[400];
  snprintf(big, sizeof big, "{\"data\":[{\"id\":\"%0257d\"},{\"id\":\"ok\"}]}", 0);
  trunc = false;
  CHECK(sl_plan_models_parse(big, strlen(big), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == 0);
  CHECK(l.n == 1 && !strcmp(l.ids[0], "ok"));
  sl_model_ids_free(&l);
  /* errors */
  CHECK(sl_plan_models_parse("not json", 8, 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == -1);
  CHECK(strstr(err, "not JSON") != NULL);
  b = "{\"choices\":[]}";
  CHECK(sl_plan_models_parse(b, strlen(b), 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == -1);
  CHECK(strstr(err, "no \"data\" array") != NULL);
  CHECK(sl_plan_models_parse("[1]", 3, 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == -1);
  CHECK(sl_plan_models_parse(NULL, 0, 10, &l, &trunc, &more, last, sizeof last, err, sizeof err) == -1);
  CHECK(l.n == 0);
}

static struct sl_model_ids mk(const char *const *ids) {
  struct sl_model_ids l = {0};
  size_t n = 0;
  while (ids[n]) n++;
  l.ids = calloc(n + 1, sizeof *l.ids);
  for (size_t i = 0; i < n; i++) l.ids[i] = strdup(ids[i]);
  l.n = l.cap = n;
  return l;
}

static size_t dep_by_id(const struct sl_config *c, const char *id) {
  for (size_t i = 0; i < c->ndeployments; i++)
    if (!strcmp(c->deployments[i].id, id)) return i;
  return (size_t)-1;
}

static void merged_body(void) {
  unsetenv("OPENAI_API_KEY");
  const char *keys[] = {"ANTHROPIC_API_KEY", "GEMINI_API_KEY",     "GROQ_API_KEY", "MISTRAL_API_KEY",
                        "DEEPSEEK_API_KEY",  "TOGETHERAI_API_KEY", "XAI_API_KEY",  "OPENROUTER_API_KEY"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) unsetenv(keys[i]);
  setenv("ANTHROPIC_API_KEY", "an-key", 1);
  const char *yaml =
      "model_list:\n"
      "  - model_name: openai/gpt-4o\n    litellm_params: {model: openai/gpt-4o, api_base: 'http://127.0.0.1:9/v1', "
      "api_key: k}\n"
      "  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:9/v1', api_key: "
      "k}\n"
      "    model_info: {id: oa1}\n"
      "  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:8/v1', api_key: "
      "k}\n"
      "    model_info: {id: oa2}\n"
      "  - model_name: 'gpt-*'\n    litellm_params: {model: 'azure/dep-*', api_base: 'https://x.example', api_key: k}\n"
      "    model_info: {id: az}\n"
      "  - model_name: 'team/*'\n    litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:7/v1', api_key: "
      "k}\n"
      "    model_info: {id: team}\n"
      "  - model_name: '*'\n    litellm_params: {model: '*', api_base: 'http://127.0.0.1:6/v1'}\n"
      "    model_info: {id: any}\n"
      "router_settings:\n  model_group_alias: {fast: openai/gpt-4o, 'openai/o1': {model: openai/gpt-4o, hidden: "
      "true}}\n";
  char err[512];
  struct sl_config *c = NULL;
  int rc = sl_config_load_string(yaml, strlen(yaml), "m.yaml", NULL, NULL, &c, err, sizeof err);
  unsetenv("ANTHROPIC_API_KEY");
  CHECK(rc == 0 && c);
  if (!c) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  size_t oa1 = dep_by_id(c, "oa1"), oa2 = dep_by_id(c, "oa2"), az = dep_by_id(c, "az"), any = dep_by_id(c, "any"),
         anyan = dep_by_id(c, "any@anthropic"), team = dep_by_id(c, "team");
  CHECK(oa1 != (size_t)-1 && oa2 != (size_t)-1 && az != (size_t)-1 && any != (size_t)-1 && anyan != (size_t)-1);
  if (anyan == (size_t)-1 || team == (size_t)-1) {
    sl_config_free(c);
    return;
  }
  CHECK(sl_plan_models_listable(&c->deployments[oa1]) && sl_plan_models_listable(&c->deployments[any]));
  CHECK(sl_plan_models_listable(&c->deployments[anyan]) && sl_plan_models_listable(&c->deployments[team]));
  CHECK(!sl_plan_models_listable(&c->deployments[az])); /* "dep-*": not the provider's ids */
  CHECK(!sl_plan_models_listable(&c->deployments[0]));  /* not a wildcard */

  /* no lists: the plan's own body */
  const struct sl_model_ids **lists = calloc(c->ndeployments, sizeof *lists);
  char *out = NULL;
  size_t n = 0;
  CHECK(sl_plan_models_json(c->plan, c->deployments, lists, &out, &n) == 0 && out && n == strlen(out));
  if (out) CHECK_STR(out, c->plan->models_json);
  free(out);

  static const char *const l1[] = {"gpt-4o", "o1", "o3-mini", "gpt-4o-mini", "bad name", "x/../y", NULL};
  static const char *const l2[] = {"o3-mini", "gpt-4.1", NULL};
  static const char *const la[] = {"claude-x", "gpt-5", NULL};
  static const char *const lo[] = {"o3", "gpt-4o", "claude-y", "gemini-2.5-pro", NULL};
  static const char *const lz[] = {"dep-1", NULL};
  struct sl_model_ids a1 = mk(l1), a2 = mk(l2), aa = mk(la), ao = mk(lo), az_l = mk(lz), empty = {0};
  lists[oa1] = &a1;
  lists[oa2] = &a2;
  lists[anyan] = &aa;
  lists[any] = &ao;
  lists[az] = &az_l;    /* never expanded */
  lists[team] = &empty; /* a list with nothing: the pattern stays */
  CHECK(sl_plan_models_json(c->plan, c->deployments, lists, &out, &n) == 0 && out);
  if (out) {
    const char *want =
        "{\"object\":\"list\",\"data\":["
        "{\"id\":\"openai/gpt-4o\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"fast\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        /* openai/(star): both deployments' lists, sorted, once each; "openai/gpt-4o" is the
           exact group's, "openai/o1" a hidden alias; names no pattern may serve left out */
        "{\"id\":\"openai/gpt-4.1\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"openai/gpt-4o-mini\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"openai/o3-mini\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"gpt-*\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"team/*\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        /* the bare "*": "o3" as it is; "gpt-4o" is gpt-*'s and "openai/gpt-4o" the exact
           group's: not listed; the anthropic copy's "claude-x" as it is, its "gpt-5" with its
           provider; "claude-y" and "gemini-2.5-pro" from OpenAI's list would need "openai/",
           and that name is openai/(star)'s: not listed */
        "{\"id\":\"anthropic/gpt-5\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"claude-x\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"},"
        "{\"id\":\"o3\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"}"
        "]}";
    CHECK_STR(out, want);
    if (strcmp(out, want)) fprintf(stderr, "  got %s\n", out);
  }
  free(out);
  /* every listed name is served by the request path, with the listed upstream model */
  CHECK(sl_plan_match(c->plan, "claude-x") == sl_plan_group(c->plan, "*@anthropic"));
  CHECK(sl_plan_match(c->plan, "openai/claude-y") == sl_plan_group(c->plan, "openai/*"));
  sl_model_ids_free(&a1);
  sl_model_ids_free(&a2);
  sl_model_ids_free(&aa);
  sl_model_ids_free(&ao);
  sl_model_ids_free(&az_l);
  free(lists);
  sl_config_free(c);
}

CHECK_MAIN(T(parse_pages), T(merged_body))
