/* libFuzzer target for the OpenAI -> Anthropic whole-response translator (net/xlate.h).
 * Any input gives 0, -EBADMSG or -ENOMEM, never a crash or a read outside the input
 * (copied into an exact-size heap block). An accepted body must come out as an
 * Anthropic message (content array of typed blocks, tool_use inputs objects, a
 * stop_reason, usage counts never negative for input), and that message must translate
 * back to a chat.completion. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  struct sl_buf out = {0}, back = {0};
  struct sl_xlate_usage u;
  int rc = sl_xlate_oai_to_anth_response(buf, size, NULL, &out, &u);
  if (rc == 0) {
    cJSON *j = cJSON_ParseWithLength(out.p, out.n);
    const cJSON *blk;
    if (!j || !cJSON_IsString(cJSON_GetObjectItem(j, "stop_reason"))) __builtin_trap();
    cJSON_ArrayForEach(blk, cJSON_GetObjectItem(j, "content")) {
      const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(blk, "type"));
      if (!t) __builtin_trap();
      if (!strcmp(t, "tool_use") && !cJSON_IsObject(cJSON_GetObjectItem(blk, "input"))) __builtin_trap();
    }
    if (u.input < 0 && u.known) __builtin_trap();
    cJSON_Delete(j);
    int r2 = sl_xlate_anth_to_oai_response(out.p, out.n, NULL, &back, NULL);
    if (r2 != 0 && r2 != -ENOMEM) __builtin_trap();
  } else if (rc != -EBADMSG && rc != -ENOMEM) {
    __builtin_trap();
  }
  sl_buf_free(&out);
  sl_buf_free(&back);
  free(buf);
  return 0;
}
