/* The providers' model lists mapped through the wildcard patterns into GET /v1/models; see
 * plan_models.h. The one idea: a provider's id becomes the client name the pattern would
 * send it as, and is listed only when the request path's own lookup takes that name back to
 * the same deployment and the same upstream model. */
#include "core/config/plan_models.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/plan.h"

void sl_model_ids_free(struct sl_model_ids *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) free(l->ids[i]);
  free(l->ids);
  memset(l, 0, sizeof *l);
}

static int ids_push(struct sl_model_ids *l, const char *s, size_t n) {
  if (l->n == l->cap) {
    size_t c = l->cap ? l->cap * 2 : 64;
    char **p = realloc(l->ids, c * sizeof *p);
    if (!p) return -1;
    l->ids = p;
    l->cap = c;
  }
  char *d = malloc(n + 1);
  if (!d) return -1;
  memcpy(d, s, n);
  d[n] = 0;
  l->ids[l->n++] = d;
  return 0;
}

int sl_plan_models_parse(const char *body, size_t n, size_t max_ids, struct sl_model_ids *acc, bool *truncated,
                         bool *has_more, char *last_id, size_t cap, char *err, size_t errlen) {
  *has_more = false;
  if (cap) last_id[0] = 0;
  cJSON *o = body && n ? cJSON_ParseWithLength(body, n) : NULL;
  const cJSON *data = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "data") : NULL;
  if (!cJSON_IsArray(data)) {
    snprintf(err, errlen, "%s", !o ? "the model list is not JSON" : "the model list has no \"data\" array");
    cJSON_Delete(o);
    return -1;
  }
  int rc = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, data) {
    const cJSON *id = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, "id") : NULL;
    if (!cJSON_IsString(id)) continue;
    size_t k = strlen(id->valuestring);
    if (!k || k > SL_MODELS_ID_MAX) continue;
    if (acc->n >= max_ids) {
      *truncated = true;
      break;
    }
    if (ids_push(acc, id->valuestring, k)) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      break;
    }
  }
  const cJSON *more = cJSON_GetObjectItemCaseSensitive(o, "has_more");
  const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_id");
  if (rc == 0 && cJSON_IsTrue(more) && cJSON_IsString(last) && last->valuestring[0] &&
      strlen(last->valuestring) < cap) {
    memcpy(last_id, last->valuestring, strlen(last->valuestring) + 1);
    *has_more = true;
  }
  cJSON_Delete(o);
  return rc;
}

bool sl_plan_models_listable(const struct sl_deployment *d) {
  if (!d || !(d->wild & SL_WILD_PATTERN) || !d->wild_name || !d->upstream_model) return false;
  if (strcmp(d->upstream_model, "*") != 0) return false; /* "dep-*", "fixed": not the provider's ids */
  const char *star = strchr(d->wild_name, '*');
  if (!star || star[1]) return false;             /* "a*b": no suffix */
  return star == d->wild_name || star[-1] == '/'; /* "*", "<text>/\*" */
}

