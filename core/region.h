/* Data residency for one request: which regions its deployments may be in (permitted)
 * and which are tried first (preferred). The decision arithmetic is policy/region.h;
 * this file gathers the lists (the key's, else general_settings', narrowed by the
 * request's x-sluice-region-* headers or body `sluice.region`), applies the rule to the
 * candidates of every deployment choice (first attempts, retries, hedges, fallbacks:
 * core/attempt.c calls sl_region_apply after each health snapshot), and words the 503
 * when no permitted deployment could serve. To add a source of lists: read it in
 * sl_region_resolve and narrow the rule in force with sl_policy_region_narrow. */
#ifndef SL_CORE_REGION_H
#define SL_CORE_REGION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/verdict.h"
#include "policy/choose.h"
#include "policy/region.h"

struct sl_request;
struct sl_group;

struct sl_request_region {
  struct sl_region_rule rule;
  char source[192];      /* what set the permitted list, e.g. "key 'acme' permitted_regions" */
  bool refused_any;      /* the rule refused a candidate of some choice of this request */
  bool permitted_any;    /* some choice had a candidate the rule permitted */
  int outside_preferred; /* attempts started outside the preferred list */
};

/* The region stage (after parse and authentication): rq->region set from the key's lists
 * (else general_settings'), narrowed by the request; NULL when no list applies. False
 * and a refusal when the request's lists are malformed (400) or widen the key's (403). */
bool sl_region_resolve(struct sl_request *rq, struct sl_refusal *r);

/* Applies rq's rule to c[0..g->n), a health snapshot of g: a refused deployment is
 * excluded, a permitted one outside the preferred list gets an order level behind every
 * preferred one. No-op without a rule. */
void sl_region_apply(struct sl_request *rq, const struct sl_group *g, struct sl_candidate *c);

/* The rank of deployment dep (an index into cfg->deployments) under rq's rule. */
enum sl_region_rank sl_region_rank_of(const struct sl_request *rq, size_t dep);

/* True when the rule kept the request from a deployment: its failure is then a
 * residency 503 (sl_region_unavailable_msg), not a provider's. */
bool sl_region_blocked(const struct sl_request *rq);

/* The 503's message: the group, the permitted regions and the rule that set them. */
void sl_region_unavailable_msg(const struct sl_request *rq, char *out, size_t cap);

#endif
