/* The semantic router's routes: the YAML list and LiteLLM's auto_router JSON file; see
 * config_semantic.h. Both readers check the same things (a route names a group, has at
 * least one utterance or a description, a threshold within -1..1, bounded sizes); the
 * groups themselves are checked against model_list in config_routers.c. */
#include "core/config/config_semantic.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config/config_internal.h"

void sl_sem_routes_free(struct sl_sem_route_cfg *routes, size_t n) {
  for (size_t i = 0; routes && i < n; i++) {
    free(routes[i].group);
    for (size_t j = 0; j < routes[i].nutterances; j++) free(routes[i].utterances[j]);
    free(routes[i].utterances);
    free(routes[i].description);
  }
  free(routes);
}

/* ---- YAML ---- */

struct utt_ctx {
  struct sl_sem_route_cfg *route;
  size_t cap;
};

static int add_utterance(struct sl_cfg_ctx *c, yaml_node_t *e, const char *ip, char *s, void *ud) {
  struct utt_ctx *u = ud;
  if (!s[0] || strlen(s) > SL_SEM_MAX_UTTERANCE) {
    free(s);
    return sl_cfg_fail(c, e, ip, "an utterance is 1 to %d bytes", SL_SEM_MAX_UTTERANCE);
  }
  if (u->route->nutterances >= SL_SEM_MAX_UTTERANCES) {
    free(s);
    return sl_cfg_fail(c, e, ip, "too many utterances (at most %d per route)", SL_SEM_MAX_UTTERANCES);
  }
  if (u->route->nutterances == u->cap) {
    size_t cap = u->cap ? 2 * u->cap : 8;
    char **a = realloc(u->route->utterances, cap * sizeof *a);
    if (!a) {
      free(s);
      return -ENOMEM;
    }
    u->route->utterances = a;
    u->cap = cap;
  }
  u->route->utterances[u->route->nutterances++] = s;
  return 0;
}

static int parse_threshold(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, double *out) {
  return sl_cfg_number_in(c, v, path, -1, 1, "a similarity from -1 to 1", out);
}

int sl_cfg_parse_semantic_routes(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_router_cfg *r = (struct sl_router_cfg *)((char *)field - offsetof(struct sl_router_cfg, sem_routes));
  if (v->type != YAML_SEQUENCE_NODE)
    return sl_cfg_fail(c, v, path, "expected a list of {model: <group>, utterances: [...]}, got %s",
                       sl_cfg_node_desc(v));
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (!n) return sl_cfg_fail(c, v, path, "empty; give at least one route");
  if (n > SL_SEM_MAX_ROUTES)
    return sl_cfg_fail(c, v, path, "%zu routes; a router takes at most %d", n, SL_SEM_MAX_ROUTES);
  sl_sem_routes_free(r->sem_routes, r->nsem_routes);
  r->nsem_routes = 0;
  if (!(r->sem_routes = calloc(n, sizeof *r->sem_routes))) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
    struct sl_sem_route_cfg *rt = &r->sem_routes[i];
    char ip[SL_CFG_PATH], kp[SL_CFG_PATH];
    sl_cfg_path_index(ip, path, i);
    r->nsem_routes = i + 1;
    rt->score_threshold = NAN;
    if (it->type != YAML_MAPPING_NODE)
      return sl_cfg_fail(c, it, ip, "expected {model: <group>, utterances: [...]}, got %s", sl_cfg_node_desc(it));
    struct sl_cfg_pair *ps = NULL;
    size_t np = 0;
    int rc = sl_cfg_pairs(c, it, ip, &ps, &np);
    struct utt_ctx u = {rt, 0};
    for (size_t j = 0; rc == 0 && j < np; j++) {
      const char *k = (const char *)ps[j].k->data.scalar.value;
      sl_cfg_path_join(kp, ip, k);
      if (strcmp(k, "model") == 0 || strcmp(k, "name") == 0)
        rc = sl_cfg_string(c, ps[j].v, kp, &rt->group);
      else if (strcmp(k, "utterances") == 0)
        rc = sl_cfg_strings(c, ps[j].v, kp, "utterances (strings)", add_utterance, &u);
      else if (strcmp(k, "description") == 0)
        rc = sl_cfg_string(c, ps[j].v, kp, &rt->description);
      else if (strcmp(k, "score_threshold") == 0)
        rc = parse_threshold(c, ps[j].v, kp, &rt->score_threshold);
      else
        rc =
            sl_cfg_fail(c, ps[j].k, kp, "unknown key (a route has model, utterances, description and score_threshold)");
    }
    free(ps);
    if (rc) return rc;
    if (!rt->group) return sl_cfg_fail(c, it, ip, "missing 'model' (the group this route sends to)");
    if (rt->description && !rt->description[0]) {
      free(rt->description);
      rt->description = NULL;
    }
    if (!rt->nutterances && !rt->description)
      return sl_cfg_fail(c, it, ip, "route '%s' needs utterances (or a description) to compare prompts with",
                         rt->group);
  }
  return 0;
}

