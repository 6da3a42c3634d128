/* The semantic cache; see semcache.h. The one idea: it is a second index over the exact
 * cache, never a second store of answers: a vector entry names an exact-cache key, so
 * an answer is served only while the exact cache still holds it (its TTL, eviction,
 * flush and checksum all apply), and a semantic hit replays exactly what an exact hit
 * would. Scope: a 64-bit digest of the exact key's inputs with the prompt taken out (the
 * key scope, group, namespace, endpoint, the canonical body without messages/prompt)
 * and of the embedder, so only requests that differ in their prompt's text alone can
 * match. To add an endpoint: its prompt field in sl_semcache_prompt_text and
 * PROMPT_FIELDS. */
#include "core/semcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/embed.h"
#include "core/log.h"
#include "core/reqcache.h"
#include "core/request_internal.h"
#include "core/vectors.h"
#include "core/worker.h"
#include "net/wire/cache_key.h"
#include "policy/embed_hash.h"
#include "store/cache.h"
#include "store/vindex.h"

#define PROMPT_MAX_BYTES (64 * 1024) /* text embedded per prompt (the rest is ignored) */

struct sl_semcache_req {
  int64_t max_age_s; /* the client's limit on a served entry's age; -1: any */
  uint64_t scope;
  float *vec; /* the prompt's vector, added to the index when the answer fills the cache */
  unsigned dim;
};

/* ---- the prompt's text ---- */

static void add_text(struct sl_buf *b, const cJSON *c) {
  if (cJSON_IsString(c)) {
    if (b->n) sl_buf_puts(b, "\n");
    sl_buf_puts(b, c->valuestring);
  } else if (cJSON_IsArray(c)) { /* content parts: the text ones; a prompt array */
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
      if (cJSON_IsString(p))
        add_text(b, p);
      else
        add_text(b, cJSON_GetObjectItemCaseSensitive(p, "text"));
    }
  }
}

int sl_semcache_prompt_text(const cJSON *body, char **out, size_t *len) {
  struct sl_buf b = {0};
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
  if (cJSON_IsArray(msgs)) {
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) add_text(&b, cJSON_GetObjectItemCaseSensitive(m, "content"));
  } else {
    add_text(&b, cJSON_GetObjectItemCaseSensitive(body, "prompt"));
  }
  if (b.oom) {
    sl_buf_free(&b);
    return -ENOMEM;
  }
  if (!b.n) {
    sl_buf_free(&b);
    return -ENOENT;
  }
  *out = sl_buf_take(&b, len);
  return *out ? 0 : -ENOMEM;
}

/* ---- scope ---- */

static int scope_of(const struct sl_request *rq, const struct sl_cache_verdict *v, const char *embedder,
                    uint64_t *out) {
  cJSON *rest = cJSON_Duplicate(rq->json, 1);
  if (!rest) return -ENOMEM;
  cJSON_DeleteItemFromObjectCaseSensitive(rest, "messages");
  cJSON_DeleteItemFromObjectCaseSensitive(rest, "prompt");
  char *txt = cJSON_PrintUnformatted(rest);
  cJSON_Delete(rest);
  if (!txt) return -ENOMEM;
  char scope[4 + 65 + 320 + 16];
  snprintf(scope, sizeof scope, "%s|semantic|%s", v->scope, embedder);
  uint8_t k[32];
  int rc = sl_cache_key_scoped(scope, rq->group->name, v->ns ? v->ns : "", rq->upstream_path, txt, strlen(txt), k);
  free(txt);
  if (rc) return rc;
  uint64_t s = 0;
  for (int i = 0; i < 8; i++) s = s << 8 | k[i];
  *out = s;
  return 0;
}

/* ---- the index ---- */

/* The index, opened with the dimension of the first vector; NULL for a vector of
 * another dimension (an embeddings group whose model changed: a miss, and no add). */
static struct sl_vindex *index_for(struct sl_worker *w, unsigned dim) {
  if (w->semcache) return sl_vindex_dim(w->semcache) == dim ? w->semcache : NULL;
  if (w->semcache_failed) return NULL;
  struct sl_lmdb *env = sl_vectors_env(w);
  struct sl_vindex_opts o = {.dim = dim, .max_entries = (size_t)w->cfg->cache.semantic_max_entries};
  int rc = env ? sl_vindex_open(env, &o, &w->semcache) : -EIO;
  if (rc) {
    sl_log(SL_LOG_ERROR, "semantic cache unavailable: the vector index cannot be opened", "\"worker\":%u,\"rc\":%d",
           w->index, rc);
    w->semcache = NULL;
    w->semcache_failed = true;
  }
  return w->semcache;
}

void sl_semcache_close(struct sl_worker *w) {
  if (w->semcache) sl_vindex_close(w->semcache);
  w->semcache = NULL;
}

/* ---- lookup ---- */

/* A found entry is served when the exact cache still holds its answer (and the client's
 * max-age allows it). */
static bool serve(struct sl_request *rq, const struct sl_vindex_hit *h, int64_t now, int64_t max_age_s) {
  struct sl_cache_entry e;
  if (!rq->w->cache || sl_cache_get(rq->w->cache, h->key, now, &e)) return false;
  int64_t age = now - e.stored_at;
  bool ok = false;
  if (max_age_s < 0 || age <= max_age_s) {
    rq->cache_semantic = true;
    rq->cache_similarity = h->similarity;
    ok = sl_request_serve_cached(rq, e.value, e.len, age < 0 ? 0 : age);
    if (!ok) rq->cache_semantic = false;
  }
  sl_cache_entry_free(&e);
  return ok;
}

