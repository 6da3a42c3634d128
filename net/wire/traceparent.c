/* W3C traceparent parsing and formatting; see traceparent.h. Version 00 is what is
 * written; later versions are read by their first four fields, as the spec asks. */
#include "net/wire/traceparent.h"

#include <errno.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1; /* upper case is invalid in traceparent */
}

/* n bytes from 2n hex digits; false on a bad digit. */
static bool unhex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

int sl_traceparent_parse(const char *s, size_t n, struct sl_traceparent *out) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n < SL_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' || s[52] != '-') return -EINVAL;
  uint8_t ver;
  struct sl_traceparent t;
  if (!unhex(s, &ver, 1) || ver == 0xff) return -EINVAL;
  if (ver == 0 && n != SL_TRACEPARENT_LEN) return -EINVAL;
  if (n > SL_TRACEPARENT_LEN && s[SL_TRACEPARENT_LEN] != '-') return -EINVAL;
  if (!unhex(s + 3, t.trace_id, 16) || !unhex(s + 36, t.span_id, 8) || !unhex(s + 53, &t.flags, 1)) return -EINVAL;
  if (all_zero(t.trace_id, 16) || all_zero(t.span_id, 8)) return -EINVAL;
  *out = t;
  return 0;
}

void sl_trace_hex(const uint8_t *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  out[2 * n] = 0;
}

void sl_traceparent_format(const uint8_t trace_id[16], const uint8_t span_id[8], uint8_t flags, char *out) {
  out[0] = out[1] = '0';
  out[2] = '-';
  sl_trace_hex(trace_id, 16, out + 3);
  out[35] = '-';
  sl_trace_hex(span_id, 8, out + 36);
  out[52] = '-';
  sl_trace_hex(&flags, 1, out + 53);
}

bool sl_tracestate_ok(const char *s, size_t n) {
  if (n == 0 || n > SL_TRACESTATE_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
  return true;
}
