/* Wire-format translators between the OpenAI Chat Completions format and the Anthropic
 * Messages format: requests, whole responses, streams and errors, in both directions.
 * The one idea: every translator is a pure function of its input (no I/O, no clock, no
 * globals; time comes in through the options), builds its output as new JSON text, and
 * answers bad input with an error code, never a crash. The vocabularies that differ
 * (roles, stop/finish reasons, error types, scalar parameters) are tables in
 * xlate_tables.c, not branches.
 *
 * Naming: "oai_to_anth" reads "from the OpenAI format to the Anthropic format". A request
 * goes client -> upstream, a response or stream upstream -> client, so an OpenAI client
 * in front of an Anthropic deployment uses sl_xlate_oai_to_anth_request, then
 * sl_xlate_anth_to_oai_response or a SL_XLATE_ANTH_TO_OAI stream.
 *
 * Memory: every function appends to a caller-owned struct sl_buf (the caller frees it
 * with sl_buf_free or takes it with sl_buf_take); nothing returned points into the input.
 * The stream translator is the only object: sl_xlate_stream_new allocates it,
 * sl_xlate_stream_free releases it. On error a buf may hold a partial append; discard it.
 *
 * ---- Requests, OpenAI -> Anthropic (POST {api_base}/v1/messages) -------------------
 *  - model: opts->model. messages: required array.
 *  - system and developer messages (string or text parts, anywhere in the list) are
 *    lifted, in order, into top-level `system` (a string when there is one text, else an
 *    array of text blocks; cache_control on parts is kept).
 *  - user: string content stays a string; parts: text -> text, image_url with a data URL
 *    (data:<type>;base64,<data>) -> image source base64, http(s) URL -> image source url,
 *    file with file_data (data URL) -> document source base64. Empty text parts are
 *    skipped (Anthropic rejects them). input_audio, file_id and unknown parts -> error.
 *  - assistant: text/refusal content -> text blocks; tool_calls -> tool_use blocks with
 *    `arguments` parsed into `input`. Arguments that are empty, not valid JSON or not an
 *    object become {} (lenient: the history a client replays must stay usable).
 *    thinking_blocks (LiteLLM's field, as the responses below give it: {type:thinking,
 *    thinking, signature} or {type:redacted_thinking, data}) -> those blocks first in the
 *    turn when reasoning_effort asks for thinking (malformed -> error), else ignored; a
 *    turn of thinking alone is skipped.
 *  - tool messages -> tool_result blocks (tool_use_id, content as a string or text
 *    blocks) in a user message; consecutive messages of the same resulting role (tool
 *    results, a user message after them, two assistants) are merged into one message.
 *  - role function (legacy) and unknown roles -> error. `name` on messages is dropped.
 *    Empty turns are skipped; a conversation that starts with an assistant turn is
 *    passed on as it is (the upstream decides).
 *  - max_tokens, else max_completion_tokens, else opts->default_max_tokens (<= 0: 4096).
 *  - stop (string or array) -> stop_sequences; temperature clamped to [0, 1] (OpenAI
 *    allows 2); top_p, top_k; stream; user -> metadata.user_id.
 *  - tools (type function) -> {name, description, input_schema (parameters, default an
 *    empty object schema)}; other tool types -> error. tool_choice: auto -> auto,
 *    required -> any, none -> none, {function:{name}} -> {type:tool,name};
 *    parallel_tool_calls false -> disable_parallel_tool_use. tool_choice without tools
 *    is dropped.
 *  - reasoning_effort -> thinking {type:enabled, budget_tokens}: minimal 1024, low 1024,
 *    medium 2048, high 4096, xhigh 8192, max 16384 (LiteLLM's budgets; minimal raised to
 *    Anthropic's minimum); none -> no thinking; another value -> error. With thinking:
 *    max_tokens must exceed the budget, so a max_tokens (or default) not above it becomes
 *    budget + max_tokens; temperature and top_k are omitted, and top_p below 0.95
 *    (Anthropic refuses them with thinking); a tool_choice forcing the client's tools
 *    (required, a named function) -> error naming tool_choice and reasoning_effort
 *    (Anthropic refuses forced tool use with thinking). Thinking is left off (and the
 *    history's thinking blocks are not sent) when the last assistant turn called tools
 *    without thinking_blocks: Anthropic then wants that turn to start with the signed
 *    thinking that led to the calls, which a plain OpenAI history does not hold.
 *  - response_format json_schema {name, schema, description, strict} -> one more tool
 *    {name SL_XLATE_JSON_TOOL, description (the schema's, else a sentence asking to answer
 *    by calling it), input_schema: schema (a root without "type" gets "object"; another
 *    root type -> error)}; json_object -> the same with input_schema {"type":"object"};
 *    text -> nothing; other types -> error. strict is not sent (Anthropic follows the
 *    schema without that guarantee). The tool is forced: tool_choice {type:tool, name,
 *    disable_parallel_tool_use}. With client tools, they are kept and tool_choice auto
 *    (or none given) becomes any (a client tool call is passed on as a tool call, else the
 *    answer comes through the json tool); required stays any, a named function stays
 *    forced; none -> only the json tool, forced. A client tool named SL_XLATE_JSON_TOOL ->
 *    error. With thinking (no forced tool use) tool_choice is auto instead and a sentence
 *    asking to answer by calling the tool is appended to system. The response translators
 *    turn the tool's call back into content when told (sl_xlate_resp_opts.json_tool).
 *  - n > 1 -> error. Dropped (no Anthropic equivalent): frequency_penalty,
 *    presence_penalty, logit_bias, logprobs, top_logprobs, seed, service_tier, store,
 *    metadata, modalities, audio, prediction, web_search_options, function.strict on
 *    tools, stream_options (used by the caller for the stream translation),
 *    functions/function_call, and any unknown field (including sluice's own
 *    timeout/cache).
 *
 * ---- Requests, Anthropic -> OpenAI (POST {api_base}/chat/completions) ---------------
 *  - model: opts->model. system (string or text blocks joined with "\n\n") -> a first
 *    system message.
 *  - user: string stays a string; blocks: text -> text part, image base64 -> image_url
 *    data URL, image url -> image_url, document base64 -> file part (file_data data
 *    URL), document text source -> text part; tool_result blocks -> tool messages
 *    (tool_call_id, content string; text blocks joined) placed before the user's other
 *    content; images inside a tool_result go to a user message right after the tool
 *    messages (OpenAI tool messages carry text only).
 *  - assistant: text blocks -> content string (null when only tool calls); tool_use ->
 *    tool_calls (arguments = input as a JSON string). thinking / redacted_thinking
 *    blocks are dropped: they are the model's own earlier reasoning, OpenAI chat takes no
 *    prior reasoning as input, and OpenAI's own API discards it between turns too.
 *  - max_tokens -> max_tokens (or max_completion_tokens with opts->max_completion_tokens,
 *    for OpenAI reasoning models); stop_sequences -> stop; temperature, top_p; stream ->
 *    stream + stream_options.include_usage; metadata.user_id -> user.
 *  - tools (custom) -> function tools (strict true kept); server tools (typed, e.g.
 *    web_search_*) -> error. tool_choice: auto, any -> required, none, tool -> named
 *    function; disable_parallel_tool_use -> parallel_tool_calls false.
 *  - thinking {type:enabled, budget_tokens N} -> reasoning_effort (N < 2048 low, < 4096
 *    medium, else high); disabled, adaptive (the model's default) -> nothing; another type
 *    -> error. output_config.effort low/medium/high -> the same, xhigh and max -> high
 *    (wins over a thinking budget); output_config.format (or the beta's top-level
 *    output_format) {type:json_schema, schema} -> response_format {type:json_schema,
 *    json_schema:{name:"response", schema, strict:true}}; another format type, another
 *    output_config member (e.g. task_budget) -> error naming it.
 *  - Refused (meaning with no OpenAI form): container, a non-empty mcp_servers.
 *    Dropped (hints, or nothing to carry): top_k, service_tier, context_management,
 *    top-level cache_control and cache_control on blocks and tools, citations, server
 *    tool blocks in history, unknown fields.
 *
 * ---- Responses and streams ------------------------------------------------------------
 *  Anthropic -> OpenAI: text blocks -> message.content (concatenated; null when none),
 *  tool_use -> tool_calls (arguments as JSON strings), thinking -> reasoning_content
 *  (streamed: thinking_delta -> delta.reasoning_content); whole responses also carry
 *  LiteLLM's message.thinking_blocks ([{type:thinking, thinking, signature},
 *  {type:redacted_thinking, data}], in order), which a client sends back on its
 *  assistant message to keep thinking in a tool loop; streams drop signatures and
 *  redacted_thinking (no OpenAI field). With opts->json_tool, the
 *  tool_use of SL_XLATE_JSON_TOOL is content instead (its input as compact JSON text, in
 *  block order with any text blocks, which only an unforced call under thinking can
 *  have; streamed, its input_json_delta pieces are content deltas, "{}" when there were
 *  none) and finish_reason tool_use -> "stop" unless other tools were called (those stay
 *  tool_calls);
 *  stop_reason via the table (end_turn/stop_sequence/pause_turn -> stop, max_tokens ->
 *  length, tool_use -> tool_calls, refusal -> content_filter); usage prompt_tokens =
 *  input + cache_read + cache_creation, completion_tokens = output,
 *  prompt_tokens_details.cached_tokens = cache_read (cache_creation has no OpenAI field:
 *  it is only in prompt_tokens and in struct sl_xlate_usage). Ids and model names are
 *  kept. A streamed tool call that got no input_json_delta gets arguments "{}".
 *  OpenAI -> Anthropic: the reverse; reasoning_content (or vLLM's reasoning) -> a
 *  thinking block (empty signature; whole responses: LiteLLM's thinking_blocks instead
 *  when present, signatures kept), content and refusal -> text blocks, tool_calls ->
 *  tool_use (arguments parsed, {} when not an object), finish_reason via the table (and
 *  "stop" after tool calls -> tool_use, as some compatible servers say stop), usage
 *  input_tokens = prompt_tokens - cached_tokens, cache_read_input_tokens =
 *  cached_tokens. Only choice 0 is translated (the Anthropic format has one answer).
 *  Streams: an OpenAI stream reports usage only at its end, so message_start carries
 *  input_tokens 0 (unless a chunk had usage already) and message_delta carries the real
 *  input and output counts (the SDK takes both from there); a stream that produced no
 *  content still gets one empty text block.
 *
 * ---- Errors --------------------------------------------------------------------------
 *  Any upstream error body (OpenAI, Anthropic, {"error":"text"}, {"detail":...},
 *  {"message":...} or plain text) is rewritten in the client's format, the type mapped
 *  through the table (429 rate_limit_error, 529/503 overloaded_error <->
 *  service_unavailable, 401 authentication_error, 400 invalid_request_error, ...). The
 *  HTTP status is not changed. */
