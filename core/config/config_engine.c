/* The config loader's engine: walks a libyaml document against the key tables of
 * config_schema.c. It handles mappings (duplicate keys, `<<` merge keys; aliases come resolved
 * from libyaml's document API), null-as-unset, os.environ/NAME substitution, strict YAML 1.1
 * typing, unknown keys (warn, error with did-you-mean, or ignore, per section), and the
 * messages: errors as "FILE:LINE: key.path: ...", warnings once per key path.
 * The one idea: one table-driven walk, so every key of every section gets the same typing and
 * the same kind of message, and the schema file holds only what keys mean. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"

#define SL_CFG_MAX_MERGE_DEPTH 8

/* ---- messages ---- */

size_t sl_cfg_line(const yaml_node_t *n) { return n ? n->start_mark.line + 1 : 1; }

int sl_cfg_fail(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path, const char *fmt,
                ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->err && c->errlen) {
    if (path && *path)
      snprintf(c->err, c->errlen, "%s:%zu: %s: %s", c->name, sl_cfg_line(at), path, msg);
    else
      snprintf(c->err, c->errlen, "%s:%zu: %s", c->name, sl_cfg_line(at), msg);
  }
  return -EINVAL;
}

/* "model_list[3].litellm_params.foo" -> "model_list[].litellm_params.foo" */
static void normalize_path(char *dst, size_t n, const char *path) {
  size_t j = 0;
  for (const char *p = path; *p && j + 1 < n; p++) {
    if (*p == '[') {
      dst[j++] = '[';
      while (*p && *p != ']')
        p++;
      if (!*p)
        break;
      if (j + 1 < n)
        dst[j++] = ']';
      continue;
    }
    dst[j++] = *p;
  }
  dst[j] = 0;
}

/* Records key; returns true the first time it is seen. */
static bool first_time(struct sl_cfg_ctx *c, const char *key) {
  for (size_t i = 0; i < c->nwarned; i++)
    if (strcmp(c->warned[i], key) == 0)
      return false;
  char **w = realloc(c->warned, (c->nwarned + 1) * sizeof *w);
  if (!w)
    return true; /* warn again rather than lose a warning */
  c->warned = w;
  if ((w[c->nwarned] = strdup(key)))
    c->nwarned++;
  return true;
}

static void warn_v(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path, const char *topic,
                   const char *fmt, va_list ap) {
  char key[SL_CFG_PATH], msg[512], line[SL_CFG_PATH + 600];
  normalize_path(key, sizeof key, path);
  if (topic)
    snprintf(key + strlen(key), sizeof key - strlen(key), "#%s", topic);
  if (!c->warn || !first_time(c, key))
    return;
  vsnprintf(msg, sizeof msg, fmt, ap);
  snprintf(line, sizeof line, "%s:%zu: %s: %s", c->name, sl_cfg_line(at), path, msg);
  c->warn(c->ud, line);
}

void sl_cfg_warn(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path, const char *fmt,
                 ...) {
  va_list ap;
  va_start(ap, fmt);
  warn_v(c, at, path, NULL, fmt, ap);
  va_end(ap);
}

void sl_cfg_warn_topic(struct sl_cfg_ctx *c, const yaml_node_t *at, const char *path,
                       const char *topic, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  warn_v(c, at, path, topic, fmt, ap);
  va_end(ap);
}

/* ---- paths and nodes ---- */

void sl_cfg_path_join(char *buf, const char *base, const char *key) {
  if (base && *base)
    snprintf(buf, SL_CFG_PATH, "%s.%s", base, key);
  else
    snprintf(buf, SL_CFG_PATH, "%s", key);
}

void sl_cfg_path_index(char *buf, const char *base, size_t i) {
  snprintf(buf, SL_CFG_PATH, "%s[%zu]", base, i);
}

const char *sl_cfg_node_desc(const yaml_node_t *v) {
  switch (v->type) {
  case YAML_MAPPING_NODE: return "a mapping";
  case YAML_SEQUENCE_NODE: return "a list";
  default: return "a scalar";
  }
}

static const char *scalar_raw(const yaml_node_t *v) { return (const char *)v->data.scalar.value; }

