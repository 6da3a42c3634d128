/* libFuzzer target for the Anthropic Messages -> Bedrock Converse request translator
 * (net/wire/xlate_bedrock.h). The input (after one control byte choosing the model) is
 * parsed as JSON (an Anthropic request) and translated. The result is 0 / -EINVAL (with a message) / -ENOMEM; an
 * accepted request must come out as a Converse body in shape: no model in it, turns
 * alternating user/assistant with non-empty content arrays of one-key blocks, system an
 * array of blocks, toolConfig with at least one tool when present, additionalModelRequestFields
 * only for a Claude model. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock.h"

static void check_output(const char *p, size_t n, bool claude) {
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!cJSON_IsObject(j) || cJSON_GetObjectItem(j, "model")) __builtin_trap();
  const cJSON *msgs = cJSON_GetObjectItem(j, "messages"), *m, *b;
  if (!cJSON_IsArray(msgs)) __builtin_trap();
  const char *prev = NULL;
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) __builtin_trap();
    if (prev && !strcmp(prev, role)) __builtin_trap(); /* turns alternate */
    prev = role;
    const cJSON *c = cJSON_GetObjectItem(m, "content");
    if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) == 0) __builtin_trap();
    cJSON_ArrayForEach(b, c) if (!cJSON_IsObject(b) || cJSON_GetArraySize(b) != 1) __builtin_trap();
  }
  const cJSON *sys = cJSON_GetObjectItem(j, "system");
  if (sys && (!cJSON_IsArray(sys) || cJSON_GetArraySize(sys) == 0)) __builtin_trap();
  const cJSON *tc = cJSON_GetObjectItem(j, "toolConfig");
  if (tc && cJSON_GetArraySize(cJSON_GetObjectItem(tc, "tools")) == 0) __builtin_trap();
  if (cJSON_GetObjectItem(j, "additionalModelRequestFields") && !claude) __builtin_trap();
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  static const char *const models[] = {NULL, "anthropic.claude-3-7-sonnet", "amazon.nova-pro-v1:0", "meta.llama3"};
  struct sl_xlate_req_opts o = {.model = models[data[0] & 3], .default_max_tokens = (data[0] & 4) ? 100 : 0};
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  struct sl_buf out = {0};
  char err[256] = "";
  const struct sl_xlate_req_opts *op = (data[0] & 8) ? NULL : &o;
  int rc = sl_xlate_anth_to_converse_request(req, op, &out, err, sizeof err);
  const char *model = op && op->model ? op->model : cJSON_GetStringValue(cJSON_GetObjectItem(req, "model"));
  bool claude = model && (strstr(model, "claude") || strstr(model, "anthropic"));
  if (rc == 0)
    check_output(out.p, out.n, claude);
  else if (rc == -EINVAL && err[0] == 0)
    __builtin_trap();
  else if (rc != -EINVAL && rc != -ENOMEM)
    __builtin_trap();
  sl_buf_free(&out);
  cJSON_Delete(req);
  return 0;
}
