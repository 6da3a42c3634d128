/* The response module (see respond.h): the one writer to the client. The one idea:
 * every answer, whole or streamed, goes out through here with the request's own
 * headers, its spend accounted before the last bytes leave, and the request ended
 * where the answer ends. The HTTP server owns framing (Content-Length, chunked,
 * trailers) and the error body's shape; this module owns what is said. */
#include "core/respond.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/request_internal.h"
#include "core/tenancy.h"
#include "core/verdict.h"

/* One "name: value\r\n" line (appends, not printf: this runs for every answer). */
static void hdr(struct sl_buf *b, const char *name_colon_sp, size_t nn, const char *v) {
  sl_buf_append(b, name_colon_sp, nn);
  sl_buf_puts(b, v);
  sl_buf_append(b, "\r\n", 2);
}
#define HDR(b, lit, v) hdr((b), lit, sizeof lit - 1, (v))

void sl_respond_headers(struct sl_request *rq) {
  const struct sl_config *cfg = rq->w->cfg;
  rq->hdrs.n = 0;
  HDR(&rq->hdrs, "x-request-id: ", rq->id);
  HDR(&rq->hdrs, "x-sluice-request-id: ", rq->id);
  if (rq->group) HDR(&rq->hdrs, "x-sluice-model-group: ", rq->group->name);
  if (rq->router) {
    HDR(&rq->hdrs, "x-sluice-router: ", rq->router->cfg->name);
    HDR(&rq->hdrs, "x-sluice-router-target: ", rq->group->name);
    HDR(&rq->hdrs, "x-sluice-router-reason: ", rq->router_reason);
    if (rq->router_scored) sl_buf_printf(&rq->hdrs, "x-sluice-router-score: %.4f\r\n", rq->router_score);
    if (rq->router_would) HDR(&rq->hdrs, "x-sluice-router-shadow-target: ", rq->router_would->name);
  }
  const struct sl_attempt *last = rq->winner ? rq->winner : rq->natt ? rq->att[rq->natt - 1] : NULL;
  if (last) HDR(&rq->hdrs, "x-sluice-deployment: ", cfg->deployments[last->dep].id);
  if (last && last->wild_model) HDR(&rq->hdrs, "x-sluice-upstream-model: ", last->wild_model); /* a wildcard's */
  if (rq->upstream_path && !rq->token_count_estimated) { /* a model endpoint that went upstream */
    char n[24];
    sl_fmt_u64((uint64_t)(rq->natt > 0 ? rq->natt : 0), n);
    HDR(&rq->hdrs, "x-sluice-attempts: ", n);
    HDR(&rq->hdrs, "x-sluice-hedge: ", rq->hedge_won ? "won" : rq->hedges_fired ? "fired" : "none");
    if (rq->fallback_used) HDR(&rq->hdrs, "x-sluice-fallback: ", rq->fallback_used);
    if (rq->cascade_failed[0]) HDR(&rq->hdrs, "x-sluice-cascade-failed: ", rq->cascade_failed);
  }
  if (rq->rl_hdrs.n) sl_buf_append(&rq->hdrs, rq->rl_hdrs.p, rq->rl_hdrs.n);
  if (rq->natt && !rq->winner_streams) { /* a stream's cost comes as a trailer */
    char cost[32];
    sl_tenancy_cost(rq);
    sl_tenancy_format_cost(rq->cost_micro, cost);
    HDR(&rq->hdrs, "x-sluice-cost: ", cost);
  }
  if (rq->cache_state != SL_CS_NONE) HDR(&rq->hdrs, "x-sluice-cache: ", sl_cache_state_name(rq->cache_state));
  if (rq->cache_state == SL_CS_HIT || rq->cache_state == SL_CS_SEMANTIC)
    sl_buf_printf(&rq->hdrs, "age: %lld\r\n", (long long)rq->cache_age_s);
  if (rq->cache_state == SL_CS_SEMANTIC)
    sl_buf_printf(&rq->hdrs, "x-sluice-cache-similarity: %.4f\r\n", (double)rq->cache_similarity);
}

