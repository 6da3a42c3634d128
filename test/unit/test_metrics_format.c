/* metrics: finished requests counted into the shared-memory region and rendered in the
 * Prometheus text format, checked line by line against a fake worker (no loop, no
 * sockets): which series a request lands in, status classes, cache results, retries,
 * hedges, own 429s, histogram buckets, label escaping, health gauges. */
#include <stdlib.h>

#include "check.h"
#include "core/metrics.h"
#include "core/request_internal.h"
#include "store/keys.h"

static struct sl_deployment deps[3] = {
  {.model_name = "alpha", .id = "alpha-0"},
  {.model_name = "alpha", .id = "we\"ird\\id\nx"},
  {.model_name = "solo", .id = "solo-0"},
};
static struct sl_config cfg = {.deployments = deps, .ndeployments = 3};
static size_t ga[2] = {0, 1}, gs[1] = {2};
static struct sl_group groups[2] = {{"alpha", ga, 2}, {"solo", gs, 1}};

static struct sl_worker *fresh_worker(void) {
  static struct sl_worker w;
  static struct sl_shm *shm;
  if (shm) sl_shm_destroy(shm);
  if (sl_shm_create(3, 0, &shm)) abort();
  memset(&w, 0, sizeof w);
  w.cfg = &cfg;
  w.shm = shm;
  w.groups = groups;
  w.ngroups = 2;
  return &w;
}

static struct sl_attempt att[4];

/* A finished request that took ms milliseconds, answered by dep (SIZE_MAX: no attempt). */
static struct sl_request req(struct sl_worker *w, const struct sl_group *g, size_t dep, int status, uint64_t ms) {
  struct sl_request rq = {.w = w, .group = g, .status = status, .cache_state = SL_CS_MISS};
  rq.t0_ms = sl_now_ms() - ms;
  if (dep != SIZE_MAX) {
    memset(&att[0], 0, sizeof att[0]);
    att[0].dep = dep;
    att[0].status = status;
    rq.att[0] = &att[0];
    rq.natt = 1;
    if (status < 400) rq.winner = &att[0];
  }
  return rq;
}

/* A finished request as the spine reports it: its summary record, counted. */
static void done(struct sl_worker *w, const struct sl_request *rq) {
  struct sl_request_summary s;
  sl_request_summarize(rq, sl_now_ms(), &s);
  sl_metrics_request_done(w, &s);
}

static char *render(struct sl_worker *w) {
  static struct sl_buf b;
  sl_buf_free(&b);
  CHECK(sl_metrics_render(w, &b) == 0);
  sl_buf_append(&b, "", 1);
  return b.p;
}

/* The whole line (between newlines) is in the text. */
static bool has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)); p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return true;
  return false;
}

static void request_lands_on_the_answering_deployment(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[0], 1, 200, 30);
  done(w, &rq);
  char *t = render(w);
  CHECK(has_line(t, "sluice_requests_total{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\",status_class=\"2xx\","
                    "cache=\"miss\"} 1"));
  /* 30 ms: not in 0.025, in 0.05 and above */
  CHECK(has_line(t, "sluice_request_duration_seconds_bucket{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\","
                    "le=\"0.025\"} 0"));
  CHECK(has_line(t, "sluice_request_duration_seconds_bucket{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\","
                    "le=\"0.05\"} 1"));
  CHECK(has_line(t, "sluice_request_duration_seconds_bucket{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\","
                    "le=\"+Inf\"} 1"));
  CHECK(has_line(t, "sluice_request_duration_seconds_count{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\"} 1"));
  /* Deployments with nothing counted still show one series per family. */
  CHECK(has_line(t, "sluice_requests_total{group=\"alpha\",deployment=\"alpha-0\",status_class=\"2xx\",cache=\"none\"} 0"));
  CHECK(has_line(t, "sluice_requests_total{group=\"solo\",deployment=\"solo-0\",status_class=\"2xx\",cache=\"none\"} 0"));
  CHECK(has_line(t, "sluice_request_duration_seconds_count{group=\"solo\",deployment=\"solo-0\"} 0"));
  /* No group-level series until a request without a deployment is counted. */
  CHECK(!strstr(t, "\",deployment=\"\""));
  CHECK(has_line(t, "# TYPE sluice_requests_total counter"));
  CHECK(has_line(t, "# TYPE sluice_request_duration_seconds histogram"));
  CHECK(has_line(t, "sluice_build_info{version=\"0.1.0\"} 1"));
  CHECK(strlen(t) > 0 && t[strlen(t) - 1] == '\n');
}

