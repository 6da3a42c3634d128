/* The request spine. A request moves one way through its stages:
 *   route -> origin check -> authenticate -> parse -> admit -> cache -> attempts
 * (attempt.c: choose, call, retry, fall back, hedge) -> respond -> summary.
 * Each stage returns a verdict (core/verdict.h) and never answers the client itself;
 * this file turns a verdict into a response through core/respond.c. A route row
 * (core/routes.c) names the handler that serves it and who may call it.
 * A request ends once: sl_request_finish() cancels what still runs, builds the one
 * summary record (core/summary.h) that accounting, metrics and the access log read,
 * and closes the request's timers; the last close callback frees it. */
#include "core/dashboard.h"
#include "core/trace.h"
#include "core/request.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/health_shm.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/origin.h"
#include "core/tenancy.h"
#include "store/keys.h"
#include "core/request_internal.h"
#include "core/cluster_admit.h"
#include "core/respond.h"
#include "core/responses.h"
#include "net/wire/answer_check.h"
#include "net/wire/multipart.h"
#include "core/router.h"
#include "core/semcache.h"
#include "core/cluster_cache.h"
#include "net/wire/json_bound.h"
#include "net/wire/json_scan.h"
#include "net/wire/oai_error.h"
#include "net/wire/oai_stream.h"
#include "core/verdict.h"
#include "policy/classify.h"

/* ---- ending ---- */

static void handle_closed(struct sl_request *rq) {
  if (--rq->open_handles) return;
  sl_attempts_free(rq);
  if (rq->json) cJSON_Delete(rq->json);
  if (rq->resp_req) cJSON_Delete(rq->resp_req);
  sl_buf_free(&rq->resp_final);
  free(rq->tried);
  sl_buf_free(&rq->hdrs);
  sl_buf_free(&rq->rl_hdrs);
  if (rq->key) {
    sl_key_record_free(rq->key);
    free(rq->key);
  }
  sl_arena_free(rq->arena); /* rq itself lives in it */
}

void sl_request_release(struct sl_request *rq) { handle_closed(rq); }

static void on_handle_closed(uv_handle_t *h) { handle_closed(h->data); }
/* Attempt timers carry their attempt, which points back at the request. */
static void on_attempt_handle_closed(uv_handle_t *h) { handle_closed(((struct sl_attempt *)h->data)->rq); }

/* ---- the summary record ---- */

void sl_request_summarize(const struct sl_request *rq, uint64_t now_ms, struct sl_request_summary *s) {
  const struct sl_worker *w = rq->w;
  memset(s, 0, sizeof *s);
  s->request_id = rq->id;
  s->route = rq->route;
  if (rq->hr) {
    s->method = rq->hr->method_name;
    s->path = rq->hr->path;
  }
  s->stream = rq->stream;
  s->group_index = -1;
  if (rq->group) {
    s->group = rq->group->name;
    s->group_spend_id = rq->group->spend_id;
    uintptr_t p = (uintptr_t)rq->group, b = (uintptr_t)w->groups;
    if (w->groups && p >= b && p < b + w->ngroups * sizeof *w->groups) s->group_index = (long)((p - b) / sizeof *w->groups);
  }
  const struct sl_attempt *last = rq->winner ? rq->winner : rq->natt ? rq->att[rq->natt - 1] : NULL;
  s->deployment_index = -1;
  if (last && last->dep < w->cfg->ndeployments) {
    s->deployment = w->cfg->deployments[last->dep].id;
    s->deployment_index = (long)last->dep;
    s->region = w->cfg->plan ? w->cfg->plan->deps[last->dep].region : NULL;
  }
  if (rq->region) s->region_outside_preferred = rq->region->outside_preferred;
  s->fallback = rq->fallback_used;
  if (rq->router) {
    s->router = rq->router->cfg->name;
    s->router_reason = rq->router_reason;
    s->router_scored = rq->router_scored;
    s->router_score = rq->router_score;
    s->router_would = rq->router_would ? rq->router_would->name : NULL;
  }
  s->attempts = rq->natt;
  s->hedges_fired = rq->hedges_fired;
  s->hedge_won = rq->hedge_won;
  s->status = rq->status;
  s->err_code = rq->err_code;
  /* The string is the authority: attempt.c sets only it (its outcomes are another enum). */
  s->err = rq->err_code ? sl_err_parse(rq->err_code) : rq->err;
  s->cache = rq->cache_state;
  s->t0_ms = rq->t0_ms;
  s->t_end_ms = now_ms;
  const struct sl_attempt *win = rq->winner;
  if (rq->stream && win && win->streaming && win->t_first) s->t_first_ms = win->t_first;
  if (win && win->t_end >= win->t_start) {
    s->has_upstream_ms = true;
    s->upstream_ms = win->t_end - win->t_start;
  }
  s->tokens_in = rq->tokens_in;
  s->tokens_out = rq->tokens_out;
  s->cost_micro = rq->cost_micro;
  s->cost_pico = rq->cost_pico;
  s->usage_estimated = rq->usage_estimated;
  s->usage_implausible = rq->usage_implausible;
  if (rq->key) {
    s->key = rq->key->key_alias[0] ? rq->key->key_alias : rq->key->display;
    s->key_id = rq->key->id;
    s->key_record = rq->key;
  }
}