#ifndef SL_NET_XLATE_H
#define SL_NET_XLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"

struct sl_sse_frame; /* net/wire/sse.h */

#define SL_XLATE_DEFAULT_MAX_TOKENS 4096
#define SL_XLATE_ANTHROPIC_VERSION "2023-06-01" /* the anthropic-version header to send */

/* A wire format. SL_WIRE_RESPONSES is OpenAI's Responses API (/v1/responses): a client
 * format, and the upstream format of deployments that serve it natively. */
enum sl_wire { SL_WIRE_OPENAI = 0, SL_WIRE_ANTHROPIC = 1, SL_WIRE_RESPONSES = 2 };

/* The forced tool an OpenAI response_format (json_schema / json_object) becomes in front
 * of an Anthropic deployment; its input is given back as the message content. */
#define SL_XLATE_JSON_TOOL "json_response"

/* ---- requests (client -> upstream) ---- */

struct sl_xlate_req_opts {
  const char *model;          /* upstream model name written into the body; NULL keeps the client's */
  int default_max_tokens;     /* oai->anth when the client gave none; <= 0: 4096 */
  bool max_completion_tokens; /* anth->oai: write max_completion_tokens instead of max_tokens */
};

/* Translate a parsed client request into the upstream's JSON text, appended to out.
 * 0; -EINVAL when the request cannot be translated (err gets a client-facing message for
 * a 400 invalid_request_error; err may be NULL); -ENOMEM. */
