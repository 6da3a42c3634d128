/* mock_responses.c: the OpenAI Responses API (POST /v1/responses) of sluice-mock, whole and
 * streamed, with function calls and text.format structured output.
 *
 * The idea: the same generation as chat (words from the request hash, or a tool call / JSON
 * text decided by mock_tools.c), printed as a `response` object. The request fields a response
 * echoes (instructions, tools, tool_choice, text, temperature, ...) are printed once at dispatch
 * into conn->gen (r->echo), as the request JSON is freed before the first byte. A stream is the
 * full event sequence with `event:` lines and sequence_number: response.created,
 * response.in_progress, output_item.added, then for a message content_part.added, one
 * output_text.delta per token, output_text.done, content_part.done, or for a function call one
 * function_call_arguments.delta per piece and function_call_arguments.done; then
 * output_item.done and response.completed (response.incomplete when max_output_tokens cut it)
 * carrying the whole response with usage. Ids: resp_mock_<n>, msg_mock_<n>, fc_mock_<n>,
 * call_mock_<n>, n counting the mock's API requests. To add an output item kind: print it in
 * put_item and stream it in the three ops. */
#include <math.h>
#include <string.h>

#include "mock.h"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *status_word(const struct mock_resp *r, bool done)
{
	if (!done)
		return "in_progress";
	return r->capped ? "incomplete" : "completed";
}

static void put_item_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, c->resp.shape == MOCK_S_TOOL ? "\"fc_mock_%llu\"" : "\"msg_mock_%llu\"",
	              (unsigned long long)c->resp.num);
}

/* The full text of the message (words or the JSON answer) as a JSON string. */
static void put_full_text(struct mock_conn *c, struct mock_buf *b)
{
	if (c->resp.shape == MOCK_S_JSON) {
		mock_put_span(c, b, c->resp.text);
		return;
	}
	MOCK_PUTS(b, "\"");
	mock_put_words(c, b);
	MOCK_PUTS(b, "\"");
}

static void put_text_part(struct mock_conn *c, struct mock_buf *b, bool empty)
{
	MOCK_PUTS(b, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":");
	if (empty)
		MOCK_PUTS(b, "\"\"");
	else
		put_full_text(c, b);
	MOCK_PUTS(b, "}");
}

/* The one output item; done: finished (else as output_item.added shows it). */
static void put_item(struct mock_conn *c, struct mock_buf *b, bool done)
{
	struct mock_resp *r = &c->resp;
	MOCK_PUTS(b, "{\"id\":");
	put_item_id(c, b);
	if (r->shape == MOCK_S_TOOL) {
		MOCK_PUTS(b, ",\"type\":\"function_call\",\"status\":\"");
		mock_buf_puts(b, done ? "completed" : "in_progress");
		MOCK_PUTS(b, "\",\"arguments\":");
		if (done)
			mock_put_span(c, b, r->text);
		else
			MOCK_PUTS(b, "\"\"");
		mock_buf_putf(b, ",\"call_id\":\"call_mock_%llu\",\"name\":", (unsigned long long)r->num);
		mock_put_span(c, b, r->tool_name);
		MOCK_PUTS(b, "}");
		return;
	}
	MOCK_PUTS(b, ",\"type\":\"message\",\"status\":\"");
	mock_buf_puts(b, done ? status_word(r, true) : "in_progress");
	MOCK_PUTS(b, "\",\"role\":\"assistant\",\"content\":[");
	if (done)
		put_text_part(c, b, false);
	MOCK_PUTS(b, "]}");
}

