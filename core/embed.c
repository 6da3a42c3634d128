/* Embeddings for the request path; see embed.h. The in-process embedder is a call to
 * policy/embed_hash. A group embedder is a call to this worker's own listener
 * (core/selfcall.h: POST /v1/embeddings, model = the group), so it is balanced, retried,
 * cached, limited and costed like any client's, under the embedder's timeout; its
 * callback runs once, from the loop. The answer's data[i].embedding lists are scaled to
 * unit length (cosine = dot product). To add an embedder kind: a field in sl_embedder and
 * a branch in sl_embed_batch. */
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
#include "core/selfcall.h"
#include "policy/embed_hash.h"

#define MAX_DIM    16384

/* One group call: how many texts, and who hears back. */
struct call {
  struct sl_worker *w;
  size_t n;
  sl_embed_batch_done done;
  void *ud;
};

void sl_embed_id(const struct sl_embedder *e, char *out, size_t outlen) {
  if (e->group)
    snprintf(out, outlen, "group:%s", e->group);
  else
    snprintf(out, outlen, "hash%d:%u", SL_EMBED_HASH_VERSION, e->dim ? e->dim : SL_EMBED_HASH_DIM);
}

/* ---- one call ---- */

/* The answer's vectors: data[i].embedding (by index when given), all of one dimension,
 * scaled to unit length. */
static int parse_answer(const struct call *c, int status, const char *body, size_t len, float **out, unsigned *dim) {
  if (status != 200) return -EIO;
  cJSON *doc = cJSON_ParseWithLength(body ? body : "", len);
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

/* The loopback call's end (core/selfcall.h): the vectors, or the default for the caller. */
static void answered(void *ud, int status, const char *body, size_t len, int rc) {
  struct call *c = ud;
  float *v = NULL;
  unsigned dim = 0;
  if (rc == 0) rc = parse_answer(c, status, body, len, &v, &dim);
  if (rc) {
    char b[200];
    size_t bn = body && len < sizeof b - 1 ? len : body ? sizeof b - 1 : 0;
    for (size_t i = 0; i < bn; i++)
      b[i] = body[i] == '"' || body[i] == '\\' || (unsigned char)body[i] < 0x20 ? '\'' : body[i];
    b[bn] = 0;
    sl_log(SL_LOG_WARN, "embeddings call failed: the default is used",
           "\"worker\":%u,\"rc\":%d,\"status\":%d,\"answer\":\"%s\"", c->w->index, rc, status, b);
  }
  c->done(c->ud, v, v ? c->n : 0, dim, rc);
  free(v);
  free(c);
}

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
  struct call *c = calloc(1, sizeof *c);
  if (!c || !n) { /* nothing to answer from the loop with */
    free(c);
    done(ud, NULL, 0, 0, n ? -ENOMEM : -EINVAL);
    return;
  }
  *c = (struct call){w, n, done, ud};
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
  size_t blen = 0;
  char *body = sl_buf_take(&b, &blen);
  sl_selfcall_post(w, "/v1/embeddings", body, blen, e->timeout_ms ? e->timeout_ms : 2000, answered, c);
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
