/* The request state machine. A request moves one way through its stages:
 *   route -> authenticate -> parse body -> choose deployment -> upstream call ->
 *   respond (whole, or streamed chunk by chunk) -> log.
 * The client's JSON body is forwarded as it came except for the `model` value, which is
 * replaced by splicing byte ranges (prefix, new value, suffix as three write buffers).
 * A request ends once: finish() cancels what is still running, writes the access log
 * and closes the request's timer, whose close callback frees the request. */
#include "core/request.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/routes.h"
#include "core/worker.h"
#include "net/buf.h"
#include "net/json_scan.h"
#include "net/oai_error.h"
#include "policy/select.h"

#define MAX_BUFFERED_RESPONSE (64u << 20)
#define STREAM_HIGH_WATER (1u << 20) /* client output queued before upstream reads pause */
#define FAILURES_BEFORE_COOLDOWN 3
#define COOLDOWN_MS 5000

struct sl_request {
  struct sl_worker *w;
  struct sl_conn *conn; /* NULL once the response has ended or the client left */
  const struct sl_http_request *hr;
  enum sl_route route;
  const char *upstream_path;
  char id[32];
  uint64_t t0_ms;
  cJSON *json;
  bool stream;
  const struct sl_group *group;
  long dep; /* index into cfg->deployments, -1 before choice */
  struct sl_upstream_req *up;
  uv_timer_t timer;
  bool finished;
  /* upstream request pieces, alive until the exchange ends */
  struct sl_buf model_val;
  char *reserialised;
  uv_buf_t body[3];
  size_t nbody;
  struct sl_buf path, auth;
  /* response */
  int up_status;
  bool streaming, paused;
  struct sl_buf resp;
  char ctype[128];
  int status;
  const char *err_code;
  struct sl_buf hdrs; /* x-sluice-* lines sent to the client */
};

/* ---- ending ---- */

static void on_timer_closed(uv_handle_t *h) {
  struct sl_request *rq = h->data;
  if (rq->json) cJSON_Delete(rq->json);
  sl_buf_free(&rq->model_val);
  free(rq->reserialised);
  sl_buf_free(&rq->path);
  sl_buf_free(&rq->auth);
  sl_buf_free(&rq->resp);
  sl_buf_free(&rq->hdrs);
  free(rq);
}

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
  if (hr) sl_buf_json_escape(&b, hr->method_name.p, hr->method_name.n);
  sl_buf_puts(&b, "\",\"path\":\"");
  if (hr) sl_buf_json_escape(&b, hr->path.p, hr->path.n < 256 ? hr->path.n : 256);
  sl_buf_printf(&b, "\",\"status\":%d", rq->status);
  if (rq->group) {
    sl_buf_puts(&b, ",\"model_group\":\"");
    sl_buf_json_escape(&b, rq->group->name, strlen(rq->group->name));
    sl_buf_puts(&b, "\"");
  }
  if (rq->dep >= 0) {
    const char *id = w->cfg->deployments[rq->dep].id;
    sl_buf_puts(&b, ",\"deployment\":\"");
    sl_buf_json_escape(&b, id, strlen(id));
    sl_buf_puts(&b, "\"");
  }
  sl_buf_printf(&b, ",\"stream\":%s,\"latency_ms\":%llu", rq->stream ? "true" : "false",
                (unsigned long long)(sl_now_ms() - rq->t0_ms));
  if (rq->err_code) sl_buf_printf(&b, ",\"error\":\"%s\"", rq->err_code);
  sl_buf_puts(&b, "}");
  if (!b.oom) sl_log_raw(b.p, b.n);
  sl_buf_free(&b);
}

static void upstream_release(struct sl_request *rq, bool failed) {
  if (rq->dep < 0) return;
  struct sl_shm_deployment *d = &rq->w->shm->deployments[rq->dep];
  atomic_fetch_sub(&d->inflight, 1);
  if (!failed) {
    atomic_store(&d->consecutive_failures, 0);
    atomic_store(&d->cooldown_until_ms, 0);
    return;
  }
  atomic_fetch_add(&d->failures, 1);
  uint32_t f = atomic_fetch_add(&d->consecutive_failures, 1) + 1;
  uint64_t until = sl_policy_cooldown_after_failure(f, FAILURES_BEFORE_COOLDOWN, sl_now_ms(), COOLDOWN_MS);
  if (until) atomic_store(&d->cooldown_until_ms, until);
}

