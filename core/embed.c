/* Embeddings for the request path; see embed.h. The in-process embedder is a call to
 * policy/embed_hash. A group embedder is a loopback HTTP call: POST /v1/embeddings to this
 * worker's own listener (127.0.0.1 / ::1 for a wildcard listen host, else the listen host;
 * the port the worker's socket is bound to; TLS when the listener has it, trusting its own
 * certificate), with the master key as the bearer token when one is configured and
 * model = the group, so the call is balanced, retried, cached, limited and costed like any
 * client's. Each call has its own timer (the embedder's timeout); the first of the answer,
 * an error and the timer ends it, and its callback runs once, from the loop. The answer's
 * data[i].embedding lists are scaled to unit length (cosine = dot product). To add an
 * embedder kind: a field in sl_embedder and a branch in sl_embed_batch. */
#include "core/embed.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/request_internal.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "net/upstream.h"
#include "policy/embed_hash.h"

#define MAX_ANSWER (64u << 20) /* bytes of an embeddings answer */
#define MAX_DIM    16384

struct call {
  struct sl_worker *w;
  uv_timer_t timer;
  struct sl_upstream_req *up;
  char *body;
  size_t body_len;
  char *auth;
  struct sl_buf answer;
  int status;
  int rc; /* the outcome, once ended */
  bool ended;
  size_t n;
  sl_embed_batch_done done;
  void *ud;
  struct call *next, **pprev;
};

struct sl_embed_state {
  struct sl_upstream_pool *pool;
  struct sl_tls_ctx *tls;
  struct call *calls;
  bool pool_failed;
};

void sl_embed_id(const struct sl_embedder *e, char *out, size_t outlen) {
  if (e->group)
    snprintf(out, outlen, "group:%s", e->group);
  else
    snprintf(out, outlen, "hash%d:%u", SL_EMBED_HASH_VERSION, e->dim ? e->dim : SL_EMBED_HASH_DIM);
}

/* ---- the loopback pool ---- */

static struct sl_embed_state *state(struct sl_worker *w) {
  if (!w->embed && !(w->embed = calloc(1, sizeof *w->embed))) return NULL;
  return w->embed;
}

static struct sl_upstream_pool *loopback(struct sl_worker *w) {
  struct sl_embed_state *s = state(w);
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
    sl_log(SL_LOG_ERROR, "embeddings: cannot reach this worker's own listener",
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

void sl_embed_worker_stop(struct sl_worker *w) {
  struct sl_embed_state *s = w->embed;
  if (!s) return;
  while (s->calls) { /* every caller hears back once */
    struct call *c = s->calls;
    if (c->up) sl_upstream_cancel(c->up);
    c->up = NULL;
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    c->ended = true;
    uv_timer_stop(&c->timer);
    c->done(c->ud, NULL, 0, 0, -ECANCELED);
    uv_close((uv_handle_t *)&c->timer, call_free); /* runs in the worker's last loop turn */
  }
  if (s->pool) sl_upstream_pool_destroy(s->pool);
  if (s->tls) sl_tls_ctx_free(s->tls);
  s->pool = NULL;
  s->tls = NULL;
  s->pool_failed = true;
}

/* ---- one call ---- */

/* The answer's vectors: data[i].embedding (by index when given), all of one dimension,
 * scaled to unit length. */
static int parse_answer(struct call *c, float **out, unsigned *dim) {
  if (c->status != 200) return -EIO;
  cJSON *doc = cJSON_ParseWithLength(c->answer.p ? c->answer.p : "", c->answer.n);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
  int rc = -EIO;
  float *v = NULL;
  unsigned d = 0;
  if (!cJSON_IsArray(data) || (size_t)cJSON_GetArraySize(data) != c->n) goto done;
  size_t pos = 0;
  for (const cJSON *it = data->child; it; it = it->next, pos++) {
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(it, "embedding");
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "index");
    size_t at = cJSON_IsNumber(ix) ? (size_t)ix->valuedouble : pos;
    if (!cJSON_IsArray(emb) || at >= c->n ||
        (cJSON_IsNumber(ix) && (ix->valuedouble < 0 || ix->valuedouble != (double)at)))
      goto done;
    unsigned k = (unsigned)cJSON_GetArraySize(emb);
    if (!k || k > MAX_DIM || (d && k != d)) goto done;
    if (!d) {
      d = k;
      if (!(v = calloc(c->n * d, sizeof *v))) {
        rc = -ENOMEM;
        goto done;
      }
    }
    float *row = v + at * d;
    double ss = 0;
    unsigned j = 0;
    for (const cJSON *x = emb->child; x; x = x->next, j++) {
      if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) goto done;
      row[j] = (float)x->valuedouble;
      ss += x->valuedouble * x->valuedouble;
    }
    if (ss > 0)
      for (j = 0; j < d; j++) row[j] = (float)(row[j] / sqrt(ss));
  }
  rc = 0;
done:
  cJSON_Delete(doc);
  if (rc) {
    free(v);
    v = NULL;
  }
  *out = v;
  *dim = d;
  return rc;
}

