/* The semantic router's waiting and its utterance vectors; see router_semantic.h. The pick
 * itself is policy's (policy/route_semantic.h: max cosine per route, the best route over
 * its threshold); embeddings come from core/embed.h. Utterance vectors are keyed in the
 * "embeddings" database by (embedder id, SHA-256 of the text): the embedder id names the
 * embeddings group ("group:<name>") or the in-process embedder and its version, so a
 * changed model group or hash version never reuses another's vectors. Value: u32 dim,
 * then dim floats (unit length). To add a route field that changes a decision: the state
 * below and decide_now(). */
#include "core/router_semantic.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/plan.h"
#include "core/embed.h"
#include "core/log.h"
#include "core/request_internal.h"
#include "core/vectors.h"
#include "core/worker.h"
#include "policy/route_semantic.h"
#include "store/keys.h"
#include "store/lmdb_env.h"

#define RETRY_MS 5000 /* after a failed utterance call, requests use the default this long */
#define CHUNK    128  /* texts per embeddings call (providers cap inputs and tokens per request) */

enum sem_st { SEM_NONE, SEM_PENDING, SEM_READY };

struct sl_sem_state {
  struct sl_worker *w;
  const struct sl_plan_router *r;
  struct sl_embedder emb;
  char emb_id[300];
  struct sl_sem_route *routes; /* per cfg->sem_routes; vecs owned (one block per route) */
  size_t ntexts;               /* utterances + descriptions over all routes */
  unsigned dim;
  enum sem_st st;
  uint64_t retry_at_ms;
};

/* The texts of route i: its utterances, then its description. */
static size_t route_texts(const struct sl_sem_route_cfg *c) { return c->nutterances + (c->description ? 1 : 0); }
static const char *route_text(const struct sl_sem_route_cfg *c, size_t j) {
  return j < c->nutterances ? c->utterances[j] : c->description;
}

void sl__sem_state_free(struct sl_sem_state *s) {
  if (!s) return;
  for (size_t i = 0; s->routes && i < s->r->cfg->nsem_routes; i++) free((void *)s->routes[i].vecs);
  free(s->routes);
  free(s);
}

/* Takes v (ntexts unit vectors of dim floats, in route order) as the routes' vectors. */
static int install(struct sl_sem_state *s, const float *v, unsigned dim) {
  const struct sl_router_cfg *c = s->r->cfg;
  size_t at = 0;
  for (size_t i = 0; i < c->nsem_routes; i++) {
    size_t k = route_texts(&c->sem_routes[i]);
    float *rv = malloc(k * dim * sizeof *rv);
    if (!rv) return -ENOMEM;
    memcpy(rv, v + at * dim, k * dim * sizeof *rv);
    free((void *)s->routes[i].vecs);
    s->routes[i].vecs = rv;
    s->routes[i].nvec = k;
    at += k;
  }
  s->dim = dim;
  s->st = SEM_READY;
  return 0;
}

/* ---- the store ---- */

static void store_key(const struct sl_sem_state *s, const char *text, uint8_t *key, size_t *klen) {
  size_t n = strlen(s->emb_id);
  memcpy(key, s->emb_id, n);
  key[n] = 0;
  sl_keys_hash(text, strlen(text), key + n + 1); /* SHA-256 */
  *klen = n + 1 + 32;
}

/* Reads every text's vector; those found go to v (ntexts x dim, dim from the first found),
 * found[i] says which. Returns how many were found (0 when the store is unavailable). */
