/* mock_bedrock.c: AWS Bedrock's runtime API in sluice-mock: Converse and ConverseStream,
 * InvokeModel for Anthropic models (an Anthropic Messages body with anthropic_version
 * "bedrock-2023-05-31") and for Titan / Cohere embedding models, InvokeModelWithResponseStream,
 * and the paths of both Bedrock and Vertex (mock_cloud_match).
 *
 * The idea: the answers are the generations the OpenAI and Anthropic paths make (same words
 * from the request hash, same tool rule, same timing engine), printed in Bedrock's shapes;
 * streams are AWS event-stream frames (net/wire/eventstream.c encodes them) carried in the
 * HTTP chunks the timing engine sends, so latency, ttft, itl and the reset faults work
 * unchanged. Two more faults exist only here: bad_crc (a frame whose message CRC is wrong) and
 * stream_exception (a throttlingException frame), each in place of token fault_at, then the
 * end of the body. To teach another Converse field, read it in mock_bedrock_converse; another
 * event, add a builder next to cv_token. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"
#include "net/base/buf.h"
#include "net/wire/eventstream.h"

#define ES_CTYPE "application/vnd.amazon.eventstream"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool starts(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(p, lit, l) == 0;
}

static bool ends(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(p + n - l, lit, l) == 0;
}

/* ---- paths ------------------------------------------------------------------------------- */

static int decode_model(struct mock_conn *c, const char *p, size_t n)
{
	if (n == 0)
		return -1;
	long l = sl_pct_decode(p, n, false, c->resp.path_model, sizeof c->resp.path_model);
	return l > 0 ? 0 : -1;
}

int mock_cloud_match(struct mock_conn *c, const char *p, size_t n)
{
	struct mock_resp *r = &c->resp;
	if (n == 6 && memcmp(p, "/token", 6) == 0)
		return MOCK_C_GCP_TOKEN;
	if (starts(p, n, "/model/")) {
		const char *id = p + 7;
		const char *slash = memchr(id, '/', n - 7);
		if (!slash)
			return MOCK_C_NONE;
		size_t rest = n - (size_t)(slash - p);
		int route = MOCK_C_NONE;
		if (rest == 9 && memcmp(slash, "/converse", 9) == 0)
			route = MOCK_C_CONVERSE;
		else if (rest == 16 && memcmp(slash, "/converse-stream", 16) == 0)
			route = MOCK_C_CONVERSE_STREAM;
		else if (rest == 7 && memcmp(slash, "/invoke", 7) == 0)
			route = MOCK_C_INVOKE;
		else if (rest == 28 && memcmp(slash, "/invoke-with-response-stream", 28) == 0)
			route = MOCK_C_INVOKE_STREAM;
		if (route == MOCK_C_NONE)
			return MOCK_C_NONE;
		return decode_model(c, id, (size_t)(slash - id)) < 0 ? -1 : route;
	}
	/* /v1/projects/{p}/locations/{l}/... */
	if (!starts(p, n, "/v1/projects/"))
		return MOCK_C_NONE;
	const char *proj = p + 13, *end = p + n;
	const char *s1 = memchr(proj, '/', (size_t)(end - proj));
	if (!s1 || s1 == proj || !starts(s1, (size_t)(end - s1), "/locations/"))
		return MOCK_C_NONE;
	const char *loc = s1 + 11;
	const char *s2 = memchr(loc, '/', (size_t)(end - loc));
	if (!s2 || s2 == loc)
		return MOCK_C_NONE;
	r->path_project = proj;
	r->path_project_len = (size_t)(s1 - proj);
	r->path_location = loc;
	r->path_location_len = (size_t)(s2 - loc);
	size_t rest = (size_t)(end - s2);
	static const char chat[] = "/endpoints/openapi/chat/completions";
	if (rest == sizeof chat - 1 && memcmp(s2, chat, rest) == 0)
		return MOCK_C_VERTEX_CHAT;
	static const char pub[] = "/publishers/anthropic/models/";
	if (!starts(s2, rest, pub))
		return MOCK_C_NONE;
	const char *m = s2 + sizeof pub - 1;
	size_t mn = (size_t)(end - m);
	int route;
	if (ends(m, mn, ":streamRawPredict")) {
		route = MOCK_C_VERTEX_STREAM_RAW;
		mn -= 17;
	} else if (ends(m, mn, ":rawPredict")) {
		route = MOCK_C_VERTEX_RAW;
		mn -= 11;
	} else {
		return MOCK_C_NONE;
	}
	return decode_model(c, m, mn) < 0 ? -1 : route;
}

