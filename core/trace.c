/* OpenTelemetry traces; see core/trace.h. Three parts: the request's trace context (begin,
 * attempt headers), the spans of a finished request (request_done: SERVER + one CLIENT per
 * attempt, encoded at once to OTLP JSON text), and the per-worker exporter (a bounded
 * queue of encoded spans, a 1 s timer, one POST in flight on an upstream pool to the
 * configured endpoint). Span times: the summary's and attempts' monotonic milliseconds,
 * moved onto the wall clock by one offset read when the request ends. */
#include "core/trace.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/request_internal.h"
#include "core/summary.h"
#include "core/worker.h"
#include "net/upstream.h"
#include "net/wire/otlp_json.h"
#include "net/wire/traceparent.h"

/* Queue size (spans; beyond it they are dropped and counted), batch size (a full batch
 * goes without waiting for the timer), export interval and one export's time limit come
 * from cfg->tracing (OTEL_BSP_*); the queue's bytes are bounded too. */
#define QUEUE_MAX_BYTES (8u << 20)
#define CONTENT_MAX     16384 /* captured message content, per attribute */
#define MAX_ATTRS       40

struct sl_trace_state {
  struct sl_worker *w;
  uint64_t rng[4]; /* xoshiro256**, seeded from getrandom */
  struct sl_upstream_pool *pool;
  struct sl_tls_ctx *tls;
  bool pool_failed;
  uv_timer_t timer;
  struct sl_buf queue; /* span objects joined by commas */
  size_t nqueue;
  /* the batch being sent (or waiting for its one retry) */
  struct sl_buf body;
  size_t nbody;
  bool inflight, retried;
  uint64_t sent_ms; /* when the one in flight was sent (monotonic) */
  int status;
  struct sl_upstream_req *up;
};

/* ---- ids ---- */

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next64(uint64_t s[4]) {
  uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
  return r;
}

static void rand_bytes(struct sl_trace_state *t, uint8_t *p, size_t n) {
  do {
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = next64(t->rng);
      memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
  } while (p[0] == 0 && p[n - 1] == 0 && p[n / 2] == 0); /* never all zero (invalid) */
}

static void on_timer(uv_timer_t *h);

/* w->trace once the worker has stopped its exporter: requests that end in the worker's
 * last loop turn make no spans (a marker, never dereferenced). */
static const char stopped_mark;
#define STOPPED ((struct sl_trace_state *)(uintptr_t)&stopped_mark)

