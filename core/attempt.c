/* The back half of a request: attempts. Each attempt is one upstream exchange with one
 * deployment. The first is chosen by policy; a failure before anything reached the
 * client is retried in the group (1 + num_retries attempts: untried deployments first,
 * then tried ones again after a back-off, all inside the request's deadline), then on
 * fallback groups; a slow first attempt may be hedged by a second one. The first attempt
 * to produce a complete answer (or, when streaming, its first bytes of a 2xx event
 * stream) wins and every other is cancelled by closing its connection. Once a stream has
 * started, a failure can only be told to the client in band. When the request ends,
 * every attempt's exchange is closed, so no upstream callback outlives the request.
 * The upstream request itself is built in attempt_send.c; attempt_shape.c says whether
 * a 2xx body is an answer at all. The attempts report to their request through one table
 * of callbacks (attempt_events.h): they never write to the client or end the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/attempt_events.h"
#include "core/cascade.h"
#include "core/dialect.h"
#include "core/cluster_admit.h"
#include "core/errors.h"
#include "core/health_shm.h"
#include "core/region.h"
#include "core/reqcache.h"
#include "core/responses.h"
#include "core/request_internal.h"
#include "core/stream_chain.h"
#include "net/wire/oai_stream.h"
#include "net/wire/oai_error.h"
#include "policy/attempt_verdict.h"
#include "policy/classify.h"

#define MAX_BUFFERED_RESPONSE (64u << 20)
#define STREAM_HIGH_WATER (1u << 20) /* client output queued before upstream reads pause */


static const struct sl_upstream_cbs up_cbs;
static bool launch(struct sl_request *rq, bool hedge, bool force_advance);
static void give_up(struct sl_request *rq);
static bool cascade_escalate(struct sl_request *rq, struct sl_attempt *at);
static void arm_hedge(struct sl_request *rq, size_t dep);
static void attempt_timer(uv_timer_t *t);
static uint64_t client_stall_ms(const struct sl_request *rq);
static void take_xlate_usage(struct sl_attempt *at, const struct sl_xlate_usage *xu);

static uint64_t left_ms(const struct sl_request *rq) {
  uint64_t now = sl_now_ms();
  return rq->deadline_ms > now ? rq->deadline_ms - now : 0;
}

static void set_outcome(struct sl_attempt *at, enum sl_attempt_outcome o) { at->outcome = o; }

/* ---- attempt lifecycle ---- */

static void attempt_end_health(struct sl_attempt *at, bool cancelled, bool ok, enum sl_failure_kind kind) {
  if (!at->live) return;
  at->live = false;
  at->rq->live--;
  at->t_end = sl_now_ms();
  uv_timer_stop(&at->timer);
  sl_dialect_stop(at); /* a wait for a token ends with the attempt */
  double lat = (double)(at->t_end - at->t_start);
  double ttft = at->t_first ? (double)(at->t_first - at->t_start) : 0;
  sl_health_end(at->rq->w, at->dep, at->probe, cancelled, ok, kind, at->retry_after_ms, lat,
                at->rq->stream ? ttft : 0);
}

/* Closes the attempt's upstream exchange, if it still has one: no callback reaches
 * the attempt after this. */
static void attempt_close_upstream(struct sl_attempt *at) {
  if (at->up) sl_upstream_cancel(at->up);
  at->up = NULL;
}

static void attempt_cancel(struct sl_attempt *at, enum sl_attempt_outcome why) {
  attempt_close_upstream(at);
  if (!at->live) return;
  set_outcome(at, why);
  attempt_end_health(at, true, false, SL_FAIL_ERROR);
}

/* Every attempt's exchange is closed here, whether or not its health bookkeeping has
 * already ended: the request (and its attempts) may be freed right after. */
void sl_attempts_cancel_all(struct sl_request *rq) {
  uv_timer_stop(&rq->deadline);
  uv_timer_stop(&rq->retry_timer);
  uv_timer_stop(&rq->hedge_timer);
  for (int i = 0; i < rq->natt; i++) attempt_cancel(rq->att[i], rq->winner ? SL_AO_CANCELLED : SL_AO_CLIENT_CLOSED);
}

void sl_attempts_free(struct sl_request *rq) {
  for (int i = 0; i < rq->natt; i++) {
    struct sl_attempt *at = rq->att[i];
    sl_buf_free(&at->resp);
    sl_buf_free(&at->model_val);
    sl_buf_free(&at->path);
    sl_buf_free(&at->auth);
    free(at->reserialised);
    sl_buf_free(&at->xbody);
    if (at->chain) sl_stream_chain_free(at->chain);
    if (at->xs) sl_xlate_stream_free(at->xs);
    sl_buf_free(&at->gate);
    if (at->gate_asm) sl_oai_asm_free(at->gate_asm);
    sl_dialect_free(at);
    if (at->uf) {
      sl_usage_filter_free(at->uf);
    }
  } /* the attempts and their filters live in the request's arena */
  rq->natt = 0;
}

void sl_attempts_log(const struct sl_request *rq, struct sl_buf *b) {
  sl_buf_puts(b, "[");
  for (int i = 0; i < rq->natt; i++) {
    const struct sl_attempt *at = rq->att[i];
    const char *id = rq->w->cfg->deployments[at->dep].id;
    sl_buf_puts(b, i ? ",{\"deployment\":\"" : "{\"deployment\":\"");
    sl_buf_json_escape(b, id, strlen(id));
    uint64_t end = at->t_end ? at->t_end : sl_now_ms();
    sl_buf_printf(b, "\",\"start_ms\":%llu,\"latency_ms\":%llu,\"outcome\":\"%s\"%s%s",
                  (unsigned long long)(at->t_start - rq->t0_ms), (unsigned long long)(end - at->t_start),
                  sl_attempt_outcome_name(at->outcome, at->status), at->hedge ? ",\"hedge\":true" : "",
                  at->probe ? ",\"probe\":true" : "");
    const char *region = rq->w->cfg->plan->deps[at->dep].region;
    if (region) sl_buf_printf(b, ",\"region\":\"%s\"", region); /* a region name needs no escaping */
    if (at->wild_model) { /* a wildcard deployment's upstream model for this request */
      sl_buf_puts(b, ",\"model\":\"");
      sl_buf_json_escape(b, at->wild_model, strlen(at->wild_model));
      sl_buf_puts(b, "\"");
    }
    if (at->check_failed) sl_buf_printf(b, ",\"check\":\"%s\"", at->check_failed); /* a check name needs no escaping */
    sl_buf_puts(b, at->outside_preferred ? ",\"outside_preferred\":true}" : "}");
  }
  sl_buf_puts(b, "]");
}

/* ---- responding ---- */

/* Ends a winning stream with an in-band error event in the client's format; the cost of
 * what was consumed still goes in the trailer. */
static void end_stream(struct sl_request *rq, struct sl_attempt *at, bool complete, const char *cut_msg);

