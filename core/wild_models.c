/* The providers' own model lists for GET /v1/models (LiteLLM lists what a wildcard
 * deployment's provider lists). Each worker, at start and then every
 * sluice_settings.wildcard_models_refresh (10 minutes), asks each listable wildcard
 * deployment's provider (core/config/plan_models.h: "openai/\*", "*"; OpenAI-format
 * providers: GET {api_base}/models, Anthropic: GET {api_base}/v1/models paged by
 * has_more / after_id; Azure, Bedrock and Vertex AI have no listing) for its ids, over the
 * deployment's own pool with its own credential header, with a timeout and size and count
 * bounds. Deployments that would send the same request share one source. The last good
 * list of each source is kept (a failed or hung fetch keeps the previous one, never blocks a
 * request), and after every change w->models_json is rebuilt by sl_plan_models_json.
 * The one idea: every worker fetches its own (a few calls per period), nothing is shared.
 * To list another provider shape: a case in source_kind and in the parser. */
#include "core/wild_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/plan.h"
#include "core/config/plan_models.h"
#include "core/log.h"
#include "core/worker.h"
#include "net/base/buf.h"
#include "net/upstream.h"

#define FETCH_TIMEOUT_MS 5000
#define MAX_ANSWER       (4u << 20) /* one page */
#define MAX_IDS          2000       /* per source, over every page */
#define MAX_PAGES        20         /* Anthropic's pages (up to 1000 ids each) */
#define TICK_MS          1000

struct src {
  size_t dep; /* the first deployment that uses it: its pool, path and credential */
  bool anthropic;
  char *path; /* without the query */
  struct sl_upstream_req *up;
  uint64_t sent_ms, next_ms;
  int status;
  bool too_big, truncated, failing, listed;
  unsigned pages;
  char after[SL_MODELS_ID_MAX + 1];
  struct sl_buf answer;
  struct sl_model_ids acc;  /* this round's pages so far */
  struct sl_model_ids list; /* the last good list */
  bool have;
};

struct wm_state {
  struct sl_worker *w;
  uv_timer_t timer;
  struct src *srcs;
  size_t n;
  size_t *dep_src; /* per deployment: its source, or SIZE_MAX */
  const struct sl_model_ids **lists;
  char *body; /* w->models_json while set */
  uint64_t every_ms;
};

static struct wm_state *g_wm; /* this worker's (one worker per process) */

static void json_str(struct sl_buf *b, const char *s) { sl_buf_json_escape(b, s ? s : "", s ? strlen(s) : 0); }

static void rebuild(struct wm_state *g) {
  const struct sl_config *cfg = g->w->cfg;
  for (size_t i = 0; i < cfg->ndeployments; i++) {
    size_t s = g->dep_src[i];
    g->lists[i] = s != SIZE_MAX && g->srcs[s].have ? &g->srcs[s].list : NULL;
  }
  char *body = NULL;
  size_t n = 0;
  if (sl_plan_models_json(cfg->plan, cfg->deployments, g->lists, &body, &n)) {
    sl_log(SL_LOG_WARN, "wildcard model list: cannot build /v1/models (out of memory)", "\"worker\":%u", g->w->index);
    return; /* the previous body stays */
  }
  free(g->body);
  g->body = body;
  g->w->models_json = body;
  g->w->models_json_len = n;
}

static void fetch_end(struct wm_state *g, struct src *s, const char *err) {
  s->up = NULL;
  s->answer.n = 0;
  const struct sl_deployment *d = &g->w->cfg->deployments[s->dep];
  if (err) {
    sl_model_ids_free(&s->acc);
    if (!s->failing) { /* one line per change, not per period */
      struct sl_buf e = {0}, id = {0};
      json_str(&e, err);
      json_str(&id, d->id);
      sl_log(SL_LOG_WARN, "wildcard model list failed", "\"worker\":%u,\"deployment\":\"%.*s\",\"error\":\"%.*s\"%s",
             g->w->index, (int)id.n, id.p ? id.p : "", (int)e.n, e.p ? e.p : "",
             s->have ? ",\"kept\":\"the previous list\"" : "");
      sl_buf_free(&e);
      sl_buf_free(&id);
    }
    s->failing = true;
    return;
  }
  sl_model_ids_free(&s->list);
  s->list = s->acc;
  memset(&s->acc, 0, sizeof s->acc);
  s->have = true;
  struct sl_buf id = {0};
  json_str(&id, d->id);
  sl_log(s->failing || !s->listed ? SL_LOG_INFO : SL_LOG_DEBUG, "wildcard models listed",
         "\"worker\":%u,\"deployment\":\"%.*s\",\"models\":%zu%s", g->w->index, (int)id.n, id.p ? id.p : "", s->list.n,
         s->truncated ? ",\"truncated\":true" : "");
  sl_buf_free(&id);
  s->failing = false;
  s->listed = true;
  rebuild(g);
}