static void put_usage(const struct mock_resp *r, struct mock_buf *b)
{
	MOCK_PUTS(b, "{\"input_tokens\":");
	mock_buf_put_u64(b, r->prompt_tokens);
	MOCK_PUTS(b, ",\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":");
	mock_buf_put_u64(b, r->ntok);
	MOCK_PUTS(b, ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":");
	mock_buf_put_u64(b, r->prompt_tokens + r->ntok);
	MOCK_PUTS(b, "}");
}

/* The response object; done: with its output and usage (else as response.created shows it). */
static void put_response(struct mock_conn *c, struct mock_buf *b, bool done)
{
	struct mock_resp *r = &c->resp;
	mock_buf_putf(b, "{\"id\":\"resp_mock_%llu\",\"object\":\"response\",\"created_at\":",
	              (unsigned long long)r->num);
	mock_buf_put_i64(b, r->created);
	MOCK_PUTS(b, ",\"status\":\"");
	mock_buf_puts(b, status_word(r, done));
	MOCK_PUTS(b, "\",\"background\":false,\"error\":null,\"incomplete_details\":");
	if (done && r->capped)
		MOCK_PUTS(b, "{\"reason\":\"max_output_tokens\"}");
	else
		MOCK_PUTS(b, "null");
	MOCK_PUTS(b, ",\"model\":");
	mock_buf_put(b, c->model.p, c->model.len);
	MOCK_PUTS(b, ",\"output\":[");
	if (done)
		put_item(c, b, true);
	MOCK_PUTS(b, "],\"usage\":");
	if (done)
		put_usage(r, b);
	else
		MOCK_PUTS(b, "null");
	const char *echo = mock_span_ptr(c, r->echo);
	if (*echo)
		mock_buf_put(b, echo, r->echo.len);
	MOCK_PUTS(b, "}");
}

/* ---- the stream ----------------------------------------------------------------------------- */

/* "event: <type>\ndata: {"type":"<type>","sequence_number":N" (the caller closes it) */
static void ev_begin(struct mock_conn *c, struct mock_buf *b, const char *type)
{
	MOCK_PUTS(b, "event: ");
	mock_buf_puts(b, type);
	MOCK_PUTS(b, "\ndata: {\"type\":\"");
	mock_buf_puts(b, type);
	MOCK_PUTS(b, "\",\"sequence_number\":");
	mock_buf_put_u64(b, c->resp.seq++);
}

static void ev_item_ref(struct mock_conn *c, struct mock_buf *b, bool content)
{
	MOCK_PUTS(b, ",\"item_id\":");
	put_item_id(c, b);
	MOCK_PUTS(b, ",\"output_index\":0");
	if (content)
		MOCK_PUTS(b, ",\"content_index\":0");
}

static void resp_preamble(struct mock_conn *c, struct mock_buf *b)
{
	ev_begin(c, b, "response.created");
	MOCK_PUTS(b, ",\"response\":");
	put_response(c, b, false);
	MOCK_PUTS(b, "}\n\n");
	ev_begin(c, b, "response.in_progress");
	MOCK_PUTS(b, ",\"response\":");
	put_response(c, b, false);
	MOCK_PUTS(b, "}\n\n");
	ev_begin(c, b, "response.output_item.added");
	MOCK_PUTS(b, ",\"output_index\":0,\"item\":");
	put_item(c, b, false);
	MOCK_PUTS(b, "}\n\n");
	if (c->resp.shape != MOCK_S_TOOL) {
		ev_begin(c, b, "response.content_part.added");
		ev_item_ref(c, b, true);
		MOCK_PUTS(b, ",\"part\":");
		put_text_part(c, b, true);
		MOCK_PUTS(b, "}\n\n");
	}
}

static void resp_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	struct mock_resp *r = &c->resp;
	if (r->shape == MOCK_S_WORDS) {
		ev_begin(c, b, "response.output_text.delta");
		ev_item_ref(c, b, true);
		MOCK_PUTS(b, ",\"delta\":\"");
		if (!first)
			MOCK_PUTS(b, " ");
		mock_buf_put(b, w, n);
		MOCK_PUTS(b, "\",\"logprobs\":[]}\n\n");
		return;
	}
	const char *p;
	size_t pn;
	mock_piece(c, r->sent, &p, &pn);
	if (r->shape == MOCK_S_TOOL) {
		ev_begin(c, b, "response.function_call_arguments.delta");
		ev_item_ref(c, b, false);
		MOCK_PUTS(b, ",\"delta\":");
		mock_buf_put_json_str(b, p, pn);
		MOCK_PUTS(b, "}\n\n");
	} else {
		ev_begin(c, b, "response.output_text.delta");
		ev_item_ref(c, b, true);
		MOCK_PUTS(b, ",\"delta\":");
		mock_buf_put_json_str(b, p, pn);
		MOCK_PUTS(b, ",\"logprobs\":[]}\n\n");
	}
}

static void resp_end(struct mock_conn *c, struct mock_buf *b)
{
	struct mock_resp *r = &c->resp;
	if (r->shape == MOCK_S_TOOL) {
		ev_begin(c, b, "response.function_call_arguments.done");
		ev_item_ref(c, b, false);
		MOCK_PUTS(b, ",\"name\":");
		mock_put_span(c, b, r->tool_name);
		MOCK_PUTS(b, ",\"arguments\":");
		mock_put_span(c, b, r->text);
		MOCK_PUTS(b, "}\n\n");
	} else {
		ev_begin(c, b, "response.output_text.done");
		ev_item_ref(c, b, true);
		MOCK_PUTS(b, ",\"text\":");
		put_full_text(c, b);
		MOCK_PUTS(b, ",\"logprobs\":[]}\n\n");
		ev_begin(c, b, "response.content_part.done");
		ev_item_ref(c, b, true);
		MOCK_PUTS(b, ",\"part\":");
		put_text_part(c, b, false);
		MOCK_PUTS(b, "}\n\n");
	}
	ev_begin(c, b, "response.output_item.done");
	MOCK_PUTS(b, ",\"output_index\":0,\"item\":");
	put_item(c, b, true);
	MOCK_PUTS(b, "}\n\n");
	ev_begin(c, b, r->capped ? "response.incomplete" : "response.completed");
	MOCK_PUTS(b, ",\"response\":");
	put_response(c, b, true);
	MOCK_PUTS(b, "}\n\n");
}

