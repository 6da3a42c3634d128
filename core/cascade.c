/* The cascade in the attempts; see cascade.h. */
#include "core/cascade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/master.h"
#include "core/request_internal.h"
#include "core/router_online.h"
#include "core/selfcall.h"
#include "store/shm.h"
#include "net/wire/answer_check.h"
#include "net/wire/usage.h"
#include "policy/cost.h"

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

/* ---- counters (shared memory): failed checks by kind ---- */

/* the answer checks by their enum value, then what is not one of them */
#define COUNTER_JUDGE SL_AC_N
#define COUNTER_INCOMPLETE (SL_AC_N + 1)
_Static_assert(SL_AC_N + 2 <= SL_SHM_CASCADE_CHECKS, "a counter for every check");

const char *sl_cascade_counter_label(size_t i) {
  if (i == COUNTER_JUDGE) return "judge";
  if (i == COUNTER_INCOMPLETE) return "incomplete";
  return i > SL_AC_NONE && i < SL_AC_N ? sl_answer_check_name((enum sl_answer_check)i) : i < SL_AC_N ? "" : NULL;
}

static void count_failed(struct sl_request *rq, size_t i) {
  struct sl_shm *shm = rq->w->shm;
  if (shm && rq->cascade && rq->cascade->index < SL_SHM_MAX_ROUTERS && i < SL_SHM_CASCADE_CHECKS)
    atomic_fetch_add_explicit(&shm->routers[rq->cascade->index].cascade_failed[i], 1, memory_order_relaxed);
}

void sl_cascade_count_incomplete(struct sl_request *rq) { count_failed(rq, COUNTER_INCOMPLETE); }

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
  count_failed(rq, (size_t)f);
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

/* ---- the judge ---- */


#define JUDGE_MAX_QUESTION 4000
#define JUDGE_MAX_ANSWER 8000
static const char judge_system[] =
    "You check an assistant's answer to a user's request. Reply with one word: yes if the answer is correct, "
    "complete and does what was asked; no otherwise.";

struct judge_call {
  struct sl_attempt *at;
  sl_cascade_verdict verdict;
};

/* The judge's spend, per worker and UTC day (each worker may use its share of the budget). */
static struct sl_judge_day *judge_day(struct sl_request *rq) {
  struct sl_judge_day *days = rq->w->judge_days;
  size_t i = rq->cascade->index % (sizeof rq->w->judge_days / sizeof *rq->w->judge_days);
  int64_t today = (int64_t)time(NULL) / 86400;
  if (days[i].day != today) days[i] = (struct sl_judge_day){today, 0};
  return &days[i];
}

/* The text of a chat message's content (a string, or its text parts), appended, capped. */
static void put_text(struct sl_buf *b, const cJSON *content, size_t cap) {
  size_t start = b->n;
  if (cJSON_IsString(content)) {
    size_t n = strlen(content->valuestring);
    sl_buf_append(b, content->valuestring, n < cap ? n : cap);
    return;
  }
  const cJSON *p;
  cJSON_ArrayForEach(p, content) {
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "text"));
    if (!t || b->n - start >= cap) continue;
    size_t n = strlen(t), room = cap - (b->n - start);
    sl_buf_append(b, t, n < room ? n : room);
  }
}

static void judged(void *ud, int status, const char *body, size_t len, int rc) {
  struct judge_call *k = ud;
  struct sl_attempt *at = k->at;
  struct sl_request *rq = at->rq;
  bool pass = true;
  if (rc == 0 && status == 200) {
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "choices"), 0);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "message"), "content"));
    while (t && (*t == ' ' || *t == '\n' || *t == '"' || *t == '*')) t++;
    if (t && strncasecmp(t, "no", 2) == 0 && !((t[2] >= 'a' && t[2] <= 'z') || (t[2] >= 'A' && t[2] <= 'Z'))) pass = false;
    struct sl_usage u;
    const struct sl_group *g = rq->cascade->judge;
    if (!rq->finished && sl_usage_from_json(body, len, &u) == 0 && g && g->n && rq->w->prices) {
      struct sl_tokens tk = {u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cache_write_tokens};
      judge_day(rq)->spent_usd += (double)sl_policy_cost_micro_tokens(&tk, &rq->w->prices[g->deps[0]]) / 1e6;
    }
    cJSON_Delete(doc);
  }
  if (!rq->finished) {
    if (!pass) {
      count_failed(rq, COUNTER_JUDGE);
      at->check_failed = "judge";
      size_t n = strlen(rq->cascade_failed);
      snprintf(rq->cascade_failed + n, sizeof rq->cascade_failed - n, "%sjudge", n ? "," : "");
    }
    if (rq->cascade->cfg->learn_online && rq->cascade_step == 0) sl_learn_request_outcome(rq, pass ? 0.0 : 1.0);
    k->verdict(at, pass);
  }
  free(k);
  sl_request_release(rq);
}

bool sl_cascade_judge(struct sl_attempt *at, sl_cascade_verdict verdict) {
  struct sl_request *rq = at->rq;
  const struct sl_router_cfg *c = rq->cascade ? rq->cascade->cfg : NULL;
  if (!c || !rq->cascade->judge || !checked_step(rq)) return false;
  if (judge_day(rq)->spent_usd >= c->judge_budget_usd_per_day / sl_master_workers(rq->w->cfg)) return false;
  cJSON *ans = cJSON_ParseWithLength(at->resp.p ? at->resp.p : "", at->resp.n);
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ans, "choices"), 0), "message");
  const cJSON *last = NULL, *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(rq->json, "messages")) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
    if (role && strcmp(role, "user") == 0) last = m;
  }
  struct sl_buf q = {0}, b = {0};
  sl_buf_puts(&q, "Request:\n");
  put_text(&q, cJSON_GetObjectItemCaseSensitive(last, "content"), JUDGE_MAX_QUESTION);
  sl_buf_puts(&q, "\n\nAnswer:\n");
  put_text(&q, cJSON_GetObjectItemCaseSensitive(msg, "content"), JUDGE_MAX_ANSWER);
  sl_buf_puts(&q, "\n\nIs the answer correct and complete? Reply yes or no.");
  cJSON_Delete(ans);
  const char *g = rq->cascade->judge->name;
  sl_buf_puts(&b, "{\"model\":\"");
  sl_buf_json_escape(&b, g, strlen(g));
  sl_buf_puts(&b, "\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":\"system\",\"content\":\"");
  sl_buf_json_escape(&b, judge_system, sizeof judge_system - 1);
  sl_buf_puts(&b, "\"},{\"role\":\"user\",\"content\":\"");
  sl_buf_json_escape(&b, q.p ? q.p : "", q.n);
  sl_buf_puts(&b, "\"}]}");
  sl_buf_free(&q);
  struct judge_call *k = malloc(sizeof *k);
  if (!k || b.oom) {
    free(k);
    sl_buf_free(&b);
    return false;
  }
  *k = (struct judge_call){at, verdict};
  rq->open_handles++; /* released in judged() */
  size_t blen = 0;
  char *body = sl_buf_take(&b, &blen);
  sl_selfcall_post(rq->w, "/v1/chat/completions", body, blen, c->judge_timeout_ms, judged, k);
  return true;
}
