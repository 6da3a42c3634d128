/* core/dashboard_api.c: the dashboard's JSON endpoints (GET /ui/api/...; the spec is in
 * core/dashboard.h). The one idea: everything is computed by the reader, now, from the
 * shared-memory ring of recent requests (core/dashboard.c) and the shm counters; the
 * store-backed views (spend, keys, config) run as admin jobs off the loop
 * (core/admin_internal.h). Answers go out only through core/respond.c. To add a view: a
 * builder here, a row in core/routes.c, its shape in core/dashboard.h and a test in
 * test/integration/dashboard_api.test.mjs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin_internal.h"
#include "core/config/config.h"
#include "core/config/plan.h"
#include "core/dashboard.h"
#include "core/dashboard_internal.h"
#include "core/master.h"
#include "core/reqcache.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "core/routes.h"
#include "policy/outcome.h"
#include "policy/route_model.h"
#include "store/keys.h"
#include "store/spend.h"

#define WINDOW_MS 60000
#define LIMIT_MAX 500

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *group_name(const struct sl_worker *w, long i) {
  return i >= 0 && (size_t)i < w->ngroups ? w->groups[i].name : NULL;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v) {
  if (v && *v)
    cJSON_AddStringToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

static void respond_obj(struct sl_request *rq, cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot build the dashboard answer");
    return;
  }
  sl_respond_body(rq, 200, NULL, SL_DASH_NO_STORE, s, strlen(s));
  free(s);
}

/* ---- one request summary (REQ) ----
 * Written straight into a buffer (no cJSON: the stream writes up to 100 a second). */

static void put_u64(struct sl_buf *b, uint64_t v) {
  char d[24];
  sl_buf_append(b, d, sl_fmt_u64(v, d));
}

static void put_i64(struct sl_buf *b, int64_t v) {
  if (v < 0) {
    sl_buf_puts(b, "-");
    v = v == INT64_MIN ? INT64_MAX : -v;
  }
  put_u64(b, (uint64_t)v);
}

/* ,"k": then the string, or null */
static void put_str(struct sl_buf *b, const char *k, const char *v) {
  sl_buf_puts(b, k);
  if (!v || !*v) {
    sl_buf_puts(b, "null");
    return;
  }
  sl_buf_puts(b, "\"");
  sl_buf_json_escape(b, v, strlen(v));
  sl_buf_puts(b, "\"");
}

static void put_ms(struct sl_buf *b, const char *k, uint32_t v) {
  sl_buf_puts(b, k);
  if (v == UINT32_MAX)
    sl_buf_puts(b, "null");
  else
    put_u64(b, v);
}

