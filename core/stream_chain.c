/* The stream filter chain; see stream_chain.h. Per upstream read: reset the slice list,
 * frame the input (each frame down the filters), then one write of all the slices.
 * Adjacent slices that touch in memory are merged, so a passthrough read is one slice. */
#include "core/stream_chain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sl_stream_chain_init(struct sl_stream_chain *ch, struct sl_xlate_stream *xs, struct sl_usage_filter *uf,
                          const struct sl_stream_sink *sink) {
  memset(ch, 0, sizeof *ch);
  sl_sse_framer_init(&ch->fr, 0);
  ch->xs = xs;
  ch->uf = xs ? NULL : uf;
  ch->forward_input = !xs && (!uf || !uf->flags);
  ch->sink = *sink;
}

void sl_stream_chain_free(struct sl_stream_chain *ch) {
  sl_sse_framer_free(&ch->fr);
  sl_buf_free(&ch->xout);
  free(ch->out);
  ch->out = NULL;
  ch->nout = ch->capout = 0;
}

static void push(struct sl_stream_chain *ch, const char *p, size_t n) {
  if (!n) return;
  if (ch->nout && ch->out[ch->nout - 1].p + ch->out[ch->nout - 1].n == p) {
    ch->out[ch->nout - 1].n += n;
    return;
  }
  if (ch->nout == ch->capout) {
    size_t cap = ch->capout ? 2 * ch->capout : 16;
    struct sl_iov *o = realloc(ch->out, cap * sizeof *o);
    if (!o) {
      ch->err = -ENOMEM;
      return;
    }
    ch->out = o;
    ch->capout = cap;
  }
  ch->out[ch->nout++] = (struct sl_iov){p, n};
}

static int on_frame(void *ud, const struct sl_sse_frame *fr) {
  struct sl_stream_chain *ch = ud;
  if (ch->xs) /* translate: its result is sticky, and stops the framing once it is set */
    return sl_xlate_stream_frame(ch->xs, fr, &ch->xout);
  if (ch->sink.tee_frame) ch->sink.tee_frame(ch->sink.ud, fr);
  if (ch->uf) {
    struct sl_iov v[2];
    size_t k = sl_usage_filter_frame(ch->uf, fr, v);
    if (!ch->forward_input)
      for (size_t i = 0; i < k; i++) push(ch, v[i].p, v[i].n);
  }
  return 0;
}

static int settle(struct sl_stream_chain *ch, int rc) {
  if (rc < 0 && ch->uf && !ch->uf->err) ch->uf->err = rc; /* the framer ran out of memory */
  if (ch->xs && ch->xout.n) {
    if (ch->sink.tee_bytes) ch->sink.tee_bytes(ch->sink.ud, ch->xout.p, ch->xout.n);
    push(ch, ch->xout.p, ch->xout.n);
  }
  if (ch->err && ch->uf && !ch->uf->err) ch->uf->err = ch->err;
  if (ch->nout && ch->sink.write) ch->sink.write(ch->sink.ud, ch->out, ch->nout);
  ch->nout = 0;
  ch->xout.n = 0;
  if (ch->xs) {
    if (ch->xout.oom) return -ENOMEM;
    return rc;
  }
  return 0;
}

int sl_stream_chain_feed(struct sl_stream_chain *ch, const char *p, size_t n) {
  ch->nout = 0;
  ch->xout.n = 0;
  if (ch->forward_input) push(ch, p, n);
  int rc = sl_sse_framer_feed(&ch->fr, p, n, on_frame, ch);
  if (ch->xs) { /* the translator's sticky result; else the framer's own failure */
    int xr = sl_xlate_stream_result(ch->xs);
    rc = xr ? xr : rc < 0 ? rc : 0;
  }
  return settle(ch, rc);
}

int sl_stream_chain_finish(struct sl_stream_chain *ch) {
  ch->nout = 0;
  ch->xout.n = 0;
  int rc = sl_sse_framer_finish(&ch->fr, on_frame, ch);
  if (ch->xs) rc = sl_xlate_stream_finish_framed(ch->xs, &ch->xout);
  return settle(ch, rc);
}
