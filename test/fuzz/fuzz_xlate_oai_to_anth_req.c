/* libFuzzer target for the OpenAI -> Anthropic request translator (net/xlate.h). The
 * input (after one control byte choosing the options) is parsed as JSON and translated.
 * The result is one of 0 / -EINVAL (with a message) / -ENOMEM; an accepted request must
 * come out as a Messages request the API would take in shape (model, max_tokens, turns
 * alternating user/assistant with non-empty content) and must translate back to the
 * OpenAI format without a refusal: the translator never emits what its reverse rejects. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

static void check_output(const char *p, size_t n) {
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!cJSON_IsObject(j)) __builtin_trap();
  if (!cJSON_IsString(cJSON_GetObjectItem(j, "model"))) __builtin_trap();
  if (!cJSON_IsNumber(cJSON_GetObjectItem(j, "max_tokens"))) __builtin_trap();
  const cJSON *msgs = cJSON_GetObjectItem(j, "messages"), *m;
  if (!cJSON_IsArray(msgs)) __builtin_trap();
  const char *prev = NULL;
  cJSON_ArrayForEach(m, msgs) {
    const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(m, "role"));
    if (!role || (strcmp(role, "user") && strcmp(role, "assistant"))) __builtin_trap();
    if (prev && !strcmp(prev, role)) __builtin_trap(); /* turns alternate */
    prev = role;
    const cJSON *c = cJSON_GetObjectItem(m, "content");
    if (cJSON_IsString(c) ? c->valuestring[0] == 0 : cJSON_GetArraySize(c) == 0) __builtin_trap();
  }
  struct sl_buf back = {0};
  char err[256];
  int rc = sl_xlate_anth_to_oai_request(j, NULL, &back, err, sizeof err);
  if (rc != 0 && rc != -ENOMEM) __builtin_trap();
  sl_buf_free(&back);
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct sl_xlate_req_opts o = {.model = (data[0] & 1) ? "claude-x" : NULL,
                                .default_max_tokens = (data[0] & 2) ? 100 : 0};
  cJSON *req = cJSON_ParseWithLength((const char *)data + 1, size - 1);
  struct sl_buf out = {0};
  char err[256] = "";
  int rc = sl_xlate_oai_to_anth_request(req, (data[0] & 4) ? NULL : &o, &out, err, sizeof err);
  if (rc == 0) check_output(out.p, out.n);
  else if (rc == -EINVAL && err[0] == 0) __builtin_trap();
  else if (rc != -EINVAL && rc != -ENOMEM) __builtin_trap();
  sl_buf_free(&out);
  cJSON_Delete(req);
  return 0;
}
