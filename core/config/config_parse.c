/* Value parsers for the config loader (see config_parse.h): YAML 1.1 scalar typing, integers,
 * numbers, sizes, durations, URLs and listen addresses, and did-you-mean suggestions.
 * The one idea: each parser is a pure function of one string that answers valid-or-not; the
 * loader turns "not valid" into a message with the file, line and key path. */
#include "core/config/config_parse.h"

#include "policy/duration.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- YAML 1.1 plain-scalar typing (PyYAML's implicit resolvers) ---- */

static bool is_one_of(const char *s, const char *const *words) {
  for (; *words; words++)
    if (strcmp(s, *words) == 0)
      return true;
  return false;
}

/* Consumes [set]+ (chars for which ok() holds, or '_'), first char must be ok(). */
static const char *span_digits(const char *p, int (*ok)(int)) {
  if (!ok((unsigned char)*p))
    return NULL;
  while (ok((unsigned char)*p) || *p == '_')
    p++;
  return p;
}

static int is_bin(int c) { return c == '0' || c == '1'; }
static int is_oct(int c) { return c >= '0' && c <= '7'; }
static int is_dec(int c) { return isdigit(c); }
static int is_hex(int c) { return isxdigit(c); }

/* (:[0-5]?[0-9])+ */
static const char *span_sexagesimal(const char *p) {
  int groups = 0;
  while (*p == ':') {
    p++;
    if (p[0] >= '0' && p[0] <= '5' && isdigit((unsigned char)p[1]))
      p += 2;
    else if (isdigit((unsigned char)p[0]))
      p += 1;
    else
      return NULL;
    groups++;
  }
  return groups ? p : NULL;
}

static bool yaml11_is_int(const char *s) {
  const char *p = s, *q;
  if (*p == '-' || *p == '+')
    p++;
  if (p[0] == '0' && p[1] == 'b')
    return (q = span_digits(p + 2, is_bin)) && !*q;
  if (p[0] == '0' && p[1] == 'x')
    return (q = span_digits(p + 2, is_hex)) && !*q;
  if (p[0] == '0')
    return !p[1] || ((q = span_digits(p + 1, is_oct)) && !*q);
  if (!(*p >= '1' && *p <= '9'))
    return false;
  q = span_digits(p, is_dec);
  if (!*q)
    return true;
  q = span_sexagesimal(q);
  return q && !*q;
}

/* ([eE][-+][0-9]+)? then end of string */
static bool exp_then_end(const char *p) {
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p != '-' && *p != '+')
      return false;
    p++;
    if (!isdigit((unsigned char)*p))
      return false;
    while (isdigit((unsigned char)*p))
      p++;
  }
  return !*p;
}

static bool yaml11_is_float(const char *s) {
  static const char *const inf[] = {"inf", "Inf", "INF", NULL};
  static const char *const nan[] = {"nan", "NaN", "NAN", NULL};
  const char *p = s, *q;
  if (s[0] == '.' && is_one_of(s + 1, nan))
    return true;
  if (*p == '-' || *p == '+')
    p++;
  if (p[0] == '.' && is_one_of(p + 1, inf))
    return true;
  if (p[0] == '.') /* .5 (PyYAML allows no sign here) */
    return p == s && (q = span_digits(p + 1, is_dec)) && exp_then_end(q);
  if (!(q = span_digits(p, is_dec)))
    return false;
  if (*q == ':' && !(q = span_sexagesimal(q)))
    return false;
  if (*q != '.')
    return false;
  q++;
  while (isdigit((unsigned char)*q) || *q == '_')
    q++;
  return exp_then_end(q);
}

enum sl_yaml_type sl_config_yaml11_type(const char *s) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {"yes", "Yes", "YES", "no", "No", "NO", "true", "True",
                                      "TRUE", "false", "False", "FALSE", "on", "On", "ON",
                                      "off", "Off", "OFF", NULL};
  if (is_one_of(s, nulls))
    return SL_YAML_NULL;
  if (is_one_of(s, bools))
    return SL_YAML_BOOL;
  if (yaml11_is_int(s))
    return SL_YAML_INT;
  if (yaml11_is_float(s))
    return SL_YAML_FLOAT;
  return SL_YAML_STR;
}

const char *sl_config_yaml_type_name(enum sl_yaml_type t) {
  switch (t) {
  case SL_YAML_NULL: return "null";
  case SL_YAML_BOOL: return "a boolean";
  case SL_YAML_INT: return "an integer";
  case SL_YAML_FLOAT: return "a number";
  default: return "a string";
  }
}

int sl_config_parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE",
                                    "on", "On", "ON", NULL};
  static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE",
                                   "off", "Off", "OFF", NULL};
  if (is_one_of(s, yes))
    *out = true;
  else if (is_one_of(s, no))
    *out = false;
  else
    return -EINVAL;
  return 0;
}

/* ---- numbers ---- */