void sl_request_account(struct sl_request *rq) {
  if (rq->hold.accounted) return;
  if (rq->natt || rq->hold.tpm_reserved) sl_tenancy_cost(rq);
  sl_router_account(rq);
  struct sl_request_summary s;
  sl_request_summarize(rq, sl_now_ms(), &s);
  sl_tenancy_account(rq->w, &rq->hold, &s);
}

static void access_log(const struct sl_worker *w, const struct sl_request_summary *s) {
  char open[160];
  int on = sl_log_open(open, sizeof open, SL_LOG_INFO, "access");
  if (on < 0) return;
  struct sl_buf b = {0};
  sl_buf_append(&b, open, (size_t)on);
  sl_summary_access_log(s, &b);
  if (!b.oom) sl_log_raw(b.p, b.n);
  sl_buf_free(&b);
}

void sl_request_finish(struct sl_request *rq) {
  if (rq->finished) return;
  rq->finished = true;
  sl_attempts_cancel_all(rq);
  sl_reqcache_finish(rq);
  if (rq->conn) sl_conn_attach(rq->conn, NULL);
  rq->conn = NULL;
  rq->w->inflight--;
  sl_request_account(rq);
  struct sl_request_summary s;
  sl_request_summarize(rq, sl_now_ms(), &s);
  sl_metrics_request_done(rq->w, &s);
  sl_dashboard_record(rq, &s); /* the live view's ring of recent requests */
  sl_trace_request_done(rq, &s); /* OpenTelemetry spans, when tracing is on */
  struct sl_buf attempts = {0};
  bool log = rq->w->cfg->access_log && sl_log_enabled(SL_LOG_INFO);
  if (log && rq->natt) {
    sl_attempts_log(rq, &attempts);
    s.attempts_json = attempts.p;
    s.attempts_json_len = attempts.n;
    if (attempts.oom) log = false; /* never a line with a truncated attempts array */
  }
  if (log) access_log(rq->w, &s);
  sl_buf_free(&attempts);
  uv_close((uv_handle_t *)&rq->deadline, on_handle_closed);
  uv_close((uv_handle_t *)&rq->retry_timer, on_handle_closed);
  uv_close((uv_handle_t *)&rq->hedge_timer, on_handle_closed);
  for (int i = 0; i < rq->natt; i++) uv_close((uv_handle_t *)&rq->att[i]->timer, on_attempt_handle_closed);
}

/* ---- parse ---- */

static bool unknown_model(struct sl_request *rq, const char *model, struct sl_refusal *r) {
  struct sl_buf list = {0};
  for (size_t i = 0; i < rq->w->ngroups; i++) {
    if (i) sl_buf_puts(&list, ", ");
    sl_buf_puts(&list, rq->w->groups[i].name);
  }
  sl_refuse(r, 400, SL_ERR_MODEL_NOT_FOUND, NULL,
            "Invalid model name passed in model=%.200s. Available model groups: %.700s", model, list.p ? list.p : "");
  sl_buf_free(&list);
  return false;
}

/* Characters of prompt text, for the token estimate: every string in the body. */
static size_t text_chars(const cJSON *j) {
  if (!j) return 0;
  if (cJSON_IsString(j)) return strlen(j->valuestring);
  size_t n = 0;
  for (const cJSON *c = j->child; c; c = c->next) n += text_chars(c);
  return n;
}

/* Per-request timeout: header x-sluice-timeout or body "timeout" (seconds), from 1 ms
 * (a shorter one could not start a call: refused as invalid) to a day. */
#define MIN_TIMEOUT_S 0.001
static int request_timeout(struct sl_request *rq, double *out) {
  const struct sl_http_request *hr = rq->hr;
  double v;
  *out = 0;
  int hn = sl_http_header_number(hr->headers, hr->nheaders, "x-sluice-timeout", &v);
  if (hn) {
    if (hn < 0 || !(v >= MIN_TIMEOUT_S) || v > 86400) return -1;
    *out = v;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(rq->json, "timeout");
  if (t && !cJSON_IsNull(t)) {
    if (!cJSON_IsNumber(t) || !(t->valuedouble >= MIN_TIMEOUT_S) || t->valuedouble > 86400) return -1;
    if (*out == 0) *out = t->valuedouble;
  }
  return 0;
}

/* A multipart/form-data body (audio transcriptions): its `model` field's value is found
 * (the attempts rewrite it with slices of the body) and rq->json becomes {"model": ...}
 * (plus "stream" when the form asks), so every later stage reads the request as any
 * other. The file itself is never looked at. */
static bool parse_multipart(struct sl_request *rq, struct sl_refusal *r) {
  const struct sl_http_request *hr = rq->hr;
  const struct sl_header *ct = sl_http_header_find(hr->headers, hr->nheaders, "content-type");
  const char *b;
  size_t bn, vs, ve;
  if (!ct || sl_multipart_boundary(ct->value.p, ct->value.n, &b, &bn))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "Content-Type multipart/form-data needs a boundary");
  int rc = sl_multipart_field(hr->body, hr->body_len, b, bn, "model", &vs, &ve);
  if (rc == -EEXIST) return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "The form has more than one 'model' field");
  if (rc == -EBADMSG) return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "The multipart/form-data body is malformed");
  if (rc || ve == vs || ve - vs > 255 || memchr(hr->body + vs, 0, ve - vs))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "Missing required parameter: 'model' (a form field)");
  rq->multipart = true;
  rq->mp_vs = vs;
  rq->mp_ve = ve;
  rq->json = cJSON_CreateObject();
  char model[256];
  memcpy(model, hr->body + vs, ve - vs);
  model[ve - vs] = 0;
  size_t ss, se;
  bool stream = sl_multipart_field(hr->body, hr->body_len, b, bn, "stream", &ss, &se) == 0 && se - ss == 4 &&
                memcmp(hr->body + ss, "true", 4) == 0;
  if (!rq->json || !cJSON_AddStringToObject(rq->json, "model", model) ||
      (stream && !cJSON_AddBoolToObject(rq->json, "stream", 1)))
    return sl_refuse(r, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  return true;
}

