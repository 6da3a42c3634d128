/* Keys, limits, budgets and cost on the request path; see tenancy.h. Limits and
 * budgets are decided on shared-memory slots under each slot's spinlock, so every
 * worker sees one exact count; spend is added to monotonic totals that the spend
 * flusher moves to the LMDB ledger. Rate-limit windows are minutes of the monotonic
 * clock (sl_now_ms), as the deployments' windows in core/health_shm.c: CLOCK_MONOTONIC is
 * system-wide, so every worker and every reload generation agrees on "this minute", and
 * a wall-clock step (NTP, an operator) never opens or stretches a window. */
#include "core/tenancy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/cluster_admit.h"
#include "core/log.h"
#include "core/request_internal.h"
#include "policy/attempt_verdict.h"
#include "policy/cost.h"
#include "policy/prices.h"
#include "policy/ratelimit.h"
#include "store/keys.h"
#include "store/lmdb_env.h"
#include "store/spend.h"

void sl_tenancy_format_cost(int64_t micro, char out[32]) {
  if (micro < 0) { /* never on a response's path (costs saturate at 0 and up) */
    snprintf(out, 32, "%lld.%06lld", (long long)(micro / 1000000), (long long)(micro % 1000000));
    return;
  }
  size_t n = sl_fmt_u64((uint64_t)(micro / 1000000), out); /* on every response: no printf */
  char frac[24];
  size_t f = sl_fmt_u64((uint64_t)(micro % 1000000), frac);
  out[n++] = '.';
  for (size_t i = f; i < 6; i++) out[n++] = '0';
  memcpy(out + n, frac, f + 1);
}

/* ---- worker lifecycle ---- */

void sl_tenancy_open(struct sl_worker *w) {
  const struct sl_config *c = w->cfg;
  /* Prices come resolved in the plan (configured, else the built-in table). */
  w->prices = calloc(c->ndeployments ? c->ndeployments : 1, sizeof *w->prices);
  for (size_t i = 0; w->prices && i < c->ndeployments; i++) {
    const struct sl_plan_dep *pd = &c->plan->deps[i];
    w->prices[i] = pd->price;
    if (!pd->priced && w->index == 0 && !c->deployments[i].wild) /* a wildcard: priced per request */
      sl_log(SL_LOG_WARN, "deployment has no price: its requests cost 0", "\"deployment\":\"%s\",\"model\":\"%s\"",
             c->deployments[i].id, c->deployments[i].upstream_model);
  }
  for (size_t i = 0; i < w->ngroups; i++) {
    w->groups[i].spend_id = sl_spend_id_name(SL_SPEND_GROUP, w->groups[i].name, strlen(w->groups[i].name));
    if (w->shm) sl_shm_key_slot(w->shm, w->groups[i].spend_id); /* before keys can fill the table */
  }
  if (w->shm) sl_shm_key_slot(w->shm, SL_SPEND_ID_GATEWAY);
  /* The tenancy store (its own environment, apart from the cache: store/lmdb_env.h)
   * opens when something needs it: virtual keys, a budget. */
  if (c->master_key || c->max_budget > 0) {
    char msg[1024] = "", dir[4200];
    int rc = sl_lmdb_tenancy_dir(c->data_dir, dir, sizeof dir);
    if (!rc) rc = sl_lmdb_open(dir, SL_TENANCY_MAP_SIZE, SL_LMDB_TENANCY, &w->tenancy, msg, sizeof msg);
    if (rc) {
      sl_log(SL_LOG_ERROR, "tenancy store unavailable: virtual keys and the spend ledger are off",
             "\"worker\":%u,\"dir\":\"%s\",\"detail\":\"%s\"", w->index, dir, msg);
      w->tenancy = NULL;
    } else if (msg[0]) {
      sl_log(SL_LOG_WARN, "tenancy store", "\"worker\":%u,\"detail\":\"%s\"", w->index, msg);
    }
  }
  if (!w->tenancy) return;
  if (c->master_key && sl_keys_open(w->tenancy, &w->keys)) w->keys = NULL;
  if (sl_spend_flusher_start(w->tenancy, w->shm, 1000, &w->flusher)) w->flusher = NULL;
}

