/* Prometheus metrics: counting finished requests into the shared-memory region and
 * rendering the text exposition format (0.0.4) at GET /metrics.
 *
 * The one idea: the counters are not per worker at all. Every worker adds with relaxed
 * atomics to the same `struct sl_shm_metrics` of the deployment that answered, so the
 * numbers any worker renders already are the sums over all workers; counting a request
 * costs a dozen atomic adds and no allocation. Rendering (rare) snapshots the counters
 * first, then writes every family from the snapshot, so a histogram's +Inf bucket always
 * equals its _count.
 *
 * Where a request is counted:
 *  - it reached a deployment (the winner, else its last attempt): deployments[dep].m,
 *    labelled with that deployment's own group (after a fallback: the fallback group);
 *  - it reached none but has a model group (cache hits, single-flight followers, 429s
 *    and 503s decided before any attempt, client gone before routing): groups[g] with
 *    g = its index in w->groups (the first SL_SHM_MAX_WORKERS groups), rendered with
 *    deployment="";
 *  - it has no group (404, 405, 401, bad JSON, unknown model, health, /v1/models,
 *    /metrics itself): not counted in these families (the per-worker `requests` slot
 *    still sees it).
 * Label values: group = model_name, deployment = model_info.id; status_class 2xx, 4xx
 * (499 "client closed" included), 5xx, other; cache none, miss, hit, bypass.
 * Retries are attempts beyond the first that were not hedges (a fallback attempt is a
 * retry too); rate_limited counts 429s that sluice produced itself (its limits and
 * budgets), not a provider's 429 passed through. TTFT is the first response byte of
 * the winning upstream stream after the request arrived (what health.c tracks).
 * `cooldowns` is incremented by core/health_shm.c when a deployment enters a cooldown;
 * connections_open sums what each worker last published in its shared slot (the
 * rendering worker refreshes its own first). */
#include "core/metrics.h"
#include "core/cluster.h"
#include "core/router.h"
#include "core/trace.h"
#include "core/gcp_token.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/health_shm.h"
#include "core/summary.h"
#include "core/worker.h"
#include "net/http_server.h"
#include "store/cache.h"
#include "store/keys.h"
#include "core/cluster_cache.h"
#include "core/cluster_health.h"

/* Upper bounds of the latency buckets in milliseconds (the last one is +Inf) and the
 * same bounds as rendered in `le` (seconds). */
static const uint64_t bucket_ms[SL_SHM_LAT_BUCKETS - 1] = {
  5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000,
};
static const char *const bucket_le[SL_SHM_LAT_BUCKETS] = {
  "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "+Inf",
};
/* The overhead histogram (sluice's own time: the request's total minus the winner's time
 * on the provider). The request clocks tick in milliseconds, so the finest bucket that
 * can tell values apart is 1 ms; the bounds below 0.001 s are kept so the family has the
 * fine shape Grafana panels expect, and a 0 ms overhead lands in le="0.0005". */
static const uint64_t ovh_bucket_us[SL_SHM_OVH_BUCKETS - 1] = {
  100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
};
static const char *const ovh_le[SL_SHM_OVH_BUCKETS] = {
  "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "+Inf",
};
/* Status codes counted one by one (slots 0..15); others by class (16..19). */
static const int status_codes[16] = {200, 201, 204, 400, 401, 403, 404, 408, 413, 422, 429, 499, 500, 502, 503, 504};
static const char *const status_other[4] = {"2xx", "4xx", "5xx", "other"};
_Static_assert(16 + 4 == SL_SHM_STATUS_SLOTS, "status slots");
static const char *const sc_names[SL_SC_N] = {"2xx", "4xx", "5xx", "other"};
static const char *const cr_names[SL_CR_N] = {"none", "miss", "hit", "bypass"};

#define ADD(field, v) atomic_fetch_add_explicit(&(field), (uint64_t)(v), memory_order_relaxed)
#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)

/* A counter that must not wrap (cost: a price bug could make it grow fast): saturates. */
static void add_sat(_Atomic uint64_t *c, uint64_t v) {
  uint64_t cur = LOAD(*c), nv;
  do {
    nv = cur > UINT64_MAX - v ? UINT64_MAX : cur + v;
  } while (!atomic_compare_exchange_weak_explicit(c, &cur, nv, memory_order_relaxed, memory_order_relaxed));
}

/* ---- counting ---- */

static unsigned bucket_of(uint64_t ms) {
  unsigned i = 0;
  while (i < SL_SHM_LAT_BUCKETS - 1 && ms > bucket_ms[i]) i++;
  return i;
}

static unsigned status_slot(int status) {
  for (unsigned i = 0; i < 16; i++)
    if (status_codes[i] == status) return i;
  if (status >= 200 && status < 300) return 16;
  if (status >= 400 && status < 500) return 17;
  if (status >= 500 && status < 600) return 18;
  return 19;
}

static unsigned status_class(int status) {
  if (status >= 200 && status < 300) return SL_SC_2XX;
  if (status >= 400 && status < 500) return SL_SC_4XX; /* 499: client closed */
  if (status >= 500 && status < 600) return SL_SC_5XX;
  return SL_SC_OTHER;
}

static unsigned cache_result(enum sl_cache_state cs) {
  switch (cs) {
  case SL_CS_MISS: return SL_CR_MISS;
  case SL_CS_HIT:
  case SL_CS_SEMANTIC: return SL_CR_HIT;
  case SL_CS_BYPASS: return SL_CR_BYPASS;
  default: return SL_CR_NONE;
  }
}

/* A 429 that sluice produced itself (limits, budgets, every deployment at its rpm/tpm),
 * as opposed to a provider's 429 passed through as it came. */
static bool own_rate_limit(const struct sl_request_summary *s) {
  return s->status == 429 && s->err != SL_ERR_UPSTREAM_ERROR;
}

static struct sl_shm_metrics *series_of(struct sl_worker *w, const struct sl_request_summary *rs) {
  struct sl_shm *s = w->shm;
  if (rs->deployment_index >= 0 && (size_t)rs->deployment_index < s->ndeployments &&
      (size_t)rs->deployment_index < w->cfg->ndeployments)
    return &s->deployments[rs->deployment_index].m;
  if (rs->group_index >= 0 && rs->group_index < SL_SHM_MAX_WORKERS) return &s->groups[rs->group_index];
  return NULL;
}