/* One lookup's wait for its embedding. On the caller's stack when the embedder answers
 * inside sl_embed_start (sync), else on the heap until the answer. Serving a hit may
 * finish the request, which frees rq->sem: nothing touches it after serve(). */
struct lookup {
  struct sl_semcache_req *s;
  bool sync;
  enum sl_cache_kind result;
};

static void embedded(struct sl_request *rq, void *ud, const float *v, unsigned dim, int rc) {
  struct lookup *l = ud;
  bool sync = l->sync;
  enum sl_cache_kind k = SL_CACHE_MISS;
  if (!rq->finished && rq->sem == l->s && rc == 0 && v && dim > 0) {
    struct sl_semcache_req *s = l->s;
    struct sl_vindex *vx = index_for(rq->w, dim);
    if (vx && (s->vec = malloc(sizeof(float) * dim))) {
      memcpy(s->vec, v, sizeof(float) * dim);
      s->dim = dim;
      int64_t now = (int64_t)time(NULL);
      struct sl_vindex_hit h;
      if (sl_vindex_search(vx, s->scope, v, now, &h) == 0 &&
          (double)h.similarity >= rq->w->cfg->cache.similarity_threshold && serve(rq, &h, now, s->max_age_s))
        k = SL_CACHE_HIT; /* rq may be finished now, and s freed */
    }
  }
  if (sync) {
    l->result = k;
    return;
  }
  free(l);
  if (!rq->finished && k != SL_CACHE_HIT) sl_request_cache_resume(rq, false);
}

enum sl_cache_kind sl_semcache_lookup(struct sl_request *rq, const struct sl_cache_verdict *v) {
  const struct sl_config *cfg = rq->w->cfg;
  if (!cfg->cache.semantic || !rq->w->cache || (rq->route != SL_R_CHAT && rq->route != SL_R_COMPLETIONS))
    return SL_CACHE_MISS;
  char *text = NULL;
  size_t n = 0;
  if (sl_semcache_prompt_text(rq->json, &text, &n)) return SL_CACHE_MISS;
  struct sl_embedder e = {.group = cfg->cache.embedding_model, .dim = SL_EMBED_HASH_DIM};
  char who[300];
  if (e.group)
    snprintf(who, sizeof who, "group:%s", e.group);
  else
    snprintf(who, sizeof who, "hash:v%d:%u", SL_EMBED_HASH_VERSION, e.dim);
  struct sl_semcache_req *s = calloc(1, sizeof *s);
  if (!s || scope_of(rq, v, who, &s->scope)) {
    free(s);
    free(text);
    return SL_CACHE_MISS;
  }
  s->max_age_s = v->max_age_s;
  rq->sem = s;
  struct lookup sync = {.s = s, .sync = true, .result = SL_CACHE_MISS};
  struct lookup *l = &sync;
  if (e.group && !(l = malloc(sizeof *l))) { /* an embeddings group answers later */
    free(text);
    return SL_CACHE_MISS;
  }
  if (e.group) *l = (struct lookup){.s = s, .sync = false, .result = SL_CACHE_PENDING};
  sl_embed_start(rq, &e, text, n < PROMPT_MAX_BYTES ? n : PROMPT_MAX_BYTES, embedded, l);
  free(text);
  return e.group ? SL_CACHE_PENDING : sync.result;
}

/* A vector on its way to the store: appended on the loop's thread pool, so the commit's
 * fsync never stalls the loop (the worker's loop runs until every job is done, before
 * the index closes). Every worker's copy (this one's too) reads it at its next lookup. */
struct add_job {
  uv_work_t req;
  struct sl_vindex *vx;
  uint8_t key[32];
  uint64_t scope;
  int64_t now, ttl_s;
  float vec[];
};

static void add_work(uv_work_t *req) {
  struct add_job *j = req->data;
  sl_vindex_append(j->vx, j->key, j->scope, j->vec, j->now, j->ttl_s); /* a failure: no vector, a later miss */
}

static void add_done(uv_work_t *req, int status) { free(req->data); }

void sl_semcache_fill(struct sl_request *rq, int64_t ttl_s) {
  struct sl_semcache_req *s = rq->sem;
  if (!s || !s->vec || ttl_s <= 0 || rq->cache_semantic) return;
  struct sl_vindex *vx = index_for(rq->w, s->dim);
  struct add_job *j = vx ? malloc(sizeof *j + sizeof(float) * s->dim) : NULL;
  if (j) {
    j->req.data = j;
    j->vx = vx;
    memcpy(j->key, rq->ckey, sizeof j->key);
    j->scope = s->scope;
    j->now = (int64_t)time(NULL);
    j->ttl_s = ttl_s;
    memcpy(j->vec, s->vec, sizeof(float) * s->dim);
    if (uv_queue_work(&rq->w->loop, &j->req, add_work, add_done)) {
      add_work(&j->req); /* no pool: on the loop, once */
      free(j);
    }
  }
  free(s->vec); /* once */
  s->vec = NULL;
}

int sl_semcache_vectors(struct sl_worker *w, size_t *n) {
  if (!w->semcache) return -ENOENT;
  sl_vindex_catch_up(w->semcache);
  struct sl_vindex_stats st;
  sl_vindex_stats_get(w->semcache, &st);
  *n = st.entries;
  return 0;
}

void sl_semcache_finish(struct sl_request *rq) {
  if (!rq->sem) return;
  free(rq->sem->vec);
  free(rq->sem);
  rq->sem = NULL;
}
