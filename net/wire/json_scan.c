/* Finds one top-level field of a JSON object by walking the text once: values of other
 * fields are skipped structurally (strings with escapes, nested containers by depth),
 * never materialised. Strict enough to refuse malformed text; cJSON has already
 * validated the body on the request path, so this is only about locating bytes. */
#include "net/wire/json_scan.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
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
    /* plain bytes first, a table lookup each (this loop is the stream's hottest) */
    static const unsigned char stop[256] = {['"'] = 1, ['\\'] = 1, [0 ... 0x1f] = 1};
    while (s->i < s->n && !stop[(unsigned char)s->p[s->i]]) s->i++;
    if (s->i >= s->n) break;
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
      while (s->i < s->n) { /* to the next delimiter (a switch, not strchr: this is hot) */
        char d = s->p[s->i];
        if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == 0) break;
        s->i++;
      }
      if (s->i == st) return -EINVAL;
    } else {
      return -EINVAL;
    }
  } while (depth > 0);
  return 0;
}

/* Walks the top-level members; reports the value range and the member range (with one
 * adjacent comma) of `key`. */
static int top_scan(const char *buf, size_t len, const char *key, size_t *vstart, size_t *vend,
                    size_t *mstart, size_t *mend) {
  struct scan s = {buf, len, 0};
  size_t prev_comma = 0; /* position of the comma before the current member, 0 = none */
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
    size_t ve = s.i;
    ws(&s);
    if (s.i >= s.n) return -EINVAL;
    if (match) {
      *vstart = vs;
      *vend = ve;
      if (s.p[s.i] == ',') { /* cut this member and the comma after it */
        *mstart = ks;
        *mend = s.i + 1;
      } else if (prev_comma) { /* last member: cut the comma before it */
        *mstart = prev_comma;
        *mend = ve;
      } else { /* the only member */
        *mstart = ks;
        *mend = ve;
      }
      return 0;
    }
    if (s.p[s.i] == '}') return -ENOENT;
    if (s.p[s.i] != ',') return -EINVAL;
    prev_comma = s.i;
    s.i++;
  }
}

int sl_json_top_field(const char *buf, size_t len, const char *key, size_t *start, size_t *end) {
  size_t ms, me;
  return top_scan(buf, len, key, start, end, &ms, &me);
}

int sl_json_top_member(const char *buf, size_t len, const char *key, size_t *start, size_t *end) {
  size_t vs, ve;
  return top_scan(buf, len, key, &vs, &ve, start, end);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps every duplicate member; sorting the names finds one in O(k log k). */
const char *sl_json_duplicate_member(const cJSON *obj) {
  size_t k = 0;
  for (const cJSON *c = obj->child; c; c = c->next) k++;
  if (k < 2) return NULL;
  const char *small[32], **names = k <= 32 ? small : malloc(k * sizeof *names);
  if (!names) return NULL;
  size_t i = 0;
  for (const cJSON *c = obj->child; c; c = c->next) names[i++] = c->string;
  qsort(names, k, sizeof *names, cmp_keys);
  const char *dup = NULL;
  for (i = 1; i < k && !dup; i++)
    if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
  if (names != small) free(names);
  return dup;
}