static size_t store_read(struct sl_sem_state *s, float **v, unsigned *dim, bool *found) {
  struct sl_lmdb *e = sl_vectors_env(s->w);
  *v = NULL;
  *dim = 0;
  if (!e) return 0;
  const struct sl_router_cfg *c = s->r->cfg;
  size_t got = 0, t = 0;
  pthread_rwlock_rdlock(&e->remap_lock);
  MDB_txn *txn;
  if (mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn) == 0) {
    for (size_t i = 0; i < c->nsem_routes; i++)
      for (size_t j = 0; j < route_texts(&c->sem_routes[i]); j++, t++) {
        uint8_t key[sizeof s->emb_id + 33];
        size_t kl;
        store_key(s, route_text(&c->sem_routes[i], j), key, &kl);
        MDB_val k = {kl, key}, val;
        if (mdb_get(txn, e->dbi_embed, &k, &val) || val.mv_size < 4) continue;
        uint32_t d;
        memcpy(&d, val.mv_data, 4);
        if (!d || val.mv_size != 4 + (size_t)d * sizeof(float) || (*dim && d != *dim)) continue;
        if (!*v && !(*v = calloc(s->ntexts * d, sizeof **v))) break;
        *dim = d;
        memcpy(*v + t * d, (const char *)val.mv_data + 4, d * sizeof(float));
        found[t] = true;
        got++;
      }
    mdb_txn_abort(txn);
  }
  pthread_rwlock_unlock(&e->remap_lock);
  return got;
}

static void store_write(struct sl_sem_state *s, const char *const *texts, const float *v, size_t n, unsigned dim) {
  struct sl_lmdb *e = sl_vectors_env(s->w);
  if (!e) return;
  size_t vl = 4 + (size_t)dim * sizeof(float);
  uint8_t *val = malloc(vl);
  if (!val) return;
  uint32_t d = dim;
  memcpy(val, &d, 4);
  pthread_rwlock_rdlock(&e->remap_lock);
  MDB_txn *txn;
  int rc = mdb_txn_begin(e->env, NULL, 0, &txn);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    uint8_t key[sizeof s->emb_id + 33];
    size_t kl;
    store_key(s, texts[i], key, &kl);
    memcpy(val + 4, v + i * dim, dim * sizeof(float));
    MDB_val k = {kl, key}, dv = {vl, val};
    rc = mdb_put(txn, e->dbi_embed, &k, &dv, 0);
  }
  if (rc == 0)
    rc = mdb_txn_commit(txn);
  else
    mdb_txn_abort(txn);
  pthread_rwlock_unlock(&e->remap_lock);
  free(val);
  if (rc)
    sl_log(SL_LOG_WARN, "semantic router: utterance vectors not kept", "\"router\":\"%s\",\"error\":\"%s\"",
           s->r->cfg->name, mdb_strerror(rc));
}

/* ---- utterances ---- */

struct utt_call {
  struct sl_sem_state *s;
  float *have; /* the stored vectors (ntexts x dim) or NULL */
  unsigned have_dim;
  bool *found;
  const char **texts; /* the missing ones */
  size_t *lens;
  size_t *tidx; /* their positions */
  size_t n;
  size_t done; /* embedded so far, in calls of at most CHUNK */
  float *got;  /* n x dim: the new vectors */
  unsigned dim;
};

static void utt_call_free(struct utt_call *u) {
  free(u->have);
  free(u->found);
  free(u->texts);
  free(u->lens);
  free(u->tidx);
  free(u->got);
  free(u);
}

static void utt_done(void *ud, const float *v, size_t n, unsigned dim, int rc);

static void utt_next(struct utt_call *u) {
  size_t k = u->n - u->done < CHUNK ? u->n - u->done : CHUNK;
  sl_embed_batch(u->s->w, &u->s->emb, u->texts + u->done, u->lens + u->done, k, utt_done, u);
}

