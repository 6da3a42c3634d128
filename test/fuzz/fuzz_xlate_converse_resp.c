/* libFuzzer target for the Bedrock answer-side rewrites (net/wire/xlate_bedrock.h): a
 * Converse answer -> an Anthropic message, a Bedrock error (status, type, body) -> an
 * OpenAI or Anthropic error body, one invoke stream chunk -> one Anthropic SSE event, and the Anthropic
 * body for invoke. The first byte picks the function and its options; the rest is the
 * body. Properties: the message is JSON with type message, an id msg_..., a content array
 * of typed blocks, a stop_reason and usage, or -EINVAL with usage unknown; the error body
 * is ALWAYS a JSON {"error":{message,type,code}} (OpenAI) or {"type":"error","error":
 * {type,message}} (Anthropic); a chunk gives exactly one
 * "event: T\ndata: <one JSON line>\n\n" or -EINVAL with nothing written; the invoke body
 * has anthropic_version and neither model nor stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock.h"

static void answer(const char *p, size_t n, uint8_t ctl) {
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  struct sl_xlate_resp_opts o = {.created = 5, .resp_id = (ctl & 8) ? "resp_00ff" : NULL};
  int rc = sl_xlate_converse_to_anth_response(p, n, &o, (ctl & 16) ? NULL : "m", &out, &u);
  if (rc == 0) {
    cJSON *j = cJSON_ParseWithLength(out.p, out.n);
    const cJSON *b, *content = cJSON_GetObjectItem(j, "content");
    if (!cJSON_IsObject(j) || !cJSON_IsArray(content) || !cJSON_IsObject(cJSON_GetObjectItem(j, "usage")) ||
        !cJSON_IsString(cJSON_GetObjectItem(j, "stop_reason")) ||
        strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")) ?: "", "message"))
      __builtin_trap();
    cJSON_ArrayForEach(b, content) if (!cJSON_IsString(cJSON_GetObjectItem(b, "type"))) __builtin_trap();
    if (strncmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")) ?: "", "msg_", 4)) __builtin_trap();
    cJSON_Delete(j);
  } else if (rc != -EINVAL && rc != -ENOMEM) {
    __builtin_trap();
  } else if (u.known) {
    __builtin_trap();
  }
  sl_buf_free(&out);
}

static void error(const char *p, size_t n, uint8_t ctl) {
  static const int statuses[] = {0, 400, 403, 404, 429, 500, 503, 418};
  /* the type is the body's first line when ctl says so */
  const char *nl = (ctl & 8) ? memchr(p, '\n', n) : NULL;
  const char *type = nl ? p : NULL;
  size_t tn = nl ? (size_t)(nl - p) : 0;
  if (nl) n -= tn + 1, p = nl + 1;
  struct sl_buf out = {0};
  bool anth = ctl & 4;
  int rc = anth ? sl_bedrock_error_to_anth(statuses[(ctl >> 4) & 7], type, tn, p, n, &out)
                : sl_bedrock_error_to_oai(statuses[(ctl >> 4) & 7], type, tn, p, n, &out);
  if (rc == 0) {
    cJSON *j = cJSON_ParseWithLength(out.p, out.n);
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    if (!cJSON_IsString(cJSON_GetObjectItem(e, "message")) || !cJSON_IsString(cJSON_GetObjectItem(e, "type")) ||
        (anth ? strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")) ?: "", "error")
              : !cJSON_GetObjectItem(e, "code")))
      __builtin_trap();
    cJSON_Delete(j);
  } else if (rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&out);
  (void)sl_bedrock_error_status(type, tn);
}

static void chunk(const char *p, size_t n) {
  struct sl_buf out = {0};
  int rc = sl_bedrock_invoke_chunk_to_sse(p, n, &out);
  if (rc == 0) {
    if (out.n < 16 || memcmp(out.p, "event: ", 7) || memcmp(out.p + out.n - 2, "\n\n", 2)) __builtin_trap();
    const char *nl = memchr(out.p, '\n', out.n);
    if (!nl || (size_t)(nl - out.p) + 7 > out.n || memcmp(nl + 1, "data: ", 6)) __builtin_trap();
    const char *data = nl + 7, *end = out.p + out.n - 2;
    if (memchr(data, '\n', (size_t)(end - data)) || memchr(data, '\r', (size_t)(end - data))) __builtin_trap();
    cJSON *j = cJSON_ParseWithLength(data, (size_t)(end - data));
    if (!cJSON_IsObject(j)) __builtin_trap();
    cJSON_Delete(j);
  } else if (rc == -EINVAL) {
    if (out.n) __builtin_trap();
  } else if (rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&out);
}

static void invoke_body(const char *p, size_t n) {
  struct sl_buf out = {0};
  bool stream;
  char err[128] = "";
  int rc = sl_anthropic_body_for_version(p, n, "bedrock-2023-05-31", &out, &stream, err, sizeof err);
  if (rc == 0) {
    cJSON *j = cJSON_ParseWithLength(out.p, out.n);
    /* case-sensitive, as the body's reader is: "Model" is another member (Bedrock refuses it) */
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "anthropic_version")) ||
        cJSON_GetObjectItemCaseSensitive(j, "model") || cJSON_GetObjectItemCaseSensitive(j, "stream"))
      __builtin_trap();
    cJSON_Delete(j);
  } else if (rc == -EINVAL ? !err[0] : rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t n = size - 1;
  char *p = malloc(n ? n : 1); /* a copy: reads past the end are caught */
  if (!p) return 0;
  memcpy(p, data + 1, n);
  switch (data[0] & 3) {
  case 0: answer(p, n, data[0]); break;
  case 1: error(p, n, data[0]); break;
  case 2: chunk(p, n); break;
  default: invoke_body(p, n); break;
  }
  free(p);
  return 0;
}