void sl__dash_req_write(const struct sl_worker *w, const struct sl_dash_rec *r, struct sl_buf *b) {
  const struct sl_config *cfg = w->cfg;
  const struct sl_plan *plan = cfg->plan;
  const char *router = r->router_index >= 0 && plan && (size_t)r->router_index < plan->nrouters
                           ? plan->routers[r->router_index].cfg->name
                           : NULL;
  sl_buf_puts(b, "{\"seq\":");
  put_u64(b, atomic_load_explicit(&((struct sl_dash_rec *)r)->seq, memory_order_relaxed));
  put_str(b, ",\"id\":", r->id);
  sl_buf_puts(b, ",\"ts_ms\":");
  put_u64(b, r->ts_ms);
  put_str(b, ",\"method\":", r->method);
  put_str(b, ",\"path\":", r->path);
  sl_buf_puts(b, (r->flags & 1) ? ",\"stream\":true" : ",\"stream\":false");
  put_str(b, ",\"model_group\":", router ? router : group_name(w, r->group_index));
  put_str(b, ",\"group\":", group_name(w, r->fallback_index >= 0 ? r->fallback_index : r->group_index));
  put_str(b, ",\"key\":", (r->flags & 16) ? "master" : r->key);
  sl_buf_puts(b, ",\"status\":");
  put_u64(b, r->status);
  put_str(b, ",\"error\":", r->err);
  put_ms(b, ",\"latency_ms\":", r->latency_ms);
  put_ms(b, ",\"ttft_ms\":", r->ttft_ms);
  put_ms(b, ",\"upstream_ms\":", r->upstream_ms);
  put_ms(b, ",\"overhead_ms\":",
         r->upstream_ms == UINT32_MAX     ? UINT32_MAX
         : r->latency_ms > r->upstream_ms ? r->latency_ms - r->upstream_ms
                                          : 0);
  sl_buf_puts(b, ",\"tokens_in\":");
  put_i64(b, r->tokens_in);
  sl_buf_puts(b, ",\"tokens_out\":");
  put_i64(b, r->tokens_out);
  sl_buf_printf(b, ",\"cost_usd\":%.12g", (double)r->cost_pico / 1e12);
  put_str(b, ",\"cache\":", sl_cache_state_name((enum sl_cache_state)r->cache));
  if (router) {
    put_str(b, ",\"router\":{\"name\":", router);
    put_str(b, ",\"reason\":", r->router_reason);
    if (r->flags & 2)
      sl_buf_printf(b, ",\"score\":%.9g", isfinite(r->router_score) ? r->router_score : 0.0);
    else
      sl_buf_puts(b, ",\"score\":null");
    put_str(b, ",\"would\":", group_name(w, r->router_would));
    sl_buf_puts(b, "}");
  } else {
    sl_buf_puts(b, ",\"router\":null");
  }
  put_str(b, ",\"fallback\":", r->fallback_index >= 0 ? group_name(w, r->fallback_index) : NULL);
  sl_buf_puts(b, ",\"fallbacks\":[");
  bool first = true;
  for (unsigned i = 0; i < r->nfallbacks && i < 4; i++) {
    const char *g = group_name(w, r->fallbacks[i]);
    if (!g) continue;
    put_str(b, first ? "" : ",", g);
    first = false;
  }
  sl_buf_puts(b, "],\"hedges_fired\":");
  put_u64(b, r->hedges_fired);
  sl_buf_puts(b, (r->flags & 4) ? ",\"hedge_won\":true,\"attempts\":[" : ",\"hedge_won\":false,\"attempts\":[");
  for (unsigned i = 0; i < r->natt && i < SL_DASH_ATTEMPTS; i++) {
    const struct sl_dash_attempt *a = &r->att[i];
    put_str(b, i ? ",{\"deployment\":" : "{\"deployment\":",
            a->dep >= 0 && (size_t)a->dep < cfg->ndeployments ? cfg->deployments[a->dep].id : NULL);
    put_str(b, ",\"group\":", group_name(w, a->group));
    put_str(b, ",\"outcome\":", sl_attempt_outcome_name((enum sl_attempt_outcome)a->outcome, a->status));
    sl_buf_puts(b, ",\"start_ms\":");
    put_u64(b, a->start_ms);
    sl_buf_puts(b, ",\"duration_ms\":");
    put_u64(b, a->dur_ms);
    sl_buf_puts(b, (a->flags & 1) ? ",\"hedge\":true" : ",\"hedge\":false");
    sl_buf_puts(b, (a->flags & 2) ? ",\"probe\":true" : ",\"probe\":false");
    sl_buf_puts(b, ",\"status\":");
    put_u64(b, a->status);
    sl_buf_puts(b, "}");
  }
  sl_buf_puts(b, (r->flags & 8) ? "],\"attempts_truncated\":true}" : "],\"attempts_truncated\":false}");
}

/* ---- overview ---- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t pct_of(const uint32_t *v, size_t n, double p) {
  size_t i = (size_t)ceil(p * (double)n);
  if (i) i--;
  if (i >= n) i = n - 1;
  return v[i];
}

static void add_pcts(cJSON *o, const char *k, uint32_t *v, size_t n) {
  if (!n) {
    cJSON_AddNullToObject(o, k);
    return;
  }
  qsort(v, n, sizeof *v, cmp_u32);
  cJSON *p = cJSON_AddObjectToObject(o, k);
  cJSON_AddNumberToObject(p, "p50", pct_of(v, n, 0.50));
  cJSON_AddNumberToObject(p, "p95", pct_of(v, n, 0.95));
  cJSON_AddNumberToObject(p, "p99", pct_of(v, n, 0.99));
}

struct win_rec {
  int32_t group; /* the answering group */
  uint32_t lat, ttft;
  uint16_t status;
  uint8_t cache;
  int64_t tokens_in, tokens_out;
  int64_t cost_pico;
};

