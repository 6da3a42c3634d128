/* Token usage from upstream answers, streamed or whole. The one idea: usage is read
 * where the upstream reports it, and a stream is never re-serialised to get at it: the
 * streaming filter frames the raw SSE bytes into whole events, looks into each one, and
 * forwards the original bytes, dropping only the usage chunk that sluice asked for on
 * the client's behalf (and cutting the `"usage":null` member that asking adds to every
 * other chunk), so the client receives exactly the stream it would have got.
 *
 * Counts follow OpenAI's convention everywhere: prompt_tokens counts every input token
 * (cache reads and cache writes included), completion_tokens every output token
 * (reasoning included). Anthropic's input_tokens exclude the cache: they are added. */
#ifndef SL_NET_USAGE_H
#define SL_NET_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/base/iov.h"
#include "net/wire/sse.h"

struct sl_usage {
  int64_t prompt_tokens;      /* every input token */
  int64_t completion_tokens;  /* every output token */
  int64_t total_tokens;       /* as reported; prompt + completion when not reported */
  int64_t cached_tokens;      /* input tokens read from the provider's prompt cache */
  int64_t cache_write_tokens; /* input tokens written to it (Anthropic cache_creation) */
  int64_t reasoning_tokens;   /* part of completion_tokens (informational) */
  bool estimated;             /* sluice's estimate, not the upstream's report */
};

/* Usage of a whole (non-streamed) response body. Reads the top-level "usage" object
 * in any of these shapes:
 *  - OpenAI chat/completions/embeddings: prompt_tokens, completion_tokens,
 *    total_tokens, prompt_tokens_details.cached_tokens,
 *    completion_tokens_details.reasoning_tokens;
 *  - OpenAI Responses: input_tokens (cache included), output_tokens, total_tokens,
 *    input_tokens_details.cached_tokens, output_tokens_details.reasoning_tokens;
 *  - Anthropic: input_tokens (cache excluded), output_tokens, cache_read_input_tokens,
 *    cache_creation_input_tokens: prompt = input + cache_read + cache_creation;
 * or else Gemini's "usageMetadata" (promptTokenCount, candidatesTokenCount +
 * thoughtsTokenCount, cachedContentTokenCount, totalTokenCount). Non-numeric or
 * negative fields count as absent. 0; -ENOENT when there is no usage (absent, null,
 * or an object with no token count); -EINVAL when body is not a JSON object. */
int sl_usage_from_json(const char *body, size_t len, struct sl_usage *out);
/* The same from the text of a "usage" object alone (its range, found by a scan that has
 * already walked the body: json_valid.h). 0; -ENOENT when it holds no token count. */
int sl_usage_from_object(const char *obj, size_t len, struct sl_usage *out);

/* ---- streaming filter ---- */

enum {
  /* Drop a usage-only chunk: a JSON event with a non-null top-level "usage" and
   * "choices" an empty array (or absent). Azure's prompt_filter_results chunk (choices
   * [] but no usage) is kept. */
  SL_USAGE_STRIP_CHUNK = 1,
  /* Cut the top-level "usage" member (null, or a value a provider put on a content
   * chunk) out of every other chunk, byte splice only. Only for events with one data
   * line (every OpenAI event); others pass unchanged. */
  SL_USAGE_STRIP_FIELD = 2,
  /* Both: sluice added stream_options.include_usage, the client did not ask. */
  SL_USAGE_STRIP = 3,
};

/* Feed it raw upstream SSE bytes split anywhere; it appends what to forward to the
 * client. Without strip flags the output is the input, byte for byte, as it comes
 * (the filter only observes: out may then be NULL and the caller forwards the input
 * itself). With strip flags an event is held until its blank line, then forwarded
 * (possibly with the usage member cut) or dropped whole; everything else, [DONE],
 * comments, events without data, unparseable data, passes unchanged. The usage kept
 * is the last one reported; Anthropic streams (message_start's message.usage, then
 * message_delta's usage) are merged field by field; Responses API streams (events
 * {"type":"response.…"}) report it in the response.usage of response.completed /
 * incomplete / failed, and their text is counted from the delta events only. Never
 * set strip flags on an Anthropic or a Responses stream. An event longer than max_event is forwarded as it comes, unread. */
