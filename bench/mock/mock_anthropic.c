/* mock_anthropic.c: the Anthropic side of sluice-mock: POST /v1/messages, its SSE event
 * sequence and the Anthropic error shape.
 *
 * The idea: the same generation as the OpenAI paths (words from the request hash, counts fixed at
 * dispatch), printed as Anthropic prints it: message_start, content_block_start and ping before
 * the first token, one content_block_delta per token, then content_block_stop, message_delta
 * (stop reason and output tokens) and message_stop. With "thinking" enabled a thinking block
 * (fixed text, signature "sig-mock") comes first; with tools the answer may be a tool_use block
 * whose input streams as input_json_delta pieces (the rule: mock_tools.c). Also
 * /v1/messages/count_tokens. */
#include <string.h>

#include "mock.h"

void mock_anthropic_error_body(struct mock_buf *b, const char *type, const char *message)
{
	MOCK_PUTS(b, "{\"type\":\"error\",\"error\":{\"type\":");
	mock_buf_put_json_str(b, type, strlen(type));
	MOCK_PUTS(b, ",\"message\":");
	mock_buf_put_json_str(b, message, strlen(message));
	MOCK_PUTS(b, "}}");
}

static const char *stop_reason(const struct mock_resp *r)
{
	if (r->shape == MOCK_S_TOOL)
		return "\"tool_use\"";
	return r->capped ? "\"max_tokens\"" : "\"end_turn\"";
}

static void put_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, "\"msg_%016llx\"", (unsigned long long)c->resp.hash);
}

/* The thinking block of a request with "thinking" enabled: fixed text, streamed in two pieces. */
#define THINKING_A "The mock considers"
#define THINKING_B " the request."
#define SIGNATURE "sig-mock"

/* The index of the answer's block (text or tool_use): after the thinking block if any. */
static unsigned main_index(const struct mock_conn *c)
{
	return c->resp.thinking ? 1 : 0;
}

static void put_tool_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, "\"toolu_%016llx\"", (unsigned long long)c->resp.hash);
}