/* The STATS object of the records of group g (-2: all). */
static void add_stats(cJSON *o, const struct win_rec *v, size_t n, long g, double span_s, int64_t inflight,
                      uint32_t *lat, uint32_t *ttft) {
  size_t req = 0, err = 0, nl = 0, nt = 0, hits = 0, lookups = 0;
  int64_t tin = 0, tout = 0, cost = 0;
  for (size_t i = 0; i < n; i++) {
    if (g != -2 && v[i].group != g) continue;
    req++;
    if (v[i].status >= 400 || v[i].status == 0) err++;
    lat[nl++] = v[i].lat;
    if (v[i].ttft != UINT32_MAX) ttft[nt++] = v[i].ttft;
    if (v[i].cache == SL_CS_HIT || v[i].cache == SL_CS_SEMANTIC) hits++;
    if (v[i].cache != SL_CS_NONE && v[i].cache != SL_CS_BYPASS) lookups++;
    tin += v[i].tokens_in;
    tout += v[i].tokens_out;
    cost += v[i].cost_pico;
  }
  cJSON_AddNumberToObject(o, "requests", (double)req);
  cJSON_AddNumberToObject(o, "rps", span_s > 0 ? (double)req / span_s : 0);
  cJSON_AddNumberToObject(o, "errors", (double)err);
  cJSON_AddNumberToObject(o, "error_pct", req ? 100.0 * (double)err / (double)req : 0);
  add_pcts(o, "latency_ms", lat, nl);
  add_pcts(o, "ttft_ms", ttft, nt);
  cJSON_AddNumberToObject(o, "tokens_per_s", span_s > 0 ? (double)(tin + tout) / span_s : 0);
  cJSON_AddNumberToObject(o, "tokens_in", (double)tin);
  cJSON_AddNumberToObject(o, "tokens_out", (double)tout);
  cJSON_AddNumberToObject(o, "cost_usd", (double)cost / 1e12);
  cJSON_AddNumberToObject(o, "usd_per_hour", span_s > 0 ? (double)cost / 1e12 / span_s * 3600 : 0);
  if (lookups)
    cJSON_AddNumberToObject(o, "cache_hit_pct", 100.0 * (double)hits / (double)lookups);
  else
    cJSON_AddNullToObject(o, "cache_hit_pct");
  cJSON_AddNumberToObject(o, "in_flight", (double)inflight);
}

static void sum_metrics(const struct sl_shm_metrics *m, uint64_t *req, uint64_t *err, uint64_t *tin, uint64_t *tout,
                        uint64_t *cost) {
  for (int s = 0; s < SL_SC_N; s++)
    for (int c = 0; c < SL_CR_N; c++) {
      uint64_t v = atomic_load_explicit(&((struct sl_shm_metrics *)m)->requests[s][c], memory_order_relaxed);
      *req += v;
      if (s == SL_SC_4XX || s == SL_SC_5XX) *err += v;
    }
  *tin += atomic_load(&((struct sl_shm_metrics *)m)->tokens_in);
  *tout += atomic_load(&((struct sl_shm_metrics *)m)->tokens_out);
  *cost += atomic_load(&((struct sl_shm_metrics *)m)->cost_micro_usd);
}

