/* The JSON-Schema subset validator (see json_schema.h). One recursive function over (schema,
 * value), the path kept in a small buffer for the reason; $ref resolved by walking the root
 * by its JSON pointer ("#/$defs/a/properties/b" works too, with ~0 ~1 escapes). */
#include "net/wire/json_schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
  const cJSON *root;
  char *why;
  size_t whylen;
  char path[128];
  unsigned long *steps; /* shared with quiet sub-contexts: the work budget */
};

static int fail(struct vctx *c, const char *kw) {
  if (c->why && c->whylen) snprintf(c->why, c->whylen, "%s: %s", c->path[0] ? c->path : "$", kw);
  return -1;
}

/* The number of UTF-8 code points in a string (for minLength/maxLength). */
static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

static const cJSON *resolve(const cJSON *root, const char *ref) {
  if (ref[0] != '#') return NULL;
  const cJSON *cur = root;
  const char *p = ref + 1;
  while (*p == '/') {
    p++;
    char seg[128];
    size_t k = 0;
    while (*p && *p != '/') {
      char ch = *p++;
      if (ch == '~' && (*p == '0' || *p == '1')) ch = *p++ == '0' ? '~' : '/';
      if (k + 1 >= sizeof seg) return NULL;
      seg[k++] = ch;
    }
    seg[k] = 0;
    if (cJSON_IsObject(cur))
      cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
    else if (cJSON_IsArray(cur)) {
      char *end;
      long i = strtol(seg, &end, 10);
      if (*end || i < 0) return NULL;
      cur = cJSON_GetArrayItem(cur, (int)i);
    } else
      return NULL;
    if (!cur) return NULL;
  }
  return *p ? NULL : cur;
}

static bool is_integer(const cJSON *v) {
  return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
         (v->valuedouble >= 9e15 || v->valuedouble <= -9e15 || v->valuedouble == (double)(long long)v->valuedouble);
}

static bool type_is(const cJSON *v, const char *t) {
  if (strcmp(t, "object") == 0) return cJSON_IsObject(v);
  if (strcmp(t, "array") == 0) return cJSON_IsArray(v);
  if (strcmp(t, "string") == 0) return cJSON_IsString(v);
  if (strcmp(t, "number") == 0) return cJSON_IsNumber(v);
  if (strcmp(t, "integer") == 0) return is_integer(v);
  if (strcmp(t, "boolean") == 0) return cJSON_IsBool(v);
  if (strcmp(t, "null") == 0) return cJSON_IsNull(v);
  return true; /* an unknown type name constrains nothing */
}

/* Structural equality for enum and const (numbers by value, objects regardless of order). */
static bool json_equal(const cJSON *a, const cJSON *b, int depth) {
  if (depth > SL_JSON_SCHEMA_MAX_DEPTH) return false;
  if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
  if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
  if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
  if (cJSON_IsArray(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!json_equal(x, y, depth + 1)) return false;
    return !x && !y;
  }
  if (cJSON_IsObject(a)) {
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return false;
    for (const cJSON *x = a->child; x; x = x->next) {
      const cJSON *y = x->string ? cJSON_GetObjectItemCaseSensitive(b, x->string) : NULL;
      if (!y || !json_equal(x, y, depth + 1)) return false;
    }
    return true;
  }
  return true; /* true, false, null: same type */
}

static int check(struct vctx *c, const cJSON *s, const cJSON *v, int depth);

static const cJSON *kw(const cJSON *s, const char *name) { return cJSON_GetObjectItemCaseSensitive(s, name); }

static int check_child(struct vctx *c, const cJSON *s, const cJSON *v, int depth, const char *key, int index) {
  size_t l = strlen(c->path);
  if (key)
    snprintf(c->path + l, sizeof c->path - l, "%s%s", l ? "." : "", key);
  else
    snprintf(c->path + l, sizeof c->path - l, "[%d]", index);
  int r = check(c, s, v, depth + 1);
  if (r == 0) c->path[l] = 0; /* a failure keeps its path for the reason */
  return r;
}

/* A sub-schema tried quietly (anyOf, oneOf): no reason written. */
static int try_quiet(struct vctx *c, const cJSON *s, const cJSON *v, int depth) {
  struct vctx q = {c->root, NULL, 0, "", c->steps};
  return check(&q, s, v, depth + 1);
}

