/* A winning stream's filter chain: the upstream's SSE bytes are framed ONCE (net/wire/sse
 * framer) and each frame goes down the filters, top to bottom:
 *
 *   upstream bytes -> framer -> translate (another wire format: xlate, new bytes)
 *                             | cache tee (observes the frame: oai_stream assembler)
 *                               -> usage (reads usage; strips what sluice asked for)
 *   -> client: one gather write per upstream read (sink.write)
 *
 * The one idea: no filter re-frames or copies what it forwards; each says which slices
 * of the frame go on (sl_iov), and the client write takes the slices of a whole upstream
 * read at once. The tee sees a frame before the usage filter strips it (the cache keeps
 * the usage chunk, so a replay can give it to a client that asks). When translating,
 * the translator's output is new bytes: the tee gets those bytes (and frames them
 * itself), and there is no usage filter (the translator reads usage). Each filter is a
 * pure net/wire function testable alone (sl_xlate_stream_frame, sl_oai_asm_feed_frame,
 * sl_usage_filter_frame); this file only wires them. To add a filter: a
 * `(frame, state) -> slices` function in net/wire, one call in on_frame below. */
#ifndef SL_CORE_STREAM_CHAIN_H
#define SL_CORE_STREAM_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "net/base/buf.h"
#include "net/base/iov.h"
#include "net/wire/sse.h"
#include "net/wire/usage.h"
#include "net/wire/xlate.h"

struct sl_stream_sink {
  /* The client: the slices of one upstream read (valid during the call only). */
  void (*write)(void *ud, const struct sl_iov *v, size_t n);
  /* The cache tee (optional): upstream frames, or (translating) the client's bytes. */
  void (*tee_frame)(void *ud, const struct sl_sse_frame *fr);
  void (*tee_bytes)(void *ud, const char *p, size_t n);
  void *ud;
};

struct sl_stream_chain {
  struct sl_sse_framer fr;
  struct sl_xlate_stream *xs;  /* borrowed; NULL when the formats match */
  struct sl_usage_filter *uf;  /* borrowed; NULL for none */
  bool forward_input;          /* no stripping: the client gets the input as it comes */
  struct sl_stream_sink sink;
  struct sl_buf xout;          /* the translator's bytes for this read */
  struct sl_iov *out;          /* the slices for this read (grows, then reused) */
  size_t nout, capout;
  int err;                     /* -ENOMEM: a slice list could not grow */
};

/* Either xs or uf (or neither); both borrowed, and must outlive the chain's use. */
void sl_stream_chain_init(struct sl_stream_chain *ch, struct sl_xlate_stream *xs, struct sl_usage_filter *uf,
                          const struct sl_stream_sink *sink);
/* One upstream read. Returns the translator's result (sl_xlate_stream_feed's: negative
 * when the stream is over badly, the error event already written), else 0. */
int sl_stream_chain_feed(struct sl_stream_chain *ch, const char *p, size_t n);
/* The upstream ended cleanly: a last event without its blank line, the translator's
 * ending. Returns the translator's result (sl_xlate_stream_finish's), else 0. */
int sl_stream_chain_finish(struct sl_stream_chain *ch);
void sl_stream_chain_free(struct sl_stream_chain *ch);

#endif
