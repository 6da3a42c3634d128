/* Route table and lookup; see routes.h. The core rows are here; the admin API owns its
 * rows (core/admin.c, sl_admin_routes) and the lookup reads both. */
#include "core/routes.h"

#include <string.h>

#include "core/admin.h"
#include "core/dashboard.h"
#include "core/feedback.h"
#include "core/ui_assets.h"

static const struct sl_route_row core_rows[] = {
    {"/chat/completions", SL_R_CHAT, SL_M_POST, true, "/chat/completions", SL_ACCESS_KEY, sl_request_api},
    {"/completions", SL_R_COMPLETIONS, SL_M_POST, true, "/completions", SL_ACCESS_KEY, sl_request_api},
    {"/embeddings", SL_R_EMBEDDINGS, SL_M_POST, true, "/embeddings", SL_ACCESS_KEY, sl_request_api},
    {"/models", SL_R_MODELS, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_models},
    {"/models/*", SL_R_MODEL, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_model},
    {"/messages", SL_R_MESSAGES, SL_M_POST, true, "/messages", SL_ACCESS_KEY, sl_request_api},
    {"/messages/count_tokens", SL_R_COUNT_TOKENS, SL_M_POST, true, "/messages/count_tokens", SL_ACCESS_KEY,
     sl_request_api},
    {"/responses", SL_R_RESPONSES, SL_M_POST, true, "/responses", SL_ACCESS_KEY, sl_request_api},
    {"/responses/*/input_items", SL_R_RESPONSE_ITEMS, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_response_items},
    {"/responses/*", SL_R_RESPONSE_GET, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_response_get},
    {"/responses/*", SL_R_RESPONSE_DELETE, SL_M_DELETE, true, NULL, SL_ACCESS_KEY, sl_request_response_delete},
    {"/moderations", SL_R_MODERATIONS, SL_M_POST, true, "/moderations", SL_ACCESS_KEY, sl_request_api},
    {"/rerank", SL_R_RERANK, SL_M_POST, true, "/rerank", SL_ACCESS_KEY, sl_request_api},
    {"/v2/rerank", SL_R_RERANK, SL_M_POST, false, "/rerank", SL_ACCESS_KEY, sl_request_api},
    {"/images/generations", SL_R_IMAGES, SL_M_POST, true, "/images/generations", SL_ACCESS_KEY, sl_request_api},
    {"/audio/speech", SL_R_SPEECH, SL_M_POST, true, "/audio/speech", SL_ACCESS_KEY, sl_request_api},
    {"/audio/transcriptions", SL_R_TRANSCRIPTIONS, SL_M_POST, true, "/audio/transcriptions", SL_ACCESS_KEY,
     sl_request_api},
    {"/feedback", SL_R_FEEDBACK, SL_M_POST, true, NULL, SL_ACCESS_KEY, sl_request_feedback},
    {"/health/liveliness", SL_R_LIVE, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_live},
    {"/health/liveness", SL_R_LIVE, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_live},
    {"/health/readiness", SL_R_READY, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ready},
    {"/metrics", SL_R_METRICS, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_metrics},
    {"/cache/stats", SL_R_CACHE_STATS, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_request_cache_stats},
    {"/cache", SL_R_CACHE_FLUSH, SL_M_DELETE, false, NULL, SL_ACCESS_MASTER, sl_request_cache_flush},
    /* the dashboard's static assets (core/ui_assets.c): no data in them, no key needed */
    {"/ui", SL_R_UI, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ui},
    {"/ui/index.html", SL_R_UI, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ui},
    {"/ui/app.js", SL_R_UI, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ui},
    {"/ui/app.css", SL_R_UI, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ui},
    /* the dashboard's data (core/dashboard.h) */
    {"/ui/api/overview", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_overview},
    {"/ui/api/deployments", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_deployments},
    {"/ui/api/requests", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_requests},
    {"/ui/api/routing", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_routing},
    {"/ui/api/spend", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_spend},
    {"/ui/api/keys", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_keys},
    {"/ui/api/cache", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_cache},
    {"/ui/api/config", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_config},
    {"/ui/api/stream", SL_R_UI_API, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_dashboard_stream},
};

/* Whether path q matches a row's pattern: literal bytes; a '*' in the middle is one
 * non-empty segment (no '/'); a final '*' after '/' is any non-empty rest ('/' allowed:
 * model ids have them). */
static bool pattern_match(const char *pat, const char *q, size_t qn) {
  size_t i = 0;
  for (; *pat; pat++) {
    if (*pat != '*') {
      if (i >= qn || q[i] != *pat) return false;
      i++;
      continue;
    }
    if (!pat[1]) return i < qn; /* the rest */
    size_t j = i;
    while (j < qn && q[j] != '/') j++;
    if (j == i) return false;
    i = j;
  }
  return i == qn;
}

static unsigned method_bit(enum sl_http_method_kind m) {
  return m == SL_M_POST ? 1u : m == SL_M_DELETE ? 2u : 4u;
}

struct sl_route_match sl_route_find_in(const struct sl_route_row *const *tables, const size_t *nrows, size_t ntables,
                                       enum sl_http_method_kind m, struct sl_slice path) {
  /* indexed by the bits of the methods a path takes (POST 1, DELETE 2, GET 4) */
  static const char *const allows[8] = {"GET, HEAD", "POST", "DELETE", "POST, DELETE",
                                        "GET, HEAD", "GET, HEAD, POST", "GET, HEAD, DELETE", "GET, HEAD, POST, DELETE"};
  struct sl_route_match r = {SL_R_NONE, false, NULL, NULL, NULL};
  const char *p = path.p;
  size_t n = path.n;
  if (n > 1 && p[n - 1] == '/') n--;
  bool v1 = n >= 3 && memcmp(p, "/v1", 3) == 0 && (n == 3 || p[3] == '/');
  unsigned methods = 0;
  for (size_t t = 0; t < ntables; t++)
    for (size_t i = 0; i < nrows[t]; i++) {
      const struct sl_route_row *row = &tables[t][i];
      const char *q = p;
      size_t qn = n;
      if (v1 && row->v1_optional) {
        q += 3;
        qn -= 3;
      }
      if (!pattern_match(row->path, q, qn)) continue;
      /* HEAD is served like GET by the server (no body). */
      bool ok = m == row->method || (m == SL_M_HEAD && row->method == SL_M_GET);
      methods |= method_bit(row->method);
      if (r.row && (r.method_ok || !ok)) continue; /* the first row that takes the method wins */
      r.route = row->route;
      r.upstream_path = row->upstream;
      r.row = row;
      r.method_ok = ok;
    }
  if (r.row) r.allow = allows[methods & 7];
  return r;
}

struct sl_route_match sl_route_find(enum sl_http_method_kind m, struct sl_slice path) {
  const struct sl_route_row *const tables[] = {core_rows, sl_admin_routes};
  const size_t nrows[] = {sizeof core_rows / sizeof core_rows[0], sl_admin_nroutes};
  return sl_route_find_in(tables, nrows, 2, m, path);
}
