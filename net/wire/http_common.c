/* Small helpers over header slices, shared by the server and the upstream client. */
#include "net/wire/http_common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool sl_slice_eq_ci(struct sl_slice a, const char *lit) {
  size_t n = strlen(lit);
  return a.n == n && strncasecmp(a.p, lit, n) == 0;
}

const struct sl_header *sl_http_header_find(const struct sl_header *h, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (sl_slice_eq_ci(h[i].name, name)) return &h[i];
  return NULL;
}

int sl_http_header_number(const struct sl_header *h, size_t n, const char *name, double *out) {
  const struct sl_header *f = sl_http_header_find(h, n, name);
  if (!f) return 0;
  char tmp[64];
  if (f->value.n >= sizeof tmp) return -1;
  memcpy(tmp, f->value.p, f->value.n);
  tmp[f->value.n] = 0;
  char *end;
  *out = strtod(tmp, &end);
  return end == tmp || *end ? -1 : 1;
}

bool sl_http_value_has_token(struct sl_slice v, const char *token) {
  size_t tn = strlen(token), i = 0;
  while (i < v.n) {
    while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ',')) i++;
    size_t s = i;
    while (i < v.n && v.p[i] != ',') i++;
    size_t e = i;
    while (e > s && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t')) e--;
    if (e - s == tn && strncasecmp(v.p + s, token, tn) == 0) return true;
  }
  return false;
}