int sl_xlate_oai_to_anth_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                 char *err, size_t errlen);
int sl_xlate_anth_to_oai_request(const cJSON *req, const struct sl_xlate_req_opts *o, struct sl_buf *out,
                                 char *err, size_t errlen);

/* ---- responses and streams (upstream -> client) ---- */

struct sl_xlate_resp_opts {
  int64_t created;    /* unix seconds written as OpenAI "created" (the caller reads the clock) */
  bool include_usage; /* stream to an OpenAI client: its stream_options.include_usage */
  /* anth->oai: the request's response_format was sent as the forced tool
   * SL_XLATE_JSON_TOOL: its tool_use input is the answer's content (finish "stop"). */
  bool json_tool;
  /* ->Responses: the client's Responses request (fields the response object echoes:
   * instructions, tools, tool_choice, text, temperature, top_p, max_output_tokens,
   * previous_response_id, metadata, store, reasoning, parallel_tool_calls, user), and the
   * response id to give ("resp_" + hex, minted by the caller). */
  const cJSON *resp_req;
  const char *resp_id;
};

/* Token counts in the upstream's own terms, for accounting. input excludes cached
 * tokens in both formats (OpenAI: prompt_tokens - cached_tokens). known is false when
 * the upstream reported no usage. */
struct sl_xlate_usage {
  int64_t input, output, cache_read, cache_creation;
  bool known;
};

