/* Cache keys: a strict JSON parser that writes the canonical form of a request body,
 * and SHA-256 over it (mbedtls). See cache_key.h for the canonical form. The one idea:
 * canonicalise from the raw bytes, so numbers keep every digit and nothing a provider
 * could read differently is ever folded together. */
#include "net/wire/cache_key.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

struct canon {
  const char *p, *end;
  int depth;
};

static void skip_ws(struct canon *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hex4(const char *p, const char *end, unsigned *out) {
  if (end - p < 4) return -EINVAL;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = sl_hexval(p[i]);
    if (h < 0) return -EINVAL;
    v = v << 4 | (unsigned)h;
  }
  *out = v;
  return 0;
}

static void put_utf8(struct sl_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) { /* lone surrogates land here too: WTF-8 */
    u[0] = (char)(0xE0 | cp >> 12);
    u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  sl_buf_append(b, u, n);
}

/* Decodes a JSON string at c->p (on the opening quote) into raw bytes appended to b. */
static int decode_string(struct canon *c, struct sl_buf *b) {
  c->p++;
  const char *run = c->p;
  while (c->p < c->end) {
    unsigned char ch = (unsigned char)*c->p;
    if (ch == '"') {
      sl_buf_append(b, run, (size_t)(c->p - run));
      c->p++;
      return 0;
    }
    if (ch < 0x20) return -EINVAL;
    if (ch != '\\') {
      c->p++;
      continue;
    }
    sl_buf_append(b, run, (size_t)(c->p - run));
    if (c->end - c->p < 2) return -EINVAL;
    char e = c->p[1];
    c->p += 2;
    switch (e) {
    case '"': sl_buf_append(b, "\"", 1); break;
    case '\\': sl_buf_append(b, "\\", 1); break;
    case '/': sl_buf_append(b, "/", 1); break;
    case 'b': sl_buf_append(b, "\b", 1); break;
    case 'f': sl_buf_append(b, "\f", 1); break;
    case 'n': sl_buf_append(b, "\n", 1); break;
    case 'r': sl_buf_append(b, "\r", 1); break;
    case 't': sl_buf_append(b, "\t", 1); break;
    case 'u': {
      unsigned cp, lo;
      if (hex4(c->p, c->end, &cp)) return -EINVAL;
      c->p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' &&
          hex4(c->p + 2, c->end, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        c->p += 6;
      }
      put_utf8(b, cp);
      break;
    }
    default: return -EINVAL;
    }
    run = c->p;
  }
  return -EINVAL;
}

static void write_string(struct sl_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sl_buf_append(out, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    sl_buf_append(out, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t k = 2;
    switch (ch) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
      k = 6;
    }
    sl_buf_append(out, esc, k);
  }
  sl_buf_append(out, s + run, n - run);
  sl_buf_append(out, "\"", 1);
}

#define EXP_LIMIT 1000000000000000LL /* |exponent| beyond this: refuse, never saturate */

static int number(struct canon *c, struct sl_buf *out) {
  const char *p = c->p, *end = c->end;
  bool neg = false;
  if (p < end && *p == '-') {
    neg = true;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9') return -EINVAL;
  const char *int_s = p;
  if (*p == '0')
    p++;
  else
    while (p < end && *p >= '0' && *p <= '9') p++;
  const char *int_e = p, *frac_s = p, *frac_e = p;
  if (p < end && *p == '.') {
    p++;
    frac_s = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    frac_e = p;
    if (frac_e == frac_s) return -EINVAL;
  }
  long long exp = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || *p < '0' || *p > '9') return -EINVAL;
    while (p < end && *p >= '0' && *p <= '9') {
      exp = exp * 10 + (*p - '0');
      if (exp > EXP_LIMIT) return -EINVAL;
      p++;
    }
    if (eneg) exp = -exp;
  }
  c->p = p;
  /* significant digits: int part then fraction, without leading/trailing zeros */
  const char *segs[2][2] = {{int_s, int_e}, {frac_s, frac_e}};
  size_t total = (size_t)(int_e - int_s) + (size_t)(frac_e - frac_s);
  exp -= (long long)(frac_e - frac_s);
  size_t first = total, last = 0, idx = 0; /* indexes into the virtual digit string */
  for (int s = 0; s < 2; s++)
    for (const char *q = segs[s][0]; q < segs[s][1]; q++, idx++)
      if (*q != '0') {
        if (first == total) first = idx;
        last = idx;
      }
  if (first == total) {
    sl_buf_append(out, "0", 1);
    return 0;
  }
  exp += (long long)(total - 1 - last);
  if (neg) sl_buf_append(out, "-", 1);
  idx = 0;
  for (int s = 0; s < 2; s++) {
    size_t n = (size_t)(segs[s][1] - segs[s][0]);
    size_t a = first > idx ? first - idx : 0, b = last + 1 > idx ? last + 1 - idx : 0;
    if (b > n) b = n;
    if (a < b) sl_buf_append(out, segs[s][0] + a, b - a);
    idx += n;
  }
  if (exp) sl_buf_printf(out, "e%lld", exp);
  return 0;
}