static void stream_fail(struct sl_request *rq, const char *msg, enum sl_attempt_outcome o) {
  struct sl_attempt *at = rq->winner;
  if (at && at->gated) { /* nothing reached the client yet: the cascade goes on */
    end_stream(rq, at, false, msg);
    return;
  }
  if (rq->cwire == SL_WIRE_RESPONSES && at && at->xs && at->chain) {
    /* a translated Responses stream is ended by its translator: an error event, then
     * response.failed with the items so far, in sequence */
    sl_stream_chain_finish(at->chain);
    struct sl_xlate_usage xu;
    sl_xlate_stream_usage(at->xs, &xu);
    take_xlate_usage(at, &xu);
    rq->err_code = sl_attempt_outcome_name(o, 0);
    rq->events->stream_end(rq, false, NULL, 0, NULL);
    return;
  }
  rq->events->stream_end(rq, false, msg, o == SL_AO_UPSTREAM_TIMEOUT ? 504 : 502, sl_attempt_outcome_name(o, 0));
}

/* at won: every other attempt is cancelled (its connection closed). */
static void declare_winner(struct sl_attempt *at) {
  struct sl_request *rq = at->rq;
  rq->winner = at;
  if (at->hedge) rq->hedge_won = true;
  uv_timer_stop(&rq->hedge_timer);
  uv_timer_stop(&rq->retry_timer);
  for (int i = 0; i < rq->natt; i++)
    if (rq->att[i] != at && rq->att[i]->live) attempt_cancel(rq->att[i], SL_AO_LOST_RACE);
}

/* The chain's ends: the client (through the request) and the cache tee. */
static void gate_hold(struct sl_attempt *at, const struct sl_iov *v, size_t n);

static void chain_write(void *ud, const struct sl_iov *v, size_t n) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  if (rq->winner != at) return; /* a cascade step escalated midway: the rest of its read */
  if (at->gated) {              /* a cascade step's first tokens, held until checked */
    gate_hold(at, v, n);
    return;
  }
  /* a Responses stream's answer is stored before its last event leaves: a client that
   * continues at once (previous_response_id) finds it */
  if (rq->route == SL_R_RESPONSES && rq->winner) sl_responses_stream_check(rq, rq->winner);
  rq->events->stream_write(rq, v, n);
}
static void chain_tee_frame(void *ud, const struct sl_sse_frame *fr) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  if (rq->winner != at || at->gated) return; /* a held step is teed when its gate opens */
  if (rq->route == SL_R_RESPONSES) sl_responses_frame(rq, fr);
  sl_reqcache_stream_frame(rq, fr);
}
static void chain_tee_bytes(void *ud, const char *p, size_t n) {
  struct sl_attempt *at = ud;
  if (at->rq->winner == at && !at->gated) sl_reqcache_stream_bytes(at->rq, p, n);
}

/* The translators' options for at's answer. */
static struct sl_xlate_resp_opts resp_opts(const struct sl_attempt *at) {
  const struct sl_request *rq = at->rq;
  return (struct sl_xlate_resp_opts){.created = (int64_t)time(NULL),
                                     .json_tool = at->json_tool,
                                     .resp_req = rq->resp_req ? rq->resp_req : rq->json,
                                     .resp_id = rq->resp_id};
}

/* A whole 2xx answer of another format -> the client's (xb), with the usage seen. */
static int translate_whole(const struct sl_attempt *at, struct sl_buf *xb, struct sl_xlate_usage *xu) {
  const struct sl_request *rq = at->rq;
  struct sl_xlate_resp_opts o = resp_opts(at);
  const char *p = at->resp.p ? at->resp.p : "";
  size_t n = at->resp.n;
  if (rq->cwire != SL_WIRE_RESPONSES)
    return at->uwire == SL_WIRE_ANTHROPIC ? sl_xlate_anth_to_oai_response(p, n, &o, xb, xu)
                                          : sl_xlate_oai_to_anth_response(p, n, &o, xb, xu);
  struct sl_buf chat = {0}; /* Anthropic's answer goes through the chat format */
  struct sl_xlate_usage cu;
  int rc = 0;
  if (at->uwire == SL_WIRE_ANTHROPIC && !(rc = sl_xlate_anth_to_oai_response(p, n, &o, &chat, xu))) {
    p = chat.p;
    n = chat.n;
  }
  if (!rc) rc = sl_xlate_chat_to_resp_response(p, n, &o, xb, at->uwire == SL_WIRE_ANTHROPIC ? &cu : xu);
  sl_buf_free(&chat);
  return rc;
}

static void start_stream(struct sl_attempt *at) {
  struct sl_request *rq = at->rq;
  declare_winner(at);
  if (at->uwire != rq->cwire) {
    struct sl_xlate_resp_opts o = resp_opts(at);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(rq->json, "stream_options");
    o.include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
    enum sl_xlate_dir dir = rq->cwire == SL_WIRE_RESPONSES
                                ? (at->uwire == SL_WIRE_ANTHROPIC ? SL_XLATE_ANTH_TO_RESP : SL_XLATE_OAI_TO_RESP)
                            : at->uwire == SL_WIRE_ANTHROPIC ? SL_XLATE_ANTH_TO_OAI
                                                             : SL_XLATE_OAI_TO_ANTH;
    if (sl_xlate_stream_new(dir, &o, &at->xs)) at->xs = NULL;
  } else if ((at->uf = sl_arena_alloc(rq->arena, sizeof *at->uf))) {
    /* Anthropic streams are only observed: their usage events are the client's too. */
    bool strip = rq->cwire == SL_WIRE_OPENAI && rq->usage_ask != SL_USAGE_ASK_CLIENT &&
                 rq->usage_ask != SL_USAGE_ASK_NOT_STREAM;
    sl_usage_filter_init(at->uf, strip ? SL_USAGE_STRIP : 0, 0);
  }
  struct sl_stream_sink sink = {chain_write, chain_tee_frame, chain_tee_bytes, at};
  if ((at->chain = sl_arena_alloc(rq->arena, sizeof *at->chain))) sl_stream_chain_init(at->chain, at->xs, at->uf, &sink);
  /* a cascade step checked on its first tokens: nothing reaches the client before they pass */
  if (at->chain && sl_cascade_early(at) && sl_oai_asm_new(&at->gate_asm) == 0) {
    at->gated = true;
    return;
  }
  rq->events->stream_start(rq);
}

/* ---- cascade: a stream's first tokens, checked before the client sees any ---- */

static bool cascade_escalate(struct sl_request *rq, struct sl_attempt *at);

/* The gate's verdict: open it (the client gets what was held, then the rest as it
 * comes) or fail the step and escalate. complete: the step's stream has ended. True when
 * the stream goes on to the client. */