/* The parse stage: the body, the model group, the stream flag, the deadline and the
 * token estimate into rq; false and a refusal when the request is not one to serve. */
/* A JSON body: parsed within the configured bounds, one object, no duplicate members. */
static bool parse_json(struct sl_request *rq, struct sl_refusal *r) {
  const struct sl_http_request *hr = rq->hr;
  /* Bounded: a pre-scan refuses bodies that would build a huge tree before cJSON runs. */
  const struct sl_json_bound jb = {.max_depth = rq->w->cfg->max_json_depth,
                                   .max_values = rq->w->cfg->max_json_values};
  int jrc = sl_json_bound_parse(hr->body, hr->body_len, &jb, &rq->json);
  if (jrc == -E2BIG)
    return sl_refuse(r, 413, SL_ERR_JSON_TOO_MANY_VALUES, NULL,
                     "Request body has more than %lld JSON values (sluice_settings.max_json_values)",
                     (long long)jb.max_values);
  if (jrc == -ELOOP)
    return sl_refuse(r, 400, SL_ERR_JSON_TOO_DEEP, NULL,
                     "Request body nests deeper than %d levels (sluice_settings.max_json_depth)", jb.max_depth);
  if (!rq->json) return sl_refuse(r, 400, SL_ERR_INVALID_JSON, NULL, "Request body is not valid JSON");
  if (!cJSON_IsObject(rq->json)) return sl_refuse(r, 400, SL_ERR_INVALID_JSON, NULL, "Request body must be a JSON object");
  const char *dup = sl_json_duplicate_member(rq->json);
  if (dup) /* Parsers disagree on which duplicate wins; refuse rather than route on one
            * value while the provider reads another. */
    return sl_refuse(r, 400, SL_ERR_INVALID_JSON, NULL, "Duplicate top-level field '%.100s' in the request body", dup);
  return true;
}

static bool parse(struct sl_request *rq, struct sl_refusal *r) {
  const struct sl_http_request *hr = rq->hr;
  if (!(rq->route == SL_R_TRANSCRIPTIONS ? parse_multipart(rq, r) : parse_json(rq, r))) return false;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(rq->json, "model");
  if (!cJSON_IsString(model) || !model->valuestring[0])
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "Missing required parameter: 'model' (a string)");
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(rq->json, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL, "'stream' must be a boolean");
  rq->stream = cJSON_IsTrue(stream);
  double tmo;
  if (request_timeout(rq, &tmo))
    return sl_refuse(r, 400, SL_ERR_INVALID_REQUEST, NULL,
                     "'timeout' (body) and 'x-sluice-timeout' (header) must be seconds from 0.001 to 86400");
  char aliased[256];
  const char *name = sl_tenancy_key_alias(rq->key, model->valuestring, aliased, sizeof aliased);
  rq->group = sl_worker_group(rq->w, name);
  if (!rq->group) rq->group = sl_wild_group(rq, name); /* exact names first, then patterns */
  if (!rq->group && !sl_router_parse_routellm(rq->w, model->valuestring, &rq->group, &rq->routellm_threshold))
    return unknown_model(rq, model->valuestring, r);
  const struct sl_header *ho = sl_http_header_find(hr->headers, hr->nheaders, "x-sluice-hedge");
  rq->hedge_off = ho && sl_slice_eq_ci(ho->value, "off");
  rq->est_tokens = sl_policy_estimate_tokens(text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "messages")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "prompt")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "system")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "input")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "instructions")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "query")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "documents")));
  double t = tmo > 0 ? tmo : rq->w->cfg->timeout_s;
  rq->deadline_ms = rq->t0_ms + (uint64_t)(t * 1000.0);
  rq->client_deadline = tmo > 0;
  return true;
}

/* ---- cache ---- */

