/* libFuzzer target for the Responses -> chat request translator (net/wire/xlate.h,
 * sl_xlate_resp_to_chat_request). The input (after one control byte choosing the
 * options) is parsed as JSON and translated. The result is one of 0 / -EINVAL (with a
 * message) / -ENOMEM; an accepted request must come out as a chat request in shape:
 * model, messages whose roles are system / developer / user / assistant / tool, tool
 * messages with a tool_call_id and string content, assistant tool_calls with an id and
 * string name and arguments, function tools only, and stream_options only with stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

static const char *nz(const char *s) { return s ? s : ""; }

static void check_output(const cJSON *j) {
  if (!cJSON_IsObject(j) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "model"))) __builtin_trap();
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages"), *m, *tc, *t;
  if (!cJSON_IsArray(msgs)) __builtin_trap();
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!role) __builtin_trap();
    if (!strcmp(role, "tool")) {
      if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "tool_call_id")) || !cJSON_IsString(c)) __builtin_trap();
    } else if (!strcmp(role, "assistant")) {
      if (!cJSON_IsString(c) && !cJSON_IsNull(c) && !cJSON_IsArray(c)) __builtin_trap();
      cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tc, "id")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "name")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "arguments")))
          __builtin_trap();
      }
    } else if (strcmp(role, "user") && strcmp(role, "system") && strcmp(role, "developer")) {
      __builtin_trap();
    } else if (!cJSON_IsString(c) && !cJSON_IsArray(c)) {
      __builtin_trap();
    }
  }
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(j, "tools")) {
    if (strcmp(nz(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"))), "function")) __builtin_trap();
  }
  if (cJSON_GetObjectItemCaseSensitive(j, "stream_options") &&
      !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream")))
    __builtin_trap();
  if (cJSON_GetObjectItemCaseSensitive(j, "previous_response_id") || cJSON_GetObjectItemCaseSensitive(j, "input"))
    __builtin_trap();
  char *s = cJSON_PrintUnformatted(j); /* the tree prints (the caller sends it) */
  if (!s) __builtin_trap();
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct sl_xlate_req_opts o = {.model = (data[0] & 1) ? "gpt-x" : NULL, .max_completion_tokens = data[0] & 2};
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  cJSON *out = NULL;
  char err[256] = "";
  int rc = sl_xlate_resp_to_chat_request(req, (data[0] & 4) ? NULL : &o, &out, err, sizeof err);
  if (rc == 0)
    check_output(out);
  else if (out)
    __builtin_trap();
  else if (rc == -EINVAL && err[0] == 0)
    __builtin_trap();
  else if (rc != -EINVAL && rc != -ENOMEM)
    __builtin_trap();
  cJSON_Delete(out);
  cJSON_Delete(req);
  return 0;
}