static void end(struct call *c, int rc) {
  if (c->ended) return;
  c->ended = true;
  c->up = NULL;
  *c->pprev = c->next;
  if (c->next) c->next->pprev = c->pprev;
  uv_timer_stop(&c->timer);
  float *v = NULL;
  unsigned dim = 0;
  if (rc == 0) rc = parse_answer(c, &v, &dim);
  if (rc) {
    char body[200];
    size_t bn = c->answer.n < sizeof body - 1 ? c->answer.n : sizeof body - 1;
    for (size_t i = 0; i < bn; i++)
      body[i] = c->answer.p[i] == '"' || c->answer.p[i] == '\\' || (unsigned char)c->answer.p[i] < 0x20
                    ? '\''
                    : c->answer.p[i];
    body[bn] = 0;
    sl_log(SL_LOG_WARN, "embeddings call failed: the default is used",
           "\"worker\":%u,\"rc\":%d,\"status\":%d,\"answer\":\"%s\"", c->w->index, rc, c->status, body);
  }
  c->done(c->ud, v, v ? c->n : 0, dim, rc);
  free(v);
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

void sl_embed_batch(struct sl_worker *w, const struct sl_embedder *e, const char *const *texts, const size_t *lens,
                    size_t n, sl_embed_batch_done done, void *ud) {
  if (!e->group) { /* in-process: now */
    unsigned dim = e->dim ? e->dim : SL_EMBED_HASH_DIM;
    float *v = n ? malloc(n * dim * sizeof *v) : NULL;
    if (!v) {
      done(ud, NULL, 0, 0, n ? -ENOMEM : -EINVAL);
      return;
    }
    for (size_t i = 0; i < n; i++) sl_embed_hash(texts[i], lens[i], 0, v + i * dim, dim);
    done(ud, v, n, dim, 0);
    free(v);
    return;
  }
  struct sl_embed_state *s = state(w);
  struct call *c = calloc(1, sizeof *c);
  if (!c || !s) { /* nothing to answer from the loop with */
    free(c);
    done(ud, NULL, 0, 0, -ENOMEM);
    return;
  }
  c->w = w;
  c->n = n;
  c->done = done;
  c->ud = ud;
  c->next = s->calls;
  if (c->next) c->next->pprev = &c->next;
  c->pprev = &s->calls;
  s->calls = c;
  uv_timer_init(&w->loop, &c->timer);
  c->timer.data = c;
  /* {"model": group, "input": "text" | ["text", ...]} */
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"model\":\"");
  sl_buf_json_escape(&b, e->group, strlen(e->group));
  sl_buf_puts(&b, n == 1 ? "\",\"input\":" : "\",\"input\":[");
  for (size_t i = 0; i < n; i++) {
    sl_buf_puts(&b, i ? ",\"" : "\"");
    sl_buf_json_escape(&b, texts[i], lens[i]);
    sl_buf_puts(&b, "\"");
  }
  sl_buf_puts(&b, n == 1 ? "}" : "]}");
  c->body = sl_buf_take(&b, &c->body_len);
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
  int src = !n ? -EINVAL : !c->body || (mk && mk[0] && !c->auth) ? -ENOMEM : !pool ? -ECONNREFUSED : 0;
  if (!src) src = sl_upstream_send(pool, "POST", "/v1/embeddings", h, nh, &ub, 1, &cbs, c, &c->up);
  if (src) {
    c->up = NULL;
    c->rc = src < 0 ? src : -EIO;
    uv_timer_start(&c->timer, on_timer, 0, 0); /* the callback comes from the loop, never from here */
    return;
  }
  uv_timer_start(&c->timer, on_timer, e->timeout_ms ? e->timeout_ms : 2000, 0);
}

/* ---- for one request ---- */

struct rq_call {
  struct sl_request *rq;
  sl_embed_done done;
  void *ud;
};

static void rq_done(void *ud, const float *v, size_t n, unsigned dim, int rc) {
  struct rq_call *k = ud;
  struct sl_request *rq = k->rq;
  k->done(rq, k->ud, rc ? NULL : v, rc || n != 1 ? 0 : dim, rc ? rc : n == 1 ? 0 : -EIO);
  free(k);
  sl_request_release(rq);
}

static void rq_done_sync(void *ud, const float *v, size_t n, unsigned dim, int rc) {
  struct rq_call *k = ud;
  k->done(k->rq, k->ud, rc ? NULL : v, rc || n != 1 ? 0 : dim, rc ? rc : n == 1 ? 0 : -EIO);
}

void sl_embed_start(struct sl_request *rq, const struct sl_embedder *e, const char *text, size_t n, sl_embed_done done,
                    void *ud) {
  if (!e->group) {
    struct rq_call k = {rq, done, ud};
    sl_embed_batch(rq->w, e, &text, &n, 1, rq_done_sync, &k);
    return;
  }
  struct rq_call *k = malloc(sizeof *k);
  if (!k) {
    done(rq, ud, NULL, 0, -ENOMEM);
    return;
  }
  *k = (struct rq_call){rq, done, ud};
  rq->open_handles++; /* released in rq_done */
  sl_embed_batch(rq->w, e, &text, &n, 1, rq_done, k);
}