static bool is_plain(const yaml_node_t *v) {
  return v->type == YAML_SCALAR_NODE && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool sl_cfg_is_null(const yaml_node_t *v) {
  return is_plain(v) && sl_config_yaml11_type(scalar_raw(v)) == SL_YAML_NULL;
}

/* A hint for an unset variable that the file lists under environment_variables. */
static const char *env_hint(struct sl_cfg_ctx *c, const char *name) {
  yaml_node_t *root = yaml_document_get_root_node(c->doc);
  if (!root || root->type != YAML_MAPPING_NODE)
    return "";
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k->type != YAML_SCALAR_NODE || strcmp(scalar_raw(k), "environment_variables") ||
        v->type != YAML_MAPPING_NODE)
      continue;
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
      yaml_node_t *ek = yaml_document_get_node(c->doc, q->key);
      if (ek->type == YAML_SCALAR_NODE && strcmp(scalar_raw(ek), name) == 0)
        return "; it is listed under environment_variables, which sluice does not apply: "
               "export it before starting sluice";
    }
  }
  return "";
}

int sl_cfg_scalar(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char **text,
                  const char **env) {
  static const char prefix[] = "os.environ/";
  const char *s = scalar_raw(v);
  *env = NULL;
  if (strlen(s) != v->data.scalar.length)
    return sl_cfg_fail(c, v, path, "value contains a NUL character");
  if (strncmp(s, prefix, sizeof prefix - 1) != 0) {
    *text = s;
    return 0;
  }
  const char *name = s + sizeof prefix - 1;
  if (!*name)
    return sl_cfg_fail(c, v, path, "'os.environ/' names no environment variable");
  const char *val = getenv(name);
  if (!val)
    return sl_cfg_fail(c, v, path, "environment variable %s is not set (from '%s')%s", name, s,
                       env_hint(c, name));
  *text = val;
  *env = name;
  return 0;
}

int sl_cfg_number_in(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, double lo, double hi, const char *what,
                     double *out) {
  const char *text, *env;
  if (v->type != YAML_SCALAR_NODE) return sl_cfg_fail(c, v, path, "expected %s, got %s", what, sl_cfg_node_desc(v));
  int rc = sl_cfg_scalar(c, v, path, &text, &env);
  if (rc) return rc;
  char *end;
  double d = strtod(text, &end);
  if (end == text || *end || !(d >= lo && d <= hi))
    return sl_cfg_fail(c, v, path, "expected %s, got '%.80s'", what, text);
  *out = d;
  return 0;
}

/* ---- mappings: explicit pairs, duplicates, << merges ---- */

struct pairs {
  struct sl_cfg_pair *v;
  size_t n, cap;
};

static bool key_eq(const yaml_node_t *a, const yaml_node_t *b) {
  return a->data.scalar.length == b->data.scalar.length &&
         memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

static bool is_merge_key(const yaml_node_t *k) {
  return is_plain(k) && strcmp(scalar_raw(k), "<<") == 0;
}

static int pairs_push(struct pairs *ps, yaml_node_t *k, yaml_node_t *v) {
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 16;
    struct sl_cfg_pair *p = realloc(ps->v, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    ps->v = p;
    ps->cap = cap;
  }
  ps->v[ps->n++] = (struct sl_cfg_pair){k, v};
  return 0;
}

static int collect_pairs(struct sl_cfg_ctx *c, yaml_node_t *map, const char *path,
                         struct pairs *ps, int depth);

/* `<<: *base` or `<<: [*a, *b]`: adds the merged maps' keys that are not already present. */
static int collect_merge(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                         struct pairs *ps, int depth) {
  char p[SL_CFG_PATH];
  sl_cfg_path_join(p, path, "<<");
  if (depth >= SL_CFG_MAX_MERGE_DEPTH)
    return sl_cfg_fail(c, v, p, "merge keys nested too deeply (or recursive)");
  if (v->type == YAML_MAPPING_NODE)
    return collect_pairs(c, v, path, ps, depth + 1);
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, p, "expected a mapping or a list of mappings, got '%s'",
                       scalar_raw(v));
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
       it++) {
    yaml_node_t *m = yaml_document_get_node(c->doc, *it);
    if (m->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, m, p, "expected a mapping or a list of mappings, got %s",
                         sl_cfg_node_desc(m));
    int rc = collect_pairs(c, m, path, ps, depth + 1);
    if (rc)
      return rc;
  }
  return 0;
}