static bool gate_decide(struct sl_attempt *at, bool complete) {
  struct sl_request *rq = at->rq;
  char *json = NULL;
  size_t len = 0;
  bool whole = false;
  const char *failed = NULL;
  if (sl_oai_asm_finish(at->gate_asm, &json, &len, &whole) == 0) failed = sl_cascade_check_stream(at, json, len, complete);
  free(json);
  sl_oai_asm_free(at->gate_asm);
  at->gate_asm = NULL;
  at->gated = false;
  if (!failed) {
    rq->events->stream_start(rq);
    if (at->gate.n) {
      sl_reqcache_stream_bytes(rq, at->gate.p, at->gate.n); /* the cache sees the held part too */
      struct sl_iov v = {at->gate.p, at->gate.n};
      rq->events->stream_write(rq, &v, 1);
    }
    sl_buf_free(&at->gate);
    return true;
  }
  sl_buf_free(&at->gate);
  attempt_close_upstream(at);
  set_outcome(at, SL_AO_CHECK_FAILED);
  attempt_end_health(at, false, true, SL_FAIL_ERROR); /* the deployment answered */
  rq->winner = NULL;
  rq->cascade_keep = NULL; /* no whole answer to fall back on */
  if (!cascade_escalate(rq, at)) give_up(rq);
  return false;
}

static void gate_hold(struct sl_attempt *at, const struct sl_iov *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sl_buf_append(&at->gate, v[i].p, v[i].n);
    sl_oai_asm_feed_bytes(at->gate_asm, v[i].p, v[i].n);
    for (size_t k = 0; k + 1 < v[i].n; k++) /* events held: about one token each */
      if (v[i].p[k] == '\n' && v[i].p[k + 1] == '\n') at->gate_events++;
  }
  if (at->gate.oom || at->gate_events >= sl_cascade_early_tokens(at)) gate_decide(at, false);
}

/* Usage a translator saw, in OpenAI's convention (prompt counts every input token). */
static void take_xlate_usage(struct sl_attempt *at, const struct sl_xlate_usage *xu) {
  if (!xu->known) return;
  at->has_usage = true;
  at->usage = (struct sl_usage){.prompt_tokens = xu->input + xu->cache_read + xu->cache_creation,
                                .completion_tokens = xu->output,
                                .cached_tokens = xu->cache_read,
                                .cache_write_tokens = xu->cache_creation};
}

/* Forwards a winning stream's bytes down its chain (stream_chain.h): translated, teed to
 * the cache, the usage chunk sluice asked for removed, written to the client. Returns
 * the translator's result (negative: the stream is over, its error event written). */
static int forward_stream(struct sl_request *rq, struct sl_attempt *at, const char *p, size_t n) {
  if (!at->chain) { /* out of memory at the start: forward as is */
    struct sl_iov v = {p, n};
    rq->events->stream_write(rq, &v, 1);
    return 0;
  }
  return sl_stream_chain_feed(at->chain, p, n);
}

/* Ends a winning stream: the chain's last bytes, the usage it saw; then the request says
 * the end (an in-band error event when cut_msg says the stream was cut short, the cost
 * trailer) and ends. complete: the stream ended well (the cache may keep it). */
static void end_stream(struct sl_request *rq, struct sl_attempt *at, bool complete, const char *cut_msg) {
  if (at->chain) {
    if (sl_stream_chain_finish(at->chain) == -EPIPE && at->xs)
      rq->err_code = sl_attempt_outcome_name(SL_AO_UPSTREAM_PROTOCOL_ERROR, 0);
  }
  /* a held step whose stream ended inside its window: checked whole (a cut one fails) */
  if (at->gated && (!complete || cut_msg || !gate_decide(at, true))) {
    if (at->gated) { /* cut before its tokens could be checked: as a failed check */
      sl_oai_asm_free(at->gate_asm);
      at->gate_asm = NULL;
      at->gated = false;
      sl_buf_free(&at->gate);
      set_outcome(at, SL_AO_CHECK_FAILED);
      at->check_failed = "incomplete";
      sl_cascade_count_incomplete(rq);
      rq->winner = NULL;
      rq->cascade_keep = NULL;
      if (!cascade_escalate(rq, at)) give_up(rq);
    }
    return;
  }
  if (at->xs) {
    struct sl_xlate_usage xu;
    sl_xlate_stream_usage(at->xs, &xu);
    take_xlate_usage(at, &xu);
  }
  if (at->uf) at->has_usage = sl_usage_filter_usage(at->uf, &at->usage) == 0;
  rq->events->stream_end(rq, complete, cut_msg, 502, sl_attempt_outcome_name(SL_AO_UPSTREAM_PROTOCOL_ERROR, 0));
}

/* ---- failure handling ---- */

/* The decisions are policy's (policy/attempt_verdict.h); this section gathers their facts
 * and carries out the verdicts: timers, launches and responses. */

static void retry_fire(uv_timer_t *t) {
  struct sl_request *rq = t->data;
  if (rq->finished) return;
  if (!launch(rq, false, false)) give_up(rq);
}

/* The client's own timeout ran out: what the attempt did then says nothing about the
 * deployment. */
static bool client_timed_out(const struct sl_request *rq) { return rq->client_deadline && left_ms(rq) == 0; }

/* Whether the current group still has an untried deployment that is not cooling down. */
static bool untried_left(struct sl_request *rq) {
  const struct sl_group *g = rq->cur_group;
  struct sl_candidate small[16], *c = g->n <= 16 ? small : malloc(g->n * sizeof *c);
  if (!c) return false;
  sl_health_snapshot(rq->w, g, rq->tried, rq->stream, c);
  sl_region_apply(rq, g, c);
  uint64_t now = sl_now_ms();
  bool any = false;
  for (size_t i = 0; i < g->n && !any; i++) any = !c[i].excluded && c[i].cooldown_until_ms <= now;
  if (c != small) free(c);
  return any;
}

static void give_up_with(struct sl_request *rq, const struct sl_give_up *v);

/* An attempt failed before anything reached the client: policy says whether to wait
 * for a hedge, retry in the group (after a delay), fall back, or give up. */
static void attempt_failed(struct sl_attempt *at, enum sl_outcome out) {
  struct sl_request *rq = at->rq;
  bool blames = sl_policy_failure_blames_deployment(out, client_timed_out(rq));
  attempt_end_health(at, !blames, false, sl_policy_failure_kind(at->status));
  rq->last_failed = at;
  struct sl_failure_facts f = {
    .outcome = at->outcome,
    .status = at->status,
    .kind = out,
    .retry_after_ms = at->retry_after_ms,
    .answered = rq->finished || rq->winner,
    .live = rq->live,
    .left_ms = left_ms(rq),
    .attempts_in_group = rq->attempts_in_group,
    .max_retries = rq->max_retries,
    .natt = rq->natt,
    .max_attempts = SL_MAX_ATTEMPTS,
    .min_retry_ms = (uint64_t)(rq->w->cfg->retry_after_s * 1000.0),
  };
  /* the snapshot only when the verdict can turn on it */
  f.untried_left = !f.answered && f.live == 0 && f.left_ms > 0 && untried_left(rq);
  struct sl_next v = sl_policy_after_failure(&f, &rq->w->rng);
  switch (v.step) {
  case SL_NEXT_NONE:
  case SL_NEXT_WAIT_FOR_LIVE: return;
  case SL_NEXT_GIVE_UP: give_up_with(rq, &v.give_up); return;
  case SL_NEXT_FALL_BACK:
    rq->retry_same = v.retry_same;
    if (!launch(rq, false, true)) give_up(rq);
    return;
  case SL_NEXT_RETRY_SAME:
  case SL_NEXT_ADVANCE_IN_GROUP:
    rq->retry_same = v.retry_same;
    if (v.delay_ms > 0) uv_timer_start(&rq->retry_timer, retry_fire, v.delay_ms, 0);
    else if (!launch(rq, false, false)) give_up(rq);
    return;
  }
}

