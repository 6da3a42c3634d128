/* libFuzzer target for a provider's model list (core/config/plan_models.h:
 * sl_plan_models_parse, then sl_plan_models_json): the input is one answer body (OpenAI's
 * {"data":[{"id"}]} or Anthropic's with has_more / last_id), parsed with a small count bound
 * and given as the list of every listable deployment of a fixed config with every pattern
 * form. The parse keeps its bounds (count, id length, last_id's NUL), and every name the
 * merged body lists is one the request path serves (a group, or a pattern's match). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config.h"
#include "core/config/plan.h"
#include "core/config/plan_models.h"

static struct sl_config *cfg;

static const char yaml[] =
    "model_list:\n"
    "  - model_name: 'openai/gpt-4o'\n    litellm_params: {model: 'openai/gpt-4o', api_key: k}\n"
    "  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_key: k}\n"
    "  - model_name: 'anthropic/*'\n    litellm_params: {model: 'anthropic/*', api_key: k}\n"
    "  - model_name: 'gpt-*-x'\n    litellm_params: {model: 'azure/d-*', api_base: 'https://a.example', api_key: k}\n"
    "  - model_name: '*'\n    litellm_params: {model: '*', api_key: k}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!cfg) {
    char err[256];
    if (sl_config_load_string(yaml, sizeof yaml - 1, "fuzz.yaml", NULL, NULL, &cfg, err, sizeof err)) __builtin_trap();
  }
  struct sl_model_ids l = {0};
  bool trunc = false, more = false;
  char last[32], err[128];
  memset(last, 'x', sizeof last);
  int rc = sl_plan_models_parse((const char *)data, size, 50, &l, &trunc, &more, last, sizeof last, err, sizeof err);
  if (l.n > 50 || memchr(last, 0, sizeof last) == NULL || (rc && more)) __builtin_trap();
  for (size_t i = 0; i < l.n; i++) {
    size_t k = strlen(l.ids[i]);
    if (!k || k > SL_MODELS_ID_MAX) __builtin_trap();
  }
  const struct sl_model_ids **lists = calloc(cfg->ndeployments, sizeof *lists);
  if (!lists) goto out;
  for (size_t i = 0; i < cfg->ndeployments; i++) lists[i] = &l;
  char *body = NULL;
  size_t n = 0;
  if (sl_plan_models_json(cfg->plan, cfg->deployments, lists, &body, &n) == 0) {
    cJSON *o = cJSON_ParseWithLength(body, n);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data"), *m;
    if (!cJSON_IsArray(d)) __builtin_trap();
    cJSON_ArrayForEach(m, d) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
      if (!cJSON_IsString(id)) __builtin_trap();
      if (!sl_plan_group(cfg->plan, id->valuestring) && !sl_plan_match(cfg->plan, id->valuestring)) __builtin_trap();
    }
    cJSON_Delete(o);
    free(body);
  }
  free(lists);
out:
  sl_model_ids_free(&l);
  return 0;
}
