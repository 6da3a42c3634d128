/* Wildcard deployments at load, as LiteLLM writes them: `model_name: "openai/\*"` with
 * `litellm_params.model: "openai/\*"`, `model_name: "*"` with `model: "openai/\*"` or a bare
 * `model: "*"`, and the general form where both have one '*' ("gpt-*" -> "openai/gpt-*": the
 * part the client's name matched is put in place of the model's '*').
 * The one idea: a wildcard deployment is an ordinary deployment whose upstream model is a
 * template; the plan (plan.c) matches client names against the patterns after the exact
 * names miss, and the attempt fills the template per request. A bare "*" cannot be one
 * deployment (the provider decides the path, the key and the wire format, all compiled at
 * load), so it becomes one deployment per provider whose key is available: the written one
 * serves OpenAI (LiteLLM's default provider) under its own model_name, and each copy serves
 * one more provider under "<model_name>@<provider>"; at request time the provider inferred
 * from the name picks the one copy that may serve it (plan.c, sl_plan_wild_infer).
 * To let a new field of struct sl_deployment reach the copies: copy it in copy_for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"
#include "net/wire/provider.h"

static size_t count_stars(const char *s) {
  size_t n = 0;
  for (; s && *s; s++) n += *s == '*';
  return n;
}

int sl_cfg_wild_check(struct sl_cfg_ctx *c, const char *path, yaml_node_t *name_node, yaml_node_t *params_node,
                      struct sl_deployment *d) {
  size_t ns = count_stars(d->model_name), ms = count_stars(d->upstream_model);
  char kp[SL_CFG_PATH];
  if (ns > 1) {
    sl_cfg_path_join(kp, path, "model_name");
    return sl_cfg_fail(c, name_node, kp, "'%s' has more than one '*' (a wildcard model_name has exactly one)",
                       d->model_name);
  }
  if (ms > 1 || (ms && !ns)) {
    sl_cfg_path_join(kp, path, "litellm_params.model");
    if (ms > 1)
      return sl_cfg_fail(c, params_node, kp, "'%s' has more than one '*' (the part of the client's model name that "
                         "model_name's '*' matched goes in its place: one '*')", d->model);
    return sl_cfg_fail(c, params_node, kp, "'%s' has a '*' but model_name '%s' has none: nothing to put in its place "
                       "(write model_name: \"%s\" to serve every model it matches)",
                       d->model, d->model_name, d->model);
  }
  if (!ns) return 0;
  d->wild |= SL_WILD_PATTERN;
  return (d->wild_name = strdup(d->model_name)) ? 0 : -ENOMEM;
}

/* A provider a bare "*" expands to: spoken over a path sluice builds from the model name, and
 * with a key (the written api_key, else the provider's variable) or a written api_base. */
static const char *key_for(const struct sl_deployment *d, const struct sl_provider *pv) {
  if (pv == d->ops || !pv->key_env[0] || (pv->path != SL_PATH_OPENAI && pv->path != SL_PATH_ANTHROPIC)) return NULL;
  if (!pv->default_base && !(d->wild & SL_WILD_OWN_BASE)) return NULL;
  if (d->wild & SL_WILD_OWN_KEY) return d->api_key;
  for (size_t i = 0; i < sizeof pv->key_env / sizeof pv->key_env[0] && pv->key_env[i]; i++) {
    const char *v = getenv(pv->key_env[i]);
    if (v && *v) return v;
  }
  return NULL;
}

static char *dup_or_null(const char *s, bool *oom) {
  if (!s) return NULL;
  char *r = strdup(s);
  if (!r) *oom = true;
  return r;
}

/* The copy of bare-"*" deployment d for provider pv (zeroed first: fields not named here
 * are left at zero). */