bool sl_request_serve_cached(struct sl_request *rq, const char *json, size_t len, int64_t age_s) {
  struct sl_buf sse = {0};
  if (rq->route == SL_R_RESPONSES) { /* this request's own id, and kept under it */
    struct sl_buf resp = {0};
    bool ok = sl_responses_restamp(rq, json, len, &resp) == 0 &&
              (!rq->stream || sl_xlate_resp_replay(resp.p, resp.n, NULL, &sse) == 0);
    if (ok) {
      rq->cache_state = rq->cache_semantic ? SL_CS_SEMANTIC : SL_CS_HIT;
      rq->cache_age_s = age_s;
      if (rq->stream) {
        sl_respond_stream_start(rq, false);
        sl_respond_stream_write(rq, sse.p, sse.n);
        sl_respond_stream_end(rq);
      } else {
        sl_respond_json(rq, 200, resp.p, resp.n);
      }
    }
    sl_buf_free(&resp);
    sl_buf_free(&sse);
    return ok;
  }
  if (rq->stream) {
    struct sl_oai_replay_opts o = {.include_usage = rq->include_usage};
    if (sl_oai_replay(json, len, &o, &sse)) {
      sl_buf_free(&sse);
      return false;
    }
  }
  rq->cache_state = rq->cache_semantic ? SL_CS_SEMANTIC : SL_CS_HIT;
  rq->cache_age_s = age_s;
  if (rq->stream) {
    sl_respond_stream_start(rq, false);
    sl_respond_stream_write(rq, sse.p, sse.n);
    sl_buf_free(&sse);
    sl_respond_stream_end(rq);
  } else {
    sl_respond_json(rq, 200, json, len);
  }
  return true;
}

/* Whether the route's answers may come from the cache: OpenAI-format JSON answers that
 * depend on the body only. Not images, speech or transcriptions (generated anew each time,
 * and not JSON), count_tokens (free), Anthropic's format. Responses answers are stored as
 * their final response object (whole or streamed) and each hit gets a new id. */
static bool cacheable(const struct sl_request *rq) {
  switch (rq->route) {
  case SL_R_CHAT:
  case SL_R_COMPLETIONS:
  case SL_R_EMBEDDINGS:
  case SL_R_MODERATIONS:
  case SL_R_RERANK: return rq->cwire == SL_WIRE_OPENAI;
  case SL_R_RESPONSES: return true;
  default: return false;
  }
}

/* The cache stage's verdict for rq: HIT (served here), FOLLOW (waits for an identical
 * request's answer), or go upstream (OFF, BYPASS, MISS). */
static enum sl_cache_kind cache_stage(struct sl_request *rq) {
  const struct sl_cache_ask ask = {.body = rq->json,
                                   .hr = rq->hr,
                                   .key = rq->key,
                                   .group = sl_wild_cache_group(rq), /* a wildcard's: with the name */
                                   .upstream_path = rq->upstream_path,
                                   .openai_wire = cacheable(rq)};
  struct sl_cache_verdict v;
  sl_reqcache_begin(rq->w, &ask, &v);
  rq->include_usage = v.include_usage;
  if (v.kind == SL_CACHE_OFF) return SL_CACHE_OFF;
  rq->cache_state = v.state;
  memcpy(rq->ckey, v.ckey, sizeof rq->ckey);
  rq->cache_ttl_s = v.ttl_s;
  rq->cache_store = v.store;
  rq->cache_max_age_s = v.max_age_s;
  if (v.kind == SL_CACHE_BYPASS) return SL_CACHE_BYPASS;
  if (v.kind == SL_CACHE_HIT) {
    bool served = sl_request_serve_cached(rq, v.value, v.len, v.age_s);
    free(v.value);
    if (served) return SL_CACHE_HIT;
    rq->cache_state = SL_CS_MISS; /* cannot be replayed: fetch it again */
  } else { /* an exact miss: the semantic cache may have a near one (or wait for an embedding) */
    enum sl_cache_kind k = sl_semcache_lookup(rq, &v);
    if (k == SL_CACHE_HIT || k == SL_CACHE_PENDING) return k;
  }
  enum sl_cache_kind k = sl_reqcache_join(rq);
  return k == SL_CACHE_MISS ? sl_cluster_cache_lookup(rq) : k; /* the leader asks Redis (cluster mode) */
}

/* The semantic cache's embedding came (core/semcache.c): served, or on as after a miss. */
void sl_request_cache_resume(struct sl_request *rq, bool served) {
  if (rq->finished || served) return;
  if (sl_reqcache_join(rq) == SL_CACHE_FOLLOW || sl_cluster_cache_lookup(rq) == SL_CACHE_PENDING) return;
  sl_attempts_start(rq);
}

/* ---- route handlers ---- */

/* count_tokens goes to the provider when every deployment of the group is Anthropic's
 * (the only provider with the endpoint); otherwise sluice estimates. */
static bool count_tokens_upstream(const struct sl_request *rq) {
  const struct sl_group *g = rq->group;
  if (!g || g->n == 0) return false;
  for (size_t i = 0; i < g->n; i++)
    if (rq->w->cfg->plan->deps[g->deps[i]].wire != SL_WIRE_ANTHROPIC) return false;
  return true;
}

/* The estimate, said as one: `"estimated": true` in the body and
 * `x-sluice-token-count: estimated` (sluice's chars/4 rule over the prompt's text). */
static void count_tokens_estimate(struct sl_request *rq) {
  size_t chars = text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "messages")) +
                 text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "system")) +
                 text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "tools"));
  rq->token_count_estimated = true;
  char body[96];
  int n = snprintf(body, sizeof body, "{\"input_tokens\":%lld,\"estimated\":true}",
                   (long long)sl_policy_estimate_tokens(chars));
  rq->status = 200;
  sl_respond_body(rq, 200, "application/json", "x-sluice-token-count: estimated\r\n", body, (size_t)n);
}

