/* Finds one top-level field of a JSON object by walking the text once: values of other
 * fields are skipped structurally (strings with escapes, nested containers by depth),
 * never materialised. Strict enough to refuse malformed text; cJSON has already
 * validated the body on the request path, so this is only about locating bytes. */
#include "net/json_scan.h"

#include <errno.h>
#include <string.h>

struct scan {
  const char *p;
  size_t n, i;
};

static void ws(struct scan *s) {
  while (s->i < s->n) {
    char c = s->p[s->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    s->i++;
  }
}

/* At an opening quote: moves past the closing quote. */
static int skip_string(struct scan *s) {
  if (s->i >= s->n || s->p[s->i] != '"') return -EINVAL;
  s->i++;
  while (s->i < s->n) {
    char c = s->p[s->i++];
    if (c == '"') return 0;
    if (c == '\\') {
      if (s->i >= s->n) return -EINVAL;
      s->i++;
    } else if ((unsigned char)c < 0x20) {
      return -EINVAL;
    }
  }
  return -EINVAL;
}

/* Skips any value. Containers are skipped by tracking depth with a small stack of
 * expected closers; scalars are skipped to the next delimiter. */
static int skip_value(struct scan *s) {
  char stack[256];
  int depth = 0;
  ws(s);
  do {
    if (s->i >= s->n) return -EINVAL;
    char c = s->p[s->i];
    if (c == '"') {
      if (skip_string(s)) return -EINVAL;
    } else if (c == '{' || c == '[') {
      if (depth == (int)sizeof stack) return -EINVAL;
      stack[depth++] = c == '{' ? '}' : ']';
      s->i++;
    } else if (c == '}' || c == ']') {
      if (depth == 0 || stack[depth - 1] != c) return -EINVAL;
      depth--;
      s->i++;
    } else if (c == ',' || c == ':') {
      if (depth == 0) return -EINVAL;
      s->i++;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      s->i++;
    } else if ((c >= '0' && c <= '9') || c == '-' || c == 't' || c == 'f' || c == 'n') {
      size_t st = s->i;
      while (s->i < s->n && strchr(",}] \t\r\n", s->p[s->i]) == NULL) s->i++;
      if (s->i == st) return -EINVAL;
    } else {
      return -EINVAL;
    }
  } while (depth > 0);
  return 0;
}

int sl_json_top_field(const char *buf, size_t len, const char *key, size_t *start, size_t *end) {
  struct scan s = {buf, len, 0};
  size_t klen = strlen(key);
  ws(&s);
  if (s.i >= s.n || s.p[s.i] != '{') return -EINVAL;
  s.i++;
  ws(&s);
  if (s.i < s.n && s.p[s.i] == '}') return -ENOENT;
  for (;;) {
    ws(&s);
    size_t ks = s.i;
    if (skip_string(&s)) return -EINVAL;
    /* Keys with escapes never match; the model key is always plain ASCII. */
    int match = s.i - ks == klen + 2 && memcmp(s.p + ks + 1, key, klen) == 0;
    ws(&s);
    if (s.i >= s.n || s.p[s.i] != ':') return -EINVAL;
    s.i++;
    ws(&s);
    size_t vs = s.i;
    if (skip_value(&s)) return -EINVAL;
    if (match) {
      *start = vs;
      *end = s.i;
      return 0;
    }
    ws(&s);
    if (s.i >= s.n) return -EINVAL;
    if (s.p[s.i] == '}') return -ENOENT;
    if (s.p[s.i] != ',') return -EINVAL;
    s.i++;
  }
}