static int collect_pairs(struct sl_cfg_ctx *c, yaml_node_t *map, const char *path,
                         struct pairs *ps, int depth) {
  size_t start = ps->n;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k->type != YAML_SCALAR_NODE)
      return sl_cfg_fail(c, k, path, "keys must be strings, got %s", sl_cfg_node_desc(k));
    if (is_merge_key(k))
      continue;
    bool overridden = false;
    for (size_t i = 0; i < ps->n; i++) {
      if (!key_eq(ps->v[i].k, k))
        continue;
      if (i >= start) {
        char kp[SL_CFG_PATH];
        sl_cfg_path_join(kp, path, scalar_raw(k));
        return sl_cfg_fail(c, k, kp, "duplicate key (first at line %zu)",
                           sl_cfg_line(ps->v[i].k));
      }
      overridden = true; /* an outer map (or an earlier merge) already set it */
    }
    if (!overridden && pairs_push(ps, k, v))
      return -ENOMEM;
  }
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    if (is_merge_key(k)) {
      int rc = collect_merge(c, yaml_document_get_node(c->doc, p->value), path, ps, depth);
      if (rc)
        return rc;
    }
  }
  return 0;
}

/* ---- the key-table interpreter ---- */

static void describe_expected(const struct sl_cfg_key *k, char *buf, size_t n) {
  switch (k->kind) {
  case SL_K_STR: snprintf(buf, n, "a string"); break;
  case SL_K_ID: snprintf(buf, n, "a string or an integer"); break;
  case SL_K_ENUM: {
    size_t j = (size_t)snprintf(buf, n, "one of ");
    for (const char *const *ch = k->choices; *ch && j < n; ch++)
      j += (size_t)snprintf(buf + j, n - j, "%s%s", ch == k->choices ? "" : "|", *ch);
    break;
  }
  case SL_K_INT:
  case SL_K_I64:
    if (k->min == 0 && (k->max == INT64_MAX || k->max == INT32_MAX))
      snprintf(buf, n, "a non-negative integer");
    else if (k->max == INT64_MAX || k->max == INT32_MAX)
      snprintf(buf, n, "an integer >= %lld", (long long)k->min);
    else
      snprintf(buf, n, "an integer between %lld and %lld", (long long)k->min,
               (long long)k->max);
    break;
  case SL_K_NUM:
    if (k->min > 0)
      snprintf(buf, n, "a number >= %lld", (long long)k->min);
    else
      snprintf(buf, n, (k->flags & SL_F_POSITIVE) ? "a positive number" : "a non-negative number");
    break;
  case SL_K_BOOL: snprintf(buf, n, "a boolean (true/false, yes/no, on/off)"); break;
  case SL_K_SIZE:
    snprintf(buf, n, "a size in bytes of at least %lld (e.g. 1048576, \"512KB\", \"16MiB\")",
             (long long)k->min);
    break;
  case SL_K_DUR:
    snprintf(buf, n, "a %sduration (seconds, or e.g. \"500ms\", \"10s\", \"2m\")",
             (k->flags & SL_F_POSITIVE) ? "positive " : "");
    break;
  default: snprintf(buf, n, "a mapping"); break;
  }
}

/* Keys whose values are secrets: messages name the key and never echo the value (it
 * would end up in the log, or in a POST /config/reload answer). */
static bool secret_path(const char *path) {
  static const char *const secret[] = {"api_key", "master_key"};
  const char *last = strrchr(path, '.');
  last = last ? last + 1 : path;
  for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
    if (strcmp(last, secret[i]) == 0)
      return true;
  return false;
}

static int type_error(struct sl_cfg_ctx *c, const struct sl_cfg_key *k, yaml_node_t *v,
                      const char *path, const char *text, const char *env, const char *why) {
  char exp[160];
  describe_expected(k, exp, sizeof exp);
  if (v->type != YAML_SCALAR_NODE)
    return sl_cfg_fail(c, v, path, "expected %s, got %s", exp, sl_cfg_node_desc(v));
  if (secret_path(path))
    return sl_cfg_fail(c, v, path, "expected %s, got a value that is not one (not shown: it is a "
                       "secret)%s", exp, why ? why : "");
  if (env)
    return sl_cfg_fail(c, v, path, "expected %s, got '%.80s' (from os.environ/%s)", exp, text,
                       env);
  return sl_cfg_fail(c, v, path, "expected %s, got '%.80s'%s", exp, text, why ? why : "");
}