static void status_classes_cache_results_and_group_series(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[0], SIZE_MAX, 200, 1);
  rq.cache_state = SL_CS_HIT;
  done(w, &rq);
  rq = req(w, &groups[0], 0, 499, 1); /* client closed */
  done(w, &rq);
  rq = req(w, &groups[0], 0, 503, 1);
  rq.cache_state = SL_CS_BYPASS;
  done(w, &rq);
  rq = req(w, &groups[1], SIZE_MAX, 0, 1);
  rq.cache_state = SL_CS_NONE;
  done(w, &rq);
  rq = req(w, NULL, SIZE_MAX, 404, 1); /* no group: not counted */
  done(w, &rq);
  char *t = render(w);
  CHECK(has_line(t, "sluice_requests_total{group=\"alpha\",deployment=\"\",status_class=\"2xx\",cache=\"hit\"} 1"));
  CHECK(has_line(t, "sluice_requests_total{group=\"alpha\",deployment=\"alpha-0\",status_class=\"4xx\",cache=\"miss\"} 1"));
  CHECK(has_line(t, "sluice_requests_total{group=\"alpha\",deployment=\"alpha-0\",status_class=\"5xx\",cache=\"bypass\"} 1"));
  CHECK(has_line(t, "sluice_requests_total{group=\"solo\",deployment=\"\",status_class=\"other\",cache=\"none\"} 1"));
  /* zero combinations of a counted series are left out */
  CHECK(!strstr(t, "deployment=\"alpha-0\",status_class=\"2xx\""));
  CHECK(!strstr(t, "404"));
  CHECK(has_line(t, "sluice_request_duration_seconds_count{group=\"alpha\",deployment=\"\"} 1"));
}

static void retries_hedges_fallbacks_rate_limits(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[0], 0, 200, 1);
  /* three attempts, one of them a hedge that won, after a fallback */
  for (int i = 0; i < 3; i++) {
    memset(&att[i], 0, sizeof att[i]);
    att[i].dep = 0;
    rq.att[i] = &att[i];
  }
  rq.natt = 3;
  rq.winner = &att[2];
  rq.hedges_fired = 1;
  rq.hedge_won = true;
  rq.fallback_used = "alpha";
  rq.tokens_in = 12;
  rq.tokens_out = 34;
  rq.cost_micro = 1234567;
  done(w, &rq);
  /* sluice's own 429: counted; a provider's 429 passed through: not */
  rq = req(w, &groups[1], SIZE_MAX, 429, 1);
  rq.err_code = "rate_limit_exceeded";
  done(w, &rq);
  rq = req(w, &groups[1], 2, 429, 1);
  rq.err_code = "upstream_error";
  done(w, &rq);
  char *t = render(w);
  CHECK(has_line(t, "sluice_retries_total{group=\"alpha\",deployment=\"alpha-0\"} 1"));
  CHECK(has_line(t, "sluice_hedges_fired_total{group=\"alpha\",deployment=\"alpha-0\"} 1"));
  CHECK(has_line(t, "sluice_hedges_won_total{group=\"alpha\",deployment=\"alpha-0\"} 1"));
  CHECK(has_line(t, "sluice_fallbacks_total{group=\"alpha\",deployment=\"alpha-0\"} 1"));
  CHECK(has_line(t, "sluice_tokens_total{group=\"alpha\",deployment=\"alpha-0\",direction=\"in\"} 12"));
  CHECK(has_line(t, "sluice_tokens_total{group=\"alpha\",deployment=\"alpha-0\",direction=\"out\"} 34"));
  CHECK(has_line(t, "sluice_cost_usd_total{group=\"alpha\",deployment=\"alpha-0\"} 1.234567"));
  CHECK(has_line(t, "sluice_cost_usd_total{group=\"solo\",deployment=\"solo-0\"} 0.000000"));
  CHECK(has_line(t, "sluice_rate_limited_total{group=\"solo\",deployment=\"\"} 1"));
  CHECK(has_line(t, "sluice_rate_limited_total{group=\"solo\",deployment=\"solo-0\"} 0"));
  CHECK(has_line(t, "sluice_requests_total{group=\"solo\",deployment=\"solo-0\",status_class=\"4xx\",cache=\"miss\"} 1"));
  /* cooldowns are per deployment only */
  CHECK(!strstr(t, "sluice_cooldowns_total{group=\"solo\",deployment=\"\"}"));
}

