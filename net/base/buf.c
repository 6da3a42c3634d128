/* Growable byte buffer; see buf.h. Grows geometrically, never shrinks. */
#include "net/base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct sl_buf *b, size_t extra) {
  if (b->oom) return false;
  if (b->n + extra + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void sl_buf_append(struct sl_buf *b, const void *p, size_t n) {
  if (!reserve(b, n)) return;
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
}

void sl_buf_puts(struct sl_buf *b, const char *s) { sl_buf_append(b, s, strlen(s)); }

void sl_buf_printf(struct sl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int k = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  if ((size_t)k < sizeof small) {
    sl_buf_append(b, small, (size_t)k);
    return;
  }
  if (!reserve(b, (size_t)k)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)k;
}

void sl_buf_json_escape(struct sl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    sl_buf_append(b, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0};
    size_t k = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
      k = 6;
    }
    sl_buf_append(b, esc, k);
  }
  sl_buf_append(b, s + run, n - run);
}

char *sl_buf_take(struct sl_buf *b, size_t *len) {
  char *p = b->p;
  if (len) *len = b->n;
  b->p = NULL;
  b->n = b->cap = 0;
  return p;
}

void sl_buf_free(struct sl_buf *b) {
  free(b->p);
  *b = (struct sl_buf){0};
}

int sl_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long sl_pct_decode(const char *s, size_t n, bool plus_space, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '+' && plus_space) {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= n) return -1;
      int hi = sl_hexval(s[i + 1]), lo = sl_hexval(s[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    if (c == 0 || o + 1 >= outlen) return -1;
    out[o++] = c;
  }
  out[o] = 0;
  return (long)o;
}

size_t sl_fmt_u64(uint64_t v, char *out) {
  char t[20];
  size_t n = 0;
  do t[n++] = (char)('0' + v % 10);
  while ((v /= 10));
  for (size_t i = 0; i < n; i++) out[i] = t[n - 1 - i];
  out[n] = 0;
  return n;
}
