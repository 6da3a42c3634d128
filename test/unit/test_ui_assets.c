/* The dashboard's embedded assets (core/ui_assets.h): the table embed.py generated (every
 * asset has a type, an ETag and gzip bytes that are a gzip stream), the lookup, and the two
 * header readers that choose the answer: Accept-Encoding (gzip or not) and If-None-Match
 * (304 or not). */
#include <string.h>

#include "check.h"
#include "core/ui_assets.h"

#define S(lit) lit, sizeof lit - 1

static void table(void) {
  CHECK(sl_ui_nassets == 3);
  for (unsigned i = 0; i < sl_ui_nassets; i++) {
    const struct sl_ui_asset *a = &sl_ui_assets[i];
    CHECK(a->id_len > 0 && a->gz_len > 18);
    CHECK(a->gz[0] == 0x1f && a->gz[1] == 0x8b && a->gz[2] == 8);            /* gzip, deflate */
    CHECK(a->gz[4] == 0 && a->gz[5] == 0 && a->gz[6] == 0 && a->gz[7] == 0); /* mtime 0 */
    CHECK(strlen(a->etag) == 18 && a->etag[0] == '"' && a->etag[17] == '"');
    CHECK(sl_ui_asset_find(a->name, strlen(a->name)) == a);
  }
  const struct sl_ui_asset *h = sl_ui_asset_find(S("index.html"));
  CHECK(h && strncmp(h->content_type, "text/html", 9) == 0);
  CHECK(memmem(h->id, h->id_len, "app.js", 6) != NULL);
  const struct sl_ui_asset *js = sl_ui_asset_find(S("app.js"));
  CHECK(js && strncmp(js->content_type, "text/javascript", 15) == 0);
  CHECK(sl_ui_asset_find(S("app.j")) == NULL);
  CHECK(sl_ui_asset_find(S("app.jsx")) == NULL);
  CHECK(sl_ui_asset_find(S("")) == NULL);
}

static void accept_encoding(void) {
  CHECK(sl_ui_accepts_gzip(S("gzip")));
  CHECK(sl_ui_accepts_gzip(S("gzip, deflate, br")));
  CHECK(sl_ui_accepts_gzip(S("br, GZIP")));
  CHECK(sl_ui_accepts_gzip(S("deflate, x-gzip")));
  CHECK(sl_ui_accepts_gzip(S("*")));
  CHECK(sl_ui_accepts_gzip(S("gzip;q=0.5")));
  CHECK(sl_ui_accepts_gzip(S("gzip ; q=1")));
  CHECK(!sl_ui_accepts_gzip(S("gzip;q=0")));
  CHECK(!sl_ui_accepts_gzip(S("gzip; q=0.000")));
  CHECK(!sl_ui_accepts_gzip(S("identity")));
  CHECK(!sl_ui_accepts_gzip(S("")));
  CHECK(!sl_ui_accepts_gzip(S("gzipx, xgzip")));
  CHECK(!sl_ui_accepts_gzip(S("br;q=1, deflate")));
  CHECK(sl_ui_accepts_gzip(S("gzip;q=0, *;q=0.1"))); /* the wildcard still takes it */
}

static void if_none_match(void) {
  const char *e = "\"0123456789abcdef\"";
  CHECK(sl_ui_etag_matches(S("\"0123456789abcdef\""), e));
  CHECK(sl_ui_etag_matches(S("W/\"0123456789abcdef\""), e));
  CHECK(sl_ui_etag_matches(S("\"x\", \"0123456789abcdef\" "), e));
  CHECK(sl_ui_etag_matches(S("*"), e));
  CHECK(!sl_ui_etag_matches(S("\"0123456789abcdee\""), e));
  CHECK(!sl_ui_etag_matches(S("0123456789abcdef"), e)); /* unquoted: not the tag */
  CHECK(!sl_ui_etag_matches(S(""), e));
  CHECK(!sl_ui_etag_matches(S(",,"), e));
}

int main(void) {
  static const struct check_case cases[] = {
      {"table", table},
      {"accept_encoding", accept_encoding},
      {"if_none_match", if_none_match},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
