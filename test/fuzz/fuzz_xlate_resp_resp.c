/* libFuzzer target for chat.completion -> Responses `response` object (net/wire/xlate.h,
 * sl_xlate_chat_to_resp_response). The input (after one control byte: whether a client
 * request is echoed) is the upstream body. The result is 0 / -EBADMSG / -ENOMEM; an
 * accepted body gives a response object in shape (id, object "response", status
 * completed or incomplete, output items each a message / reasoning / function_call with
 * string ids and the fields the SDKs require), the usage given back matches the
 * object's, and the object replays (sl_xlate_resp_replay) into a well-formed stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate.h"

static const char *nz(const char *s) { return s ? s : ""; }

static const char *str(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void check_output(const char *p, size_t n, const struct sl_xlate_usage *u) {
  cJSON *j = cJSON_ParseWithLength(p, n);
  if (!cJSON_IsObject(j) || !str(j, "id") || strcmp(nz(str(j, "object")), "response")) __builtin_trap();
  const char *status = str(j, "status");
  if (!status || (strcmp(status, "completed") && strcmp(status, "incomplete"))) __builtin_trap();
  const cJSON *it, *c;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "output")) {
    const char *t = str(it, "type");
    if (!t || !str(it, "id")) __builtin_trap();
    if (!strcmp(t, "message")) {
      cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(it, "content")) {
        const char *ct = str(c, "type");
        if (!ct) __builtin_trap();
        if (!strcmp(ct, "output_text") &&
            (!str(c, "text") || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c, "annotations"))))
          __builtin_trap();
      }
    } else if (!strcmp(t, "function_call")) {
      if (!str(it, "call_id") || !str(it, "name") || !str(it, "arguments") || !str(it, "status")) __builtin_trap();
    } else if (strcmp(t, "reasoning") || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(it, "summary"))) {
      __builtin_trap();
    }
  }
  const cJSON *us = cJSON_GetObjectItemCaseSensitive(j, "usage");
  if (u->known != cJSON_IsObject(us)) __builtin_trap();
  if (u->known) {
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(us, "input_tokens");
    if (!cJSON_IsNumber(in) || (int64_t)in->valuedouble != u->input + u->cache_read || u->input < 0) __builtin_trap();
  }
  struct sl_buf r = {0};
  int rc = sl_xlate_resp_replay(p, n, NULL, &r);
  if (rc != 0 && rc != -ENOMEM) __builtin_trap();
  sl_buf_free(&r);
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  cJSON *req =
      (data[0] & 1) ? cJSON_Parse("{\"model\":\"m\",\"input\":\"x\",\"tools\":[],\"metadata\":{\"a\":\"b\"}}") : NULL;
  struct sl_xlate_resp_opts o = {.created = 1, .resp_req = req, .resp_id = (data[0] & 2) ? "resp_1" : NULL};
  struct sl_buf out = {0};
  struct sl_xlate_usage u;
  int rc = sl_xlate_chat_to_resp_response((const char *)data + 1, size - 1, &o, &out, &u);
  if (rc == 0)
    check_output(out.p, out.n, &u);
  else if (rc != -EBADMSG && rc != -ENOMEM)
    __builtin_trap();
  sl_buf_free(&out);
  cJSON_Delete(req);
  return 0;
}
