/* Shared health bookkeeping; see health_shm.h. Single fields are plain atomics (an EWMA
 * update lost to a concurrent writer costs nothing); the cooldown breaker's fields and
 * the rpm/tpm sliding windows change together under the deployment's tiny spinlock.
 * This file is the one owner of the deployments' health, their windows and the hedge
 * budget in shared memory. The windows use the same arithmetic (policy/ratelimit.h) and
 * the same clock (monotonic, sl_now_ms) as the keys' windows in core/tenancy.c. */
#include "core/health_shm.h"

#include <string.h>

#include "core/cluster_health.h"
#include "policy/hedge.h"
#include "policy/ratelimit.h"

_Static_assert(SL_SHM_SKETCH == SL_SKETCH_BUCKETS, "shared sketch and policy sketch must agree");

#define EWMA_TAU_MS 5000.0
#define SKETCH_MAX_TOTAL 4000

uint64_t sl_health_minute_left(void) { return SL_RATE_WINDOW_MS - sl_now_ms() % SL_RATE_WINDOW_MS; }

/* Copies between the shm window (plain fields under the lock) and policy's. */
static struct sl_rate_window win_get(const struct sl_shm_window *s) { return (struct sl_rate_window){s->minute, s->prev, s->cur}; }
static void win_put(struct sl_shm_window *s, const struct sl_rate_window *r) {
  s->minute = r->minute;
  s->prev = r->prev;
  s->cur = r->cur;
}

void sl_health_carry_windows(struct sl_shm_deployment *from, struct sl_shm_deployment *to) {
  sl_shm_lock(&from->lock);
  struct sl_shm_window req = from->req, tok = from->tok;
  sl_shm_unlock(&from->lock);
  sl_shm_lock(&to->lock);
  to->req = req;
  to->tok = tok;
  sl_shm_unlock(&to->lock);
}

void sl_health_snapshot(struct sl_worker *w, const struct sl_group *g, const bool *tried, bool stream,
                        struct sl_candidate *out) {
  uint64_t now = sl_now_ms();
  for (size_t i = 0; i < g->n; i++) {
    size_t di = g->deps[i];
    const struct sl_deployment *dep = &w->cfg->deployments[di];
    struct sl_shm_deployment *d = &w->shm->deployments[di];
    sl_shm_lock(&d->lock);
    struct sl_rate_window req = win_get(&d->req), tok = win_get(&d->tok);
    sl_shm_unlock(&d->lock);
    struct sl_candidate *c = &out[i];
    memset(c, 0, sizeof *c);
    c->weight = dep->weight;
    c->rpm = dep->rpm;
    c->tpm = dep->tpm;
    c->order = dep->order;
    c->input_cost = dep->input_cost_per_token;
    c->output_cost = dep->output_cost_per_token;
    c->max_input_tokens = dep->max_input_tokens;
    /* The EWMA decays while a deployment gets no traffic, so one that was slow is
     * tried again after a while instead of being shunned forever. */
    bool ttft = stream && atomic_load(&d->ewma_ttft_ms_bits) != 0;
    double e = sl_shm_bits_to_d(atomic_load(ttft ? &d->ewma_ttft_ms_bits : &d->ewma_ms_bits));
    uint64_t at = atomic_load(ttft ? &d->ewma_ttft_at_ms : &d->ewma_at_ms);
    c->ewma_ms = e > 0 && now > at ? sl_policy_ewma_decay(e, now - at, EWMA_TAU_MS) : e;
    c->inflight = atomic_load(&d->inflight);
    c->requests_this_minute = sl_policy_rate_estimate(&req, now); /* sliding: what admission sees */
    c->tokens_this_minute = sl_policy_rate_estimate(&tok, now);
    /* A deployment alone in its group is never cooled down (as in LiteLLM): refusing
     * would only turn the provider's own errors into 503s. */
    c->cooldown_until_ms = g->n > 1 ? atomic_load(&d->cooldown_until_ms) : 0;
    c->probe_busy = g->n > 1 && atomic_load(&d->probe_busy) != 0;
    c->excluded = tried && tried[i];
  }
}

bool sl_health_begin(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens) {
  const struct sl_deployment *cd = &w->cfg->deployments[dep];
  return sl_health_begin_limits(w, dep, probe, est_tokens, cd->rpm > 0 ? cd->rpm : -1, cd->tpm > 0 ? cd->tpm : -1);
}