/* Answers a request that cannot go on, as policy decided. */
static void give_up_with(struct sl_request *rq, const struct sl_give_up *v) {
  struct sl_attempt *lf = rq->last_failed;
  char ra[64] = "", msg[1024];
  if (v->retry_after_s) snprintf(ra, sizeof ra, "Retry-After: %llu\r\n", (unsigned long long)v->retry_after_s);
  if (sl_region_blocked(rq)) { /* the residency rule kept it from a deployment that might have served */
    sl_region_unavailable_msg(rq, msg, sizeof msg);
    rq->events->fail(rq, 503, sl_err_name(SL_ERR_RESIDENCY_UNAVAILABLE), ra[0] ? ra : NULL, msg);
    return;
  }
  switch (v->kind) {
  case SL_GIVE_UP_PASS_THROUGH:
    rq->events->whole(rq, lf); /* the provider's own error, as it came */
    return;
  case SL_GIVE_UP_ATTEMPT_FAILED: {
    /* Deployment id and group only: the upstream's address is for operators (access log). */
    const struct sl_deployment *d = &rq->w->cfg->deployments[lf->dep];
    if (lf->xerr[0]) /* what sluice saw (a malformed stream frame, ...) */
      snprintf(msg, sizeof msg, "Deployment %s of model group '%s' failed: %s (%s); no other deployment could serve",
               d->id, lf->group->name, v->code, lf->xerr);
    else
      snprintf(msg, sizeof msg, "Deployment %s of model group '%s' failed: %s; no other deployment could serve", d->id,
               lf->group->name, v->code);
    rq->events->fail(rq, v->status, v->code, NULL, msg);
    return;
  }
  case SL_GIVE_UP_RATE_LIMITED:
    snprintf(msg, sizeof msg, "Every deployment of model group '%s' is at its rate limit", rq->group->name);
    rq->events->fail(rq, v->status, v->code, ra, msg);
    return;
  case SL_GIVE_UP_TOO_LONG:
    snprintf(msg, sizeof msg, "The prompt (about %lld tokens) exceeds max_input_tokens of every deployment of '%s'",
             (long long)rq->est_tokens, rq->group->name);
    rq->events->fail(rq, v->status, v->code, NULL, msg);
    return;
  case SL_GIVE_UP_NONE_AVAILABLE:
    snprintf(msg, sizeof msg, "No deployment of model group '%s' is available (all cooling down)", rq->group->name);
    rq->events->fail(rq, v->status, v->code, ra, msg);
    return;
  }
}

/* ---- cascade (core/cascade.h) ---- */

/* The request goes on to the cascade's next target, as a new request to that group (its
 * retries, fallbacks and hedging); the failed answer is kept, in case nobody after it
 * answers. False when there is no next target or nothing could be started. */
static bool cascade_escalate(struct sl_request *rq, struct sl_attempt *at) {
  const struct sl_plan_router *c = rq->cascade;
  if ((size_t)rq->cascade_step + 1 >= c->cfg->ntargets) return false;
  for (int i = 0; i < rq->natt; i++) /* a hedge of the failed step answers the same question */
    if (rq->att[i] != at && rq->att[i]->live) attempt_cancel(rq->att[i], SL_AO_LOST_RACE);
  uv_timer_stop(&rq->hedge_timer);
  uv_timer_stop(&rq->retry_timer);
  const struct sl_group *g = c->targets[rq->cascade_step + 1];
  bool *tried = calloc(g->n ? g->n : 1, sizeof *tried);
  if (!tried) return false;
  rq->cascade_step++;
  rq->cascade_keep = at;
  rq->err_code = NULL; /* what the failed step said is not the request's end */
  free(rq->tried);
  rq->tried = tried;
  rq->group = rq->cur_group = g;
  rq->attempts_in_group = 0;
  rq->retry_same = false;
  rq->fallbacks_built = false;
  rq->nfallbacks = rq->next_fallback = 0;
  rq->fallback_used = NULL;
  rq->last_failed = NULL;
  if (launch(rq, false, false)) return true;
  give_up(rq); /* serves the kept answer */
  return true;
}

/* The judge's word on a step's answer (core/cascade.h): served, or the next target asked. */
static void judge_verdict(struct sl_attempt *at, bool pass) {
  struct sl_request *rq = at->rq;
  if (!pass) {
    set_outcome(at, SL_AO_CHECK_FAILED);
    rq->winner = NULL;
    if (cascade_escalate(rq, at)) return;
    at->outcome = SL_AO_OK; /* nobody further to ask */
    rq->cascade_keep = NULL;
    declare_winner(at);
  }
  rq->events->whole(rq, at);
}

static void give_up(struct sl_request *rq) {
  struct sl_attempt *keep = rq->cascade_keep;
  if (keep && !rq->winner) { /* a cascade whose later targets failed: the last answer it had */
    rq->cascade_keep = NULL;
    keep->outcome = SL_AO_OK;
    declare_winner(keep);
    rq->events->whole(rq, keep);
    return;
  }
  const struct sl_attempt *lf = rq->last_failed;
  struct sl_give_up v = sl_policy_give_up(lf != NULL, lf ? lf->outcome : SL_AO_RUNNING, lf ? lf->status : 0,
                                          rq->last_choice.why, rq->last_choice.retry_after_ms);
  give_up_with(rq, &v);
}

/* ---- upstream callbacks ---- */

/* A header's value into out (empty when absent, too long, or not plain printable text). */
static void copy_header(const struct sl_header *h, size_t n, const char *name, char *out, size_t cap) {
  const struct sl_header *f = sl_http_header_find(h, n, name);
  out[0] = 0;
  if (!f || f->value.n == 0 || f->value.n >= cap) return;
  for (size_t i = 0; i < f->value.n; i++)
    if ((unsigned char)f->value.p[i] < 0x20 || (unsigned char)f->value.p[i] > 0x7e) return;
  memcpy(out, f->value.p, f->value.n);
  out[f->value.n] = 0;
}

