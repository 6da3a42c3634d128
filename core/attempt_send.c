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

#include "core/cascade.h"
#include "core/dialect.h"
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

/* Whether an OpenAI-format request asks for a JSON answer (response_format json_schema or
 * json_object): in front of Anthropic that becomes a forced tool (xlate.h). */
static bool wants_json(const cJSON *req) {
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req, "response_format");
  const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rf, "type"));
  return t && (strcmp(t, "json_schema") == 0 || strcmp(t, "json_object") == 0);
}

static int body_is_xbody(struct sl_attempt *at) {
  if (at->xbody.oom) return -1;
  at->body[0] = uv_buf_init(at->xbody.p, (unsigned)at->xbody.n);
  at->nbody = 1;
  return 0;
}

/* A Responses request for a deployment that does not speak the Responses API: a chat
 * request, then (an Anthropic deployment) the Messages request of that. */
static int build_responses(struct sl_attempt *at, const struct sl_deployment *d) {
  struct sl_request *rq = at->rq;
  const cJSON *prev = cJSON_GetObjectItemCaseSensitive(rq->json, "previous_response_id");
  if (cJSON_IsString(prev)) { /* not in sluice's store: only a native deployment may know it */
    snprintf(at->xerr, sizeof at->xerr, "Previous response with id '%.200s' not found.", prev->valuestring);
    return -2;
  }
  struct sl_xlate_req_opts o = {.model = sl_attempt_model(at)};
  cJSON *chat = NULL;
  int rc = sl_xlate_resp_to_chat_request(rq->json, &o, &chat, at->xerr, sizeof at->xerr);
  if (!rc && at->uwire == SL_WIRE_ANTHROPIC) {
    at->json_tool = wants_json(chat);
    rc = sl_xlate_oai_to_anth_request(chat, &o, &at->xbody, at->xerr, sizeof at->xerr);
  } else if (!rc) {
    char *t = cJSON_PrintUnformatted(chat);
    if (t) sl_buf_puts(&at->xbody, t);
    else rc = -ENOMEM;
    free(t);
  }
  cJSON_Delete(chat);
  if (rc) return rc == -EINVAL ? -2 : -1;
  return body_is_xbody(at);
}

/* A multipart body: the model field's value replaced, the rest (the file) as it came. */
static int build_multipart(struct sl_attempt *at, const struct sl_deployment *d) {
  struct sl_request *rq = at->rq;
  const struct sl_http_request *hr = rq->hr;
  at->body[0] = uv_buf_init((char *)hr->body, (unsigned)rq->mp_vs);
  const char *model = sl_attempt_model(at);
  at->body[1] = uv_buf_init((char *)model, (unsigned)strlen(model));
  at->body[2] = uv_buf_init((char *)hr->body + rq->mp_ve, (unsigned)(hr->body_len - rq->mp_ve));
  at->nbody = 3;
  return 0;
}

/* The client's body with `model` replaced and sluice-only fields cut out, as slices of
 * the original bytes plus the new model value: nothing else is copied or re-encoded. */