/* A key with a budget, noted for litellm_remaining_api_key_budget_metric: its slot in
 * the bounded table is claimed by id on its first request (table full: not shown). */
static void note_budget_key(struct sl_shm *s, const struct sl_key_record *k) {
  if (!k->id) return;
  bool has = k->max_budget > 0; /* a budget removed since: its entry stays, not rendered */
  double max = has ? k->max_budget : 0.0;
  uint64_t bits;
  memcpy(&bits, &max, sizeof bits);
  for (unsigned n = 0; n < SL_SHM_BUDGET_KEYS; n++) {
    struct sl_shm_budget_key *e = &s->budget_keys[(k->id + n) % SL_SHM_BUDGET_KEYS];
    uint64_t id = atomic_load(&e->id);
    if (id == k->id) {
      atomic_store(&e->max_budget_bits, bits);
      return;
    }
    if (id) continue;
    if (!has) return; /* never had an entry: none needed */
    uint64_t zero = 0;
    if (!atomic_compare_exchange_strong(&e->id, &zero, k->id)) {
      if (zero == k->id) atomic_store(&e->max_budget_bits, bits);
      if (zero == k->id) return;
      continue;
    }
    memcpy(e->hash, k->hash, sizeof e->hash);
    snprintf(e->alias, sizeof e->alias, "%s", k->key_alias ? k->key_alias : "");
    atomic_store(&e->max_budget_bits, bits);
    atomic_store(&e->ready, 1);
    return;
  }
}

void sl_metrics_request_done(struct sl_worker *w, const struct sl_request_summary *rs) {
  if (!w || !w->shm || !rs) return;
  struct sl_shm_metrics *m = series_of(w, rs);
  if (!m) return;
  ADD(m->requests[status_class(rs->status)][cache_result(rs->cache)], 1);

  uint64_t lat = rs->t_end_ms > rs->t0_ms ? rs->t_end_ms - rs->t0_ms : 0;
  ADD(m->latency_bucket[bucket_of(lat)], 1);
  ADD(m->latency_count, 1);
  ADD(m->latency_sum_us, lat * 1000);

  if (rs->t_first_ms) { /* a streamed answer's first byte */
    uint64_t ttft = rs->t_first_ms > rs->t0_ms ? rs->t_first_ms - rs->t0_ms : 0;
    ADD(m->ttft_bucket[bucket_of(ttft)], 1);
    ADD(m->ttft_count, 1);
    ADD(m->ttft_sum_us, ttft * 1000);
  }

  ADD(m->status_code[status_slot(rs->status)], 1);
  if (rs->has_upstream_ms) { /* the winner's time on the provider, and the rest */
    uint64_t up = rs->upstream_ms;
    ADD(m->upstream_bucket[bucket_of(up)], 1);
    ADD(m->upstream_count, 1);
    ADD(m->upstream_sum_us, up * 1000);
    uint64_t ovh_us = (lat > up ? lat - up : 0) * 1000;
    unsigned i = 0;
    while (i < SL_SHM_OVH_BUCKETS - 1 && ovh_us > ovh_bucket_us[i]) i++;
    ADD(m->overhead_bucket[i], 1);
    ADD(m->overhead_count, 1);
    ADD(m->overhead_sum_us, ovh_us);
  }
  if (rs->fallback && rs->status >= 200 && rs->status < 300 && rs->group_index >= 0 &&
      rs->group_index < SL_SHM_FALLBACK_FROM)
    ADD(m->fallback_ok_from[rs->group_index], 1);
  if (w->cfg && w->cfg->metrics.litellm_names && rs->key_record) note_budget_key(w->shm, rs->key_record);

  if (rs->tokens_in > 0) ADD(m->tokens_in, rs->tokens_in);
  if (rs->tokens_out > 0) ADD(m->tokens_out, rs->tokens_out);
  if (rs->cost_micro > 0) add_sat(&m->cost_micro_usd, (uint64_t)rs->cost_micro);
  if (rs->usage_implausible) ADD(m->usage_implausible, 1);
  int retries = rs->attempts - 1 - rs->hedges_fired;
  if (retries > 0) ADD(m->retries, retries);
  if (rs->fallback) ADD(m->fallbacks, 1);
  if (rs->hedges_fired > 0) ADD(m->hedges_fired, rs->hedges_fired);
  if (rs->hedge_won) ADD(m->hedges_won, 1);
  if (own_rate_limit(rs)) ADD(m->rate_limited, 1);
  if (rs->err == SL_ERR_RESIDENCY_UNAVAILABLE || rs->err == SL_ERR_REGION_NOT_PERMITTED) ADD(m->residency_refused, 1);
}

/* ---- rendering ---- */

/* A plain copy of one series' counters. */
struct snap {
  uint64_t requests[SL_SC_N][SL_CR_N];
  uint64_t lat[SL_SHM_LAT_BUCKETS], lat_sum_us;
  uint64_t ttft[SL_SHM_LAT_BUCKETS], ttft_sum_us;
  uint64_t tokens_in, tokens_out, cost_micro;
  uint64_t retries, fallbacks, hedges_fired, hedges_won, cooldowns, rate_limited, usage_implausible;
  uint64_t region_outside_preferred, residency_refused;
  uint64_t up[SL_SHM_LAT_BUCKETS], up_sum_us, ovh[SL_SHM_OVH_BUCKETS], ovh_sum_us;
  uint64_t status_code[SL_SHM_STATUS_SLOTS], fallback_ok_from[SL_SHM_FALLBACK_FROM];
  uint64_t total; /* requests summed */
};

/* One rendered series: its labels and its counters. */
struct series {
  const char *group, *deployment;
  size_t dep;     /* deployment index, or SIZE_MAX for a group-level series */
  struct snap s;
};

