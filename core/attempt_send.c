/* The upstream request of an attempt: its body (the client's, with `model` replaced and
 * sluice's own fields cut, as slices of the original bytes; or translated into the
 * deployment's wire format), its path and its headers (the provider's credentials,
 * Accept-Encoding: identity). The one idea: nothing is copied or re-encoded that can be
 * forwarded as it came. Paths and credential headers come compiled in the plan from the
 * provider adapter table: a new provider's path or auth scheme goes in net/wire/provider.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/request_internal.h"
#include "net/wire/json_scan.h"

/* Body fields that are sluice's (LiteLLM's) to read, never the provider's ("sluice":
 * sluice's own request options, e.g. sluice.region). */
static const char *const stripped_fields[] = {"timeout", "cache", "sluice"};

struct edit {
  size_t start, end;
  const char *p; /* replacement (NULL = delete) */
  size_t n;
};

static int cmp_edit(const void *a, const void *b) {
  const struct edit *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* The client's body with `model` replaced and sluice-only fields cut out, as slices of
 * the original bytes plus the new model value: nothing else is copied or re-encoded. */
static int build_body(struct sl_attempt *at, const struct sl_deployment *d) {
  struct sl_request *rq = at->rq;
  const struct sl_http_request *hr = rq->hr;
  if (at->uwire != rq->cwire) { /* another wire format: translate (the request's fault: -2) */
    if (rq->route != SL_R_CHAT && rq->route != SL_R_MESSAGES) {
      snprintf(at->xerr, sizeof at->xerr, "deployment %s speaks the Anthropic Messages API only", d->id);
      return -2;
    }
    struct sl_xlate_req_opts o = {.model = d->upstream_model};
    int rc = at->uwire == SL_WIRE_ANTHROPIC ? sl_xlate_oai_to_anth_request(rq->json, &o, &at->xbody, at->xerr, sizeof at->xerr)
                                            : sl_xlate_anth_to_oai_request(rq->json, &o, &at->xbody, at->xerr, sizeof at->xerr);
    if (rc) return rc == -EINVAL ? -2 : -1;
    at->body[0] = uv_buf_init(at->xbody.p, (unsigned)at->xbody.n);
    at->nbody = 1;
    return 0;
  }
  sl_buf_puts(&at->model_val, "\"");
  sl_buf_json_escape(&at->model_val, d->upstream_model, strlen(d->upstream_model));
  sl_buf_puts(&at->model_val, "\"");
  if (at->model_val.oom) return -1;
  struct edit e[2 + sizeof stripped_fields / sizeof stripped_fields[0]];
  _Static_assert(2 * sizeof e / sizeof e[0] + 1 <= sizeof at->body / sizeof at->body[0], "room for every slice");
  size_t ne = 0, s, en;
  bool ok = rq->usage_ask != SL_USAGE_ASK_RESERIALISE &&
            sl_json_top_field(hr->body, hr->body_len, "model", &s, &en) == 0;
  if (ok) e[ne++] = (struct edit){s, en, at->model_val.p, at->model_val.n};
  if (ok && rq->usage_ask == SL_USAGE_ASK_SPLICE && rq->inject.text)
    e[ne++] = (struct edit){rq->inject.at, rq->inject.at, rq->inject.text, rq->inject.len};
  for (size_t i = 0; ok && i < sizeof stripped_fields / sizeof stripped_fields[0]; i++) {
    /* the parsed body (duplicates refused) says whether the text has it: scan only then */
    if (!cJSON_GetObjectItemCaseSensitive(rq->json, stripped_fields[i])) continue;
    int rc = sl_json_top_member(hr->body, hr->body_len, stripped_fields[i], &s, &en);
    if (rc == 0) e[ne++] = (struct edit){s, en, NULL, 0};
    else if (rc != -ENOENT) ok = false;
  }
  if (ok) {
    qsort(e, ne, sizeof e[0], cmp_edit);
    size_t pos = 0;
    at->nbody = 0;
    for (size_t i = 0; i < ne; i++) {
      if (e[i].start < pos) { ok = false; break; } /* overlapping members cannot happen; be safe */
      at->body[at->nbody++] = uv_buf_init((char *)hr->body + pos, (unsigned)(e[i].start - pos));
      if (e[i].p) at->body[at->nbody++] = uv_buf_init((char *)e[i].p, (unsigned)e[i].n);
      pos = e[i].end;
    }
    if (ok) {
      at->body[at->nbody++] = uv_buf_init((char *)hr->body + pos, (unsigned)(hr->body_len - pos));
      return 0;
    }
  }
  /* Text the scanner will not walk (e.g. nesting deeper than it tracks): re-serialise. */
  cJSON *copy = cJSON_Duplicate(rq->json, 1);
  if (!copy) return -1;
  cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(d->upstream_model));
  for (size_t i = 0; i < sizeof stripped_fields / sizeof stripped_fields[0]; i++)
    cJSON_DeleteItemFromObjectCaseSensitive(copy, stripped_fields[i]);
  if (rq->usage_ask == SL_USAGE_ASK_SPLICE || rq->usage_ask == SL_USAGE_ASK_RESERIALISE) {
    cJSON *so = cJSON_CreateObject();
    cJSON_AddBoolToObject(so, "include_usage", 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "stream_options");
    cJSON_AddItemToObject(copy, "stream_options", so);
  }
  at->reserialised = cJSON_PrintUnformatted(copy);
  cJSON_Delete(copy);
  if (!at->reserialised) return -1;
  at->body[0] = uv_buf_init(at->reserialised, (unsigned)strlen(at->reserialised));
  at->nbody = 1;
  return 0;
}