static bool literal(struct canon *c, const char *lit, struct sl_buf *out) {
  size_t n = strlen(lit);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) return false;
  c->p += n;
  sl_buf_append(out, lit, n);
  return true;
}

static const char *const excluded[] = {"model", "stream", "stream_options", "user", "metadata", "cache", "caching",
                                       "sluice"};

static bool is_excluded(const char *k, size_t n) {
  for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
    if (strlen(excluded[i]) == n && memcmp(excluded[i], k, n) == 0) return true;
  return false;
}

struct member {
  size_t k_off, k_len, v_off, v_len, idx;
  const char *base; /* set before sorting */
};

static int cmp_member(const void *a, const void *b) {
  const struct member *x = a, *y = b;
  size_t n = x->k_len < y->k_len ? x->k_len : y->k_len;
  int r = memcmp(x->base + x->k_off, y->base + y->k_off, n);
  if (r) return r;
  if (x->k_len != y->k_len) return x->k_len < y->k_len ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int value(struct canon *c, struct sl_buf *out, bool top);

static int object(struct canon *c, struct sl_buf *out, bool top) {
  c->p++; /* { */
  struct sl_buf tmp = {0};
  struct member *m = NULL;
  size_t n = 0, cap = 0, idx = 0;
  int rc = 0;
  skip_ws(c);
  if (c->p < c->end && *c->p == '}') {
    c->p++;
    sl_buf_append(out, "{}", 2);
    return 0;
  }
  for (;;) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') {
      rc = -EINVAL;
      break;
    }
    size_t k_off = tmp.n;
    if ((rc = decode_string(c, &tmp))) break;
    size_t k_len = tmp.n - k_off;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') {
      rc = -EINVAL;
      break;
    }
    c->p++;
    size_t v_off = tmp.n;
    if ((rc = value(c, &tmp, false))) break;
    if (top && is_excluded(tmp.p + k_off, k_len)) {
      tmp.n = k_off; /* parsed (so it is validated), then dropped */
    } else {
      if (n == cap) {
        cap = cap ? cap * 2 : 16;
        struct member *nm = realloc(m, cap * sizeof *m);
        if (!nm) {
          rc = -ENOMEM;
          break;
        }
        m = nm;
      }
      m[n++] = (struct member){k_off, k_len, v_off, tmp.n - v_off, idx, NULL};
    }
    idx++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      continue;
    }
    if (c->p < c->end && *c->p == '}') {
      c->p++;
      break;
    }
    rc = -EINVAL;
    break;
  }
  if (!rc && tmp.oom) rc = -ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++) m[i].base = tmp.p;
    if (n > 1) qsort(m, n, sizeof *m, cmp_member);
    sl_buf_append(out, "{", 1);
    for (size_t i = 0; i < n; i++) {
      if (i) sl_buf_append(out, ",", 1);
      write_string(out, tmp.p + m[i].k_off, m[i].k_len);
      sl_buf_append(out, ":", 1);
      sl_buf_append(out, tmp.p + m[i].v_off, m[i].v_len);
    }
    sl_buf_append(out, "}", 1);
  }
  free(m);
  sl_buf_free(&tmp);
  return rc;
}

static int array(struct canon *c, struct sl_buf *out) {
  c->p++; /* [ */
  sl_buf_append(out, "[", 1);
  skip_ws(c);
  if (c->p < c->end && *c->p == ']') {
    c->p++;
    sl_buf_append(out, "]", 1);
    return 0;
  }
  for (bool first = true;; first = false) {
    if (!first) sl_buf_append(out, ",", 1);
    int rc = value(c, out, false);
    if (rc) return rc;
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      continue;
    }
    if (c->p < c->end && *c->p == ']') {
      c->p++;
      sl_buf_append(out, "]", 1);
      return 0;
    }
    return -EINVAL;
  }
}

