/* The request state machine, front half. A request moves one way through its stages:
 *   route -> authenticate -> parse body -> (attempt.c: choose, call, retry, fall back,
 *   hedge) -> respond -> log.
 * A request ends once: sl_request_finish() cancels what still runs, writes the access
 * log and closes the request's timers; the last close callback frees it. */
#include "core/request.h"

#include <errno.h>
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
#include "core/admin.h"
#include "store/keys.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "net/wire/json_bound.h"
#include "net/wire/json_scan.h"
#include "net/wire/oai_error.h"
#include "policy/classify.h"

/* ---- ending ---- */

static void handle_closed(struct sl_request *rq) {
  if (--rq->open_handles) return;
  sl_attempts_free(rq);
  if (rq->json) cJSON_Delete(rq->json);
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

static void access_log(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  if (!w->cfg->access_log || !sl_log_enabled(SL_LOG_INFO)) return;
  const struct sl_http_request *hr = rq->hr;
  struct sl_buf b = {0};
  char open[160];
  int on = sl_log_open(open, sizeof open, SL_LOG_INFO, "access");
  if (on < 0) return;
  sl_buf_append(&b, open, (size_t)on);
  sl_buf_printf(&b, ",\"request_id\":\"%s\",\"method\":\"", rq->id);
  sl_buf_json_escape(&b, hr->method_name.p, hr->method_name.n);
  sl_buf_puts(&b, "\",\"path\":\"");
  sl_buf_json_escape(&b, hr->path.p, hr->path.n < 256 ? hr->path.n : 256);
  sl_buf_printf(&b, "\",\"status\":%d", rq->status);
  if (rq->group) {
    sl_buf_puts(&b, ",\"model_group\":\"");
    sl_buf_json_escape(&b, rq->group->name, strlen(rq->group->name));
    sl_buf_puts(&b, "\"");
  }
  const struct sl_attempt *last = rq->winner ? rq->winner : rq->natt ? rq->att[rq->natt - 1] : NULL;
  if (last) {
    const char *id = w->cfg->deployments[last->dep].id;
    sl_buf_puts(&b, ",\"deployment\":\"");
    sl_buf_json_escape(&b, id, strlen(id));
    sl_buf_puts(&b, "\"");
  }
  if (rq->fallback_used) {
    sl_buf_puts(&b, ",\"fallback\":\"");
    sl_buf_json_escape(&b, rq->fallback_used, strlen(rq->fallback_used));
    sl_buf_puts(&b, "\"");
  }
  static const char *const cache_names[] = {"none", "miss", "hit", "bypass"};
  sl_buf_printf(&b, ",\"cache\":\"%s\"", cache_names[rq->cache_state]);
  uint64_t total = sl_now_ms() - rq->t0_ms;
  if (rq->winner && rq->winner->t_end >= rq->winner->t_start) { /* time not spent waiting on the provider */
    uint64_t up = rq->winner->t_end - rq->winner->t_start;
    sl_buf_printf(&b, ",\"overhead_ms\":%llu", (unsigned long long)(total > up ? total - up : 0));
  }
  sl_buf_printf(&b, ",\"stream\":%s,\"latency_ms\":%llu,\"hedge\":\"%s\"", rq->stream ? "true" : "false",
                (unsigned long long)total,
                rq->hedge_won ? "won" : rq->hedges_fired ? "fired" : "none");
  if (rq->key) {
    const char *alias = rq->key->key_alias[0] ? rq->key->key_alias : rq->key->display;
    sl_buf_puts(&b, ",\"key\":\"");
    sl_buf_json_escape(&b, alias, strlen(alias));
    sl_buf_puts(&b, "\"");
  }
  if (rq->natt) {
    char cost[32];
    sl_tenancy_format_cost(rq->cost_micro, cost);
    sl_buf_printf(&b, ",\"tokens_in\":%lld,\"tokens_out\":%lld,\"cost_usd\":%s%s%s", (long long)rq->tokens_in,
                  (long long)rq->tokens_out, cost, rq->usage_estimated ? ",\"usage_estimated\":true" : "",
                  rq->usage_implausible ? ",\"usage_implausible\":true" : "");
  }
  if (rq->err_code) sl_buf_printf(&b, ",\"error\":\"%s\"", rq->err_code);
  if (rq->natt) {
    sl_buf_puts(&b, ",\"attempts\":");
    sl_attempts_log(rq, &b);
  }
  sl_buf_puts(&b, "}");
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
  sl_tenancy_account(rq);
  sl_metrics_request_done(rq->w, rq);
  access_log(rq);
  uv_close((uv_handle_t *)&rq->deadline, on_handle_closed);
  uv_close((uv_handle_t *)&rq->retry_timer, on_handle_closed);
  uv_close((uv_handle_t *)&rq->hedge_timer, on_handle_closed);
  for (int i = 0; i < rq->natt; i++) uv_close((uv_handle_t *)&rq->att[i]->timer, on_attempt_handle_closed);
}

/* ---- front half: route, authenticate, parse ---- */

static void unknown_model(struct sl_request *rq, const char *model) {
  struct sl_buf list = {0};
  for (size_t i = 0; i < rq->w->ngroups; i++) {
    if (i) sl_buf_puts(&list, ", ");
    sl_buf_puts(&list, rq->w->groups[i].name);
  }
  sl_respond_error(rq, 400, "model_not_found", NULL,
                         "Invalid model name passed in model=%.200s. Available model groups: %.700s", model,
                         list.p ? list.p : "");
  sl_buf_free(&list);
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
  const struct sl_header *h = sl_http_header_find(hr->headers, hr->nheaders, "x-sluice-timeout");
  *out = 0;
  if (h) {
    char tmp[32];
    size_t n = h->value.n < sizeof tmp - 1 ? h->value.n : sizeof tmp - 1;
    memcpy(tmp, h->value.p, n);
    tmp[n] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (end == tmp || *end || !(v >= MIN_TIMEOUT_S) || v > 86400) return -1;
    *out = v;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(rq->json, "timeout");
  if (t && !cJSON_IsNull(t)) {
    if (!cJSON_IsNumber(t) || !(t->valuedouble >= MIN_TIMEOUT_S) || t->valuedouble > 86400) return -1;
    if (*out == 0) *out = t->valuedouble;
  }
  return 0;
}

static void handle_api(struct sl_request *rq) {
  const struct sl_http_request *hr = rq->hr;
  /* Bounded: a pre-scan refuses bodies that would build a huge tree before cJSON runs. */
  const struct sl_json_bound jb = {.max_depth = rq->w->cfg->max_json_depth,
                                   .max_values = rq->w->cfg->max_json_values};
  int jrc = sl_json_bound_parse(hr->body, hr->body_len, &jb, &rq->json);
  if (jrc == -E2BIG) {
    sl_respond_error(rq, 413, "json_too_many_values", NULL,
                           "Request body has more than %lld JSON values (sluice_settings.max_json_values)",
                           (long long)jb.max_values);
    return;
  }
  if (jrc == -ELOOP) {
    sl_respond_error(rq, 400, "json_too_deep", NULL,
                           "Request body nests deeper than %d levels (sluice_settings.max_json_depth)", jb.max_depth);
    return;
  }
  if (!rq->json) {
    sl_respond_error(rq, 400, "invalid_json", NULL, "Request body is not valid JSON");
    return;
  }
  if (!cJSON_IsObject(rq->json)) {
    sl_respond_error(rq, 400, "invalid_json", NULL, "Request body must be a JSON object");
    return;
  }
  const char *dup = sl_json_duplicate_member(rq->json);
  if (dup) {
    /* Parsers disagree on which duplicate wins; refuse rather than route on one value
     * while the provider reads another. */
    sl_respond_error(rq, 400, "invalid_json", NULL, "Duplicate top-level field '%.100s' in the request body",
                           dup);
    return;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(rq->json, "model");
  if (!cJSON_IsString(model) || !model->valuestring[0]) {
    sl_respond_error(rq, 400, "invalid_request_error", NULL, "Missing required parameter: 'model' (a string)");
    return;
  }
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(rq->json, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream)) {
    sl_respond_error(rq, 400, "invalid_request_error", NULL, "'stream' must be a boolean");
    return;
  }
  rq->stream = cJSON_IsTrue(stream);
  double tmo;
  if (request_timeout(rq, &tmo)) {
    sl_respond_error(rq, 400, "invalid_request_error", NULL,
                           "'timeout' (body) and 'x-sluice-timeout' (header) must be seconds from 0.001 to 86400");
    return;
  }
  char aliased[256];
  rq->group = sl_worker_group(rq->w, sl_tenancy_key_alias(rq, model->valuestring, aliased, sizeof aliased));
  if (!rq->group) {
    unknown_model(rq, model->valuestring);
    return;
  }
  const struct sl_header *ho = sl_http_header_find(hr->headers, hr->nheaders, "x-sluice-hedge");
  rq->hedge_off = ho && sl_slice_eq_ci(ho->value, "off");
  rq->est_tokens = sl_policy_estimate_tokens(text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "messages")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "prompt")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "system")) +
                                             text_chars(cJSON_GetObjectItemCaseSensitive(rq->json, "input")));
  double t = tmo > 0 ? tmo : rq->w->cfg->timeout_s;
  rq->deadline_ms = rq->t0_ms + (uint64_t)(t * 1000.0);
  rq->client_deadline = tmo > 0;
  if (!sl_tenancy_admit(rq)) return;
  /* Streams report usage only when asked: ask for the client when it did not. */
  rq->usage_ask = rq->stream && rq->route != SL_R_EMBEDDINGS && rq->route != SL_R_MESSAGES
                      ? sl_usage_inject_stream_options(hr->body, hr->body_len, &rq->inject)
                      : SL_USAGE_ASK_NOT_STREAM;
  if (rq->usage_ask < 0) rq->usage_ask = SL_USAGE_ASK_NOT_STREAM;
  if (sl_reqcache_begin(rq)) return; /* served from the cache, or waiting for a twin's answer */
  sl_attempts_start(rq);
}

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
  rq->conn = c;
  rq->hr = hr;
  rq->t0_ms = sl_now_ms();
  rq->cwire = SL_WIRE_OPENAI;
  snprintf(rq->id, sizeof rq->id, "%x-%llx", w->index, (unsigned long long)++w->next_req);
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
  if (m.route == SL_R_MESSAGES) rq->cwire = SL_WIRE_ANTHROPIC; /* errors and streams in its format */
  rq->upstream_path = m.upstream_path;
  if (m.route == SL_R_NONE) {
    sl_respond_error(rq, 404, "not_found", NULL, "Unknown path %.*s",
                           (int)(hr->path.n < 200 ? hr->path.n : 200), hr->path.p);
    return;
  }
  if (!m.method_ok) {
    char allow[64];
    snprintf(allow, sizeof allow, "Allow: %s\r\n", m.allow);
    sl_respond_error(rq, 405, "method_not_allowed", allow, "Method %.*s is not allowed here; use %s",
                           (int)(hr->method_name.n < 20 ? hr->method_name.n : 20), hr->method_name.p, m.allow);
    return;
  }
  switch (sl_origin_check(w->cfg, c, hr, m.route)) {
  case SL_ORIGIN_BAD_HOST: {
    const struct sl_header *h = sl_http_header_find(hr->headers, hr->nheaders, "host");
    sl_respond_error(rq, 421, "misdirected_request", NULL,
                           "Host '%.*s' is not served here: without a master key sluice answers only to "
                           "localhost, its own address and sluice_settings.allowed_hosts",
                           (int)(h->value.n < 200 ? h->value.n : 200), h->value.p);
    return;
  }
  case SL_ORIGIN_BAD_TYPE:
    sl_respond_error(rq, 415, "unsupported_media_type", NULL,
                           "Request bodies must be sent with Content-Type: application/json");
    return;
  case SL_ORIGIN_OK:
    break;
  }
  switch (m.route) {
  case SL_R_LIVE: {
    static const char b[] = "\"I'm alive!\"";
    sl_respond_json(rq, 200, b, sizeof b - 1);
    return;
  }
  case SL_R_READY:
    if (w->draining || atomic_load(&w->shm->draining)) {
      static const char b[] = "{\"status\":\"draining\"}";
      sl_respond_json(rq, 503, b, sizeof b - 1);
    } else {
      static const char b[] = "{\"status\":\"healthy\"}";
      sl_respond_json(rq, 200, b, sizeof b - 1);
    }
    return;
  case SL_R_METRICS: { /* unauthenticated, as LiteLLM's: scrapers rarely carry keys */
    struct sl_buf b = {0};
    if (sl_metrics_render(w, &b)) {
      sl_buf_free(&b);
      sl_respond_error(rq, 500, "internal_error", NULL, "Cannot render metrics");
      return;
    }
    sl_respond_body(rq, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.p, b.n);
    sl_buf_free(&b);
    return;
  }
  default:
    break;
  }
  const char *why;
  if (sl_tenancy_authenticate(rq, &why)) {
    sl_respond_error(rq, 401, "invalid_api_key", "WWW-Authenticate: Bearer\r\n", "%s", why);
    return;
  }
  if (rq->key && sl_route_master_only(m.route)) {
    sl_respond_error(rq, 403, "admin_only", NULL, "This route needs the master key");
    return;
  }
  switch (m.route) {
  case SL_R_MODELS: {
    if (!rq->key || rq->key->nmodels == 0) {
      sl_respond_json(rq, 200, w->models_json, w->models_json_len);
      return;
    }
    char *body = NULL;
    size_t n = 0;
    int rc = sl_tenancy_models_json(rq, &body, &n); /* before body and n are read */
    sl_respond_built(rq, rc, body, n, "Out of memory");
    return;
  }
  case SL_R_CACHE_STATS: {
    char *body = NULL;
    size_t n = 0;
    int rc = sl_reqcache_stats_json(w, &body, &n);
    sl_respond_built(rq, rc, body, n, "Cannot read cache statistics");
    return;
  }
  case SL_R_CACHE_FLUSH: {
    static const char b[] = "{\"status\":\"flushed\"}";
    if (sl_reqcache_flush(w)) {
      sl_respond_error(rq, 500, "internal_error", NULL, "Cannot flush the cache");
      return;
    }
    sl_respond_json(rq, 200, b, sizeof b - 1);
    return;
  }
  case SL_R_KEY_GENERATE:
  case SL_R_KEY_INFO:
  case SL_R_KEY_UPDATE:
  case SL_R_KEY_DELETE:
  case SL_R_KEY_LIST:
  case SL_R_KEY_BLOCK:
  case SL_R_KEY_UNBLOCK:
  case SL_R_SPEND_REPORT:
  case SL_R_CONFIG_RELOAD:
    sl_admin_handle(rq);
    return;
  default:
    handle_api(rq);
  }
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
    if (!rq->err_code) rq->err_code = "client_closed";
    sl_request_finish(rq);
  }
}