bool sl_health_begin_limits(struct sl_worker *w, size_t dep, bool probe, int64_t est_tokens, int64_t rpm, int64_t tpm) {
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  if (probe) {
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong(&d->probe_busy, &z, 1)) return false;
  }
  /* The check and the count happen together under the lock, so no two workers can both
   * take the last request of a deployment's window. Unlimited (rpm/tpm <= 0) still
   * counts: usage-based routing reads the counts. Both windows are taken, or neither. */
  uint64_t now = sl_now_ms();
  sl_shm_lock(&d->lock);
  struct sl_rate_window req = win_get(&d->req), tok = win_get(&d->tok);
  bool ok = sl_policy_rate_take_pair(&req, rpm, &tok, tpm, est_tokens, now, NULL, NULL) == 0;
  if (ok) {
    win_put(&d->req, &req);
    win_put(&d->tok, &tok);
  }
  sl_shm_unlock(&d->lock);
  if (!ok) {
    if (probe) atomic_store(&d->probe_busy, 0);
    return false;
  }
  atomic_fetch_add(&d->inflight, 1);
  atomic_fetch_add(&d->requests, 1);
  return true;
}

static void ewma_update(_Atomic uint64_t *bits, _Atomic uint64_t *at, double sample, uint64_t now) {
  uint64_t prev_at = atomic_load(at);
  double prev = sl_shm_bits_to_d(atomic_load(bits));
  double v = sl_policy_ewma(prev, sample, prev_at ? now - prev_at : 0, EWMA_TAU_MS);
  atomic_store(bits, sl_shm_d_to_bits(v));
  atomic_store(at, now);
}

static void sketch_add(_Atomic uint32_t *sk, double ms) {
  atomic_fetch_add(&sk[sl_policy_sketch_bucket(ms)], 1);
  uint32_t snap[SL_SKETCH_BUCKETS];
  for (unsigned i = 0; i < SL_SKETCH_BUCKETS; i++) snap[i] = atomic_load(&sk[i]);
  if (sl_policy_sketch_should_decay(snap, SKETCH_MAX_TOTAL))
    for (unsigned i = 0; i < SL_SKETCH_BUCKETS; i++) atomic_store(&sk[i], snap[i] / 2);
}

void sl_health_end(struct sl_worker *w, size_t dep, bool probe, bool cancelled, bool ok,
                   enum sl_failure_kind kind, uint64_t retry_after_ms, double latency_ms, double ttft_ms) {
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  uint64_t now = sl_now_ms();
  atomic_fetch_sub(&d->inflight, 1);
  if (probe) atomic_store(&d->probe_busy, 0);
  if (cancelled) return;
  const struct sl_config *cfg = w->cfg;
  struct sl_cooldown_rules rules = {
    /* LiteLLM cools a deployment down when failures in a minute exceed allowed_fails. */
    .allowed_fails = (uint32_t)cfg->allowed_fails + 1,
    .cooldown_ms = (uint64_t)(cfg->cooldown_time_s * 1000.0),
    .max_cooldown_ms = cfg->cooldown_max_ms,
  };
  sl_shm_lock(&d->lock);
  struct sl_cooldown cd = {d->window_start_ms, d->fails_in_window, atomic_load(&d->cooldown_until_ms),
                           d->last_cooldown_ms, d->half_open};
  uint64_t was_until = cd.until_ms;
  if (ok) sl_policy_cooldown_ok(&cd, now);
  else sl_policy_cooldown_fail(&cd, &rules, kind, retry_after_ms, now);
  d->window_start_ms = cd.window_start_ms;
  d->fails_in_window = cd.fails_in_window;
  d->last_cooldown_ms = cd.last_cooldown_ms;
  d->half_open = cd.half_open;
  atomic_store(&d->cooldown_until_ms, cd.until_ms);
  sl_shm_unlock(&d->lock);
  if (cd.until_ms > now && cd.until_ms != was_until) atomic_fetch_add(&d->m.cooldowns, 1); /* entered a cooldown */
  if (w->cluster) { /* cluster mode: every host hears of it (core/cluster_health.c) */
    if (cd.until_ms > now && cd.until_ms != was_until)
      sl_cluster_health_cooldown(w, dep, cd.until_ms - now, cd.last_cooldown_ms, kind, probe);
    else if (probe && ok && was_until != 0 && was_until <= now && cd.until_ms == 0)
      sl_cluster_health_recovered(w, dep);
  }
  if (ok) {
    atomic_fetch_add(&d->successes, 1);
    if (latency_ms > 0) {
      ewma_update(&d->ewma_ms_bits, &d->ewma_at_ms, latency_ms, now);
      sketch_add(d->sketch, latency_ms);
    }
    if (ttft_ms > 0) {
      ewma_update(&d->ewma_ttft_ms_bits, &d->ewma_ttft_at_ms, ttft_ms, now);
      sketch_add(d->sketch_ttft, ttft_ms);
    }
  } else {
    atomic_fetch_add(&d->failures, 1);
    /* A failure is slow as far as latency routing is concerned. */
    if (latency_ms > 0) ewma_update(&d->ewma_ms_bits, &d->ewma_at_ms, latency_ms, now);
  }
}

