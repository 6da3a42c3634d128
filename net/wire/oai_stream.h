/* OpenAI streaming <-> whole responses, for the response cache. The one idea: one set
 * of merge rules, used in both directions, so that replaying a stored completion and
 * assembling the replay gives back the same completion (and a streamed answer can serve
 * a later non-streamed request, and the reverse).
 *
 * Assembler: fed the events of a chat.completion.chunk (or legacy text_completion)
 * stream, it builds the whole chat.completion (text_completion). Merge rules:
 *  - top level: every field (id, created, model, system_fingerprint, unknown ones) is
 *    the last non-null value seen; "usage" the last non-null object;
 *  - choices by "index"; in delta: string fields (content, reasoning_content, refusal,
 *    unknown ones) are concatenated, and so are arrays (e.g. reasoning_details);
 *    "role" and other values take the last non-null value; a null never replaces a
 *    value but is kept when nothing else came; a "role" that is not a string (or null)
 *    makes the stream unusable (it could not be replayed as it was sent);
 *  - tool_calls merged by index: id and type from the first chunk that has them,
 *    function.name set once (a repeat of the same name is ignored, a different piece is
 *    appended), function.arguments concatenated; legacy function_call likewise;
 *  - logprobs: arrays inside (content, refusal; tokens, token_logprobs, ...) are
 *    concatenated; finish_reason the last non-null value;
 *  - the message gets role "assistant" when the stream never named one, and
 *    content null when no content arrived (as the non-streaming API does).
 * The stream is complete when [DONE] was seen, no error event came, and every choice
 * has a finish_reason; only a complete stream should be cached.
 *
 * Replayer: from a stored chat.completion (or text_completion) it writes the SSE byte
 * stream a provider would have sent: a role chunk, content split into pieces of at most
 * `piece` bytes (at spaces when possible, never inside a UTF-8 sequence), each tool
 * call's head then its arguments in pieces, logprobs whole in one chunk, the
 * finish_reason chunk, a usage chunk (choices: []) only when asked for
 * (stream_options.include_usage; every other chunk then carries "usage": null, as
 * OpenAI does), and data: [DONE]. */
#ifndef SL_NET_OAI_STREAM_H
#define SL_NET_OAI_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "net/base/buf.h"
#include "net/wire/sse.h"

#define SL_OAI_MAX_CHOICES 128
#define SL_OAI_MAX_TOOL_CALLS 128
#define SL_OAI_MAX_STREAM (64u << 20) /* bytes fed to one assembler */

struct sl_oai_asm;

int sl_oai_asm_new(struct sl_oai_asm **out);
void sl_oai_asm_free(struct sl_oai_asm *a);
/* Raw SSE bytes from the upstream, split anywhere (an internal net/wire/sse parser frames
 * the events). 0, or a negative code once the stream is known to be unusable
 * (-EBADMSG: not a chunk stream, an error event; -EMSGSIZE; -ENOMEM); the error is
 * sticky and finish reports it. Never stop forwarding to the client because of it. */
int sl_oai_asm_feed_bytes(struct sl_oai_asm *a, const char *p, size_t n);
/* One event's data, when the caller frames SSE itself ("[DONE]" or a JSON chunk). */
int sl_oai_asm_feed_event(struct sl_oai_asm *a, const char *data, size_t n);
/* One frame from a shared net/wire/sse framer (the stream framed once, upstream of the
 * assembler in a filter chain): an unnamed or "message" event is fed as above, an
 * "error" event makes the stream unusable, other named events and events without data
 * are skipped, an OVERSIZE frame is -EMSGSIZE. Same results as sl_oai_asm_feed_event. */
int sl_oai_asm_feed_frame(struct sl_oai_asm *a, const struct sl_sse_frame *fr);
/* The assembled completion (malloc'd, NUL-terminated; the caller frees it) and whether
 * the stream was complete. -EBADMSG when nothing usable was assembled. */
int sl_oai_asm_finish(struct sl_oai_asm *a, char **json, size_t *len, bool *complete);

struct sl_oai_replay_opts {
  bool include_usage; /* the request's stream_options.include_usage */
  size_t piece;       /* max bytes per content/arguments delta; default (and when < 4) 32 */
};

/* Appends the SSE stream for a stored completion to out. 0, -EINVAL when json is not
 * a chat.completion / text_completion object, -ENOMEM. */
int sl_oai_replay(const char *json, size_t len, const struct sl_oai_replay_opts *o, struct sl_buf *out);

#endif