/* Whether the request path takes name to group g and deployment d's upstream model id. */
static bool serves(const struct sl_plan *p, const struct sl_group *g, const struct sl_deployment *d, const char *name,
                   const char *id) {
  if (sl_plan_group(p, name) || sl_plan_match(p, name) != g) return false; /* exact names win */
  char m[SL_MODELS_ID_MAX + 64];
  int k = sl_plan_wild_model(d, name, m, sizeof m);
  return k >= 0 && (size_t)k < sizeof m && strcmp(m, id) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static cJSON *model_obj(const char *id) {
  cJSON *m = cJSON_CreateObject();
  if (!m) return NULL;
  cJSON_AddStringToObject(m, "id", id);
  cJSON_AddStringToObject(m, "object", "model");
  cJSON_AddNumberToObject(m, "created", 1677610602);
  cJSON_AddStringToObject(m, "owned_by", "sluice");
  return m;
}

/* The names pattern text pat serves from its deployments' lists, sorted and unique, into
 * names; *had: some deployment had a list. 0 or -1 (out of memory). */
static int expand(const struct sl_plan *p, const struct sl_deployment *deps, const struct sl_model_ids *const *lists,
                  const char *pat, struct sl_model_ids *names, bool *had) {
  const struct sl_model_ids *seen[64];
  size_t nseen = 0;
  char name[2 * SL_MODELS_ID_MAX + 128];
  for (size_t i = 0; i < p->npatterns; i++) {
    const struct sl_plan_pattern *pt = &p->patterns[i];
    if (strcmp(pt->pattern, pat) != 0) continue;
    for (size_t j = 0; j < pt->group->n; j++) {
      size_t di = pt->group->deps[j];
      const struct sl_deployment *d = &deps[di];
      const struct sl_model_ids *l = lists[di];
      if (!l || !sl_plan_models_listable(d)) continue;
      bool dup = false; /* one list (one request) shared by deployments: mapped once */
      for (size_t k = 0; k < nseen && !dup; k++) dup = seen[k] == l;
      if (dup) continue;
      if (nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = l;
      *had = true;
      for (size_t k = 0; k < l->n; k++) {
        const char *id = l->ids[k];
        /* "openai/" + "gpt-4o"; a bare "*"'s copy for another provider: "groq/" + "llama" */
        snprintf(name, sizeof name, "%.*s%s", (int)pt->prefix, pt->pattern, id);
        bool ok = serves(p, pt->group, d, name, id);
        if (!ok && (d->wild & SL_WILD_INFER) && d->ops) {
          snprintf(name, sizeof name, "%.*s%s/%s", (int)pt->prefix, pt->pattern, d->ops->name, id);
          ok = serves(p, pt->group, d, name, id);
        }
        if (ok && ids_push(names, name, strlen(name))) return -1;
      }
    }
  }
  if (names->n) qsort(names->ids, names->n, sizeof *names->ids, cmp_str);
  size_t w = 0;
  for (size_t k = 0; k < names->n; k++) {
    if (w && strcmp(names->ids[w - 1], names->ids[k]) == 0) {
      free(names->ids[k]);
      continue;
    }
    names->ids[w++] = names->ids[k];
  }
  names->n = w;
  return 0;
}

static bool is_pattern(const struct sl_plan *p, const char *id) {
  for (size_t i = 0; i < p->npatterns; i++)
    if (strcmp(p->patterns[i].pattern, id) == 0) return true;
  return false;
}

int sl_plan_models_json(const struct sl_plan *p, const struct sl_deployment *deps,
                        const struct sl_model_ids *const *lists, char **out, size_t *n) {
  *out = NULL;
  *n = 0;
  cJSON *old = cJSON_Parse(p->models_json);
  cJSON *olddata = cJSON_GetObjectItemCaseSensitive(old, "data");
  cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray();
  int rc = -1;
  if (!cJSON_IsArray(olddata) || !root || !data) {
    cJSON_Delete(data);
    goto out;
  }
  cJSON_AddStringToObject(root, "object", "list");
  cJSON_AddItemToObject(root, "data", data);
  for (cJSON *m = olddata->child, *next; m; m = next) {
    next = m->next;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (cJSON_IsString(id) && is_pattern(p, id->valuestring)) {
      struct sl_model_ids names = {0};
      bool had = false;
      if (expand(p, deps, lists, id->valuestring, &names, &had)) {
        sl_model_ids_free(&names);
        goto out;
      }
      if (had && names.n) {
        for (size_t k = 0; k < names.n; k++) {
          cJSON *o = model_obj(names.ids[k]);
          if (!o || !cJSON_AddItemToArray(data, o)) {
            cJSON_Delete(o);
            sl_model_ids_free(&names);
            goto out;
          }
        }
        sl_model_ids_free(&names);
        continue;
      }
      sl_model_ids_free(&names);
    }
    cJSON_AddItemToArray(data, cJSON_DetachItemViaPointer(olddata, m)); /* as compiled */
  }
  *out = cJSON_PrintUnformatted(root);
  if (*out) {
    *n = strlen(*out);
    rc = 0;
  }
out:
  cJSON_Delete(root);
  cJSON_Delete(old);
  return rc;
}