/* ---- JSON (LiteLLM's auto_router_config_path) ---- */

static int jfail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jfail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

static int json_route(const cJSON *it, size_t i, struct sl_sem_route_cfg *rt, char *err, size_t errlen) {
  rt->score_threshold = NAN;
  if (!cJSON_IsObject(it))
    return jfail(err, errlen, "routes[%zu]: expected an object {\"name\": <group>, \"utterances\": [...]}", i);
  for (const cJSON *f = it->child; f; f = f->next) {
    const char *k = f->string ? f->string : "";
    if (strcmp(k, "name") == 0 || strcmp(k, "model") == 0) {
      if (!cJSON_IsString(f) || !f->valuestring[0])
        return jfail(err, errlen, "routes[%zu].%s: expected a group name (a non-empty string)", i, k);
      free(rt->group);
      if (!(rt->group = strdup(f->valuestring))) return -ENOMEM;
    } else if (strcmp(k, "utterances") == 0) {
      if (!cJSON_IsArray(f)) return jfail(err, errlen, "routes[%zu].utterances: expected a list of strings", i);
      size_t n = (size_t)cJSON_GetArraySize(f);
      if (n > SL_SEM_MAX_UTTERANCES)
        return jfail(err, errlen, "routes[%zu].utterances: too many utterances (at most %d per route)", i,
                     SL_SEM_MAX_UTTERANCES);
      if (rt->utterances) return jfail(err, errlen, "routes[%zu].utterances: given twice", i);
      if (n && !(rt->utterances = calloc(n, sizeof *rt->utterances))) return -ENOMEM;
      size_t j = 0;
      for (const cJSON *u = f->child; u; u = u->next, j++) {
        if (!cJSON_IsString(u)) return jfail(err, errlen, "routes[%zu].utterances[%zu]: expected a string", i, j);
        size_t len = strlen(u->valuestring);
        if (!len || len > SL_SEM_MAX_UTTERANCE)
          return jfail(err, errlen, "routes[%zu].utterances[%zu]: an utterance is 1 to %d bytes", i, j,
                       SL_SEM_MAX_UTTERANCE);
        if (!(rt->utterances[j] = strdup(u->valuestring))) return -ENOMEM;
        rt->nutterances = j + 1;
      }
    } else if (strcmp(k, "description") == 0) {
      if (cJSON_IsNull(f)) continue;
      if (!cJSON_IsString(f)) return jfail(err, errlen, "routes[%zu].description: expected a string", i);
      if (!f->valuestring[0]) continue;
      if (strlen(f->valuestring) > SL_SEM_MAX_UTTERANCE)
        return jfail(err, errlen, "routes[%zu].description: at most %d bytes", i, SL_SEM_MAX_UTTERANCE);
      free(rt->description);
      if (!(rt->description = strdup(f->valuestring))) return -ENOMEM;
    } else if (strcmp(k, "score_threshold") == 0) {
      if (cJSON_IsNull(f)) continue;
      if (!cJSON_IsNumber(f) || !(f->valuedouble >= -1 && f->valuedouble <= 1))
        return jfail(err, errlen, "routes[%zu].score_threshold: expected a similarity from -1 to 1", i);
      rt->score_threshold = f->valuedouble;
    }
    /* other keys (LiteLLM's function_schemas, metadata, llm...) are not used */
  }
  if (!rt->group) return jfail(err, errlen, "routes[%zu]: missing \"name\" (the group this route sends to)", i);
  if (!rt->nutterances && !rt->description)
    return jfail(err, errlen, "routes[%zu]: route '%.100s' needs utterances (or a description)", i, rt->group);
  return 0;
}

