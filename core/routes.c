/* Route table; see routes.h. */
#include "core/routes.h"

#include <string.h>

static const struct {
  const char *path; /* without /v1 */
  enum sl_route route;
  enum sl_http_method_kind method;
  bool v1_optional; /* false: path must be given exactly */
  const char *upstream;
} table[] = {
  {"/chat/completions", SL_R_CHAT, SL_M_POST, true, "/chat/completions"},
  {"/completions", SL_R_COMPLETIONS, SL_M_POST, true, "/completions"},
  {"/embeddings", SL_R_EMBEDDINGS, SL_M_POST, true, "/embeddings"},
  {"/models", SL_R_MODELS, SL_M_GET, true, NULL},
  {"/messages", SL_R_MESSAGES, SL_M_POST, true, "/messages"},
  {"/health/liveliness", SL_R_LIVE, SL_M_GET, false, NULL},
  {"/health/liveness", SL_R_LIVE, SL_M_GET, false, NULL},
  {"/health/readiness", SL_R_READY, SL_M_GET, false, NULL},
  {"/cache/stats", SL_R_CACHE_STATS, SL_M_GET, false, NULL},
  {"/cache", SL_R_CACHE_FLUSH, SL_M_DELETE, false, NULL},
  {"/metrics", SL_R_METRICS, SL_M_GET, false, NULL},
  {"/key/generate", SL_R_KEY_GENERATE, SL_M_POST, false, NULL},
  {"/key/info", SL_R_KEY_INFO, SL_M_GET, false, NULL},
  {"/key/update", SL_R_KEY_UPDATE, SL_M_POST, false, NULL},
  {"/key/delete", SL_R_KEY_DELETE, SL_M_POST, false, NULL},
  {"/key/list", SL_R_KEY_LIST, SL_M_GET, false, NULL},
  {"/key/block", SL_R_KEY_BLOCK, SL_M_POST, false, NULL},
  {"/key/unblock", SL_R_KEY_UNBLOCK, SL_M_POST, false, NULL},
  {"/spend/report", SL_R_SPEND_REPORT, SL_M_GET, false, NULL},
  {"/config/reload", SL_R_CONFIG_RELOAD, SL_M_POST, false, NULL},
};

struct sl_route_match sl_route_find(enum sl_http_method_kind m, struct sl_slice path) {
  struct sl_route_match r = {SL_R_NONE, false, NULL, NULL};
  const char *p = path.p;
  size_t n = path.n;
  if (n > 1 && p[n - 1] == '/') n--;
  bool v1 = n >= 3 && memcmp(p, "/v1", 3) == 0 && (n == 3 || p[3] == '/');
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    size_t tl = strlen(table[i].path);
    const char *q = p;
    size_t qn = n;
    if (v1 && table[i].v1_optional) {
      q += 3;
      qn -= 3;
    }
    if (qn != tl || memcmp(q, table[i].path, tl) != 0) continue;
    r.route = table[i].route;
    r.upstream_path = table[i].upstream;
    /* HEAD is served like GET by the server (no body). */
    r.method_ok = m == table[i].method || (m == SL_M_HEAD && table[i].method == SL_M_GET);
    r.allow = table[i].method == SL_M_POST ? "POST" : table[i].method == SL_M_DELETE ? "DELETE" : "GET, HEAD";
    return r;
  }
  return r;
}

bool sl_route_master_only(enum sl_route r) {
  switch (r) {
  case SL_R_CACHE_STATS:
  case SL_R_CACHE_FLUSH:
  case SL_R_KEY_GENERATE:
  case SL_R_KEY_UPDATE:
  case SL_R_KEY_DELETE:
  case SL_R_KEY_LIST:
  case SL_R_KEY_BLOCK:
  case SL_R_KEY_UNBLOCK:
  case SL_R_SPEND_REPORT:
  case SL_R_CONFIG_RELOAD: return true;
  default: return false;
  }
}
