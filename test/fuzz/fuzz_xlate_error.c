/* libFuzzer target for the error translators (net/xlate.h). The first two bytes are an
 * HTTP status, the rest an upstream error body of any shape (copied into an exact-size
 * heap block). Both client formats must get a well-formed error: OpenAI
 * {"error":{"message","type",...}} and Anthropic {"type":"error","error":{"type",
 * "message"}} with non-empty strings; and the in-band stream event built from the
 * status must frame as one SSE event. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

static void check(enum sl_wire w, const char *p, size_t n) {
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!j) __builtin_trap();
  const cJSON *e = cJSON_GetObjectItem(j, "error");
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
  if (!type || !type[0] || !msg) __builtin_trap();
  if (w == SL_WIRE_ANTHROPIC && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "type")) ?: "", "error"))
    __builtin_trap();
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int status = (data[0] << 8 | data[1]) % 1000;
  size_t n = size - 2;
  char *buf = malloc(n ? n : 1);
  if (!buf) return 0;
  memcpy(buf, data + 2, n);
  for (int w = 0; w < 2; w++) {
    struct sl_buf out = {0};
    if (sl_xlate_error_body((enum sl_wire)w, status, buf, n, &out) == 0) check((enum sl_wire)w, out.p, out.n);
    sl_buf_free(&out);
    sl_xlate_error_event((enum sl_wire)w, status, NULL, "m", NULL, &out);
    if (!out.oom && (out.n < 2 || memcmp(out.p + out.n - 2, "\n\n", 2) || memmem(out.p, out.n - 2, "\n\n", 2)))
      __builtin_trap();
    sl_buf_free(&out);
  }
  free(buf);
  return 0;
}