static struct sl_trace_state *state(struct sl_worker *w) {
  if (w->trace == STOPPED) return NULL;
  if (w->trace) return w->trace;
  struct sl_trace_state *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->w = w;
  if (getrandom(t->rng, sizeof t->rng, 0) != (ssize_t)sizeof t->rng) { /* never expected */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t->rng[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    t->rng[1] = (uint64_t)ts.tv_sec ^ w->index;
    t->rng[2] = 0x9e3779b97f4a7c15ull, t->rng[3] = (uint64_t)(uintptr_t)t;
  }
  uv_timer_init(&w->loop, &t->timer);
  t->timer.data = t;
  uint64_t every = w->cfg->tracing.schedule_delay_ms ? w->cfg->tracing.schedule_delay_ms : 1000;
  uv_timer_start(&t->timer, on_timer, every, every);
  uv_unref((uv_handle_t *)&t->timer); /* never keeps a draining worker alive */
  w->trace = t;
  return t;
}

/* ---- the request's context ---- */

void sl_trace_request_begin(struct sl_request *rq) {
  const struct sl_tracing *cfg = &rq->w->cfg->tracing;
  if (!cfg->enabled || !rq->hr) return;
  struct sl_trace_state *t = state(rq->w);
  if (!t) return;
  struct sl_trace_rq *c = &rq->trace;
  const struct sl_header *tp = sl_http_header_find(rq->hr->headers, rq->hr->nheaders, "traceparent");
  struct sl_traceparent p;
  if (tp && sl_traceparent_parse(tp->value.p, tp->value.n, &p) == 0) {
    memcpy(c->trace_id, p.trace_id, 16);
    memcpy(c->parent_id, p.span_id, 8);
    c->flags = p.flags & 1;
    c->has_parent = true;
    c->sampled = p.flags & 1; /* the caller's sampling decision is kept */
    const struct sl_header *ts = sl_http_header_find(rq->hr->headers, rq->hr->nheaders, "tracestate");
    char *s = ts && sl_tracestate_ok(ts->value.p, ts->value.n) ? sl_arena_alloc(rq->arena, ts->value.n + 1) : NULL;
    if (s) {
      memcpy(s, ts->value.p, ts->value.n);
      s[ts->value.n] = 0;
      c->tracestate = s;
    }
  } else {
    rand_bytes(t, c->trace_id, 16);
    double u = (double)(next64(t->rng) >> 11) * 0x1.0p-53;
    c->sampled = u < cfg->sample_ratio;
    c->flags = c->sampled;
  }
  rand_bytes(t, c->span_id, 8);
  c->on = true;
}

size_t sl_trace_attempt_headers(struct sl_attempt *at, struct sl_header *hs) {
  struct sl_request *rq = at->rq;
  const struct sl_http_request *hr = rq->hr;
  size_t n = 0;
  const struct sl_header *ts = NULL;
  struct sl_trace_state *t = rq->trace.on ? state(rq->w) : NULL;
  if (t) {
    rand_bytes(t, at->trace_span, 8);
    sl_traceparent_format(rq->trace.trace_id, at->trace_span, rq->trace.flags, at->traceparent);
    hs[n++] = (struct sl_header){SL_SLICE_LIT("traceparent"), {at->traceparent, SL_TRACEPARENT_LEN}};
    if (rq->trace.tracestate)
      hs[n++] = (struct sl_header){SL_SLICE_LIT("tracestate"), {rq->trace.tracestate, strlen(rq->trace.tracestate)}};
    return n;
  }
  if (!hr) return 0;
  const struct sl_header *tp = sl_http_header_find(hr->headers, hr->nheaders, "traceparent");
  if (!tp) return 0;                                                    /* tracing off and no context: nothing added */
  hs[n++] = (struct sl_header){SL_SLICE_LIT("traceparent"), tp->value}; /* passed on unchanged */
  ts = sl_http_header_find(hr->headers, hr->nheaders, "tracestate");
  if (ts) hs[n++] = (struct sl_header){SL_SLICE_LIT("tracestate"), ts->value};
  return n;
}

/* ---- spans ---- */

/* gen_ai.operation.name of a route (the GenAI conventions' well-known values). */
static const char *operation(enum sl_route r) {
  switch (r) {
  case SL_R_CHAT:
  case SL_R_MESSAGES:
  case SL_R_RESPONSES: return "chat";
  case SL_R_COMPLETIONS: return "text_completion";
  case SL_R_EMBEDDINGS: return "embeddings";
  case SL_R_IMAGES: return "generate_content";
  case SL_R_COUNT_TOKENS: return "count_tokens";
  case SL_R_MODERATIONS: return "moderations";
  case SL_R_RERANK: return "rerank";
  case SL_R_SPEECH: return "speech";
  case SL_R_TRANSCRIPTIONS: return "transcriptions";
  default: return "other";
  }
}

/* gen_ai.provider.name: the conventions' well-known values for LiteLLM's provider names;
 * any other provider as sluice names it. */
static const char *provider_name(const char *p) {
  static const char *const map[][2] = {
      {"openai", "openai"},
      {"anthropic", "anthropic"},
      {"azure", "azure.ai.openai"},
      {"azure_ai", "azure.ai.inference"},
      {"bedrock", "aws.bedrock"},
      {"vertex_ai", "gcp.vertex_ai"},
      {"gemini", "gcp.gemini"},
      {"groq", "groq"},
      {"mistral", "mistral_ai"},
      {"deepseek", "deepseek"},
      {"xai", "x_ai"},
      {"cohere", "cohere"},
      {"perplexity", "perplexity"},
      {"watsonx", "ibm.watsonx.ai"},
  };
  if (!p) return "openai";
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(p, map[i][0]) == 0) return map[i][1];
  return p;
}