cJSON *sl__dash_overview(struct sl_worker *w) {
  const struct sl_shm_dash *d = &w->shm->dash;
  uint64_t now = sl_now_ms(), head = sl_dash_ring_head(d);
  size_t cap = head < SL_DASH_RING ? (size_t)head : SL_DASH_RING;
  struct win_rec *v = malloc((cap ? cap : 1) * sizeof *v);
  uint32_t *lat = malloc((cap ? cap : 1) * sizeof *lat), *ttft = malloc((cap ? cap : 1) * sizeof *ttft);
  int64_t *gin = calloc(w->ngroups ? w->ngroups : 1, sizeof *gin);
  cJSON *o = cJSON_CreateObject();
  if (!v || !lat || !ttft || !gin || !o) goto fail;
  size_t n = 0;
  uint64_t oldest = now;
  struct sl_dash_rec r;
  for (uint64_t k = head; k > 0 && n < cap; k--) {
    if (!sl_dash_ring_read_numbers(d, k - 1, &r)) {
      if (head - (k - 1) >= SL_DASH_RING) break;
      continue; /* being written */
    }
    if (r.end_mono_ms + WINDOW_MS < now) break;
    if (r.end_mono_ms < oldest) oldest = r.end_mono_ms;
    v[n++] = (struct win_rec){r.fallback_index >= 0 ? r.fallback_index : r.group_index,
                              r.latency_ms,
                              r.ttft_ms,
                              r.status,
                              r.cache,
                              r.tokens_in,
                              r.tokens_out,
                              r.cost_pico};
  }
  /* The window: 60 s, or what the ring still holds when it wrapped within them. */
  double span_s = WINDOW_MS / 1000.0;
  if (n == cap && cap == SL_DASH_RING && now > oldest) span_s = (double)(now - oldest) / 1000.0;
  if (span_s < 1) span_s = 1;
  int64_t total_in = 0;
  for (size_t i = 0; i < w->cfg->ndeployments && i < w->shm->ndeployments; i++) {
    int64_t f = atomic_load(&w->shm->deployments[i].inflight);
    total_in += f;
    const struct sl_group *g = sl_worker_group(w, w->cfg->deployments[i].model_name);
    if (g && g->index < w->ngroups) gin[g->index] += f;
  }
  cJSON_AddNumberToObject(o, "generation", w->ctl ? atomic_load(&w->ctl->generation) : 0);
  cJSON_AddNumberToObject(o, "worker", w->index);
  cJSON_AddNumberToObject(o, "now_ms", (double)wall_ms());
  cJSON_AddNumberToObject(o, "window_s", span_s);
  add_stats(cJSON_AddObjectToObject(o, "total"), v, n, -2, span_s, total_in, lat, ttft);
  cJSON *gs = cJSON_AddArrayToObject(o, "groups");
  for (size_t g = 0; g < w->ngroups; g++) {
    cJSON *x = cJSON_CreateObject();
    if (!x) goto fail;
    cJSON_AddStringToObject(x, "group", w->groups[g].name);
    cJSON_AddBoolToObject(x, "router", w->groups[g].router != NULL);
    add_stats(x, v, n, (long)g, span_s, gin[g], lat, ttft);
    cJSON_AddItemToArray(gs, x);
  }
  uint64_t req = 0, err = 0, tin = 0, tout = 0, cost = 0;
  for (size_t i = 0; i < w->shm->ndeployments; i++)
    sum_metrics(&w->shm->deployments[i].m, &req, &err, &tin, &tout, &cost);
  for (size_t g = 0; g < w->ngroups && g < SL_SHM_MAX_WORKERS; g++)
    sum_metrics(&w->shm->groups[g], &req, &err, &tin, &tout, &cost);
  cJSON *ss = cJSON_AddObjectToObject(o, "since_start");
  cJSON_AddNumberToObject(ss, "requests", (double)req);
  cJSON_AddNumberToObject(ss, "errors", (double)err);
  cJSON_AddNumberToObject(ss, "tokens_in", (double)tin);
  cJSON_AddNumberToObject(ss, "tokens_out", (double)tout);
  cJSON_AddNumberToObject(ss, "cost_usd", (double)cost / 1e6);
  free(v);
  free(lat);
  free(ttft);
  free(gin);
  return o;
fail:
  free(v);
  free(lat);
  free(ttft);
  free(gin);
  cJSON_Delete(o);
  return NULL;
}