void sl_tenancy_close(struct sl_worker *w) {
  if (w->flusher) sl_spend_flusher_stop(w->flusher); /* a final flush */
  if (w->keys) sl_keys_close(w->keys);
  if (w->tenancy) sl_lmdb_close(w->tenancy);
  w->flusher = NULL;
  w->keys = NULL;
  w->tenancy = NULL;
  free(w->prices);
  w->prices = NULL;
}

/* ---- authentication ---- */

/* Constant-time comparison: time depends only on the length of the expected key. */
static bool key_matches(struct sl_slice given, const char *expected) {
  size_t n = strlen(expected);
  unsigned char diff = given.n != n;
  for (size_t i = 0; i < n; i++) diff |= (unsigned char)(expected[i] ^ (i < given.n ? given.p[i] : 0));
  return diff == 0;
}

static bool bearer_token(const struct sl_http_request *hr, struct sl_slice *out) {
  const struct sl_header *a = sl_http_header_find(hr->headers, hr->nheaders, "authorization");
  if (a && a->value.n > 7 && strncasecmp(a->value.p, "bearer ", 7) == 0) {
    *out = (struct sl_slice){a->value.p + 7, a->value.n - 7};
    while (out->n && out->p[0] == ' ') { out->p++; out->n--; }
    return true;
  }
  const struct sl_header *x = sl_http_header_find(hr->headers, hr->nheaders, "x-api-key");
  if (!x) x = sl_http_header_find(hr->headers, hr->nheaders, "api-key");
  if (!x) return false;
  *out = x->value;
  return true;
}

int sl_tenancy_authenticate(struct sl_worker *w, const struct sl_http_request *hr, struct sl_key_record **key,
                            const char **why) {
  *key = NULL;
  const char *mk = w->cfg->master_key;
  if (!mk) return 0;
  struct sl_slice tok;
  *why = "Authentication error: missing API key. Pass it as 'Authorization: Bearer <key>'.";
  if (!bearer_token(hr, &tok) || tok.n == 0) return -1;
  if (key_matches(tok, mk)) return 0;
  *why = "Authentication error: invalid API key.";
  if (!w->keys || tok.n < 3 || memcmp(tok.p, "sk-", 3) != 0) return -1;
  struct sl_key_record *r = calloc(1, sizeof *r);
  if (!r) return -1;
  if (sl_keys_lookup(w->keys, tok.p, tok.n, r)) {
    free(r);
    return -1;
  }
  int chk = sl_key_check(r, (int64_t)time(NULL));
  if (chk) {
    *why = chk == -EKEYEXPIRED ? "Authentication error: this key has expired."
                               : "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.";
    sl_key_record_free(r);
    free(r);
    return -1;
  }
  *key = r;
  return 0;
}

const char *sl_tenancy_key_alias(const struct sl_key_record *k, const char *model, char *buf, size_t n) {
  if (!k || !k->aliases[0]) return model;
  cJSON *a = cJSON_Parse(k->aliases);
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(a, model);
  const char *out = model;
  if (cJSON_IsString(to) && strlen(to->valuestring) < n) {
    memcpy(buf, to->valuestring, strlen(to->valuestring) + 1);
    out = buf;
  }
  cJSON_Delete(a);
  return out;
}

