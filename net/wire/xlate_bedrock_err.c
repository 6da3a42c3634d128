/* Bedrock's vocabularies and the small Bedrock body rewrites: the stopReason table (to
 * Anthropic's stop_reason), usage, the error-name table, Bedrock error bodies -> OpenAI and
 * Anthropic error bodies, the Anthropic Messages body
 * for invoke / rawPredict (anthropic_version instead of model and stream), and one
 * invoke-with-response-stream chunk {"bytes":"<base64>"} -> one Anthropic SSE event. The one
 * idea: what Bedrock names its own way is a table row here, so a new stop reason or
 * exception name is one line. */
#include <errno.h>
#include <mbedtls/base64.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/wire/xlate_bedrock_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- stopReason -> stop_reason, ids, usage ---- */

static const struct {
  const char *bedrock, *anth;
} reasons[] = {
    {"end_turn", "end_turn"},
    {"stop_sequence", "stop_sequence"},
    {"max_tokens", "max_tokens"},
    {"model_context_window_exceeded", "model_context_window_exceeded"},
    {"tool_use", "tool_use"},
    {"guardrail_intervened", "refusal"},
    {"content_filtered", "refusal"},
};

const char *sl__bedrock_stop_reason(const char *stop_reason) {
  for (size_t i = 0; stop_reason && i < N(reasons); i++)
    if (strcmp(reasons[i].bedrock, stop_reason) == 0) return reasons[i].anth;
  return "end_turn";
}

void sl__bedrock_msg_id(char out[64], const struct sl_xlate_resp_opts *o, const void *seed, size_t n) {
  const char *rid = o ? o->resp_id : NULL;
  if (rid && strncmp(rid, "resp_", 5) == 0 && rid[5] && strlen(rid) < 40) {
    snprintf(out, 64, "msg_%s", rid + 5);
    return;
  }
  /* two FNV-1a 64 lanes over (created, seed) */
  uint64_t h1 = 1469598103934665603ull, h2 = 0x9e3779b97f4a7c15ull;
  int64_t created = o ? o->created : 0;
  const unsigned char *p = (const unsigned char *)&created;
  for (size_t i = 0; i < sizeof created; i++)
    h1 = (h1 ^ p[i]) * 1099511628211ull, h2 = (h2 ^ p[i]) * 0x100000001b3ull + 7;
  p = seed;
  for (size_t i = 0; p && i < n; i++) h1 = (h1 ^ p[i]) * 1099511628211ull, h2 = (h2 ^ p[i]) * 0x100000001b3ull + 7;
  snprintf(out, 64, "msg_bdrk_%016llx%08llx", (unsigned long long)h1, (unsigned long long)(h2 & 0xffffffffu));
}

void sl__bedrock_usage(const cJSON *usage, struct sl_xlate_usage *u) {
  static const struct {
    const char *key;
    size_t off;
  } fields[] = {
      {"inputTokens", offsetof(struct sl_xlate_usage, input)},
      {"outputTokens", offsetof(struct sl_xlate_usage, output)},
      {"cacheReadInputTokens", offsetof(struct sl_xlate_usage, cache_read)},
      {"cacheWriteInputTokens", offsetof(struct sl_xlate_usage, cache_creation)},
  };
  if (!cJSON_IsObject(usage)) return;
  u->known = true;
  for (size_t i = 0; i < N(fields); i++) /* present counters are totals: they overwrite */
    if (cJSON_IsNumber(sl__xlate_get(usage, fields[i].key)))
      *(int64_t *)((char *)u + fields[i].off) = sl__xlate_getint(usage, fields[i].key);
}

/* ---- errors ---- */

/* Bedrock error names (x-amzn-ErrorType, :exception-type; the stream's are lowerCamel) ->
 * OpenAI type and code, and the status Bedrock gives them. */