static void take(struct snap *o, struct sl_shm_metrics *m) {
  memset(o, 0, sizeof *o);
  for (unsigned a = 0; a < SL_SC_N; a++)
    for (unsigned b = 0; b < SL_CR_N; b++) o->total += o->requests[a][b] = LOAD(m->requests[a][b]);
  for (unsigned i = 0; i < SL_SHM_LAT_BUCKETS; i++) {
    o->lat[i] = LOAD(m->latency_bucket[i]);
    o->ttft[i] = LOAD(m->ttft_bucket[i]);
  }
  o->lat_sum_us = LOAD(m->latency_sum_us);
  o->ttft_sum_us = LOAD(m->ttft_sum_us);
  o->tokens_in = LOAD(m->tokens_in);
  o->tokens_out = LOAD(m->tokens_out);
  o->cost_micro = LOAD(m->cost_micro_usd);
  o->retries = LOAD(m->retries);
  o->fallbacks = LOAD(m->fallbacks);
  o->hedges_fired = LOAD(m->hedges_fired);
  o->hedges_won = LOAD(m->hedges_won);
  o->cooldowns = LOAD(m->cooldowns);
  o->rate_limited = LOAD(m->rate_limited);
  o->usage_implausible = LOAD(m->usage_implausible);
  o->region_outside_preferred = LOAD(m->region_outside_preferred);
  o->residency_refused = LOAD(m->residency_refused);
  for (unsigned i = 0; i < SL_SHM_LAT_BUCKETS; i++) o->up[i] = LOAD(m->upstream_bucket[i]);
  o->up_sum_us = LOAD(m->upstream_sum_us);
  for (unsigned i = 0; i < SL_SHM_OVH_BUCKETS; i++) o->ovh[i] = LOAD(m->overhead_bucket[i]);
  o->ovh_sum_us = LOAD(m->overhead_sum_us);
  for (unsigned i = 0; i < SL_SHM_STATUS_SLOTS; i++) o->status_code[i] = LOAD(m->status_code[i]);
  for (unsigned i = 0; i < SL_SHM_FALLBACK_FROM; i++) o->fallback_ok_from[i] = LOAD(m->fallback_ok_from[i]);
}

/* A label value: backslash, double quote and newline escaped (text format 0.0.4). */
static void put_label_value(struct sl_buf *b, const char *v) {
  const char *run = v;
  for (const char *p = v;; p++) {
    char c = *p;
    if (c && c != '\\' && c != '"' && c != '\n') continue;
    sl_buf_append(b, run, (size_t)(p - run));
    if (!c) break;
    sl_buf_puts(b, c == '\\' ? "\\\\" : c == '"' ? "\\\"" : "\\n");
    run = p + 1;
  }
}

static void put_series_labels(struct sl_buf *b, const struct series *se) {
  sl_buf_puts(b, "group=\"");
  put_label_value(b, se->group);
  sl_buf_puts(b, "\",deployment=\"");
  put_label_value(b, se->deployment);
  sl_buf_puts(b, "\"");
}