int sl_tenancy_models_json(const struct sl_worker *w, const struct sl_key_record *k, char **out, size_t *n) {
  cJSON *root = cJSON_Parse(w->models_json);
  cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  if (!cJSON_IsArray(data)) {
    cJSON_Delete(root);
    return -1;
  }
  for (cJSON *m = data->child, *next; m; m = next) {
    next = m->next;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (!k || !cJSON_IsString(id)) continue;
    const char *name = id->valuestring;
    const struct sl_group *g = sl_worker_group(w, name);
    if (!g) g = sl_plan_match(w->cfg->plan, name); /* a name a pattern serves: its group, as the request path */
    bool ok = sl_key_allows_model(k, name, strlen(name)) || (g && sl_key_allows_model(k, g->name, strlen(g->name)));
    if (!ok) cJSON_Delete(cJSON_DetachItemViaPointer(data, m));
  }
  *out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!*out) return -1;
  *n = strlen(*out);
  return 0;
}

/* ---- budgets and limits ---- */

static int64_t micro_to_pico(int64_t micro) {
  int64_t r;
  if (micro <= 0) return 0;
  return __builtin_mul_overflow(micro, (int64_t)1000000, &r) ? INT64_MAX : r;
}

/* The slot's current-period spend in pico-USD, loaded from the ledger (micro-USD) the
 * first time this region sees the payer, and restarted when a new budget period
 * begins. */
static int64_t period_spend(struct sl_worker *w, struct sl_shm_key *s, enum sl_spend_kind kind, uint64_t id,
                            int64_t period_start) {
  if (atomic_load(&s->loaded) && (int64_t)atomic_load(&s->period_start) == period_start)
    return atomic_load(&s->period_spend_pico);
  sl_shm_lock(&s->lock);
  if (!atomic_load(&s->loaded) || (int64_t)atomic_load(&s->period_start) != period_start) {
    int64_t m = 0;
    if (atomic_load(&s->loaded) && period_start > (int64_t)atomic_load(&s->period_start)) {
      m = 0; /* a new period begins */
    } else if (w->tenancy) {
      sl_spend_period_load(w->tenancy, kind, id, period_start, &m);
      m = micro_to_pico(sl_policy_add_sat(m, atomic_load(&s->spend_total_micro) - atomic_load(&s->spend_flushed_micro)));
    }
    atomic_store(&s->period_spend_pico, m);
    atomic_store(&s->period_start, (uint64_t)period_start);
    atomic_store(&s->loaded, 1);
  }
  sl_shm_unlock(&s->lock);
  return atomic_load(&s->period_spend_pico);
}

/* The gateway budget's current period: budget_duration compiled to seconds at load (a bad
 * one is a startup error); 0 seconds: one period forever. */
static int64_t gateway_period_start(const struct sl_config *c, int64_t now) {
  int64_t d = c->plan->budget_period_s;
  return d > 0 ? now - now % d : 0;
}

static void table_full(struct sl_worker *w, struct sl_admit_verdict *v, const char *who) {
  static bool told;
  size_t max = w->shm->nkeys / 2;
  if (!told) sl_log(SL_LOG_ERROR, "key table full: payers that are not in it yet are refused (raise sluice_settings.max_keys)",
                    "\"payer\":\"%s\",\"max_keys\":%zu", who, max);
  told = true;
  v->kind = SL_ADMIT_TABLE_FULL;
  v->retry_after_s = 60;
  snprintf(v->msg, sizeof v->msg,
           "sluice cannot track more virtual keys: its limiter table is full (sluice_settings.max_keys = %zu). "
           "Ask the operator to raise max_keys.", max);
}

static void budget_exceeded(struct sl_admit_verdict *v, const char *who, int64_t spent_pico, double max) {
  char s[32];
  /* shown in micro-USD rounded up: a spend above a tiny budget never reads as 0 */
  sl_tenancy_format_cost(spent_pico / 1000000 + (spent_pico % 1000000 != 0), s);
  v->kind = SL_ADMIT_BUDGET;
  snprintf(v->msg, sizeof v->msg, "Budget has been exceeded: %s spent %s USD of max_budget %.12g USD", who, s, max);
}

/* Copies between the shm window (plain fields under the slot lock) and policy's. */
static struct sl_rate_window win_get(const struct sl_shm_window *s) { return (struct sl_rate_window){s->minute, s->prev, s->cur}; }
static void win_put(struct sl_shm_window *s, const struct sl_rate_window *r) {
  s->minute = r->minute;
  s->prev = r->prev;
  s->cur = r->cur;
}