static void up_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  at->head = true;
  at->status = status;
  if (!at->t_first) at->t_first = sl_now_ms();
  const struct sl_header *ct = sl_http_header_find(h, n, "content-type");
  size_t cn = ct ? ct->value.n : 0;
  if (cn >= sizeof at->ctype) cn = sizeof at->ctype - 1;
  for (size_t i = 0; i < cn; i++)
    at->ctype[i] = (ct->value.p[i] == '\r' || ct->value.p[i] == '\n') ? ' ' : ct->value.p[i];
  at->ctype[cn] = 0;
  copy_header(h, n, "retry-after", at->ra_hdr, sizeof at->ra_hdr);
  copy_header(h, n, "retry-after-ms", at->ra_ms_hdr, sizeof at->ra_ms_hdr);
  const struct sl_header *ra = sl_http_header_find(h, n, "retry-after-ms"); /* OpenAI/Azure, precise */
  if (ra) at->retry_after_ms = sl_policy_retry_after_ms_value(ra->value.p, ra->value.n);
  if (!at->retry_after_ms && (ra = sl_http_header_find(h, n, "retry-after")))
    at->retry_after_ms = sl_policy_retry_after_ms(ra->value.p, ra->value.n, (int64_t)time(NULL));
  const struct sl_header *ce = sl_http_header_find(h, n, "content-encoding");
  at->encoded = ce && ce->value.n && !sl_slice_eq_ci(ce->value, "identity");
  at->streaming = rq->stream && status >= 200 && status < 300 && cn >= 17 && !at->encoded &&
                  strncasecmp(at->ctype, "text/event-stream", 17) == 0;
  if (rq->w->cfg->plan->deps[at->dep].dialect) sl_dialect_head(at, status, h, n); /* AWS event streams */
}

/* A dialect's stream failed (a bad frame, an exception frame): before any byte reached the
 * client a failed attempt (retried, failed over); after, the stream ends with an error. */
static void dialect_stream_failed(struct sl_request *rq, struct sl_attempt *at, int rc) {
  if (at->up) sl_upstream_cancel(at->up);
  at->up = NULL;
  enum sl_attempt_outcome o = rc == -EPROTO ? SL_AO_UPSTREAM_ERROR : SL_AO_UPSTREAM_PROTOCOL_ERROR;
  set_outcome(at, o);
  if (rq->winner == at) {
    attempt_end_health(at, false, false, SL_FAIL_ERROR);
    stream_fail(rq, at->xerr, o);
    return;
  }
  if (rc == -EPROTO && sl_dialect_exception_answer(at)) { /* e.g. throttlingException: as a 429 */
    set_outcome(at, SL_AO_HTTP_STATUS);
    attempt_failed(at, sl_policy_classify(at->status, 0, at->resp.p, at->resp.n));
    return;
  }
  at->status = 0;
  attempt_failed(at, SL_OUT_RETRY);
}

static void up_body(void *ud, const char *p, size_t n) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  if (at->streaming && sl_dialect_streams(at)) { /* frames -> the wire format's SSE */
    int drc = sl_dialect_stream(at, p, n, &p, &n);
    if (drc) {
      dialect_stream_failed(rq, at, drc);
      return;
    }
    if (!n) return; /* nothing whole yet: no winner before its first decoded event */
  }
  if (at->streaming) {
    if (!rq->winner) start_stream(at);
    if (rq->winner != at || !rq->conn) return;
    int xr = forward_stream(rq, at, p, n);
    if (rq->winner != at) return; /* a cascade step escalated on its first tokens */
    if (xr < 0 && at->xs) { /* the error event is already written in the client's format */
      set_outcome(at, xr == -EPROTO ? SL_AO_UPSTREAM_ERROR : SL_AO_UPSTREAM_PROTOCOL_ERROR);
      if (at->up) sl_upstream_cancel(at->up);
      at->up = NULL;
      attempt_end_health(at, false, false, SL_FAIL_ERROR);
      rq->err_code = sl_attempt_outcome_name(at->outcome, at->status);
      end_stream(rq, at, false, NULL);
      return;
    }
    if (rq->events->backlog(rq) > STREAM_HIGH_WATER) {
      /* the client reads slower than the provider writes: stop reading the upstream, and
       * time the client (not the provider) until its connection drains */
      sl_upstream_pause(at->up);
      rq->events->want_drain(rq);
      at->paused = true;
      uv_timer_start(&at->timer, attempt_timer, client_stall_ms(rq), 0);
    } else {
      uv_timer_start(&at->timer, attempt_timer, rq->w->cfg->stream_idle_timeout_ms, 0);
    }
    return;
  }
  if (at->resp.n + n > MAX_BUFFERED_RESPONSE) {
    sl_upstream_cancel(at->up);
    at->up = NULL;
    at->status = 0;
    set_outcome(at, SL_AO_UPSTREAM_PROTOCOL_ERROR);
    attempt_failed(at, SL_OUT_RETRY);
    return;
  }
  sl_buf_append(&at->resp, p, n);
}

