/* libFuzzer target for the SSE framer (net/wire/sse.h, sl_sse_framer_*), the one framing
 * of a stream's filter chain. Input: a control byte (max_event: 0 = default, else
 * 4 << (b % 8)), a cut byte, then the stream bytes. Properties:
 *  - the frames' raw bytes, concatenated, are exactly the input (nothing lost or added);
 *  - the frames (kind, raw, event, data) are the same whole, split at the cut, and
 *    byte by byte;
 *  - an EVENT frame with one data line has its data inside its raw bytes, at data_off;
 *    with several, its data is NUL-terminated;
 *  - every frame's pointers stay valid until the next call (checked by reading them
 *    all in the callback, under ASan), nothing leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/sse.h"

struct rec {
  struct sl_buf frames, cat;
};

static int record(void *ud, const struct sl_sse_frame *fr) {
  struct rec *r = ud;
  sl_buf_printf(&r->frames, "%d:%zu:", (int)fr->kind, fr->raw_len);
  sl_buf_append(&r->frames, fr->raw, fr->raw_len);
  sl_buf_append(&r->cat, fr->raw, fr->raw_len);
  if (fr->kind == SL_SSE_EVENT) {
    sl_buf_printf(&r->frames, "|%zu:", fr->event_len);
    sl_buf_append(&r->frames, fr->event, fr->event_len);
    sl_buf_printf(&r->frames, "|%zu:%zu:", fr->data_lines, fr->data_len);
    if (fr->data) sl_buf_append(&r->frames, fr->data, fr->data_len);
    if (fr->data_lines == 1 &&
        (fr->data_off + fr->data_len > fr->raw_len || fr->data != fr->raw + fr->data_off))
      __builtin_trap();
    if (fr->data_lines > 1 && fr->data[fr->data_len] != 0) __builtin_trap();
    if (!fr->data_lines && fr->data) __builtin_trap();
  }
  sl_buf_puts(&r->frames, ";");
  return 0;
}

static void run(const char *in, size_t n, size_t max, size_t first, size_t step, struct rec *r) {
  struct sl_sse_framer f;
  sl_sse_framer_init(&f, max);
  memset(r, 0, sizeof *r);
  size_t i = 0;
  if (first > n) first = n;
  if (first) {
    if (sl_sse_framer_feed(&f, in, first, record, r)) __builtin_trap();
    i = first;
  }
  while (i < n) {
    size_t k = step && n - i > step ? step : n - i;
    if (sl_sse_framer_feed(&f, in + i, k, record, r)) __builtin_trap();
    i += k;
  }
  if (sl_sse_framer_finish(&f, record, r)) __builtin_trap();
  sl_sse_framer_free(&f);
}

static int same(const struct sl_buf *a, const struct sl_buf *b) {
  return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t max = data[0] ? (size_t)4 << (data[0] % 8) : 0;
  size_t n = size - 2;
  size_t cut = n ? data[1] % (n + 1) : 0;
  char *in = malloc(n ? n : 1); /* exact size: ASan sees any read past the end */
  if (!in) return 0;
  memcpy(in, data + 2, n);
  struct rec a, b, c;
  run(in, n, max, 0, 0, &a);
  run(in, n, max, cut, 0, &b);
  run(in, n, max, 0, 1, &c);
  if (a.cat.n != n || (n && memcmp(a.cat.p, in, n))) __builtin_trap();
  if (!same(&a.cat, &b.cat) || !same(&a.cat, &c.cat)) __builtin_trap();
  /* OVERSIZE frames come as the bytes arrive, so only their concatenation is split-free;
   * without a bound, every frame is. */
  if (!max && (!same(&a.frames, &b.frames) || !same(&a.frames, &c.frames))) __builtin_trap();
  sl_buf_free(&a.frames);
  sl_buf_free(&a.cat);
  sl_buf_free(&b.frames);
  sl_buf_free(&b.cat);
  sl_buf_free(&c.frames);
  sl_buf_free(&c.cat);
  free(in);
  return 0;
}