static void rl_headers(struct sl_buf *b, const char *what, int64_t limit, const struct sl_rate_window *rw, uint64_t now) {
  char reset[32];
  sl_policy_rate_format_duration(sl_policy_rate_reset_ms(rw, now), reset, sizeof reset);
  sl_buf_printf(b, "x-ratelimit-limit-%s: %lld\r\nx-ratelimit-remaining-%s: %lld\r\nx-ratelimit-reset-%s: %s\r\n", what,
                (long long)limit, what, (long long)sl_policy_rate_remaining(rw, limit, now), what, reset);
}

int64_t sl_tenancy_max_output(const cJSON *body, int64_t dflt, int64_t cap) {
  static const char *const names[] = {"max_completion_tokens", "max_tokens", "max_output_tokens"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, names[i]);
    if (!cJSON_IsNumber(m)) continue;
    if (!(m->valuedouble > 0)) return dflt;
    return m->valuedouble < (double)cap ? (int64_t)m->valuedouble : cap;
  }
  return dflt;
}

int64_t sl_tenancy_tpm_estimate(const struct sl_key_record *k, const struct sl_admit_ask *a) {
  int64_t est = a->est_tokens + sl_tenancy_max_output(a->body, 1024, (int64_t)1e12);
  if (k && k->tpm_limit > 0 && est > k->tpm_limit) est = k->tpm_limit; /* one request may use the whole minute */
  return est;
}

int64_t sl_tenancy_gateway_period(const struct sl_worker *w, int64_t now_unix) {
  return gateway_period_start(w->cfg, now_unix);
}

int64_t sl_tenancy_local_spend_micro(struct sl_worker *w, const struct sl_key_record *k, int64_t period_start) {
  uint64_t id = k ? k->id : SL_SPEND_ID_GATEWAY;
  struct sl_shm_key *s = w->shm ? sl_shm_key_slot(w->shm, id) : NULL;
  if (!s) return 0;
  int64_t pico = period_spend(w, s, k ? SL_SPEND_KEY : SL_SPEND_GATEWAY, id, period_start);
  return pico / 1000000 + (pico % 1000000 != 0);
}

int64_t sl_tenancy_host_spend_micro(struct sl_worker *w, uint64_t id, bool gateway, int64_t *period) {
  struct sl_shm_key *s = w->shm ? sl_shm_key_find(w->shm, id) : NULL;
  int64_t pico = -1, unflushed = 0;
  if (s) {
    sl_shm_lock(&s->lock);
    if (atomic_load(&s->loaded)) {
      int64_t at = (int64_t)atomic_load(&s->period_start);
      if (at >= *period) {
        pico = atomic_load(&s->period_spend_pico);
        *period = at;
      } else {
        pico = 0; /* the slot is of an older period: nothing spent in this one yet */
      }
    } else {
      unflushed = atomic_load(&s->spend_total_micro) - atomic_load(&s->spend_flushed_micro);
    }
    sl_shm_unlock(&s->lock);
  }
  if (pico < 0) { /* not loaded here: the ledger's (as period_spend would load it) */
    int64_t m = 0;
    if (w->tenancy) sl_spend_period_load(w->tenancy, gateway ? SL_SPEND_GATEWAY : SL_SPEND_KEY, id, *period, &m);
    pico = micro_to_pico(sl_policy_add_sat(m, unflushed > 0 ? unflushed : 0));
  }
  return pico / 1000000 + (pico % 1000000 != 0);
}

void sl_tenancy_rl_headers(struct sl_buf *b, const char *what, int64_t limit, const struct sl_rate_window *rw,
                           uint64_t now_ms) {
  rl_headers(b, what, limit, rw, now_ms);
}

void sl_tenancy_budget_refusal(struct sl_admit_verdict *v, const char *who, int64_t spent_micro, double max) {
  budget_exceeded(v, who, micro_to_pico(spent_micro), max);
}

