/* One duration parser for the whole program; see duration.h. The one idea: split the
 * text into a number and a unit, look the unit up in one table, multiply once. */
#include "policy/duration.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MS 9007199254740992.0 /* 2^53 */

static const struct {
  const char *unit;
  double ms;
} units[] = {
    {"", 1000},          {"ms", 1},           {"s", 1000},       {"m", 60000},
    {"min", 60000},      {"h", 3600000},      {"d", 86400000.0}, {"w", 7 * 86400000.0},
    {"mo", 30 * 86400000.0},
};

/* Copies the number part of s into num without '_' (only between digits); *rest is
 * what follows it. */
static int number_part(const char *s, char *num, size_t n, const char **rest) {
  size_t i = 0, j = 0;
  for (; s[i]; i++) {
    char ch = s[i];
    if (ch == '_') {
      if (i == 0 || (!isdigit((unsigned char)s[i - 1]) && s[i - 1] != '_')) return -EINVAL;
      size_t k = i;
      while (s[k] == '_') k++;
      if (!isdigit((unsigned char)s[k])) return -EINVAL;
      continue;
    }
    /* an 'e' starts an exponent only when a digit or sign follows ("1e3"), else a unit */
    bool expo = (ch == 'e' || ch == 'E') && i > 0 &&
                (isdigit((unsigned char)s[i + 1]) || s[i + 1] == '+' || s[i + 1] == '-');
    bool sign = (ch == '+' || ch == '-') && (i == 0 || s[i - 1] == 'e' || s[i - 1] == 'E');
    if (!isdigit((unsigned char)ch) && ch != '.' && !expo && !sign) break;
    if (j + 1 >= n) return -EINVAL;
    num[j++] = ch;
  }
  num[j] = 0;
  *rest = s + i;
  return j ? 0 : -EINVAL;
}

int sl_policy_duration_parse_ms(const char *s, uint64_t *ms) {
  if (!s) return -EINVAL;
  char num[64];
  const char *unit;
  if (number_part(s, num, sizeof num, &unit)) return -EINVAL;
  char *end;
  double v = strtod(num, &end);
  if (*end || end == num || !isfinite(v) || v < 0 || num[0] == '-') return -EINVAL;
  while (*unit == ' ') unit++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(unit, units[i].unit) != 0) continue;
    double r = v * units[i].ms;
    if (!(r <= MAX_MS)) return -ERANGE;
    *ms = (uint64_t)llround(r);
    return 0;
  }
  return -EINVAL;
}

int sl_policy_duration_parse_s(const char *s, int64_t *seconds) {
  uint64_t ms;
  int rc = sl_policy_duration_parse_ms(s, &ms);
  if (rc) return rc == -ERANGE ? -ERANGE : -EINVAL;
  if (ms < 1000 || ms % 1000) return -EINVAL;
  *seconds = (int64_t)(ms / 1000);
  return 0;
}