struct sl_usage_filter {
  unsigned flags;
  struct sl_sse_framer fr;    /* frames the bytes given to sl_usage_filter_feed */
  bool last_dropped;          /* the last event was dropped (its TAIL goes with it) */
  int64_t raw[16];            /* usage fields seen so far, -1 = not reported */
  bool have_usage;
  size_t out_chars;           /* ~UTF-8 bytes of generated text (content, reasoning,
                               * refusal, tool arguments; Anthropic text/thinking/
                               * partial_json) in the events forwarded */
  size_t out_deltas;          /* events that carried some of that text */
  size_t events, dropped;     /* events seen; events dropped */
  bool saw_done;              /* data: [DONE] came */
  int err;
};

/* max_event bounds one held event (0: 16 MiB). */
void sl_usage_filter_init(struct sl_usage_filter *f, unsigned flags, size_t max_event);
/* 0 or -ENOMEM (sticky; out may then be incomplete: end the response). */
int sl_usage_filter_feed(struct sl_usage_filter *f, const char *p, size_t n, struct sl_buf *out);
/* End of the upstream stream: a last event without its blank line is judged like any
 * other and forwarded (or dropped) as it came. */
int sl_usage_filter_finish(struct sl_usage_filter *f, struct sl_buf *out);
/* The filter as one link of a chain: one frame from a shared net/wire/sse framer (the
 * bytes framed once upstream of it). Judges the frame and puts in out (room for 2) the
 * slices of its bytes to forward: with strip flags the frame, the frame minus the usage
 * member, or nothing; without strip flags nothing (the caller forwards the input
 * itself). Returns the number of slices. */
size_t sl_usage_filter_frame(struct sl_usage_filter *f, const struct sl_sse_frame *fr, struct sl_iov out[2]);
/* The usage reported by the stream: 0, or -ENOENT when none came. */
int sl_usage_filter_usage(const struct sl_usage_filter *f, struct sl_usage *out);
void sl_usage_filter_free(struct sl_usage_filter *f);

/* Output tokens estimated from the text counted by the filter when the upstream
 * reported none: max(ceil(chars / 4), deltas) (a delta that carries text carries at
 * least one token; ~4 bytes per token for English text). */
int64_t sl_usage_estimate_from_chars(size_t chars, size_t deltas);

/* ---- asking the upstream for usage ---- */

enum sl_usage_ask {
  SL_USAGE_ASK_NOT_STREAM = 0, /* "stream" is not true: usage comes in the body */
  SL_USAGE_ASK_CLIENT,         /* the client asked (stream_options.include_usage true):
                                * forward as is, filter without strip flags */
  SL_USAGE_ASK_SPLICE,         /* insert sp->text at sp->at; filter with SL_USAGE_STRIP */
  SL_USAGE_ASK_RESERIALISE,    /* stream_options is there without include_usage: true
                                * (false, absent inside, null, not an object): the
                                * caller re-serialises with include_usage true; filter
                                * with SL_USAGE_STRIP */
};

struct sl_usage_splice {
  size_t at;        /* byte offset in the body: insert text before body[at] */
  const char *text; /* static; NULL when nothing is to be inserted */
  size_t len;
};

/* What to do to a chat/completions request body so the upstream reports usage in its
 * stream. The splice puts "stream_options":{"include_usage":true} first in the object
 * (right after its '{'), so the caller keeps forwarding the original bytes around it.
 * Returns an sl_usage_ask, or -EINVAL when body is not a well-formed JSON object. */
int sl_usage_inject_stream_options(const char *body, size_t len, struct sl_usage_splice *sp);

#endif
