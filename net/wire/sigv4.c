/* AWS Signature Version 4; see sigv4.h. The canonical request is built in one pass per
 * part (method, path, query, headers, signed header list, payload hash); the header part
 * sorts indices by lower-case name, stable, so repeated headers keep their order when their
 * values are joined with ','. Hashes and HMACs go through mbedtls' generic md API, which is
 * the same in mbedtls 2.28 and 3.x. */
#include "net/wire/sigv4.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

static const char HEX[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) out[2 * i] = HEX[p[i] >> 4], out[2 * i + 1] = HEX[p[i] & 15];
  out[2 * n] = 0;
}

static const mbedtls_md_info_t *sha256_info(void) { return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256); }

static int sha256(const void *p, size_t n, unsigned char out[32]) {
  return mbedtls_md(sha256_info(), (const unsigned char *)p, n, out) ? -1 : 0;
}

static int hmac(const void *key, size_t kn, const void *p, size_t n, unsigned char out[32]) {
  return mbedtls_md_hmac(sha256_info(), (const unsigned char *)key, kn, (const unsigned char *)p, n, out) ? -1 : 0;
}

void sl_sigv4_payload_hash(const struct sl_iov *v, size_t n, char hex[65]) {
  unsigned char d[32];
  mbedtls_md_context_t ctx;
  mbedtls_md_init(&ctx);
  int rc = mbedtls_md_setup(&ctx, sha256_info(), 0);
  if (!rc) rc = mbedtls_md_starts(&ctx);
  for (size_t i = 0; !rc && i < n; i++)
    if (v[i].n) rc = mbedtls_md_update(&ctx, (const unsigned char *)v[i].p, v[i].n);
  if (!rc) rc = mbedtls_md_finish(&ctx, d);
  mbedtls_md_free(&ctx);
  if (rc) memset(d, 0, sizeof d); /* cannot happen with a compiled-in SHA-256 */
  to_hex(d, 32, hex);
}

void sl_sigv4_amz_date(int64_t unix_s, char out[17]) {
  /* days since 1970-01-01 -> civil date (H. Hinnant's algorithm), floor division for < 0 */
  int64_t days = unix_s / 86400, sod = unix_s % 86400;
  if (sod < 0) sod += 86400, days--;
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  int v[6] = {(int)y, (int)m, (int)d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60)};
  static const int width[6] = {4, 2, 2, 2, 2, 2};
  char *o = out;
  for (int i = 0; i < 6; i++) {
    if (i == 3) *o++ = 'T';
    for (int k = width[i] - 1, x = v[i]; k >= 0; k--, x /= 10) o[k] = (char)('0' + x % 10);
    o += width[i];
  }
  *o++ = 'Z';
  *o = 0;
}

static bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

/* AWS's URI encoding: every byte but the unreserved ones as %XX with upper-case hex. */
static void uri_encode(struct sl_buf *b, const char *p, size_t n) {
  static const char UHEX[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (unreserved(c)) {
      sl_buf_append(b, &p[i], 1);
    } else {
      char e[3] = {'%', UHEX[c >> 4], UHEX[c & 15]};
      sl_buf_append(b, e, 3);
    }
  }
}

struct seg {
  const char *p;
  size_t n;
};

/* The path normalised (RFC 3986 dot segments removed, empty segments dropped) and each
 * segment encoded again; a trailing '/' (or a final "." or "..") keeps a trailing '/'. */
static int canonical_path(struct sl_buf *b, const char *path) {
  size_t len = strlen(path), ns = 0;
  struct seg *s = malloc((len / 2 + 1) * sizeof *s);
  if (!s) return -ENOMEM;
  bool dot_last = false; /* the last segment was "." or "..": a directory, as a trailing '/' */
  for (size_t i = 0; i < len;) {
    size_t j = i;
    while (j < len && path[j] != '/') j++;
    size_t n = j - i;
    dot_last = false;
    if (n == 1 && path[i] == '.') {
      dot_last = true;
    } else if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
      if (ns) ns--;
      dot_last = true;
    } else if (n) {
      s[ns++] = (struct seg){path + i, n};
    }
    i = j < len ? j + 1 : j;
  }
  bool trailing = dot_last || (len && path[len - 1] == '/');
  sl_buf_append(b, "/", 1);
  for (size_t i = 0; i < ns; i++) {
    if (i) sl_buf_append(b, "/", 1);
    uri_encode(b, s[i].p, s[i].n);
  }
  if (ns && trailing) sl_buf_append(b, "/", 1);
  free(s);
  return 0;
}

struct qparam {
  char *k, *v; /* encoded, NUL-terminated */
};

static int qparam_cmp(const void *a, const void *b) {
  const struct qparam *x = a, *y = b;
  int c = strcmp(x->k, y->k);
  return c ? c : strcmp(x->v, y->v);
}

