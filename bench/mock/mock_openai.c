/* mock_openai.c: the OpenAI side of sluice-mock: chat completions, legacy completions,
 * embeddings, models, their streamed chunks and the OpenAI error shape.
 *
 * The idea: bodies are printed directly in the field order the real API uses, from a handful of
 * values fixed at dispatch (id from the request hash, created, model, token counts), so the same
 * request body always gets the same answer and printing costs no JSON tree. */
#include <math.h>
#include <string.h>

#include "mock.h"
#include "policy/embed_hash.h"

void mock_openai_error_body(struct mock_buf *b, const char *message, const char *type,
                            const char *code)
{
	MOCK_PUTS(b, "{\"error\":{\"message\":");
	mock_buf_put_json_str(b, message, strlen(message));
	MOCK_PUTS(b, ",\"type\":");
	mock_buf_put_json_str(b, type, strlen(type));
	MOCK_PUTS(b, ",\"param\":null,\"code\":");
	if (code)
		mock_buf_put_json_str(b, code, strlen(code));
	else
		MOCK_PUTS(b, "null");
	MOCK_PUTS(b, "}}");
}

static void put_usage(struct mock_buf *b, const struct mock_resp *r)
{
	MOCK_PUTS(b, "{\"prompt_tokens\":");
	mock_buf_put_u64(b, r->prompt_tokens);
	MOCK_PUTS(b, ",\"completion_tokens\":");
	mock_buf_put_u64(b, r->ntok);
	MOCK_PUTS(b, ",\"total_tokens\":");
	mock_buf_put_u64(b, r->prompt_tokens + r->ntok);
	MOCK_PUTS(b, "}");
}

static const char *finish_reason(const struct mock_resp *r)
{
	if (r->shape == MOCK_S_TOOL && !r->capped) /* a tool call is capped only by --answer-mode */
		return "\"tool_calls\"";
	return r->capped ? "\"length\"" : "\"stop\"";
}

/* "id":"<prefix><hash>","object":"<object>","created":T,"model":M */
static void put_head(struct mock_conn *c, struct mock_buf *b, const char *prefix, const char *object)
{
	MOCK_PUTS(b, "\"id\":\"");
	mock_buf_puts(b, prefix);
	mock_buf_putf(b, "%016llx", (unsigned long long)c->resp.hash);
	MOCK_PUTS(b, "\",\"object\":\"");
	mock_buf_puts(b, object);
	MOCK_PUTS(b, "\",\"created\":");
	mock_buf_put_i64(b, c->resp.created);
	MOCK_PUTS(b, ",\"model\":");
	mock_buf_put(b, c->model.p, c->model.len);
}

/* ---- chat completions ------------------------------------------------------------------- */

static void chat_chunk_begin(struct mock_conn *c, struct mock_buf *b)
{
	MOCK_PUTS(b, "data: {");
	put_head(c, b, "chatcmpl-", "chat.completion.chunk");
	MOCK_PUTS(b, ",\"choices\":[{\"index\":0,\"delta\":");
}

static void chat_chunk_end(struct mock_conn *c, struct mock_buf *b, const char *finish,
                           const char *tok, size_t tn)
{
	MOCK_PUTS(b, ",\"logprobs\":");
	mock_put_logprobs(c, b, tok, tn);
	MOCK_PUTS(b, ",\"finish_reason\":");
	mock_buf_puts(b, finish);
	MOCK_PUTS(b, "}]");
	if (c->resp.include_usage)
		MOCK_PUTS(b, ",\"usage\":null");
	MOCK_PUTS(b, "}\n\n");
}

static void chat_preamble(struct mock_conn *c, struct mock_buf *b)
{
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{\"role\":\"assistant\",\"content\":\"\"}");
	chat_chunk_end(c, b, "null", NULL, 0);
}

static void chat_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{\"content\":\"");
	if (!first)
		MOCK_PUTS(b, " ");
	mock_buf_put(b, w, n);
	MOCK_PUTS(b, "\"}");
	chat_chunk_end(c, b, "null", w, n);
}

static void put_usage_chunk(struct mock_conn *c, struct mock_buf *b, const char *prefix,
                            const char *object)
{
	MOCK_PUTS(b, "data: {");
	put_head(c, b, prefix, object);
	MOCK_PUTS(b, ",\"choices\":[],\"usage\":");
	put_usage(b, &c->resp);
	MOCK_PUTS(b, "}\n\n");
}

