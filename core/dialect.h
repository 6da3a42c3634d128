/* Bedrock and Vertex AI at the upstream boundary: the attempt's request is built as for an
 * OpenAI-wire (Vertex's OpenAI endpoint, Bedrock embeddings) or Anthropic-wire (Bedrock
 * Converse, Bedrock invoke, Claude on Vertex) deployment, then rewritten here into the
 * provider's body, path and credentials (SigV4 signature, a service account's token); the
 * answer is read back into that wire format (Converse JSON -> an Anthropic message, AWS
 * event-stream frames -> Anthropic SSE, Bedrock errors -> the wire format's error bodies)
 * before the rest of the attempt sees it. So
 * translation to the client's format, usage, cache, cascade and accounting stay unchanged.
 * Which dialect a deployment has is decided at load (core/config/config_cloud.c).
 * To add a dialect: its enum (net/wire/provider.h), its path (sl_provider_dialect_path), and
 * a case in each function of dialect.c. */
#ifndef SL_CORE_DIALECT_H
#define SL_CORE_DIALECT_H

#include <stdbool.h>
#include <stddef.h>

#include "net/wire/http_common.h"
#include "net/wire/provider.h"

struct sl_attempt;

/* Before the request is built: 0 to go on; -EAGAIN when the attempt must wait for a token
 * (resume(at, rc) is called later, never from inside this call: rc 0 to build and send now,
 * < 0 when no token came; the attempt's answer is then already set as a 401 from the
 * deployment saying why). */
int sl_dialect_prepare(struct sl_attempt *at, void (*resume)(struct sl_attempt *at, int rc));

/* After the body is built in the deployment's wire format (at->body): the provider's body,
 * path (at->path) and credentials (appended to hs, *nh of cap). 0; -1 out of memory; -2 the
 * request cannot be said to this deployment (at->xerr says why). */
int sl_dialect_request(struct sl_attempt *at, enum sl_prov_route pr, struct sl_header *hs, size_t *nh, size_t cap);

/* The answer's head: a 2xx AWS event stream to a streaming request is a stream
 * (at->streaming); the error type header is kept for error bodies. */
void sl_dialect_head(struct sl_attempt *at, int status, const struct sl_header *h, size_t n);

/* A streamed piece: its frames decoded into the wire format's SSE; out and outn say what to forward
 * (may be empty). 0; < 0 when the stream failed (a bad frame: -EBADMSG, an exception frame:
 * -EPROTO): at->xerr says why and nothing more may be forwarded. */
int sl_dialect_stream(struct sl_attempt *at, const char *p, size_t n, const char **out, size_t *outn);
/* The stream ended: what is left to forward; -EPIPE when it ended inside a frame or before its
 * last event (the stream was cut). */
int sl_dialect_stream_end(struct sl_attempt *at, const char **out, size_t *outn);
/* After sl_dialect_stream/_end gave -EPROTO (an exception frame) before any byte reached the
 * client: the exception as the attempt's answer (at->status from its type, throttlingException
 * 429, at->resp its error body in the deployment wire's format), so it is classified, cooled
 * down and passed on like the same error in an HTTP status. Returns the status, or 0. */
int sl_dialect_exception_answer(struct sl_attempt *at);
/* Whether the attempt's stream is decoded here (its bytes are frames, not SSE). */
bool sl_dialect_streams(const struct sl_attempt *at);

/* A whole answer (at->resp, at->status) in the wire format: 2xx rewritten into the wire
 * format's answer, an error into an OpenAI error body. 0, or -EPROTO (a 2xx that is not an
 * answer: a failed attempt). */
int sl_dialect_whole(struct sl_attempt *at);

/* The attempt is over: a token wait is cancelled (no resume follows). Idempotent. */
void sl_dialect_stop(struct sl_attempt *at);
/* The request is freed: the attempt's buffers and decoders too (after sl_dialect_stop). */
void sl_dialect_free(struct sl_attempt *at);

#endif
