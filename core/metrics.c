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

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/health_shm.h"
#include "core/summary.h"
#include "core/worker.h"
#include "net/http_server.h"
#include "store/cache.h"
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

static void put_histogram(struct sl_buf *b, const char *name, const struct series *se, const uint64_t *buckets,
                          uint64_t sum_us) {
  uint64_t cum = 0;
  for (unsigned i = 0; i < SL_SHM_LAT_BUCKETS; i++) {
    cum += buckets[i];
    sl_buf_printf(b, "%s_bucket{", name);
    put_series_labels(b, se);
    sl_buf_printf(b, ",le=\"%s\"} %llu\n", bucket_le[i], (unsigned long long)cum);
  }
  sl_buf_printf(b, "%s_sum{", name);
  put_series_labels(b, se);
  sl_buf_puts(b, "} ");
  put_micro(b, sum_us);
  sl_buf_printf(b, "\n%s_count{", name);
  put_series_labels(b, se);
  sl_buf_printf(b, "} %llu\n", (unsigned long long)cum);
}

static double bits_to_d(uint64_t bits) {
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
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
      double ms = bits_to_d(atomic_load(e ? &d->ewma_ttft_ms_bits : &d->ewma_ms_bits));
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