/* A whole 2xx response body in the upstream's format -> the client's format, appended to
 * out; u (may be NULL) gets the usage. 0; -EBADMSG when body is not a message /
 * chat.completion; -ENOMEM. */
int sl_xlate_anth_to_oai_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o,
                                  struct sl_buf *out, struct sl_xlate_usage *u);
int sl_xlate_oai_to_anth_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o,
                                  struct sl_buf *out, struct sl_xlate_usage *u);

enum sl_xlate_dir {
  SL_XLATE_ANTH_TO_OAI, /* Anthropic upstream events -> OpenAI chat.completion.chunks + [DONE] */
  SL_XLATE_OAI_TO_ANTH, /* OpenAI upstream chunks -> Anthropic message_start ... message_stop */
  SL_XLATE_OAI_TO_RESP, /* OpenAI chat chunks -> Responses events (response.created ... response.completed) */
  SL_XLATE_ANTH_TO_RESP, /* Anthropic events -> Responses events (through ANTH_TO_OAI inside) */
};

/* Stream results. Positive: the stream ended well; negative: it is over badly. After
 * any non-zero result every later call appends nothing and returns the same value. */
#define SL_XLATE_MORE 0 /* keep feeding */
#define SL_XLATE_END 1  /* the upstream's final event was translated: end the client stream */
/* -EPROTO   the upstream sent an in-band error; out ends with it in the client's format.
 * -EBADMSG  the upstream sent an event that is not its format (bad JSON, wrong shape,
 *           an SSE event over 16 MiB); out ends with an in-band error.
 * -EPIPE    (finish only) the upstream ended before its final event; out ends with an
 *           in-band error.
 * -ENOMEM   out of memory; end the client stream (out may hold a partial event). */

struct sl_xlate_stream;

int sl_xlate_stream_new(enum sl_xlate_dir dir, const struct sl_xlate_resp_opts *o, struct sl_xlate_stream **out);
void sl_xlate_stream_free(struct sl_xlate_stream *s);
/* Raw upstream body bytes, split anywhere (an internal net/wire/sse parser frames them).
 * Appends the translated events (complete SSE events only) to out. */
int sl_xlate_stream_feed(struct sl_xlate_stream *s, const char *p, size_t n, struct sl_buf *out);
/* One already-framed SSE event (event name may be NULL/empty; data as in the data lines
 * joined by \n), for callers that run their own SSE parser. */
int sl_xlate_stream_event(struct sl_xlate_stream *s, const char *event, size_t event_len, const char *data,
                          size_t data_len, struct sl_buf *out);
/* The upstream body ended cleanly (not a reset or timeout: for those, write
 * sl_xlate_error_event yourself). Returns SL_XLATE_END when the stream was complete, or
 * when an OpenAI stream lacks only its [DONE] after a finish_reason (closed normally);
 * otherwise -EPIPE with the in-band error appended; or the earlier non-zero result. */
/* One frame from a shared net/wire/sse framer (the stream framed once, upstream of the
 * translator in a filter chain): an event is translated as sl_xlate_stream_event does,
 * an event without data is skipped, an OVERSIZE frame ends the stream with -EBADMSG as
 * sl_xlate_stream_feed does for an event over 16 MiB. */
int sl_xlate_stream_frame(struct sl_xlate_stream *s, const struct sl_sse_frame *fr, struct sl_buf *out);
/* End of the stream for a caller that frames itself (frames, or events): like
 * sl_xlate_stream_finish without the internal parser's last event. */
int sl_xlate_stream_finish_framed(struct sl_xlate_stream *s, struct sl_buf *out);
/* The sticky result so far: 0 while the stream is open. */
int sl_xlate_stream_result(const struct sl_xlate_stream *s);
int sl_xlate_stream_finish(struct sl_xlate_stream *s, struct sl_buf *out);
/* Usage seen so far (final once the stream ended). */
void sl_xlate_stream_usage(const struct sl_xlate_stream *s, struct sl_xlate_usage *u);
/* True once the translator has appended anything to an out buffer. */
bool sl_xlate_stream_started(const struct sl_xlate_stream *s);