/* Percent-decodes s[0..n) ('+' stays '+'), then encodes it the AWS way, into a new string. */
static char *requote(const char *s, size_t n) {
  char *raw = malloc(n + 1);
  if (!raw) return NULL;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (n - i < 3) {
        free(raw);
        return NULL;
      }
      int h = sl_hexval(s[i + 1]), l = sl_hexval(s[i + 2]);
      if (h < 0 || l < 0) {
        free(raw);
        return NULL;
      }
      raw[m++] = (char)(h << 4 | l);
      i += 2;
    } else {
      raw[m++] = s[i];
    }
  }
  struct sl_buf b = {0};
  uri_encode(&b, raw, m);
  sl_buf_append(&b, "", 1);
  free(raw);
  if (b.oom) {
    sl_buf_free(&b);
    return NULL;
  }
  return b.p;
}

static int canonical_query(struct sl_buf *b, const char *q) {
  if (!q || !*q) return 0;
  size_t len = strlen(q), cap = 1, np = 0;
  for (size_t i = 0; i < len; i++) cap += q[i] == '&';
  struct qparam *ps = calloc(cap, sizeof *ps);
  if (!ps) return -ENOMEM;
  int rc = 0;
  for (size_t i = 0; i <= len && !rc;) {
    size_t j = i;
    while (j < len && q[j] != '&') j++;
    if (j > i) {
      const char *eq = memchr(q + i, '=', j - i);
      size_t kn = eq ? (size_t)(eq - (q + i)) : j - i;
      ps[np].k = requote(q + i, kn);
      ps[np].v = eq ? requote(eq + 1, (size_t)(q + j - eq - 1)) : requote("", 0);
      if (!ps[np].k || !ps[np].v) rc = -EINVAL;
      np++;
    }
    i = j + 1;
  }
  if (!rc) {
    qsort(ps, np, sizeof *ps, qparam_cmp);
    for (size_t i = 0; i < np; i++) {
      if (i) sl_buf_append(b, "&", 1);
      sl_buf_puts(b, ps[i].k);
      sl_buf_append(b, "=", 1);
      sl_buf_puts(b, ps[i].v);
    }
  }
  for (size_t i = 0; i < np; i++) free(ps[i].k), free(ps[i].v);
  free(ps);
  return rc;
}

static int lc(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int name_cmp_ci(struct sl_slice a, struct sl_slice b) {
  size_t n = a.n < b.n ? a.n : b.n;
  for (size_t i = 0; i < n; i++) {
    int x = lc((unsigned char)a.p[i]), y = lc((unsigned char)b.p[i]);
    if (x != y) return x - y;
  }
  return a.n < b.n ? -1 : a.n > b.n;
}

static bool token_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != ':'; }

/* Indices of r->headers sorted by lower-case name, stable (insertion sort: a request has
 * a handful of headers). NULL with *rc set on an error. */
static size_t *sorted_headers(const struct sl_sigv4_req *r, int *rc) {
  size_t *ix = malloc((r->nheaders ? r->nheaders : 1) * sizeof *ix);
  if (!ix) {
    *rc = -ENOMEM;
    return NULL;
  }
  bool host = false, date = false;
  for (size_t i = 0; i < r->nheaders; i++) {
    struct sl_slice nm = r->headers[i].name;
    if (!nm.n || (!nm.p && nm.n)) goto bad;
    for (size_t k = 0; k < nm.n; k++)
      if (!token_char((unsigned char)nm.p[k])) goto bad;
    if (r->headers[i].value.n && !r->headers[i].value.p) goto bad;
    host = host || sl_slice_eq_ci(nm, "host");
    date = date || sl_slice_eq_ci(nm, "x-amz-date");
    size_t j = i;
    while (j && name_cmp_ci(r->headers[ix[j - 1]].name, nm) > 0) ix[j] = ix[j - 1], j--;
    ix[j] = i;
  }
  if (host && date) return ix;
bad:
  free(ix);
  *rc = -EINVAL;
  return NULL;
}

static void put_lower(struct sl_buf *b, struct sl_slice s) {
  for (size_t i = 0; i < s.n; i++) {
    char c = (char)lc((unsigned char)s.p[i]);
    sl_buf_append(b, &c, 1);
  }
}

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A header value trimmed, each run of whitespace inside it one space. */
static void put_value(struct sl_buf *b, struct sl_slice v) {
  size_t i = 0, n = v.n;
  while (i < n && ws(v.p[i])) i++;
  while (n > i && ws(v.p[n - 1])) n--;
  while (i < n) {
    if (ws(v.p[i])) {
      sl_buf_append(b, " ", 1);
      while (i < n && ws(v.p[i])) i++;
    } else {
      size_t j = i;
      while (j < n && !ws(v.p[j])) j++;
      sl_buf_append(b, v.p + i, j - i);
      i = j;
    }
  }
}