/* The model endpoints: parse -> admit -> cache -> attempts. */
void sl_request_api(struct sl_request *rq) {
  struct sl_refusal r;
  /* parse, residency, then the route stage: a router (or a key pinned to one) picks the
   * target group (rules may read the request's preferred regions) */
  if (!parse(rq, &r) || !sl_region_resolve(rq, &r) || (rq->w->cfg->plan->nrouters && !sl_router_route(rq, &r))) {
    sl_respond_refusal(rq, &r);
    return;
  }
  if (rq->route_pending) return; /* the router waits for something (an embedding): it resumes */
  sl_request_after_route(rq);
}

void sl_request_after_route(struct sl_request *rq) {
  struct sl_refusal r;
  rq->route_pending = false;
  if (rq->finished) return;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(rq->json, "model");
  const char *asked = rq->router ? rq->router->cfg->name : model->valuestring;
  if (rq->route == SL_R_RESPONSES && !sl_responses_prepare(rq, &r)) {
    sl_respond_refusal(rq, &r);
    return;
  }
  if (rq->route == SL_R_COUNT_TOKENS) { /* free at the provider: no limits, no spend, no cache */
    if (rq->key && !sl_key_allows_model(rq->key, asked, strlen(asked)) &&
        !sl_key_allows_model(rq->key, rq->group->name, strlen(rq->group->name))) {
      sl_respond_error(rq, 403, SL_ERR_MODEL_NOT_ALLOWED, NULL, "This key is not allowed to access model=%.200s", asked);
      return;
    }
    if (!count_tokens_upstream(rq)) count_tokens_estimate(rq);
    else sl_attempts_start(rq);
    return;
  }
  /* a routed request is admitted on its router's name (the key may be allowed only the router) */
  const struct sl_admit_ask ask = {.key = rq->key,
                                   .model = asked,
                                   .group = rq->group,
                                   .est_tokens = rq->est_tokens,
                                   .body = rq->json};
  struct sl_admit_verdict av;
  /* one host: decided here on shared memory; cluster mode: one Redis round trip, after
   * which sl_request_admit_resume goes on (core/cluster_admit.h) */
  if (sl_cluster_admit(rq, &ask, &av) == SL_CLUSTER_ADMIT_PENDING) return;
  sl_request_admit_resume(rq, &av);
}

void sl_request_admit_resume(struct sl_request *rq, const struct sl_admit_verdict *av) {
  struct sl_refusal r;
  if (rq->finished) return;
  if (av->kind != SL_ADMIT_OK) {
    sl_admit_refusal(av, &r);
    sl_respond_refusal(rq, &r);
    return;
  }
  const struct sl_http_request *hr = rq->hr;
  /* Streams report usage only when asked: ask for the client when it did not. */
  rq->usage_ask = rq->stream && (rq->route == SL_R_CHAT || rq->route == SL_R_COMPLETIONS)
                      ? sl_usage_inject_stream_options(hr->body, hr->body_len, &rq->inject)
                      : SL_USAGE_ASK_NOT_STREAM;
  if (rq->usage_ask < 0) rq->usage_ask = SL_USAGE_ASK_NOT_STREAM;
  switch (cache_stage(rq)) {
  case SL_CACHE_HIT:     /* served */
  case SL_CACHE_FOLLOW:  /* waits for a twin's answer */
  case SL_CACHE_PENDING: /* waits for an embedding: sl_request_cache_resume */
    return;
  default:
    sl_attempts_start(rq);
  }
}

void sl_request_models(struct sl_request *rq) {
  if (!rq->key || rq->key->nmodels == 0) {
    sl_respond_json(rq, 200, rq->w->models_json, rq->w->models_json_len);
    return;
  }
  char *body = NULL;
  size_t n = 0;
  int rc = sl_tenancy_models_json(rq->w, rq->key, &body, &n); /* before body and n are read */
  sl_respond_built(rq, rc, body, n, "Out of memory");
}

/* GET /v1/models/{id}: the model object of a name a client may send (a group, a router or a
 * model_group_alias; ids with '/' as they are or %2F-encoded), or 404 model_not_found, also
 * when the key may not use it (as OpenAI answers for a model the caller cannot see). */
void sl_request_model(struct sl_request *rq) {
  const struct sl_slice path = rq->hr->path;
  const char *at = memmem(path.p, path.n, "/models/", 8);
  size_t from = at ? (size_t)(at - path.p) + 8 : path.n, end = path.n;
  if (end > from && path.p[end - 1] == '/') end--; /* the route lookup ignores one trailing '/' */
  char id[257];
  long dn = sl_pct_decode(path.p + from, end - from, false, id, sizeof id);
  bool bad = dn < 0;
  size_t n = bad ? 0 : (size_t)dn;
  const struct sl_group *g = bad || !n ? NULL : sl_worker_group(rq->w, id);
  if (!g && !bad && n) g = sl_plan_match(rq->w->cfg->plan, id); /* a name a wildcard serves */
  const struct sl_key_record *k = rq->key;
  if (g && k && !sl_key_allows_model(k, id, n) && !sl_key_allows_model(k, g->name, strlen(g->name))) g = NULL;
  if (!g) {
    sl_respond_error(rq, 404, SL_ERR_MODEL_NOT_FOUND, NULL,
                     "The model '%.200s' does not exist or you do not have access to it.", bad ? "(malformed)" : id);
    return;
  }
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"id\":\"");
  sl_buf_json_escape(&b, id, n);
  sl_buf_puts(&b, "\",\"object\":\"model\",\"created\":1677610602,\"owned_by\":\"sluice\"}");
  if (b.oom) sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
  else sl_respond_json(rq, 200, b.p, b.n);
  sl_buf_free(&b);
}