#define A_STR(k, v)                                                                                                    \
  (struct sl_otlp_attr) { .key = (k), .type = SL_OTLP_STR, .s = (v) }
#define A_INT(k, v)                                                                                                    \
  (struct sl_otlp_attr) { .key = (k), .type = SL_OTLP_INT, .i = (int64_t)(v) }
#define A_DBL(k, v)                                                                                                    \
  (struct sl_otlp_attr) { .key = (k), .type = SL_OTLP_DOUBLE, .d = (v) }
#define A_BOOL(k, v)                                                                                                   \
  (struct sl_otlp_attr) { .key = (k), .type = SL_OTLP_BOOL, .b = (v) }

/* What a whole (non-streamed) JSON answer says about itself: id, model, finish reasons. */
struct answer {
  cJSON *json;
  const char *id, *model;
  const char *reasons[8];
  size_t nreasons;
};

static void read_answer(const struct sl_attempt *at, struct answer *a) {
  memset(a, 0, sizeof *a);
  if (!at || at->status < 200 || at->status > 299 || !at->resp.n || at->resp.n > (4u << 20)) return;
  a->json = cJSON_ParseWithLength(at->resp.p, at->resp.n);
  if (!cJSON_IsObject(a->json)) return;
  a->id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->json, "id"));
  a->model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->json, "model"));
  const cJSON *ch, *choices = cJSON_GetObjectItemCaseSensitive(a->json, "choices");
  cJSON_ArrayForEach(ch, choices) {
    const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ch, "finish_reason"));
    if (r && a->nreasons < 8) a->reasons[a->nreasons++] = r;
  }
  const char *sr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->json, "stop_reason")); /* Anthropic */
  if (sr && !a->nreasons) a->reasons[a->nreasons++] = sr;
}

/* Content opt-in: a JSON value printed, truncated to CONTENT_MAX bytes (malloc'd). */
static char *content_of(const cJSON *v) {
  if (!v) return NULL;
  char *s = cJSON_PrintUnformatted(v);
  if (s && strlen(s) > CONTENT_MAX) s[CONTENT_MAX] = 0;
  return s;
}

static bool failed_outcome(enum sl_attempt_outcome o) {
  return o != SL_AO_OK && o != SL_AO_RUNNING && o != SL_AO_LOST_RACE && o != SL_AO_CANCELLED;
}

static void enqueue(struct sl_trace_state *t, const struct sl_otlp_span *sp);

