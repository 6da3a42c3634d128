/* libFuzzer target for the ConverseStream -> Anthropic SSE translator
 * (net/wire/xlate_bedrock.h). The input (after one control byte) is a list of events, one
 * a line: "<event type> <JSON payload>". Properties: the output is a sequence of complete
 * "event: T\ndata: <one JSON line>\n\n" events whose data's type is T; message_start
 * first (or an error), content_block_delta / _stop only for the one block open, block
 * indexes starting at 0 and rising by one; message_stop only as the last event and only on
 * success (after one message_delta); an error result ends with an error event; results are
 * 0, -EPROTO, -EINVAL, -EPIPE (or -ENOMEM); after a non-zero result nothing more is
 * written. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/xlate_bedrock.h"

static void check(const struct sl_buf *out, int rc) {
  const char *p = out->p, *end = out->p + out->n;
  bool done = false, last_error = false, began = false, deltas = false;
  int open = -1, next = 0;
  while (p && p < end) {
    if (done) __builtin_trap(); /* nothing after message_stop */
    const char *e = memmem(p, (size_t)(end - p), "\n\n", 2);
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!e || end - p < 7 || memcmp(p, "event: ", 7) || !nl || nl >= e || e - nl < 7 || memcmp(nl + 1, "data: ", 6))
      __builtin_trap();
    const char *d = nl + 7;
    size_t dn = (size_t)(e - d), tn = (size_t)(nl - p - 7);
    if (memchr(d, '\n', dn)) __builtin_trap();
    cJSON *j = cJSON_ParseWithLength(d, dn);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "type"));
    if (!t || strlen(t) != tn || memcmp(t, p + 7, tn)) __builtin_trap();
    const cJSON *ix = cJSON_GetObjectItem(j, "index");
    int idx = cJSON_IsNumber(ix) ? ix->valueint : -2;
    last_error = !strcmp(t, "error");
    if (!last_error && !began && strcmp(t, "message_start")) __builtin_trap();
    if (!strcmp(t, "message_start")) {
      if (began) __builtin_trap();
      began = true;
    } else if (!strcmp(t, "content_block_start")) {
      if (open >= 0 || idx != next++) __builtin_trap();
      open = idx;
    } else if (!strcmp(t, "content_block_delta")) {
      if (open < 0 || idx != open) __builtin_trap();
    } else if (!strcmp(t, "content_block_stop")) {
      if (open < 0 || idx != open) __builtin_trap();
      open = -1;
    } else if (!strcmp(t, "message_delta")) {
      if (open >= 0 || deltas) __builtin_trap();
      deltas = true;
    } else if (!strcmp(t, "message_stop")) {
      if (!deltas) __builtin_trap();
      done = true;
    } else if (!last_error) {
      __builtin_trap();
    }
    cJSON_Delete(j);
    p = e + 2;
  }
  if (done != (rc == 0)) __builtin_trap();
  if (rc < 0 && rc != -ENOMEM && !last_error) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct sl_xlate_resp_opts o = {.created = 3, .resp_id = (data[0] & 1) ? "resp_0a" : NULL};
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
