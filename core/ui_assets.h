/* The dashboard's static assets (core/ui/: index.html, app.js, app.css), embedded at build
 * time by core/ui/embed.py (identity and gzip bytes, content type, ETag) and served at
 * GET /ui, /ui/ and /ui/<asset> without authentication: they hold no data (the page asks
 * for the master key and sends it to the /ui/api endpoints only). Every answer carries a strict
 * Content-Security-Policy, nosniff, no-referrer and Cache-Control: no-cache with an ETag
 * (If-None-Match -> 304); gzip when the client accepts it. To add an asset: see embed.py. */
#ifndef SL_CORE_UI_ASSETS_H
#define SL_CORE_UI_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct sl_ui_asset {
  const char *name;         /* "app.js" */
  const char *content_type; /* "text/javascript; charset=utf-8" */
  const char *etag;         /* "\"0123456789abcdef\"" (quoted) */
  const unsigned char *id;  /* the bytes as they are */
  size_t id_len;
  const unsigned char *gz; /* gzip'd */
  size_t gz_len;
};
extern const struct sl_ui_asset sl_ui_assets[];
extern const unsigned sl_ui_nassets;

/* The asset named name[0..n) (no '/'), or NULL. */
const struct sl_ui_asset *sl_ui_asset_find(const char *name, size_t n);
/* Whether an Accept-Encoding value takes gzip (a "gzip", "x-gzip" or "*" token whose q is
 * not 0). */
bool sl_ui_accepts_gzip(const char *v, size_t n);
/* Whether an If-None-Match value names etag (one of its comma-separated tags, weak or not,
 * or "*"). */
bool sl_ui_etag_matches(const char *v, size_t n, const char *etag);

struct sl_request;
/* GET /ui, /ui/ (index.html) and /ui/<asset>. */
void sl_request_ui(struct sl_request *rq);

#endif