void sl_trace_request_done(struct sl_request *rq, const struct sl_request_summary *s) {
  const struct sl_trace_rq *c = &rq->trace;
  if (!c->on || !c->sampled || (!s->group && !rq->natt)) return; /* spans for model calls only */
  struct sl_worker *w = rq->w;
  struct sl_trace_state *t = state(w);
  if (!t) return;
  const struct sl_config *cfg = w->cfg;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  int64_t off_ns = wall_ns - (int64_t)sl_now_ms() * 1000000; /* monotonic ms -> wall ns */
#define WALL(ms) ((uint64_t)((int64_t)(ms)*1000000 + off_ns))
  const char *op = operation(s->route);
  const char *req_model = rq->json ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rq->json, "model")) : NULL;
  if (!req_model) req_model = s->group;
  const struct sl_deployment *wd = s->deployment_index >= 0 ? &cfg->deployments[s->deployment_index] : NULL;
  struct answer an;
  read_answer(rq->winner, &an);

  /* the SERVER span */
  char name[256];
  snprintf(name, sizeof name, "%s%s%s", op, req_model ? " " : "", req_model ? req_model : "");
  struct sl_otlp_attr a[MAX_ATTRS];
  size_t n = 0;
  a[n++] = A_STR("gen_ai.operation.name", op);
  if (wd) a[n++] = A_STR("gen_ai.provider.name", provider_name(wd->provider));
  if (req_model) a[n++] = A_STR("gen_ai.request.model", req_model);
  const struct sl_attempt *wa = rq->winner ? rq->winner : rq->natt ? rq->att[rq->natt - 1] : NULL;
  const char *resp_model = an.model ? an.model : wd && wa ? sl_attempt_model(wa) : wd ? wd->upstream_model : NULL;
  if (resp_model && s->status >= 200 && s->status < 300) a[n++] = A_STR("gen_ai.response.model", resp_model);
  if (an.id) a[n++] = A_STR("gen_ai.response.id", an.id);
  if (an.nreasons)
    a[n++] = (struct sl_otlp_attr){
        .key = "gen_ai.response.finish_reasons", .type = SL_OTLP_STR_ARRAY, .arr = an.reasons, .narr = an.nreasons};
  if (s->tokens_in || s->tokens_out) {
    a[n++] = A_INT("gen_ai.usage.input_tokens", s->tokens_in);
    a[n++] = A_INT("gen_ai.usage.output_tokens", s->tokens_out);
  }
  if (s->status) a[n++] = A_INT("http.response.status_code", s->status);
  if (s->err_code && (s->status >= 400 || s->err != SL_ERR_NONE)) a[n++] = A_STR("error.type", s->err_code);
  a[n++] = A_STR("sluice.request_id", s->request_id);
  if (s->group) a[n++] = A_STR("sluice.group", s->group);
  if (s->deployment) a[n++] = A_STR("sluice.deployment", s->deployment);
  if (s->fallback) a[n++] = A_STR("sluice.fallback", s->fallback);
  if (s->router) {
    a[n++] = A_STR("sluice.router", s->router);
    if (s->router_reason) a[n++] = A_STR("sluice.router.reason", s->router_reason);
    if (s->router_scored) a[n++] = A_DBL("sluice.router.score", s->router_score);
  }
  a[n++] = A_STR("sluice.cache", sl_cache_state_name(s->cache));
  a[n++] = A_INT("sluice.attempts", s->attempts);
  if (s->hedges_fired) a[n++] = A_INT("sluice.hedges_fired", s->hedges_fired);
  a[n++] = A_DBL("sluice.cost_usd", (double)s->cost_pico / 1e12);
  a[n++] = A_BOOL("gen_ai.request.stream", s->stream);
  char *in_msgs = NULL, *out_msgs = NULL;
  if (cfg->tracing.capture_content && rq->json) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rq->json, "messages");
    if (!m) m = cJSON_GetObjectItemCaseSensitive(rq->json, "input");
    if (!m) m = cJSON_GetObjectItemCaseSensitive(rq->json, "prompt");
    if ((in_msgs = content_of(m))) a[n++] = A_STR("gen_ai.input.messages", in_msgs);
    const cJSON *ch = an.json ? cJSON_GetObjectItemCaseSensitive(an.json, "choices") : NULL;
    if (!ch && an.json) ch = cJSON_GetObjectItemCaseSensitive(an.json, "content");
    if ((out_msgs = content_of(ch))) a[n++] = A_STR("gen_ai.output.messages", out_msgs);
  }
  struct sl_otlp_span sp = {.has_parent = c->has_parent,
                            .trace_state = c->tracestate,
                            .name = name,
                            .kind = SL_OTLP_KIND_SERVER,
                            .start_ns = WALL(s->t0_ms),
                            .end_ns = WALL(s->t_end_ms),
                            .status = s->status >= 500 || (s->status >= 400 && s->err != SL_ERR_NONE)
                                          ? SL_OTLP_STATUS_ERROR
                                          : SL_OTLP_STATUS_UNSET,
                            .status_message = s->status >= 400 ? s->err_code : NULL,
                            .attrs = a,
                            .nattrs = n};
  memcpy(sp.trace_id, c->trace_id, 16);
  memcpy(sp.span_id, c->span_id, 8);
  memcpy(sp.parent_id, c->parent_id, 8);
  enqueue(t, &sp);
  free(in_msgs);
  free(out_msgs);

  /* one CLIENT span per attempt */
  for (int i = 0; i < rq->natt; i++) {
    struct sl_attempt *at = rq->att[i];
    if (!at || at->dep >= cfg->ndeployments) continue;
    const struct sl_deployment *d = &cfg->deployments[at->dep];
    static const uint8_t zero[8];
    if (!memcmp(at->trace_span, zero, 8)) rand_bytes(t, at->trace_span, 8); /* never sent */
    char cname[256];
    snprintf(cname, sizeof cname, "%s %s", op, sl_attempt_model(at));
    const char *outcome = sl_attempt_outcome_name(at->outcome, at->status);
    bool failed = failed_outcome(at->outcome);
    size_t k = 0;
    a[k++] = A_STR("gen_ai.operation.name", op);
    a[k++] = A_STR("gen_ai.provider.name", provider_name(d->provider));
    a[k++] = A_STR("gen_ai.request.model", sl_attempt_model(at));
    if (at == rq->winner && an.model) a[k++] = A_STR("gen_ai.response.model", an.model);
    if (at == rq->winner && an.id) a[k++] = A_STR("gen_ai.response.id", an.id);
    if (at->has_usage) {
      a[k++] = A_INT("gen_ai.usage.input_tokens", at->usage.prompt_tokens);
      a[k++] = A_INT("gen_ai.usage.output_tokens", at->usage.completion_tokens);
    }
    if (d->host) a[k++] = A_STR("server.address", d->host);
    if (d->port) a[k++] = A_INT("server.port", d->port);
    if (at->status) a[k++] = A_INT("http.response.status_code", at->status);
    if (failed) a[k++] = A_STR("error.type", outcome);
    a[k++] = A_STR("sluice.deployment", d->id);
    if (at->group) a[k++] = A_STR("sluice.group", at->group->name);
    a[k++] = A_STR("sluice.attempt.outcome", outcome);
    a[k++] = A_INT("sluice.attempt.number", at->no);
    a[k++] = A_BOOL("sluice.attempt.hedge", at->hedge);
    a[k++] = A_BOOL("sluice.attempt.probe", at->probe);
    a[k++] = A_BOOL("sluice.attempt.winner", at == rq->winner);
    if (at->group && rq->group && at->group != rq->group) a[k++] = A_BOOL("sluice.fallback", true);
    uint64_t end = at->t_end ? at->t_end : s->t_end_ms;
    struct sl_otlp_span cs = {.has_parent = true,
                              .trace_state = c->tracestate,
                              .name = cname,
                              .kind = SL_OTLP_KIND_CLIENT,
                              .start_ns = WALL(at->t_start ? at->t_start : s->t0_ms),
                              .end_ns = WALL(end),
                              .status = failed ? SL_OTLP_STATUS_ERROR : SL_OTLP_STATUS_UNSET,
                              .status_message = failed ? outcome : NULL,
                              .attrs = a,
                              .nattrs = k};
    memcpy(cs.trace_id, c->trace_id, 16);
    memcpy(cs.span_id, at->trace_span, 8);
    memcpy(cs.parent_id, c->span_id, 8);
    enqueue(t, &cs);
  }
  cJSON_Delete(an.json);
