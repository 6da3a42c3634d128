/* Route table and lookup; see routes.h. The core rows are here; the admin API owns its
 * rows (core/admin.c, sl_admin_routes) and the lookup reads both. */
#include "core/routes.h"

#include <string.h>

#include "core/admin.h"

static const struct sl_route_row core_rows[] = {
    {"/chat/completions", SL_R_CHAT, SL_M_POST, true, "/chat/completions", SL_ACCESS_KEY, sl_request_api},
    {"/completions", SL_R_COMPLETIONS, SL_M_POST, true, "/completions", SL_ACCESS_KEY, sl_request_api},
    {"/embeddings", SL_R_EMBEDDINGS, SL_M_POST, true, "/embeddings", SL_ACCESS_KEY, sl_request_api},
    {"/models", SL_R_MODELS, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_models},
    {"/models/*", SL_R_MODEL, SL_M_GET, true, NULL, SL_ACCESS_KEY, sl_request_model},
    {"/messages", SL_R_MESSAGES, SL_M_POST, true, "/messages", SL_ACCESS_KEY, sl_request_api},
    {"/health/liveliness", SL_R_LIVE, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_live},
    {"/health/liveness", SL_R_LIVE, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_live},
    {"/health/readiness", SL_R_READY, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_ready},
    {"/metrics", SL_R_METRICS, SL_M_GET, false, NULL, SL_ACCESS_OPEN, sl_request_metrics},
    {"/cache/stats", SL_R_CACHE_STATS, SL_M_GET, false, NULL, SL_ACCESS_MASTER, sl_request_cache_stats},
    {"/cache", SL_R_CACHE_FLUSH, SL_M_DELETE, false, NULL, SL_ACCESS_MASTER, sl_request_cache_flush},
};

struct sl_route_match sl_route_find_in(const struct sl_route_row *const *tables, const size_t *nrows, size_t ntables,
                                       enum sl_http_method_kind m, struct sl_slice path) {
  struct sl_route_match r = {SL_R_NONE, false, NULL, NULL, NULL};
  const char *p = path.p;
  size_t n = path.n;
  if (n > 1 && p[n - 1] == '/') n--;
  bool v1 = n >= 3 && memcmp(p, "/v1", 3) == 0 && (n == 3 || p[3] == '/');
  for (size_t t = 0; t < ntables; t++)
    for (size_t i = 0; i < nrows[t]; i++) {
      const struct sl_route_row *row = &tables[t][i];
      size_t tl = strlen(row->path);
      const char *q = p;
      size_t qn = n;
      if (v1 && row->v1_optional) {
        q += 3;
        qn -= 3;
      }
      bool prefix = tl >= 2 && row->path[tl - 1] == '*' && row->path[tl - 2] == '/';
      if (prefix ? qn < tl || memcmp(q, row->path, tl - 1) != 0 : qn != tl || memcmp(q, row->path, tl) != 0)
        continue;
      r.route = row->route;
      r.upstream_path = row->upstream;
      r.row = row;
      /* HEAD is served like GET by the server (no body). */
      r.method_ok = m == row->method || (m == SL_M_HEAD && row->method == SL_M_GET);
      r.allow = row->method == SL_M_POST ? "POST" : row->method == SL_M_DELETE ? "DELETE" : "GET, HEAD";
      return r;
    }
  return r;
}

struct sl_route_match sl_route_find(enum sl_http_method_kind m, struct sl_slice path) {
  const struct sl_route_row *const tables[] = {core_rows, sl_admin_routes};
  const size_t nrows[] = {sizeof core_rows / sizeof core_rows[0], sl_admin_nroutes};
  return sl_route_find_in(tables, nrows, 2, m, path);
}
