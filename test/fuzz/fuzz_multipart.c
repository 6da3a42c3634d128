/* libFuzzer target for net/wire/multipart.c. The input is a Content-Type and a body split at
 * the first NUL byte (no NUL: all of it is the body, with a fixed Content-Type). Properties:
 * the boundary is a slice of the Content-Type of 1..70 characters; a field's range lies
 * inside the body, never holds the delimiter at a line start, and the same call gives the
 * same answer; codes are only 0, -ENOENT, -EEXIST, -EBADMSG. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/multipart.h"

/* "--boundary" at p, then "--", or padding and a line break (independent of the parser's). */
static int is_delimiter(const char *s, size_t len, size_t p, const char *b, size_t bn) {
  if (len - p < bn + 2 || s[p] != '-' || s[p + 1] != '-' || memcmp(s + p + 2, b, bn) != 0) return 0;
  p += bn + 2;
  if (len - p >= 2 && s[p] == '-' && s[p + 1] == '-') return 1;
  while (p < len && (s[p] == ' ' || s[p] == '\t')) p++;
  return (p < len && s[p] == '\n') || (len - p >= 2 && s[p] == '\r' && s[p + 1] == '\n');
}

static void one(const char *body, size_t len, const char *b, size_t bn, const char *name) {
  size_t vs = 0, ve = 0, vs2 = 0, ve2 = 0;
  int r = sl_multipart_field(body, len, b, bn, name, &vs, &ve);
  if (r != 0 && r != -ENOENT && r != -EEXIST && r != -EBADMSG) abort();
  if (sl_multipart_field(body, len, b, bn, name, &vs2, &ve2) != r) abort();
  if (r == 0) {
    if (vs > ve || ve > len || vs2 != vs || ve2 != ve) abort();
    for (size_t i = vs; i < ve; i++)
      if (body[i] == '\n' && is_delimiter(body, len, i + 1, b, bn)) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *nul = memchr(data, 0, n);
  const char *ctype = "multipart/form-data; boundary=b";
  size_t cn = strlen(ctype);
  const char *body = (const char *)data;
  size_t len = n;
  if (nul) {
    ctype = (const char *)data;
    cn = (size_t)(nul - (const char *)data);
    body = nul + 1;
    len = n - cn - 1;
  }
  /* copies, so reads past either end are caught */
  char *c = malloc(cn ? cn : 1), *bd = malloc(len ? len : 1);
  if (!c || !bd) abort();
  memcpy(c, ctype, cn);
  memcpy(bd, body, len);
  const char *b;
  size_t bn;
  int r = sl_multipart_boundary(c, cn, &b, &bn);
  if (r != 0 && r != -EINVAL) abort();
  if (r == 0) {
    if (bn < 1 || bn > 70 || b < c || b + bn > c + cn) abort();
    one(bd, len, b, bn, "model");
    one(bd, len, b, bn, "response_format");
    one(bd, len, b, bn, "file");
  }
  free(c);
  free(bd);
  return 0;
}