void sl_request_live(struct sl_request *rq) {
  static const char b[] = "\"I'm alive!\"";
  sl_respond_json(rq, 200, b, sizeof b - 1);
}

void sl_request_ready(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  if (w->draining || atomic_load(&w->shm->draining)) {
    static const char b[] = "{\"status\":\"draining\"}";
    sl_respond_json(rq, 503, b, sizeof b - 1);
  } else {
    static const char b[] = "{\"status\":\"healthy\"}";
    sl_respond_json(rq, 200, b, sizeof b - 1);
  }
}

/* Unauthenticated, as LiteLLM's: scrapers rarely carry keys. */
void sl_request_metrics(struct sl_request *rq) {
  struct sl_buf b = {0};
  if (sl_metrics_render(rq->w, &b)) {
    sl_buf_free(&b);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot render metrics");
    return;
  }
  sl_respond_body(rq, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.p, b.n);
  sl_buf_free(&b);
}

void sl_request_cache_stats(struct sl_request *rq) {
  char *body = NULL;
  size_t n = 0;
  int rc = sl_reqcache_stats_json(rq->w, &body, &n);
  sl_respond_built(rq, rc, body, n, "Cannot read cache statistics");
}

/* Cluster mode: the Redis tier's entries deleted and the other hosts told (core/cluster_cache.c),
 * or said to be this host's flush only ("scope":"local"). */
static void cache_flushed(void *ud, const struct sl_cluster_cache_flushed *f) {
  struct sl_request *rq = ud;
  if (!rq->finished) {
    struct sl_buf b = {0};
    if (f->ok) {
      sl_buf_puts(&b, "{\"status\":\"flushed\",\"scope\":\"cluster\"");
      if (f->tier) sl_buf_printf(&b, ",\"redis\":\"flushed\",\"redis_deleted\":%llu", (unsigned long long)f->deleted);
      sl_buf_puts(&b, "}");
      sl_log(SL_LOG_INFO, "cache: flushed across the cluster", "\"worker\":%u,\"redis_deleted\":%llu", rq->w->index,
             (unsigned long long)f->deleted);
    } else {
      sl_buf_printf(&b,
                    "{\"status\":\"flushed\",\"scope\":\"local\",\"redis\":\"failed\",\"redis_deleted\":%llu,"
                    "\"message\":\"Only this host's cache was flushed: Redis did not complete the cluster flush (",
                    (unsigned long long)f->deleted);
      for (const char *q = f->err ? f->err : "unknown"; *q; q++) /* Redis's text: kept to plain characters */
        sl_buf_printf(&b, "%c", (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20) ? '\'' : *q);
      sl_buf_puts(&b, "); the Redis cache tier and the other hosts may keep their entries\"}");
      sl_log(SL_LOG_WARN, "cache: cluster flush failed: flushed this host only", "\"worker\":%u", rq->w->index);
    }
    if (b.oom)
      sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot build the answer");
    else
      sl_respond_json(rq, 200, b.p, b.n);
    sl_buf_free(&b);
  }
  sl_request_release(rq); /* the hold taken for the flush */
}

void sl_request_cache_flush(struct sl_request *rq) {
  static const char b[] = "{\"status\":\"flushed\"}";
  static const char local[] =
      "{\"status\":\"flushed\",\"scope\":\"local\",\"redis\":\"down\",\"message\":\"Only this host's cache was "
      "flushed: Redis is unreachable, so the Redis cache tier and the other hosts keep their entries\"}";
  if (sl_reqcache_flush(rq->w)) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot flush the cache");
    return;
  }
  if (!rq->w->cluster) {
    sl_respond_json(rq, 200, b, sizeof b - 1);
    return;
  }
  rq->open_handles++; /* released in cache_flushed */
  int rc = sl_cluster_cache_flush(rq->w, cache_flushed, rq);
  if (rc == 0) return;
  rq->open_handles--; /* the request is live: this never frees it */
  if (rc != -ENOTCONN) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "This host's cache was flushed; cannot flush the cluster's");
    return;
  }
  sl_log(SL_LOG_WARN, "cache: redis down: flushed this host only", "\"worker\":%u", rq->w->index);
  sl_respond_json(rq, 200, local, sizeof local - 1);
}

/* ---- the front: route, origin, authenticate, dispatch ---- */

