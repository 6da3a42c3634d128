/* Strict JSON validation in one pass, no allocation (see json_valid.h). A small state
 * machine: a stack of open containers (bits: object or array) and what may come next
 * (a value, a key, a colon, a comma or a closer). Scalars are checked by their own
 * grammar. To accept an extension (say comments), add a state here and a unit test. */
#include "net/wire/json_valid.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct v {
  const char *p;
  size_t n, i;
};

static void ws(struct v *s) {
  while (s->i < s->n) {
    char c = s->p[s->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    s->i++;
  }
}

static bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool digit(char c) { return c >= '0' && c <= '9'; }

static bool string(struct v *s) {
  s->i++; /* the opening quote */
  while (s->i < s->n) {
    unsigned char c = (unsigned char)s->p[s->i++];
    if (c == '"') return true;
    if (c < 0x20) return false;
    if (c != '\\') continue;
    if (s->i >= s->n) return false;
    char e = s->p[s->i++];
    if (e == 'u') {
      if (s->n - s->i < 4) return false;
      for (int k = 0; k < 4; k++)
        if (!hex(s->p[s->i + k])) return false;
      s->i += 4;
    } else if (!strchr("\"\\/bfnrt", e) || e == 0) {
      return false;
    }
  }
  return false;
}

static bool number(struct v *s) {
  if (s->p[s->i] == '-') s->i++;
  if (s->i >= s->n) return false;
  if (s->p[s->i] == '0') {
    s->i++;
  } else if (digit(s->p[s->i])) {
    while (s->i < s->n && digit(s->p[s->i])) s->i++;
  } else {
    return false;
  }
  if (s->i < s->n && s->p[s->i] == '.') {
    s->i++;
    if (s->i >= s->n || !digit(s->p[s->i])) return false;
    while (s->i < s->n && digit(s->p[s->i])) s->i++;
  }
  if (s->i < s->n && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
    s->i++;
    if (s->i < s->n && (s->p[s->i] == '+' || s->p[s->i] == '-')) s->i++;
    if (s->i >= s->n || !digit(s->p[s->i])) return false;
    while (s->i < s->n && digit(s->p[s->i])) s->i++;
  }
  return true;
}

static bool literal(struct v *s) {
  static const char *const lits[] = {"true", "false", "null"};
  for (size_t k = 0; k < 3; k++) {
    size_t l = strlen(lits[k]);
    if (s->n - s->i >= l && memcmp(s->p + s->i, lits[k], l) == 0) {
      s->i += l;
      return true;
    }
  }
  return false;
}

/* At depth 1, after a key string that ended at s->i: which asked-for member it names. */
static int member_of(const struct v *s, size_t kstart, struct sl_json_member *m, size_t nm) {
  size_t kl = s->i - kstart - 2;
  for (size_t k = 0; k < nm; k++)
    if (m[k].klen == kl && !m[k].found && memcmp(s->p + kstart + 1, m[k].key, kl) == 0) return (int)k;
  return -1;
}

/* A member's key, its colon and the whitespace to its value; at depth 1, notes which
 * asked-for member it names (*cur) and where its value starts. */
static bool key(struct v *s, int depth, struct sl_json_member *m, size_t nm, int *cur) {
  size_t ks = s->i;
  if (s->i >= s->n || s->p[s->i] != '"' || !string(s)) return false;
  if (depth == 1 && nm) *cur = member_of(s, ks, m, nm);
  ws(s);
  if (s->i >= s->n || s->p[s->i] != ':') return false;
  s->i++;
  ws(s);
  if (depth == 1 && *cur >= 0) m[*cur].vs = s->i;
  return true;
}

enum sl_json_type sl_json_validate(const char *buf, size_t len) { return sl_json_validate_members(buf, len, NULL, 0); }

enum sl_json_type sl_json_validate_members(const char *buf, size_t len, struct sl_json_member *m, size_t nm) {
  struct v s = {buf, len, 0};
  int cur = -1; /* the asked-for member whose value is being walked (depth 1 only) */
  for (size_t k = 0; k < nm; k++) m[k].found = 0;
  uint8_t stack[SL_JSON_VALID_MAX_DEPTH / 8]; /* bit set: the container is an object */
  int depth = 0;
  enum sl_json_type top = SL_JSON_INVALID;
  ws(&s);
  for (;;) {
    /* here a value starts */
    if (s.i >= s.n) return SL_JSON_INVALID;
    char c = s.p[s.i];
    enum sl_json_type t;
    if (c == '{' || c == '[') {
      t = c == '{' ? SL_JSON_OBJECT : SL_JSON_ARRAY;
      if (depth == SL_JSON_VALID_MAX_DEPTH) return SL_JSON_INVALID;
      if (c == '{') stack[depth / 8] |= (uint8_t)(1u << (depth % 8));
      else stack[depth / 8] &= (uint8_t)~(1u << (depth % 8));
      depth++;
      s.i++;
      ws(&s);
      if (s.i < s.n && s.p[s.i] == (c == '{' ? '}' : ']')) { /* empty */
        s.i++;
        depth--;
      } else if (c == '{') { /* the first key */
        if (!key(&s, depth, m, nm, &cur)) return SL_JSON_INVALID;
        if (top == SL_JSON_INVALID) top = t;
        continue; /* its value */
      } else {
        if (top == SL_JSON_INVALID) top = t;
        continue; /* the first element */
      }
    } else if (c == '"') {
      t = SL_JSON_STRING;
      if (!string(&s)) return SL_JSON_INVALID;
    } else if (c == '-' || digit(c)) {
      t = SL_JSON_NUMBER;
      if (!number(&s)) return SL_JSON_INVALID;
    } else {
      t = SL_JSON_LITERAL;
      if (!literal(&s)) return SL_JSON_INVALID;
    }
    if (top == SL_JSON_INVALID) top = t;
    /* after a value: a comma, a closer, or the end */
    for (;;) {
      if (depth == 1 && cur >= 0) { /* a top-level member's value ended here */
        m[cur].ve = s.i;
        m[cur].found = 1;
        cur = -1;
      }
      ws(&s);
      if (depth == 0) return s.i == s.n ? top : SL_JSON_INVALID;
      if (s.i >= s.n) return SL_JSON_INVALID;
      bool obj = stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
      char d = s.p[s.i++];
      if (d == (obj ? '}' : ']')) {
        depth--;
        continue;
      }
      if (d != ',') return SL_JSON_INVALID;
      ws(&s);
      if (obj && !key(&s, depth, m, nm, &cur)) return SL_JSON_INVALID;
      break; /* the next value */
    }
  }
}