static const struct mock_stream_ops resp_ops = {resp_preamble, resp_token, resp_end, NULL};

/* ---- the request ---------------------------------------------------------------------------- */

/* Characters of the input: a string, or items (messages with content, function call outputs). */
static uint64_t input_chars(const cJSON *input, bool *last_is_result)
{
	*last_is_result = false;
	if (cJSON_IsString(input))
		return mock_content_chars(input);
	uint64_t chars = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, input)
	{
		const cJSON *type = get(it, "type");
		bool result = cJSON_IsString(type) && strcmp(type->valuestring, "function_call_output") == 0;
		*last_is_result = result;
		const cJSON *content = get(it, result ? "output" : "content");
		chars += mock_content_chars(content);
	}
	return chars;
}

/* One echoed field: the request's value, else the API's default. */
static void echo(struct mock_conn *c, const cJSON *req, const char *key, const char *dflt)
{
	struct mock_buf *g = &c->gen;
	MOCK_PUTS(g, ",\"");
	mock_buf_puts(g, key);
	MOCK_PUTS(g, "\":");
	const cJSON *v = get(req, key);
	char *s = v && !cJSON_IsNull(v) ? cJSON_PrintUnformatted(v) : NULL;
	mock_buf_puts(g, s ? s : dflt);
	cJSON_free(s);
}

void mock_openai_responses(struct mock_conn *c, const cJSON *req)
{
	const cJSON *input = get(req, "input");
	if (input && !cJSON_IsString(input) && !cJSON_IsArray(input)) {
		mock_reply_status(c, 400, "Invalid type for 'input': expected a string or an array of items.",
		                  NULL);
		return;
	}
	if (!input && !get(req, "previous_response_id") && !get(req, "prompt")) {
		mock_reply_status(c, 400, "Missing required parameter: 'input'.", NULL);
		return;
	}
	const cJSON *mo = get(req, "max_output_tokens");
	if (mo && !cJSON_IsNull(mo) && (!cJSON_IsNumber(mo) || mo->valuedouble < 16)) {
		mock_reply_status(c, 400,
		                  "Invalid 'max_output_tokens': integer below minimum value. Expected a "
		                  "value >= 16.",
		                  NULL);
		return;
	}
	struct mock_resp *r = &c->resp;
	bool last_result;
	uint64_t chars = input_chars(input, &last_result) + mock_content_chars(get(req, "instructions"));
	mock_gen_setup(c, req);
	r->prompt_tokens = mock_prompt_tokens(chars);
	if (cJSON_IsNumber(mo) && mo->valuedouble < (double)r->ntok) {
		r->ntok = (uint32_t)floor(mo->valuedouble);
		r->capped = true;
		r->reset_at = r->ntok / 2;
	}
	const char *name;
	const cJSON *schema;
	const cJSON *fmt = get(get(req, "text"), "format");
	const cJSON *ftype = get(fmt, "type");
	if (mock_tool_pick(get(req, "tools"), get(req, "tool_choice"), MOCK_API_RESPONSES, last_result,
	                   &name, &schema)) {
		mock_tool_setup(c, name, schema);
	} else if (cJSON_IsString(ftype) && strcmp(ftype->valuestring, "json_schema") == 0) {
		const cJSON *sc = get(fmt, "schema");
		mock_json_setup(c, cJSON_IsObject(sc) ? sc : NULL);
	} else if (cJSON_IsString(ftype) && strcmp(ftype->valuestring, "json_object") == 0) {
		mock_json_setup(c, NULL);
	}

	size_t start = c->gen.len;
	echo(c, req, "instructions", "null");
	echo(c, req, "max_output_tokens", "null");
	echo(c, req, "metadata", "{}");
	echo(c, req, "parallel_tool_calls", "true");
	echo(c, req, "previous_response_id", "null");
	echo(c, req, "reasoning", "{\"effort\":null,\"summary\":null}");
	echo(c, req, "service_tier", "\"default\"");
	echo(c, req, "store", "true");
	echo(c, req, "temperature", "1");
	echo(c, req, "text", "{\"format\":{\"type\":\"text\"}}");
	echo(c, req, "tool_choice", "\"auto\"");
	echo(c, req, "tools", "[]");
	echo(c, req, "top_p", "1");
	echo(c, req, "truncation", "\"disabled\"");
	echo(c, req, "user", "null");
	r->echo = (struct mock_span){(uint32_t)start, (uint32_t)(c->gen.len - start)};

	if (r->stream) {
		r->ops = &resp_ops;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w)
		put_response(c, &w->b, true);
	mock_whole_end(c, w, 200, "application/json", NULL);
}