#undef WALL
}

/* ---- export ---- */

static void send_batch(struct sl_trace_state *t);

static void enqueue(struct sl_trace_state *t, const struct sl_otlp_span *sp) {
  const struct sl_tracing *tc = &t->w->cfg->tracing;
  if (t->nqueue >= tc->queue_size || t->queue.n >= QUEUE_MAX_BYTES) {
    atomic_fetch_add_explicit(&t->w->shm->trace_spans.dropped, 1, memory_order_relaxed);
    return;
  }
  size_t before = t->queue.n;
  if (t->nqueue) sl_buf_puts(&t->queue, ",");
  sl_otlp_span_json(&t->queue, sp);
  if (t->queue.oom) { /* drop this span, keep the rest */
    t->queue.oom = false;
    t->queue.n = before;
    atomic_fetch_add_explicit(&t->w->shm->trace_spans.dropped, 1, memory_order_relaxed);
    return;
  }
  t->nqueue++;
  if (t->nqueue >= tc->batch_size && !t->inflight && !t->nbody) send_batch(t);
}

static struct sl_upstream_pool *pool(struct sl_trace_state *t) {
  if (t->pool || t->pool_failed) return t->pool;
  const struct sl_config *cfg = t->w->cfg;
  const struct sl_tracing *tc = &cfg->tracing;
  char err[256] = "";
  if (tc->tls && sl_tls_ctx_create(cfg->ca_file, &t->tls, err, sizeof err)) t->tls = NULL;
  struct sl_upstream_pool_opts o = {
      .host = tc->host, .port = tc->port, .tls = tc->tls, .tls_ctx = t->tls, .connect_timeout_ms = 2000, .max_idle = 2};
  if ((o.tls && !t->tls) || sl_upstream_pool_create(&t->w->loop, &o, &t->pool)) {
    t->pool = NULL;
    t->pool_failed = true;
    sl_log(SL_LOG_ERROR, "cannot export traces (spans are dropped and counted)",
           "\"worker\":%u,\"endpoint\":\"%s\",\"why\":\"%s\"", t->w->index, tc->endpoint,
           err[0] ? "the CA bundle did not load" : "no pool");
  }
  return t->pool;
}