/* One call's answer: the next call, or (the last) the routes' vectors. */
static void utt_done(void *ud, const float *v, size_t n, unsigned dim, int rc) {
  struct utt_call *u = ud;
  struct sl_sem_state *s = u->s;
  size_t want = u->n - u->done < CHUNK ? u->n - u->done : CHUNK;
  if (rc == 0 && (n != want || (u->have && dim != u->have_dim) || (u->dim && dim != u->dim)))
    rc = -EIO; /* a model changed its dimension */
  if (rc == 0 && !u->got && !(u->got = calloc(u->n * dim, sizeof *u->got))) rc = -ENOMEM;
  if (rc == 0) {
    u->dim = dim;
    memcpy(u->got + u->done * dim, v, n * dim * sizeof *v);
    u->done += n;
    if (u->done < u->n) {
      utt_next(u);
      return;
    }
    v = u->got;
    n = u->n;
  }
  float *all = rc == 0 ? calloc(s->ntexts * dim, sizeof *all) : NULL;
  if (rc == 0 && !all) rc = -ENOMEM;
  if (rc) {
    s->st = SEM_NONE;
    s->retry_at_ms = sl_now_ms() + RETRY_MS;
    if (rc != -ECANCELED)
      sl_log(SL_LOG_WARN, "semantic router: utterances not embedded; the default route is used meanwhile",
             "\"router\":\"%s\",\"embedding_model\":\"%s\",\"rc\":%d", s->r->cfg->name, s->emb.group, rc);
    utt_call_free(u);
    return;
  }
  if (u->have) memcpy(all, u->have, s->ntexts * dim * sizeof *all);
  for (size_t i = 0; i < n; i++) memcpy(all + u->tidx[i] * dim, v + i * dim, dim * sizeof *all);
  if (s->emb.group) store_write(s, u->texts, v, n, dim);
  if (install(s, all, dim)) {
    s->st = SEM_NONE;
    s->retry_at_ms = sl_now_ms() + RETRY_MS;
  } else {
    sl_log(SL_LOG_INFO, "semantic router: utterances embedded", "\"router\":\"%s\",\"embedded\":%zu,\"stored\":%zu",
           s->r->cfg->name, n, s->ntexts - n);
  }
  free(all);
  utt_call_free(u);
}

/* Embeds the routes' texts: in-process now; through the group, the stored ones from the
 * store and the rest in calls of at most CHUNK texts (READY when the last answers). */
static void embed_utterances(struct sl_sem_state *s) {
  const struct sl_router_cfg *c = s->r->cfg;
  struct utt_call *u = calloc(1, sizeof *u);
  if (u) {
    u->s = s;
    u->found = calloc(s->ntexts, sizeof *u->found);
    u->texts = calloc(s->ntexts, sizeof *u->texts);
    u->tidx = calloc(s->ntexts, sizeof *u->tidx);
  }
  size_t *lens = u ? (u->lens = calloc(s->ntexts ? s->ntexts : 1, sizeof *lens)) : NULL;
  if (!u || !u->found || !u->texts || !u->tidx || !lens) {
    if (u) utt_call_free(u);
    s->retry_at_ms = sl_now_ms() + RETRY_MS;
    return;
  }
  if (s->emb.group) store_read(s, &u->have, &u->have_dim, u->found);
  size_t t = 0;
  for (size_t i = 0; i < c->nsem_routes; i++)
    for (size_t j = 0; j < route_texts(&c->sem_routes[i]); j++, t++)
      if (!u->found[t]) {
        u->texts[u->n] = route_text(&c->sem_routes[i], j);
        lens[u->n] = strlen(u->texts[u->n]);
        u->tidx[u->n++] = t;
      }
  if (!u->n) { /* all stored: no call */
    if (install(s, u->have, u->have_dim) == 0)
      sl_log(SL_LOG_INFO, "semantic router: utterance vectors read from the store", "\"router\":\"%s\",\"stored\":%zu",
             c->name, s->ntexts);
    utt_call_free(u);
    return;
  }
  s->st = SEM_PENDING;
  utt_next(u);
}

static struct sl_sem_state *state_new(struct sl_worker *w, const struct sl_plan_router *r) {
  struct sl_sem_state *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  const struct sl_router_cfg *c = r->cfg;
  s->w = w;
  s->r = r;
  s->emb = (struct sl_embedder){.group = r->embed ? r->embed->name : NULL, .timeout_ms = c->embedding_timeout_ms};
  sl_embed_id(&s->emb, s->emb_id, sizeof s->emb_id);
  if (!(s->routes = calloc(c->nsem_routes ? c->nsem_routes : 1, sizeof *s->routes))) {
    free(s);
    return NULL;
  }
  for (size_t i = 0; i < c->nsem_routes; i++) {
    double t = c->sem_routes[i].score_threshold;
    s->routes[i].threshold = isnan(t) ? c->score_threshold : t;
    s->ntexts += route_texts(&c->sem_routes[i]);
  }
  return s;
}

