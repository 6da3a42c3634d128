/* GET /v1/models with the providers' own lists: the pure half of listing what a wildcard
 * deployment serves (the worker half, which fetches the lists, is core/wild_models.c).
 * - sl_plan_models_parse reads one page of a provider's model list (OpenAI's
 *   {"data":[{"id":...}]}, Anthropic's the same plus has_more / last_id), bounded;
 * - sl_plan_models_listable says whether a deployment's provider list maps through its
 *   pattern ("openai/\*" or "*" with model "<provider>/\*": the provider's "gpt-4o" is the
 *   client's "openai/gpt-4o" or "gpt-4o"); other patterns keep being listed as themselves;
 * - sl_plan_models_json builds the /v1/models body: the plan's (concrete groups and aliases
 *   first) with each pattern replaced by the names its deployments' lists give, each name
 *   checked against the request path's own lookup (sl_plan_group, sl_plan_match,
 *   sl_plan_wild_model), so the list never offers a name that would be refused or routed
 *   elsewhere; the pattern itself stays when none of its deployments has a list.
 * Pure: no I/O, no clock. To list another provider shape: a case in the parser. */
#ifndef SL_CORE_CONFIG_PLAN_MODELS_H
#define SL_CORE_CONFIG_PLAN_MODELS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config/config.h"

#define SL_MODELS_ID_MAX 256 /* longer ids are skipped (no pattern matches them) */

/* A provider's model ids (malloc'd strings). */
struct sl_model_ids {
  char **ids;
  size_t n, cap;
};
void sl_model_ids_free(struct sl_model_ids *l);

/* One page of a provider's list appended to acc (at most max_ids in acc in all; the rest is
 * dropped and *truncated set). Ids that are not strings of 1..SL_MODELS_ID_MAX bytes are
 * skipped. *has_more (Anthropic's pagination): true only with "has_more": true and a usable
 * "last_id" (copied to last_id, at most cap - 1 bytes). 0, or -1 with a message (not a JSON
 * object with a "data" array; out of memory). */
int sl_plan_models_parse(const char *body, size_t n, size_t max_ids, struct sl_model_ids *acc, bool *truncated,
                         bool *has_more, char *last_id, size_t cap, char *err, size_t errlen);

/* Whether deployment d's provider list can be listed under its pattern: a wildcard whose
 * pattern is "*" or "<text>/\*" and whose upstream model is "*" (the provider's id is then the
 * part the '*' matched). */
bool sl_plan_models_listable(const struct sl_deployment *d);

/* The /v1/models body of plan p (deployments deps, parallel to p->deps) when deployment i's
 * provider listed lists[i] (NULL: no list). malloc'd into *out (length *n): 0 or -1. */
int sl_plan_models_json(const struct sl_plan *p, const struct sl_deployment *deps,
                        const struct sl_model_ids *const *lists, char **out, size_t *n);

#endif