static void ttft_of_streams(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[1], 2, 200, 40);
  rq.stream = true;
  att[0].streaming = true;
  att[0].t_first = rq.t0_ms + 7;
  done(w, &rq);
  rq = req(w, &groups[1], 2, 200, 40); /* not a stream: no TTFT */
  done(w, &rq);
  char *t = render(w);
  CHECK(has_line(t, "sluice_time_to_first_token_seconds_bucket{group=\"solo\",deployment=\"solo-0\",le=\"0.005\"} 0"));
  CHECK(has_line(t, "sluice_time_to_first_token_seconds_bucket{group=\"solo\",deployment=\"solo-0\",le=\"0.01\"} 1"));
  CHECK(has_line(t, "sluice_time_to_first_token_seconds_sum{group=\"solo\",deployment=\"solo-0\"} 0.007000"));
  CHECK(has_line(t, "sluice_time_to_first_token_seconds_count{group=\"solo\",deployment=\"solo-0\"} 1"));
  CHECK(has_line(t, "sluice_request_duration_seconds_count{group=\"solo\",deployment=\"solo-0\"} 2"));
}

static void health_gauges(void) {
  struct sl_worker *w = fresh_worker();
  uint64_t now = sl_now_ms();
  atomic_store(&w->shm->deployments[0].cooldown_until_ms, now + 60000);
  atomic_store(&w->shm->deployments[2].cooldown_until_ms, now + 60000); /* alone in its group */
  atomic_store(&w->shm->deployments[1].inflight, 3);
  atomic_store(&w->shm->deployments[1].m.cooldowns, 2);
  double ms = 250;
  uint64_t bits;
  memcpy(&bits, &ms, sizeof bits);
  atomic_store(&w->shm->deployments[0].ewma_ms_bits, bits);
  atomic_store(&w->shm->workers[0].pid, 100);
  atomic_store(&w->shm->workers[0].connections, 4);
  atomic_store(&w->shm->workers[1].pid, 101);
  atomic_store(&w->shm->workers[1].connections, 1);
  char *t = render(w);
  CHECK(has_line(t, "sluice_deployment_healthy{group=\"alpha\",deployment=\"alpha-0\"} 0"));
  CHECK(has_line(t, "sluice_deployment_healthy{group=\"solo\",deployment=\"solo-0\"} 1"));
  CHECK(has_line(t, "sluice_deployment_inflight{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\"} 3"));
  CHECK(has_line(t, "sluice_cooldowns_total{group=\"alpha\",deployment=\"we\\\"ird\\\\id\\nx\"} 2"));
  CHECK(has_line(t, "sluice_deployment_ewma_latency_seconds{group=\"alpha\",deployment=\"alpha-0\"} 0.25"));
  CHECK(has_line(t, "sluice_deployment_ewma_latency_seconds{group=\"solo\",deployment=\"solo-0\"} 0"));
  CHECK(has_line(t, "sluice_workers 2"));
  CHECK(has_line(t, "sluice_connections_open 5"));
  CHECK(!strstr(t, "sluice_cache_entries")); /* no cache: no cache families */
}

/* sluice_settings.metrics.litellm_names: LiteLLM's families with its label names in its
 * order, status codes one by one, the OpenAI SDK's exception class, the deployment state,
 * a successful fallback by requested and fallback group, a budget key's remaining budget;
 * sluice's upstream and overhead histograms (always). Off: no litellm_* line. */