static void chat_end(struct mock_conn *c, struct mock_buf *b)
{
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{}");
	chat_chunk_end(c, b, finish_reason(&c->resp), NULL, 0);
	if (c->resp.include_usage)
		put_usage_chunk(c, b, "chatcmpl-", "chat.completion.chunk");
	MOCK_PUTS(b, "data: [DONE]\n\n");
}

static const struct mock_stream_ops chat_ops = {chat_preamble, chat_token, chat_end, NULL};

/* Tool calls and JSON answers: the text goes out in pieces (mock_tools.c). */
static void put_call_id(struct mock_conn *c, struct mock_buf *b)
{
	mock_buf_putf(b, "\"call_%016llx\"", (unsigned long long)c->resp.hash);
}

static void tool_preamble(struct mock_conn *c, struct mock_buf *b)
{
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":");
	put_call_id(c, b);
	MOCK_PUTS(b, ",\"type\":\"function\",\"function\":{\"name\":");
	mock_buf_put_json_str(b, mock_span_ptr(c, c->resp.tool_name), c->resp.tool_name.len);
	MOCK_PUTS(b, ",\"arguments\":\"\"}}]}");
	chat_chunk_end(c, b, "null", NULL, 0);
}

static void tool_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	const char *p;
	size_t pn;
	mock_piece(c, c->resp.sent, &p, &pn);
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
	mock_buf_put_json_str(b, p, pn);
	MOCK_PUTS(b, "}}]}");
	chat_chunk_end(c, b, "null", p, pn);
}

static const struct mock_stream_ops chat_tool_ops = {tool_preamble, tool_token, chat_end, NULL};

static void json_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	const char *p;
	size_t pn;
	mock_piece(c, c->resp.sent, &p, &pn);
	chat_chunk_begin(c, b);
	MOCK_PUTS(b, "{\"content\":");
	mock_buf_put_json_str(b, p, pn);
	MOCK_PUTS(b, "}");
	chat_chunk_end(c, b, "null", p, pn);
}

static const struct mock_stream_ops chat_json_ops = {chat_preamble, json_token, chat_end, NULL};

/* Tools, or a response_format asking for JSON: the answer's shape (words when neither). */
static void chat_shape(struct mock_conn *c, const cJSON *req, const cJSON *msgs)
{
	const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
	bool last_tool = cJSON_IsString(role) && strcmp(role->valuestring, "tool") == 0;
	const char *name;
	const cJSON *schema;
	if (mock_tool_pick(cJSON_GetObjectItemCaseSensitive(req, "tools"),
	                   cJSON_GetObjectItemCaseSensitive(req, "tool_choice"), MOCK_API_CHAT, last_tool,
	                   &name, &schema)) {
		mock_tool_setup(c, name, schema);
		return;
	}
	const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req, "response_format");
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
	if (!cJSON_IsString(type))
		return;
	if (strcmp(type->valuestring, "json_schema") == 0) {
		const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(js, "schema");
		if (cJSON_IsObject(sc))
			mock_json_setup(c, sc);
		else
			mock_json_setup(c, NULL);
	} else if (strcmp(type->valuestring, "json_object") == 0) {
		mock_json_setup(c, NULL);
	}
}