static const struct {
  const char *name, *type, *code;
  int status;
} errs[] = {
    {"ValidationException", "invalid_request_error", NULL, 400},
    {"AccessDeniedException", "permission_error", NULL, 403},
    {"UnrecognizedClientException", "authentication_error", NULL, 403},
    {"InvalidSignatureException", "authentication_error", NULL, 403},
    {"IncompleteSignatureException", "authentication_error", NULL, 403},
    {"MissingAuthenticationTokenException", "authentication_error", NULL, 403},
    {"ExpiredTokenException", "authentication_error", NULL, 403},
    {"ResourceNotFoundException", "not_found_error", NULL, 404},
    {"ModelTimeoutException", "timeout_error", NULL, 408},
    {"ThrottlingException", "rate_limit_error", "rate_limit_exceeded", 429},
    {"TooManyRequestsException", "rate_limit_error", "rate_limit_exceeded", 429},
    {"ServiceQuotaExceededException", "rate_limit_error", "rate_limit_exceeded", 429},
    {"ModelNotReadyException", "service_unavailable", NULL, 503},
    {"ServiceUnavailableException", "service_unavailable", NULL, 503},
    {"InternalServerException", "api_error", NULL, 500},
    {"ModelErrorException", "api_error", NULL, 424},
    {"ModelStreamErrorException", "api_error", NULL, 424},
};

bool sl__bedrock_err_name(const char *name, size_t n, const char **type, const char **code, int *status) {
  if (!name) return false;
  const char *colon = memchr(name, ':', n); /* "ValidationException:http://internal.amazon.com/..." */
  if (colon) n = (size_t)(colon - name);
  for (size_t i = 0; i < N(errs); i++)
    if (strlen(errs[i].name) == n && strncasecmp(errs[i].name, name, n) == 0) {
      if (type) *type = errs[i].type;
      if (code) *code = errs[i].code;
      if (status) *status = errs[i].status;
      return true;
    }
  return false;
}

