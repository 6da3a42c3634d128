/* libFuzzer target for wildcard matching (core/config/plan.h: sl_plan_match,
 * sl_plan_wild_infer, sl_plan_wild_model): the input is a client's model name (copied into an
 * exact-size NUL-terminated heap block) matched against a fixed config with every pattern
 * form. A match must be a wildcard group, and its upstream model must be written exactly as
 * sized (no read or write outside the blocks), never empty unless the name was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config.h"

static struct sl_config *cfg;

static const char yaml[] = "model_list:\n"
                           "  - model_name: 'openai/*'\n    litellm_params: {model: 'openai/*', api_key: k}\n"
                           "  - model_name: 'anthropic/*'\n    litellm_params: {model: 'anthropic/*', api_key: k}\n"
                           "  - model_name: 'gpt-*-x'\n    litellm_params: {model: 'azure/d-*', api_base: 'https://a.example', api_key: k}\n"
                           "  - model_name: 'exact'\n    litellm_params: {model: 'openai/e', api_key: k}\n"
                           "  - model_name: '*'\n    litellm_params: {model: '*', api_key: k}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!cfg) {
    char err[256];
    if (sl_config_load_string(yaml, sizeof yaml - 1, "fuzz.yaml", NULL, NULL, &cfg, err, sizeof err)) __builtin_trap();
  }
  char *name = malloc(size + 1);
  if (!name) return 0;
  memcpy(name, data, size);
  name[size] = 0;
  size_t strip;
  const struct sl_provider *pv = sl_plan_wild_infer(name, &strip);
  if (!pv || strip > strlen(name)) __builtin_trap();
  const struct sl_group *g = sl_plan_match(cfg->plan, name);
  if (g) {
    if (!g->n) __builtin_trap();
    for (size_t i = 0; i < g->n; i++) {
      const struct sl_deployment *d = &cfg->deployments[g->deps[i]];
      if (!(d->wild & SL_WILD_PATTERN)) __builtin_trap();
      int n = sl_plan_wild_model(d, name, NULL, 0);
      if (n < 0) __builtin_trap();
      char *out = malloc((size_t)n + 1);
      if (!out) break;
      if (sl_plan_wild_model(d, name, out, (size_t)n + 1) != n || strlen(out) != (size_t)n) __builtin_trap();
      free(out);
    }
  }
  free(name);
  return 0;
}