/* ---- event-stream frames ------------------------------------------------------------------ */

static struct mock_buf pl; /* a frame's JSON payload (one loop, one at a time) */
static struct mock_buf sse; /* Anthropic events before they are wrapped */

static void put_frame(struct mock_buf *out, const struct sl_es_header *h, size_t nh,
                      const char *payload, size_t n, bool bad_crc)
{
	struct sl_buf b = {0};
	if (sl_es_encode(&b, h, nh, payload, n) < 0 || b.oom || b.n < 16) {
		out->oom = true;
	} else {
		if (bad_crc)
			b.p[b.n - 1] ^= 0x5a; /* the message CRC's last byte */
		mock_buf_put(out, b.p, b.n);
	}
	sl_buf_free(&b);
}

#define HDR(name, value) {name, sizeof(name) - 1, 7, value, strlen(value)}

static void event_frame(struct mock_buf *out, const char *type, const struct mock_buf *p,
                        bool bad_crc)
{
	struct sl_es_header h[3] = {HDR(":event-type", type), HDR(":content-type", "application/json"),
	                            HDR(":message-type", "event")};
	if (p->oom)
		out->oom = true;
	put_frame(out, h, 3, p->p ? p->p : "", p->len, bad_crc);
}

static void exception_frame(struct mock_buf *out)
{
	struct sl_es_header h[3] = {HDR(":exception-type", "throttlingException"),
	                            HDR(":content-type", "application/json"),
	                            HDR(":message-type", "exception")};
	static const char msg[] = "{\"message\":\"Too many requests, please wait before trying "
	                          "again. (mock stream_exception)\"}";
	put_frame(out, h, 3, msg, sizeof msg - 1, false);
}

static void pl_reset(void)
{
	pl.len = 0;
	pl.oom = false;
}

/* ---- Converse ------------------------------------------------------------------------------ */

static const char *cv_stop(const struct mock_resp *r)
{
	if (r->shape == MOCK_S_TOOL)
		return "tool_use";
	return r->capped ? "max_tokens" : "end_turn";
}

static void put_tool_use_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, "\"tooluse_%016llx\"", (unsigned long long)c->resp.hash);
}

static uint64_t latency_ms(const struct mock_resp *r)
{
	double ms = r->stream ? r->ttft_ms + r->itl_ms * r->ntok : r->latency_ms;
	return ms > 0 && ms < 1e12 ? (uint64_t)ms : 0;
}

static void put_cv_usage(struct mock_conn *c, struct mock_buf *b)
{
	const struct mock_resp *r = &c->resp;
	mock_buf_putf(b, "\"usage\":{\"inputTokens\":%llu,\"outputTokens\":%llu,\"totalTokens\":%llu},"
	                 "\"metrics\":{\"latencyMs\":%llu}",
	              (unsigned long long)r->prompt_tokens, (unsigned long long)r->ntok,
	              (unsigned long long)(r->prompt_tokens + r->ntok),
	              (unsigned long long)latency_ms(r));
}

