/* libFuzzer target for the OpenAI -> Anthropic stream translator (net/xlate.h). The
 * input (after one control byte) is an upstream SSE byte stream. Properties: the output
 * does not depend on how the input is split (whole, cut where the control byte says,
 * byte by byte); it is a sequence of complete named SSE events whose name equals the
 * data's type; and it keeps the order the official SDK relies on: message_start first,
 * content blocks started with consecutive indexes one at a time and each stopped once,
 * deltas only to started blocks, message_delta carrying usage.output_tokens, and
 * message_stop last with no block open, exactly when the result is SL_XLATE_END; an
 * error result ends with an error event. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"
#include "net/wire/xlate.h"

struct order {
  int n, blocks, open; /* open: index of the open block, -1 none */
  bool started, delta, stopped, last_error;
};

static int on_event(void *ud, const struct sl_sse_event *ev) {
  struct order *o = ud;
  if (o->stopped || o->last_error) __builtin_trap(); /* nothing after message_stop or an error */
  o->n++;
  cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(j, "type"));
  if (!type || strcmp(type, ev->event)) __builtin_trap();
  const cJSON *ix = cJSON_GetObjectItem(j, "index");
  int i = cJSON_IsNumber(ix) ? ix->valueint : -1;
  if (!strcmp(type, "error")) {
    o->last_error = true;
  } else if (!strcmp(type, "message_start")) {
    if (o->started || !cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "message"), "usage"))) __builtin_trap();
    o->started = true;
  } else if (!o->started || o->delta) {
    __builtin_trap(); /* everything else after message_start and before message_delta */
  } else if (!strcmp(type, "content_block_start")) {
    if (o->open >= 0 || i != o->blocks) __builtin_trap();
    o->open = o->blocks++;
  } else if (!strcmp(type, "content_block_delta")) {
    if (i < 0 || i >= o->blocks) __builtin_trap();
  } else if (!strcmp(type, "content_block_stop")) {
    if (i != o->open) __builtin_trap();
    o->open = -1;
  } else if (!strcmp(type, "message_delta")) {
    if (o->open >= 0 || !cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "output_tokens")))
      __builtin_trap();
    o->delta = true;
  } else {
    __builtin_trap();
  }
  cJSON_Delete(j);
  return 0;
}

static int on_last(void *ud, const struct sl_sse_event *ev) {
  struct order *o = ud;
  if (strcmp(ev->event, "message_stop") || !o->delta || o->stopped) __builtin_trap();
  o->stopped = true;
  return 0;
}

static int dispatch(void *ud, const struct sl_sse_event *ev) {
  return ev->event_len == 12 && !memcmp(ev->event, "message_stop", 12) ? on_last(ud, ev) : on_event(ud, ev);
}

static int run(const char *p, size_t n, size_t first, size_t step, struct sl_buf *out) {
  struct sl_xlate_stream *s;
  if (sl_xlate_stream_new(SL_XLATE_OAI_TO_ANTH, NULL, &s)) return -ENOMEM;
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
  if (rc && (r2 != rc || out->n != before)) __builtin_trap();
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
  struct sl_buf a = {0}, b = {0}, c = {0};
  int ra = run(buf, n, 0, 0, &a);
  int rb = run(buf, n, data[0], 0, &b);
  int rc = run(buf, n, 0, 1, &c);
  if (!a.oom && !b.oom && !c.oom) {
    if (ra != rb || ra != rc || a.n != b.n || a.n != c.n || memcmp(a.p, b.p, a.n) || memcmp(a.p, c.p, a.n))
      __builtin_trap();
    if (ra != SL_XLATE_END && ra != -EPROTO && ra != -EBADMSG && ra != -EPIPE) __builtin_trap();
    struct order o = {.open = -1};
    struct sl_sse p;
    sl_sse_init(&p, 0);
    if (sl_sse_feed(&p, a.p ? a.p : "", a.n, dispatch, &o)) __builtin_trap();
    int before = o.n + o.stopped;
    if (sl_sse_finish(&p, dispatch, &o) || o.n + o.stopped != before) __builtin_trap(); /* complete events only */
    sl_sse_free(&p);
    if (o.stopped != (ra == SL_XLATE_END)) __builtin_trap();
    if (ra < 0 && !o.last_error) __builtin_trap();
  }
  sl_buf_free(&a);
  sl_buf_free(&b);
  sl_buf_free(&c);
  free(buf);
  return 0;
}