int sl_attempt_request_build(struct sl_attempt *at, struct sl_header *hs, size_t *nhp) {
  struct sl_request *rq = at->rq;
  struct sl_worker *w = rq->w;
  const struct sl_deployment *d = &w->cfg->deployments[at->dep];
  int brc = build_body(at, d);
  if (brc) return brc;
  /* The provider's path and credentials, compiled at load (core/config/plan.h). */
  const struct sl_plan_dep *pd = &w->cfg->plan->deps[at->dep];
  enum sl_prov_route pr = rq->route == SL_R_COMPLETIONS ? SL_PROV_COMPLETIONS
                        : rq->route == SL_R_EMBEDDINGS  ? SL_PROV_EMBEDDINGS
                        : rq->route == SL_R_MESSAGES    ? SL_PROV_MESSAGES
                                                        : SL_PROV_CHAT;
  if (!pd->path[pr]) { /* a route the provider does not have */
    snprintf(at->xerr, sizeof at->xerr, "deployment %s does not serve this endpoint", d->id);
    return -2;
  }
  sl_buf_puts(&at->path, pd->path[pr]);
  size_t nh = 0;
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
  /* sluice reads every answer (usage, cache, translation): an encoded body is refused */
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Accept-Encoding"), SL_SLICE_LIT("identity")};
  hs[nh++] = rq->stream ? (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("text/event-stream")}
                        : (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("application/json")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")};
  for (const struct sl_prov_header *x = pd->ops->extra; x && x->name && nh < SL_ATTEMPT_MAX_HEADERS - 2; x++)
    hs[nh++] = (struct sl_header){{x->name, strlen(x->name)}, {x->value, strlen(x->value)}};
  if (at->uwire == SL_WIRE_ANTHROPIC && rq->cwire == SL_WIRE_ANTHROPIC) { /* the client's betas pass through */
    const struct sl_header *beta = sl_http_header_find(rq->hr->headers, rq->hr->nheaders, "anthropic-beta");
    if (beta) hs[nh++] = (struct sl_header){SL_SLICE_LIT("anthropic-beta"), beta->value};
  }
  if (pd->auth_value)
    hs[nh++] = (struct sl_header){{pd->auth_name, strlen(pd->auth_name)}, {pd->auth_value, pd->auth_value_len}};
  *nhp = nh;
  return at->path.oom ? -1 : 0;
}