void sl__sem_warm(struct sl_worker *w, const struct sl_plan_router *r, struct sl_sem_state **sp) {
  if (!*sp) *sp = state_new(w, r);
  if (*sp && (*sp)->st == SEM_NONE) embed_utterances(*sp);
}

/* ---- the decision ---- */

struct pick {
  const struct sl_group *target;
  double score;
  char reason[80];
};

static void decide_now(const struct sl_sem_state *s, const float *q, unsigned dim, struct pick *p) {
  const struct sl_plan_router *r = s->r;
  p->target = r->deflt;
  p->score = NAN;
  snprintf(p->reason, sizeof p->reason, "semantic_default");
  if (s->st != SEM_READY || dim != s->dim) return;
  long i = sl_route_semantic_pick(s->routes, r->cfg->nsem_routes, q, dim, &p->score);
  if (i < 0) return;
  p->target = r->sem_targets[i];
  snprintf(p->reason, sizeof p->reason, "semantic:%.60s", p->target->name);
}

struct wait {
  struct sl_sem_state *s;
  bool starting, fired; /* the callback ran inside sl_embed_start (the in-process embedder, or
                           a group call that could not even start): the caller decides */
  struct pick p;
};

/* The prompt's embedding arrived (or failed): decide and resume the request. */
static void prompt_done(struct sl_request *rq, void *ud, const float *v, unsigned dim, int rc) {
  struct wait *wt = ud;
  struct sl_sem_state *s = wt->s;
  if (rc == 0)
    decide_now(s, v, dim, &wt->p);
  else {
    wt->p.target = s->r->deflt;
    wt->p.score = NAN;
    snprintf(wt->p.reason, sizeof wt->p.reason, "semantic_default");
  }
  if (wt->starting) {
    wt->fired = true;
    return;
  }
  struct pick p = wt->p;
  free(wt);
  if (rq->finished) return; /* the client left: the spine is done with it */
  rq->router_scored = isfinite(p.score);
  rq->router_score = rq->router_scored ? p.score : 0;
  snprintf(rq->router_reason, sizeof rq->router_reason, "%s", p.reason);
  if (s->r->cfg->shadow) {
    rq->router_would = p.target;
    p.target = s->r->deflt;
    snprintf(rq->router_reason, sizeof rq->router_reason, "shadow");
  }
  rq->group = p.target;
  sl__router_count(rq);
  sl_request_after_route(rq);
}

int sl__sem_decide(struct sl_request *rq, const struct sl_plan_router *r, struct sl_sem_state **sp, const char *text,
                   size_t n, const struct sl_group **target, double *score, char *reason, size_t rlen) {
  struct sl_worker *w = rq->w;
  if (!*sp) *sp = state_new(w, r);
  struct sl_sem_state *s = *sp;
  *target = r->deflt;
  *score = NAN;
  snprintf(reason, rlen, "semantic_default");
  if (!s) return 1;
  if (s->st == SEM_NONE && sl_now_ms() >= s->retry_at_ms) embed_utterances(s);
  if (s->st != SEM_READY || !n) return 1; /* not embedded yet (or no prompt text): the default */
  struct wait *wt = calloc(1, sizeof *wt);
  if (!wt) return 1;
  wt->s = s;
  wt->starting = true;
  rq->route_pending = true;
  sl_embed_start(rq, &s->emb, text, n, prompt_done, wt); /* in-process: prompt_done runs now */
  wt->starting = false;
  if (!wt->fired) return 0;
  rq->route_pending = false;
  *target = wt->p.target;
  *score = wt->p.score;
  snprintf(reason, rlen, "%s", wt->p.reason);
  free(wt);
  return 1;
}