static int copy_for(const struct sl_deployment *d, const struct sl_provider *pv, const char *key,
                    struct sl_deployment *o) {
  memset(o, 0, sizeof *o);
  bool oom = false;
  if (asprintf(&o->model_name, "%s@%s", d->model_name, pv->name) < 0) o->model_name = NULL, oom = true;
  if (asprintf(&o->model, "%s/*", pv->name) < 0) o->model = NULL, oom = true;
  if (d->id && asprintf(&o->id, "%s@%s", d->id, pv->name) < 0) o->id = NULL, oom = true;
  o->provider = dup_or_null(pv->name, &oom);
  o->ops = pv;
  o->upstream_model = dup_or_null("*", &oom);
  o->wild = d->wild & (SL_WILD_PATTERN | SL_WILD_INFER);
  o->wild_name = dup_or_null(d->wild_name, &oom);
  o->api_base = dup_or_null((d->wild & SL_WILD_OWN_BASE) ? d->api_base : pv->default_base, &oom);
  o->api_key = dup_or_null(key, &oom);
  o->timeout_s = d->timeout_s;
  o->stream_timeout_s = d->stream_timeout_s;
  o->rpm = d->rpm;
  o->tpm = d->tpm;
  o->weight = d->weight;
  o->order = d->order;
  o->max_retries = d->max_retries;
  o->input_cost_per_token = d->input_cost_per_token;
  o->output_cost_per_token = d->output_cost_per_token;
  o->max_input_tokens = d->max_input_tokens;
  o->region = dup_or_null(d->region, &oom);
  if (oom || !o->api_base) return -ENOMEM;
  struct sl_config_url u;
  const char *why = NULL;
  int rc = sl_config_parse_url(o->api_base, &u, &why);
  if (rc) return rc; /* the written api_base parsed already; a default always does */
  o->host = u.host;
  o->port = u.port;
  o->tls = u.tls;
  o->base_path = u.path;
  size_t n = strlen(o->api_base);
  while (n && o->api_base[n - 1] == '/') o->api_base[--n] = 0;
  return 0;
}

int sl_cfg_wild_expand(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  (void)c;
  size_t nprov, extra = 0, nd = s->c.ndeployments, nr = s->c.nrouters;
  const struct sl_provider *rows = sl_provider_all(&nprov);
  for (size_t i = 0; i < nd; i++)
    for (size_t j = 0; (s->c.deployments[i].wild & SL_WILD_INFER) && j < nprov; j++)
      extra += key_for(&s->c.deployments[i], &rows[j]) != NULL;
  if (!extra) return 0;
  size_t nd2 = nd + extra, n = nd + nr, n2 = nd2 + nr;
  struct sl_deployment *deps = calloc(nd2, sizeof *deps);
  yaml_node_t **ids = calloc(nd2, sizeof *ids);
  size_t *ri = calloc(n2, sizeof *ri);
  if (!deps || !ids || !ri) {
    free(deps);
    free(ids);
    free(ri);
    return -ENOMEM;
  }
  for (size_t r = 0; r < nr; r++) ri[r] = s->router_index[r]; /* routers' positions from the start */
  size_t k2 = 0;
  int rc = 0;
  for (size_t k = 0; k < nd; k++) {
    struct sl_deployment *d = &s->c.deployments[k];
    size_t pos = s->router_index[n - 1 - k]; /* deployments' positions from the end */
    deps[k2] = *d;
    ids[k2] = s->id_nodes[k];
    ri[n2 - 1 - k2] = pos;
    k2++;
    for (size_t j = 0; (d->wild & SL_WILD_INFER) && j < nprov; j++) {
      const char *key = key_for(d, &rows[j]);
      if (!key) continue;
      int e = copy_for(d, &rows[j], key, &deps[k2]);
      if (e && !rc) rc = e;
      ids[k2] = s->id_nodes[k];
      ri[n2 - 1 - k2] = pos;
      k2++;
    }
  }
  free(s->c.deployments);
  free(s->id_nodes);
  free(s->router_index);
  s->c.deployments = deps;
  s->c.ndeployments = nd2;
  s->id_nodes = ids;
  s->router_index = ri;
  return rc;
}