static void msg_preamble(struct mock_conn *c, struct mock_buf *b)
{
	MOCK_PUTS(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":");
	put_id(c, b);
	MOCK_PUTS(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
	mock_buf_put(b, c->model.p, c->model.len);
	MOCK_PUTS(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
	             "\"usage\":{\"input_tokens\":");
	mock_buf_put_u64(b, c->resp.prompt_tokens);
	MOCK_PUTS(b, ",\"output_tokens\":1}}}\n\n");
	if (c->resp.thinking)
		MOCK_PUTS(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		             "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
		             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		             "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"" THINKING_A "\"}}\n\n"
		             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		             "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"" THINKING_B "\"}}\n\n"
		             "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		             "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"" SIGNATURE "\"}}\n\n"
		             "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
	MOCK_PUTS(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":");
	mock_buf_put_u64(b, main_index(c));
	if (c->resp.shape == MOCK_S_TOOL) {
		MOCK_PUTS(b, ",\"content_block\":{\"type\":\"tool_use\",\"id\":");
		put_tool_id(c, b);
		MOCK_PUTS(b, ",\"name\":");
		mock_put_span(c, b, c->resp.tool_name);
		MOCK_PUTS(b, ",\"input\":{}}}\n\n");
	} else {
		MOCK_PUTS(b, ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	}
	MOCK_PUTS(b, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void msg_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	MOCK_PUTS(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
	mock_buf_put_u64(b, main_index(c));
	if (c->resp.shape == MOCK_S_TOOL) {
		const char *p;
		size_t pn;
		mock_piece(c, c->resp.sent, &p, &pn);
		MOCK_PUTS(b, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
		mock_buf_put_json_str(b, p, pn);
		MOCK_PUTS(b, "}}\n\n");
		return;
	}
	MOCK_PUTS(b, ",\"delta\":{\"type\":\"text_delta\",\"text\":\"");
	if (!first)
		MOCK_PUTS(b, " ");
	mock_buf_put(b, w, n);
	MOCK_PUTS(b, "\"}}\n\n");
}

static void msg_end(struct mock_conn *c, struct mock_buf *b)
{
	MOCK_PUTS(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":");
	mock_buf_put_u64(b, main_index(c));
	MOCK_PUTS(b, "}\n\n"
	             "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
	mock_buf_puts(b, stop_reason(&c->resp));
	MOCK_PUTS(b, ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
	mock_buf_put_u64(b, c->resp.ntok);
	MOCK_PUTS(b, "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

const struct mock_stream_ops mock_anthropic_msg_ops = {msg_preamble, msg_token, msg_end, NULL};

/* Does the last user message carry a tool_result block? */
static bool last_user_has_result(const cJSON *msgs)
{
	const cJSON *m, *last = NULL;
	cJSON_ArrayForEach(m, msgs)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
			last = m;
	}
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content"), *blk;
	if (!cJSON_IsArray(content))
		return false;
	cJSON_ArrayForEach(blk, content)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(blk, "type");
		if (cJSON_IsString(t) && strcmp(t->valuestring, "tool_result") == 0)
			return true;
	}
	return false;
}

/* thinking {type: enabled | adaptive} and the tool rule (mock_tools.c). */
static void msg_shape(struct mock_conn *c, const cJSON *req, const cJSON *msgs)
{
	const cJSON *th = cJSON_GetObjectItemCaseSensitive(req, "thinking");
	const cJSON *tt = cJSON_GetObjectItemCaseSensitive(th, "type");
	c->resp.thinking = cJSON_IsString(tt) && (strcmp(tt->valuestring, "enabled") == 0 ||
	                                          strcmp(tt->valuestring, "adaptive") == 0);
	const char *name;
	const cJSON *schema;
	if (mock_tool_pick(cJSON_GetObjectItemCaseSensitive(req, "tools"),
	                   cJSON_GetObjectItemCaseSensitive(req, "tool_choice"), MOCK_API_ANTHROPIC,
	                   last_user_has_result(msgs), &name, &schema))
		mock_tool_setup(c, name, schema);
}

/* POST /v1/messages/count_tokens: the bytes of the unformatted JSON of system, messages and
 * tools (those present), divided by 4 and rounded up. */
void mock_anthropic_count_tokens(struct mock_conn *c, const cJSON *req)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	if (!cJSON_IsArray(msgs)) {
		mock_reply_status(c, 400, "messages: Field required", NULL);
		return;
	}
	static const char *const keys[] = {"system", "messages", "tools"};
	uint64_t bytes = 0;
	for (size_t i = 0; i < 3; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, keys[i]);
		if (!v)
			continue;
		char *s = cJSON_PrintUnformatted(v);
		bytes += s ? strlen(s) : 0;
		cJSON_free(s);
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		MOCK_PUTS(&w->b, "{\"input_tokens\":");
		mock_buf_put_u64(&w->b, (bytes + 3) / 4);
		MOCK_PUTS(&w->b, "}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

void mock_anthropic_messages(struct mock_conn *c, const cJSON *req)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	if (!cJSON_IsArray(msgs)) {
		mock_reply_status(c, 400, "messages: Field required", NULL);
		return;
	}
	uint64_t chars = mock_content_chars(cJSON_GetObjectItemCaseSensitive(req, "system"));
	const cJSON *m;
	cJSON_ArrayForEach(m, msgs)
	{
		if (cJSON_IsObject(m))
			chars += mock_content_chars(cJSON_GetObjectItemCaseSensitive(m, "content"));
	}
	struct mock_resp *r = &c->resp;
	mock_gen_setup(c, req);
	r->prompt_tokens = mock_prompt_tokens(chars);
	msg_shape(c, req, msgs);
	if (r->stream) {
		r->ops = &mock_anthropic_msg_ops;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"id\":");
		put_id(c, b);
		MOCK_PUTS(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
		mock_buf_put(b, c->model.p, c->model.len);
		MOCK_PUTS(b, ",\"content\":[");
		if (r->thinking)
			MOCK_PUTS(b, "{\"type\":\"thinking\",\"thinking\":\"" THINKING_A THINKING_B
			             "\",\"signature\":\"" SIGNATURE "\"},");
		if (r->shape == MOCK_S_TOOL) {
			MOCK_PUTS(b, "{\"type\":\"tool_use\",\"id\":");
			put_tool_id(c, b);
			MOCK_PUTS(b, ",\"name\":");
			mock_put_span(c, b, r->tool_name);
			MOCK_PUTS(b, ",\"input\":");
			mock_put_tool_input(c, b, r->text);
			MOCK_PUTS(b, "}");
		} else {
			MOCK_PUTS(b, "{\"type\":\"text\",\"text\":\"");
			mock_put_text(c, b);
			MOCK_PUTS(b, "\"}");
		}
		MOCK_PUTS(b, "],\"stop_reason\":");
		mock_buf_puts(b, stop_reason(r));
		MOCK_PUTS(b, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
		mock_buf_put_u64(b, r->prompt_tokens);
		MOCK_PUTS(b, ",\"output_tokens\":");
		mock_buf_put_u64(b, r->ntok);
		MOCK_PUTS(b, "}}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}