static int value(struct canon *c, struct sl_buf *out, bool top) {
  skip_ws(c);
  if (c->p >= c->end) return -EINVAL;
  int rc;
  switch (*c->p) {
  case '{':
  case '[':
    if (++c->depth > SL_CACHE_KEY_MAX_DEPTH) return -EINVAL;
    rc = *c->p == '{' ? object(c, out, top) : array(c, out);
    c->depth--;
    return rc;
  case '"': {
    struct sl_buf s = {0};
    rc = decode_string(c, &s);
    if (!rc && s.oom) rc = -ENOMEM;
    if (!rc) write_string(out, s.p ? s.p : "", s.n);
    sl_buf_free(&s);
    return rc;
  }
  case 't': return literal(c, "true", out) ? 0 : -EINVAL;
  case 'f': return literal(c, "false", out) ? 0 : -EINVAL;
  case 'n': return literal(c, "null", out) ? 0 : -EINVAL;
  default: return number(c, out);
  }
}

int sl_cache_key_canonical(const char *body, size_t len, struct sl_buf *out) {
  struct canon c = {body, body + len, 0};
  skip_ws(&c);
  if (c.p >= c.end || *c.p != '{') return -EINVAL;
  int rc = value(&c, out, true);
  if (rc) return rc;
  skip_ws(&c);
  if (c.p != c.end) return -EINVAL;
  return out->oom ? -ENOMEM : 0;
}

#if MBEDTLS_VERSION_MAJOR >= 3
#define sha_starts mbedtls_sha256_starts
#define sha_update mbedtls_sha256_update
#define sha_finish mbedtls_sha256_finish
#else
#define sha_starts mbedtls_sha256_starts_ret
#define sha_update mbedtls_sha256_update_ret
#define sha_finish mbedtls_sha256_finish_ret
#endif

static void sha_lenpref(mbedtls_sha256_context *ctx, const char *s) {
  if (!s) s = "";
  uint64_t n = strlen(s);
  unsigned char be[8];
  for (int i = 0; i < 8; i++) be[i] = (unsigned char)(n >> (56 - 8 * i));
  sha_update(ctx, be, 8);
  sha_update(ctx, (const unsigned char *)s, (size_t)n);
}

int sl_cache_key(const char *group, const char *ns, const char *endpoint, const char *body, size_t len,
                 uint8_t out[SL_CACHE_KEY_BYTES]) {
  return sl_cache_key_scoped(NULL, group, ns, endpoint, body, len, out);
}

int sl_cache_key_scoped(const char *scope, const char *group, const char *ns, const char *endpoint, const char *body,
                        size_t len, uint8_t out[SL_CACHE_KEY_BYTES]) {
  struct sl_buf canon = {0};
  int rc = sl_cache_key_canonical(body, len, &canon);
  if (rc) {
    sl_buf_free(&canon);
    return rc;
  }
  static const char domain[] = "sluice-cache-key-v1\n", scoped[] = "sluice-cache-key-v1-scoped\n";
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  sha_starts(&ctx, 0);
  if (scope && scope[0]) { /* another domain: a scoped key never equals an unscoped one */
    sha_update(&ctx, (const unsigned char *)scoped, sizeof scoped - 1);
    sha_lenpref(&ctx, scope);
  } else {
    sha_update(&ctx, (const unsigned char *)domain, sizeof domain - 1);
  }
  sha_lenpref(&ctx, group);
  sha_lenpref(&ctx, ns);
  sha_lenpref(&ctx, endpoint);
  sha_update(&ctx, (const unsigned char *)canon.p, canon.n);
  sha_finish(&ctx, out);
  mbedtls_sha256_free(&ctx);
  sl_buf_free(&canon);
  return 0;
}

void sl_cache_key_hex(const uint8_t key[SL_CACHE_KEY_BYTES], char hex[65]) {
  static const char h[] = "0123456789abcdef";
  for (int i = 0; i < SL_CACHE_KEY_BYTES; i++) {
    hex[2 * i] = h[key[i] >> 4];
    hex[2 * i + 1] = h[key[i] & 15];
  }
  hex[64] = 0;
}

/* ---- per-request controls ---- */

void sl_cache_control_init(struct sl_cache_control *cc) {
  *cc = (struct sl_cache_control){.ttl_s = -1, .max_age_s = -1};
}

/* A non-negative whole number of seconds from a JSON number. */
static bool json_seconds(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= 0) || d > 1e15) return false;
  *out = (int64_t)d;
  return true;
}

