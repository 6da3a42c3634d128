/* A growable byte buffer for building responses and request heads. Allocation
 * failure is sticky (`oom`), so builders can append freely and check once. */
#ifndef SL_NET_BUF_H
#define SL_NET_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_buf {
  char *p;
  size_t n, cap;
  bool oom;
};

void sl_buf_append(struct sl_buf *b, const void *p, size_t n);
void sl_buf_puts(struct sl_buf *b, const char *s);
void sl_buf_printf(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string (quotes not included). */
void sl_buf_json_escape(struct sl_buf *b, const char *s, size_t n);
/* The value of one hexadecimal digit, or -1. */
int sl_hexval(char c);
/* Percent-decodes s[0..n) into out, NUL-terminated; '+' means a space when plus_space (form
 * encoding: query strings) and stays '+' otherwise (paths). Returns the length, or -1 when an
 * escape is malformed, the result would hold a NUL byte, or it does not fit in outlen. */
long sl_pct_decode(const char *s, size_t n, bool plus_space, char *out, size_t outlen);
/* The decimal digits of v into out (at least 21 bytes), NUL-terminated; returns how many
 * (no printf: this is on every response's path). */
size_t sl_fmt_u64(uint64_t v, char *out);
/* Hands the memory to the caller (who frees it) and resets b. */
char *sl_buf_take(struct sl_buf *b, size_t *len);
void sl_buf_free(struct sl_buf *b);

#endif
