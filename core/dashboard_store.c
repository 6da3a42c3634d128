/* core/dashboard_store.c: the dashboard views that read the store or the config file
 * (GET /ui/api/keys, /ui/api/spend, /ui/api/config; shapes in core/dashboard.h). The one
 * idea: each is an admin job (core/admin_internal.h) that reads LMDB off the event loop
 * with the same store functions the admin routes use (sl_keys_list, sl_spend_report,
 * sl_spend_total, sl__admin_key_info_object) and joins the live shm state (rate windows,
 * unflushed spend). Secrets never leave: keys are shown by alias, display form and hashed
 * token; config values that are secrets become "***". To add a view of stored data: a
 * job here, a row in core/routes.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/admin_internal.h"
#include "core/config/config.h"
#include "core/config/plan.h"
#include "core/dashboard_internal.h"
#include "core/master.h"
#include "core/request_internal.h"
#include "core/respond.h"
#include "policy/cost.h"
#include "store/keys.h"
#include "store/spend.h"

#define MAX_DAYS 366

static void add_use(cJSON *o, const char *k, int64_t used, int64_t limit) {
  cJSON *x = cJSON_AddObjectToObject(o, k);
  cJSON_AddNumberToObject(x, "used", (double)used);
  if (limit > 0)
    cJSON_AddNumberToObject(x, "limit", (double)limit);
  else
    cJSON_AddNullToObject(x, "limit");
}

/* Unflushed spend of a payer slot (micro-USD). */
static int64_t unflushed(struct sl_worker *w, uint64_t id) {
  struct sl_shm_key *s = sl_shm_key_find(w->shm, id);
  if (!s) return 0;
  int64_t f = atomic_load(&s->spend_flushed_micro), t = atomic_load(&s->spend_total_micro);
  return t > f ? t - f : 0;
}

/* ---- keys ---- */

struct keys_job {
  struct sl__admin_job j;
  cJSON *arr;
  int64_t now;
  bool oom;
};

static int64_t window_now(const struct sl_shm_window *win) {
  uint64_t minute = sl_now_ms() / 60000;
  return win->minute == minute ? win->cur : 0;
}

static int key_cb(void *ctx, const struct sl_key_record *r) {
  struct keys_job *kj = ctx;
  int64_t spend = sl__admin_key_spend_micro(kj->j.w, r->id);
  cJSON *o = sl__admin_key_info_object(r, spend);
  if (!o) {
    kj->oom = true;
    return 1;
  }
  struct sl_shm_key *s = sl_shm_key_find(kj->j.w->shm, r->id);
  struct sl_shm_window rw = {0}, tw = {0};
  int64_t par = 0;
  if (s) {
    rw = s->req;
    tw = s->tok;
    par = atomic_load(&s->inflight);
  }
  add_use(o, "rpm", window_now(&rw), r->rpm_limit);
  add_use(o, "tpm", window_now(&tw), r->tpm_limit);
  add_use(o, "parallel", par, r->max_parallel_requests);
  cJSON_AddNumberToObject(o, "spend_usd", (double)spend / 1e6);
  if (r->max_budget > 0)
    cJSON_AddNumberToObject(o, "max_budget_usd", r->max_budget);
  else
    cJSON_AddNullToObject(o, "max_budget_usd");
  cJSON_AddBoolToObject(o, "expired", r->expires_at > 0 && r->expires_at <= kj->now);
  cJSON_AddItemToArray(kj->arr, o);
  return 0;
}

static void keys_run(struct sl__admin_job *j) {
  struct keys_job *kj = (struct keys_job *)j;
  cJSON *o = cJSON_CreateObject();
  kj->arr = o ? cJSON_AddArrayToObject(o, "keys") : NULL;
  if (!kj->arr) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  kj->now = (int64_t)time(NULL);
  int rc = j->w->keys ? sl_keys_list(j->w->keys, key_cb, kj) : 0;
  if (kj->oom) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  if (rc) {
    cJSON_Delete(o);
    sl__admin_fail_store(j, "list the keys", rc);
    return;
  }
  cJSON *a = cJSON_AddObjectToObject(o, "actions");
  cJSON_AddStringToObject(a, "generate", "POST /key/generate");
  cJSON_AddStringToObject(a, "delete", "POST /key/delete");
  cJSON_AddStringToObject(a, "block", "POST /key/block");
  cJSON_AddStringToObject(a, "unblock", "POST /key/unblock");
  sl__admin_ok(j, 200, o);
}

