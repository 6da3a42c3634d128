/* libFuzzer target for the filters of a stream's chain fed with frames (net/wire/sse.h's
 * framer): sl_xlate_stream_frame and sl_oai_asm_feed_frame must give what the same
 * filters give when they frame the bytes themselves (sl_xlate_stream_feed,
 * sl_oai_asm_feed_bytes) - same output bytes and result, same assembled completion -
 * however the framer's input is split. Input: a control byte (bit 0: translation
 * direction), a cut byte, then the upstream SSE bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/oai_stream.h"
#include "net/wire/sse.h"
#include "net/wire/xlate.h"

struct ctx {
  struct sl_xlate_stream *xs;
  struct sl_buf out;
  struct sl_oai_asm *a;
};

static int on_frame(void *ud, const struct sl_sse_frame *fr) {
  struct ctx *c = ud;
  sl_oai_asm_feed_frame(c->a, fr);
  return 0;
}

static int on_frame_x(void *ud, const struct sl_sse_frame *fr) {
  struct ctx *c = ud;
  return sl_xlate_stream_frame(c->xs, fr, &c->out);
}

static void finish_asm(struct sl_oai_asm *a, int *rc, struct sl_buf *json, bool *complete) {
  char *j = NULL;
  size_t len = 0;
  *complete = false;
  *rc = sl_oai_asm_finish(a, &j, &len, complete);
  if (j) sl_buf_append(json, j, len);
  free(j);
  sl_oai_asm_free(a);
}

static int same(const struct sl_buf *a, const struct sl_buf *b) {
  return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  enum sl_xlate_dir dir = data[0] & 1 ? SL_XLATE_OAI_TO_ANTH : SL_XLATE_ANTH_TO_OAI;
  const char *in = (const char *)data + 2;
  size_t n = size - 2, cut = n ? data[1] % (n + 1) : 0;
  struct sl_xlate_resp_opts o = {1700000000, (data[0] & 2) != 0};

  /* the translator framing for itself */
  struct sl_xlate_stream *ref;
  if (sl_xlate_stream_new(dir, &o, &ref)) return 0;
  struct sl_buf want = {0};
  sl_xlate_stream_feed(ref, in, cut, &want);
  sl_xlate_stream_feed(ref, in + cut, n - cut, &want);
  int want_rc = sl_xlate_stream_finish(ref, &want);
  sl_xlate_stream_free(ref);

  /* the same bytes framed once, the translator fed frames (split elsewhere) */
  struct ctx c = {0};
  if (sl_xlate_stream_new(dir, &o, &c.xs)) return 0;
  struct sl_sse_framer f;
  sl_sse_framer_init(&f, 0);
  size_t cut2 = n - cut;
  sl_sse_framer_feed(&f, in, cut2, on_frame_x, &c);
  sl_sse_framer_feed(&f, in + cut2, n - cut2, on_frame_x, &c);
  sl_sse_framer_finish(&f, on_frame_x, &c);
  int got_rc = sl_xlate_stream_finish_framed(c.xs, &c.out);
  sl_sse_framer_free(&f);
  sl_xlate_stream_free(c.xs);
  if (got_rc != want_rc || !same(&c.out, &want)) __builtin_trap();
  sl_buf_free(&want);
  sl_buf_free(&c.out);

  /* the assembler: bytes vs frames */
  struct sl_oai_asm *a1, *a2;
  if (sl_oai_asm_new(&a1)) return 0;
  if (sl_oai_asm_new(&a2)) {
    sl_oai_asm_free(a1);
    return 0;
  }
  sl_oai_asm_feed_bytes(a1, in, cut);
  sl_oai_asm_feed_bytes(a1, in + cut, n - cut);
  struct ctx d = {.a = a2};
  sl_sse_framer_init(&f, 0);
  for (size_t i = 0; i < n; i++) sl_sse_framer_feed(&f, in + i, 1, on_frame, &d); /* byte by byte */
  sl_sse_framer_finish(&f, on_frame, &d);
  sl_sse_framer_free(&f);
  int r1, r2;
  bool c1, c2;
  struct sl_buf j1 = {0}, j2 = {0};
  finish_asm(a1, &r1, &j1, &c1);
  finish_asm(a2, &r2, &j2, &c2);
  if (r1 != r2 || c1 != c2 || !same(&j1, &j2)) __builtin_trap();
  sl_buf_free(&j1);
  sl_buf_free(&j2);
  return 0;
}
