/* routes: one table gives route, 404 and 405. */
#include "check.h"
#include "core/admin.h"
#include "core/routes.h"

static bool master(struct sl_route_match m) { return m.row && m.row->access == SL_ACCESS_MASTER; }

static struct sl_route_match find(enum sl_http_method_kind m, const char *path) {
  return sl_route_find(m, (struct sl_slice){path, strlen(path)});
}

static void v1_and_bare_paths(void) {
  CHECK(find(SL_M_POST, "/v1/chat/completions").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/chat/completions").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/v1/chat/completions/").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/v1/embeddings").route == SL_R_EMBEDDINGS);
  CHECK(find(SL_M_GET, "/models").route == SL_R_MODELS);
  CHECK(find(SL_M_GET, "/v1/models/").route == SL_R_MODELS); /* one trailing '/' is ignored */
  CHECK(find(SL_M_GET, "/v1/models/gpt-4o").route == SL_R_MODEL);
  CHECK(find(SL_M_GET, "/models/openai/gpt-4o").route == SL_R_MODEL); /* ids may hold '/' */
  CHECK(find(SL_M_GET, "/v1/modelsx").route == SL_R_NONE);
  CHECK(find(SL_M_POST, "/v1/models/x").route == SL_R_MODEL && !find(SL_M_POST, "/v1/models/x").method_ok);
  CHECK_STR(find(SL_M_POST, "/completions").upstream_path, "/completions");
  /* the dashboard's assets: open, no /v1 form, their own rows apart from /ui/api */
  CHECK(find(SL_M_GET, "/ui").route == SL_R_UI && find(SL_M_GET, "/ui").row->access == SL_ACCESS_OPEN);
  CHECK(find(SL_M_GET, "/ui/").route == SL_R_UI);
  CHECK(find(SL_M_GET, "/ui/app.js").route == SL_R_UI);
  CHECK(find(SL_M_HEAD, "/ui/app.css").method_ok);
  CHECK(find(SL_M_GET, "/v1/ui").route == SL_R_NONE);
  CHECK(find(SL_M_GET, "/ui/other.js").route == SL_R_NONE);
  CHECK(find(SL_M_POST, "/ui").route == SL_R_UI && !find(SL_M_POST, "/ui").method_ok);
}

static void unknown_and_wrong_method(void) {
  CHECK(find(SL_M_GET, "/v1/nope").route == SL_R_NONE);
  CHECK(find(SL_M_GET, "/v1").route == SL_R_NONE);
  CHECK(find(SL_M_POST, "/v1/health/liveliness").route == SL_R_NONE);
  struct sl_route_match m = find(SL_M_GET, "/v1/chat/completions");
  CHECK(m.route == SL_R_CHAT && !m.method_ok);
  CHECK_STR(m.allow, "POST");
  CHECK(find(SL_M_HEAD, "/health/readiness").method_ok);
}

/* Which routes a virtual key may not call (403): every ops and admin route but /key/info. */
static void master_only(void) {
  static const char *const admin[][2] = {
      {"GET", "/cache/stats"}, {"DELETE", "/cache"},      {"POST", "/key/generate"}, {"POST", "/key/update"},
      {"POST", "/key/delete"}, {"GET", "/key/list"},      {"POST", "/key/block"},    {"POST", "/key/unblock"},
      {"GET", "/spend/report"}, {"POST", "/config/reload"}, {"GET", "/ui/api/overview"}, {"GET", "/ui/api/deployments"},
      {"GET", "/ui/api/requests"}, {"GET", "/ui/api/routing"}, {"GET", "/ui/api/spend"}, {"GET", "/ui/api/keys"},
      {"GET", "/ui/api/cache"}, {"GET", "/ui/api/config"}, {"GET", "/ui/api/stream"}};
  for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
    struct sl_route_match m = find(admin[i][0][0] == 'G' ? SL_M_GET : admin[i][0][0] == 'D' ? SL_M_DELETE : SL_M_POST,
                                   admin[i][1]);
    CHECK(m.route != SL_R_NONE && m.method_ok);
    CHECK(master(m));
  }
  CHECK(!master(find(SL_M_GET, "/key/info")));
  CHECK(find(SL_M_GET, "/key/info").row->access == SL_ACCESS_KEY);
  CHECK(!master(find(SL_M_POST, "/v1/chat/completions")));
  CHECK(!master(find(SL_M_GET, "/v1/models")));
  CHECK(!master(find(SL_M_POST, "/v1/messages")));
  CHECK(!master(find(SL_M_GET, "/metrics")));
  CHECK(find(SL_M_GET, "/v1/key/block").route == SL_R_NONE); /* admin paths take no /v1 */
}

/* Every row names its handler; the model endpoints share the API handler; health and
 * metrics need no key; the admin API's rows come from admin.c and are found too. */
