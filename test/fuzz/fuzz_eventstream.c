/* libFuzzer target for the AWS event-stream decoder (net/wire/eventstream.h). Input: a
 * control byte (max_frame: 16 + a small bound, or 1 MiB), two cut-seed bytes, then the
 * stream. Properties:
 *  - the frames delivered and the result are the same fed whole, split at two points
 *    chosen by the seed, and byte by byte (short inputs);
 *  - re-encoding each decoded frame (sl_es_encode_typed) gives exactly its input bytes
 *    (the format leaves no freedom), so the re-encodings concatenated are a prefix of the
 *    input, all of it when the feed succeeded and the decoder is idle;
 *  - each re-encoding decodes again to itself;
 *  - a failed decoder stays failed; nothing leaks (ASan). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire/eventstream.h"

struct rec {
  struct sl_buf cat; /* the re-encoded frames */
  size_t frames;
};

static int record(void *ud, const struct sl_es_msg *m) {
  struct rec *r = ud;
  if (sl_es_encode_typed(&r->cat, m->h, m->nh, m->payload, m->payload_len) != 0) __builtin_trap();
  /* the pointers are inside the frame and readable (ASan checks the reads) */
  volatile unsigned x = 0;
  for (size_t i = 0; i < m->nh; i++) {
    if (!m->h[i].name_len || m->h[i].type > 9) __builtin_trap();
    for (size_t k = 0; k < m->h[i].name_len; k++) x += (unsigned char)m->h[i].name[k];
    for (size_t k = 0; k < m->h[i].value_len; k++) x += (unsigned char)m->h[i].value[k];
  }
  const struct sl_es_header *f = sl_es_header_find(m, ":event-type");
  if (f && (f->type != 6 && f->type != 7)) __builtin_trap();
  (void)x;
  r->frames++;
  return 0;
}

static int run(const char *in, size_t n, size_t max, size_t c1, size_t c2, size_t step, struct rec *r, bool *idle) {
  struct sl_es_decoder *d;
  if (sl_es_decoder_new(max, &d)) __builtin_trap();
  memset(r, 0, sizeof *r);
  int rc = 0;
  size_t i = 0;
  if (step) {
    for (; i < n && !rc; i += step) rc = sl_es_decoder_feed(d, in + i, n - i < step ? n - i : step, record, r);
  } else {
    rc = sl_es_decoder_feed(d, in, c1, record, r);
    if (!rc) rc = sl_es_decoder_feed(d, in + c1, c2 - c1, record, r);
    if (!rc) rc = sl_es_decoder_feed(d, in + c2, n - c2, record, r);
  }
  if (rc && rc != -EBADMSG) __builtin_trap();
  *idle = sl_es_decoder_idle(d);
  if (rc) { /* stays failed */
    size_t frames = r->frames;
    static const char empty[16] = "\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff";
    if (sl_es_decoder_feed(d, empty, 16, record, r) != rc || r->frames != frames) __builtin_trap();
  }
  sl_es_decoder_free(d);
  return rc;
}

static int same(const struct sl_buf *a, const struct sl_buf *b) {
  return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static int redecode_one(void *ud, const struct sl_es_msg *m) {
  struct sl_buf *b = ud;
  return sl_es_encode_typed(b, m->h, m->nh, m->payload, m->payload_len) ? -EINVAL : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  size_t max = data[0] & 1 ? 1u << 20 : 16 + (size_t)data[0] * 4;
  size_t n = size - 3;
  char *in = malloc(n ? n : 1); /* exact size: ASan sees any read past the end */
  if (!in) return 0;
  memcpy(in, data + 3, n);
  size_t c1 = n ? data[1] % (n + 1) : 0, c2 = n ? data[2] % (n + 1) : 0;
  if (c2 < c1) {
    size_t t = c1;
    c1 = c2;
    c2 = t;
  }
  struct rec a, b, c;
  bool ia, ib, ic = true;
  int ra = run(in, n, max, n, n, 0, &a, &ia);
  int rb = run(in, n, max, c1, c2, 0, &b, &ib);
  if (ra != rb || a.frames != b.frames || !same(&a.cat, &b.cat)) __builtin_trap();
  if (!ra && ia != ib) __builtin_trap();
  if (n <= 2048) {
    int rc = run(in, n, max, 0, 0, 1, &c, &ic);
    if (rc != ra || c.frames != a.frames || !same(&a.cat, &c.cat)) __builtin_trap();
    sl_buf_free(&c.cat);
  }
  /* the re-encodings are the input's own bytes */
  if (a.cat.n > n || (a.cat.n && memcmp(a.cat.p, in, a.cat.n))) __builtin_trap();
  if (!ra && ia && a.cat.n != n) __builtin_trap();
  /* and decode again to themselves */
  if (a.cat.n) {
    struct sl_es_decoder *d;
    struct sl_buf again = {0};
    if (sl_es_decoder_new(max, &d)) __builtin_trap();
    if (sl_es_decoder_feed(d, a.cat.p, a.cat.n, redecode_one, &again) || !sl_es_decoder_idle(d)) __builtin_trap();
    if (!same(&again, &a.cat)) __builtin_trap();
    sl_es_decoder_free(d);
    sl_buf_free(&again);
  }
  sl_buf_free(&a.cat);
  sl_buf_free(&b.cat);
  free(in);
  return 0;
}