/* The route and origin stages: false and a refusal when the request goes no further. */
static bool route_stage(struct sl_request *rq, const struct sl_route_match *m, struct sl_refusal *r) {
  const struct sl_http_request *hr = rq->hr;
  if (!m->row)
    return sl_refuse(r, 404, SL_ERR_NOT_FOUND, NULL, "Unknown path %.*s", (int)(hr->path.n < 200 ? hr->path.n : 200),
                     hr->path.p);
  if (!m->method_ok) {
    char allow[64];
    snprintf(allow, sizeof allow, "Allow: %s\r\n", m->allow);
    return sl_refuse(r, 405, SL_ERR_METHOD_NOT_ALLOWED, allow, "Method %.*s is not allowed here; use %s",
                     (int)(hr->method_name.n < 20 ? hr->method_name.n : 20), hr->method_name.p, m->allow);
  }
  switch (sl_origin_check(rq->w->cfg, rq->conn, hr, m->route)) {
  case SL_ORIGIN_BAD_HOST: {
    const struct sl_header *h = sl_http_header_find(hr->headers, hr->nheaders, "host");
    return sl_refuse(r, 421, SL_ERR_MISDIRECTED_REQUEST, NULL,
                     "Host '%.*s' is not served here: without a master key sluice answers only to "
                     "localhost, its own address and sluice_settings.allowed_hosts",
                     (int)(h->value.n < 200 ? h->value.n : 200), h->value.p);
  }
  case SL_ORIGIN_BAD_TYPE:
    return sl_refuse(r, 415, SL_ERR_UNSUPPORTED_MEDIA_TYPE, NULL, "Request bodies must be sent with Content-Type: %s",
                     m->route == SL_R_TRANSCRIPTIONS ? "multipart/form-data" : "application/json");
  case SL_ORIGIN_OK:
    break;
  }
  return true;
}

/* The authenticate stage, by the row's access. */
static bool auth_stage(struct sl_request *rq, enum sl_route_access access, struct sl_refusal *r) {
  if (access == SL_ACCESS_OPEN) return true;
  const char *why;
  if (sl_tenancy_authenticate(rq->w, rq->hr, &rq->key, &why))
    return sl_refuse(r, 401, SL_ERR_INVALID_API_KEY, "WWW-Authenticate: Bearer\r\n", "%s", why);
  if (rq->key && access == SL_ACCESS_MASTER)
    return sl_refuse(r, 403, SL_ERR_ADMIN_ONLY, NULL, "This route needs the master key");
  return true;
}

/* ---- what the attempts report (attempt_events.h): the spine answers ---- */

static void ev_stream_start(struct sl_request *rq) {
  sl_reqcache_stream_begin(rq);
  sl_respond_stream_start(rq, true);
}

static void ev_stream_write(struct sl_request *rq, const struct sl_iov *v, size_t n) {
  sl_respond_stream_writev(rq, v, n);
}

static void ev_stream_end(struct sl_request *rq, bool complete, const char *cut_msg, int status, const char *code) {
  if (complete && rq->route == SL_R_RESPONSES) { /* the final response object is the answer to store */
    struct sl_buf fin = {0};
    if (sl_responses_final(rq, &fin) == 0) sl_reqcache_fill(rq, fin.p, fin.n);
    sl_buf_free(&fin);
  } else if (complete) {
    sl_reqcache_stream_end(rq); /* only a whole stream is stored */
  }
  if (cut_msg) {
    rq->err_code = code;
    if (rq->conn) { /* the error in band, in the client's format; the cost still follows */
      struct sl_buf b = {0};
      sl_xlate_error_event(rq->cwire, status, "upstream_error", cut_msg, code, &b);
      if (!b.oom) sl_respond_stream_write(rq, b.p, b.n);
      sl_buf_free(&b);
    }
  }
  sl_respond_stream_end(rq);
}

/* A whole answer of an attempt: success (a 200 fills the cache), or a provider's error
 * passed through, said in the client's wire format with the provider's back-off advice. */
/* A cascade step's answer for a streaming client (held: asked whole, then checked):
 * replayed as the stream the client asked for, as a cache hit is. */
static bool serve_held(struct sl_request *rq, const struct sl_attempt *at) {
  struct sl_buf sse = {0};
  struct sl_oai_replay_opts o = {.include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                     cJSON_GetObjectItemCaseSensitive(rq->json, "stream_options"), "include_usage"))};
  if (sl_oai_replay(at->resp.p ? at->resp.p : "", at->resp.n, &o, &sse)) {
    sl_buf_free(&sse);
    return false;
  }
  rq->status = 200;
  sl_respond_stream_start(rq, false);
  sl_respond_stream_write(rq, sse.p, sse.n);
  sl_buf_free(&sse);
  sl_respond_stream_end(rq);
  return true;
}