int sl_sem_routes_json(const char *json, size_t n, struct sl_sem_route_cfg **out, size_t *nout, char *err,
                       size_t errlen) {
  *out = NULL;
  *nout = 0;
  cJSON *doc = cJSON_ParseWithLength(json, n);
  if (!doc) return jfail(err, errlen, "not valid JSON");
  const cJSON *routes = cJSON_GetObjectItemCaseSensitive(doc, "routes");
  int rc = 0;
  size_t cnt = cJSON_IsArray(routes) ? (size_t)cJSON_GetArraySize(routes) : 0;
  if (!cJSON_IsObject(doc) || !cJSON_IsArray(routes))
    rc = jfail(err, errlen, "expected an object with \"routes\": [...]");
  else if (!cnt)
    rc = jfail(err, errlen, "routes: empty; give at least one route");
  else if (cnt > SL_SEM_MAX_ROUTES)
    rc = jfail(err, errlen, "routes: %zu routes; a router takes at most %d", cnt, SL_SEM_MAX_ROUTES);
  struct sl_sem_route_cfg *rs = NULL;
  size_t nr = 0;
  if (rc == 0 && !(rs = calloc(cnt, sizeof *rs))) rc = -ENOMEM;
  for (const cJSON *it = rc == 0 ? routes->child : NULL; it && rc == 0; it = it->next) {
    nr++;
    rc = json_route(it, nr - 1, &rs[nr - 1], err, errlen);
  }
  cJSON_Delete(doc);
  if (rc) {
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    sl_sem_routes_free(rs, nr);
    return rc;
  }
  *out = rs;
  *nout = nr;
  return 0;
}

int sl_cfg_semantic_load(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, struct sl_router_cfg *r) {
  char full[4096];
  const char *p = r->auto_router_config_path;
  const char *slash = strrchr(c->name, '/');
  if (p[0] != '/' && slash && c->name[0] != '<') /* relative to the config file */
    snprintf(full, sizeof full, "%.*s/%s", (int)(slash - c->name), c->name, p);
  else
    snprintf(full, sizeof full, "%s", p);
  char *b = NULL;
  size_t n = 0;
  int rc = sl_cfg_read_file(full, SL_SEM_MAX_FILE, &b, &n);
  if (rc == -ENOMEM) return rc;
  if (rc)
    return sl_cfg_fail(c, at, path, "cannot read '%s': %s", full,
                       rc == -EFBIG ? "not a regular file of at most 16 MiB" : strerror(-rc));
  char err[256] = "";
  struct sl_sem_route_cfg *rs;
  size_t nr;
  rc = sl_sem_routes_json(b, n, &rs, &nr, err, sizeof err);
  free(b);
  if (rc == -ENOMEM) return rc;
  if (rc) return sl_cfg_fail(c, at, path, "'%s': %s", full, err);
  sl_sem_routes_free(r->sem_routes, r->nsem_routes);
  r->sem_routes = rs;
  r->nsem_routes = nr;
  return 0;
}