static void family(struct sl_buf *b, const char *name, const char *type, const char *help) {
  sl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{group,deployment} value (an integer counter or gauge) */
static void put_u64(struct sl_buf *b, const char *name, const struct series *se, uint64_t v) {
  sl_buf_printf(b, "%s{", name);
  put_series_labels(b, se);
  sl_buf_printf(b, "} %llu\n", (unsigned long long)v);
}

/* A float value in Go's float syntax, which Prometheus parses. */
static void put_double(struct sl_buf *b, double v) {
  if (isnan(v)) sl_buf_puts(b, "NaN");
  else if (isinf(v)) sl_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  else sl_buf_printf(b, "%.9g", v);
}

/* Micro-units as a decimal with six places: exact, no float rounding. */
static void put_micro(struct sl_buf *b, uint64_t micro) {
  sl_buf_printf(b, "%llu.%06llu", (unsigned long long)(micro / 1000000), (unsigned long long)(micro % 1000000));
}

static void put_histogram_n(struct sl_buf *b, const char *name, const struct series *se, const uint64_t *buckets,
                            uint64_t sum_us, const char *const *le, unsigned nb) {
  uint64_t cum = 0;
  for (unsigned i = 0; i < nb; i++) {
    cum += buckets[i];
    sl_buf_printf(b, "%s_bucket{", name);
    put_series_labels(b, se);
    sl_buf_printf(b, ",le=\"%s\"} %llu\n", le[i], (unsigned long long)cum);
  }
  sl_buf_printf(b, "%s_sum{", name);
  put_series_labels(b, se);
  sl_buf_puts(b, "} ");
  put_micro(b, sum_us);
  sl_buf_printf(b, "\n%s_count{", name);
  put_series_labels(b, se);
  sl_buf_printf(b, "} %llu\n", (unsigned long long)cum);
}

static void put_histogram(struct sl_buf *b, const char *name, const struct series *se, const uint64_t *buckets,
                          uint64_t sum_us) {
  put_histogram_n(b, name, se, buckets, sum_us, bucket_le, SL_SHM_LAT_BUCKETS);
}

/* ---- LiteLLM's metric families (sluice_settings.metrics.litellm_names) ----
 * The names, types and label names of LiteLLM's Prometheus integration, rendered from
 * the same shared counters, so Grafana dashboards built for LiteLLM read sluice as is.
 * As LiteLLM's prometheus_client does in text format 0.0.4, a counter family is named
 * with its "_total" suffix (# TYPE litellm_spend_metric_total counter). Labels are in
 * LiteLLM's order; the ones sluice does not track per series (who called: end_user,
 * user, user_email, team, team_alias, hashed_api_key, api_key_alias; client_ip,
 * user_agent, route) are "" so the series stay bounded by the config (deployments x
 * groups x the 20 status slots). The one per-key family (remaining budget) is bounded
 * by SL_SHM_BUDGET_KEYS. To add a family: its label list below, then one loop. */

static const char *const L_PROXY_TOTAL[] = {"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team",
                                            "team_alias", "user", "status_code", "user_email", "route", "client_ip",
                                            "user_agent", "model_id", NULL};
static const char *const L_PROXY_FAILED[] = {"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team",
                                             "team_alias", "user", "user_email", "exception_status", "exception_class",
                                             "route", "client_ip", "user_agent", "model_id", NULL};
static const char *const L_TOTAL_LATENCY[] = {"end_user", "hashed_api_key", "api_key_alias", "requested_model", "team",
                                              "team_alias", "user", "model", "model_id", NULL};
static const char *const L_API_LATENCY[] = {"model", "hashed_api_key", "api_key_alias", "team", "team_alias",
                                            "requested_model", "end_user", "user", "model_id", NULL};
static const char *const L_OVERHEAD[] = {"model_group", "api_provider", "api_base", "litellm_model_name",
                                         "hashed_api_key", "api_key_alias", "model_id", NULL};
static const char *const L_TOKENS[] = {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias",
                                       "user", "user_email", "requested_model", "model_id", NULL};
static const char *const L_SPEND[] = {"end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias",
                                      "user", "user_email", "client_ip", "user_agent", "model_id", NULL};
static const char *const L_DEP_STATE[] = {"litellm_model_name", "model_id", "api_base", "api_provider", NULL};
static const char *const L_DEP_SUCCESS[] = {"requested_model", "litellm_model_name", "model_id", "api_base",
                                            "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias",
                                            "client_ip", "user_agent", NULL};
static const char *const L_DEP_FAILURE[] = {"requested_model", "litellm_model_name", "model_id", "api_base",
                                            "api_provider", "exception_status", "exception_class", "hashed_api_key",
                                            "api_key_alias", "team", "team_alias", "client_ip", "user_agent", NULL};
static const char *const L_COOLED[] = {"litellm_model_name", "model_id", "api_base", "api_provider",
                                       "exception_status", NULL};
static const char *const L_FALLBACK[] = {"requested_model", "fallback_model", "hashed_api_key", "api_key_alias", "team",
                                         "team_alias", "exception_status", "exception_class", "model_id", NULL};
static const char *const L_BUDGET[] = {"hashed_api_key", "api_key_alias", NULL};

/* What one sample's labels take their values from. */
struct lite {
  const struct series *se;
  const struct sl_deployment *d; /* NULL: a group-level series */
  const char *status, *exc_class, *requested, *fallback, *key_hash, *key_alias;
};

static const char *lite_value(const struct lite *c, const char *name) {
  const char *v = NULL;
  if (!strcmp(name, "requested_model")) v = c->requested ? c->requested : c->se ? c->se->group : NULL;
  else if (!strcmp(name, "model_group")) v = c->se ? c->se->group : NULL;
  else if (!strcmp(name, "model") || !strcmp(name, "litellm_model_name")) v = c->d ? c->d->model : NULL;
  else if (!strcmp(name, "model_id")) v = c->se ? c->se->deployment : NULL;
  else if (!strcmp(name, "api_base")) v = c->d ? c->d->api_base : NULL;
  else if (!strcmp(name, "api_provider")) v = c->d ? c->d->provider : NULL;
  else if (!strcmp(name, "status_code") || !strcmp(name, "exception_status")) v = c->status;
  else if (!strcmp(name, "exception_class")) v = c->exc_class;
  else if (!strcmp(name, "fallback_model")) v = c->fallback;
  else if (!strcmp(name, "hashed_api_key")) v = c->key_hash;
  else if (!strcmp(name, "api_key_alias")) v = c->key_alias;
  return v ? v : "";
}

/* name{labels...} (no value, no suffix): the labels in the list's order. */
static void lite_labels(struct sl_buf *b, const char *const *names, const struct lite *c) {
  sl_buf_append(b, "{", 1);
  for (size_t i = 0; names[i]; i++) {
    sl_buf_printf(b, "%s%s=\"", i ? "," : "", names[i]);
    put_label_value(b, lite_value(c, names[i]));
    sl_buf_append(b, "\"", 1);
  }
}

static void lite_u64(struct sl_buf *b, const char *name, const char *const *names, const struct lite *c, uint64_t v) {
  sl_buf_puts(b, name);
  lite_labels(b, names, c);
  sl_buf_printf(b, "} %llu\n", (unsigned long long)v);
}

static void lite_histogram(struct sl_buf *b, const char *name, const char *const *names, const struct lite *c,
                           const uint64_t *buckets, uint64_t sum_us, const char *const *le, unsigned nb) {
  uint64_t cum = 0;
  for (unsigned i = 0; i < nb; i++) {
    cum += buckets[i];
    sl_buf_printf(b, "%s_bucket", name);
    lite_labels(b, names, c);
    sl_buf_printf(b, ",le=\"%s\"} %llu\n", le[i], (unsigned long long)cum);
  }
  sl_buf_printf(b, "%s_sum", name);
  lite_labels(b, names, c);
  sl_buf_puts(b, "} ");
  put_micro(b, sum_us);
  sl_buf_printf(b, "\n%s_count", name);
  lite_labels(b, names, c);
  sl_buf_printf(b, "} %llu\n", (unsigned long long)cum);
}

/* A status slot's label value ("429", or a class for codes not counted one by one). */
static const char *slot_status(unsigned i, char buf[12]) {
  if (i < 16) {
    snprintf(buf, 12, "%d", status_codes[i]);
    return buf;
  }
  return status_other[i - 16];
}

static bool slot_failed(unsigned i) { return i < 16 ? status_codes[i] >= 400 : (i == 17 || i == 18); }
static bool slot_ok(unsigned i) { return i < 16 ? status_codes[i] < 300 : i == 16; }

/* The OpenAI SDK's exception class for a status (what LiteLLM's exceptions are named
 * after); "" for codes it has no class for. */
static const char *exc_class_of(unsigned slot) {
  int st = slot < 16 ? status_codes[slot] : 0;
  switch (st) {
  case 400: case 413: return "BadRequestError";
  case 401: return "AuthenticationError";
  case 403: return "PermissionDeniedError";
  case 404: return "NotFoundError";
  case 408: case 504: return "Timeout";
  case 422: return "UnprocessableEntityError";
  case 429: return "RateLimitError";
  case 499: return "APIConnectionError";
  case 500: return "InternalServerError";
  case 502: return "APIError";
  case 503: return "ServiceUnavailableError";
  default: return slot == 18 ? "APIError" : "";
  }
}

static void lite_family(struct sl_buf *b, const char *name, const char *type, const char *help) {
  family(b, name, type, help);
}

static void render_litellm(struct sl_worker *w, struct sl_buf *b, const struct series *se, size_t n, const bool *alone,
                           uint64_t now) {
  const struct sl_config *cfg = w->cfg;
  struct sl_shm *s = w->shm;
  char sb[12];

  lite_family(b, "litellm_proxy_total_requests_metric_total", "counter",
              "Total number of requests made to the proxy server - track number of client side requests");
  for (size_t k = 0; k < n; k++) {
    struct lite c = {.se = &se[k], .d = se[k].dep != SIZE_MAX ? &cfg->deployments[se[k].dep] : NULL};
    for (unsigned i = 0; i < SL_SHM_STATUS_SLOTS; i++) {
      if (!se[k].s.status_code[i]) continue;
      c.status = slot_status(i, sb);
      lite_u64(b, "litellm_proxy_total_requests_metric_total", L_PROXY_TOTAL, &c, se[k].s.status_code[i]);
    }
  }
  lite_family(b, "litellm_proxy_failed_requests_metric_total", "counter",
              "Total number of failed responses from proxy - the client did not get a success response");
  for (size_t k = 0; k < n; k++) {
    struct lite c = {.se = &se[k], .d = se[k].dep != SIZE_MAX ? &cfg->deployments[se[k].dep] : NULL};
    for (unsigned i = 0; i < SL_SHM_STATUS_SLOTS; i++) {
      if (!se[k].s.status_code[i] || !slot_failed(i)) continue;
      c.status = slot_status(i, sb);
      c.exc_class = exc_class_of(i);
      lite_u64(b, "litellm_proxy_failed_requests_metric_total", L_PROXY_FAILED, &c, se[k].s.status_code[i]);
    }
  }

  lite_family(b, "litellm_request_total_latency_metric", "histogram", "Total latency (seconds) for a request");
  for (size_t k = 0; k < n; k++) {
    struct lite c = {.se = &se[k], .d = se[k].dep != SIZE_MAX ? &cfg->deployments[se[k].dep] : NULL};
    lite_histogram(b, "litellm_request_total_latency_metric", L_TOTAL_LATENCY, &c, se[k].s.lat, se[k].s.lat_sum_us,
                   bucket_le, SL_SHM_LAT_BUCKETS);
  }
  lite_family(b, "litellm_llm_api_latency_metric", "histogram",
              "Total latency (seconds) for a model's LLM API call (the answering attempt)");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_histogram(b, "litellm_llm_api_latency_metric", L_API_LATENCY, &c, se[k].s.up, se[k].s.up_sum_us, bucket_le,
                   SL_SHM_LAT_BUCKETS);
  }
  lite_family(b, "litellm_llm_api_time_to_first_token_metric", "histogram",
              "Time to first token (seconds) for a model's streamed LLM API call");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_histogram(b, "litellm_llm_api_time_to_first_token_metric", L_API_LATENCY, &c, se[k].s.ttft,
                   se[k].s.ttft_sum_us, bucket_le, SL_SHM_LAT_BUCKETS);
  }
  lite_family(b, "litellm_overhead_latency_metric", "histogram",
              "Latency overhead (seconds) added by the gateway: total minus the answering call");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_histogram(b, "litellm_overhead_latency_metric", L_OVERHEAD, &c, se[k].s.ovh, se[k].s.ovh_sum_us, ovh_le,
                   SL_SHM_OVH_BUCKETS);
  }

  static const char *const tok_names[2] = {"litellm_input_tokens_metric_total", "litellm_output_tokens_metric_total"};
  static const char *const tok_help[2] = {"Total number of input tokens from LLM requests",
                                          "Total number of output tokens from LLM requests"};
  for (int d = 0; d < 2; d++) {
    lite_family(b, tok_names[d], "counter", tok_help[d]);
    for (size_t k = 0; k < n; k++) {
      struct lite c = {.se = &se[k], .d = se[k].dep != SIZE_MAX ? &cfg->deployments[se[k].dep] : NULL};
      lite_u64(b, tok_names[d], L_TOKENS, &c, d ? se[k].s.tokens_out : se[k].s.tokens_in);
    }
  }
  lite_family(b, "litellm_spend_metric_total", "counter", "Total spend on LLM requests (USD)");
  for (size_t k = 0; k < n; k++) {
    struct lite c = {.se = &se[k], .d = se[k].dep != SIZE_MAX ? &cfg->deployments[se[k].dep] : NULL};
    sl_buf_puts(b, "litellm_spend_metric_total");
    lite_labels(b, L_SPEND, &c);
    sl_buf_puts(b, "} ");
    put_micro(b, se[k].s.cost_micro);
    sl_buf_puts(b, "\n");
  }

  /* Per deployment: state, outcomes, cooldowns, fallbacks that landed there. */
  lite_family(b, "litellm_deployment_state", "gauge",
              "The state of the deployment: 0 = healthy, 1 = partial outage (probing after a cooldown), "
              "2 = complete outage (cooling down)");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct sl_shm_deployment *d = &s->deployments[se[k].dep];
    uint64_t until = atomic_load(&d->cooldown_until_ms);
    sl_shm_lock(&d->lock);
    bool probing = d->half_open;
    sl_shm_unlock(&d->lock);
    bool solo = alone && alone[se[k].dep];
    unsigned state = solo ? 0 : until > now ? 2 : probing ? 1 : 0;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_u64(b, "litellm_deployment_state", L_DEP_STATE, &c, state);
  }
  lite_family(b, "litellm_deployment_success_responses_total", "counter",
              "Total number of successful LLM API calls (requests this deployment answered)");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    uint64_t ok = 0;
    for (unsigned i = 0; i < SL_SHM_STATUS_SLOTS; i++)
      if (slot_ok(i)) ok += se[k].s.status_code[i];
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_u64(b, "litellm_deployment_success_responses_total", L_DEP_SUCCESS, &c, ok);
  }
  lite_family(b, "litellm_deployment_failure_responses_total", "counter",
              "Total number of failed LLM API calls for a deployment (requests that ended failed there); "
              "exception_status is the status the client got");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    for (unsigned i = 0; i < SL_SHM_STATUS_SLOTS; i++) {
      if (!se[k].s.status_code[i] || !slot_failed(i)) continue;
      c.status = slot_status(i, sb);
      c.exc_class = exc_class_of(i);
      lite_u64(b, "litellm_deployment_failure_responses_total", L_DEP_FAILURE, &c, se[k].s.status_code[i]);
    }
  }
  lite_family(b, "litellm_deployment_cooled_down_total", "counter",
              "Number of times a deployment has been cooled down (exception_status: \"\", not tracked)");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    struct lite c = {.se = &se[k], .d = &cfg->deployments[se[k].dep]};
    lite_u64(b, "litellm_deployment_cooled_down_total", L_COOLED, &c, se[k].s.cooldowns);
  }
  lite_family(b, "litellm_deployment_successful_fallbacks_total", "counter",
              "Number of successful fallback requests from primary model -> fallback model");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    for (size_t g = 0; g < SL_SHM_FALLBACK_FROM && g < w->ngroups; g++) {
      if (!se[k].s.fallback_ok_from[g]) continue;
      struct lite c = {.se = &se[k], .requested = w->groups[g].name, .fallback = se[k].group};
      lite_u64(b, "litellm_deployment_successful_fallbacks_total", L_FALLBACK, &c, se[k].s.fallback_ok_from[g]);
    }
  }

  lite_family(b, "litellm_remaining_api_key_budget_metric", "gauge",
              "Remaining budget for api key (USD; keys with a max_budget that made a request)");
  for (unsigned i = 0; s && i < SL_SHM_BUDGET_KEYS; i++) {
    struct sl_shm_budget_key *e = &s->budget_keys[i];
    uint64_t id = atomic_load(&e->id);
    if (!id || !atomic_load(&e->ready)) continue;
    double max = sl_shm_bits_to_d(atomic_load(&e->max_budget_bits));
    if (!(max > 0)) continue;
    struct sl_shm_key *slot = sl_shm_key_find(s, id);
    double spent = slot && atomic_load(&slot->loaded) ? (double)atomic_load(&slot->period_spend_pico) / 1e12 : 0.0;
    char hex[65];
    for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", e->hash[j]);
    char alias[sizeof e->alias];
    memcpy(alias, e->alias, sizeof alias);
    alias[sizeof alias - 1] = 0;
    struct lite c = {.key_hash = hex, .key_alias = alias};
    sl_buf_puts(b, "litellm_remaining_api_key_budget_metric");
    lite_labels(b, L_BUDGET, &c);
    sl_buf_puts(b, "} ");
    put_double(b, max - spent);
    sl_buf_puts(b, "\n");
  }
}

