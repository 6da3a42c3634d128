/* libFuzzer target for the incremental SSE parser (net/sse.h). The property: the events
 * do not depend on how the bytes are split. The input is parsed whole, split at a point
 * chosen by its first byte, and byte by byte; the three event lists must be identical,
 * every event's data NUL-terminated, and the parser must return, never read outside the
 * input (copied into an exact-size heap block) and never leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"

static int record(void *ud, const struct sl_sse_event *ev) {
  struct sl_buf *b = ud;
  if (ev->data[ev->data_len] != 0) __builtin_trap();
  sl_buf_printf(b, "%zu:", ev->event_len);
  sl_buf_append(b, ev->event, ev->event_len);
  sl_buf_printf(b, "|%zu:", ev->data_len);
  sl_buf_append(b, ev->data, ev->data_len);
  sl_buf_printf(b, "|%zu:", ev->id_len);
  sl_buf_append(b, ev->id, ev->id_len);
  sl_buf_printf(b, "|%ld;", ev->retry_ms);
  return 0;
}

/* Feeds buf in pieces of `step` bytes (0: one piece, else the first piece is `first`). */
static int run(const char *buf, size_t len, size_t first, size_t step, struct sl_buf *out) {
  struct sl_sse p;
  sl_sse_init(&p, 4096);
  int rc = 0;
  size_t i = 0;
  if (first > len) first = len;
  if (first) {
    rc = sl_sse_feed(&p, buf, first, record, out);
    i = first;
  }
  while (!rc && i < len) {
    size_t k = step && len - i > step ? step : len - i;
    rc = sl_sse_feed(&p, buf + i, k, record, out);
    i += k;
  }
  if (!rc) rc = sl_sse_finish(&p, record, out);
  sl_buf_printf(out, "rc=%d", rc);
  sl_sse_free(&p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t cut = data[0];
  char *buf = malloc(size - 1 ? size - 1 : 1);
  if (!buf) return 0;
  memcpy(buf, data + 1, size - 1);
  size_t len = size - 1;
  struct sl_buf a = {0}, b = {0}, c = {0};
  run(buf, len, 0, 0, &a);
  run(buf, len, cut, 0, &b);
  run(buf, len, 0, 1, &c);
  if (!a.oom && !b.oom && !c.oom)
    if (a.n != b.n || a.n != c.n || memcmp(a.p, b.p, a.n) || memcmp(a.p, c.p, a.n)) __builtin_trap();
  sl_buf_free(&a);
  sl_buf_free(&b);
  sl_buf_free(&c);
  free(buf);
  return 0;
}