static int set_str(void *field, const char *text) {
  char **dst = field, *s = strdup(text);
  if (!s)
    return -ENOMEM;
  free(*dst);
  *dst = s;
  return 0;
}

static int set_int(const struct sl_cfg_key *k, void *field, const char *text) {
  int64_t v;
  if (sl_config_parse_int(text, &v) || v < k->min || v > k->max)
    return -EINVAL;
  if (k->kind == SL_K_INT)
    *(int *)field = (int)v;
  else
    *(int64_t *)field = v;
  return 0;
}

/* Converts text into the key's field; -EINVAL means "not a valid value of this type". */
static int set_scalar(const struct sl_cfg_key *k, void *field, const char *text) {
  double d;
  uint64_t u;
  switch (k->kind) {
  case SL_K_STR:
  case SL_K_ID: return set_str(field, text);
  case SL_K_ENUM:
    for (const char *const *ch = k->choices; *ch; ch++)
      if (strcmp(text, *ch) == 0)
        return set_str(field, text);
    return -EINVAL;
  case SL_K_INT:
  case SL_K_I64: return set_int(k, field, text);
  case SL_K_NUM:
    if (sl_config_parse_number(text, &d) || d < 0 || (d == 0 && (k->flags & SL_F_POSITIVE)) ||
        d < (double)k->min)
      return -EINVAL;
    *(double *)field = d;
    return 0;
  case SL_K_BOOL: return sl_config_parse_bool(text, field);
  case SL_K_SIZE:
    if (sl_config_parse_size(text, &u) || u < (uint64_t)k->min || u > SIZE_MAX)
      return -EINVAL;
    *(size_t *)field = (size_t)u;
    return 0;
  case SL_K_DUR:
    if (sl_config_parse_duration_ms(text, &u) || (u == 0 && (k->flags & SL_F_POSITIVE)))
      return -EINVAL;
    *(uint64_t *)field = u;
    return 0;
  default: return -EINVAL;
  }
}

/* Refuses plain scalars whose YAML type does not fit a string-like key (api_key: 1234). */
static int check_yaml_type(struct sl_cfg_ctx *c, const struct sl_cfg_key *k, yaml_node_t *v,
                           const char *path, const char *text) {
  if (!is_plain(v) || (k->kind != SL_K_STR && k->kind != SL_K_ID && k->kind != SL_K_ENUM))
    return 0;
  enum sl_yaml_type t = sl_config_yaml11_type(text);
  if (t == SL_YAML_STR || (t == SL_YAML_INT && k->kind == SL_K_ID))
    return 0;
  char why[96];
  snprintf(why, sizeof why, " (YAML reads it as %s; quote it to make it a string)",
           sl_config_yaml_type_name(t));
  return type_error(c, k, v, path, text, NULL, why);
}

static int parse_value(struct sl_cfg_ctx *c, const struct sl_cfg_key *k, yaml_node_t *v,
                       const char *path, void *target) {
  void *field = (char *)target + k->off;
  if (k->kind == SL_K_FUNC)
    return k->fn(c, v, path, field);
  if (k->kind == SL_K_MAP) {
    if (v->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, v, path, "expected a mapping, got %s%s%s%s", sl_cfg_node_desc(v),
                         v->type == YAML_SCALAR_NODE ? " '" : "",
                         v->type == YAML_SCALAR_NODE ? scalar_raw(v) : "",
                         v->type == YAML_SCALAR_NODE ? "'" : "");
    return sl_cfg_parse_section(c, k->sub, v, path, target);
  }
  if (v->type != YAML_SCALAR_NODE)
    return type_error(c, k, v, path, NULL, NULL, NULL);
  const char *text, *env;
  int rc = sl_cfg_scalar(c, v, path, &text, &env);
  if (rc)
    return rc;
  if (!env && (rc = check_yaml_type(c, k, v, path, text)))
    return rc;
  rc = set_scalar(k, field, text);
  if (rc == -EINVAL)
    return type_error(c, k, v, path, text, env, NULL);
  return rc;
}

int sl_cfg_string(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, char **out) {
  static const struct sl_cfg_key str = {.name = "", .kind = SL_K_STR};
  return parse_value(c, &str, v, path, out);
}