void sl_dashboard_keys(struct sl_request *rq) {
  struct keys_job *kj = calloc(1, sizeof *kj);
  if (!kj) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  kj->j.run = keys_run;
  kj->j.extra_hdrs = SL_DASH_NO_STORE;
  sl__admin_queue(rq, &kj->j);
}

/* ---- spend ---- */

struct named {
  uint64_t id;
  char token[65];
  char name[80];
  double max_budget;
  int64_t duration_s, period_start;
};

struct spend_job {
  struct sl__admin_job j;
  uint32_t start, end;
  struct named *keys;
  size_t nkeys, capkeys;
  int64_t *day_micro; /* per day start..end */
  cJSON *by_key, *by_group;
  int64_t *key_micro, *group_micro; /* parallel to keys / w->groups */
  bool oom;
};

static int spend_keys_cb(void *ctx, const struct sl_key_record *k) {
  struct spend_job *s = ctx;
  if (s->nkeys == s->capkeys) {
    size_t cap = s->capkeys ? s->capkeys * 2 : 64;
    void *p = realloc(s->keys, cap * sizeof *s->keys);
    if (!p) {
      s->oom = true;
      return 1;
    }
    s->keys = p;
    s->capkeys = cap;
  }
  struct named *e = &s->keys[s->nkeys++];
  memset(e, 0, sizeof *e);
  e->id = k->id;
  sl_keys_hash_hex(k->hash, e->token);
  snprintf(e->name, sizeof e->name, "%s", k->key_alias[0] ? k->key_alias : k->display);
  e->max_budget = k->max_budget;
  e->duration_s = k->budget_duration_s;
  e->period_start = k->budget_duration_s > 0 ? sl_key_period_start(k, (int64_t)time(NULL)) : 0;
  return 0;
}

static int spend_row_cb(void *ctx, const struct sl_spend_report_row *row) {
  struct spend_job *s = ctx;
  if (row->day < s->start || row->day > s->end) return 0;
  if (row->kind == SL_SPEND_KEY) {
    for (size_t i = 0; i < s->nkeys; i++)
      if (s->keys[i].id == row->id) s->key_micro[i] = sl_policy_add_sat(s->key_micro[i], row->v.micro);
  } else if (row->kind == SL_SPEND_GROUP) {
    s->day_micro[row->day - s->start] = sl_policy_add_sat(s->day_micro[row->day - s->start], row->v.micro);
    for (size_t g = 0; g < s->j.w->ngroups; g++)
      if (s->j.w->groups[g].spend_id == row->id) s->group_micro[g] = sl_policy_add_sat(s->group_micro[g], row->v.micro);
  }
  return 0;
}

/* Spend per hour of payer `key` (NULL: all) over the ring's last minute. */
static double burn_usd_per_hour(struct sl_worker *w, const char *key) {
  const struct sl_shm_dash *d = &w->shm->dash;
  uint64_t head = sl_dash_ring_head(d), now = sl_now_ms();
  int64_t pico = 0;
  struct sl_dash_rec r;
  for (uint64_t k = head; k > 0 && head - k < SL_DASH_RING; k--) {
    if (!sl_dash_ring_read(d, k - 1, &r)) continue;
    if (r.end_mono_ms + 60000 < now) break;
    if (!key || (!(r.flags & 16) && !strcmp(r.key, key))) pico += r.cost_pico;
  }
  return (double)pico / 1e12 * 60;
}

static void add_budget(cJSON *arr, const char *scope, const char *name, double max, double spent, int64_t dur,
                       int64_t period_start, double burn) {
  cJSON *b = cJSON_CreateObject();
  if (!b) return;
  cJSON_AddStringToObject(b, "scope", scope);
  cJSON_AddStringToObject(b, "name", name);
  cJSON_AddNumberToObject(b, "max_budget_usd", max);
  cJSON_AddNumberToObject(b, "spend_usd", spent);
  double rem = max - spent > 0 ? max - spent : 0;
  cJSON_AddNumberToObject(b, "remaining_usd", rem);
  cJSON_AddNumberToObject(b, "used_pct", max > 0 ? 100.0 * spent / max : 0);
  char t[32];
  if (dur > 0) {
    sl__admin_duration_format(dur, t);
    cJSON_AddStringToObject(b, "budget_duration", t);
  } else {
    cJSON_AddNullToObject(b, "budget_duration");
  }
  sl__admin_add_time(b, "reset_at", dur > 0 ? period_start + dur : 0);
  cJSON_AddNumberToObject(b, "burn_usd_per_hour", burn);
  sl__admin_add_time(b, "exhausted_at", burn > 0 && rem > 0 ? (int64_t)time(NULL) + (int64_t)(rem / burn * 3600) : 0);
  cJSON_AddItemToArray(arr, b);
}

