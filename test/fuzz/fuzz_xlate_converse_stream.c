/* libFuzzer target for the ConverseStream -> OpenAI SSE translator
 * (net/wire/xlate_bedrock.h). The input (after one control byte) is a list of events, one
 * a line: "<event type> <JSON payload>". Properties: the output is a sequence of complete
 * data-only SSE events, each a chat.completion.chunk with one id for the stream or an
 * error object, with [DONE] only as the last event and only on success; an error result
 * ends with an error event; results are 0, -EPROTO, -EINVAL, -EPIPE (or -ENOMEM); after a
 * non-zero result nothing more is written. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock.h"

static void check(const struct sl_buf *out, int rc) {
  const char *p = out->p, *end = out->p + out->n;
  char id[80] = "";
  bool done = false, last_error = false;
  while (p && p < end) {
    if (done) __builtin_trap(); /* nothing after [DONE] */
    const char *e = memmem(p, (size_t)(end - p), "\n\n", 2);
    if (!e || end - p < 6 || memcmp(p, "data: ", 6)) __builtin_trap();
    const char *d = p + 6;
    size_t dn = (size_t)(e - d);
    if (memchr(d, '\n', dn)) __builtin_trap();
    last_error = false;
    if (dn == 6 && !memcmp(d, "[DONE]", 6)) {
      done = true;
    } else {
      cJSON *j = cJSON_ParseWithLength(d, dn);
      if (!cJSON_IsObject(j)) __builtin_trap();
      if (cJSON_GetObjectItem(j, "error")) {
        last_error = true;
      } else {
        const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
        if (!cid || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "object")) ?: "", "chat.completion.chunk"))
          __builtin_trap();
        if (!id[0] && strlen(cid) < sizeof id)
          strcpy(id, cid);
        else if (strcmp(id, cid))
          __builtin_trap(); /* one id per stream */
      }
      cJSON_Delete(j);
    }
    p = e + 2;
  }
  if (done != (rc == 0)) __builtin_trap();
  if (rc < 0 && rc != -ENOMEM && !last_error) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct sl_xlate_resp_opts o = {.created = 3, .json_tool = data[0] & 1};
  struct sl_converse_stream *s;
  if (sl_converse_stream_new(&o, (data[0] & 2) ? NULL : "model", &s)) return 0;
  struct sl_buf out = {0};
  const char *p = (const char *)data + 1, *end = (const char *)data + size;
  int rc = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(le - p));
    const char *type = p;
    size_t tn = sp ? (size_t)(sp - p) : (size_t)(le - p);
    const char *pl = sp ? sp + 1 : le;
    /* copies: reads past the end are caught */
    char *t = malloc(tn + 1), *q = malloc((size_t)(le - pl) + 1);
    if (t && q) {
      memcpy(t, type, tn);
      memcpy(q, pl, (size_t)(le - pl));
      size_t before = out.n;
      int r = sl_converse_stream_event(s, t, tn, q, (size_t)(le - pl), &out);
      if (rc && (r != rc || out.n != before)) __builtin_trap(); /* sticky and silent */
      if (r != 0 && r != -EPROTO && r != -EINVAL && r != -ENOMEM) __builtin_trap();
      if (!rc) rc = r;
    }
    free(t);
    free(q);
    p = nl ? nl + 1 : end;
  }
  struct sl_xlate_usage u;
  size_t before = out.n;
  int r = sl_converse_stream_finish(s, &out, &u);
  if (rc && (r != rc || out.n != before)) __builtin_trap();
  if (!rc) rc = r;
  if (rc != 0 && rc != -EPROTO && rc != -EINVAL && rc != -EPIPE && rc != -ENOMEM) __builtin_trap();
  if (!out.oom) check(&out, rc);
  sl_buf_free(&out);
  sl_converse_stream_free(s);
  return 0;
}