void sl_tenancy_count_local(struct sl_worker *w, const struct sl_admit_ask *a, struct sl_tenancy_hold *hold) {
  const struct sl_key_record *k = a->key;
  struct sl_shm_key *s = hold->key_slot;
  if (!k || !s || (k->rpm_limit <= 0 && k->tpm_limit <= 0)) return;
  uint64_t nowms = sl_now_ms();
  int64_t est = sl_tenancy_tpm_estimate(k, a);
  sl_shm_lock(&s->lock);
  struct sl_rate_window req = win_get(&s->req), tok = win_get(&s->tok);
  sl_policy_rate_take_pair(&req, k->rpm_limit > 0 ? -1 : 0, &tok, k->tpm_limit > 0 ? -1 : 0, est, nowms, NULL, NULL);
  win_put(&s->req, &req);
  win_put(&s->tok, &tok);
  sl_shm_unlock(&s->lock);
  if (k->tpm_limit > 0) {
    hold->tpm_reserved = est;
    hold->tpm_taken_ms = nowms;
  }
}

/* A limit as this host enforces it: the whole of it, or (degraded) its share. */
static int64_t share(const struct sl_admit_ask *a, int64_t limit) {
  unsigned n = a->share_hosts > 1 ? a->share_hosts : 1;
  return limit <= 0 ? limit : limit / n + (limit % n != 0);
}

static void budget_unverifiable(struct sl_admit_verdict *v, const char *who, double max) {
  v->kind = SL_ADMIT_BUDGET;
  v->retry_after_s = 1;
  snprintf(v->msg, sizeof v->msg,
           "Budget cannot be verified: the cluster's shared state (Redis) is unreachable and "
           "fail_closed_budget_enforcement is on, so %s (max_budget %.12g USD) is refused until it returns",
           who, max);
}

