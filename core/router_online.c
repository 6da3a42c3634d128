/* Online learning for learned routers; see router_online.h. The one idea: the request
 * path reads a per-worker copy of each router's learned state (refreshed from LMDB at
 * most once a second) and queues its decision; outcomes change the state only on the
 * feedback writer thread (sl_learn_apply). To learn from a new kind of outcome: map it to
 * `need` (1: strong was needed .. 0: weak was fine) and call sl_learn_outcome. */
#include "core/router_online.h"
#include "core/vectors.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"
#include "core/master.h"
#include "core/request_internal.h"
#include "core/worker.h"
#include "policy/bandit.h"
#include "policy/route_features.h"
#include "store/keys.h"
#include "store/lmdb_env.h"

#define FEEDBACK_MAP_SIZE ((size_t)1 << 30)
#define REFRESH_MS        1000

struct online_router {
  struct sl_learn_state st;
  bool have;
  uint64_t read_ms; /* monotonic ms of the last read (0: never) */
  struct sl_bandit_budget budget;
};

struct sl_online {
  struct online_router *r; /* per router of the plan */
  size_t n;
  struct sl_rng rng;
};

/* ---- the store ---- */

struct sl_lmdb *sl_learn_env(struct sl_worker *w) {
  sl_learn_store(w);
  return w->fb_lmdb;
}

struct sl_fb *sl_learn_store(struct sl_worker *w) {
  if (w->fb || w->fb_failed) return w->fb;
  int rc = sl_worker_env_open(w, "feedback", FEEDBACK_MAP_SIZE, "router feedback (decisions are not kept)", &w->fb_lmdb);
  struct sl_fb_opts o = {.learn = sl_learn_apply, .learn_ud = w};
  if (!rc) rc = sl_fb_open(w->fb_lmdb, &o, &w->fb);
  if (rc) {
    if (w->fb_lmdb) sl_lmdb_close(w->fb_lmdb);
    w->fb_lmdb = NULL;
    w->fb = NULL;
    w->fb_failed = true;
  }
  return w->fb;
}

void sl_learn_close(struct sl_worker *w) {
  if (w->fb) sl_fb_close(w->fb); /* commits what is queued */
  if (w->fb_lmdb) sl_lmdb_close(w->fb_lmdb);
  w->fb = NULL;
  w->fb_lmdb = NULL;
  if (w->online) free(w->online->r);
  free(w->online);
  w->online = NULL;
}

static struct online_router *online_of(struct sl_worker *w, const struct sl_plan_router *r) {
  if (!w->online) {
    struct sl_online *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->n = w->cfg->plan->nrouters;
    o->r = calloc(o->n ? o->n : 1, sizeof *o->r);
    if (!o->r) {
      free(o);
      return NULL;
    }
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = sl_now_ms() ^ ((uint64_t)getpid() << 32);
    o->rng.s = seed;
    w->online = o;
  }
  if (r->index >= w->online->n) return NULL;
  struct online_router * or = &w->online->r[r->index];
  uint64_t now = sl_now_ms();
  if (! or->read_ms || now - or->read_ms >= REFRESH_MS) {
    or->read_ms = now;
    struct sl_lmdb *e = sl_learn_env(w);
    size_t len = 0;
    or->have =
        e && sl_fb_state_get(e, r->cfg->name, & or->st, sizeof or->st, &len) == 0 && sl_learn_valid(& or->st, len);
  }
  return or ;
}

/* ---- the route stage ---- */

double sl_online_score(struct sl_request *rq, const struct sl_plan_router *r, double s) {
  struct sl_learn_rq *l = &rq->learn;
  const struct sl_route_scratch *sc = rq->w->route_scratch;
  l->online = true;
  l->base = s;
  l->adjust = 0;
  l->nslots = (uint8_t)sl_learn_slots(sc->idx, sc->nidx, l->slots, SL_FB_SLOTS);
  struct online_router * or = online_of(rq->w, r);
  if (! or || ! or->have) return s;
  l->adjust = sl_learn_adjust(& or->st, l->slots, l->nslots);
  return s + l->adjust;
}

static double call_cost_usd(const struct sl_request *rq, const struct sl_group *g) {
  if (!g || !g->n) return 0;
  const struct sl_price *p = &rq->w->cfg->plan->deps[g->deps[0]].price;
  return p->input * (double)rq->est_tokens + p->output * (double)sl_tenancy_max_output(rq->json, 256, 1000000000);
}