static void up_done(void *ud) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  at->up = NULL;
  bool dcut = false;
  if (at->streaming && sl_dialect_streams(at)) { /* the last decoded bytes, or a cut stream */
    const char *q;
    size_t qn;
    int drc = sl_dialect_stream_end(at, &q, &qn);
    if (drc && at != rq->winner) {
      dialect_stream_failed(rq, at, drc);
      return;
    }
    dcut = drc != 0;
    if (qn && !rq->winner) start_stream(at);
    if (qn && rq->winner == at && rq->conn && forward_stream(rq, at, q, qn) < 0) dcut = true;
    if (rq->winner != at) return; /* a cascade step escalated on its first tokens */
  }
  if (at->streaming && at != rq->winner) start_stream(at); /* an empty 2xx stream: pass it on */
  if (at == rq->winner) { /* a stream that ended: well, unless an OpenAI stream lacks its [DONE] */
    bool cut = dcut || (at->uf && at->uwire == SL_WIRE_OPENAI && !at->uf->saw_done && !at->uf->err) ||
               (at->uwire == SL_WIRE_RESPONSES && !rq->resp_done_seen);
    set_outcome(at, cut ? SL_AO_UPSTREAM_PROTOCOL_ERROR : SL_AO_OK);
    attempt_end_health(at, false, !cut, SL_FAIL_ERROR);
    if (cut) rq->err_code = sl_attempt_outcome_name(SL_AO_UPSTREAM_PROTOCOL_ERROR, 0);
    char m[256];
    snprintf(m, sizeof m, "Deployment %s ended the stream without %s", rq->w->cfg->deployments[at->dep].id,
             at->uwire == SL_WIRE_RESPONSES ? "its final event" : "[DONE]");
    end_stream(rq, at, !cut, cut ? m : NULL); /* only a whole stream is stored */
    return;
  }
  if (at->encoded) { /* a body sluice cannot read (it asked for identity) */
    set_outcome(at, SL_AO_UPSTREAM_PROTOCOL_ERROR);
    at->status = 0;
    attempt_failed(at, SL_OUT_RETRY);
    return;
  }
  if (at->resp.oom) {
    set_outcome(at, SL_AO_OUT_OF_MEMORY);
    attempt_failed(at, SL_OUT_RETRY);
    return;
  }
  if (at->dl && sl_dialect_whole(at)) { /* Bedrock: a Converse answer, embeddings, an error */
    set_outcome(at, SL_AO_UPSTREAM_PROTOCOL_ERROR);
    at->status = 0;
    attempt_failed(at, SL_OUT_RETRY);
    return;
  }
  enum sl_outcome out = sl_policy_classify(at->status, 0, at->resp.p, at->resp.n);
  if (out == SL_OUT_OK && at->uwire != rq->cwire) { /* the answer in the client's format */
    struct sl_buf xb = {0};
    struct sl_xlate_usage xu;
    int xr = translate_whole(at, &xb, &xu);
    if (xr) {
      sl_buf_free(&xb);
      set_outcome(at, SL_AO_UPSTREAM_PROTOCOL_ERROR);
      at->status = 0;
      attempt_failed(at, SL_OUT_RETRY);
      return;
    }
    sl_buf_free(&at->resp);
    at->resp = xb;
    snprintf(at->ctype, sizeof at->ctype, "application/json");
    take_xlate_usage(at, &xu);
  }
  size_t usage_at = 0, usage_len = 0;
  if (out == SL_OUT_OK && ((rq->stream && !at->held) ||
                           !sl_attempt_body_is_answer(rq->route, at->resp.p, at->resp.n, &usage_at, &usage_len))) {
    /* A 200 that is not the endpoint's answer (a captive portal's HTML, truncated JSON,
     * a JSON object where a stream was asked for): a failed attempt, never stored. */
    set_outcome(at, SL_AO_UPSTREAM_PROTOCOL_ERROR);
    at->status = 0;
    attempt_failed(at, SL_OUT_RETRY);
    return;
  }
  if (out == SL_OUT_OK && rq->cascade && sl_cascade_check(at)) { /* a cascade step failed a check */
    if (!at->has_usage)
      at->has_usage = usage_len ? sl_usage_from_object(at->resp.p + usage_at, usage_len, &at->usage) == 0
                                : sl_usage_from_json(at->resp.p ? at->resp.p : "", at->resp.n, &at->usage) == 0;
    set_outcome(at, SL_AO_CHECK_FAILED);
    attempt_end_health(at, false, true, SL_FAIL_ERROR); /* the deployment answered: its health is fine */
    if (cascade_escalate(rq, at)) return;
    at->outcome = SL_AO_OK; /* nobody further to ask: this answer is the client's */
    rq->cascade_keep = NULL;
    declare_winner(at);
    rq->events->whole(rq, at);
    return;
  }
  if (out == SL_OUT_OK && rq->cascade && rq->cascade->judge) { /* it passed the checks: the judge may speak */
    if (!at->has_usage)
      at->has_usage = usage_len ? sl_usage_from_object(at->resp.p + usage_at, usage_len, &at->usage) == 0
                                : sl_usage_from_json(at->resp.p ? at->resp.p : "", at->resp.n, &at->usage) == 0;
    set_outcome(at, SL_AO_OK);
    attempt_end_health(at, false, true, SL_FAIL_ERROR);
    declare_winner(at);
    if (!sl_cascade_judge(at, judge_verdict)) rq->events->whole(rq, at);
    return;
  }
  if (out == SL_OUT_OK || out == SL_OUT_CLIENT) {
    set_outcome(at, out == SL_OUT_OK ? SL_AO_OK : SL_AO_HTTP_STATUS);
    /* A client error is the request's, not the deployment's: no health change. */
    attempt_end_health(at, out != SL_OUT_OK, out == SL_OUT_OK, SL_FAIL_ERROR);
    declare_winner(at);
    if (out == SL_OUT_OK && !at->has_usage)
      at->has_usage = usage_len ? sl_usage_from_object(at->resp.p + usage_at, usage_len, &at->usage) == 0
                                : sl_usage_from_json(at->resp.p ? at->resp.p : "", at->resp.n, &at->usage) == 0;
    rq->events->whole(rq, at); /* a 200 fills the cache there */
    return;
  }
  set_outcome(at, SL_AO_HTTP_STATUS);
  attempt_failed(at, out);
}

static void up_error(void *ud, enum sl_upstream_err err, const char *msg) {
  struct sl_attempt *at = ud;
  struct sl_request *rq = at->rq;
  at->up = NULL;
  enum sl_attempt_outcome o = err == SL_UP_CONNECT_TIMEOUT ? SL_AO_UPSTREAM_TIMEOUT
                            : err == SL_UP_TLS ? SL_AO_UPSTREAM_TLS_ERROR
                            : err == SL_UP_RESET ? SL_AO_UPSTREAM_RESET
                            : err == SL_UP_PROTOCOL ? SL_AO_UPSTREAM_PROTOCOL_ERROR : SL_AO_UPSTREAM_CONNECT_ERROR;
  set_outcome(at, o);
  if (at == rq->winner) {
    attempt_end_health(at, false, false, SL_FAIL_ERROR);
    char m[512];
    (void)msg; /* names the upstream's address: not for clients */
    snprintf(m, sizeof m, "Deployment %s failed mid-stream: %s", rq->w->cfg->deployments[at->dep].id,
             sl_upstream_err_str(err));
    stream_fail(rq, m, o);
    return;
  }
  at->status = 0;
  attempt_failed(at, SL_OUT_RETRY);
}

static const struct sl_upstream_cbs up_cbs = {up_head, up_body, up_done, up_error};

/* How long a streaming client may leave its connection undrained before the stream is
 * ended (nginx's send_timeout): the stream idle timeout, and at least 60 s. */
static uint64_t client_stall_ms(const struct sl_request *rq) {
  uint64_t idle = rq->w->cfg->stream_idle_timeout_ms;
  return idle > 60000 ? idle : 60000;
}

void sl_attempts_on_writable(struct sl_request *rq) {
  struct sl_attempt *at = rq->winner;
  if (!at || !at->up) return;
  sl_upstream_resume(at->up);
  if (at->paused && at->live) {
    at->paused = false;
    uv_timer_start(&at->timer, attempt_timer, rq->w->cfg->stream_idle_timeout_ms, 0);
  }
}

/* The attempt's deadline: before the first byte (or whole call), stream silence, or
 * (while paused for back-pressure) a client that stopped reading. */
static void attempt_timer(uv_timer_t *t) {
  struct sl_attempt *at = t->data;
  struct sl_request *rq = at->rq;
  if (!at->live) return;
  if (at->up) sl_upstream_cancel(at->up);
  at->up = NULL;
  if (at == rq->winner && at->paused) { /* the client stopped reading: its outcome, not the provider's */
    set_outcome(at, SL_AO_CLIENT_STALLED);
    attempt_end_health(at, true, false, SL_FAIL_ERROR);
    rq->err_code = sl_attempt_outcome_name(SL_AO_CLIENT_STALLED, 0);
    rq->events->abandon(rq);
    return;
  }
  set_outcome(at, SL_AO_UPSTREAM_TIMEOUT);
  if (at == rq->winner) {
    attempt_end_health(at, client_timed_out(rq), false, SL_FAIL_ERROR);
    stream_fail(rq, "Upstream stream went silent for longer than stream_idle_timeout", SL_AO_UPSTREAM_TIMEOUT);
    return;
  }
  at->status = 0;
  attempt_failed(at, SL_OUT_RETRY);
}