static int build_body_from(struct sl_attempt *at, const struct sl_deployment *d, const cJSON *req, bool changed) {
  struct sl_request *rq = at->rq;
  const struct sl_http_request *hr = rq->hr;
  if (rq->multipart) return build_multipart(at, d);
  if (rq->route == SL_R_RESPONSES && at->uwire != SL_WIRE_RESPONSES) return build_responses(at, d);
  if (at->uwire != rq->cwire) { /* another wire format: translate (the request's fault: -2) */
    if (rq->route != SL_R_CHAT && rq->route != SL_R_MESSAGES) {
      snprintf(at->xerr, sizeof at->xerr, "deployment %s does not serve this endpoint (it speaks %s)", d->id,
               at->uwire == SL_WIRE_ANTHROPIC ? "the Anthropic Messages API only" : "the OpenAI format");
      return -2;
    }
    at->json_tool = at->uwire == SL_WIRE_ANTHROPIC && wants_json(req);
    struct sl_xlate_req_opts o = {.model = sl_attempt_model(at)};
    int rc = at->uwire == SL_WIRE_ANTHROPIC ? sl_xlate_oai_to_anth_request(req, &o, &at->xbody, at->xerr, sizeof at->xerr)
                                            : sl_xlate_anth_to_oai_request(req, &o, &at->xbody, at->xerr, sizeof at->xerr);
    if (rc) return rc == -EINVAL ? -2 : -1;
    return body_is_xbody(at);
  }
  sl_buf_puts(&at->model_val, "\"");
  sl_buf_json_escape(&at->model_val, sl_attempt_model(at), strlen(sl_attempt_model(at)));
  sl_buf_puts(&at->model_val, "\"");
  if (at->model_val.oom) return -1;
  struct edit e[2 + sizeof stripped_fields / sizeof stripped_fields[0]];
  _Static_assert(2 * sizeof e / sizeof e[0] + 1 <= sizeof at->body / sizeof at->body[0], "room for every slice");
  size_t ne = 0, s, en;
  bool ok = rq->usage_ask != SL_USAGE_ASK_RESERIALISE && !rq->resp_reserialise && !changed &&
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
  cJSON *copy = cJSON_Duplicate(req, 1);
  if (!copy) return -1;
  cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(sl_attempt_model(at)));
  for (size_t i = 0; i < sizeof stripped_fields / sizeof stripped_fields[0]; i++)
    cJSON_DeleteItemFromObjectCaseSensitive(copy, stripped_fields[i]);
  if ((rq->usage_ask == SL_USAGE_ASK_SPLICE || rq->usage_ask == SL_USAGE_ASK_RESERIALISE) && !at->held) {
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

/* The provider route a client route reaches on a deployment of format uwire. */
static enum sl_prov_route prov_route(enum sl_route r, enum sl_wire uwire) {
  switch (r) {
  case SL_R_COMPLETIONS: return SL_PROV_COMPLETIONS;
  case SL_R_EMBEDDINGS: return SL_PROV_EMBEDDINGS;
  case SL_R_MESSAGES: return SL_PROV_MESSAGES;
  case SL_R_RESPONSES: return uwire == SL_WIRE_RESPONSES ? SL_PROV_RESPONSES
                              : uwire == SL_WIRE_ANTHROPIC ? SL_PROV_MESSAGES
                                                           : SL_PROV_CHAT;
  case SL_R_COUNT_TOKENS: return SL_PROV_COUNT_TOKENS;
  case SL_R_MODERATIONS: return SL_PROV_MODERATIONS;
  case SL_R_RERANK: return SL_PROV_RERANK;
  case SL_R_IMAGES: return SL_PROV_IMAGES;
  case SL_R_SPEECH: return SL_PROV_SPEECH;
  case SL_R_TRANSCRIPTIONS: return SL_PROV_TRANSCRIPTIONS;
  default: return SL_PROV_CHAT;
  }
}

/* The body for this attempt: the client's, or the cascade's version of it
 * (core/cascade.h: a checked step asks for a whole answer, and logprobs). */
static int build_body(struct sl_attempt *at, const struct sl_deployment *d) {
  cJSON *alt = sl_cascade_request(at);
  int rc = build_body_from(at, d, alt ? alt : at->rq->json, alt != NULL);
  cJSON_Delete(alt);
  return rc;
}

int sl_attempt_request_build(struct sl_attempt *at, struct sl_header *hs, size_t *nhp) {
  struct sl_request *rq = at->rq;
  struct sl_worker *w = rq->w;
  const struct sl_deployment *d = &w->cfg->deployments[at->dep];
  if (sl_wild_attempt_prepare(at)) return -1; /* a wildcard's model for this request */
  int brc = build_body(at, d);
  if (brc) return brc;
  /* The provider's path and credentials, compiled at load (core/config/plan.h). */
  const struct sl_plan_dep *pd = &w->cfg->plan->deps[at->dep];
  enum sl_prov_route pr = prov_route(rq->route, at->uwire);
  if (!pd->dialect && !pd->path[pr]) { /* a route the provider does not have */
    snprintf(at->xerr, sizeof at->xerr, "deployment %s does not serve this endpoint", d->id);
    return -2;
  }
  if (pd->dialect) {
    /* the dialect builds the path (core/dialect.c) */
  } else if (at->wild_model) { /* a wildcard's path holds this request's model (Azure's does) */
    int pn = sl_provider_path(d->ops, pr, NULL, d->base_path, at->wild_model, d->api_version, NULL, 0);
    char *p = pn < 0 ? NULL : sl_arena_alloc(rq->arena, (size_t)pn + 1);
    if (!p) return -1;
    sl_provider_path(d->ops, pr, NULL, d->base_path, at->wild_model, d->api_version, p, (size_t)pn + 1);
    sl_buf_append(&at->path, p, (size_t)pn);
  } else {
    sl_buf_puts(&at->path, pd->path[pr]);
  }
  size_t nh = 0;
  const struct sl_header *ct = rq->multipart ? sl_http_header_find(rq->hr->headers, rq->hr->nheaders, "content-type") : NULL;
  hs[nh++] = ct ? (struct sl_header){SL_SLICE_LIT("Content-Type"), ct->value} /* its boundary */
                : (struct sl_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
  /* sluice reads every answer (usage, cache, translation): an encoded body is refused */
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("Accept-Encoding"), SL_SLICE_LIT("identity")};
  bool audio = rq->route == SL_R_SPEECH || rq->route == SL_R_TRANSCRIPTIONS; /* audio, or text as asked */
  hs[nh++] = rq->stream && !at->held ? (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("text/event-stream")}
             : audio    ? (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("*/*")}
                        : (struct sl_header){SL_SLICE_LIT("Accept"), SL_SLICE_LIT("application/json")};
  hs[nh++] = (struct sl_header){SL_SLICE_LIT("User-Agent"), SL_SLICE_LIT("sluice/0.1")};
  for (const struct sl_prov_header *x = pd->ops->extra; x && x->name && nh < SL_ATTEMPT_MAX_HEADERS - 4; x++)
    hs[nh++] = (struct sl_header){{x->name, strlen(x->name)}, {x->value, strlen(x->value)}};
  /* the client's betas pass through to Anthropic's API and Claude on Vertex; Bedrock (Converse,
   * invoke) knows no anthropic-beta header */
  bool bedrock = pd->dialect == SL_DIALECT_BEDROCK_CONVERSE || pd->dialect == SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC;
  if (at->uwire == SL_WIRE_ANTHROPIC && rq->cwire == SL_WIRE_ANTHROPIC && !bedrock) {
    const struct sl_header *beta = sl_http_header_find(rq->hr->headers, rq->hr->nheaders, "anthropic-beta");
    if (beta) hs[nh++] = (struct sl_header){SL_SLICE_LIT("anthropic-beta"), beta->value};
  }
  if (pd->auth_value)
    hs[nh++] = (struct sl_header){{pd->auth_name, strlen(pd->auth_name)}, {pd->auth_value, pd->auth_value_len}};
  nh += sl_trace_attempt_headers(at, hs + nh); /* W3C trace context (core/trace.c) */
  if (pd->dialect) { /* Bedrock, Vertex AI: the provider's body, path and credentials */
    int drc = sl_dialect_request(at, pr, hs, &nh, SL_ATTEMPT_MAX_HEADERS);
    if (drc) return drc;
  }
  *nhp = nh;
  return at->path.oom ? -1 : 0;
}