/* The counter families that every series (deployment or group-level) has. */
#define SIMPLE_COUNTERS(X)                                                                                   \
  X("sluice_retries_total", retries, "Upstream attempts beyond the first that were not hedges (fallback attempts included).") \
  X("sluice_fallbacks_total", fallbacks, "Requests answered (or failed) after falling back to another model group.") \
  X("sluice_hedges_fired_total", hedges_fired, "Hedged duplicate attempts sent.")                          \
  X("sluice_hedges_won_total", hedges_won, "Requests whose answer came from a hedged attempt.")            \
  X("sluice_rate_limited_total", rate_limited, "Requests rejected with 429 by sluice itself (rate limits, budgets).") \
  X("sluice_usage_implausible_total", usage_implausible,                                                 \
    "Requests whose provider reported usage above 1e9 tokens in a count; sluice estimated it from the request instead.") \
  X("sluice_residency_refused_total", residency_refused,                                                 \
    "Requests refused by a data-residency rule: 503 residency_unavailable and 403 region_not_permitted.")

int sl_metrics_render(struct sl_worker *w, struct sl_buf *out) {
  const struct sl_config *cfg = w->cfg;
  struct sl_shm *s = w->shm;
  size_t nd = 0, ng = 0;
  if (s) {
    nd = cfg->ndeployments < s->ndeployments ? cfg->ndeployments : s->ndeployments;
    ng = w->ngroups < SL_SHM_MAX_WORKERS ? w->ngroups : SL_SHM_MAX_WORKERS;
  }
  struct series *se = calloc(nd + ng + 1, sizeof *se);
  if (!se) return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < nd; i++) {
    se[n].group = cfg->deployments[i].model_name ? cfg->deployments[i].model_name : "";
    se[n].deployment = cfg->deployments[i].id ? cfg->deployments[i].id : "";
    se[n].dep = i;
    take(&se[n].s, &s->deployments[i].m);
    n++;
  }
  for (size_t g = 0; g < ng; g++) { /* group-level series only once something was counted there */
    take(&se[n].s, &s->groups[g]);
    if (!se[n].s.total) continue;
    se[n].group = w->groups[g].name ? w->groups[g].name : "";
    se[n].deployment = "";
    se[n].dep = SIZE_MAX;
    n++;
  }

  struct sl_buf *b = out;
  family(b, "sluice_build_info", "gauge", "Build information; always 1.");
  sl_buf_puts(b, "sluice_build_info{version=\"" SLUICE_VERSION "\"} 1\n");

  unsigned nworkers = 0;
  int64_t conns = 0;
  /* This worker's own count is fresh; the others' are what they last published. */
  if (s && w->srv && w->index < SL_SHM_MAX_WORKERS)
    atomic_store(&s->workers[w->index].connections, (int64_t)sl_server_connections(w->srv));
  if (s)
    for (unsigned i = 0; i < SL_SHM_MAX_WORKERS; i++) {
      if (!atomic_load(&s->workers[i].pid)) continue;
      nworkers++;
      int64_t c = atomic_load(&s->workers[i].connections);
      if (c > 0) conns += c;
    }
  family(b, "sluice_workers", "gauge", "Worker processes started (slots in shared memory with a pid).");
  sl_buf_printf(b, "sluice_workers %u\n", nworkers);
  family(b, "sluice_connections_open", "gauge", "Open client connections, summed over the workers.");
  sl_buf_printf(b, "sluice_connections_open %lld\n", (long long)conns);

  family(b, "sluice_requests_total", "counter",
         "Finished requests with a model group, by the deployment that answered (deployment=\"\": none), "
         "status class and cache result.");
  for (size_t k = 0; k < n; k++) {
    bool any = false;
    for (unsigned a = 0; a < SL_SC_N; a++)
      for (unsigned c = 0; c < SL_CR_N; c++) {
        uint64_t v = se[k].s.requests[a][c];
        /* zero combinations are left out, but every deployment shows at least one series */
        if (!v && (any || se[k].s.total || a != SL_SC_2XX || c != SL_CR_NONE)) continue;
        any = true;
        sl_buf_puts(b, "sluice_requests_total{");
        put_series_labels(b, &se[k]);
        sl_buf_printf(b, ",status_class=\"%s\",cache=\"%s\"} %llu\n", sc_names[a], cr_names[c], (unsigned long long)v);
      }
  }

  family(b, "sluice_request_duration_seconds", "histogram",
         "Time from the request's arrival to its end (the last byte of a stream), in seconds.");
  for (size_t k = 0; k < n; k++) put_histogram(b, "sluice_request_duration_seconds", &se[k], se[k].s.lat, se[k].s.lat_sum_us);
  family(b, "sluice_time_to_first_token_seconds", "histogram",
         "Streams: time from the request's arrival to the first response byte of the winning upstream stream, in seconds.");
  for (size_t k = 0; k < n; k++)
    put_histogram(b, "sluice_time_to_first_token_seconds", &se[k], se[k].s.ttft, se[k].s.ttft_sum_us);

  family(b, "sluice_upstream_duration_seconds", "histogram",
         "The answering attempt's time on the provider (request sent to last byte), in seconds.");
  for (size_t k = 0; k < n; k++)
    put_histogram(b, "sluice_upstream_duration_seconds", &se[k], se[k].s.up, se[k].s.up_sum_us);
  family(b, "sluice_overhead_seconds", "histogram",
         "sluice's own time in an answered request: its total minus the answering attempt's time on the provider "
         "(retries, hedges and fallbacks before it included), in seconds; measured in whole milliseconds.");
  for (size_t k = 0; k < n; k++)
    put_histogram_n(b, "sluice_overhead_seconds", &se[k], se[k].s.ovh, se[k].s.ovh_sum_us, ovh_le, SL_SHM_OVH_BUCKETS);

  family(b, "sluice_tokens_total", "counter", "Tokens consumed, by direction (in: prompt, out: completion).");
  for (size_t k = 0; k < n; k++)
    for (int d = 0; d < 2; d++) {
      sl_buf_puts(b, "sluice_tokens_total{");
      put_series_labels(b, &se[k]);
      sl_buf_printf(b, ",direction=\"%s\"} %llu\n", d ? "out" : "in",
                    (unsigned long long)(d ? se[k].s.tokens_out : se[k].s.tokens_in));
    }
  family(b, "sluice_cost_usd_total", "counter", "Cost of the requests in US dollars.");
  for (size_t k = 0; k < n; k++) {
    sl_buf_puts(b, "sluice_cost_usd_total{");
    put_series_labels(b, &se[k]);
    sl_buf_puts(b, "} ");
    put_micro(b, se[k].s.cost_micro);
    sl_buf_puts(b, "\n");
  }