/* Copies s without '_' separators into buf (which holds n bytes). -EINVAL when too long or
 * when '_' is not between digits. */
static int strip_underscores(const char *s, char *buf, size_t n) {
  size_t j = 0;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] == '_') { /* only between digits ("1_000", also "1__000" as PyYAML) */
      size_t k = i;
      while (s[k] == '_')
        k++;
      if (i == 0 || !(isdigit((unsigned char)s[i - 1]) || s[i - 1] == '_') ||
          !isdigit((unsigned char)s[k]))
        return -EINVAL;
      continue;
    }
    if (j + 1 >= n)
      return -EINVAL;
    buf[j++] = s[i];
  }
  buf[j] = 0;
  return 0;
}

int sl_config_parse_int(const char *s, int64_t *out) {
  char buf[64];
  if (strip_underscores(s, buf, sizeof buf))
    return -EINVAL;
  const char *p = buf;
  if (*p == '+' || *p == '-')
    p++;
  if (!isdigit((unsigned char)*p))
    return -EINVAL;
  if (p[0] == '0' && p[1]) /* YAML 1.1 reads 010 as octal 8: refuse rather than guess */
    return -EINVAL;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q))
      return -EINVAL;
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno == ERANGE)
    return -ERANGE;
  *out = v;
  return 0;
}

int sl_config_parse_number(const char *s, double *out) {
  char buf[128];
  if (strip_underscores(s, buf, sizeof buf) || !buf[0])
    return -EINVAL;
  for (const char *q = buf; *q; q++)
    if (!isdigit((unsigned char)*q) && !strchr("+-.eE", *q))
      return -EINVAL;
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (*end || end == buf || errno == ERANGE || !isfinite(v))
    return -EINVAL;
  *out = v;
  return 0;
}

/* Splits "<number><space?><unit>" into a number text (copied into num) and a unit pointer. */
static int split_unit(const char *s, char *num, size_t n, const char **unit) {
  size_t i = 0;
  while (s[i] && (isdigit((unsigned char)s[i]) || strchr("+-._eE", s[i]))) {
    /* stop before an 'e'/'E' that starts a unit rather than an exponent: none of our units
     * start with e, so an exponent is always followed by a sign or digit */
    if ((s[i] == 'e' || s[i] == 'E') &&
        !(s[i + 1] == '+' || s[i + 1] == '-' || isdigit((unsigned char)s[i + 1])))
      break;
    i++;
  }
  if (i == 0 || i >= n)
    return -EINVAL;
  memcpy(num, s, i);
  num[i] = 0;
  while (s[i] == ' ')
    i++;
  *unit = s + i;
  return 0;
}

int sl_config_parse_size(const char *s, uint64_t *out) {
  static const struct { const char *unit; uint64_t mult; } units[] = {
      {"", 1},           {"b", 1},
      {"k", 1ull << 10}, {"kib", 1ull << 10}, {"kb", 1000},
      {"m", 1ull << 20}, {"mib", 1ull << 20}, {"mb", 1000000},
      {"g", 1ull << 30}, {"gib", 1ull << 30}, {"gb", 1000000000},
  };
  char num[64];
  const char *unit;
  int64_t v;
  if (split_unit(s, num, sizeof num, &unit) || sl_config_parse_int(num, &v) || v < 0)
    return -EINVAL;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(unit, units[i].unit) == 0) {
      if ((uint64_t)v > UINT64_MAX / units[i].mult)
        return -ERANGE;
      *out = (uint64_t)v * units[i].mult;
      return 0;
    }
  }
  return -EINVAL;
}

/* One duration grammar for the whole program: policy/duration.h. */
int sl_config_parse_duration_ms(const char *s, uint64_t *out) { return sl_policy_duration_parse_ms(s, out); }

/* ---- hosts, URLs, listen addresses ---- */

bool sl_config_host_valid(const char *h) {
  size_t n = strlen(h);
  if (n == 0 || n > 253)
    return false;
  if (strchr(h, ':')) {
    struct in6_addr a6;
    return inet_pton(AF_INET6, h, &a6) == 1;
  }
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
      return false;
  return h[0] != '.' && h[0] != '-';
}

/* Parses a decimal port in [lo, 65535] from s[0..n). */
static int parse_port(const char *s, size_t n, int lo, uint16_t *out) {
  if (n == 0 || n > 5)
    return -EINVAL;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -EINVAL;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v < (unsigned)lo || v > 65535)
    return -EINVAL;
  *out = (uint16_t)v;
  return 0;
}