int sl_cache_control_from_body(const cJSON *body, struct sl_cache_control *cc) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, "cache");
  if (!o || cJSON_IsNull(o)) return 0;
  if (!cJSON_IsObject(o)) return -EINVAL;
  int rc = 0;
  for (const cJSON *f = o->child; f; f = f->next) {
    const char *k = f->string ? f->string : "";
    int64_t s;
    if (!strcmp(k, "no-cache") || !strcmp(k, "no_cache")) {
      if (cJSON_IsBool(f)) cc->no_cache |= cJSON_IsTrue(f);
      else rc = -EINVAL;
    } else if (!strcmp(k, "no-store") || !strcmp(k, "no_store")) {
      if (cJSON_IsBool(f)) cc->no_store |= cJSON_IsTrue(f);
      else rc = -EINVAL;
    } else if (!strcmp(k, "ttl")) {
      if (json_seconds(f, &s)) cc->ttl_s = s;
      else rc = -EINVAL;
    } else if (!strcmp(k, "s-maxage") || !strcmp(k, "s_maxage")) {
      if (json_seconds(f, &s)) cc->max_age_s = s;
      else rc = -EINVAL;
    } else if (!strcmp(k, "namespace")) {
      if (cJSON_IsString(f)) cc->namespace_ = f->valuestring;
      else if (!cJSON_IsNull(f)) rc = -EINVAL;
    }
    /* other keys (LiteLLM has a few more, e.g. "use-cache") do not change sluice */
  }
  return rc;
}

/* Parses a whole number of seconds from n bytes. */
static bool slice_seconds(const char *p, size_t n, int64_t *out) {
  while (n && (*p == ' ' || *p == '\t' || *p == '"')) p++, n--;
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '"')) n--;
  if (!n || n > 15) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return true;
}

static bool tok_is(const char *p, size_t n, const char *lit) { return strlen(lit) == n && !strncasecmp(p, lit, n); }

/* Walks a comma-separated header value, calling fn(token, value-after-'=' or NULL). */
static int each_token(struct sl_slice v, struct sl_cache_control *cc,
                      int (*fn)(struct sl_cache_control *, const char *, size_t, const char *, size_t)) {
  int rc = 0;
  size_t i = 0;
  while (i < v.n) {
    size_t s = i;
    while (i < v.n && v.p[i] != ',') i++;
    size_t e = i++;
    while (s < e && (v.p[s] == ' ' || v.p[s] == '\t')) s++;
    while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t')) e--;
    if (s == e) continue;
    const char *eq = memchr(v.p + s, '=', e - s);
    size_t kn = eq ? (size_t)(eq - (v.p + s)) : e - s;
    while (kn && (v.p[s + kn - 1] == ' ')) kn--;
    int r = fn(cc, v.p + s, kn, eq ? eq + 1 : NULL, eq ? (size_t)(v.p + e - (eq + 1)) : 0);
    if (r) rc = r;
  }
  return rc;
}

static int sluice_token(struct sl_cache_control *cc, const char *k, size_t kn, const char *v, size_t vn) {
  (void)v;
  (void)vn;
  if (tok_is(k, kn, "no-cache")) cc->no_cache = true;
  else if (tok_is(k, kn, "no-store")) cc->no_store = true;
  else return -EINVAL;
  return 0;
}

static int cache_control_token(struct sl_cache_control *cc, const char *k, size_t kn, const char *v, size_t vn) {
  int64_t s;
  if (tok_is(k, kn, "no-cache")) {
    cc->no_cache = true;
  } else if (tok_is(k, kn, "no-store")) {
    cc->no_store = true;
  } else if (tok_is(k, kn, "max-age") || tok_is(k, kn, "s-maxage")) {
    if (!v || !slice_seconds(v, vn, &s)) return -EINVAL;
    cc->max_age_s = s;
    if (s == 0) cc->no_cache = true;
    if (tok_is(k, kn, "max-age") && cc->ttl_s < 0 && s > 0) cc->ttl_s = s;
  }
  /* other directives (private, must-revalidate, ...) mean nothing to this cache */
  return 0;
}

int sl_cache_control_from_headers(const struct sl_header *h, size_t n, struct sl_cache_control *cc) {
  int rc = 0, r;
  int64_t s;
  for (size_t i = 0; i < n; i++) {
    if (sl_slice_eq_ci(h[i].name, "x-sluice-cache")) {
      if ((r = each_token(h[i].value, cc, sluice_token))) rc = r;
    } else if (sl_slice_eq_ci(h[i].name, "x-sluice-cache-ttl")) {
      if (slice_seconds(h[i].value.p, h[i].value.n, &s)) cc->ttl_s = s;
      else rc = -EINVAL;
    } else if (sl_slice_eq_ci(h[i].name, "cache-control")) {
      if ((r = each_token(h[i].value, cc, cache_control_token))) rc = r;
    }
  }
  return rc;
}

int64_t sl_cache_control_ttl(const struct sl_cache_control *cc, int64_t configured_s) {
  if (cc->ttl_s < 0) return configured_s;
  return cc->ttl_s < configured_s ? cc->ttl_s : configured_s;
}