/* ---- the Responses API (xlate_resp_*.c) ---- */

/* Requests, Responses -> Chat Completions (a tree; model = o->model, else the client's):
 *  - instructions -> a first system message; input: a string -> one user message;
 *    items: message (with or without "type":"message"; roles user, assistant, system,
 *    developer; content a string or parts: input_text/output_text -> text, input_image
 *    with image_url (URL or data URL) -> image_url (detail kept), input_file with
 *    file_data -> file {file_data, filename}, refusal (assistant) -> refusal part; an
 *    assistant's text parts are joined into a string); function_call {call_id, name,
 *    arguments} -> assistant tool_calls, consecutive calls and the assistant text right
 *    before them merged into ONE assistant message; function_call_output {call_id,
 *    output string or text parts (joined)} -> a tool message; reasoning items are
 *    dropped (chat takes no reasoning input). Any other item type -> -EINVAL naming it
 *    ("input[3].type 'item_reference' is not supported by chat-completions
 *    deployments"), as input_image/input_file by file_id or file_url, other parts.
 *  - tools: function tools {name, description, parameters, strict} -> chat function
 *    tools; any built-in tool (web_search*, file_search, computer_use*, mcp,
 *    code_interpreter, image_generation, local_shell, custom, ...) -> -EINVAL naming
 *    tools[i].type (only Responses deployments serve them). tool_choice auto / none /
 *    required / {type:function,name} -> chat's forms, others -> -EINVAL; tool_choice and
 *    parallel_tool_calls are dropped when there are no tools (chat servers refuse them).
 *  - text.format: json_schema {name, schema, strict, description} -> response_format
 *    json_schema; json_object -> json_object; text -> nothing; others -> -EINVAL.
 *  - max_output_tokens -> max_tokens (max_completion_tokens with
 *    o->max_completion_tokens); reasoning.effort -> reasoning_effort; temperature,
 *    top_p, user, service_tier, prompt_cache_key, safety_identifier pass; top_logprobs
 *    passes with logprobs true; stream true -> stream + stream_options.include_usage.
 *  - Dropped: metadata, store, include, truncation, text.verbosity, reasoning.summary,
 *    sluice's own timeout/cache/sluice, and unknown fields. Refused (-EINVAL):
 *    background true, conversation, prompt (stored templates), previous_response_id
 *    (expand it first: sl_xlate_resp_expand), n other than 1.
 *
 * Responses, chat.completion -> `response` (also the final object of a stream):
 *  id o->resp_id, object "response", created_at o->created, status completed, or
 *  incomplete with incomplete_details.reason max_output_tokens (finish_reason length) /
 *  content_filter; error null; model: the upstream's; output items in this order:
 *  reasoning_content (or vLLM's reasoning) -> {id "rs_…", type reasoning, summary
 *  [{summary_text}]}, content/refusal -> {id "msg_…", type message, status completed,
 *  role assistant, content [{output_text, text, annotations [], logprobs []} and/or
 *  {refusal}]}, each tool call -> {id "fc_…", type function_call, status completed,
 *  arguments, call_id, name}. Item ids are "<prefix>_<resp id without resp_>_<output
 *  index>", the same on every path. usage {input_tokens (cached included),
 *  input_tokens_details.cached_tokens, output_tokens, output_tokens_details.
 *  reasoning_tokens, total_tokens} (null when the upstream gave none). Echoed from
 *  o->resp_req (which must outlive a stream): instructions, max_output_tokens,
 *  parallel_tool_calls (true), previous_response_id, reasoning {effort, summary},
 *  store (true), temperature, text ({format:{type:text}}), tool_choice ("auto"), tools
 *  ([]), top_p, user, metadata ({}); truncation "disabled". No output_text (the SDKs
 *  compute it).
 *
 * Streams (SL_XLATE_OAI_TO_RESP; SL_XLATE_ANTH_TO_RESP runs SL_XLATE_ANTH_TO_OAI inside
 * and translates its chunks, json_tool passed on). Every event is `event: <type>` +
 * `data: {"type":<type>,"sequence_number":N,...}`, N = 0, 1, 2, ...:
 *   response.created, response.in_progress (the object, status in_progress, output [])
 *   per item, one open at a time (function calls may stay open together):
 *     reasoning: output_item.added, reasoning_summary_part.added,
 *       reasoning_summary_text.delta..., reasoning_summary_text.done,
 *       reasoning_summary_part.done, output_item.done
 *     message: output_item.added, content_part.added, output_text.delta... (logprobs
 *       []) | refusal.delta..., output_text.done | refusal.done, content_part.done,
 *       output_item.done
 *     function_call: output_item.added (arguments ""), function_call_arguments.delta...,
 *       function_call_arguments.done (with name), output_item.done
 *   response.completed | response.incomplete (the whole final object, with usage)
 *   -> SL_XLATE_END at [DONE] (or at the end of the body after a finish_reason).
 *  An in-band upstream error (-EPROTO), a bad event (-EBADMSG) or a cut stream (-EPIPE)
 *  end with an `error` event (code, message, param null, and the same as a nested
 *  "error" object: openai-node throws only on data with an `error` member) and then
 *  response.failed {status failed, error {code, message}, the items so far}. Usage:
 *  sl_xlate_stream_usage (for ANTH_TO_RESP, Anthropic's own counts).
 *
 * Errors: sl_xlate_error_body / sl_xlate_error_type treat SL_WIRE_RESPONSES as OpenAI;
 * sl_xlate_error_event writes the `error` event above with sequence_number 0. */