void sl_tenancy_admit(struct sl_worker *w, const struct sl_admit_ask *a, struct sl_tenancy_hold *hold,
                      struct sl_buf *rl_hdrs, struct sl_admit_verdict *v) {
  memset(v, 0, sizeof *v);
  const struct sl_config *c = w->cfg;
  bool pre = a->stage != SL_ADMIT_LIMITS, limits = a->stage != SL_ADMIT_PRE;
  int64_t now = (int64_t)time(NULL);
  if (c->max_budget > 0) {
    struct sl_shm_key *g = sl_shm_key_slot(w->shm, SL_SPEND_ID_GATEWAY); /* claimed at start */
    if (!g) { /* only with a max_keys below the number of groups: never serve unlimited */
      table_full(w, v, "the gateway");
      return;
    }
    if (limits && a->budget_unverifiable) {
      budget_unverifiable(v, "the gateway", c->max_budget);
      return;
    }
    int64_t spent = limits ? period_spend(w, g, SL_SPEND_GATEWAY, SL_SPEND_ID_GATEWAY, gateway_period_start(c, now)) : 0;
    if (limits && spent >= sl_policy_budget_pico(c->max_budget)) {
      budget_exceeded(v, "the gateway", spent, c->max_budget);
      return;
    }
  }
  const struct sl_key_record *k = a->key;
  if (!k) return;
  const char *asked = a->model ? a->model : a->group->name;
  if (pre && !sl_key_allows_model(k, asked, strlen(asked)) &&
      !sl_key_allows_model(k, a->group->name, strlen(a->group->name))) {
    v->kind = SL_ADMIT_FORBIDDEN;
    snprintf(v->msg, sizeof v->msg, "This key is not allowed to access model=%.200s", asked);
    return;
  }
  struct sl_shm_key *s = hold->key_slot = sl_shm_key_slot(w->shm, k->id);
  if (!s) { /* table full: a key is never served without its limits and spend accounting */
    table_full(w, v, k->display);
    return;
  }
  if (limits && k->max_budget > 0) {
    if (a->budget_unverifiable) {
      budget_unverifiable(v, k->key_alias[0] ? k->key_alias : k->display, k->max_budget);
      return;
    }
    int64_t spent = period_spend(w, s, SL_SPEND_KEY, k->id, sl_key_period_start(k, now));
    if (spent >= sl_policy_budget_pico(k->max_budget)) {
      budget_exceeded(v, k->key_alias[0] ? k->key_alias : k->display, spent, k->max_budget);
      return;
    }
  }
  if (pre && k->max_parallel_requests > 0) { /* released in sl_tenancy_account */
    int64_t n = atomic_fetch_add(&s->inflight, 1) + 1;
    if (n > k->max_parallel_requests) {
      atomic_fetch_sub(&s->inflight, 1);
      v->kind = SL_ADMIT_PARALLEL;
      v->retry_after_s = 1;
      snprintf(v->msg, sizeof v->msg,
                             "Max parallel request limit reached for key %s: %lld requests in flight "
                             "(max_parallel_requests)",
                             k->key_alias[0] ? k->key_alias : k->display, (long long)k->max_parallel_requests);
      return;
    }
    hold->parallel_taken = true;
  }
  if (!limits || (k->rpm_limit <= 0 && k->tpm_limit <= 0)) return;
  uint64_t nowms = sl_now_ms(), ra = 0;
  int64_t est = sl_tenancy_tpm_estimate(k, a);
  int64_t rpm = share(a, k->rpm_limit), tpm = share(a, k->tpm_limit);
  if (tpm > 0 && est > tpm) est = tpm; /* a share below one request's estimate still admits one */
  const char *denied = NULL;
  enum sl_rate_denied which;
  sl_shm_lock(&s->lock);
  struct sl_rate_window req = win_get(&s->req), tok = win_get(&s->tok);
  /* the same arithmetic as a deployment's (core/health_shm.c); a limit <= 0 is not counted */
  if (sl_policy_rate_take_pair(&req, rpm > 0 ? rpm : 0, &tok, tpm > 0 ? tpm : 0, est, nowms, &ra, &which))
    denied = which == SL_RATE_DENIED_REQUESTS ? "rpm_limit" : "tpm_limit";
  if (!denied) {
    win_put(&s->req, &req);
    win_put(&s->tok, &tok);
    if (k->tpm_limit > 0) {
      hold->tpm_reserved = est;
      hold->tpm_taken_ms = nowms;
    }
  }
  sl_shm_unlock(&s->lock);
  if (k->rpm_limit > 0) rl_headers(rl_hdrs, "requests", rpm, &req, nowms);
  if (k->tpm_limit > 0) rl_headers(rl_hdrs, "tokens", tpm, &tok, nowms);
  if (denied) {
    v->kind = SL_ADMIT_RATE;
    v->retry_after_s = sl_policy_rate_retry_after_s(ra);
    if (a->share_hosts > 1)
      snprintf(v->msg, sizeof v->msg,
               "Rate limit exceeded for key %s: %s %lld per minute (this host's share %lld of %u live hosts: the "
               "cluster's shared state is unreachable)",
               k->key_alias[0] ? k->key_alias : k->display, denied,
               (long long)(denied[0] == 'r' ? k->rpm_limit : k->tpm_limit), (long long)(denied[0] == 'r' ? rpm : tpm),
               a->share_hosts);
    else
      snprintf(v->msg, sizeof v->msg, "Rate limit exceeded for key %s: %s %lld per minute",
                           k->key_alias[0] ? k->key_alias : k->display, denied,
                           (long long)(denied[0] == 'r' ? k->rpm_limit : k->tpm_limit));
  }
}

/* ---- cost ---- */

/* An attempt that was sent and then cut off (a lost hedge, a timeout, a client that
 * left) has consumed at least the prompt; one that was refused consumed nothing. Policy
 * decides (sl_policy_attempt_billed). */