static void litellm_names(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[0], 0, 429, 30);
  att[0].t_start = 0;
  att[0].t_end = 29; /* 29 ms on the provider of a 30 ms request: 1-2 ms of overhead */
  rq.winner = &att[0];
  done(w, &rq);
  char *t = render(w);
  CHECK(!strstr(t, "litellm_"));
  CHECK(has_line(t, "sluice_upstream_duration_seconds_bucket{group=\"alpha\",deployment=\"alpha-0\",le=\"0.025\"} 0"));
  CHECK(has_line(t, "sluice_upstream_duration_seconds_bucket{group=\"alpha\",deployment=\"alpha-0\",le=\"0.05\"} 1"));
  CHECK(has_line(t, "sluice_upstream_duration_seconds_sum{group=\"alpha\",deployment=\"alpha-0\"} 0.029000"));
  CHECK(has_line(t, "sluice_overhead_seconds_bucket{group=\"alpha\",deployment=\"alpha-0\",le=\"0.0005\"} 0"));
  CHECK(has_line(t, "sluice_overhead_seconds_bucket{group=\"alpha\",deployment=\"alpha-0\",le=\"0.0025\"} 1"));
  CHECK(has_line(t, "sluice_overhead_seconds_count{group=\"alpha\",deployment=\"alpha-0\"} 1"));
  CHECK(has_line(t, "# TYPE sluice_overhead_seconds histogram"));

  cfg.metrics.litellm_names = true;
  /* a fallback from alpha answered by solo-0, through a key with a budget */
  struct sl_key_record key = {.id = 77, .key_alias = "q\"a", .max_budget = 2.5};
  for (int i = 0; i < 32; i++) key.hash[i] = (uint8_t)i;
  rq = req(w, &groups[0], 2, 200, 5);
  rq.fallback_used = "solo";
  rq.key = &key;
  done(w, &rq);
  atomic_store(&w->shm->deployments[0].cooldown_until_ms, sl_now_ms() + 60000);
  atomic_store(&w->shm->deployments[2].cooldown_until_ms, sl_now_ms() + 60000); /* alone: healthy */
  t = render(w);
  cfg.metrics.litellm_names = false;
  CHECK(has_line(t, "# TYPE litellm_proxy_total_requests_metric_total counter"));
  CHECK(has_line(t, "litellm_proxy_total_requests_metric_total{end_user=\"\",hashed_api_key=\"\",api_key_alias=\"\","
                    "requested_model=\"alpha\",team=\"\",team_alias=\"\",user=\"\",status_code=\"429\",user_email=\"\","
                    "route=\"\",client_ip=\"\",user_agent=\"\",model_id=\"alpha-0\"} 1"));
  CHECK(has_line(t, "litellm_proxy_failed_requests_metric_total{end_user=\"\",hashed_api_key=\"\",api_key_alias=\"\","
                    "requested_model=\"alpha\",team=\"\",team_alias=\"\",user=\"\",user_email=\"\","
                    "exception_status=\"429\",exception_class=\"RateLimitError\",route=\"\",client_ip=\"\","
                    "user_agent=\"\",model_id=\"alpha-0\"} 1"));
  CHECK(!strstr(t, "litellm_proxy_failed_requests_metric_total{end_user=\"\",hashed_api_key=\"\",api_key_alias=\"\","
                   "requested_model=\"solo\""));
  CHECK(has_line(t, "# TYPE litellm_request_total_latency_metric histogram"));
  CHECK(has_line(t, "litellm_llm_api_latency_metric_count{model=\"\",hashed_api_key=\"\",api_key_alias=\"\",team=\"\","
                    "team_alias=\"\",requested_model=\"alpha\",end_user=\"\",user=\"\",model_id=\"alpha-0\"} 1"));
  CHECK(has_line(t, "litellm_overhead_latency_metric_bucket{model_group=\"alpha\",api_provider=\"\",api_base=\"\","
                    "litellm_model_name=\"\",hashed_api_key=\"\",api_key_alias=\"\",model_id=\"alpha-0\","
                    "le=\"0.0025\"} 1"));
  CHECK(has_line(t, "litellm_deployment_state{litellm_model_name=\"\",model_id=\"alpha-0\",api_base=\"\","
                    "api_provider=\"\"} 2"));
  CHECK(has_line(t, "litellm_deployment_state{litellm_model_name=\"\",model_id=\"solo-0\",api_base=\"\","
                    "api_provider=\"\"} 0"));
  CHECK(has_line(t, "litellm_deployment_success_responses_total{requested_model=\"solo\",litellm_model_name=\"\","
                    "model_id=\"solo-0\",api_base=\"\",api_provider=\"\",hashed_api_key=\"\",api_key_alias=\"\","
                    "team=\"\",team_alias=\"\",client_ip=\"\",user_agent=\"\"} 1"));
  CHECK(has_line(t, "litellm_deployment_successful_fallbacks_total{requested_model=\"alpha\",fallback_model=\"solo\","
                    "hashed_api_key=\"\",api_key_alias=\"\",team=\"\",team_alias=\"\",exception_status=\"\","
                    "exception_class=\"\",model_id=\"solo-0\"} 1"));
  CHECK(has_line(t, "# TYPE litellm_remaining_api_key_budget_metric gauge"));
  CHECK(has_line(t, "litellm_remaining_api_key_budget_metric{hashed_api_key=\"000102030405060708090a0b0c0d0e0f"
                    "101112131415161718191a1b1c1d1e1f\",api_key_alias=\"q\\\"a\"} 2.5"));
  /* a key without a budget is not shown */
  struct sl_key_record free_key = {.id = 78, .key_alias = "nobudget"};
  rq = req(w, &groups[0], 0, 200, 1);
  rq.key = &free_key;
  cfg.metrics.litellm_names = true;
  done(w, &rq);
  t = render(w);
  cfg.metrics.litellm_names = false;
  CHECK(!strstr(t, "nobudget"));
  CHECK(strstr(t, "api_key_alias=\"q\\\"a\"} 2.5"));
  /* its budget removed: no longer shown */
  key.max_budget = 0;
  rq = req(w, &groups[0], 0, 200, 1);
  rq.key = &key;
  cfg.metrics.litellm_names = true;
  done(w, &rq);
  t = render(w);
  cfg.metrics.litellm_names = false;
  CHECK(has_line(t, "# TYPE litellm_remaining_api_key_budget_metric gauge"));
  CHECK(!strstr(t, "litellm_remaining_api_key_budget_metric{"));
}