static void fetch_send(struct wm_state *g, struct src *s);

static void up_head(void *ud, int status, const struct sl_header *h, size_t n) {
  (void)h, (void)n;
  ((struct src *)ud)->status = status;
}

static void up_body(void *ud, const char *p, size_t n) {
  struct src *s = ud;
  if (s->too_big || s->answer.n + n > MAX_ANSWER)
    s->too_big = true;
  else
    sl_buf_append(&s->answer, p, n);
}

static void up_done(void *ud) {
  struct src *s = ud;
  struct wm_state *g = g_wm;
  char err[256];
  s->up = NULL;
  if (s->status < 200 || s->status > 299) {
    snprintf(err, sizeof err, "the provider answered %d", s->status);
    fetch_end(g, s, err);
    return;
  }
  if (s->too_big || s->answer.oom) {
    snprintf(err, sizeof err, "the model list is larger than %u bytes", MAX_ANSWER);
    fetch_end(g, s, err);
    return;
  }
  bool more = false;
  if (sl_plan_models_parse(s->answer.p, s->answer.n, MAX_IDS, &s->acc, &s->truncated, &more, s->after, sizeof s->after,
                           err, sizeof err)) {
    fetch_end(g, s, err);
    return;
  }
  if (more && s->anthropic && !s->truncated && ++s->pages < MAX_PAGES) {
    fetch_send(g, s); /* the next page, same round */
    return;
  }
  fetch_end(g, s, NULL);
}

static void up_error(void *ud, enum sl_upstream_err e, const char *m) {
  struct src *s = ud;
  char err[256];
  snprintf(err, sizeof err, "%s%s%s", sl_upstream_err_str(e), m && *m ? ": " : "", m ? m : "");
  fetch_end(g_wm, s, err);
}

static const struct sl_upstream_cbs up_cbs = {up_head, up_body, up_done, up_error};

/* after_id as a query value: unreserved bytes as they are, the rest %XX. */
static void put_query_value(struct sl_buf *b, const char *v) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
      sl_buf_append(b, v, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      sl_buf_append(b, e, 3);
    }
  }
}

static void fetch_send(struct wm_state *g, struct src *s) {
  struct sl_worker *w = g->w;
  const struct sl_plan_dep *pd = &w->cfg->plan->deps[s->dep];
  char err[256] = "";
  s->status = 0;
  s->too_big = false;
  s->answer.n = 0;
  s->answer.oom = false;
  s->sent_ms = sl_now_ms();
  struct sl_upstream_pool *pool = sl_worker_pool(w, s->dep, err, sizeof err);
  if (!pool) {
    fetch_end(g, s, err[0] ? err : "cannot create a connection pool");
    return;
  }
  struct sl_buf path = {0};
  sl_buf_puts(&path, s->path);
  if (s->anthropic) {
    sl_buf_puts(&path, "?limit=1000");
    if (s->pages) {
      sl_buf_puts(&path, "&after_id=");
      put_query_value(&path, s->after);
    }
  }
  sl_buf_append(&path, "", 1);
  struct sl_header hs[16];
  size_t nh = 0;
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("application/json")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Accept-Encoding"), SL_SLICE_LIT("identity")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")};
  for (const struct sl_prov_header *x = pd->ops->extra; x && x->name && nh < 14; x++) /* anthropic-version */
    hs[nh++] = (struct sl_header){{x->name, strlen(x->name)}, {x->value, strlen(x->value)}};
  if (pd->auth_value)
    hs[nh++] = (struct sl_header){{pd->auth_name, strlen(pd->auth_name)}, {pd->auth_value, pd->auth_value_len}};
  int rc = path.oom ? -12 : sl_upstream_send(pool, "GET", path.p, hs, nh, NULL, 0, &up_cbs, s, &s->up);
  sl_buf_free(&path);
  if (rc) {
    s->up = NULL;
    snprintf(err, sizeof err, "cannot send the request (%s)", rc == -12 ? "out of memory" : uv_strerror(rc));
    fetch_end(g, s, err);
  }
}

static void on_tick(uv_timer_t *t) {
  struct wm_state *g = t->data;
  uint64_t now = sl_now_ms();
  for (size_t i = 0; i < g->n && g_wm == g; i++) {
    struct src *s = &g->srcs[i];
    if (s->up) {
      if (now - s->sent_ms >= FETCH_TIMEOUT_MS) {
        sl_upstream_cancel(s->up);
        char err[96];
        snprintf(err, sizeof err, "no complete answer within %u ms", FETCH_TIMEOUT_MS);
        fetch_end(g, s, err);
      }
      continue;
    }
    if (now < s->next_ms) continue;
    s->next_ms = now + g->every_ms;
    s->pages = 0;
    s->truncated = false;
    sl_model_ids_free(&s->acc);
    fetch_send(g, s);
  }
}

