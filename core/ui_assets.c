/* Serves the embedded dashboard assets; see ui_assets.h. The one idea: the bytes are
 * constant, so an answer is a choice (which asset, gzip or not, 304 or 200) and a fixed set
 * of security headers, written through core/respond.c like every answer. To add a header,
 * edit UI_HEADERS. */
#include "core/ui_assets.h"

#include <stdio.h>
#include <string.h>

#include "core/request_internal.h"
#include "core/respond.h"

#define UI_HEADERS                                                                                                     \
  "Cache-Control: no-cache\r\n"                                                                                        \
  "Vary: Accept-Encoding\r\n"                                                                                          \
  "X-Content-Type-Options: nosniff\r\n"                                                                                \
  "Referrer-Policy: no-referrer\r\n"                                                                                   \
  "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "           \
  "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"

const struct sl_ui_asset *sl_ui_asset_find(const char *name, size_t n) {
  for (unsigned i = 0; i < sl_ui_nassets; i++)
    if (strlen(sl_ui_assets[i].name) == n && memcmp(sl_ui_assets[i].name, name, n) == 0) return &sl_ui_assets[i];
  return NULL;
}

static bool ows(char c) { return c == ' ' || c == '\t'; }

static bool ieq(const char *a, size_t n, const char *lit) {
  size_t k = strlen(lit);
  if (n != k) return false;
  for (size_t i = 0; i < n; i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != lit[i]) return false;
  }
  return true;
}

/* Whether the parameters p[0..n) (after the token, each ";name=value") set q to 0. */
static bool q_zero(const char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (ows(p[i]) || p[i] == ';')) i++;
    size_t s = i;
    while (i < n && p[i] != ';') i++;
    size_t e = i;
    while (e > s && ows(p[e - 1])) e--;
    if (e - s >= 2 && (p[s] == 'q' || p[s] == 'Q')) {
      size_t j = s + 1;
      while (j < e && ows(p[j])) j++;
      if (j < e && p[j] == '=') {
        j++;
        while (j < e && ows(p[j])) j++;
        bool zero = j < e;
        for (; j < e; j++)
          if (p[j] != '0' && p[j] != '.') zero = false;
        return zero;
      }
    }
  }
  return false;
}

bool sl_ui_accepts_gzip(const char *v, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t s = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i++;
    while (s < e && ows(v[s])) s++;
    size_t t = s;
    while (t < e && v[t] != ';' && !ows(v[t])) t++;
    if ((ieq(v + s, t - s, "gzip") || ieq(v + s, t - s, "x-gzip") || ieq(v + s, t - s, "*")) && !q_zero(v + t, e - t))
      return true;
  }
  return false;
}

bool sl_ui_etag_matches(const char *v, size_t n, const char *etag) {
  size_t en = strlen(etag);
  size_t i = 0;
  while (i < n) {
    size_t s = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i++;
    while (s < e && ows(v[s])) s++;
    while (e > s && ows(v[e - 1])) e--;
    if (e - s == 1 && v[s] == '*') return true;
    if (e - s >= 2 && v[s] == 'W' && v[s + 1] == '/') s += 2;
    if (e - s == en && memcmp(v + s, etag, en) == 0) return true;
  }
  return false;
}

void sl_request_ui(struct sl_request *rq) {
  struct sl_slice p = rq->hr->path;
  if (p.n > 1 && p.p[p.n - 1] == '/') p.n--;
  const char *name = "index.html";
  size_t nn = 10;
  const char *slash = memrchr(p.p, '/', p.n);
  if (slash && !(p.n == 3 && memcmp(p.p, "/ui", 3) == 0)) {
    name = slash + 1;
    nn = (size_t)(p.p + p.n - name);
  }
  const struct sl_ui_asset *a = sl_ui_asset_find(name, nn);
  if (!a) {
    sl_respond_error(rq, 404, SL_ERR_NOT_FOUND, NULL, "No such dashboard asset");
    return;
  }
  const struct sl_http_request *hr = rq->hr;
  char hdrs[512 + 128];
  const struct sl_header *inm = sl_http_header_find(hr->headers, hr->nheaders, "if-none-match");
  const struct sl_header *ae = sl_http_header_find(hr->headers, hr->nheaders, "accept-encoding");
  if (inm && sl_ui_etag_matches(inm->value.p, inm->value.n, a->etag)) {
    snprintf(hdrs, sizeof hdrs, UI_HEADERS "ETag: %s\r\n", a->etag);
    sl_respond_body(rq, 304, a->content_type, hdrs, NULL, 0);
    return;
  }
  bool gz = ae && sl_ui_accepts_gzip(ae->value.p, ae->value.n);
  snprintf(hdrs, sizeof hdrs, UI_HEADERS "ETag: %s\r\n%s", a->etag, gz ? "Content-Encoding: gzip\r\n" : "");
  sl_respond_body(rq, 200, a->content_type, hdrs, (const char *)(gz ? a->gz : a->id), gz ? a->gz_len : a->id_len);
}