bool sl_health_cooldown_extend(struct sl_worker *w, size_t dep, uint64_t until_ms, uint64_t len_ms) {
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  uint64_t now = sl_now_ms();
  bool longer = false;
  sl_shm_lock(&d->lock);
  if (until_ms > now && until_ms > atomic_load(&d->cooldown_until_ms)) {
    atomic_store(&d->cooldown_until_ms, until_ms);
    d->window_start_ms = now;
    d->fails_in_window = 0;
    d->half_open = false;
    if (len_ms > 0) d->last_cooldown_ms = len_ms;
    longer = true;
  }
  sl_shm_unlock(&d->lock);
  return longer;
}

bool sl_health_cooldown_clear(struct sl_worker *w, size_t dep, uint64_t max_until_ms) {
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  uint64_t now = sl_now_ms();
  bool cleared = false;
  sl_shm_lock(&d->lock);
  uint64_t until = atomic_load(&d->cooldown_until_ms);
  if (until != 0 && until <= max_until_ms) {
    atomic_store(&d->cooldown_until_ms, 0);
    d->last_cooldown_ms = 0;
    d->fails_in_window = 0;
    d->window_start_ms = now;
    d->half_open = false;
    cleared = true;
  }
  sl_shm_unlock(&d->lock);
  return cleared;
}

uint64_t sl_health_cooldown_until(struct sl_worker *w, size_t dep, uint64_t *len_ms) {
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  sl_shm_lock(&d->lock);
  uint64_t until = atomic_load(&d->cooldown_until_ms), len = d->last_cooldown_ms;
  sl_shm_unlock(&d->lock);
  if (len_ms) *len_ms = len;
  return until;
}

uint64_t sl_health_hedge_delay(struct sl_worker *w, size_t dep, bool stream) {
  const struct sl_hedging *h = &w->cfg->hedging;
  struct sl_shm_deployment *d = &w->shm->deployments[dep];
  uint32_t snap[SL_SKETCH_BUCKETS];
  _Atomic uint32_t *sk = stream ? d->sketch_ttft : d->sketch;
  for (unsigned i = 0; i < SL_SKETCH_BUCKETS; i++) snap[i] = atomic_load(&sk[i]);
  return sl_policy_hedge_delay_ms(h->delay_ms, snap, h->quantile, h->min_delay_ms);
}

void sl_health_hedge_deposit(struct sl_worker *w) {
  const struct sl_hedging *h = &w->cfg->hedging;
  int64_t cur = atomic_load(&w->shm->hedge_budget_milli);
  int64_t next = sl_policy_budget_deposit(cur, h->budget_ratio, h->budget_burst);
  while (next != cur && !atomic_compare_exchange_weak(&w->shm->hedge_budget_milli, &cur, next))
    next = sl_policy_budget_deposit(cur, h->budget_ratio, h->budget_burst);
}

int64_t sl_health_hedge_budget(struct sl_worker *w) { return atomic_load(&w->shm->hedge_budget_milli); }

bool sl_health_hedge_take(struct sl_worker *w) {
  int64_t cur = atomic_load(&w->shm->hedge_budget_milli);
  for (;;) {
    int64_t next = sl_policy_budget_withdraw(cur);
    if (next < 0) return false;
    if (atomic_compare_exchange_weak(&w->shm->hedge_budget_milli, &cur, next)) return true;
  }
}