static void spend_run(struct sl__admin_job *j) {
  struct spend_job *s = (struct spend_job *)j;
  struct sl_worker *w = j->w;
  int rc = 0;
  if (w->keys) rc = sl_keys_list(w->keys, spend_keys_cb, s);
  size_t ndays = s->end - s->start + 1;
  s->day_micro = calloc(ndays, sizeof *s->day_micro);
  s->key_micro = calloc(s->nkeys ? s->nkeys : 1, sizeof *s->key_micro);
  s->group_micro = calloc(w->ngroups ? w->ngroups : 1, sizeof *s->group_micro);
  if (s->oom || !s->day_micro || !s->key_micro || !s->group_micro) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  if (!rc && w->tenancy) rc = sl_spend_report(w->tenancy, SL_SPEND_KEY, s->start, s->end, spend_row_cb, s);
  if (!rc && w->tenancy) rc = sl_spend_report(w->tenancy, SL_SPEND_GROUP, s->start, s->end, spend_row_cb, s);
  if (rc) {
    sl__admin_fail_store(j, "read the spend ledger", rc);
    return;
  }
  /* what the flusher has not moved yet belongs to today */
  for (size_t i = 0; i < s->nkeys; i++)
    s->key_micro[i] = sl_policy_add_sat(s->key_micro[i], unflushed(w, s->keys[i].id));
  for (size_t g = 0; g < w->ngroups; g++) {
    int64_t u = unflushed(w, w->groups[g].spend_id);
    s->group_micro[g] = sl_policy_add_sat(s->group_micro[g], u);
    s->day_micro[ndays - 1] = sl_policy_add_sat(s->day_micro[ndays - 1], u);
  }
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  cJSON_AddNumberToObject(o, "days", (double)ndays);
  cJSON *bk = cJSON_AddArrayToObject(o, "by_key");
  for (size_t i = 0; i < s->nkeys; i++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "key", s->keys[i].name);
    cJSON_AddStringToObject(x, "token", s->keys[i].token);
    cJSON_AddItemToObject(x, "spend_usd", sl__admin_usd(s->key_micro[i]));
    cJSON_AddItemToArray(bk, x);
  }
  cJSON *bg = cJSON_AddArrayToObject(o, "by_group");
  for (size_t g = 0; g < w->ngroups; g++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "group", w->groups[g].name);
    cJSON_AddItemToObject(x, "spend_usd", sl__admin_usd(s->group_micro[g]));
    cJSON_AddItemToArray(bg, x);
  }
  cJSON *bd = cJSON_AddArrayToObject(o, "by_day");
  for (size_t d = 0; d < ndays; d++) {
    char day[11];
    sl_spend_day_format(s->start + (uint32_t)d, day);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "day", day);
    cJSON_AddItemToObject(x, "spend_usd", sl__admin_usd(s->day_micro[d]));
    cJSON_AddItemToArray(bd, x);
  }
  cJSON *bu = cJSON_AddArrayToObject(o, "budgets");
  for (size_t i = 0; i < s->nkeys; i++) {
    const struct named *k = &s->keys[i];
    if (k->max_budget <= 0) continue;
    double spent = (double)sl__admin_key_spend_micro(w, k->id) / 1e6;
    struct sl_shm_key *sk = sl_shm_key_find(w->shm, k->id);
    if (k->duration_s > 0) /* the period's spend, when this region has loaded it */
      spent = sk && atomic_load(&sk->loaded) ? (double)atomic_load(&sk->period_spend_pico) / 1e12 : 0;
    add_budget(bu, "key", k->name, k->max_budget, spent, k->duration_s, k->period_start, burn_usd_per_hour(w, k->name));
  }
  const struct sl_config *c = w->cfg;
  if (c->max_budget > 0) {
    struct sl_shm_key *gk = sl_shm_key_find(w->shm, SL_SPEND_ID_GATEWAY);
    double spent = gk ? (double)atomic_load(&gk->period_spend_pico) / 1e12 : 0;
    int64_t ps = gk ? (int64_t)atomic_load(&gk->period_start) : 0;
    add_budget(bu, "gateway", "gateway", c->max_budget, spent, c->plan ? c->plan->budget_period_s : 0, ps,
               burn_usd_per_hour(w, NULL));
  }
  sl__admin_ok(j, 200, o);
}