static void error_out(struct sl_request *rq, int status, enum sl_err err, const char *code, const char *extra_hdrs,
                      const char *msg) {
  rq->status = status;
  rq->err = err;
  rq->err_code = code;
  if (rq->conn) {
    sl_respond_headers(rq);
    if (extra_hdrs) sl_buf_puts(&rq->hdrs, extra_hdrs);
    /* the server writes it in the client's shape (Anthropic's on /v1/messages) */
    sl_conn_respond_error(rq->conn, status, msg, code, rq->hdrs.oom ? NULL : rq->hdrs.p);
  }
  sl_request_finish(rq);
}

void sl_respond_error(struct sl_request *rq, int status, enum sl_err code, const char *extra_hdrs, const char *fmt,
                      ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  error_out(rq, status, code, sl_err_name(code), extra_hdrs, msg);
}

void sl_respond_error_named(struct sl_request *rq, int status, const char *code, const char *extra_hdrs,
                            const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  error_out(rq, status, sl_err_parse(code), code, extra_hdrs, msg);
}

void sl_respond_refusal(struct sl_request *rq, const struct sl_refusal *r) {
  error_out(rq, r->status, r->err, sl_err_name(r->err), r->hdrs[0] ? r->hdrs : NULL, r->msg);
}

void sl_respond_body(struct sl_request *rq, int status, const char *content_type, const char *extra_hdrs,
                     const char *body, size_t n) {
  rq->status = status;
  sl_respond_headers(rq);
  if (extra_hdrs) sl_buf_puts(&rq->hdrs, extra_hdrs);
  sl_request_account(rq); /* before the answer leaves: a kill -9 right after cannot lose its spend */
  if (rq->conn)
    sl_conn_respond(rq->conn, status, content_type ? content_type : "application/json", rq->hdrs.p, rq->hdrs.n,
                    body ? body : "", n);
  sl_request_finish(rq);
}

void sl_respond_json(struct sl_request *rq, int status, const char *body, size_t n) {
  sl_respond_body(rq, status, NULL, NULL, body, n);
}

void sl_respond_built(struct sl_request *rq, int rc, char *body, size_t n, const char *why) {
  if (rc) sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "%s", why);
  else sl_respond_json(rq, 200, body, n);
  free(body);
}

void sl_respond_conn_oom(struct sl_conn *c) { sl_conn_respond_error(c, 500, "Out of memory", "internal_error", NULL); }

void sl_respond_stream_start(struct sl_request *rq, bool with_cost_trailer) {
  rq->status = 200;
  rq->winner_streams = with_cost_trailer;
  sl_respond_headers(rq);
  sl_buf_puts(&rq->hdrs, with_cost_trailer ? "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTrailer: x-sluice-cost\r\n"
                                           : "Cache-Control: no-cache\r\n");
  if (rq->conn) sl_conn_stream_start(rq->conn, 200, "text/event-stream; charset=utf-8", rq->hdrs.p, rq->hdrs.n);
}

void sl_respond_stream_write(struct sl_request *rq, const char *p, size_t n) {
  if (rq->conn && n) sl_conn_stream_write(rq->conn, p, n);
}

void sl_respond_stream_writev(struct sl_request *rq, const struct sl_iov *v, size_t n) {
  if (rq->conn && n) sl_conn_stream_writev(rq->conn, v, n);
}

void sl_respond_stream_end(struct sl_request *rq) {
  if (rq->conn) {
    if (rq->winner_streams) { /* what was consumed is charged, and the client learns it */
      char cost[32], tr[64];
      sl_tenancy_cost(rq);
      sl_tenancy_format_cost(rq->cost_micro, cost);
      snprintf(tr, sizeof tr, "x-sluice-cost: %s\r\n", cost);
      sl_request_account(rq); /* before the last bytes leave */
      sl_conn_stream_end_trailers(rq->conn, tr);
    } else {
      sl_conn_stream_end(rq->conn);
    }
  }
  sl_request_finish(rq);
}

size_t sl_respond_pending(const struct sl_request *rq) { return rq->conn ? sl_conn_pending_bytes(rq->conn) : 0; }

void sl_respond_want_writable(struct sl_request *rq) {
  if (rq->conn) sl_conn_want_writable(rq->conn);
}