static void batch_end(struct sl_trace_state *t, bool ok) {
  t->inflight = false;
  t->up = NULL;
  if (ok) {
    atomic_fetch_add_explicit(&t->w->shm->trace_spans.exported, t->nbody, memory_order_relaxed);
  } else if (!t->retried) {
    t->retried = true; /* sent again on the next tick, once */
    return;
  } else {
    atomic_fetch_add_explicit(&t->w->shm->trace_spans.failed, t->nbody, memory_order_relaxed);
    sl_log(SL_LOG_WARN, "trace export failed twice; spans dropped", "\"worker\":%u,\"spans\":%zu,\"status\":%d",
           t->w->index, t->nbody, t->status);
  }
  t->body.n = 0;
  t->nbody = 0;
  t->retried = false;
}

static void up_head(void *ud, int status, const struct sl_header *h, size_t n) {
  (void)h, (void)n;
  ((struct sl_trace_state *)ud)->status = status;
}
static void up_body(void *ud, const char *p, size_t n) { (void)ud, (void)p, (void)n; }
static void up_done(void *ud) {
  struct sl_trace_state *t = ud;
  batch_end(t, t->status >= 200 && t->status < 300);
}
static void up_error(void *ud, enum sl_upstream_err e, const char *msg) {
  (void)e, (void)msg;
  struct sl_trace_state *t = ud;
  t->status = 0;
  batch_end(t, false);
}
static const struct sl_upstream_cbs up_cbs = {up_head, up_body, up_done, up_error};