/* By status, when the name says nothing. */
static const char *status_type(int status) {
  static const struct {
    int status;
    const char *type;
  } t[] = {{400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
           {404, "not_found_error"},       {408, "timeout_error"},        {429, "rate_limit_error"},
           {503, "service_unavailable"}};
  for (size_t i = 0; i < N(t); i++)
    if (t[i].status == status) return t[i].type;
  return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

static const char *const context_phrases[] = {"too long", "context length", "context window", "too many tokens",
                                              "too many input tokens"};

int sl_bedrock_error_to_oai(int status, const char *type, size_t tn, const char *body, size_t n, struct sl_buf *out) {
  const char *otype = NULL, *code = NULL;
  int dflt = 0;
  bool known = sl__bedrock_err_name(type, type ? tn : 0, &otype, &code, &dflt);
  if (!known) otype = status_type(status ? status : 500);
  cJSON *j = body && n ? cJSON_ParseWithLength(body, n) : NULL;
  const char *msg = sl__xlate_getstr(j, "message");
  if (!msg) msg = sl__xlate_getstr(j, "Message");
  if (!msg) msg = sl__xlate_getstr(sl__xlate_get(j, "error"), "message");
  char generic[160];
  if (!msg) {
    int st = status ? status : dflt;
    if (st)
      snprintf(generic, sizeof generic, "Bedrock returned an error (HTTP %d%s%.*s)", st, type && tn ? ", " : "",
               type ? (int)(tn > 80 ? 80 : tn) : 0, type ? type : "");
    else /* a stream exception of a name not in the table */
      snprintf(generic, sizeof generic, "Bedrock returned an error (%.*s)", type && tn ? (int)(tn > 80 ? 80 : tn) : 7,
               type && tn ? type : "unknown");
    msg = generic;
  }
  if (!code && strcmp(otype, "invalid_request_error") == 0)
    for (size_t i = 0; i < N(context_phrases); i++)
      if (strcasestr(msg, context_phrases[i])) code = "context_length_exceeded";
  char name[96] = "";
  if (!code && known) { /* the exception's name, without its ":..." suffix */
    const char *colon = memchr(type, ':', tn);
    size_t k = colon ? (size_t)(colon - type) : tn;
    snprintf(name, sizeof name, "%.*s", (int)(k > 90 ? 90 : k), type);
    code = name;
  }
  sl_buf_puts(out, "{\"error\":{\"message\":");
  sl__xlate_put_jstr(out, msg);
  sl_buf_puts(out, ",\"type\":");
  sl__xlate_put_jstr(out, otype);
  sl_buf_puts(out, ",\"param\":null,\"code\":");
  sl__xlate_put_jstr(out, code);
  sl_buf_puts(out, "}}");
  cJSON_Delete(j);
  return out->oom ? -ENOMEM : 0;
}

int sl_bedrock_error_to_anth(int status, const char *type, size_t tn, const char *body, size_t n, struct sl_buf *out) {
  struct sl_buf oai = {0};
  int rc = sl_bedrock_error_to_oai(status, type, tn, body, n, &oai);
  if (!rc) rc = sl_xlate_error_body(SL_WIRE_ANTHROPIC, status ? status : 500, oai.p, oai.n, out);
  sl_buf_free(&oai);
  return rc ? rc : out->oom ? -ENOMEM : 0;
}

int sl_bedrock_error_status(const char *type, size_t tn) {
  int st = 0;
  return sl__bedrock_err_name(type, tn, NULL, NULL, &st) ? st : 0;
}

/* ---- Anthropic on Bedrock / Vertex ---- */

int sl_anthropic_body_for_version(const char *body, size_t n, const char *version, struct sl_buf *out, bool *stream,
                                  char *err, size_t errlen) {
  struct sl_xl x = {0, err, errlen};
  if (err && errlen) err[0] = 0;
  if (stream) *stream = false;
  cJSON *j = body && n ? cJSON_ParseWithLength(body, n) : NULL;
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return sl__xlate_bad(&x, "the request body must be a JSON object");
  }
  const cJSON *s = sl__xlate_get(j, "stream");
  if (stream) *stream = cJSON_IsTrue(s);
  cJSON_DeleteItemFromObjectCaseSensitive(j, "model");
  cJSON_DeleteItemFromObjectCaseSensitive(j, "stream");
  const cJSON *v = sl__xlate_get(j, "anthropic_version");
  if (v && !cJSON_IsString(v))
    sl__xlate_bad(&x, "anthropic_version must be a string");
  else if (!v)
    sl__xlate_add_str(&x, j, "anthropic_version", version ? version : "bedrock-2023-05-31");
  sl__xlate_print(&x, j, out);
  cJSON_Delete(j);
  return x.rc;
}

int sl_bedrock_invoke_chunk_to_sse(const char *payload, size_t n, struct sl_buf *out) {
  cJSON *j = payload && n ? cJSON_ParseWithLength(payload, n) : NULL;
  const char *b64 = sl__xlate_getstr(j, "bytes");
  int rc = -EINVAL;
  size_t bl = b64 ? strlen(b64) : 0, dl = 0;
  unsigned char *dec = bl ? malloc(bl / 4 * 3 + 4) : NULL;
  if (bl && !dec) rc = -ENOMEM;
  if (dec && mbedtls_base64_decode(dec, bl / 4 * 3 + 4, &dl, (const unsigned char *)b64, bl) == 0 && dl) {
    cJSON *ev = cJSON_ParseWithLength((const char *)dec, dl);
    const char *type = sl__xlate_getstr(ev, "type");
    /* the event name is one SSE line: a type holding a line break is not Anthropic's */
    if (cJSON_IsObject(ev) && type && type[0] && !strpbrk(type, "\r\n")) {
      sl_buf_puts(out, "event: ");
      sl_buf_puts(out, type);
      sl_buf_puts(out, "\ndata: ");
      if (memchr(dec, '\n', dl) || memchr(dec, '\r', dl) || memchr(dec, 0, dl)) { /* one line */
        char *t = cJSON_PrintUnformatted(ev);
        if (t)
          sl_buf_puts(out, t);
        else
          out->oom = true;
        cJSON_free(t);
      } else {
        sl_buf_append(out, dec, dl);
      }
      sl_buf_puts(out, "\n\n");
      rc = out->oom ? -ENOMEM : 0;
    }
    cJSON_Delete(ev);
  }
  free(dec);
  cJSON_Delete(j);
  return rc;
}