void mock_openai_chat(struct mock_conn *c, const cJSON *req)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	if (!cJSON_IsArray(msgs)) {
		mock_reply_status(c, 400, "'messages' is a required property and must be an array", NULL);
		return;
	}
	uint64_t chars = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, msgs)
	{
		if (cJSON_IsObject(m))
			chars += mock_content_chars(cJSON_GetObjectItemCaseSensitive(m, "content"));
	}
	struct mock_resp *r = &c->resp;
	mock_gen_setup(c, req);
	r->prompt_tokens = mock_prompt_tokens(chars);
	chat_shape(c, req, msgs);
	mock_bad_chat(c, req); /* --answer-mode, "logprobs" (mock_badanswer.c) */
	if (r->stream) {
		r->ops = r->shape == MOCK_S_TOOL ? &chat_tool_ops
		         : r->shape == MOCK_S_JSON ? &chat_json_ops
		                                   : &chat_ops;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{");
		put_head(c, b, "chatcmpl-", "chat.completion");
		MOCK_PUTS(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
		if (r->shape == MOCK_S_TOOL) {
			MOCK_PUTS(b, "null,\"tool_calls\":[{\"id\":");
			put_call_id(c, b);
			MOCK_PUTS(b, ",\"type\":\"function\",\"function\":{\"name\":");
			mock_buf_put_json_str(b, mock_span_ptr(c, r->tool_name), r->tool_name.len);
			MOCK_PUTS(b, ",\"arguments\":");
			mock_put_span(c, b, r->text);
			MOCK_PUTS(b, "}}]");
		} else if (r->shape == MOCK_S_JSON) {
			mock_put_span(c, b, r->text);
		} else {
			MOCK_PUTS(b, "\"");
			mock_put_text(c, b);
			MOCK_PUTS(b, "\"");
		}
		MOCK_PUTS(b, "},\"logprobs\":");
		mock_put_logprobs_whole(c, b);
		MOCK_PUTS(b, ",\"finish_reason\":");
		mock_buf_puts(b, finish_reason(r));
		MOCK_PUTS(b, "}],\"usage\":");
		put_usage(b, r);
		MOCK_PUTS(b, "}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- legacy completions ----------------------------------------------------------------- */

static void compl_chunk(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n,
                        bool space, const char *finish)
{
	MOCK_PUTS(b, "data: {");
	put_head(c, b, "cmpl-", "text_completion");
	MOCK_PUTS(b, ",\"choices\":[{\"text\":\"");
	if (space)
		MOCK_PUTS(b, " ");
	mock_buf_put(b, w, n);
	MOCK_PUTS(b, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":");
	mock_buf_puts(b, finish);
	MOCK_PUTS(b, "}]");
	if (c->resp.include_usage)
		MOCK_PUTS(b, ",\"usage\":null");
	MOCK_PUTS(b, "}\n\n");
}

static void compl_preamble(struct mock_conn *c, struct mock_buf *b)
{
}

static void compl_token(struct mock_conn *c, struct mock_buf *b, const char *w, size_t n, bool first)
{
	compl_chunk(c, b, w, n, !first, "null");
}

static void compl_end(struct mock_conn *c, struct mock_buf *b)
{
	compl_chunk(c, b, "", 0, false, finish_reason(&c->resp));
	if (c->resp.include_usage)
		put_usage_chunk(c, b, "cmpl-", "text_completion");
	MOCK_PUTS(b, "data: [DONE]\n\n");
}

static const struct mock_stream_ops compl_ops = {compl_preamble, compl_token, compl_end, NULL};

/* Prompt size: strings count chars/4, token arrays count their tokens. */
static uint64_t prompt_size(const cJSON *p, uint64_t *tokens)
{
	if (cJSON_IsString(p))
		return mock_utf8_chars(p->valuestring, strlen(p->valuestring));
	if (cJSON_IsNumber(p)) {
		(*tokens)++;
		return 0;
	}
	uint64_t chars = 0;
	if (cJSON_IsArray(p)) {
		const cJSON *it;
		cJSON_ArrayForEach(it, p)
		{
			chars += prompt_size(it, tokens);
		}
	}
	return chars;
}

void mock_openai_completions(struct mock_conn *c, const cJSON *req)
{
	const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req, "prompt");
	if (prompt && !cJSON_IsString(prompt) && !cJSON_IsArray(prompt)) {
		mock_reply_status(c, 400, "'prompt' must be a string or an array", NULL);
		return;
	}
	uint64_t tokens = 0;
	uint64_t chars = prompt ? prompt_size(prompt, &tokens) : 0;
	struct mock_resp *r = &c->resp;
	mock_gen_setup(c, req);
	r->prompt_tokens = tokens ? (chars + 3) / 4 + tokens : mock_prompt_tokens(chars);
	if (r->stream) {
		r->ops = &compl_ops;
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{");
		put_head(c, b, "cmpl-", "text_completion");
		MOCK_PUTS(b, ",\"choices\":[{\"text\":\"");
		mock_put_text(c, b);
		MOCK_PUTS(b, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":");
		mock_buf_puts(b, finish_reason(r));
		MOCK_PUTS(b, "}],\"usage\":");
		put_usage(b, r);
		MOCK_PUTS(b, "}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- embeddings ------------------------------------------------------------------------- */

static bool all_numbers(const cJSON *a)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	{
		if (!cJSON_IsNumber(it))
			return false;
	}
	return true;
}

/* The seed of an input's vector: a hash of its text, or of its token ids (as int32 LE). */
static uint64_t input_hash(const cJSON *in)
{
	if (cJSON_IsString(in))
		return mock_hash(in->valuestring, strlen(in->valuestring));
	uint64_t h = 0x6a09e667f3bcc908ULL;
	const cJSON *it;
	cJSON_ArrayForEach(it, in)
	{
		double x = it->valuedouble;
		uint32_t v = (x >= -2147483648.0 && x <= 4294967295.0) ? (uint32_t)(int64_t)x : 0;
		unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8),
		                       (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
		h = mock_hash(le, 4) ^ (h * 0x9e3779b97f4a7c15ULL);
	}
	return h;
}

/* Hashed n-gram vectors (sluice's in-process embedder, policy/embed_hash.c) for a model whose
 * name starts with "hash" (e.g. hash-embed): texts that share words get similar vectors, so a
 * semantic router or cache behind the mock sees meaningful similarities. Token-id inputs keep
 * the random vectors. */
static bool hash_model(const cJSON *req)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
	return cJSON_IsString(m) && strncmp(m->valuestring, "hash", 4) == 0;
}

static void put_embedding(struct mock_conn *c, struct mock_buf *b, const cJSON *in, long dim,
                          bool base64, bool hashed)
{
	struct mock_buf *f = &c->ctx->fscratch;
	f->len = 0;
	f->oom = false;
	if (mock_buf_reserve(f, (size_t)dim * sizeof(float))) {
		b->oom = true;
		return;
	}
	float *v = (float *)(void *)f->p;
	if (hashed && cJSON_IsString(in)) {
		sl_embed_hash(in->valuestring, strlen(in->valuestring), 0, v, (unsigned)dim);
	} else {
		uint64_t rng = input_hash(in);
		double norm = 0;
		for (long i = 0; i < dim; i++) {
			double x = mock_rand_uniform(&rng) * 2.0 - 1.0;
			v[i] = (float)x;
			norm += x * x;
		}
		norm = sqrt(norm);
		for (long i = 0; i < dim; i++)
			v[i] = norm > 0 ? (float)(v[i] / norm) : 0.0f;
	}
	if (base64) {
		unsigned char *bytes = (unsigned char *)f->p;
		for (long i = 0; i < dim; i++) { /* little-endian float32, whatever the host */
			uint32_t u;
			memcpy(&u, &v[i], 4);
			bytes[4 * i] = (unsigned char)u;
			bytes[4 * i + 1] = (unsigned char)(u >> 8);
			bytes[4 * i + 2] = (unsigned char)(u >> 16);
			bytes[4 * i + 3] = (unsigned char)(u >> 24);
		}
		MOCK_PUTS(b, "\"");
		mock_buf_put_base64(b, bytes, (size_t)dim * 4);
		MOCK_PUTS(b, "\"");
		return;
	}
	MOCK_PUTS(b, "[");
	for (long i = 0; i < dim; i++) {
		if (i)
			MOCK_PUTS(b, ",");
		mock_buf_putf(b, "%.9g", (double)v[i]);
	}
	MOCK_PUTS(b, "]");
}

void mock_put_embedding(struct mock_conn *c, struct mock_buf *b, const cJSON *in, long dim)
{
	put_embedding(c, b, in, dim, false, false);
}

void mock_openai_embeddings(struct mock_conn *c, const cJSON *req)
{
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input");
	/* One input, or a list of inputs; an input is a string or an array of token ids. */
	bool single = cJSON_IsString(input) ||
	              (cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0 && all_numbers(input));
	if (!single) {
		if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0) {
			mock_reply_status(c, 400,
			                  "'input' is required: a string, an array of strings or an array of "
			                  "token arrays",
			                  NULL);
			return;
		}
		const cJSON *it;
		cJSON_ArrayForEach(it, input)
		{
			if (!cJSON_IsString(it) && !(cJSON_IsArray(it) && all_numbers(it))) {
				mock_reply_status(c, 400, "'input' items must be strings or arrays of token ids",
				                  NULL);
				return;
			}
		}
	}
	int count = single ? 1 : cJSON_GetArraySize(input);
	if (count > MOCK_MAX_EMBED_INPUTS) {
		mock_reply_status(c, 400, "'input' can have at most 2048 items", NULL);
		return;
	}
	bool hashed = hash_model(req);
	long dim = hashed ? SL_EMBED_HASH_DIM : c->ctx->cfg.embedding_dim;
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(req, "dimensions");
	if (d) {
		if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > MOCK_MAX_EMBED_DIM ||
		    d->valuedouble != floor(d->valuedouble)) {
			mock_reply_status(c, 400, "'dimensions' must be an integer between 1 and 65536", NULL);
			return;
		}
		dim = (long)d->valuedouble;
		if (hashed && dim > SL_EMBED_HASH_MAX_DIM) {
			mock_reply_status(c, 400, "'dimensions' must be at most 4096 for a hash model", NULL);
			return;
		}
	}
	if ((uint64_t)count * (uint64_t)dim > MOCK_MAX_EMBED_VALUES) {
		mock_reply_status(c, 400, "too many embedding values requested (inputs x dimensions)",
		                  NULL);
		return;
	}
	bool base64 = false;
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(req, "encoding_format");
	if (fmt && !cJSON_IsNull(fmt)) {
		if (cJSON_IsString(fmt) && strcmp(fmt->valuestring, "base64") == 0) {
			base64 = true;
		} else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "float") != 0) {
			mock_reply_status(c, 400, "'encoding_format' must be 'float' or 'base64'", NULL);
			return;
		}
	}
	mock_set_model(c, req);

	uint64_t tokens = 0;
	uint64_t chars = prompt_size(input, &tokens);
	uint64_t prompt = tokens ? (chars + 3) / 4 + tokens : mock_prompt_tokens(chars);

	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"object\":\"list\",\"data\":[");
		if (single) {
			MOCK_PUTS(b, "{\"object\":\"embedding\",\"index\":0,\"embedding\":");
			put_embedding(c, b, input, dim, base64, hashed);
			MOCK_PUTS(b, "}");
		} else {
			const cJSON *it;
			uint64_t i = 0;
			cJSON_ArrayForEach(it, input)
			{
				if (i)
					MOCK_PUTS(b, ",");
				MOCK_PUTS(b, "{\"object\":\"embedding\",\"index\":");
				mock_buf_put_u64(b, i);
				MOCK_PUTS(b, ",\"embedding\":");
				put_embedding(c, b, it, dim, base64, hashed);
				MOCK_PUTS(b, "}");
				i++;
			}
		}
		MOCK_PUTS(b, "],\"model\":");
		mock_buf_put(b, c->model.p, c->model.len);
		MOCK_PUTS(b, ",\"usage\":{\"prompt_tokens\":");
		mock_buf_put_u64(b, prompt);
		MOCK_PUTS(b, ",\"total_tokens\":");
		mock_buf_put_u64(b, prompt);
		MOCK_PUTS(b, "}}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- models ----------------------------------------------------------------------------- */

static void put_model(struct mock_conn *c, struct mock_buf *b, const char *name, size_t n)
{
	MOCK_PUTS(b, "{\"id\":");
	mock_buf_put_json_str(b, name, n);
	MOCK_PUTS(b, ",\"object\":\"model\",\"created\":");
	mock_buf_put_i64(b, c->ctx->started);
	MOCK_PUTS(b, ",\"owned_by\":\"sluice-mock\"}");
}

void mock_openai_models(struct mock_conn *c, const char *id, size_t id_len)
{
	const struct mock_config *cfg = &c->ctx->cfg;
	if (id) {
		for (size_t i = 0; i < cfg->n_models; i++) {
			if (strlen(cfg->models[i]) == id_len && memcmp(cfg->models[i], id, id_len) == 0) {
				struct mock_wbuf *w = mock_whole_begin(c);
				if (w)
					put_model(c, &w->b, id, id_len);
				mock_whole_end(c, w, 200, "application/json", NULL);
				return;
			}
		}
		struct mock_wbuf *w = mock_whole_begin(c);
		if (w) {
			struct mock_buf *b = &w->b;
			MOCK_PUTS(b, "{\"error\":{\"message\":\"The model '");
			mock_buf_put_json_chars(b, id, id_len);
			MOCK_PUTS(b, "' does not exist\",\"type\":\"invalid_request_error\",\"param\":null,"
			             "\"code\":\"model_not_found\"}}");
		}
		mock_whole_end(c, w, 404, "application/json", NULL);
		return;
	}
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"object\":\"list\",\"data\":[");
		for (size_t i = 0; i < cfg->n_models; i++) {
			if (i)
				MOCK_PUTS(b, ",");
			put_model(c, b, cfg->models[i], strlen(cfg->models[i]));
		}
		MOCK_PUTS(b, "]}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}