void sl_online_explore(struct sl_request *rq, const struct sl_plan_router *r, double thr,
                       const struct sl_group **target, const char **reason) {
  const struct sl_router_cfg *c = r->cfg;
  if (!(c->exploration_budget_usd_per_day > 0) || !isfinite(thr) || !r->strong || !r->weak) return;
  struct online_router * or = online_of(rq->w, r);
  if (! or) return;
  struct sl_learn_state empty;
  const struct sl_learn_state *st = or->have ? & or->st : (sl_learn_init(&empty), &empty);
  struct sl_learn_rq *l = &rq->learn;
  double sampled = l->base + sl_bandit_sample_adjust(st, l->slots, l->nslots, &rq->w->online->rng, (uint64_t)time(NULL),
                                                     (double)c->evidence_half_life_ms / 1000);
  const struct sl_group *pick = sampled >= thr ? r->strong : r->weak;
  if (pick == *target) return;
  double share = c->exploration_budget_usd_per_day / sl_master_workers(rq->w->cfg);
  if (!sl_bandit_budget_take(& or->budget, (uint64_t)time(NULL), call_cost_usd(rq, pick), share)) return;
  *target = pick;
  *reason = "explore";
  l->explored = true;
}

/* ---- outcomes ---- */

void sl_learn_request_outcome(struct sl_request *rq, double need) {
  if (!(need >= 0 && need <= 1)) return;
  rq->learn.has_outcome = true;
  rq->learn.need = (float)need;
}

int sl_learn_outcome(struct sl_worker *w, const char *request_id, double need) {
  struct sl_fb *fb = sl_learn_store(w);
  if (!fb) return -EIO;
  return sl_fb_outcome(fb, request_id, 0, true, need, true, NULL);
}

void sl_learn_record(struct sl_request *rq) {
  const struct sl_plan_router *r = rq->router;
  if (!r || !rq->group) return;
  struct sl_fb *fb = sl_learn_store(rq->w);
  if (!fb) return;
  struct sl_fb_decision d = {.ts_s = (int64_t)time(NULL),
                             .owner = rq->key ? rq->key->id : 0,
                             .score = rq->router_scored ? rq->router_score : NAN,
                             .cost_usd = (double)rq->cost_micro / 1e6,
                             .strong = rq->group == r->strong,
                             .explored = rq->learn.explored};
  snprintf(d.router, sizeof d.router, "%s", r->cfg->name);
  snprintf(d.target, sizeof d.target, "%s", rq->group->name);
  snprintf(d.reason, sizeof d.reason, "%.31s", rq->router_reason);
  d.nslots = rq->learn.nslots;
  memcpy(d.slots, rq->learn.slots, sizeof d.slots);
  if (sl_fb_record(fb, rq->id, &d) == 0 && rq->learn.has_outcome)
    sl_fb_outcome(fb, rq->id, d.owner, true, rq->learn.need, true, NULL);
}

/* The writer thread: reads only the plan (immutable while the worker lives). */
bool sl_learn_apply(void *ud, const struct sl_fb_decision *d, int64_t now_s, unsigned char *state, size_t *len,
                    size_t cap) {
  const struct sl_worker *w = ud;
  const struct sl_plan *p = w->cfg->plan;
  const struct sl_router_cfg *c = NULL;
  for (size_t i = 0; i < p->nrouters && !c; i++)
    if (strcmp(p->routers[i].cfg->name, d->router) == 0) c = p->routers[i].cfg;
  if (!c || !c->learn_online || c->frozen || !d->learns || !d->nslots || cap < sizeof(struct sl_learn_state))
    return false;
  struct sl_learn_state st;
  if (*len == sizeof st && sl_learn_valid(state, *len))
    memcpy(&st, state, sizeof st);
  else
    sl_learn_init(&st);
  sl_learn_observe(&st, d->slots, d->nslots > SL_FB_SLOTS ? SL_FB_SLOTS : d->nslots, d->need, (uint64_t)now_s,
                   c->max_shift_per_hour, (double)c->evidence_half_life_ms / 1000);
  memcpy(state, &st, sizeof st);
  *len = sizeof st;
  return true;
}