#define X(name, field, help)                                              \
  family(b, name, "counter", help);                                       \
  for (size_t k = 0; k < n; k++) put_u64(b, name, &se[k], se[k].s.field);
  SIMPLE_COUNTERS(X)
#undef X

  /* Per deployment only: cooldowns and health gauges. */
  family(b, "sluice_cooldowns_total", "counter", "Times a deployment entered a cooldown.");
  for (size_t k = 0; k < n; k++)
    if (se[k].dep != SIZE_MAX) put_u64(b, "sluice_cooldowns_total", &se[k], se[k].s.cooldowns);
  /* Labels bounded by the config: one series per deployment, with its region. */
  family(b, "sluice_region_outside_preferred_total", "counter",
         "Upstream attempts sent to a deployment in a permitted region outside the request's preferred regions.");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    const char *region = cfg->deployments[se[k].dep].region;
    sl_buf_puts(b, "sluice_region_outside_preferred_total{");
    put_series_labels(b, &se[k]);
    sl_buf_puts(b, ",region=\"");
    put_label_value(b, region ? region : "");
    sl_buf_printf(b, "\"} %llu\n", (unsigned long long)se[k].s.region_outside_preferred);
  }

  /* A deployment alone in its group is never cooled down by routing (health.c), so it
   * counts as healthy whatever its breaker says. */
  uint64_t now = sl_now_ms();
  bool *alone = nd ? calloc(nd, sizeof *alone) : NULL;
  if (alone)
    for (size_t g = 0; g < w->ngroups; g++)
      if (w->groups[g].n == 1 && w->groups[g].deps[0] < nd) alone[w->groups[g].deps[0]] = true;
  family(b, "sluice_deployment_healthy", "gauge", "1 when the deployment can be routed to, 0 while it cools down.");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    uint64_t until = atomic_load(&s->deployments[se[k].dep].cooldown_until_ms);
    put_u64(b, "sluice_deployment_healthy", &se[k], (alone && alone[se[k].dep]) || until <= now ? 1 : 0);
  }
  if (cfg->metrics.litellm_names && s) render_litellm(w, b, se, n, alone, now);
  free(alone);
  family(b, "sluice_deployment_inflight", "gauge", "Upstream attempts in flight to the deployment.");
  for (size_t k = 0; k < n; k++) {
    if (se[k].dep == SIZE_MAX) continue;
    int64_t v = atomic_load(&s->deployments[se[k].dep].inflight);
    sl_buf_puts(b, "sluice_deployment_inflight{");
    put_series_labels(b, &se[k]);
    sl_buf_printf(b, "} %lld\n", (long long)(v > 0 ? v : 0));
  }
  static const char *const ewma_names[2] = {"sluice_deployment_ewma_latency_seconds",
                                            "sluice_deployment_ewma_ttft_seconds"};
  static const char *const ewma_help[2] = {
    "Peak EWMA of the deployment's call latency (as last updated), in seconds.",
    "Peak EWMA of the deployment's stream time to first token (as last updated), in seconds."};
  for (int e = 0; e < 2; e++) {
    family(b, ewma_names[e], "gauge", ewma_help[e]);
    for (size_t k = 0; k < n; k++) {
      if (se[k].dep == SIZE_MAX) continue;
      struct sl_shm_deployment *d = &s->deployments[se[k].dep];
      double ms = sl_shm_bits_to_d(atomic_load(e ? &d->ewma_ttft_ms_bits : &d->ewma_ms_bits));
      sl_buf_printf(b, "%s{", ewma_names[e]);
      put_series_labels(b, &se[k]);
      sl_buf_puts(b, "} ");
      put_double(b, ms > 0 ? ms / 1000.0 : 0.0);
      sl_buf_puts(b, "\n");
    }
  }
  free(se);

  struct sl_cache_stats st;
  if (w->cache && sl_cache_stats_get(w->cache, &st) == 0) {
    family(b, "sluice_cache_entries", "gauge", "Entries in the response cache (all processes).");
    sl_buf_printf(b, "sluice_cache_entries %llu\n", (unsigned long long)st.entries);
    family(b, "sluice_cache_bytes", "gauge", "Bytes stored in the response cache (headers and bodies).");
    sl_buf_printf(b, "sluice_cache_bytes %llu\n", (unsigned long long)st.bytes);
    family(b, "sluice_cache_evictions_total", "counter", "Response cache entries evicted to stay under max_size.");
    sl_buf_printf(b, "sluice_cache_evictions_total %llu\n", (unsigned long long)st.evictions);
    family(b, "sluice_cache_store_errors_total", "counter",
           "Response cache store trouble by reason: no_space (the filesystem was full: evicted inside the file), "
           "map_full (a batch dropped, max_size reached even after eviction), io (other errors).");
    sl_buf_printf(b,
                  "sluice_cache_store_errors_total{reason=\"no_space\"} %llu\n"
                  "sluice_cache_store_errors_total{reason=\"map_full\"} %llu\n"
                  "sluice_cache_store_errors_total{reason=\"io\"} %llu\n",
                  (unsigned long long)st.err_no_space, (unsigned long long)st.err_map_full,
                  (unsigned long long)st.err_io);
  }
  sl_cluster_cache_metrics(w, b);  /* cluster mode: the Redis cache tier */
  sl_cluster_health_metrics(w, b); /* cluster mode: shared cooldowns and probe claims */
  sl_router_metrics(w, b);
  sl_cluster_metrics(w, b);
  sl_trace_metrics(w, b); /* OpenTelemetry export: spans exported, dropped, failed */
  sl_gcp_tokens_metrics(b, sl_now_ms()); /* Vertex AI token exchanges and expiry */
  return b->oom ? -ENOMEM : 0;
}

