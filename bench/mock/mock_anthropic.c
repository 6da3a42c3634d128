/* mock_anthropic.c: the Anthropic side of sluice-mock: POST /v1/messages, its SSE event
 * sequence and the Anthropic error shape.
 *
 * The idea: the same generation as the OpenAI paths (words from the request hash, counts fixed at
 * dispatch), printed as Anthropic prints it: message_start, content_block_start and ping before
 * the first token, one content_block_delta per token, then content_block_stop, message_delta
 * (stop reason and output tokens) and message_stop. */
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
	return r->capped ? "\"max_tokens\"" : "\"end_turn\"";
}

static void put_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, "\"msg_%016llx\"", (unsigned long long)c->resp.hash);
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
	MOCK_PUTS(b, ",\"output_tokens\":1}}}\n\n"
	             "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
	             "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	             "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void msg_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	MOCK_PUTS(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	             "\"delta\":{\"type\":\"text_delta\",\"text\":\"");
	if (!first)
		MOCK_PUTS(b, " ");
	mock_buf_put(b, w, n);
	MOCK_PUTS(b, "\"}}\n\n");
}

static void msg_end(struct mock_conn *c, struct mock_buf *b)
{
	MOCK_PUTS(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
	             "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
	mock_buf_puts(b, stop_reason(&c->resp));
	MOCK_PUTS(b, ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
	mock_buf_put_u64(b, c->resp.ntok);
	MOCK_PUTS(b, "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static const struct mock_stream_ops msg_ops = {msg_preamble, msg_token, msg_end};

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
	if (r->stream) {
		r->ops = &msg_ops;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"id\":");
		put_id(c, b);
		MOCK_PUTS(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
		mock_buf_put(b, c->model.p, c->model.len);
		MOCK_PUTS(b, ",\"content\":[{\"type\":\"text\",\"text\":\"");
		mock_put_text(c, b);
		MOCK_PUTS(b, "\"}],\"stop_reason\":");
		mock_buf_puts(b, stop_reason(r));
		MOCK_PUTS(b, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
		mock_buf_put_u64(b, r->prompt_tokens);
		MOCK_PUTS(b, ",\"output_tokens\":");
		mock_buf_put_u64(b, r->ntok);
		MOCK_PUTS(b, "}}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}