/* ---- deployments ---- */

static void add_use(cJSON *o, const char *k, const struct sl_shm_window *win, int64_t limit, uint64_t minute) {
  cJSON *x = cJSON_AddObjectToObject(o, k);
  cJSON_AddNumberToObject(x, "used", win->minute == minute ? (double)win->cur : 0);
  if (limit > 0)
    cJSON_AddNumberToObject(x, "limit", (double)limit);
  else
    cJSON_AddNullToObject(x, "limit");
}

static bool failed_outcome(uint8_t o) {
  return o != SL_AO_OK && o != SL_AO_RUNNING && o != SL_AO_LOST_RACE && o != SL_AO_CANCELLED &&
         o != SL_AO_CLIENT_CLOSED;
}

cJSON *sl__dash_deployments(struct sl_worker *w) {
  const struct sl_config *cfg = w->cfg;
  size_t nd = cfg->ndeployments < w->shm->ndeployments ? cfg->ndeployments : w->shm->ndeployments;
  struct last_err {
    bool set;
    uint64_t at;
    uint16_t status;
    uint8_t outcome;
    char id[SL_DASH_ID];
  } *le = calloc(nd ? nd : 1, sizeof *le);
  cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "deployments") : NULL;
  if (!le || !arr) {
    free(le);
    cJSON_Delete(o);
    return NULL;
  }
  /* last errors: the newest failed attempt of each deployment still in the ring */
  const struct sl_shm_dash *d = &w->shm->dash;
  uint64_t head = sl_dash_ring_head(d);
  size_t missing = nd;
  struct sl_dash_rec r;
  for (uint64_t k = head; k > 0 && missing && head - k < SL_DASH_RING; k--) {
    if (!sl_dash_ring_read_numbers(d, k - 1, &r)) continue;
    bool any = false;
    for (unsigned i = 0; i < r.natt && i < SL_DASH_ATTEMPTS && !any; i++) any = failed_outcome(r.att[i].outcome);
    if (!any) continue;
    if (!sl_dash_ring_read(d, k - 1, &r)) continue; /* the id too */
    for (unsigned i = r.natt; i-- > 0;) {
      const struct sl_dash_attempt *a = &r.att[i];
      if (a->dep < 0 || (size_t)a->dep >= nd || le[a->dep].set || !failed_outcome(a->outcome)) continue;
      le[a->dep] = (struct last_err){true, r.ts_ms + a->start_ms + a->dur_ms, a->status, a->outcome, {0}};
      memcpy(le[a->dep].id, r.id, sizeof r.id);
      missing--;
    }
  }
  uint64_t now = sl_now_ms(), minute = now / 60000;
  for (size_t i = 0; i < nd; i++) {
    const struct sl_deployment *dep = &cfg->deployments[i];
    struct sl_shm_deployment *s = &w->shm->deployments[i];
    cJSON *x = cJSON_CreateObject();
    if (!x) break;
    cJSON_AddStringToObject(x, "group", dep->model_name);
    cJSON_AddStringToObject(x, "id", dep->id);
    cJSON_AddStringToObject(x, "model", dep->model);
    cJSON_AddStringToObject(x, "provider", dep->provider);
    add_str_or_null(x, "region", dep->region);
    uint64_t until = atomic_load(&s->cooldown_until_ms);
    const char *state = "healthy";
    uint64_t left = 0;
    if (until > now) {
      state = "cooling_down";
      left = until - now;
    } else if (s->half_open || atomic_load(&s->probe_busy)) {
      state = "probing";
    }
    cJSON_AddStringToObject(x, "state", state);
    cJSON_AddNumberToObject(x, "cooldown_left_ms", (double)left);
    double e = sl_shm_bits_to_d(atomic_load(&s->ewma_ms_bits)), et = sl_shm_bits_to_d(atomic_load(&s->ewma_ttft_ms_bits));
    if (e > 0 && isfinite(e))
      cJSON_AddNumberToObject(x, "ewma_latency_ms", round(e * 10) / 10);
    else
      cJSON_AddNullToObject(x, "ewma_latency_ms");
    if (et > 0 && isfinite(et))
      cJSON_AddNumberToObject(x, "ewma_ttft_ms", round(et * 10) / 10);
    else
      cJSON_AddNullToObject(x, "ewma_ttft_ms");
    cJSON_AddNumberToObject(x, "in_flight", (double)atomic_load(&s->inflight));
    struct sl_shm_window rw = s->req, tw = s->tok; /* a torn read shows one odd second */
    add_use(x, "rpm", &rw, dep->rpm, minute);
    add_use(x, "tpm", &tw, dep->tpm, minute);
    cJSON_AddNumberToObject(x, "requests", (double)atomic_load(&s->requests));
    cJSON_AddNumberToObject(x, "successes", (double)atomic_load(&s->successes));
    cJSON_AddNumberToObject(x, "failures", (double)atomic_load(&s->failures));
    cJSON_AddNumberToObject(x, "hedges", (double)atomic_load(&s->hedges));
    if (le[i].set) {
      cJSON *l = cJSON_AddObjectToObject(x, "last_error");
      cJSON_AddNumberToObject(l, "at_ms", (double)le[i].at);
      cJSON_AddNumberToObject(l, "status", le[i].status);
      cJSON_AddStringToObject(l, "outcome",
                              sl_attempt_outcome_name((enum sl_attempt_outcome)le[i].outcome, le[i].status));
      cJSON_AddStringToObject(l, "request_id", le[i].id);
    } else {
      cJSON_AddNullToObject(x, "last_error");
    }
    cJSON_AddItemToArray(arr, x);
  }
  free(le);
  return o;
}