static void send_batch(struct sl_trace_state *t) {
  if (t->inflight) return;
  if (!t->nbody) { /* a new batch from the queue */
    if (!t->nqueue) return;
    const struct sl_tracing *tc = &t->w->cfg->tracing;
    struct sl_otlp_attr res[] = {
        A_STR("service.name", tc->service_name), A_STR("service.version", "0.1"), A_STR("telemetry.sdk.name", "sluice"),
        A_STR("telemetry.sdk.language", "c"),    A_INT("process.pid", getpid()),
    };
    t->body.n = 0;
    sl_otlp_request_json(&t->body, res, sizeof res / sizeof res[0], "sluice", "0.1", t->queue.p, t->queue.n);
    t->nbody = t->nqueue;
    t->queue.n = 0;
    t->nqueue = 0;
    t->retried = false;
    if (t->body.oom) {
      t->body.oom = false;
      t->retried = true;
      batch_end(t, false);
      return;
    }
  }
  struct sl_upstream_pool *p = pool(t);
  if (!p) {
    t->retried = true;
    batch_end(t, false);
    return;
  }
  const struct sl_tracing *tc = &t->w->cfg->tracing;
  struct sl_header hs[2 + 16];
  size_t nh = 0;
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")};
  const char *h = tc->headers;
  for (int i = 0; i < tc->nheaders && nh < sizeof hs / sizeof hs[0]; i++) {
    const char *v = h + strlen(h) + 1;
    hs[nh++] = (struct sl_header){{h, strlen(h)}, {v, strlen(v)}};
    h = v + strlen(v) + 1;
  }
  uv_buf_t body = uv_buf_init(t->body.p, (unsigned)t->body.n);
  t->status = 0;
  t->inflight = true;
  t->sent_ms = sl_now_ms();
  if (sl_upstream_send(p, "POST", tc->path, hs, nh, &body, 1, &up_cbs, t, &t->up)) {
    t->retried = true; /* a request that cannot be sent will not be sent later either */
    batch_end(t, false);
  }
}

static void on_timer(uv_timer_t *h) {
  struct sl_trace_state *t = h->data;
  if (t->inflight && sl_now_ms() - t->sent_ms >= t->w->cfg->tracing.export_timeout_ms) {
    sl_upstream_cancel(t->up); /* a receiver that never answers: the export failed */
    t->status = 0;
    batch_end(t, false);
  }
  if (!t->inflight) send_batch(t); /* the retry of a failed batch first, else a new one */
}

static void state_free(uv_handle_t *h) {
  struct sl_trace_state *t = h->data;
  sl_buf_free(&t->queue);
  sl_buf_free(&t->body);
  free(t);
}

void sl_trace_worker_stop(struct sl_worker *w) {
  struct sl_trace_state *t = w->trace;
  w->trace = STOPPED;
  if (!t || t == STOPPED) return;
  if (t->inflight && t->up) sl_upstream_cancel(t->up);
  t->inflight = false;
  t->up = NULL;
  if (t->pool) sl_upstream_pool_destroy(t->pool);
  if (t->tls) sl_tls_ctx_free(t->tls);
  uv_timer_stop(&t->timer);
  uv_close((uv_handle_t *)&t->timer, state_free);
}

/* ---- metrics ---- */

void sl_trace_metrics(struct sl_worker *w, struct sl_buf *b) {
  if (!w->cfg->tracing.enabled) return;
  static const char *const names[3] = {"sluice_trace_spans_exported_total", "sluice_trace_spans_dropped_total",
                                       "sluice_trace_spans_failed_total"};
  static const char *const help[3] = {
      "Spans accepted by the OTLP receiver.", "Spans dropped before export because a worker's queue was full.",
      "Spans dropped because their batch failed to export twice (the receiver was down or refused it)."};
  _Atomic uint64_t *v[3] = {&w->shm->trace_spans.exported, &w->shm->trace_spans.dropped, &w->shm->trace_spans.failed};
  for (int i = 0; i < 3; i++)
    sl_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", names[i], help[i], names[i], names[i],
                  (unsigned long long)atomic_load_explicit(v[i], memory_order_relaxed));
}
