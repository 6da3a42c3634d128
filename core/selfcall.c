/* Calls to this worker's own listener; see selfcall.h. One pool of keep-alive
 * connections per worker, made on first use; each call has its own timer. */
#include "core/selfcall.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "net/tls_conn.h"
#include "net/upstream.h"

#define MAX_ANSWER (64u << 20) /* bytes of an answer */

struct call {
  struct sl_worker *w;
  uv_timer_t timer;
  struct sl_upstream_req *up;
  char *body;
  size_t body_len;
  char *auth;
  struct sl_buf answer;
  int status;
  int rc; /* a failure to start, reported from the loop */
  bool ended;
  sl_selfcall_done done;
  void *ud;
  struct call *next, **pprev;
};

struct sl_selfcall_state {
  struct sl_upstream_pool *pool;
  struct sl_tls_ctx *tls;
  struct call *calls;
  bool pool_failed;
};

static struct sl_selfcall_state *state(struct sl_worker *w) {
  if (!w->selfcall && !(w->selfcall = calloc(1, sizeof *w->selfcall))) return NULL;
  return w->selfcall;
}

/* ---- the loopback pool ---- */

static struct sl_upstream_pool *loopback(struct sl_worker *w) {
  struct sl_selfcall_state *s = state(w);
  if (!s) return NULL;
  if (s->pool || s->pool_failed) return s->pool;
  const struct sl_config *c = w->cfg;
  const char *h = c->listen_host && c->listen_host[0] ? c->listen_host : "127.0.0.1";
  if (strcmp(h, "0.0.0.0") == 0)
    h = "127.0.0.1";
  else if (strcmp(h, "::") == 0)
    h = "::1";
  char err[256] = "";
  if (c->tls_cert && sl_tls_ctx_create(c->tls_cert, &s->tls, err, sizeof err)) s->tls = NULL;
  struct sl_upstream_pool_opts o = {.host = h,
                                    .port = w->listen_port,
                                    .tls = c->tls_cert != NULL,
                                    .tls_ctx = s->tls,
                                    .connect_timeout_ms = 1000,
                                    .max_idle = 8};
  if (!w->listen_port || (o.tls && !s->tls) || sl_upstream_pool_create(&w->loop, &o, &s->pool)) {
    s->pool = NULL;
    s->pool_failed = true;
    sl_log(SL_LOG_ERROR, "cannot reach this worker's own listener (calls sluice makes for itself fail)",
           "\"worker\":%u,\"port\":%u,\"why\":\"%s\"", w->index, (unsigned)w->listen_port,
           err[0] ? "its TLS certificate did not load" : "no pool");
  }
  return s->pool;
}

static void call_free(uv_handle_t *h) {
  struct call *c = h->data;
  free(c->body);
  free(c->auth);
  sl_buf_free(&c->answer);
  free(c);
}

void sl_selfcall_worker_stop(struct sl_worker *w) {
  struct sl_selfcall_state *s = w->selfcall;
  if (!s) return;
  while (s->calls) { /* every caller hears back once */
    struct call *c = s->calls;
    if (c->up) sl_upstream_cancel(c->up);
    c->up = NULL;
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    c->ended = true;
    uv_timer_stop(&c->timer);
    c->done(c->ud, 0, NULL, 0, -ECANCELED);
    uv_close((uv_handle_t *)&c->timer, call_free); /* runs in the worker's last loop turn */
  }
  if (s->pool) sl_upstream_pool_destroy(s->pool);
  if (s->tls) sl_tls_ctx_free(s->tls);
  s->pool = NULL;
  s->tls = NULL;
  s->pool_failed = true;
}

/* ---- one call ---- */

static void end(struct call *c, int rc) {
  if (c->ended) return;
  c->ended = true;
  c->up = NULL;
  *c->pprev = c->next;
  if (c->next) c->next->pprev = c->pprev;
  uv_timer_stop(&c->timer);
  if (rc) c->done(c->ud, 0, NULL, 0, rc);
  else c->done(c->ud, c->status, c->answer.p ? c->answer.p : "", c->answer.n, 0);
  uv_close((uv_handle_t *)&c->timer, call_free);
}

static void on_head(void *ud, int status, const struct sl_header *h, size_t n) {
  (void)h;
  (void)n;
  ((struct call *)ud)->status = status;
}

static void on_body(void *ud, const char *p, size_t n) {
  struct call *c = ud;
  if (c->answer.n + n > MAX_ANSWER) {
    if (c->up) sl_upstream_cancel(c->up);
    end(c, -EFBIG);
    return;
  }
  sl_buf_append(&c->answer, p, n);
}

static void on_done(void *ud) {
  struct call *c = ud;
  end(c, c->answer.oom ? -ENOMEM : 0);
}

static void on_error(void *ud, enum sl_upstream_err err, const char *msg) {
  (void)err;
  (void)msg;
  end(ud, -EIO);
}

static void on_timer(uv_timer_t *t) {
  struct call *c = t->data;
  if (c->up) sl_upstream_cancel(c->up);
  c->up = NULL;
  end(c, c->rc ? c->rc : -ETIMEDOUT); /* c->rc: a failure to start, reported from the loop */
}

static const struct sl_upstream_cbs cbs = {on_head, on_body, on_done, on_error};

void sl_selfcall_post(struct sl_worker *w, const char *path, char *body, size_t len, uint64_t timeout_ms,
                      sl_selfcall_done done, void *ud) {
  struct sl_selfcall_state *s = state(w);
  struct call *c = calloc(1, sizeof *c);
  if (!c || !s) { /* nothing to answer from the loop with */
    free(c);
    free(body);
    done(ud, 0, NULL, 0, -ENOMEM);
    return;
  }
  c->w = w;
  c->done = done;
  c->ud = ud;
  c->body = body;
  c->body_len = len;
  c->next = s->calls;
  if (c->next) c->next->pprev = &c->next;
  c->pprev = &s->calls;
  s->calls = c;
  uv_timer_init(&w->loop, &c->timer);
  c->timer.data = c;
  struct sl_header h[2] = {{{"Content-Type", 12}, {"application/json", 16}}};
  size_t nh = 1;
  const char *mk = w->cfg->master_key;
  if (mk && mk[0]) {
    size_t kn = strlen(mk);
    if ((c->auth = malloc(kn + 8))) {
      memcpy(c->auth, "Bearer ", 7);
      memcpy(c->auth + 7, mk, kn + 1);
      h[nh++] = (struct sl_header){{"Authorization", 13}, {c->auth, kn + 7}};
    }
  }
  struct sl_upstream_pool *pool = loopback(w);
  uv_buf_t ub = uv_buf_init(c->body, (unsigned)c->body_len);
  int src = !c->body || (mk && mk[0] && !c->auth) ? -ENOMEM : !pool ? -ECONNREFUSED : 0;
  if (!src) src = sl_upstream_send(pool, "POST", path, h, nh, &ub, 1, &cbs, c, &c->up);
  if (src) {
    c->up = NULL;
    c->rc = src < 0 ? src : -EIO;
    uv_timer_start(&c->timer, on_timer, 0, 0); /* the callback comes from the loop, never from here */
    return;
  }
  uv_timer_start(&c->timer, on_timer, timeout_ms ? timeout_ms : 2000, 0);
}