static void put_signed_headers(struct sl_buf *b, const struct sl_sigv4_req *r, const size_t *ix) {
  for (size_t i = 0; i < r->nheaders; i++) {
    if (i && name_cmp_ci(r->headers[ix[i - 1]].name, r->headers[ix[i]].name) == 0) continue;
    if (i) sl_buf_append(b, ";", 1);
    put_lower(b, r->headers[ix[i]].name);
  }
}

static bool is_hex64(const char *s) {
  if (!s || strlen(s) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static bool valid_date(const char *d) {
  if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return false;
  for (int i = 0; i < 15; i++)
    if (i != 8 && (d[i] < '0' || d[i] > '9')) return false;
  return true;
}

static bool valid_scope_part(const char *s) { return s && *s && !strchr(s, '/') && !strchr(s, '\n'); }

static bool valid_req(const struct sl_sigv4_req *r) {
  return r && r->method && *r->method && r->path && (r->headers || !r->nheaders) && is_hex64(r->payload_sha256_hex) &&
         valid_scope_part(r->region) && valid_scope_part(r->service) && valid_date(r->amz_date);
}

int sl_sigv4_canonical_request(const struct sl_sigv4_req *r, struct sl_buf *out) {
  if (!valid_req(r)) return -EINVAL;
  int rc = 0;
  size_t *ix = sorted_headers(r, &rc);
  if (!ix) return rc;
  sl_buf_puts(out, r->method);
  sl_buf_append(out, "\n", 1);
  rc = canonical_path(out, r->path);
  if (!rc) {
    sl_buf_append(out, "\n", 1);
    rc = canonical_query(out, r->query);
  }
  if (!rc) {
    sl_buf_append(out, "\n", 1);
    for (size_t i = 0; i < r->nheaders; i++) {
      const struct sl_header *h = &r->headers[ix[i]];
      bool same = i && name_cmp_ci(r->headers[ix[i - 1]].name, h->name) == 0;
      if (same) {
        sl_buf_append(out, ",", 1);
      } else {
        if (i) sl_buf_append(out, "\n", 1);
        put_lower(out, h->name);
        sl_buf_append(out, ":", 1);
      }
      put_value(out, h->value);
    }
    sl_buf_append(out, "\n\n", r->nheaders ? 2 : 1);
    put_signed_headers(out, r, ix);
    sl_buf_append(out, "\n", 1);
    sl_buf_puts(out, r->payload_sha256_hex);
  }
  free(ix);
  if (!rc && out->oom) rc = -ENOMEM;
  return rc;
}

int sl_sigv4_string_to_sign(const struct sl_sigv4_req *r, const char *canonical, size_t n, struct sl_buf *out) {
  if (!valid_req(r) || (!canonical && n)) return -EINVAL;
  unsigned char d[32];
  char hex[65];
  if (sha256(canonical ? canonical : "", n, d)) return -EINVAL;
  to_hex(d, 32, hex);
  sl_buf_puts(out, "AWS4-HMAC-SHA256\n");
  sl_buf_puts(out, r->amz_date);
  sl_buf_append(out, "\n", 1);
  sl_buf_append(out, r->amz_date, 8);
  sl_buf_printf(out, "/%s/%s/aws4_request\n%s", r->region, r->service, hex);
  return out->oom ? -ENOMEM : 0;
}

int sl_sigv4_authorization(const struct sl_sigv4_req *r, const struct sl_aws_creds *c, char *out, size_t cap) {
  if (!c || !c->access_key_id || !*c->access_key_id || !c->secret_access_key || !*c->secret_access_key) return -1;
  if (strchr(c->access_key_id, '/') || strchr(c->access_key_id, ',')) return -1;
  struct sl_buf canon = {0}, sts = {0}, sh = {0}, key = {0};
  int ret = -1, rc = 0;
  size_t *ix = NULL;
  if (sl_sigv4_canonical_request(r, &canon)) goto done;
  if (sl_sigv4_string_to_sign(r, canon.p, canon.n, &sts)) goto done;
  ix = sorted_headers(r, &rc);
  if (!ix) goto done;
  put_signed_headers(&sh, r, ix);
  sl_buf_append(&sh, "", 1);
  sl_buf_printf(&key, "AWS4%s", c->secret_access_key);
  if (sh.oom || key.oom) goto done;
  unsigned char k[32], sig[32];
  char sighex[65];
  const char *svc = r->service, *reg = r->region;
  if (hmac(key.p, key.n, r->amz_date, 8, k) || hmac(k, 32, reg, strlen(reg), k) || hmac(k, 32, svc, strlen(svc), k) ||
      hmac(k, 32, "aws4_request", 12, k) || hmac(k, 32, sts.p, sts.n, sig))
    goto done;
  to_hex(sig, 32, sighex);
  ret = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                 c->access_key_id, r->amz_date, reg, svc, sh.p, sighex);
  memset(k, 0, sizeof k);
done:
  if (key.p) memset(key.p, 0, key.n);
  free(ix);
  sl_buf_free(&canon), sl_buf_free(&sts), sl_buf_free(&sh), sl_buf_free(&key);
  return ret;
}