int sl_cfg_strings(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char *what, sl_cfg_each_fn each,
                   void *ud) {
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of %s, got %s", what, sl_cfg_node_desc(v));
  size_t i = 0;
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
    char ip[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    yaml_node_t *e = yaml_document_get_node(c->doc, *it);
    char *s = NULL;
    int rc = sl_cfg_string(c, e, ip, &s);
    if (rc == 0) rc = each(c, e, ip, s, ud);
    if (rc) return rc;
  }
  return 0;
}

int sl_cfg_pairs(struct sl_cfg_ctx *c, yaml_node_t *map, const char *path,
                 struct sl_cfg_pair **out, size_t *n) {
  struct pairs ps = {0};
  *out = NULL; /* also on failure: a caller may free it */
  *n = 0;
  int rc = collect_pairs(c, map, path, &ps, 0);
  if (rc) {
    free(ps.v);
    return rc;
  }
  *out = ps.v;
  *n = ps.n;
  return 0;
}

static const struct sl_cfg_key *find_key(const struct sl_cfg_section *s, const char *name) {
  for (size_t i = 0; i < s->nkeys; i++)
    if (strcmp(s->keys[i].name, name) == 0)
      return &s->keys[i];
  return NULL;
}

static bool in_list(const char *const *list, const char *name) {
  for (; list && *list; list++)
    if (strcmp(*list, name) == 0)
      return true;
  return false;
}

static int unknown_key(struct sl_cfg_ctx *c, const struct sl_cfg_section *s, yaml_node_t *k,
                       const char *path) {
  const char *name = scalar_raw(k);
  if (in_list(s->known, name)) {
    sl_cfg_warn(c, k, path, "%s", s->known_note);
    return 0;
  }
  if (s->unknown == SL_UNKNOWN_IGNORE)
    return 0;
  const char *cands[SL_CFG_MAX_KEYS];
  for (size_t i = 0; i < s->nkeys; i++)
    cands[i] = s->keys[i].name;
  const char *guess = sl_config_did_you_mean(name, cands, s->nkeys);
  char hint[96] = "";
  if (guess)
    snprintf(hint, sizeof hint, " (did you mean '%s'?)", guess);
  if (s->unknown == SL_UNKNOWN_ERROR)
    return sl_cfg_fail(c, k, path, "unknown key%s", hint);
  sl_cfg_warn(c, k, path, "%s%s", s->unknown_note, hint);
  return 0;
}

int sl_cfg_parse_section(struct sl_cfg_ctx *c, const struct sl_cfg_section *s, yaml_node_t *map,
                         const char *path, void *target) {
  struct pairs ps = {0};
  yaml_node_t *seen[SL_CFG_MAX_KEYS] = {0};
  char kp[SL_CFG_PATH];
  int rc = collect_pairs(c, map, path, &ps, 0);
  for (size_t i = 0; rc == 0 && i < ps.n; i++) {
    const char *name = scalar_raw(ps.v[i].k);
    const struct sl_cfg_key *k = find_key(s, name);
    sl_cfg_path_join(kp, path, name);
    if (!k) {
      rc = unknown_key(c, s, ps.v[i].k, kp);
      continue;
    }
    if (sl_cfg_is_null(ps.v[i].v)) /* `key:` or `key: ~` means unset, as in Python */
      continue;
    seen[k - s->keys] = ps.v[i].v;
    c->cur_key = ps.v[i].k;
    rc = parse_value(c, k, ps.v[i].v, kp, target);
  }
  free(ps.v);
  for (size_t i = 0; rc == 0 && i < s->nkeys; i++) {
    if ((s->keys[i].flags & SL_F_REQUIRED) && !seen[i]) {
      sl_cfg_path_join(kp, path, s->keys[i].name);
      rc = sl_cfg_fail(c, map, kp, "missing (required)");
    }
  }
  if (rc == 0 && s->finish)
    rc = s->finish(c, path, map, target, seen);
  return rc;
}


int sl_cfg_read_file(const char *path, size_t max, char **out, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)max) {
    close(fd);
    return -EFBIG;
  }
  char *b = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (b && got < (size_t)st.st_size) {
    ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (!b) return -ENOMEM;
  *out = b;
  *n = got;
  return 0;
}