static void ev_whole(struct sl_request *rq, struct sl_attempt *at) {
  if (at->status == 200 && rq->cascade_logprobs) { /* sluice asked for them, the client did not */
    struct sl_buf b = {0};
    if (sl_answer_strip_logprobs(at->resp.p ? at->resp.p : "", at->resp.n, &b) == 0 && !b.oom) {
      sl_buf_free(&at->resp);
      at->resp = b;
    } else {
      sl_buf_free(&b);
    }
  }
  if (at->status == 200 && rq->route == SL_R_RESPONSES && rq->resp_req && at->uwire == SL_WIRE_RESPONSES)
    sl_responses_echo(rq, &at->resp);
  if (at->status == 200) sl_reqcache_fill(rq, at->resp.p ? at->resp.p : "", at->resp.n);
  if (at->status == 200 && rq->route == SL_R_RESPONSES) sl_responses_keep(rq, at->resp.p ? at->resp.p : "", at->resp.n);
  if (at->status == 200 && at->held && serve_held(rq, at)) return;
  rq->status = at->status;
  if (at->status >= 400 && !rq->err_code) rq->err_code = sl_err_name(SL_ERR_UPSTREAM_ERROR);
  if (at->status >= 400 && (at->uwire != rq->cwire || sl_xlate_error_wrapped(at->resp.p ? at->resp.p : "", at->resp.n))) {
    struct sl_buf eb = {0};
    if (sl_xlate_error_body(rq->cwire, at->status, at->resp.p ? at->resp.p : "", at->resp.n, &eb) == 0) {
      sl_buf_free(&at->resp);
      at->resp = eb;
      snprintf(at->ctype, sizeof at->ctype, "application/json");
    } else {
      sl_buf_free(&eb);
    }
  }
  char extra[160] = "";
  if (at->status >= 400) /* both wire formats */
    snprintf(extra, sizeof extra, "%s%s%s%s%s%s", at->ra_hdr[0] ? "Retry-After: " : "", at->ra_hdr,
             at->ra_hdr[0] ? "\r\n" : "", at->ra_ms_hdr[0] ? "retry-after-ms: " : "", at->ra_ms_hdr,
             at->ra_ms_hdr[0] ? "\r\n" : "");
  sl_respond_body(rq, at->status, at->ctype[0] ? at->ctype : "application/json", extra, at->resp.p, at->resp.n);
}

static void ev_fail(struct sl_request *rq, int status, const char *code, const char *extra_hdrs, const char *msg) {
  sl_respond_error_named(rq, status, code, extra_hdrs, "%s", msg);
}

static void ev_abandon(struct sl_request *rq) {
  rq->status = 499;
  struct sl_conn *c = rq->conn;
  sl_request_finish(rq); /* detaches the request from the connection */
  if (c) sl_conn_abort(c);
}

static size_t ev_backlog(const struct sl_request *rq) { return sl_respond_pending(rq); }
static void ev_want_drain(struct sl_request *rq) { sl_respond_want_writable(rq); }

static const struct sl_attempt_events attempt_events = {
    .stream_start = ev_stream_start,
    .stream_write = ev_stream_write,
    .stream_end = ev_stream_end,
    .whole = ev_whole,
    .fail = ev_fail,
    .abandon = ev_abandon,
    .backlog = ev_backlog,
    .want_drain = ev_want_drain,
};

void sl_request_on_http(void *ud, struct sl_conn *c, const struct sl_http_request *hr) {
  struct sl_worker *w = ud;
  struct sl_arena *arena = sl_arena_new(&w->arena_pool);
  struct sl_request *rq = arena ? sl_arena_calloc(arena, sizeof *rq) : NULL;
  if (!rq) {
    sl_arena_free(arena);
    sl_respond_conn_oom(c);
    return;
  }
  rq->arena = arena;
  rq->w = w;
  rq->events = &attempt_events;
  rq->conn = c;
  rq->hr = hr;
  rq->t0_ms = sl_now_ms();
  rq->cwire = SL_WIRE_OPENAI;
  rq->routellm_threshold = NAN;
  snprintf(rq->id, sizeof rq->id, "%x-%llx", w->index, (unsigned long long)++w->next_req);
  sl_trace_request_begin(rq); /* W3C trace context, when tracing is on */
  uv_timer_init(&w->loop, &rq->deadline);
  uv_timer_init(&w->loop, &rq->retry_timer);
  uv_timer_init(&w->loop, &rq->hedge_timer);
  rq->deadline.data = rq->retry_timer.data = rq->hedge_timer.data = rq;
  rq->open_handles = 3;
  w->inflight++;
  atomic_fetch_add(&w->shm->workers[w->index].requests, 1);
  sl_conn_attach(c, rq);

  struct sl_route_match m = sl_route_find(hr->method, hr->path);
  rq->route = m.route;
  /* errors and streams in the client's format */
  if (m.route == SL_R_MESSAGES || m.route == SL_R_COUNT_TOKENS) rq->cwire = SL_WIRE_ANTHROPIC;
  else if (m.route == SL_R_RESPONSES) rq->cwire = SL_WIRE_RESPONSES;
  rq->upstream_path = m.upstream_path;
  struct sl_refusal r;
  if (!route_stage(rq, &m, &r) || !auth_stage(rq, m.row->access, &r)) {
    sl_respond_refusal(rq, &r);
    return;
  }
  m.row->handler(rq);
}

void sl_request_on_writable(void *ud, struct sl_conn *c, void *req) {
  struct sl_request *rq = req;
  sl_attempts_on_writable(rq);
}

void sl_request_on_abort(void *ud, struct sl_conn *c, void *req) {
  struct sl_request *rq = req;
  rq->conn = NULL;
  if (!rq->finished) {
    rq->status = 499; /* client closed the connection (nginx's convention) */
    if (!rq->err_code) {
      rq->err = SL_ERR_CLIENT_CLOSED;
      rq->err_code = sl_err_name(SL_ERR_CLIENT_CLOSED);
    }
    sl_request_finish(rq);
  }
}