static void cv_preamble(struct mock_conn *c, struct mock_buf *out)
{
	pl_reset();
	MOCK_PUTS(&pl, "{\"role\":\"assistant\"}");
	event_frame(out, "messageStart", &pl, false);
	if (c->resp.shape == MOCK_S_TOOL) {
		pl_reset();
		MOCK_PUTS(&pl, "{\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":");
		put_tool_use_id(c, &pl);
		MOCK_PUTS(&pl, ",\"name\":");
		mock_put_span(c, &pl, c->resp.tool_name);
		MOCK_PUTS(&pl, "}}}");
		event_frame(out, "contentBlockStart", &pl, false);
	}
}

static void cv_delta(struct mock_conn *c, struct mock_buf *out, const char *w, size_t n, bool first,
                     bool bad_crc)
{
	pl_reset();
	MOCK_PUTS(&pl, "{\"contentBlockIndex\":0,\"delta\":{");
	if (c->resp.shape == MOCK_S_TOOL) {
		const char *p;
		size_t pn;
		mock_piece(c, c->resp.sent, &p, &pn);
		MOCK_PUTS(&pl, "\"toolUse\":{\"input\":");
		mock_buf_put_json_str(&pl, p, pn);
		MOCK_PUTS(&pl, "}}}");
	} else {
		MOCK_PUTS(&pl, "\"text\":\"");
		if (!first)
			MOCK_PUTS(&pl, " ");
		mock_buf_put(&pl, w, n);
		MOCK_PUTS(&pl, "\"}}");
	}
	event_frame(out, "contentBlockDelta", &pl, bad_crc);
}

static void cv_token(struct mock_conn *c, struct mock_buf *out, const char *w, size_t n, bool first)
{
	cv_delta(c, out, w, n, first, false);
}

static void cv_end(struct mock_conn *c, struct mock_buf *out)
{
	pl_reset();
	MOCK_PUTS(&pl, "{\"contentBlockIndex\":0}");
	event_frame(out, "contentBlockStop", &pl, false);
	pl_reset();
	mock_buf_putf(&pl, "{\"stopReason\":\"%s\"}", cv_stop(&c->resp));
	event_frame(out, "messageStop", &pl, false);
	pl_reset();
	MOCK_PUTS(&pl, "{");
	put_cv_usage(c, &pl);
	MOCK_PUTS(&pl, "}");
	event_frame(out, "metadata", &pl, false);
}

static void cv_fault(struct mock_conn *c, struct mock_buf *out)
{
	if (c->resp.fault == MOCK_F_STREAM_EXCEPTION)
		exception_frame(out);
	else
		cv_delta(c, out, "corrupt", 7, c->resp.sent == 0, true);
}

static const struct mock_stream_ops converse_ops = {cv_preamble, cv_token, cv_end, cv_fault};

/* toolConfig: the same rule as the other APIs (mock_tools.c), spelt Converse's way. */
static void cv_shape(struct mock_conn *c, const cJSON *req, const cJSON *msgs)
{
	const cJSON *tc = get(req, "toolConfig");
	const cJSON *tools = get(tc, "tools");
	if (!cJSON_IsArray(tools) || !tools->child)
		return;
	const cJSON *choice = get(tc, "toolChoice");
	const char *want = str(get(choice, "tool"), "name");
	bool forced = want || get(choice, "any");
	bool last_result = false;
	const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), *blk;
	const cJSON *content = get(last, "content");
	if (cJSON_IsArray(content)) {
		cJSON_ArrayForEach(blk, content)
		{
			if (get(blk, "toolResult"))
				last_result = true;
		}
	}
	if (last_result && !forced)
		return;
	const cJSON *t;
	cJSON_ArrayForEach(t, tools)
	{
		const cJSON *spec = get(t, "toolSpec");
		const char *name = str(spec, "name");
		if (!name || (want && strcmp(name, want) != 0))
			continue;
		mock_tool_setup(c, name, get(get(spec, "inputSchema"), "json"));
		return;
	}
	if (want)
		mock_tool_setup(c, want, NULL);
}