static void rows_carry_handlers(void) {
  CHECK(find(SL_M_POST, "/v1/chat/completions").row->handler == sl_request_api);
  CHECK(find(SL_M_POST, "/v1/completions").row->handler == sl_request_api);
  CHECK(find(SL_M_POST, "/v1/embeddings").row->handler == sl_request_api);
  CHECK(find(SL_M_POST, "/v1/messages").row->handler == sl_request_api);
  CHECK(find(SL_M_GET, "/v1/models").row->handler == sl_request_models);
  CHECK(find(SL_M_GET, "/health/liveness").row->handler == sl_request_live);
  CHECK(find(SL_M_GET, "/health/readiness").row->handler == sl_request_ready);
  CHECK(find(SL_M_GET, "/metrics").row->handler == sl_request_metrics);
  CHECK(find(SL_M_DELETE, "/cache").row->handler == sl_request_cache_flush);
  CHECK(find(SL_M_GET, "/health/liveliness").row->access == SL_ACCESS_OPEN);
  CHECK(find(SL_M_GET, "/metrics").row->access == SL_ACCESS_OPEN);
  CHECK(find(SL_M_POST, "/chat/completions").row->access == SL_ACCESS_KEY);
  CHECK(find(SL_M_GET, "/nope").row == NULL);
  for (size_t i = 0; i < sl_admin_nroutes; i++) {
    const struct sl_route_row *r = &sl_admin_routes[i];
    CHECK(r->handler != NULL && r->route != SL_R_NONE && r->upstream == NULL);
    struct sl_route_match m = find(r->method, r->path);
    CHECK(m.row == r && m.method_ok);
  }
}

/* The lookup over any tables: the first table's row wins; 405 names the row's method. */
static void fake(struct sl_request *rq) { (void)rq; }
static void fake2(struct sl_request *rq) { (void)rq; }
static void lookup_over_given_tables(void) {
  static const struct sl_route_row a[] = {{"/x", SL_R_CHAT, SL_M_POST, true, "/up", SL_ACCESS_KEY, fake}};
  static const struct sl_route_row b[] = {{"/x", SL_R_MODELS, SL_M_GET, false, NULL, SL_ACCESS_MASTER, fake2},
                                          {"/y", SL_R_LIVE, SL_M_DELETE, false, NULL, SL_ACCESS_OPEN, fake2}};
  const struct sl_route_row *const t[] = {a, b};
  const size_t n[] = {1, 2};
  struct sl_route_match m = sl_route_find_in(t, n, 2, SL_M_POST, (struct sl_slice){"/v1/x/", 6});
  CHECK(m.row == &a[0] && m.route == SL_R_CHAT && m.method_ok && m.row->handler == fake);
  CHECK_STR(m.upstream_path, "/up");
  m = sl_route_find_in(t, n, 2, SL_M_GET, (struct sl_slice){"/y", 2});
  CHECK(m.row == &b[1] && !m.method_ok);
  CHECK_STR(m.allow, "DELETE");
  m = sl_route_find_in(t, n, 1, SL_M_GET, (struct sl_slice){"/y", 2}); /* only the first table */
  CHECK(m.row == NULL && m.route == SL_R_NONE);
}

/* One path, several methods (a row each); a segment wildcard in the middle. */
static void responses_rows(void) {
  CHECK(find(SL_M_POST, "/v1/responses").route == SL_R_RESPONSES);
  CHECK(find(SL_M_POST, "/responses").route == SL_R_RESPONSES);
  struct sl_route_match m = find(SL_M_GET, "/v1/responses/resp_1");
  CHECK(m.route == SL_R_RESPONSE_GET && m.method_ok);
  m = find(SL_M_DELETE, "/v1/responses/resp_1");
  CHECK(m.route == SL_R_RESPONSE_DELETE && m.method_ok);
  m = find(SL_M_POST, "/v1/responses/resp_1");
  CHECK(!m.method_ok);
  CHECK_STR(m.allow, "GET, HEAD, DELETE");
  CHECK(find(SL_M_GET, "/v1/responses/resp_1/input_items").route == SL_R_RESPONSE_ITEMS);
  CHECK(find(SL_M_GET, "/v1/responses//input_items").route != SL_R_RESPONSE_ITEMS); /* an empty segment */
  CHECK(find(SL_M_POST, "/v1/messages/count_tokens").route == SL_R_COUNT_TOKENS);
  CHECK(find(SL_M_POST, "/v1/messages").route == SL_R_MESSAGES);
  CHECK(find(SL_M_POST, "/v2/rerank").route == SL_R_RERANK);
  CHECK(find(SL_M_POST, "/v1/rerank").route == SL_R_RERANK);
  CHECK(find(SL_M_POST, "/v1/audio/transcriptions").route == SL_R_TRANSCRIPTIONS);
  CHECK(find(SL_M_POST, "/audio/speech").route == SL_R_SPEECH);
  CHECK(find(SL_M_POST, "/v1/images/generations").route == SL_R_IMAGES);
  CHECK(find(SL_M_POST, "/v1/moderations").route == SL_R_MODERATIONS);
}

CHECK_MAIN(T(v1_and_bare_paths), T(responses_rows), T(unknown_and_wrong_method), T(master_only), T(rows_carry_handlers),
           T(lookup_over_given_tables))