static void finish(struct sl_request *rq) {
  if (rq->finished) return;
  rq->finished = true;
  if (rq->up) {
    sl_upstream_cancel(rq->up);
    rq->up = NULL;
    upstream_release(rq, false);
  }
  if (rq->conn) sl_conn_attach(rq->conn, NULL);
  rq->conn = NULL;
  rq->w->inflight--;
  access_log(rq);
  uv_close((uv_handle_t *)&rq->timer, on_timer_closed);
}

static void reply_error(struct sl_request *rq, int status, const char *code, const char *extra_hdrs,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(struct sl_request *rq, int status, const char *code, const char *extra_hdrs,
                        const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  rq->status = status;
  rq->err_code = code;
  if (rq->conn) {
    struct sl_buf h = {0};
    sl_buf_append(&h, rq->hdrs.p, rq->hdrs.n);
    if (extra_hdrs) sl_buf_puts(&h, extra_hdrs);
    sl_conn_respond_error(rq->conn, status, msg, code, h.oom ? NULL : h.p);
    sl_buf_free(&h);
  }
  finish(rq);
}

static void reply_json(struct sl_request *rq, int status, const char *body, size_t n) {
  rq->status = status;
  if (rq->conn) sl_conn_respond(rq->conn, status, "application/json", rq->hdrs.p, rq->hdrs.n, body, n);
  finish(rq);
}

/* ---- upstream exchange ---- */

static void upstream_error_status(enum sl_upstream_err e, int *status, const char **code) {
  switch (e) {
  case SL_UP_CONNECT_TIMEOUT: *status = 504; *code = "upstream_timeout"; return;
  case SL_UP_TLS: *status = 502; *code = "upstream_tls_error"; return;
  case SL_UP_RESET: *status = 502; *code = "upstream_reset"; return;
  case SL_UP_PROTOCOL: *status = 502; *code = "upstream_protocol_error"; return;
  default: *status = 502; *code = "upstream_connect_error"; return;
  }
}

/* The stream already started: end it with an in-band error event so the client
 * sees a failure, never a silent truncation. */
static void stream_fail(struct sl_request *rq, const char *msg, const char *code) {
  rq->err_code = code;
  if (!rq->conn) return;
  struct sl_buf b = {0};
  sl_buf_puts(&b, "data: ");
  sl_oai_error_append(&b, msg, "upstream_error", code);
  sl_buf_puts(&b, "\n\n");
  if (!b.oom) sl_conn_stream_write(rq->conn, b.p, b.n);
  sl_buf_free(&b);
  sl_conn_stream_end(rq->conn);
}

static void up_head(void *ud, int status, const struct sl_header *h, size_t n) {
  struct sl_request *rq = ud;
  rq->up_status = status;
  const struct sl_header *ct = sl_http_header_find(h, n, "content-type");
  size_t cn = ct ? ct->value.n : 0;
  if (cn >= sizeof rq->ctype) cn = sizeof rq->ctype - 1;
  for (size_t i = 0; i < cn; i++) /* header values never carry CR/LF here, but be sure */
    rq->ctype[i] = (ct->value.p[i] == '\r' || ct->value.p[i] == '\n') ? ' ' : ct->value.p[i];
  rq->ctype[cn] = 0;
  bool sse = ct && cn >= 17 && strncasecmp(rq->ctype, "text/event-stream", 17) == 0;
  if (rq->stream && status == 200 && sse && rq->conn) {
    rq->streaming = true;
    rq->status = 200;
    struct sl_buf hb = {0};
    sl_buf_append(&hb, rq->hdrs.p, rq->hdrs.n);
    sl_buf_puts(&hb, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    sl_conn_stream_start(rq->conn, 200, "text/event-stream; charset=utf-8", hb.p, hb.n);
    sl_buf_free(&hb);
  }
}

static void up_body(void *ud, const char *p, size_t n) {
  struct sl_request *rq = ud;
  if (rq->streaming) {
    if (!rq->conn) return;
    sl_conn_stream_write(rq->conn, p, n);
    if (!rq->paused && sl_conn_pending_bytes(rq->conn) > STREAM_HIGH_WATER) {
      rq->paused = true;
      sl_upstream_pause(rq->up);
      sl_conn_want_writable(rq->conn);
    }
    return;
  }
  if (rq->resp.n + n > MAX_BUFFERED_RESPONSE) {
    sl_upstream_cancel(rq->up);
    rq->up = NULL;
    upstream_release(rq, true);
    reply_error(rq, 502, "upstream_protocol_error", NULL, "Upstream response exceeds %u bytes",
                MAX_BUFFERED_RESPONSE);
    return;
  }
  sl_buf_append(&rq->resp, p, n);
}

static void up_done(void *ud) {
  struct sl_request *rq = ud;
  rq->up = NULL;
  upstream_release(rq, rq->up_status >= 500);
  if (rq->streaming) {
    if (rq->conn) sl_conn_stream_end(rq->conn);
    finish(rq);
    return;
  }
  if (rq->resp.oom) {
    reply_error(rq, 500, "internal_error", NULL, "Out of memory buffering the upstream response");
    return;
  }
  rq->status = rq->up_status;
  if (rq->conn)
    sl_conn_respond(rq->conn, rq->up_status, rq->ctype[0] ? rq->ctype : "application/json", rq->hdrs.p,
                    rq->hdrs.n, rq->resp.p ? rq->resp.p : "", rq->resp.n);
  finish(rq);
}

static void up_error(void *ud, enum sl_upstream_err err, const char *msg) {
  struct sl_request *rq = ud;
  rq->up = NULL;
  upstream_release(rq, true);
  int status;
  const char *code;
  upstream_error_status(err, &status, &code);
  const struct sl_deployment *d = &rq->w->cfg->deployments[rq->dep];
  if (rq->streaming) {
    char m[512];
    snprintf(m, sizeof m, "Upstream %s failed mid-stream: %s", d->id, msg ? msg : sl_upstream_err_str(err));
    stream_fail(rq, m, code);
    finish(rq);
    return;
  }
  reply_error(rq, status, code, NULL, "Upstream %s (%s:%u) failed: %s", d->id, d->host, d->port,
              msg ? msg : sl_upstream_err_str(err));
}

static const struct sl_upstream_cbs up_cbs = {up_head, up_body, up_done, up_error};

static void on_deadline(uv_timer_t *t) {
  struct sl_request *rq = t->data;
  if (rq->up) {
    sl_upstream_cancel(rq->up);
    rq->up = NULL;
    upstream_release(rq, true);
  }
  if (rq->streaming) {
    stream_fail(rq, "Upstream timed out mid-stream", "upstream_timeout");
    finish(rq);
    return;
  }
  reply_error(rq, 504, "upstream_timeout", NULL, "Upstream did not answer within the timeout");
}

/* Forward the client's body with `model` replaced by the upstream name. */
static int build_body(struct sl_request *rq, const struct sl_deployment *d) {
  const struct sl_http_request *hr = rq->hr;
  sl_buf_puts(&rq->model_val, "\"");
  sl_buf_json_escape(&rq->model_val, d->upstream_model, strlen(d->upstream_model));
  sl_buf_puts(&rq->model_val, "\"");
  if (rq->model_val.oom) return -1;
  size_t s, e;
  if (sl_json_top_field(hr->body, hr->body_len, "model", &s, &e) == 0) {
    rq->body[0] = uv_buf_init((char *)hr->body, (unsigned)s);
    rq->body[1] = uv_buf_init(rq->model_val.p, (unsigned)rq->model_val.n);
    rq->body[2] = uv_buf_init((char *)hr->body + e, (unsigned)(hr->body_len - e));
    rq->nbody = 3;
    return 0;
  }
  /* Text the scanner will not walk (e.g. nesting deeper than it tracks): re-serialise. */
  cJSON_ReplaceItemInObjectCaseSensitive(rq->json, "model", cJSON_CreateString(d->upstream_model));
  rq->reserialised = cJSON_PrintUnformatted(rq->json);
  if (!rq->reserialised) return -1;
  rq->body[0] = uv_buf_init(rq->reserialised, (unsigned)strlen(rq->reserialised));
  rq->nbody = 1;
  return 0;
}

static void forward(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  const struct sl_group *g = rq->group;
  struct sl_policy_health h[64];
  size_t n = g->n < 64 ? g->n : 64;
  for (size_t i = 0; i < n; i++)
    h[i].cooldown_until_ms = atomic_load(&w->shm->deployments[g->deps[i]].cooldown_until_ms);
  int pick = sl_policy_choose_first_healthy(h, n, sl_now_ms());
  rq->dep = (long)g->deps[pick];
  const struct sl_deployment *d = &w->cfg->deployments[rq->dep];
  atomic_fetch_add(&w->shm->deployments[rq->dep].inflight, 1);
  atomic_fetch_add(&w->shm->deployments[rq->dep].requests, 1);
  sl_buf_printf(&rq->hdrs, "x-sluice-deployment: %s\r\n", d->id);

  char err[256];
  struct sl_upstream_pool *pool = sl_worker_pool(w, (size_t)rq->dep, err, sizeof err);
  if (!pool || build_body(rq, d)) {
    upstream_release(rq, false);
    reply_error(rq, 500, "internal_error", NULL, "Cannot reach deployment %s: %s", d->id,
                pool ? "out of memory" : err);
    return;
  }
  sl_buf_printf(&rq->path, "%s%s", d->base_path, rq->upstream_path);
  struct sl_header hs[4];
  size_t nh = 0;
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
  hs[nh++] = rq->stream ? (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("text/event-stream")}
                        : (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("application/json")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")};
  if (d->api_key && d->api_key[0]) {
    sl_buf_printf(&rq->auth, "Bearer %s", d->api_key);
    hs[nh++] = (struct sl_header){SL_SLICE_LIT("Authorization"), {rq->auth.p, rq->auth.n}};
  }
  if (rq->path.oom || rq->auth.oom) {
    upstream_release(rq, false);
    reply_error(rq, 500, "internal_error", NULL, "Out of memory");
    return;
  }
  int rc = sl_upstream_send(pool, "POST", rq->path.p, hs, nh, rq->body, rq->nbody, &up_cbs, rq, &rq->up);
  if (rc) {
    rq->up = NULL;
    upstream_release(rq, true);
    reply_error(rq, 502, "upstream_connect_error", NULL, "Cannot start upstream request: %s", uv_strerror(rc));
    return;
  }
  double t = rq->stream && d->stream_timeout_s > 0 ? d->stream_timeout_s
           : d->timeout_s > 0                   ? d->timeout_s
                                                : w->cfg->timeout_s;
  uv_timer_start(&rq->timer, on_deadline, (uint64_t)(t * 1000.0), 0);
}

/* ---- front half: route, authenticate, parse ---- */

/* Constant-time comparison: time depends only on the length of the expected key. */
static bool key_matches(struct sl_slice given, const char *expected) {
  size_t n = strlen(expected);
  unsigned char diff = given.n != n;
  for (size_t i = 0; i < n; i++) diff |= (unsigned char)(expected[i] ^ (i < given.n ? given.p[i] : 0));
  return diff == 0;
}

static bool authorized(const struct sl_worker *w, const struct sl_http_request *hr) {
  const char *mk = w->cfg->master_key;
  if (!mk) return true;
  const struct sl_header *a = sl_http_header_find(hr->headers, hr->nheaders, "authorization");
  if (a && a->value.n > 7 && strncasecmp(a->value.p, "bearer ", 7) == 0) {
    struct sl_slice k = {a->value.p + 7, a->value.n - 7};
    while (k.n && k.p[0] == ' ') { k.p++; k.n--; }
    return key_matches(k, mk);
  }
  const struct sl_header *x = sl_http_header_find(hr->headers, hr->nheaders, "x-api-key");
  if (!x) x = sl_http_header_find(hr->headers, hr->nheaders, "api-key");
  return x && key_matches(x->value, mk);
}

static void unknown_model(struct sl_request *rq, const char *model) {
  struct sl_buf list = {0};
  for (size_t i = 0; i < rq->w->ngroups; i++) {
    if (i) sl_buf_puts(&list, ", ");
    sl_buf_puts(&list, rq->w->groups[i].name);
  }
  reply_error(rq, 400, "model_not_found", NULL,
              "Invalid model name passed in model=%.200s. Available model groups: %.700s", model,
              list.p ? list.p : "");
  sl_buf_free(&list);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps every duplicate member; sorting the names finds one in O(k log k). */
static const char *duplicate_key(const cJSON *obj) {
  size_t k = 0;
  for (const cJSON *c = obj->child; c; c = c->next) k++;
  if (k < 2) return NULL;
  const char *small[32], **names = k <= 32 ? small : malloc(k * sizeof *names);
  if (!names) return NULL;
  size_t i = 0;
  for (const cJSON *c = obj->child; c; c = c->next) names[i++] = c->string;
  qsort(names, k, sizeof *names, cmp_keys);
  const char *dup = NULL;
  for (i = 1; i < k && !dup; i++)
    if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
  if (names != small) free(names);
  return dup;
}

static void handle_api(struct sl_request *rq) {
  const struct sl_http_request *hr = rq->hr;
  rq->json = cJSON_ParseWithLength(hr->body, hr->body_len);
  if (!rq->json) {
    reply_error(rq, 400, "invalid_json", NULL, "Request body is not valid JSON");
    return;
  }
  if (!cJSON_IsObject(rq->json)) {
    reply_error(rq, 400, "invalid_json", NULL, "Request body must be a JSON object");
    return;
  }
  const char *dup = duplicate_key(rq->json);
  if (dup) {
    /* Parsers disagree on which duplicate wins; refuse rather than route on one value
     * while the provider reads another. */
    reply_error(rq, 400, "invalid_json", NULL, "Duplicate top-level field '%.100s' in the request body", dup);
    return;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(rq->json, "model");
  if (!cJSON_IsString(model) || !model->valuestring[0]) {
    reply_error(rq, 400, "invalid_request_error", NULL, "Missing required parameter: 'model' (a string)");
    return;
  }
  const cJSON *stream = cJSON_GetObjectItemCaseSensitive(rq->json, "stream");
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream)) {
    reply_error(rq, 400, "invalid_request_error", NULL, "'stream' must be a boolean");
    return;
  }
  rq->stream = cJSON_IsTrue(stream);
  rq->group = sl_worker_group(rq->w, model->valuestring);
  if (!rq->group) {
    unknown_model(rq, model->valuestring);
    return;
  }
  sl_buf_puts(&rq->hdrs, "x-sluice-model-group: ");
  sl_buf_puts(&rq->hdrs, rq->group->name);
  sl_buf_puts(&rq->hdrs, "\r\n");
  forward(rq);
}

void sl_request_on_http(void *ud, struct sl_conn *c, const struct sl_http_request *hr) {
  struct sl_worker *w = ud;
  struct sl_request *rq = calloc(1, sizeof *rq);
  if (!rq) {
    sl_conn_respond_error(c, 500, "Out of memory", "internal_error", NULL);
    return;
  }
  rq->w = w;
  rq->conn = c;
  rq->hr = hr;
  rq->dep = -1;
  rq->t0_ms = sl_now_ms();
  snprintf(rq->id, sizeof rq->id, "%x-%llx", w->index, (unsigned long long)++w->next_req);
  uv_timer_init(&w->loop, &rq->timer);
  rq->timer.data = rq;
  w->inflight++;
  atomic_fetch_add(&w->shm->workers[w->index].requests, 1);
  sl_conn_attach(c, rq);
  sl_buf_printf(&rq->hdrs, "x-sluice-request-id: %s\r\n", rq->id);

  struct sl_route_match m = sl_route_find(hr->method, hr->path);
  rq->route = m.route;
  rq->upstream_path = m.upstream_path;
  if (m.route == SL_R_NONE) {
    reply_error(rq, 404, "not_found", NULL, "Unknown path %.*s", (int)(hr->path.n < 200 ? hr->path.n : 200),
                hr->path.p);
    return;
  }
  if (!m.method_ok) {
    char allow[64];
    snprintf(allow, sizeof allow, "Allow: %s\r\n", m.allow);
    reply_error(rq, 405, "method_not_allowed", allow, "Method %.*s is not allowed here; use %s",
                (int)(hr->method_name.n < 20 ? hr->method_name.n : 20), hr->method_name.p, m.allow);
    return;
  }
  switch (m.route) {
  case SL_R_LIVE: {
    static const char b[] = "\"I'm alive!\"";
    reply_json(rq, 200, b, sizeof b - 1);
    return;
  }
  case SL_R_READY:
    if (w->draining) {
      static const char b[] = "{\"status\":\"draining\"}";
      reply_json(rq, 503, b, sizeof b - 1);
    } else {
      static const char b[] = "{\"status\":\"healthy\"}";
      reply_json(rq, 200, b, sizeof b - 1);
    }
    return;
  default:
    break;
  }
  if (!authorized(w, hr)) {
    reply_error(rq, 401, "invalid_api_key", "WWW-Authenticate: Bearer\r\n",
                "Authentication error: missing or invalid API key. Pass the master key as 'Authorization: Bearer <key>'.");
    return;
  }
  switch (m.route) {
  case SL_R_MODELS:
    reply_json(rq, 200, w->models_json, w->models_json_len);
    return;
  case SL_R_MESSAGES:
    reply_error(rq, 501, "not_implemented", NULL,
                "The Anthropic /v1/messages API is not supported yet; use /v1/chat/completions");
    return;
  default:
    handle_api(rq);
  }
}

void sl_request_on_writable(void *ud, struct sl_conn *c, void *req) {
  struct sl_request *rq = req;
  if (rq->paused && rq->up) {
    rq->paused = false;
    sl_upstream_resume(rq->up);
  }
}

void sl_request_on_abort(void *ud, struct sl_conn *c, void *req) {
  struct sl_request *rq = req;
  rq->conn = NULL;
  if (!rq->finished) {
    rq->status = 499; /* client closed the connection (nginx's convention) */
    if (!rq->err_code) rq->err_code = "client_closed";
    finish(rq);
  }
}
