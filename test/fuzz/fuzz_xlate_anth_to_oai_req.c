/* libFuzzer target for the Anthropic -> OpenAI request translator (net/xlate.h). The
 * input (after one control byte choosing the options) is parsed as JSON and translated.
 * The result is one of 0 / -EINVAL (with a message) / -ENOMEM; an accepted request must
 * come out as a chat request in shape: model, messages whose roles are system / user /
 * assistant / tool, tool messages with a tool_call_id and string content, tool_calls
 * with string arguments that parse as JSON, and stream_options only with stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

static void check_output(const char *p, size_t n) {
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!cJSON_IsObject(j) || !cJSON_IsString(cJSON_GetObjectItem(j, "model"))) __builtin_trap();
  const cJSON *msgs = cJSON_GetObjectItem(j, "messages"), *m, *tc;
  if (!cJSON_IsArray(msgs)) __builtin_trap();
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    const cJSON *c = cJSON_GetObjectItem(m, "content");
    if (!role) __builtin_trap();
    if (!strcmp(role, "tool")) {
      if (!cJSON_IsString(cJSON_GetObjectItem(m, "tool_call_id")) || !cJSON_IsString(c)) __builtin_trap();
    } else if (!strcmp(role, "assistant")) {
      if (!cJSON_IsString(c) && !cJSON_IsNull(c)) __builtin_trap();
      cJSON_ArrayForEach(tc, cJSON_GetObjectItem(m, "tool_calls")) {
        const char *args = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments"));
        cJSON *a = args ? cJSON_Parse(args) : NULL;
        if (!a) __builtin_trap();
        cJSON_Delete(a);
      }
    } else if (strcmp(role, "user") && strcmp(role, "system")) {
      __builtin_trap();
    } else if (!cJSON_IsString(c) && !cJSON_IsArray(c)) {
      __builtin_trap();
    }
  }
  if (cJSON_GetObjectItem(j, "stream_options") && !cJSON_IsTrue(cJSON_GetObjectItem(j, "stream"))) __builtin_trap();
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct sl_xlate_req_opts o = {.model = (data[0] & 1) ? "gpt-x" : NULL, .max_completion_tokens = data[0] & 2};
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  struct sl_buf out = {0};
  char err[256] = "";
  int rc = sl_xlate_anth_to_oai_request(req, (data[0] & 4) ? NULL : &o, &out, err, sizeof err);
  if (rc == 0) check_output(out.p, out.n);
  else if (rc == -EINVAL && err[0] == 0) __builtin_trap();
  else if (rc != -EINVAL && rc != -ENOMEM) __builtin_trap();
  sl_buf_free(&out);
  cJSON_Delete(req);
  return 0;
}
