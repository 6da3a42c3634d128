/* The route stage of the spine: when the model a client names is a router (a group whose
 * targets are other groups, plan.h's sl_plan_router), or the key is pinned to one, pick the
 * target group for this request and say why. Runs after parse, before admission; from
 * there the request is an ordinary request to the target group (balancing, retries,
 * fallbacks, hedging, cache, limits, cost all apply).
 * The decision itself is policy's (route_rules.h, route_model.h, route_calib.h,
 * route_cost.h); this file reads the request (prompt text capped at max_routed_bytes,
 * metadata, the key's labels, overrides) and keeps the per-worker state (the score ring
 * that tracks strong_fraction, counters). To add a router kind: a case in decide(). */
#ifndef SL_CORE_ROUTER_H
#define SL_CORE_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/verdict.h"

struct sl_group;
struct sl_request;
struct sl_worker;

/* Per worker, per router: what the router needs between requests and what it counted. */
struct sl_router_state;

int sl_router_worker_init(struct sl_worker *w);
/* At worker start (its listener up, before the loop runs): what routers prepare ahead of
 * traffic, e.g. semantic routes' utterance vectors (read from the store or embedded). */
void sl_router_warm(struct sl_worker *w);
void sl_router_worker_free(struct sl_worker *w);

/* RouteLLM's model naming: "router-<name>-<threshold>" names router <name> (a router's
 * model_name, or one of RouteLLM's router names for the first learned router) with that
 * threshold. True and the router's group when name is such a name. */
bool sl_router_parse_routellm(const struct sl_worker *w, const char *name, const struct sl_group **g,
                              double *threshold);

/* The route stage: false and a refusal when the request cannot be routed (a malformed or
 * forbidden override). rq->group is the target afterwards. */
bool sl_router_route(struct sl_request *rq, struct sl_refusal *r);

/* The router's counters into Prometheus text (metrics.c calls it). */
struct sl_buf;
void sl_router_metrics(const struct sl_worker *w, struct sl_buf *b);
/* Counts a routed request's end: its cost and the estimated cost on the strongest target. */
void sl_router_account(struct sl_request *rq);

#endif