static void request_deadline(uv_timer_t *t) {
  struct sl_request *rq = t->data;
  if (rq->finished) return;
  if (rq->winner && rq->winner->streaming) {
    set_outcome(rq->winner, SL_AO_UPSTREAM_TIMEOUT);
    attempt_close_upstream(rq->winner);
    attempt_end_health(rq->winner, rq->client_deadline, false, SL_FAIL_ERROR);
    stream_fail(rq, "Request timed out mid-stream", SL_AO_UPSTREAM_TIMEOUT);
    return;
  }
  for (int i = 0; i < rq->natt; i++)
    if (rq->att[i]->live) {
      set_outcome(rq->att[i], SL_AO_UPSTREAM_TIMEOUT);
      if (rq->att[i]->up) sl_upstream_cancel(rq->att[i]->up);
      rq->att[i]->up = NULL;
      attempt_end_health(rq->att[i], rq->client_deadline, false, SL_FAIL_ERROR);
    }
  rq->events->fail(rq, 504, sl_err_name(SL_ERR_UPSTREAM_TIMEOUT), NULL,
                   "No complete answer within the request timeout");
}

/* ---- choosing and launching ---- */

/* Which kind of fallbacks list applies, from the last failure: a prompt too long for every
 * deployment, or a context-window / content-policy refusal, picks its own list; anything
 * else the general one. (The plan falls back to the general list itself.) */
static enum sl_fb_kind fallback_kind(const struct sl_request *rq) {
  enum sl_outcome kind = SL_OUT_RETRY;
  if (rq->last_choice.why == SL_NONE_TOO_LONG && !rq->last_failed) kind = SL_OUT_CONTEXT_WINDOW;
  else if (rq->last_failed && rq->last_failed->status)
    kind = sl_policy_classify(rq->last_failed->status, 0, rq->last_failed->resp.p, rq->last_failed->resp.n);
  return kind == SL_OUT_CONTEXT_WINDOW ? SL_FB_CONTEXT_WINDOW
       : kind == SL_OUT_CONTENT_POLICY ? SL_FB_CONTENT_POLICY
                                       : SL_FB_GENERAL;
}

/* The fallback groups for this request: the plan's list for its group and kind (resolved
 * and capped by max_fallbacks at load). */
static void build_fallbacks(struct sl_request *rq) {
  rq->fallbacks_built = true;
  enum sl_fb_kind k = fallback_kind(rq);
  const struct sl_group *g = rq->group;
  for (size_t i = 0; i < g->nfallbacks[k] && rq->nfallbacks < SL_MAX_FALLBACK_GROUPS; i++)
    rq->fallbacks[rq->nfallbacks++] = g->fallbacks[k][i];
}

static bool advance_group(struct sl_request *rq) {
  if (!rq->fallbacks_built) build_fallbacks(rq);
  if (rq->next_fallback >= rq->nfallbacks) return false;
  const struct sl_group *g = rq->fallbacks[rq->next_fallback++];
  bool *t = calloc(g->n, sizeof *t);
  if (!t) return false;
  free(rq->tried);
  rq->tried = t;
  rq->cur_group = g;
  rq->attempts_in_group = 0;
  rq->fallback_used = g->name;
  return true;
}

static void dialect_resume(struct sl_attempt *at, int rc);

static int send_attempt(struct sl_attempt *at) {
  if (sl_dialect_prepare(at, dialect_resume) == -EAGAIN) return 0; /* waits for a token */
  char err[256];
  struct sl_upstream_pool *pool = sl_worker_pool(at->rq->w, at->dep, err, sizeof err);
  if (!pool) return -1;
  struct sl_header hs[SL_ATTEMPT_MAX_HEADERS];
  size_t nh;
  int rc = sl_attempt_request_build(at, hs, &nh);
  if (rc) return rc;
  return sl_upstream_send(pool, "POST", at->path.p, hs, nh, at->body, at->nbody, &up_cbs, at, &at->up);
}

/* What send_attempt's result means for the attempt; true when it is on its way. */
static bool sent(struct sl_attempt *at, int src) {
  struct sl_request *rq = at->rq;
  if (src == -2) { /* the request cannot be said in this deployment's format */
    at->up = NULL;
    set_outcome(at, SL_AO_INVALID_REQUEST);
    attempt_end_health(at, true, false, SL_FAIL_ERROR);
    if (!rq->winner && rq->live == 0) rq->events->fail(rq, 400, sl_err_name(SL_ERR_INVALID_REQUEST), NULL, at->xerr);
    return false;
  }
  if (src) {
    at->up = NULL;
    set_outcome(at, SL_AO_UPSTREAM_CONNECT_ERROR);
    attempt_failed(at, SL_OUT_RETRY); /* goes on (or gives up) by itself */
    return false;
  }
  return true;
}

/* The deployment's own timeout for this attempt (ms, compiled at load); 0: none. */
static uint64_t attempt_timeout_ms(const struct sl_request *rq, const struct sl_plan_dep *pd) {
  if (rq->stream && pd->stream_timeout_ms > 0) return pd->stream_timeout_ms;
  return pd->timeout_ms;
}

/* Chooses a deployment of g (skipping those marked in tried) and starts an attempt on
 * it. Returns 1 when an attempt started, 0 when none could be chosen (*ch says why). */
