/* The cascade in the attempts; see cascade.h. */
#include "core/cascade.h"

#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "net/wire/answer_check.h"

/* A step is checked when it is not the cascade's last target and its answer is in the
 * chat format (chat completions: the checks read choices). */
static bool checked_step(const struct sl_request *rq) {
  return rq->cascade && rq->route == SL_R_CHAT && (size_t)rq->cascade_step + 1 < rq->cascade->cfg->ntargets;
}

cJSON *sl_cascade_request(struct sl_attempt *at) {
  struct sl_request *rq = at->rq;
  if (!checked_step(rq)) return NULL;
  bool want_lp = (rq->cascade->cfg->checks & (1u << SL_AC_LOGPROB)) &&
                 !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rq->json, "logprobs"));
  if (!rq->stream && !want_lp) return NULL;
  cJSON *c = cJSON_Duplicate(rq->json, 1);
  if (!c) return NULL;
  if (rq->stream) {
    cJSON_DeleteItemFromObjectCaseSensitive(c, "stream");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "stream_options");
    at->held = true;
  }
  if (want_lp) {
    cJSON_DeleteItemFromObjectCaseSensitive(c, "logprobs");
    cJSON_AddBoolToObject(c, "logprobs", 1);
    rq->cascade_logprobs = true;
  }
  return c;
}

const char *sl_cascade_check(struct sl_attempt *at) {
  struct sl_request *rq = at->rq;
  if (!checked_step(rq)) return NULL;
  const struct sl_router_cfg *c = rq->cascade->cfg;
  struct sl_answer_check_cfg cc = {.mask = c->checks,
                                   .refusals = (const char *const *)c->refusal_phrases,
                                   .nrefusals = c->nrefusal_phrases,
                                   .min_mean_logprob = c->min_mean_logprob};
  char why[160];
  enum sl_answer_check f = sl_answer_check_run(&cc, rq->json, at->resp.p ? at->resp.p : "", at->resp.n, why, sizeof why);
  if (f == SL_AC_NONE) return NULL;
  at->check_failed = sl_answer_check_name(f);
  size_t n = strlen(rq->cascade_failed);
  snprintf(rq->cascade_failed + n, sizeof rq->cascade_failed - n, "%s%s", n ? "," : "", at->check_failed);
  return at->check_failed;
}