/* ---- counters across reloads (sl_metrics_carry_*) ---- */

/* Every field of struct sl_shm_metrics is an _Atomic uint64_t counter, so a series is
 * carried field by field as a flat array. */
#define NFIELDS (sizeof(struct sl_shm_metrics) / sizeof(_Atomic uint64_t))
_Static_assert(sizeof(struct sl_shm_metrics) % sizeof(_Atomic uint64_t) == 0, "metrics are u64 counters");

struct carry_pair {
  _Atomic uint64_t *src, *dst;
  uint64_t base[NFIELDS]; /* what begin added */
};

struct sl_metrics_carry {
  size_t n;
  struct carry_pair pair[];
};

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* The group names in the order core/worker.c numbers groups (first appearance of each
 * model_name in model_list), the first SL_SHM_MAX_WORKERS of them; returns how many. */
static size_t group_names(const struct sl_config *c, const char *out[SL_SHM_MAX_WORKERS]) {
  size_t k = 0;
  for (size_t i = 0; i < c->ndeployments && k < SL_SHM_MAX_WORKERS; i++) {
    const char *n = c->deployments[i].model_name;
    bool first = true;
    for (size_t j = 0; j < k && first; j++) first = !same(out[j], n);
    if (first) out[k++] = n;
  }
  return k;
}

