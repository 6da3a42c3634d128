/* OTLP/HTTP JSON encoding of spans and the OTLP headers list; see otlp_json.h. */
#include "net/wire/otlp_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "net/wire/traceparent.h"

static void put_str(struct sl_buf *b, const char *s, size_t n) {
  sl_buf_puts(b, "\"");
  sl_buf_json_escape(b, s, n);
  sl_buf_puts(b, "\"");
}

static void put_hex(struct sl_buf *b, const char *key, const uint8_t *p, size_t n) {
  char h[33];
  sl_trace_hex(p, n, h);
  sl_buf_printf(b, "\"%s\":\"%s\"", key, h);
}

static void put_value(struct sl_buf *b, const struct sl_otlp_attr *a) {
  switch (a->type) {
  case SL_OTLP_STR:
    sl_buf_puts(b, "{\"stringValue\":");
    put_str(b, a->s ? a->s : "", a->s ? (a->slen ? a->slen : strlen(a->s)) : 0);
    break;
  case SL_OTLP_INT: sl_buf_printf(b, "{\"intValue\":\"%" PRId64 "\"", a->i); break;
  case SL_OTLP_DOUBLE:
    if (isnan(a->d))
      sl_buf_puts(b, "{\"doubleValue\":\"NaN\"");
    else if (isinf(a->d))
      sl_buf_puts(b, a->d > 0 ? "{\"doubleValue\":\"Infinity\"" : "{\"doubleValue\":\"-Infinity\"");
    else
      sl_buf_printf(b, "{\"doubleValue\":%.17g", a->d);
    break;
  case SL_OTLP_BOOL: sl_buf_printf(b, "{\"boolValue\":%s", a->b ? "true" : "false"); break;
  case SL_OTLP_STR_ARRAY:
    sl_buf_puts(b, "{\"arrayValue\":{\"values\":[");
    for (size_t i = 0; i < a->narr; i++) {
      sl_buf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
      put_str(b, a->arr[i] ? a->arr[i] : "", a->arr[i] ? strlen(a->arr[i]) : 0);
      sl_buf_puts(b, "}");
    }
    sl_buf_puts(b, "]}");
    break;
  }
  sl_buf_puts(b, "}");
}

static void put_attrs(struct sl_buf *b, const struct sl_otlp_attr *a, size_t n) {
  sl_buf_puts(b, "\"attributes\":[");
  for (size_t i = 0; i < n; i++) {
    sl_buf_puts(b, i ? ",{\"key\":" : "{\"key\":");
    put_str(b, a[i].key, strlen(a[i].key));
    sl_buf_puts(b, ",\"value\":");
    put_value(b, &a[i]);
    sl_buf_puts(b, "}");
  }
  sl_buf_puts(b, "]");
}

void sl_otlp_span_json(struct sl_buf *b, const struct sl_otlp_span *s) {
  sl_buf_puts(b, "{");
  put_hex(b, "traceId", s->trace_id, 16);
  sl_buf_puts(b, ",");
  put_hex(b, "spanId", s->span_id, 8);
  if (s->has_parent) {
    sl_buf_puts(b, ",");
    put_hex(b, "parentSpanId", s->parent_id, 8);
  }
  if (s->trace_state) {
    sl_buf_puts(b, ",\"traceState\":");
    put_str(b, s->trace_state, strlen(s->trace_state));
  }
  sl_buf_puts(b, ",\"name\":");
  put_str(b, s->name ? s->name : "", s->name ? strlen(s->name) : 0);
  sl_buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\",",
                (int)s->kind, s->start_ns, s->end_ns);
  put_attrs(b, s->attrs, s->nattrs);
  sl_buf_printf(b, ",\"status\":{\"code\":%d", (int)s->status);
  if (s->status_message) {
    sl_buf_puts(b, ",\"message\":");
    put_str(b, s->status_message, strlen(s->status_message));
  }
  sl_buf_puts(b, "}}");
}

void sl_otlp_request_json(struct sl_buf *b, const struct sl_otlp_attr *res, size_t nres, const char *scope_name,
                          const char *scope_version, const char *spans, size_t spans_len) {
  sl_buf_puts(b, "{\"resourceSpans\":[{\"resource\":{");
  put_attrs(b, res, nres);
  sl_buf_puts(b, "},\"scopeSpans\":[{\"scope\":{\"name\":");
  put_str(b, scope_name, strlen(scope_name));
  if (scope_version) {
    sl_buf_puts(b, ",\"version\":");
    put_str(b, scope_version, strlen(scope_version));
  }
  sl_buf_puts(b, "},\"spans\":[");
  if (spans_len) sl_buf_append(b, spans, spans_len);
  sl_buf_puts(b, "]}]}]}");
}

static bool tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c);
}

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* Percent-decodes s into out (NUL-terminated); the decoded length, or -1. */
static long decode(const char *s, size_t n, struct sl_buf *out) {
  char tmp[1024];
  if (n >= sizeof tmp) return -1;
  long k = sl_pct_decode(s, n, false, tmp, sizeof tmp);
  if (k < 0) return -1;
  sl_buf_append(out, tmp, (size_t)k + 1); /* with its NUL */
  return k;
}

int sl_otlp_headers_parse(const char *s, size_t n, struct sl_buf *out, const char **why) {
  int count = 0;
  size_t i = 0;
  while (i <= n) {
    size_t j = i;
    while (j < n && s[j] != ',') j++;
    const char *m = s + i;
    size_t mn = j - i;
    i = j + 1;
    trim(&m, &mn);
    if (!mn) continue;
    const char *eq = memchr(m, '=', mn);
    if (!eq) return *why = "a member without '=' (expected key=value)", -EINVAL;
    const char *k = m, *v = eq + 1;
    size_t kn = (size_t)(eq - m), vn = mn - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    if (!kn) return *why = "an empty key", -EINVAL;
    size_t kat = out->n;
    long dk = decode(k, kn, out);
    if (dk <= 0) return *why = dk < 0 ? "bad percent-encoding or a key over 1 KiB" : "an empty key", -EINVAL;
    for (long x = 0; x < dk; x++)
      if (!tchar((unsigned char)out->p[kat + (size_t)x]))
        return *why = "a key that is not an HTTP header name", -EINVAL;
    size_t vat = out->n;
    long dv = decode(v, vn, out);
    if (dv < 0) return *why = "bad percent-encoding or a value over 1 KiB", -EINVAL;
    for (long x = 0; x < dv; x++) {
      unsigned char c = (unsigned char)out->p[vat + (size_t)x];
      if ((c < 0x20 && c != '\t') || c == 0x7f) return *why = "a value with a control character", -EINVAL;
    }
    if (out->oom) return *why = "out of memory", -ENOMEM;
    count++;
  }
  return count;
}
