/* RouteLLM's model naming, "router-<name>-<threshold>" (e.g. "router-auto-0.116",
 * "router-mf--0.1"): RouteLLM clients name the router and its threshold in the model
 * field. Pure: splits a name; the caller looks the router up. To accept another naming:
 * a parser next to this one. */
#ifndef SL_POLICY_ROUTE_NAME_H
#define SL_POLICY_ROUTE_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is "router-<name>-<threshold>" with a non-empty name and a threshold
 * from -1 to 1 (strtod's grammar, the whole rest): the name as s[*name_at .. *name_at +
 * *name_len) and the threshold in *threshold. */
bool sl_route_name_routellm(const char *s, size_t n, size_t *name_at, size_t *name_len, double *threshold);

#endif
