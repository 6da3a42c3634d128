/* libFuzzer target for the Anthropic -> OpenAI whole-response translator (net/xlate.h).
 * Any input gives 0, -EBADMSG or -ENOMEM, never a crash or a read outside the input
 * (copied into an exact-size heap block). An accepted body must come out as a
 * chat.completion with one assistant choice and a finish_reason, and that completion
 * must translate back to an Anthropic message. Run with and without o.json_tool. */
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
  for (int json_tool = 0; json_tool < 2; json_tool++) { /* response_format's tool as content, or not */
    struct sl_buf out = {0}, back = {0};
    struct sl_xlate_resp_opts o = {.created = 1, .json_tool = json_tool};
    struct sl_xlate_usage u;
    int rc = sl_xlate_anth_to_oai_response(buf, size, &o, &out, &u);
    if (rc == 0) {
      cJSON *j = cJSON_ParseWithLength(out.p, out.n);
      const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
      const cJSON *m = cJSON_GetObjectItem(ch, "message");
      if (!j || !cJSON_IsString(cJSON_GetObjectItem(ch, "finish_reason"))) __builtin_trap();
      if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "role")) ?: "", "assistant")) __builtin_trap();
      cJSON_Delete(j);
      int r2 = sl_xlate_oai_to_anth_response(out.p, out.n, NULL, &back, NULL);
      if (r2 != 0 && r2 != -ENOMEM) __builtin_trap();
    } else if (rc != -EBADMSG && rc != -ENOMEM) {
      __builtin_trap();
    }
    sl_buf_free(&out);
    sl_buf_free(&back);
  }
  free(buf);
  return 0;
}
