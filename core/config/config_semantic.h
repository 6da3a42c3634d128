/* The semantic router's routes in the config: YAML `routes: [{model, utterances,
 * description, score_threshold}]` under litellm_params, or LiteLLM's auto_router JSON file
 * (auto_router_config_path: {"routes": [{"name": <group>, "utterances": [...],
 * "description": ..., "score_threshold": ...}]}). Both fill struct sl_sem_route_cfg
 * (config.h); config_routers.c checks the groups they name. To add a route field: the
 * struct, both readers below, and README's config reference. */
#ifndef SL_CORE_CONFIG_SEMANTIC_H
#define SL_CORE_CONFIG_SEMANTIC_H

#include <stddef.h>
#include <yaml.h>

#include "core/config/config.h"

struct sl_cfg_ctx;

#define SL_SEM_MAX_ROUTES     64          /* routes per router */
#define SL_SEM_MAX_UTTERANCES 4096        /* utterances per route */
#define SL_SEM_MAX_UTTERANCE  4096        /* bytes per utterance */
#define SL_SEM_MAX_FILE       (16u << 20) /* an auto_router JSON file */

/* The YAML `routes` key (an SL_K_FUNC parser: field is &r->sem_routes). */
int sl_cfg_parse_semantic_routes(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field);

/* Parses the auto_router JSON text json[0..n): 0 and the routes (*out, *nout: the caller
 * frees them with sl_sem_routes_free), -ENOMEM, or -EINVAL with a message naming the
 * offending element ("routes[1].utterances[0]: expected a string") in err. */
int sl_sem_routes_json(const char *json, size_t n, struct sl_sem_route_cfg **out, size_t *nout, char *err,
                       size_t errlen);

/* Reads and parses r->auto_router_config_path (relative to the config file), reporting a
 * failure at node at / path as "FILE:LINE: path: 'file': why". */
int sl_cfg_semantic_load(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, struct sl_router_cfg *r);

void sl_sem_routes_free(struct sl_sem_route_cfg *routes, size_t n);

#endif
