/* AWS shared credentials/config files; see aws_creds.h. One pass over the lines, as
 * botocore's configparser reads them: a line is blank, a comment ('#' or ';' first), a
 * section "[...]", "key = value" (or "key: value"; key names case-insensitive), or an
 * indented continuation of the previous value (nested settings such as "s3 =\n  region = x"
 * are not keys of the profile; one of the four keys continued over several lines is an
 * error). Anything else is an error with its line, as the AWS CLI refuses such a file too. Only the requested profile's
 * four keys are kept. */
#include "net/wire/aws_creds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct key {
  const char *name;
  size_t off, cap;
};

static const struct key KEYS[] = {
    {"aws_access_key_id", offsetof(struct sl_aws_profile, access_key_id),
     sizeof(((struct sl_aws_profile *)0)->access_key_id)},
    {"aws_secret_access_key", offsetof(struct sl_aws_profile, secret_access_key),
     sizeof(((struct sl_aws_profile *)0)->secret_access_key)},
    {"aws_session_token", offsetof(struct sl_aws_profile, session_token),
     sizeof(((struct sl_aws_profile *)0)->session_token)},
    {"region", offsetof(struct sl_aws_profile, region), sizeof(((struct sl_aws_profile *)0)->region)},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static bool sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static void trim(const char **p, size_t *n) {
  while (*n && sp(**p)) (*p)++, (*n)--;
  while (*n && sp((*p)[*n - 1])) (*n)--;
}

static bool eq_ci(const char *a, size_t n, const char *lit) {
  if (strlen(lit) != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
    if (c != lit[i]) return false;
  }
  return true;
}

static bool eq(const char *a, size_t n, const char *s) { return strlen(s) == n && memcmp(a, s, n) == 0; }

/* Whether the section header's inside (trimmed) names the profile. */
static bool is_profile(const char *s, size_t n, const char *name, bool config_file) {
  if (!config_file) return eq(s, n, name);
  if (strcmp(name, "default") == 0 && eq(s, n, "default")) return true;
  if (n < 8 || memcmp(s, "profile", 7) != 0 || !sp(s[7])) return false;
  s += 8, n -= 8;
  trim(&s, &n);
  return eq(s, n, name);
}

static int fail(struct sl_aws_profile *out, char *err, size_t errlen, size_t line, const char *why) {
  memset(out, 0, sizeof *out);
  if (err && errlen) snprintf(err, errlen, "line %zu: %s", line, why);
  return -EINVAL;
}

int sl_aws_profile_parse(const char *text, size_t n, const char *name, bool config_file, struct sl_aws_profile *out,
                         char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (err && errlen) err[0] = 0;
  if (!name || !*name || (!text && n)) return fail(out, err, errlen, 0, "no profile name");
  if (n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) text += 3, n -= 3; /* a UTF-8 BOM */
  if (memchr(text, '\0', n)) return fail(out, err, errlen, 0, "a NUL byte in the file");
  bool in_section = false, mine = false, found = false, have[NKEYS] = {false};
  size_t key_indent = 0; /* indent of the last key line; deeper lines continue its value */
  bool after_key = false;
  const char *last_key = NULL; /* one of the four keys in the profile: no continuation allowed */
  size_t lineno = 0;
  for (size_t i = 0; i < n;) {
    const char *l = text + i, *e = memchr(l, '\n', n - i);
    size_t len = e ? (size_t)(e - l) : n - i;
    i += len + (e ? 1 : 0);
    lineno++;
    size_t indent = 0;
    while (indent < len && sp(l[indent])) indent++;
    const char *s = l;
    size_t sn = len;
    trim(&s, &sn);
    if (!sn || s[0] == '#' || s[0] == ';') continue;
    if (after_key && indent > key_indent) { /* a continuation line */
      if (!last_key) continue;
      char why[112];
      snprintf(why, sizeof why, "an indented line continues %s (a value over several lines)", last_key);
      return fail(out, err, errlen, lineno, why);
    }
    after_key = false, last_key = NULL;
    if (s[0] == '[') {
      if (s[sn - 1] != ']') return fail(out, err, errlen, lineno, "a section header without ']'");
      const char *sec = s + 1;
      size_t secn = sn - 2;
      trim(&sec, &secn);
      if (!secn) return fail(out, err, errlen, lineno, "an empty section name");
      in_section = true;
      mine = is_profile(sec, secn, name, config_file);
      if (mine && found) return fail(out, err, errlen, lineno, "the profile's section appears twice");
      found = found || mine;
      continue;
    }
    const char *sep = NULL;
    for (size_t k = 0; k < sn && !sep; k++)
      if (s[k] == '=' || s[k] == ':') sep = s + k;
    if (!sep) return fail(out, err, errlen, lineno, "neither a section, a comment nor 'key = value'");
    if (!in_section) return fail(out, err, errlen, lineno, "a key before any [section]");
    const char *k = s, *v = sep + 1;
    size_t kn = (size_t)(sep - s), vn = sn - kn - 1;
    trim(&k, &kn);
    trim(&v, &vn);
    if (!kn) return fail(out, err, errlen, lineno, "an empty key name");
    after_key = true, key_indent = indent;
    if (!mine) continue;
    for (size_t q = 0; q < NKEYS; q++) {
      if (!eq_ci(k, kn, KEYS[q].name)) continue;
      char why[96];
      if (have[q]) {
        snprintf(why, sizeof why, "%s is set twice in the profile", KEYS[q].name);
        return fail(out, err, errlen, lineno, why);
      }
      if (vn >= KEYS[q].cap) {
        snprintf(why, sizeof why, "the value of %s is longer than %zu bytes", KEYS[q].name, KEYS[q].cap - 1);
        return fail(out, err, errlen, lineno, why);
      }
      have[q] = true, last_key = KEYS[q].name;
      char *dst = (char *)out + KEYS[q].off;
      memcpy(dst, v, vn);
      dst[vn] = 0;
    }
  }
  return found ? 0 : -ENOENT;
}