static uint64_t blocks_chars(const cJSON *blocks)
{
	return cJSON_IsArray(blocks) ? mock_content_chars(blocks) : 0;
}

void mock_bedrock_converse(struct mock_conn *c, cJSON *req)
{
	struct mock_resp *r = &c->resp;
	const cJSON *msgs = get(req, "messages");
	if (!cJSON_IsArray(msgs) || !msgs->child) {
		mock_reply_status(c, 400, "The messages field is required and must not be empty.", NULL);
		return;
	}
	uint64_t chars = blocks_chars(get(req, "system"));
	const cJSON *m;
	cJSON_ArrayForEach(m, msgs)
	{
		const char *role = str(m, "role");
		if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
			mock_reply_status(c, 400,
			                  "1 validation error detected: Value at 'messages.role' failed to "
			                  "satisfy constraint: Member must satisfy enum value set: [user, "
			                  "assistant]",
			                  NULL);
			return;
		}
		if (!cJSON_IsArray(get(m, "content"))) {
			mock_reply_status(c, 400, "messages.content must be an array of content blocks",
			                  NULL);
			return;
		}
		chars += blocks_chars(get(m, "content"));
	}
	r->default_model = r->path_model;
	r->default_model_len = strlen(r->path_model);
	mock_gen_setup(c, req);
	r->stream = r->cloud == MOCK_C_CONVERSE_STREAM;
	r->include_usage = false;
	r->prompt_tokens = mock_prompt_tokens(chars);
	const cJSON *mt = get(get(req, "inferenceConfig"), "maxTokens");
	if (cJSON_IsNumber(mt) && mt->valuedouble < (double)r->ntok) {
		r->ntok = mt->valuedouble > 0 ? (uint32_t)floor(mt->valuedouble) : 0;
		r->capped = true;
		r->reset_at = r->ntok / 2;
	}
	cv_shape(c, req, msgs);
	if (r->stream) {
		r->ops = &converse_ops;
		r->stream_ctype = ES_CTYPE;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[");
		if (r->shape == MOCK_S_TOOL) {
			MOCK_PUTS(b, "{\"toolUse\":{\"toolUseId\":");
			put_tool_use_id(c, b);
			MOCK_PUTS(b, ",\"name\":");
			mock_put_span(c, b, r->tool_name);
			MOCK_PUTS(b, ",\"input\":");
			mock_put_tool_input(c, b, r->text);
			MOCK_PUTS(b, "}}");
		} else {
			MOCK_PUTS(b, "{\"text\":\"");
			mock_put_text(c, b);
			MOCK_PUTS(b, "\"}");
		}
		mock_buf_putf(b, "]}},\"stopReason\":\"%s\",", cv_stop(r));
		put_cv_usage(c, b);
		MOCK_PUTS(b, "}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- InvokeModel -------------------------------------------------------------------------- */

/* The Anthropic SSE events in sse as chunk frames: {"bytes":"<base64 of the event's JSON>"};
 * no ping (Bedrock sends none), message_stop with Bedrock's invocation metrics. */
static void wrap_events(struct mock_conn *c, struct mock_buf *out, bool bad_crc)
{
	const struct mock_resp *r = &c->resp;
	const char *p = sse.p ? sse.p : "", *end = p + sse.len;
	if (sse.oom)
		out->oom = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		if (starts(p, (size_t)(line_end - p), "data: ")) {
			const char *json = p + 6;
			size_t jn = (size_t)(line_end - json);
			if (!starts(json, jn, "{\"type\":\"ping\"")) {
				struct mock_buf ev = {0};
				if (starts(json, jn, "{\"type\":\"message_stop\"")) {
					mock_buf_putf(&ev,
					              "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":"
					              "{\"inputTokenCount\":%llu,\"outputTokenCount\":%u,"
					              "\"invocationLatency\":%llu,\"firstByteLatency\":%llu}}",
					              (unsigned long long)r->prompt_tokens, r->ntok,
					              (unsigned long long)latency_ms(r),
					              (unsigned long long)(r->ttft_ms > 0 ? r->ttft_ms : 0));
				} else {
					mock_buf_put(&ev, json, jn);
				}
				pl_reset();
				MOCK_PUTS(&pl, "{\"bytes\":\"");
				mock_buf_put_base64(&pl, (const unsigned char *)(ev.p ? ev.p : ""), ev.len);
				MOCK_PUTS(&pl, "\"}");
				if (ev.oom)
					pl.oom = true;
				mock_buf_free(&ev);
				event_frame(out, "chunk", &pl, bad_crc);
			}
		}
		p = nl ? nl + 1 : end;
	}
}

static void sse_reset(void)
{
	sse.len = 0;
	sse.oom = false;
}

static void iv_preamble(struct mock_conn *c, struct mock_buf *out)
{
	sse_reset();
	mock_anthropic_msg_ops.preamble(c, &sse);
	wrap_events(c, out, false);
}

static void iv_token(struct mock_conn *c, struct mock_buf *out, const char *w, size_t n, bool first)
{
	sse_reset();
	mock_anthropic_msg_ops.token(c, &sse, w, n, first);
	wrap_events(c, out, false);
}

static void iv_end(struct mock_conn *c, struct mock_buf *out)
{
	sse_reset();
	mock_anthropic_msg_ops.end(c, &sse);
	wrap_events(c, out, false);
}

static void iv_fault(struct mock_conn *c, struct mock_buf *out)
{
	if (c->resp.fault == MOCK_F_STREAM_EXCEPTION) {
		exception_frame(out);
		return;
	}
	sse_reset();
	mock_anthropic_msg_ops.token(c, &sse, "corrupt", 7, c->resp.sent == 0);
	wrap_events(c, out, true);
}

static const struct mock_stream_ops invoke_ops = {iv_preamble, iv_token, iv_end, iv_fault};

/* Titan: {"inputText", "dimensions"?} -> {"embedding", "inputTextTokenCount"}. */
static void titan_embed(struct mock_conn *c, const cJSON *req)
{
	const cJSON *in = get(req, "inputText");
	if (!cJSON_IsString(in)) {
		mock_reply_status(c, 400,
		                  "Malformed input request: #: required key [inputText] not found, please "
		                  "reformat your input and try again.",
		                  NULL);
		return;
	}
	long dim = c->ctx->cfg.embedding_dim;
	const cJSON *d = get(req, "dimensions");
	if (d) {
		if (!cJSON_IsNumber(d) || (d->valuedouble != 256 && d->valuedouble != 512 &&
		                           d->valuedouble != 1024)) {
			mock_reply_status(c, 400,
			                  "Malformed input request: #/dimensions: 256, 512 or 1024, please "
			                  "reformat your input and try again.",
			                  NULL);
			return;
		}
		dim = (long)d->valuedouble;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		MOCK_PUTS(&w->b, "{\"embedding\":");
		mock_put_embedding(c, &w->b, in, dim);
		mock_buf_putf(&w->b, ",\"inputTextTokenCount\":%llu}",
		              (unsigned long long)mock_prompt_tokens(
		                  mock_utf8_chars(in->valuestring, strlen(in->valuestring))));
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* Cohere: {"texts": [...], "input_type"} -> {"embeddings", "id", "response_type", "texts"}. */
static void cohere_embed(struct mock_conn *c, const cJSON *req)
{
	const cJSON *texts = get(req, "texts"), *t;
	int n = cJSON_GetArraySize(texts);
	bool ok = cJSON_IsArray(texts) && n > 0 && n <= 96;
	cJSON_ArrayForEach(t, texts)
	{
		ok = ok && cJSON_IsString(t);
	}
	if (!ok || !str(req, "input_type")) {
		mock_reply_status(c, 400,
		                  "Malformed input request: texts (1 to 96 strings) and input_type are "
		                  "required, please reformat your input and try again.",
		                  NULL);
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"embeddings\":[");
		int i = 0;
		cJSON_ArrayForEach(t, texts)
		{
			if (i++)
				MOCK_PUTS(b, ",");
			mock_put_embedding(c, b, t, c->ctx->cfg.embedding_dim);
		}
		mock_buf_putf(b, "],\"id\":\"mock-%016llx\",\"response_type\":\"embeddings_floats\",\"texts\":[",
		              (unsigned long long)mock_hash(c->body.p, c->body.len));
		i = 0;
		cJSON_ArrayForEach(t, texts)
		{
			if (i++)
				MOCK_PUTS(b, ",");
			mock_buf_put_json_str(b, t->valuestring, strlen(t->valuestring));
		}
		MOCK_PUTS(b, "]}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* The Anthropic body checks of invoke (Bedrock) and rawPredict (Vertex): anthropic_version as
 * given, no model, and stream as the path says (Bedrock: absent). false: answered. */
bool mock_anthropic_cloud_body(struct mock_conn *c, cJSON *req, const char *version,
                               bool stream_allowed)
{
	struct mock_resp *r = &c->resp;
	bool stream = r->cloud == MOCK_C_INVOKE_STREAM || r->cloud == MOCK_C_VERTEX_STREAM_RAW;
	const char *v = str(req, "anthropic_version");
	char msg[300];
	if (!v || strcmp(v, version) != 0) {
		snprintf(msg, sizeof msg,
		         v ? "Malformed input request: #/anthropic_version: %s expected, got a different "
		             "value, please reformat your input and try again."
		           : "Malformed input request: #: required key [anthropic_version] not found, "
		             "please reformat your input and try again.",
		         version);
		mock_reply_status(c, 400, msg, NULL);
		return false;
	}
	const char *extra = get(req, "model") ? "model" : NULL;
	const cJSON *st = get(req, "stream");
	if (!extra && st && (!stream_allowed || !cJSON_IsBool(st) || cJSON_IsTrue(st) != stream))
		extra = "stream";
	if (extra) {
		snprintf(msg, sizeof msg,
		         "Malformed input request: #: extraneous key [%s] is not permitted, please "
		         "reformat your input and try again.",
		         extra);
		mock_reply_status(c, 400, msg, NULL);
		return false;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(req, "stream");
	if (stream)
		cJSON_AddTrueToObject(req, "stream");
	r->default_model = r->path_model;
	r->default_model_len = strlen(r->path_model);
	return true;
}

void mock_bedrock_invoke(struct mock_conn *c, cJSON *req)
{
	struct mock_resp *r = &c->resp;
	const char *model = r->path_model;
	bool stream = r->cloud == MOCK_C_INVOKE_STREAM;
	if (starts(model, strlen(model), "amazon.titan-embed") ||
	    starts(model, strlen(model), "cohere.embed")) {
		if (stream) {
			mock_reply_status(c, 400, "The model does not support streaming.", NULL);
			return;
		}
		if (model[0] == 'a')
			titan_embed(c, req);
		else
			cohere_embed(c, req);
		return;
	}
	if (!strstr(model, "anthropic.")) {
		mock_reply_status(c, 400,
		                  "The mock's invoke serves anthropic.*, amazon.titan-embed-* and "
		                  "cohere.embed-* models",
		                  NULL);
		return;
	}
	if (!mock_anthropic_cloud_body(c, req, "bedrock-2023-05-31", false))
		return;
	mock_anthropic_messages(c, req);
	if (r->stream) {
		r->ops = &invoke_ops;
		r->stream_ctype = ES_CTYPE;
	}
}

void mock_bedrock_free(void)
{
	mock_buf_free(&pl);
	mock_buf_free(&sse);
}