void sl_dashboard_overview(struct sl_request *rq) { respond_obj(rq, sl__dash_overview(rq->w)); }
void sl_dashboard_deployments(struct sl_request *rq) { respond_obj(rq, sl__dash_deployments(rq->w)); }

/* ---- requests ---- */

static bool rec_in_group(const struct sl_worker *w, const struct sl_dash_rec *r, const char *g) {
  const char *a = group_name(w, r->group_index), *b = group_name(w, r->fallback_index);
  if ((a && !strcmp(a, g)) || (b && !strcmp(b, g))) return true;
  const struct sl_plan *plan = w->cfg->plan;
  return r->router_index >= 0 && plan && (size_t)r->router_index < plan->nrouters &&
         !strcmp(plan->routers[r->router_index].cfg->name, g);
}

static bool status_match(const char *f, uint16_t st) {
  if (!strcmp(f, "error")) return st >= 400 || st == 0;
  if (strlen(f) == 3 && f[1] == 'x' && f[2] == 'x') return st / 100 == (unsigned)(f[0] - '0');
  return atoi(f) == st;
}

static bool status_ok(const char *f) {
  if (!strcmp(f, "error")) return true;
  if (strlen(f) == 3 && f[0] >= '1' && f[0] <= '5' && f[1] == 'x' && f[2] == 'x') return true;
  char *e;
  long v = strtol(f, &e, 10);
  return !*e && v >= 100 && v <= 999;
}