struct sl_metrics_carry *sl_metrics_carry_begin(struct sl_shm *from, const struct sl_config *fc, struct sl_shm *to,
                                                const struct sl_config *tc) {
  if (!from || !to || !fc || !tc) return NULL;
  size_t nfd = fc->ndeployments < from->ndeployments ? fc->ndeployments : from->ndeployments;
  size_t ntd = tc->ndeployments < to->ndeployments ? tc->ndeployments : to->ndeployments;
  size_t max = nfd + SL_SHM_MAX_WORKERS;
  struct sl_metrics_carry *c = calloc(1, sizeof *c + max * sizeof c->pair[0]);
  if (!c) return NULL;
  for (size_t i = 0; i < nfd; i++) {
    const struct sl_deployment *d = &fc->deployments[i];
    for (size_t j = 0; j < ntd; j++) {
      const struct sl_deployment *e = &tc->deployments[j];
      if (!same(d->model_name, e->model_name) || !same(d->id, e->id)) continue;
      c->pair[c->n].src = (_Atomic uint64_t *)&from->deployments[i].m;
      c->pair[c->n].dst = (_Atomic uint64_t *)&to->deployments[j].m;
      c->n++;
      /* the deployment's rpm/tpm minute goes on too: a reload does not reopen its limits */
      sl_health_carry_windows(&from->deployments[i], &to->deployments[j]);
      break;
    }
  }
  const char *fg[SL_SHM_MAX_WORKERS], *tg[SL_SHM_MAX_WORKERS];
  size_t nfg = group_names(fc, fg), ntg = group_names(tc, tg);
  for (size_t g = 0; g < nfg; g++) {
    for (size_t h = 0; h < ntg; h++) {
      if (!same(fg[g], tg[h])) continue;
      c->pair[c->n].src = (_Atomic uint64_t *)&from->groups[g];
      c->pair[c->n].dst = (_Atomic uint64_t *)&to->groups[h];
      c->n++;
      break;
    }
  }
  for (size_t p = 0; p < c->n; p++)
    for (size_t f = 0; f < NFIELDS; f++) {
      uint64_t v = LOAD(c->pair[p].src[f]);
      c->pair[p].base[f] = v;
      if (v) add_sat(&c->pair[p].dst[f], v);
    }
  return c;
}

void sl_metrics_carry_end(struct sl_metrics_carry *c) {
  if (!c) return;
  for (size_t p = 0; p < c->n; p++)
    for (size_t f = 0; f < NFIELDS; f++) {
      uint64_t v = LOAD(c->pair[p].src[f]);
      if (v > c->pair[p].base[f]) add_sat(&c->pair[p].dst[f], v - c->pair[p].base[f]);
    }
  free(c);
}

void sl_metrics_carry_drop(struct sl_metrics_carry *c) { free(c); }
