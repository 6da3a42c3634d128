/* Wire-format translators for AWS Bedrock: the Converse / ConverseStream API (to and from
 * the Anthropic Messages format), Anthropic-on-Bedrock invoke bodies and stream chunks,
 * Bedrock error bodies, and the Titan / Cohere embeddings bodies. The one idea: the rest of
 * sluice sees a Bedrock Converse deployment as an Anthropic-wire deployment (Converse's
 * shape is nearly Anthropic Messages'), so every OpenAI semantic comes from the OpenAI <->
 * Anthropic translators and the functions here are thin, pure respellings between an
 * Anthropic body (or stream) and Bedrock's, in the style of net/wire/xlate.h (caller-owned
 * sl_buf, errors as codes, no I/O, no clock).
 * Extend: a new Converse field is one more line in xlate_bedrock_req.c (request) or
 * xlate_bedrock_resp.c (response); a new stop reason or error name is a table row. */
#ifndef SL_NET_XLATE_BEDROCK_H
#define SL_NET_XLATE_BEDROCK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/base/buf.h"
#include "net/wire/xlate.h"

/* Anthropic Messages request (parsed) -> Converse body (modelId goes in the path, not the
 * body): system, messages (text, image base64 -> bytes, document, tool_use / tool_result ->
 * toolUse / toolResult, thinking / redacted_thinking -> reasoningContent, cache_control -> a
 * cachePoint block after it), tools -> toolConfig, tool_choice auto/any/tool/none,
 * max_tokens / temperature / top_p / stop_sequences -> inferenceConfig, thinking and top_k
 * -> additionalModelRequestFields for Claude models (o->model, else the body's model, names
 * one); model, stream, metadata, service_tier dropped. Anything with no Converse form (an
 * image URL, a server tool, another top-level member) -> -EINVAL with err saying what. */
int sl_xlate_anth_to_converse_request(const cJSON *anth_req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                      char *err, size_t errlen);
/* Converse answer -> Anthropic message (id msg_..., model, content blocks, stopReason ->
 * stop_reason, usage with cache_read_input_tokens / cache_creation_input_tokens). -EINVAL on
 * a body that is not one. o: created and resp_id seed the id. */
int sl_xlate_converse_to_anth_response(const char *p, size_t n, const struct sl_xlate_resp_opts *o,
                                       const char *model, struct sl_buf *out, struct sl_xlate_usage *u);
/* ConverseStream events (the frame's :event-type header and JSON payload) -> Anthropic SSE
 * bytes (event: message_start ... message_delta with stop_reason and usage, message_stop). */
struct sl_converse_stream;
int sl_converse_stream_new(const struct sl_xlate_resp_opts *o, const char *model, struct sl_converse_stream **out);
/* 0, -EPROTO (an exception event: an Anthropic error event written), -EINVAL (a malformed
 * event), -ENOMEM. */
int sl_converse_stream_event(struct sl_converse_stream *s, const char *type, size_t tn, const char *payload,
                             size_t pn, struct sl_buf *out);
/* After the last frame: 0 when message_stop was written; -EPIPE (an error event written) if
 * the stream ended before messageStop or its metadata. */
int sl_converse_stream_finish(struct sl_converse_stream *s, struct sl_buf *out, struct sl_xlate_usage *u);
void sl_converse_stream_free(struct sl_converse_stream *s);
/* An Anthropic Messages body for invoke/rawPredict: model and stream removed,
 * anthropic_version set (kept if the client gave one); *stream says whether stream was true. */
int sl_anthropic_body_for_version(const char *body, size_t n, const char *version, struct sl_buf *out,
                                  bool *stream, char *err, size_t errlen);
/* One invoke-with-response-stream chunk payload {"bytes":"<b64>"} -> "event: <type>\ndata: <json>\n\n". */
int sl_bedrock_invoke_chunk_to_sse(const char *payload, size_t n, struct sl_buf *out);
/* A Bedrock error (status, x-amzn-ErrorType header value or NULL, body) -> an OpenAI error body
 * {"error":{"message","type","code"}}; also for an event-stream exception frame (type from
 * :exception-type). Always writes something (a generic message for an unreadable body). */
int sl_bedrock_error_to_oai(int status, const char *type, size_t tn, const char *body, size_t n, struct sl_buf *out);
/* Added to the design: the same as an Anthropic error body {"type":"error","error":{"type",
 * "message"}}, for the Anthropic-wire dialects (Converse, invoke). */
int sl_bedrock_error_to_anth(int status, const char *type, size_t tn, const char *body, size_t n, struct sl_buf *out);
/* Added to the design: the HTTP status Bedrock gives an error name (e.g. throttlingException
 * -> 429, for an event-stream exception frame, which has no status), 0 when unknown. */
int sl_bedrock_error_status(const char *type, size_t tn);
enum sl_bedrock_embed { SL_BEDROCK_EMBED_TITAN, SL_BEDROCK_EMBED_COHERE };
/* OpenAI embeddings request -> the model's invoke body (Titan: one input string, "dimensions"
 * -> dimensions; a list of more than one -> error saying so; Cohere: texts (<= 96), input_type
 * search_document unless given). */
int sl_bedrock_embed_request(enum sl_bedrock_embed k, const cJSON *req, struct sl_buf *out, char *err, size_t errlen);
int sl_bedrock_embed_response(enum sl_bedrock_embed k, const char *model, const char *p, size_t n,
                              struct sl_buf *out, struct sl_xlate_usage *u);
/* Added to the design: the same, with the client's encoding_format: base64 true gives each
 * embedding as the base64 of its little-endian float32 values (as OpenAI does). */
int sl_bedrock_embed_response_fmt(enum sl_bedrock_embed k, const char *model, bool base64, const char *p, size_t n,
                                  struct sl_buf *out, struct sl_xlate_usage *u);

#endif