static int try_group(struct sl_request *rq, const struct sl_group *g, bool *tried, bool hedge,
                     struct sl_choice *ch) {
  struct sl_worker *w = rq->w;
  struct sl_candidate small[16], *cands = g->n <= 16 ? small : malloc(g->n * sizeof *cands);
  if (!cands) return 0;
  /* cluster mode: the first attempt goes where admission chose (and Redis counted) */
  int first = rq->hold.cl.first_dep > 0 ? sl_cluster_first_choice(rq, g, tried) : -1;
  if (first >= 0) {
    *ch = (struct sl_choice){.index = first};
    tried[first] = true;
    sl_cluster_dep_begin(w, g->deps[first], false, rq->est_tokens, true);
  }
  for (; first < 0;) {
    sl_health_snapshot(w, g, tried, rq->stream, cands);
    sl_region_apply(rq, g, cands);
    sl_cluster_mark_full(rq, g, cands);
    *ch = sl_policy_choose(w->cfg->plan->strategy, cands, g->n, sl_now_ms(), sl_health_minute_left(), rq->est_tokens,
                           &w->rng);
    if (ch->index < 0) break;
    size_t gpos = (size_t)ch->index, dep = g->deps[gpos];
    tried[gpos] = true;
    if (sl_cluster_dep_begin(w, dep, ch->probe, rq->est_tokens, false)) break;
    /* another worker is probing it (or this host's share is used up): choose again */
  }
  if (cands != small) free(cands);
  if (ch->index < 0) return 0;
  size_t gpos = (size_t)ch->index, dep = g->deps[gpos];
  struct sl_attempt *at = sl_arena_calloc(rq->arena, sizeof *at);
  if (!at) {
    sl_health_end(w, dep, ch->probe, true, false, SL_FAIL_ERROR, 0, 0, 0);
    ch->why = SL_NONE_EMPTY;
    return 0;
  }
  at->rq = rq;
  at->no = rq->natt + 1;
  at->dep = dep;
  at->group = g;
  at->gpos = gpos;
  at->hedge = hedge;
  at->probe = ch->probe;
  at->live = true;
  if (rq->region && sl_region_rank_of(rq, dep) == SL_REGION_PERMITTED) { /* auditable: counted and logged */
    at->outside_preferred = true;
    rq->region->outside_preferred++;
    atomic_fetch_add_explicit(&w->shm->deployments[dep].m.region_outside_preferred, 1, memory_order_relaxed);
  }
  at->uwire = w->cfg->plan->deps[dep].wire;
  if (rq->route == SL_R_RESPONSES && w->cfg->plan->deps[dep].responses) at->uwire = SL_WIRE_RESPONSES;
  at->t_start = sl_now_ms();
  uv_timer_init(&w->loop, &at->timer);
  at->timer.data = at;
  rq->open_handles++;
  /* The first deployment's own max_retries, when set, bounds this request's retries. */
  if (rq->natt == 0 && w->cfg->deployments[dep].max_retries >= 0) rq->max_retries = w->cfg->deployments[dep].max_retries;
  rq->att[rq->natt++] = at;
  rq->live++;
  if (g == rq->cur_group) rq->attempts_in_group++;
  if (g != rq->group) rq->fallback_used = g->name;
  if (hedge) atomic_fetch_add(&w->shm->deployments[dep].hedges, 1);
  uint64_t ms = attempt_timeout_ms(rq, &w->cfg->plan->deps[dep]);
  if (!ms) ms = left_ms(rq);
  if (ms > left_ms(rq)) ms = left_ms(rq);
  uv_timer_start(&at->timer, attempt_timer, ms ? ms : 1, 0);
  if (sent(at, send_attempt(at)) && !hedge) arm_hedge(rq, dep);
  return 1;
}

/* After a token wait (core/dialect.h): send now, or fail with the 401 the dialect wrote. */
static void dialect_resume(struct sl_attempt *at, int rc) {
  if (!at->live) return;
  if (rc < 0) {
    set_outcome(at, SL_AO_HTTP_STATUS);
    attempt_failed(at, sl_policy_classify(at->status, 0, at->resp.p, at->resp.n));
    return;
  }
  sent(at, send_attempt(at));
}

/* A retry on a deployment of the current group that this request already tried (when
 * every untried one is used up or cooling down), within 1 + num_retries attempts. */
static bool again_in_group(struct sl_request *rq, struct sl_choice *ch) {
  const struct sl_group *g = rq->cur_group;
  if (!rq->retry_same || rq->attempts_in_group == 0 || rq->attempts_in_group > rq->max_retries) return false;
  rq->retry_same = false;
  bool small[16], *none = g->n <= 16 ? small : calloc(g->n, sizeof *none);
  if (!none) return false;
  memset(none, 0, g->n * sizeof *none);
  int ok = try_group(rq, g, none, false, ch);
  if (none != small) free(none);
  return ok;
}

/* Starts the next attempt: in the current group, else in the next fallback group. A
 * hedge stays in the current group, or goes to the first fallback group when the
 * current one has nobody else to ask. False when nothing can be tried. */
static bool launch(struct sl_request *rq, bool hedge, bool force_advance) {
  if (rq->natt >= SL_MAX_ATTEMPTS || left_ms(rq) == 0) return false;
  if (force_advance && (hedge || !advance_group(rq))) return false;
  struct sl_choice ch;
  for (;;) {
    if (try_group(rq, rq->cur_group, rq->tried, hedge, &ch)) return true;
    if (hedge) break;
    rq->last_choice = ch;
    if (again_in_group(rq, &ch)) return true;
    if (!advance_group(rq)) return false;
  }
  if (!rq->fallbacks_built) build_fallbacks(rq);
  if (rq->next_fallback >= rq->nfallbacks) return false;
  const struct sl_group *g = rq->fallbacks[rq->next_fallback];
  bool small[16], *tried = g->n <= 16 ? small : calloc(g->n, sizeof *tried);
  if (!tried) return false;
  memset(tried, 0, g->n * sizeof *tried);
  int ok = try_group(rq, g, tried, true, &ch);
  if (tried != small) free(tried);
  return ok;
}

/* ---- hedging ---- */

/* Whether to arm or fire a hedge is policy's (sl_policy_should_hedge); these carry it out. */
static struct sl_hedge_facts hedge_facts(const struct sl_request *rq, bool ringing) {
  const struct sl_hedging *h = &rq->w->cfg->hedging;
  struct sl_hedge_facts f = {.ringing = ringing, .enabled = h->enabled, .off = rq->hedge_off,
                             .fired = rq->hedges_fired, .max_extra = h->max_extra,
                             .answered = rq->finished || rq->winner, .left_ms = left_ms(rq)};
  for (int i = 0; i < rq->natt; i++) f.head_seen |= rq->att[i]->live && rq->att[i]->head;
  return f;
}

static void hedge_fire(uv_timer_t *t) {
  struct sl_request *rq = t->data;
  struct sl_hedge_facts f = hedge_facts(rq, true);
  f.budget_milli = sl_health_hedge_budget(rq->w);
  if (sl_policy_should_hedge(&f).step != SL_HEDGE_FIRE || !sl_health_hedge_take(rq->w)) return;
  int before = rq->natt;
  if (!launch(rq, true, false) || rq->natt == before) return;
  rq->hedges_fired++;
  arm_hedge(rq, rq->att[rq->natt - 1]->dep);
}

static void arm_hedge(struct sl_request *rq, size_t dep) {
  struct sl_hedge_facts f = hedge_facts(rq, false);
  if (!f.enabled || f.off || f.fired >= f.max_extra) return; /* before reading the sketch */
  f.delay_ms = sl_health_hedge_delay(rq->w, dep, rq->stream);
  struct sl_hedge_verdict v = sl_policy_should_hedge(&f);
  if (v.step == SL_HEDGE_ARM) uv_timer_start(&rq->hedge_timer, hedge_fire, v.delay_ms, 0);
}

void sl_attempts_arm_deadline(struct sl_request *rq) {
  uv_timer_start(&rq->deadline, request_deadline, left_ms(rq) ? left_ms(rq) : 1, 0);
}

void sl_attempts_start(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  const struct sl_config *c = w->cfg;
  rq->cur_group = rq->group;
  rq->tried = calloc(rq->group->n, sizeof *rq->tried);
  if (!rq->tried) {
    rq->events->fail(rq, 500, sl_err_name(SL_ERR_INTERNAL), NULL, "Out of memory");
    return;
  }
  rq->max_retries = c->num_retries;
  if (c->hedging.enabled) sl_health_hedge_deposit(w);
  sl_attempts_arm_deadline(rq);
  if (!launch(rq, false, false)) give_up(rq);
}