/* Splits "host[:port]" / "[v6][:port]" in s[0..n) into a malloc'd bare host and a port text. */
static int split_hostport(const char *s, size_t n, char **host, const char **port, size_t *plen,
                          const char **why) {
  const char *hs = s, *he, *after;
  if (n && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (!rb)
      return *why = "unterminated '[' in IPv6 address", -EINVAL;
    hs = s + 1;
    he = rb;
    after = rb + 1;
  } else {
    const char *colon = memchr(s, ':', n);
    he = colon ? colon : s + n;
    after = he;
  }
  *port = NULL;
  *plen = 0;
  if (after < s + n) {
    if (*after != ':')
      return *why = "unexpected text after ']'", -EINVAL;
    *port = after + 1;
    *plen = (size_t)(s + n - *port);
  }
  if (!(*host = strndup(hs, (size_t)(he - hs))))
    return -ENOMEM;
  if (!sl_config_host_valid(*host)) {
    free(*host);
    *host = NULL;
    return *why = "invalid host", -EINVAL;
  }
  if (s[0] == '[' && !strchr(*host, ':')) {
    free(*host);
    *host = NULL;
    return *why = "only IPv6 addresses go in brackets", -EINVAL;
  }
  return 0;
}

void sl_config_url_clear(struct sl_config_url *u) {
  free(u->host);
  free(u->path);
  memset(u, 0, sizeof *u);
}

int sl_config_parse_url(const char *s, struct sl_config_url *out, const char **why) {
  memset(out, 0, sizeof *out);
  const char *p;
  if (strncasecmp(s, "http://", 7) == 0) {
    p = s + 7;
  } else if (strncasecmp(s, "https://", 8) == 0) {
    p = s + 8;
    out->tls = true;
  } else {
    return *why = "expected an http:// or https:// URL", -EINVAL;
  }
  for (const char *q = p; *q; q++) {
    if ((unsigned char)*q <= ' ' || *q == 0x7f)
      return *why = "URL contains a space or control character", -EINVAL;
    if (*q == '?' || *q == '#')
      return *why = "query strings and fragments are not supported in api_base", -EINVAL;
  }
  size_t alen = strcspn(p, "/");
  if (memchr(p, '@', alen))
    return *why = "credentials in the URL are not supported (use api_key)", -EINVAL;
  if (alen == 0)
    return *why = "URL has no host", -EINVAL;
  const char *port;
  size_t plen;
  int rc = split_hostport(p, alen, &out->host, &port, &plen, why);
  if (rc)
    return rc;
  out->port = out->tls ? 443 : 80;
  if (port && parse_port(port, plen, 1, &out->port)) {
    sl_config_url_clear(out);
    return *why = "invalid port (expected 1-65535)", -EINVAL;
  }
  const char *path = p + alen;
  size_t len = strlen(path);
  while (len && path[len - 1] == '/')
    len--;
  if (!(out->path = strndup(path, len))) {
    sl_config_url_clear(out);
    return -ENOMEM;
  }
  return 0;
}

void sl_config_redact_url(const char *s, char *out, size_t n) {
  size_t o = 0;
#define PUT(c)          \
  do {                  \
    if (o + 1 < n)      \
      out[o++] = (c);   \
  } while (0)
#define PUTS(str)                               \
  do {                                          \
    for (const char *q_ = (str); *q_; q_++)     \
      PUT(*q_);                                 \
  } while (0)
  if (n == 0)
    return;
  const char *scheme = strstr(s, "://");
  const char *auth = scheme ? scheme + 3 : s;
  for (const char *p = s; p < auth; p++)
    PUT(*p);
  size_t alen = strcspn(auth, "/?#");
  const char *at = NULL;
  for (const char *p = auth; p < auth + alen; p++)
    if (*p == '@')
      at = p;
  const char *p = auth;
  if (at) {
    PUTS("REDACTED@");
    p = at + 1;
  }
  for (; *p && *p != '?' && *p != '#'; p++)
    PUT(*p);
  if (*p == '?') {
    PUT('?');
    p++;
    while (*p && *p != '#') {
      size_t plen = strcspn(p, "&#");
      const char *eq = memchr(p, '=', plen);
      for (const char *q = p; q < (eq ? eq : p + plen); q++)
        PUT(*q);
      if (eq)
        PUTS("=REDACTED");
      p += plen;
      if (*p == '&') {
        PUT('&');
        p++;
      }
    }
  }
  out[o] = 0;
#undef PUT
#undef PUTS
}

int sl_config_parse_listen(const char *s, char **host, uint16_t *port, const char **why) {
  const char *ptext;
  size_t plen;
  *host = NULL;
  int rc = split_hostport(s, strlen(s), host, &ptext, &plen, why);
  if (rc)
    return rc;
  if (!ptext) {
    free(*host);
    *host = NULL;
    return *why = "missing ':port' (expected 'host:port' or '[v6]:port')", -EINVAL;
  }
  if (parse_port(ptext, plen, 0, port)) {
    free(*host);
    *host = NULL;
    return *why = "invalid port (expected 0-65535)", -EINVAL;
  }
  return 0;
}

/* ---- did you mean ---- */

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = diag + cost;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *sl_config_did_you_mean(const char *word, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bestd = (size_t)-1, len = strlen(word);
  size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d <= limit && d < bestd) {
      best = cands[i];
      bestd = d;
    }
  }
  return best;
}