/* Where deployment i's provider lists its models; false: it has no listing. */
static bool source_kind(const struct sl_config *cfg, size_t i, bool *anthropic, struct sl_buf *path) {
  const struct sl_deployment *d = &cfg->deployments[i];
  const struct sl_plan_dep *pd = &cfg->plan->deps[i];
  if (!sl_plan_models_listable(d) || pd->dialect || !d->ops || !d->host) return false;
  if (d->ops->path == SL_PATH_OPENAI) {
    *anthropic = false;
    sl_buf_printf(path, "%s/models", d->base_path ? d->base_path : "");
  } else if (d->ops->path == SL_PATH_ANTHROPIC) {
    *anthropic = true;
    sl_buf_printf(path, "%s/v1/models", d->base_path ? d->base_path : "");
  } else {
    return false; /* Azure: no listing of what a deployment name may be */
  }
  return true;
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Whether deployments a and b send the same listing request. */
static bool same_request(const struct sl_config *cfg, size_t a, size_t b) {
  const struct sl_deployment *x = &cfg->deployments[a], *y = &cfg->deployments[b];
  const struct sl_plan_dep *px = &cfg->plan->deps[a], *py = &cfg->plan->deps[b];
  return x->port == y->port && x->tls == y->tls && same_str(x->host, y->host) && px->ops->extra == py->ops->extra &&
         same_str(px->auth_name, py->auth_name) && same_str(px->auth_value, py->auth_value);
}

static void state_free(uv_handle_t *h) {
  struct wm_state *g = h->data;
  for (size_t i = 0; i < g->n; i++) {
    free(g->srcs[i].path);
    sl_buf_free(&g->srcs[i].answer);
    sl_model_ids_free(&g->srcs[i].acc);
    sl_model_ids_free(&g->srcs[i].list);
  }
  free(g->srcs);
  free(g->dep_src);
  free(g->lists);
  free(g->body);
  free(g);
}

void sl_wild_models_worker_start(struct sl_worker *w) {
  const struct sl_config *cfg = w->cfg;
  if (g_wm || !cfg->wild_models_refresh_ms || !cfg->plan->npatterns) return;
  struct wm_state *g = calloc(1, sizeof *g);
  size_t nd = cfg->ndeployments ? cfg->ndeployments : 1;
  if (!g || !(g->srcs = calloc(nd, sizeof *g->srcs)) || !(g->dep_src = calloc(nd, sizeof *g->dep_src)) ||
      !(g->lists = calloc(nd, sizeof *g->lists))) {
    if (g) {
      free(g->srcs);
      free(g->dep_src);
    }
    free(g);
    sl_log(SL_LOG_WARN, "wildcard model list: out of memory (the patterns are listed)", "\"worker\":%u", w->index);
    return;
  }
  g->w = w;
  g->every_ms = cfg->wild_models_refresh_ms;
  for (size_t i = 0; i < cfg->ndeployments; i++) {
    g->dep_src[i] = SIZE_MAX;
    bool anth = false;
    struct sl_buf path = {0};
    if (!source_kind(cfg, i, &anth, &path) || path.oom) {
      sl_buf_free(&path);
      continue;
    }
    sl_buf_append(&path, "", 1);
    size_t k = 0;
    while (k < g->n && !(g->srcs[k].anthropic == anth && strcmp(g->srcs[k].path, path.p) == 0 &&
                         same_request(cfg, g->srcs[k].dep, i)))
      k++;
    if (k == g->n) {
      g->srcs[k] = (struct src){.dep = i, .anthropic = anth, .path = sl_buf_take(&path, NULL)};
      g->n++;
    }
    sl_buf_free(&path);
    g->dep_src[i] = k;
  }
  if (!g->n) {
    free(g->srcs);
    free(g->dep_src);
    free(g->lists);
    free(g);
    return;
  }
  uv_timer_init(&w->loop, &g->timer);
  g->timer.data = g;
  uint64_t tick = g->every_ms < TICK_MS ? g->every_ms : TICK_MS;
  uv_timer_start(&g->timer, on_tick, 0, tick); /* the first round at once */
  uv_unref((uv_handle_t *)&g->timer);          /* never keeps a draining worker alive */
  g_wm = g;
}

void sl_wild_models_worker_stop(struct sl_worker *w) {
  struct wm_state *g = g_wm;
  if (!g || g->w != w) return;
  g_wm = NULL;
  for (size_t i = 0; i < g->n; i++) {
    if (g->srcs[i].up) sl_upstream_cancel(g->srcs[i].up);
    g->srcs[i].up = NULL;
  }
  w->models_json = w->cfg->plan->models_json;
  w->models_json_len = w->cfg->plan->models_json_len;
  uv_timer_stop(&g->timer);
  uv_close((uv_handle_t *)&g->timer, state_free);
}