void sl_dashboard_requests(struct sl_request *rq) {
  char group[SL_DASH_NAME] = "", key[SL_DASH_NAME] = "", status[16] = "", lim[16] = "", after[24] = "";
  if (sl__admin_query(rq, "group", group, sizeof group) < 0 || sl__admin_query(rq, "key", key, sizeof key) < 0 ||
      sl__admin_query(rq, "status", status, sizeof status) < 0 || sl__admin_query(rq, "limit", lim, sizeof lim) < 0 ||
      sl__admin_query(rq, "after", after, sizeof after) < 0) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "A query parameter is too long or malformed");
    return;
  }
  long limit = 50;
  if (lim[0]) {
    char *e;
    limit = strtol(lim, &e, 10);
    if (*e || limit < 1 || limit > LIMIT_MAX) {
      sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'limit' must be an integer from 1 to %d", LIMIT_MAX);
      return;
    }
  }
  if (status[0] && !status_ok(status)) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL,
                     "'status' must be an HTTP status (200), a class (2xx, 4xx, 5xx) or \"error\"");
    return;
  }
  uint64_t aft = UINT64_MAX;
  if (after[0]) {
    char *e;
    unsigned long long v = strtoull(after, &e, 10);
    if (*e || after[0] == '-') {
      sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'after' must be a sequence number (a cursor)");
      return;
    }
    aft = v;
  }
  const struct sl_shm_dash *d = &rq->w->shm->dash;
  uint64_t head = sl_dash_ring_head(d);
  struct sl_buf b = {0};
  sl_buf_puts(&b, "{\"cursor\":");
  if (head)
    put_u64(&b, head - 1);
  else
    sl_buf_puts(&b, "-1");
  sl_buf_puts(&b, ",\"requests\":[");
  long n = 0;
  uint64_t first = aft == UINT64_MAX ? 0 : aft + 1;
  struct sl_dash_rec r;
  for (uint64_t k = head; k > first && n < limit && head - k < SL_DASH_RING; k--) {
    if (!sl_dash_ring_read(d, k - 1, &r)) continue;
    if (group[0] && !rec_in_group(rq->w, &r, group)) continue;
    if (key[0] && strcmp(key, (r.flags & 16) ? "master" : r.key)) continue;
    if (status[0] && !status_match(status, r.status)) continue;
    if (n++) sl_buf_puts(&b, ",");
    sl__dash_req_write(rq->w, &r, &b);
  }
  sl_buf_puts(&b, "]}");
  if (b.oom)
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot build the dashboard answer");
  else
    sl_respond_body(rq, 200, NULL, SL_DASH_NO_STORE, b.p, b.n);
  sl_buf_free(&b);
}

/* ---- routing ---- */

/* The learned model's cross-validated metrics (`sluice router train` stores them in the
 * model file's metadata, "cv") as curve points; NULL when there are none. */
static cJSON *eval_json(const struct sl_router_cfg *rc) {
  if (!rc->rmodel) return NULL;
  const char *meta = sl_route_model_meta(rc->rmodel);
  cJSON *m = meta ? cJSON_Parse(meta) : NULL, *cv = m ? cJSON_GetObjectItem(m, "cv") : NULL;
  cJSON *c50 = cv ? cJSON_GetObjectItem(cv, "cpt50") : NULL, *c80 = cv ? cJSON_GetObjectItem(cv, "cpt80") : NULL;
  if (!cJSON_IsNumber(c50) || !cJSON_IsNumber(c80)) {
    cJSON_Delete(m);
    return NULL;
  }
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "source", "model");
  static const char *const names[] = {"n", "apgr", "cpt50", "cpt80", "weak", "strong"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    cJSON *v = cJSON_GetObjectItem(cv, names[i]);
    if (cJSON_IsNumber(v))
      cJSON_AddNumberToObject(e, names[i], v->valuedouble);
    else
      cJSON_AddNullToObject(e, names[i]);
  }
  cJSON *pts = cJSON_AddArrayToObject(e, "points");
  const double xs[] = {0, c50->valuedouble, c80->valuedouble, 1}, ys[] = {0, 0.5, 0.8, 1};
  for (int i = 0; i < 4; i++) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "strong_share", xs[i]);
    cJSON_AddNumberToObject(p, "pgr", ys[i]);
    cJSON_AddItemToArray(pts, p);
  }
  cJSON_Delete(m);
  return e;
}