static void spend_destroy(struct sl__admin_job *j) {
  struct spend_job *s = (struct spend_job *)j;
  free(s->keys);
  free(s->day_micro);
  free(s->key_micro);
  free(s->group_micro);
}

void sl_dashboard_spend(struct sl_request *rq) {
  char v[16] = "";
  long days = 30;
  int q = sl__admin_query(rq, "days", v, sizeof v);
  if (q > 0) {
    char *e;
    days = strtol(v, &e, 10);
  }
  if (q < 0 || (q > 0 && (days < 1 || days > MAX_DAYS || strspn(v, "0123456789") != strlen(v)))) {
    sl_respond_error(rq, 400, SL_ERR_INVALID_REQUEST, NULL, "'days' must be an integer from 1 to %d", MAX_DAYS);
    return;
  }
  struct spend_job *s = calloc(1, sizeof *s);
  if (!s) {
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  s->end = sl_spend_day((int64_t)time(NULL));
  s->start = s->end >= (uint32_t)(days - 1) ? s->end - (uint32_t)(days - 1) : 0;
  s->j.run = spend_run;
  s->j.extra_hdrs = SL_DASH_NO_STORE;
  s->j.destroy = spend_destroy;
  sl__admin_queue(rq, &s->j);
}

/* ---- config ---- */

#define SECRET "***"

static void add_secret(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, SECRET);
  else
    cJSON_AddNullToObject(o, k);
}