static int check(struct vctx *c, const cJSON *s, const cJSON *v, int depth) {
  if (depth > SL_JSON_SCHEMA_MAX_DEPTH) return fail(c, "schema nested too deep");
  if (++*c->steps > SL_JSON_SCHEMA_MAX_STEPS) return fail(c, "schema too costly to check");
  if (cJSON_IsBool(s)) return cJSON_IsTrue(s) ? 0 : fail(c, "false schema");
  if (!cJSON_IsObject(s)) return 0;
  const cJSON *k;
  if (cJSON_IsString(k = kw(s, "$ref"))) {
    const cJSON *t = resolve(c->root, k->valuestring);
    if (!t) return fail(c, "$ref does not resolve");
    if (check(c, t, v, depth + 1)) return -1;
  }
  if ((k = kw(s, "type"))) {
    bool ok = !cJSON_IsString(k) && !cJSON_IsArray(k);
    if (cJSON_IsString(k)) ok = type_is(v, k->valuestring);
    if (cJSON_IsArray(k)) {
      const cJSON *t;
      cJSON_ArrayForEach(t, k) if (cJSON_IsString(t) && type_is(v, t->valuestring)) ok = true;
    }
    if (!ok) return fail(c, "type");
  }
  if ((k = kw(s, "const")) && !json_equal(k, v, 0)) return fail(c, "const");
  if (cJSON_IsArray(k = kw(s, "enum"))) {
    bool ok = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, k) if (json_equal(e, v, 0)) ok = true;
    if (!ok) return fail(c, "enum");
  }
  if (cJSON_IsArray(k = kw(s, "anyOf"))) {
    bool ok = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, k) if (!ok && try_quiet(c, e, v, depth) == 0) ok = true;
    if (!ok) return fail(c, "anyOf: no alternative matches");
  }
  if (cJSON_IsArray(k = kw(s, "oneOf"))) {
    int hits = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, k) if (hits < 2 && try_quiet(c, e, v, depth) == 0) hits++;
    if (hits != 1) return fail(c, hits ? "oneOf: more than one alternative matches" : "oneOf: no alternative matches");
  }
  if (cJSON_IsArray(k = kw(s, "allOf"))) {
    const cJSON *e;
    cJSON_ArrayForEach(e, k) if (check(c, e, v, depth + 1)) return -1;
  }
  if (cJSON_IsNumber(v)) {
    double x = v->valuedouble;
    if (cJSON_IsNumber(k = kw(s, "minimum")) && x < k->valuedouble) return fail(c, "minimum");
    if (cJSON_IsNumber(k = kw(s, "maximum")) && x > k->valuedouble) return fail(c, "maximum");
    if (cJSON_IsNumber(k = kw(s, "exclusiveMinimum")) && x <= k->valuedouble) return fail(c, "exclusiveMinimum");
    if (cJSON_IsNumber(k = kw(s, "exclusiveMaximum")) && x >= k->valuedouble) return fail(c, "exclusiveMaximum");
  }
  if (cJSON_IsString(v)) {
    size_t l = utf8_len(v->valuestring);
    if (cJSON_IsNumber(k = kw(s, "minLength")) && (double)l < k->valuedouble) return fail(c, "minLength");
    if (cJSON_IsNumber(k = kw(s, "maxLength")) && (double)l > k->valuedouble) return fail(c, "maxLength");
  }
  if (cJSON_IsArray(v)) {
    double n = (double)cJSON_GetArraySize(v);
    if (cJSON_IsNumber(k = kw(s, "minItems")) && n < k->valuedouble) return fail(c, "minItems");
    if (cJSON_IsNumber(k = kw(s, "maxItems")) && n > k->valuedouble) return fail(c, "maxItems");
    const cJSON *items = kw(s, "items");
    if (cJSON_IsObject(items) || cJSON_IsBool(items)) {
      int i = 0;
      const cJSON *e;
      cJSON_ArrayForEach(e, v) {
        if (check_child(c, items, e, depth, NULL, i)) return -1;
        i++;
      }
    }
  }
  if (cJSON_IsObject(v)) {
    const cJSON *props = kw(s, "properties");
    if (cJSON_IsArray(k = kw(s, "required"))) {
      const cJSON *r;
      cJSON_ArrayForEach(r, k) {
        if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
          char b[96];
          snprintf(b, sizeof b, "required property \"%.60s\" missing", r->valuestring);
          return fail(c, b);
        }
      }
    }
    const cJSON *addl = kw(s, "additionalProperties");
    const cJSON *m;
    cJSON_ArrayForEach(m, v) {
      if (!m->string) continue;
      const cJSON *ps = cJSON_IsObject(props) ? cJSON_GetObjectItemCaseSensitive(props, m->string) : NULL;
      if (ps) {
        if (check_child(c, ps, m, depth, m->string, 0)) return -1;
      } else if (cJSON_IsFalse(addl)) {
        char b[96];
        snprintf(b, sizeof b, "additional property \"%.60s\"", m->string);
        return fail(c, b);
      } else if (cJSON_IsObject(addl)) {
        if (check_child(c, addl, m, depth, m->string, 0)) return -1;
      }
    }
  }
  return 0;
}

int sl_json_schema_validate(const cJSON *schema, const cJSON *root, const cJSON *value, char *why, size_t whylen) {
  unsigned long steps = 0;
  struct vctx c = {root ? root : schema, why, whylen, "", &steps};
  if (why && whylen) why[0] = 0;
  if (!schema || !value) return 0;
  return check(&c, schema, value, 0);
}
