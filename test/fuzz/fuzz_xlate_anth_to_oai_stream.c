/* libFuzzer target for the Anthropic -> OpenAI stream translator (net/xlate.h). The
 * input (after one control byte) is an upstream SSE byte stream. Properties: the output
 * does not depend on how the input is split (whole, cut where the control byte says,
 * byte by byte: same bytes, same result); it is a sequence of complete data-only SSE
 * events, each a chat.completion.chunk or an error object, with [DONE] only as the last
 * event and only when the result is SL_XLATE_END; an error result ends with an error
 * event; and nothing is written after the result is known. Run with and without
 * o.json_tool. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"
#include "net/wire/xlate.h"

struct seen {
  int n;
  bool done, last_error;
};

static int on_event(void *ud, const struct sl_sse_event *ev) {
  struct seen *s = ud;
  if (s->done || ev->event_len) __builtin_trap(); /* nothing after [DONE]; OpenAI events have no name */
  s->n++;
  s->last_error = false;
  if (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)) {
    s->done = true;
    return 0;
  }
  cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
  if (!cJSON_IsObject(j)) __builtin_trap();
  if (cJSON_GetObjectItem(j, "error")) s->last_error = true;
  else if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "object")) ?: "", "chat.completion.chunk"))
    __builtin_trap();
  cJSON_Delete(j);
  return 0;
}

static int run(const char *p, size_t n, size_t first, size_t step, bool usage, bool json_tool, struct sl_buf *out) {
  struct sl_xlate_resp_opts o = {.created = 7, .include_usage = usage, .json_tool = json_tool};
  struct sl_xlate_stream *s;
  if (sl_xlate_stream_new(SL_XLATE_ANTH_TO_OAI, &o, &s)) return -ENOMEM;
  int rc = 0;
  size_t i = 0;
  if (first > n) first = n;
  if (first) rc = sl_xlate_stream_feed(s, p, first, out), i = first;
  while (!rc && i < n) {
    size_t k = step && n - i > step ? step : n - i;
    rc = sl_xlate_stream_feed(s, p + i, k, out);
    i += k;
  }
  size_t before = out->n;
  int r2 = sl_xlate_stream_finish(s, out);
  if (rc && (r2 != rc || out->n != before)) __builtin_trap(); /* sticky, silent after the end */
  if (!rc) rc = r2;
  sl_xlate_stream_free(s);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t n = size - 1;
  char *buf = malloc(n ? n : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, n);
  bool usage = data[0] & 1;
  for (int json_tool = 0; json_tool < 2; json_tool++) { /* response_format's tool as content, or not */
    struct sl_buf a = {0}, b = {0}, c = {0};
    int ra = run(buf, n, 0, 0, usage, json_tool, &a);
    int rb = run(buf, n, data[0] >> 1, 0, usage, json_tool, &b);
    int rc = run(buf, n, 0, 1, usage, json_tool, &c);
    if (!a.oom && !b.oom && !c.oom) {
      if (ra != rb || ra != rc || a.n != b.n || a.n != c.n || memcmp(a.p, b.p, a.n) || memcmp(a.p, c.p, a.n))
        __builtin_trap();
      if (ra != SL_XLATE_END && ra != -EPROTO && ra != -EBADMSG && ra != -EPIPE) __builtin_trap();
      struct seen s = {0};
      struct sl_sse p;
      sl_sse_init(&p, 0);
      size_t before = 0;
      if (sl_sse_feed(&p, a.p ? a.p : "", a.n, on_event, &s) || (before = (size_t)s.n, sl_sse_finish(&p, on_event, &s)))
        __builtin_trap();
      if ((size_t)s.n != before) __builtin_trap(); /* the output ended with a complete event */
      sl_sse_free(&p);
      if (s.done != (ra == SL_XLATE_END)) __builtin_trap();
      if (ra < 0 && !s.last_error) __builtin_trap();
    }
    sl_buf_free(&a);
    sl_buf_free(&b);
    sl_buf_free(&c);
  }
  free(buf);
  return 0;
}
