/* The cascade in the attempts; see cascade.h. */
#include "core/cascade.h"

#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "core/router_online.h"
#include "net/wire/answer_check.h"

/* A step is checked when it is not the cascade's last target and its answer is in the
 * chat format (chat completions: the checks read choices). */
static bool checked_step(const struct sl_request *rq) {
  return rq->cascade && rq->route == SL_R_CHAT && (size_t)rq->cascade_step + 1 < rq->cascade->cfg->ntargets;
}

bool sl_cascade_early(const struct sl_attempt *at) {
  const struct sl_request *rq = at->rq;
  return rq->stream && checked_step(rq) && rq->cascade->cfg->stream_early;
}

size_t sl_cascade_early_tokens(const struct sl_attempt *at) { return at->rq->cascade->cfg->early_tokens; }

cJSON *sl_cascade_request(struct sl_attempt *at) {
  struct sl_request *rq = at->rq;
  if (!checked_step(rq) || sl_cascade_early(at)) return NULL; /* early: the stream goes as asked */
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

/* Runs the checks in mask on an answer; the failed check's name is recorded. */
static const char *run(struct sl_attempt *at, unsigned mask, const char *body, size_t len) {
  struct sl_request *rq = at->rq;
  const struct sl_router_cfg *c = rq->cascade->cfg;
  struct sl_answer_check_cfg cc = {.mask = mask,
                                   .refusals = (const char *const *)c->refusal_phrases,
                                   .nrefusals = c->nrefusal_phrases,
                                   .min_mean_logprob = c->min_mean_logprob};
  char why[160];
  enum sl_answer_check f = sl_answer_check_run(&cc, rq->json, body, len, why, sizeof why);
  if (f == SL_AC_NONE) return NULL;
  at->check_failed = sl_answer_check_name(f);
  size_t n = strlen(rq->cascade_failed);
  snprintf(rq->cascade_failed + n, sizeof rq->cascade_failed - n, "%s%s", n ? "," : "", at->check_failed);
  return at->check_failed;
}

/* A checked step's verdict is an outcome for a cascade that learns (core/router_online.h):
 * failed, a stronger target was needed; passed, the cheap answer was fine. */
static const char *outcome(struct sl_request *rq, const char *failed) {
  if (rq->cascade->cfg->learn_online && rq->cascade_step == 0) sl_learn_request_outcome(rq, failed ? 1.0 : 0.0);
  return failed;
}

const char *sl_cascade_check(struct sl_attempt *at) {
  if (!checked_step(at->rq)) return NULL;
  return outcome(at->rq, run(at, at->rq->cascade->cfg->checks, at->resp.p ? at->resp.p : "", at->resp.n));
}

const char *sl_cascade_check_stream(struct sl_attempt *at, const char *json, size_t len, bool complete) {
  if (!checked_step(at->rq)) return NULL;
  unsigned mask = at->rq->cascade->cfg->checks & ~(1u << SL_AC_LOGPROB); /* not asked for on a live stream */
  if (!complete) mask &= 1u << SL_AC_REFUSAL; /* what a prefix can already fail */
  return outcome(at->rq, run(at, mask, json ? json : "", json ? len : 0));
}
