/* RouteLLM's "router-<name>-<threshold>" names (route_name.h). */
#include "policy/route_name.h"

#include <stdlib.h>
#include <string.h>

bool sl_route_name_routellm(const char *s, size_t n, size_t *name_at, size_t *name_len, double *threshold) {
  static const char pre[] = "router-";
  const size_t pn = sizeof pre - 1;
  if (n <= pn || memcmp(s, pre, pn) != 0) return false;
  size_t dash = n; /* the last '-' after the name */
  for (size_t i = n; i > pn; i--)
    if (s[i - 1] == '-') {
      dash = i - 1;
      break;
    }
  if (dash == n) return false;
  if (dash > pn && s[dash - 1] == '-') dash--; /* a negative threshold: "router-auto--0.1" */
  if (dash == pn) return false;                /* no name */
  char num[40];
  size_t tn = n - dash - 1;
  if (tn == 0 || tn >= sizeof num) return false;
  memcpy(num, s + dash + 1, tn);
  num[tn] = 0;
  if (memchr(num, 0, tn)) return false;
  char *end;
  double t = strtod(num, &end);
  if (end != num + tn || !(t >= -1 && t <= 1)) return false;
  *name_at = pn;
  *name_len = dash - pn;
  *threshold = t;
  return true;
}
