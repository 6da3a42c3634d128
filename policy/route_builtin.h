/* The built-in learned-router model: policy/models/default.slrt (trained on RouteLLM's
 * published GPT-4 vs Mixtral outcomes, see policy/models/SOURCE.md), embedded into the
 * binary at build time by policy/models/embed.py. Used when a learned router names no
 * router_model_path. */
#ifndef SL_POLICY_ROUTE_BUILTIN_H
#define SL_POLICY_ROUTE_BUILTIN_H

#include <stddef.h>

/* The embedded default model's bytes (parse them with sl_route_model_parse). */
const unsigned char *sl_route_builtin_model(size_t *len);

#endif
