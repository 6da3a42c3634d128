/* routes: one table gives route, 404 and 405. */
#include "check.h"
#include "core/routes.h"

static struct sl_route_match find(enum sl_http_method_kind m, const char *path) {
  return sl_route_find(m, (struct sl_slice){path, strlen(path)});
}

static void v1_and_bare_paths(void) {
  CHECK(find(SL_M_POST, "/v1/chat/completions").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/chat/completions").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/v1/chat/completions/").route == SL_R_CHAT);
  CHECK(find(SL_M_POST, "/v1/embeddings").route == SL_R_EMBEDDINGS);
  CHECK(find(SL_M_GET, "/models").route == SL_R_MODELS);
  CHECK_STR(find(SL_M_POST, "/completions").upstream_path, "/completions");
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
      {"GET", "/spend/report"}, {"POST", "/config/reload"}};
  for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
    struct sl_route_match m = find(admin[i][0][0] == 'G' ? SL_M_GET : admin[i][0][0] == 'D' ? SL_M_DELETE : SL_M_POST,
                                   admin[i][1]);
    CHECK(m.route != SL_R_NONE && m.method_ok);
    CHECK(sl_route_master_only(m.route));
  }
  CHECK(!sl_route_master_only(find(SL_M_GET, "/key/info").route));
  CHECK(!sl_route_master_only(SL_R_CHAT));
  CHECK(!sl_route_master_only(SL_R_MODELS));
  CHECK(!sl_route_master_only(SL_R_MESSAGES));
  CHECK(!sl_route_master_only(SL_R_METRICS));
  CHECK(find(SL_M_GET, "/v1/key/block").route == SL_R_NONE); /* admin paths take no /v1 */
}

CHECK_MAIN(T(v1_and_bare_paths), T(unknown_and_wrong_method), T(master_only))