static bool consumed(const struct sl_attempt *at) {
  return sl_policy_attempt_billed(at->has_usage, at->status, at->head, at->outcome);
}

void sl_tenancy_cost(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  rq->tokens_in = rq->tokens_out = rq->cost_micro = rq->cost_pico = 0;
  if (rq->route == SL_R_COUNT_TOKENS) return; /* free at the provider: nothing consumed */
  for (int i = 0; i < rq->natt; i++) {
    struct sl_attempt *at = rq->att[i];
    if (!consumed(at)) continue;
    struct sl_usage u = at->usage;
    struct sl_tokens t = {u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cache_write_tokens};
    bool believed = at->has_usage && sl_policy_tokens_plausible(&t);
    if (at->has_usage && !believed) rq->usage_implausible = true; /* absurd usage: estimate instead */
    if (!believed) {
      memset(&u, 0, sizeof u);
      u.prompt_tokens = rq->est_tokens;
      if (at->uf) u.completion_tokens = sl_usage_estimate_from_chars(at->uf->out_chars, at->uf->out_deltas);
      u.estimated = true;
      t = (struct sl_tokens){u.prompt_tokens, u.completion_tokens, 0, 0};
    }
    if (w->prices) {
      const struct sl_price *pr = sl_attempt_price(at); /* a wildcard's: its request's model's */
      rq->cost_micro = sl_policy_add_sat(rq->cost_micro, sl_policy_cost_micro_tokens(&t, pr));
      rq->cost_pico = sl_policy_add_sat(rq->cost_pico, sl_policy_cost_pico_tokens(&t, pr));
    }
    rq->tokens_in = sl_policy_add_sat(rq->tokens_in, t.prompt);
    rq->tokens_out = sl_policy_add_sat(rq->tokens_out, t.completion);
    rq->usage_estimated |= u.estimated;
  }
}

/* *a += v, saturating at INT64_MAX (v >= 0). */
static void atomic_add_sat(_Atomic int64_t *a, int64_t v) {
  int64_t cur = atomic_load(a);
  while (!atomic_compare_exchange_weak(a, &cur, sl_policy_add_sat(cur, v))) {
  }
}

static void add_spend(struct sl_shm_key *s, int64_t micro, int64_t pico) {
  if (!s || pico <= 0) return;
  if (micro > 0) atomic_add_sat(&s->spend_total_micro, micro);
  atomic_add_sat(&s->period_spend_pico, pico);
}

void sl_tenancy_account(struct sl_worker *w, struct sl_tenancy_hold *hold, const struct sl_request_summary *s) {
  if (hold->accounted) return;
  hold->accounted = true;
  if (hold->parallel_taken && hold->key_slot) atomic_fetch_sub(&hold->key_slot->inflight, 1);
  hold->parallel_taken = false;
  if (s->attempts != 0 || hold->tpm_reserved) {
    if (s->cost_pico > 0) {
      add_spend(hold->key_slot, s->cost_micro, s->cost_pico);
      if (s->group) add_spend(sl_shm_key_slot(w->shm, s->group_spend_id), s->cost_micro, s->cost_pico);
      add_spend(sl_shm_key_slot(w->shm, SL_SPEND_ID_GATEWAY), s->cost_micro, s->cost_pico);
    }
    if (hold->key_slot && hold->tpm_reserved) { /* replace the reservation by what was used */
      sl_shm_lock(&hold->key_slot->lock);
      struct sl_rate_window tok = win_get(&hold->key_slot->tok);
      sl_policy_rate_settle(&tok, hold->tpm_taken_ms, hold->tpm_reserved, s->tokens_in + s->tokens_out, sl_now_ms());
      win_put(&hold->key_slot->tok, &tok);
      sl_shm_unlock(&hold->key_slot->lock);
    }
  }
  /* cluster mode: Redis's share of it, after the spend is in this host's slots (settlement
   * writes this host's spend of the period, not a delta) */
  if (hold->cl.mode) sl_cluster_admit_settle(w, hold, s);
}