int sl_xlate_resp_to_chat_request(const cJSON *req, const struct sl_xlate_req_opts *o, cJSON **out, char *err,
                                  size_t errlen);
/* A whole chat.completion body -> a Responses `response` object (o->resp_req, o->resp_id,
 * o->created), appended to out; u gets the usage. 0; -EBADMSG; -ENOMEM. */
int sl_xlate_chat_to_resp_response(const char *body, size_t len, const struct sl_xlate_resp_opts *o,
                                   struct sl_buf *out, struct sl_xlate_usage *u);
/* A whole `response` object -> the Responses event stream that gives it (created,
 * in_progress, items, deltas, completed), for a cache hit served as a stream. id, when
 * not NULL, replaces the object's id. 0; -EBADMSG; -ENOMEM. */
int sl_xlate_resp_replay(const char *resp, size_t len, const char *id, struct sl_buf *out);
/* A ->Responses stream that ended well: its final `response` object (as in its
 * response.completed event), appended to out. -EAGAIN before the end. */
int sl_xlate_stream_response(const struct sl_xlate_stream *s, struct sl_buf *out);
/* previous_response_id: a new tree (*out) that is req with `input` = the stored items
 * (a JSON array of input items, as sl_xlate_resp_history wrote them) followed by req's
 * own input (a string becomes one user message), and without previous_response_id.
 * 0; -EINVAL (err); -ENOMEM. */
int sl_xlate_resp_expand(const cJSON *req, const char *items, size_t len, cJSON **out, char *err, size_t errlen);
/* The items to keep for a later previous_response_id: req's input items (a string as one
 * user message; req already expanded) then the response object's output items, as one
 * JSON array appended to out. 0; -EBADMSG; -ENOMEM. */
int sl_xlate_resp_history(const cJSON *req, const char *resp, size_t len, struct sl_buf *out);

/* ---- errors ---- */

/* An upstream (or sluice's own OpenAI-shaped) error body of any shape, with its HTTP
 * status -> the error body in the client's format, appended to out. Never fails except
 * -ENOMEM; a body that is not JSON becomes the message (cut at 1000 bytes). */
int sl_xlate_error_body(enum sl_wire client, int status, const char *body, size_t len, struct sl_buf *out);
/* Whether an error body is a JSON array (Gemini's OpenAI-compatible endpoint sends
 * [{"error":{...}}]): such a body is rewritten even for a client of the same wire format. */
bool sl_xlate_error_wrapped(const char *body, size_t len);
/* An in-band stream error event in the client's format: OpenAI `data: {"error":{...}}`,
 * Anthropic `event: error` + `data: {"type":"error","error":{...}}`. type NULL: from the
 * status (0: server error); code (OpenAI's, may be NULL). */
void sl_xlate_error_event(enum sl_wire client, int status, const char *type, const char *message,
                          const char *code, struct sl_buf *out);
/* The error type name in the given format for an HTTP status (e.g. 529 ->
 * overloaded_error / service_unavailable). */
const char *sl_xlate_error_type(enum sl_wire wire, int status);

#endif