static void add_str(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

static const char *strategy_name(enum sl_strategy s) {
  switch (s) {
  case SL_STRAT_SHUFFLE: return "simple-shuffle";
  case SL_STRAT_LEAST_BUSY: return "least-busy";
  case SL_STRAT_LATENCY: return "latency-based-routing";
  case SL_STRAT_COST: return "cost-based-routing";
  case SL_STRAT_USAGE: return "usage-based-routing";
  default: return "usage-based-routing-v2";
  }
}

/* The effective config, as LiteLLM's key names, with every secret "***". */
static cJSON *config_json(const struct sl_config *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON *ml = cJSON_AddArrayToObject(o, "model_list");
  for (size_t i = 0; i < c->ndeployments; i++) {
    const struct sl_deployment *d = &c->deployments[i];
    cJSON *e = cJSON_CreateObject(), *lp = cJSON_AddObjectToObject(e, "litellm_params"),
          *mi = cJSON_AddObjectToObject(e, "model_info");
    cJSON_AddStringToObject(e, "model_name", d->model_name);
    add_str(lp, "model", d->model);
    add_str(lp, "api_base", d->api_base);
    add_secret(lp, "api_key", d->api_key);
    if (d->api_version) add_str(lp, "api_version", d->api_version);
    if (d->rpm) cJSON_AddNumberToObject(lp, "rpm", (double)d->rpm);
    if (d->tpm) cJSON_AddNumberToObject(lp, "tpm", (double)d->tpm);
    if (d->timeout_s > 0) cJSON_AddNumberToObject(lp, "timeout", d->timeout_s);
    if (d->stream_timeout_s > 0) cJSON_AddNumberToObject(lp, "stream_timeout", d->stream_timeout_s);
    if (d->weight > 0) cJSON_AddNumberToObject(lp, "weight", d->weight);
    if (d->order) cJSON_AddNumberToObject(lp, "order", d->order);
    if (d->region) add_str(lp, "region", d->region);
    add_str(mi, "id", d->id);
    if (d->input_cost_per_token > 0) cJSON_AddNumberToObject(mi, "input_cost_per_token", d->input_cost_per_token);
    if (d->output_cost_per_token > 0) cJSON_AddNumberToObject(mi, "output_cost_per_token", d->output_cost_per_token);
    cJSON_AddItemToArray(ml, e);
  }
  for (size_t i = 0; i < c->nrouters; i++) {
    const struct sl_router_cfg *r = &c->routers[i];
    cJSON *e = cJSON_CreateObject(), *lp = cJSON_AddObjectToObject(e, "litellm_params");
    cJSON_AddStringToObject(e, "model_name", r->name);
    add_str(lp, "model", r->model);
    if (r->strong_model) add_str(lp, "strong_model", r->strong_model);
    if (r->weak_model) add_str(lp, "weak_model", r->weak_model);
    if (r->default_model) add_str(lp, "default_model", r->default_model);
    if (r->router_model_path) add_str(lp, "router_model_path", r->router_model_path);
    cJSON_AddItemToArray(ml, e);
  }
  cJSON *rs = cJSON_AddObjectToObject(o, "router_settings");
  cJSON_AddStringToObject(rs, "routing_strategy", strategy_name(c->routing_strategy));
  cJSON_AddNumberToObject(rs, "num_retries", c->num_retries);
  cJSON_AddNumberToObject(rs, "timeout", c->timeout_s);
  cJSON_AddNumberToObject(rs, "allowed_fails", c->allowed_fails);
  cJSON_AddNumberToObject(rs, "cooldown_time", c->cooldown_time_s);
  cJSON_AddNumberToObject(rs, "max_fallbacks", c->max_fallbacks);
  cJSON *fb = cJSON_AddArrayToObject(rs, "fallbacks");
  for (size_t i = 0; i < c->nfallbacks; i++) {
    cJSON *e = cJSON_CreateObject(),
          *to = cJSON_AddArrayToObject(e, c->fallbacks[i].group ? c->fallbacks[i].group : "*");
    for (size_t k = 0; k < c->fallbacks[i].to.n; k++)
      cJSON_AddItemToArray(to, cJSON_CreateString(c->fallbacks[i].to.names[k]));
    cJSON_AddItemToArray(fb, e);
  }
  cJSON *gs = cJSON_AddObjectToObject(o, "general_settings");
  add_secret(gs, "master_key", c->master_key);
  if (c->max_budget > 0) cJSON_AddNumberToObject(gs, "max_budget", c->max_budget);
  if (c->budget_duration) add_str(gs, "budget_duration", c->budget_duration);
  cJSON *ss = cJSON_AddObjectToObject(o, "sluice_settings");
  add_str(ss, "host", c->listen_host);
  cJSON_AddNumberToObject(ss, "port", c->port);
  cJSON_AddNumberToObject(ss, "workers", c->workers);
  add_str(ss, "data_dir", c->data_dir);
  add_str(ss, "log_level", c->log_level);
  cJSON_AddBoolToObject(ss, "access_log", c->access_log);
  cJSON_AddNumberToObject(ss, "max_body_bytes", (double)c->max_body_bytes);
  cJSON_AddNumberToObject(ss, "drain_timeout_ms", (double)c->drain_timeout_ms);
  add_str(ss, "tls_cert", c->tls_cert);
  add_secret(ss, "tls_key", c->tls_key);
  cJSON *cl = cJSON_AddObjectToObject(ss, "cluster");
  cJSON_AddBoolToObject(cl, "enabled", c->cluster.redis.enabled);
  if (c->cluster.redis.enabled) {
    add_str(cl, "redis_host", c->cluster.redis.host);
    cJSON_AddNumberToObject(cl, "redis_port", c->cluster.redis.port);
    add_secret(cl, "redis_password", c->cluster.redis.password);
    cJSON_AddBoolToObject(cl, "cache_tier", c->cluster.cache_tier);
  }
  return o;
}

/* The safety net: any string in the answer that holds a secret of the config (a
 * warning quoting a value, a path made of one) becomes "***". */
static bool holds_secret(const struct sl_config *c, const char *v) {
  if (c->master_key && c->master_key[0] && strstr(v, c->master_key)) return true;
  if (c->cluster.redis.password && c->cluster.redis.password[0] && strstr(v, c->cluster.redis.password)) return true;
  for (size_t i = 0; i < c->ndeployments; i++)
    if (c->deployments[i].api_key && strlen(c->deployments[i].api_key) >= 4 && strstr(v, c->deployments[i].api_key))
      return true;
  return false;
}

static void scrub(const struct sl_config *c, cJSON *n) {
  for (; n; n = n->next) {
    if (cJSON_IsString(n) && n->valuestring && holds_secret(c, n->valuestring)) cJSON_SetValuestring(n, SECRET);
    if (n->child) scrub(c, n->child);
  }
}

struct config_job {
  struct sl__admin_job j;
  char *source;
  cJSON *ignored;
  char reload_msg[512];
  int reload_status;
  bool has_reload;
};

static void warn_cb(void *ud, const char *msg) {
  struct config_job *cj = ud;
  cJSON *x = cJSON_CreateObject();
  if (!x) return;
  /* "FILE:LINE: key.path: why" */
  const char *a = strchr(msg, ':'), *b = a ? strchr(a + 1, ':') : NULL;
  if (a && b && a[1] >= '0' && a[1] <= '9') {
    cJSON_AddItemToObject(x, "where", cJSON_CreateStringReference("")); /* replaced below */
    char where[512];
    snprintf(where, sizeof where, "%.*s", (int)(b - msg), msg);
    cJSON_ReplaceItemInObject(x, "where", cJSON_CreateString(where));
    const char *p = b + 1;
    while (*p == ' ') p++;
    const char *c = strchr(p, ':');
    if (c && !memchr(p, ' ', (size_t)(c - p))) {
      char key[256];
      snprintf(key, sizeof key, "%.*s", (int)(c - p), p);
      cJSON_AddStringToObject(x, "key", key);
    } else {
      cJSON_AddNullToObject(x, "key");
    }
  } else {
    cJSON_AddNullToObject(x, "where");
    cJSON_AddNullToObject(x, "key");
  }
  cJSON_AddStringToObject(x, "warning", msg);
  cJSON_AddItemToArray(cj->ignored, x);
}

static void config_run(struct sl__admin_job *j) {
  struct config_job *cj = (struct config_job *)j;
  const struct sl_config *c = j->w->cfg;
  cJSON *o = cJSON_CreateObject();
  cj->ignored = cJSON_CreateArray();
  if (!o || !cj->ignored) {
    cJSON_Delete(o);
    sl__admin_fail(j, 500, SL_ERR_INTERNAL, "Out of memory");
    return;
  }
  cJSON_AddNumberToObject(o, "generation", j->w->ctl ? atomic_load(&j->w->ctl->generation) : 0);
  add_str(o, "path", c->source);
  cJSON *cfg = config_json(c);
  if (cfg) cJSON_AddItemToObject(o, "config", cfg);
  /* The keys sluice ignores: the loader's warnings, from reading the file again (the
   * master read it before fork; its warnings went to the log only). */
  if (cj->source && strcmp(cj->source, "<embedded>")) {
    struct sl_config *again = NULL;
    char err[512] = "";
    if (sl_config_load_file(cj->source, warn_cb, cj, &again, err, sizeof err) == 0) sl_config_free(again);
  }
  cJSON_AddItemToObject(o, "ignored", cj->ignored);
  cj->ignored = NULL;
  if (cj->has_reload) {
    cJSON *lr = cJSON_AddObjectToObject(o, "last_reload");
    cJSON_AddBoolToObject(lr, "ok", cj->reload_status == 0);
    add_str(lr, "error", cj->reload_status ? cj->reload_msg : NULL);
  } else {
    cJSON_AddNullToObject(o, "last_reload");
  }
  cJSON_AddStringToObject(o, "reload", "POST /config/reload");
  scrub(c, o->child);
  sl__admin_ok(j, 200, o);
}

static void config_destroy(struct sl__admin_job *j) {
  struct config_job *cj = (struct config_job *)j;
  free(cj->source);
  cJSON_Delete(cj->ignored);
}

void sl_dashboard_config(struct sl_request *rq) {
  struct config_job *cj = calloc(1, sizeof *cj);
  if (!cj || (rq->w->cfg->source && !(cj->source = strdup(rq->w->cfg->source)))) {
    free(cj);
    sl_respond_error(rq, 500, SL_ERR_INTERNAL, NULL, "Out of memory");
    return;
  }
  if (rq->w->ctl && atomic_load(&rq->w->ctl->result_seq) > 0) {
    cj->has_reload = true;
    sl_master_ctl_result(rq->w->ctl, &cj->reload_status, cj->reload_msg, sizeof cj->reload_msg);
  }
  cj->j.run = config_run;
  cj->j.extra_hdrs = SL_DASH_NO_STORE;
  cj->j.destroy = config_destroy;
  sl__admin_queue(rq, &cj->j);
}