static const char *router_kind_name(enum sl_router_kind k) {
  static const char *const names[] = {"learned", "rules", "cost", "chain", "tiers", "cascade", "semantic"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

void sl_dashboard_routing(struct sl_request *rq) {
  struct sl_worker *w = rq->w;
  const struct sl_plan *plan = w->cfg->plan;
  cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "routers") : NULL;
  if (!arr) return respond_obj(rq, o);
  for (size_t i = 0; plan && i < plan->nrouters && i < SL_SHM_MAX_ROUTERS; i++) {
    const struct sl_plan_router *pr = &plan->routers[i];
    struct sl_shm_router *sr = &w->shm->routers[i];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "name", pr->cfg->name);
    cJSON_AddStringToObject(x, "kind", router_kind_name(pr->cfg->kind));
    uint64_t req = 0, cost = 0, strong = 0;
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      req += atomic_load(&sr->t[g].requests);
      cost += atomic_load(&sr->t[g].cost_micro);
      strong += atomic_load(&sr->t[g].strong_cost_micro);
    }
    cJSON_AddNumberToObject(x, "requests", (double)req);
    cJSON_AddNumberToObject(x, "spend_usd", (double)cost / 1e6);
    cJSON *st = cJSON_AddObjectToObject(x, "strongest");
    add_str_or_null(st, "group", pr->strong ? pr->strong->name : NULL);
    cJSON_AddNumberToObject(st, "cost_usd", (double)strong / 1e6);
    cJSON_AddNumberToObject(x, "saved_usd", ((double)strong - (double)cost) / 1e6);
    cJSON_AddNumberToObject(x, "saved_pct", strong ? 100.0 * ((double)strong - (double)cost) / (double)strong : 0);
    cJSON *ts = cJSON_AddArrayToObject(x, "targets");
    for (size_t g = 0; g < w->ngroups && g < SL_SHM_ROUTER_TARGETS; g++) {
      uint64_t n = atomic_load(&sr->t[g].requests), sw = atomic_load(&sr->t[g].shadow_would);
      if (!n && !sw) continue;
      cJSON *t = cJSON_CreateObject();
      cJSON_AddStringToObject(t, "group", w->groups[g].name);
      cJSON_AddNumberToObject(t, "requests", (double)n);
      cJSON_AddNumberToObject(t, "share", req ? (double)n / (double)req : 0);
      cJSON_AddNumberToObject(t, "cost_usd", (double)atomic_load(&sr->t[g].cost_micro) / 1e6);
      cJSON_AddNumberToObject(t, "shadow_would", (double)sw);
      cJSON_AddItemToArray(ts, t);
    }
    cJSON *ev = eval_json(pr->cfg);
    if (ev)
      cJSON_AddItemToObject(x, "eval", ev);
    else
      cJSON_AddNullToObject(x, "eval");
    cJSON_AddItemToArray(arr, x);
  }
  respond_obj(rq, o);
}

/* ---- cache ---- */

void sl_dashboard_cache(struct sl_request *rq) {
  char *body = NULL;
  size_t n = 0;
  int rc = sl_reqcache_stats_json(rq->w, &body, &n);
  cJSON *stats = rc == 0 && body ? cJSON_ParseWithLength(body, n) : NULL;
  free(body);
  cJSON *o = cJSON_CreateObject();
  if (!o || !stats) {
    cJSON_Delete(stats);
    cJSON_Delete(o);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Cannot read cache statistics");
    return;
  }
  cJSON_AddItemToObject(o, "stats", stats);
  const struct sl_shm_dash *d = &rq->w->shm->dash;
  uint64_t head = sl_dash_ring_head(d), now = sl_now_ms(), hits = 0, misses = 0;
  struct sl_dash_rec r;
  for (uint64_t k = head; k > 0 && head - k < SL_DASH_RING; k--) {
    if (!sl_dash_ring_read_numbers(d, k - 1, &r)) continue;
    if (r.end_mono_ms + WINDOW_MS < now) break;
    if (r.cache == SL_CS_HIT || r.cache == SL_CS_SEMANTIC) hits++;
    if (r.cache == SL_CS_MISS) misses++;
  }
  cJSON_AddNumberToObject(o, "hits", (double)hits);
  cJSON_AddNumberToObject(o, "misses", (double)misses);
  if (hits + misses)
    cJSON_AddNumberToObject(o, "hit_pct", 100.0 * (double)hits / (double)(hits + misses));
  else
    cJSON_AddNullToObject(o, "hit_pct");
  cJSON_AddStringToObject(o, "flush", "DELETE /cache");
  respond_obj(rq, o);
}