/* Every line is a comment (HELP/TYPE) or name{labels} value, and families are
 * announced before their samples. */
static void every_line_is_well_formed(void) {
  struct sl_worker *w = fresh_worker();
  struct sl_request rq = req(w, &groups[0], 1, 200, 3);
  done(w, &rq);
  char *t = render(w);
  char type_of[64] = "";
  for (char *p = t; *p;) {
    char *nl = strchr(p, '\n');
    CHECK(nl != NULL);
    if (!nl) break;
    *nl = 0;
    if (strncmp(p, "# TYPE ", 7) == 0) {
      snprintf(type_of, sizeof type_of, "%.*s", (int)strcspn(p + 7, " "), p + 7);
    } else if (strncmp(p, "# HELP ", 7) != 0) {
      CHECK(p[0] != '#' && p[0] != 0);
      CHECK(type_of[0] && strncmp(p, type_of, strlen(type_of)) == 0); /* sample of the announced family */
      char *sp = strrchr(p, ' ');
      CHECK(sp && sp[1]);
      char *end;
      strtod(sp + 1, &end);
      CHECK(*end == 0);
    }
    *nl = '\n';
    p = nl + 1;
  }
}

/* Issue 11.14: counters carried to a new generation's region by labels, the old
 * generation's growth while it drains added at its end, series the new config lacks
 * dropped. */
static void counters_carry_across_reloads(void) {
  struct sl_shm *old, *new;
  CHECK(sl_shm_create(3, 0, &old) == 0);
  /* new config: "solo" gone, a new deployment first, the alpha ones in another order */
  static struct sl_deployment nd[3] = {
    {.model_name = "beta", .id = "beta-0"},
    {.model_name = "alpha", .id = "we\"ird\\id\nx"},
    {.model_name = "alpha", .id = "alpha-0"},
  };
  static struct sl_config ncfg = {.deployments = nd, .ndeployments = 3};
  CHECK(sl_shm_create(3, 0, &new) == 0);
  atomic_store(&old->deployments[0].m.requests[SL_SC_2XX][SL_CR_MISS], 7);
  atomic_store(&old->deployments[1].m.cost_micro_usd, 5);
  atomic_store(&old->deployments[2].m.retries, 9);
  atomic_store(&old->groups[0].rate_limited, 4);       /* group "alpha" */
  atomic_store(&new->deployments[2].m.requests[SL_SC_2XX][SL_CR_MISS], 1); /* the new gen served one */
  struct sl_metrics_carry *c = sl_metrics_carry_begin(old, &cfg, new, &ncfg);
  CHECK(c != NULL);
  CHECK(atomic_load(&new->deployments[2].m.requests[SL_SC_2XX][SL_CR_MISS]) == 8);
  CHECK(atomic_load(&new->deployments[1].m.cost_micro_usd) == 5);
  CHECK(atomic_load(&new->deployments[0].m.retries) == 0); /* beta is new; solo's retries dropped */
  CHECK(atomic_load(&new->groups[1].rate_limited) == 4);   /* alpha is group 1 in the new config */
  /* the old generation drains: what it counts meanwhile arrives at its end */
  atomic_fetch_add(&old->deployments[0].m.requests[SL_SC_2XX][SL_CR_MISS], 3);
  CHECK(atomic_load(&new->deployments[2].m.requests[SL_SC_2XX][SL_CR_MISS]) == 8);
  sl_metrics_carry_end(c);
  CHECK(atomic_load(&new->deployments[2].m.requests[SL_SC_2XX][SL_CR_MISS]) == 11);
  CHECK(atomic_load(&new->deployments[1].m.cost_micro_usd) == 5);
  sl_metrics_carry_end(NULL); /* no carry: nothing */
  sl_shm_destroy(old);
  sl_shm_destroy(new);
}

CHECK_MAIN(T(request_lands_on_the_answering_deployment), T(status_classes_cache_results_and_group_series),
           T(retries_hedges_fallbacks_rate_limits), T(ttft_of_streams), T(health_gauges),
           T(every_line_is_well_formed), T(counters_carry_across_reloads), T(litellm_names))
