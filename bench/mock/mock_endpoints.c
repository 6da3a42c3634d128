/* mock_endpoints.c: the OpenAI-style endpoints of sluice-mock besides generation: moderations,
 * rerank, image generation, speech and transcription.
 *
 * The idea: each answer is a fixed shape filled from the request, deterministic (scores and
 * bytes come from hashes of the inputs), printed directly like the other APIs. Rerank follows
 * Cohere v2 / vLLM ({id, model, results: [{index, relevance_score, document?}], usage:
 * {total_tokens}}), the document only with return_documents. Transcriptions take
 * multipart/form-data: the fields are read with net/wire/multipart.c (model, response_format and
 * an optional "mock" field holding the usual JSON override) into a small JSON object, so the
 * fault logic of mock_route.c applies unchanged. To add an endpoint: a route in mock_route.c
 * and a builder here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"
#include "net/wire/multipart.h"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static void set_model_or(struct mock_conn *c, const cJSON *req, const char *dflt)
{
	if (cJSON_IsString(get(req, "model"))) {
		mock_set_model(c, req);
		return;
	}
	c->model.len = 0;
	c->model.oom = false;
	mock_buf_put_json_str(&c->model, dflt, strlen(dflt));
}

/* ---- moderations ---------------------------------------------------------------------------- */

static const char *const mod_categories[] = {
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent", "sexual",
    "sexual/minors", "violence", "violence/graphic",
};
#define N_MOD (sizeof mod_categories / sizeof mod_categories[0])

static void put_mod_result(struct mock_buf *b)
{
	MOCK_PUTS(b, "{\"flagged\":false,\"categories\":{");
	for (size_t i = 0; i < N_MOD; i++)
		mock_buf_putf(b, "%s\"%s\":false", i ? "," : "", mod_categories[i]);
	MOCK_PUTS(b, "},\"category_scores\":{");
	for (size_t i = 0; i < N_MOD; i++)
		mock_buf_putf(b, "%s\"%s\":0.0001", i ? "," : "", mod_categories[i]);
	MOCK_PUTS(b, "},\"category_applied_input_types\":{");
	for (size_t i = 0; i < N_MOD; i++)
		mock_buf_putf(b, "%s\"%s\":[\"text\"]", i ? "," : "", mod_categories[i]);
	MOCK_PUTS(b, "}}");
}

void mock_openai_moderations(struct mock_conn *c, const cJSON *req)
{
	const cJSON *input = get(req, "input");
	size_t n = 0;
	if (cJSON_IsString(input)) {
		n = 1;
	} else if (cJSON_IsArray(input) && input->child) {
		const cJSON *it;
		bool strings = true;
		cJSON_ArrayForEach(it, input)
		{
			if (!cJSON_IsString(it))
				strings = false;
			else if (!strings)
				break;
		}
		if (strings) {
			n = (size_t)cJSON_GetArraySize(input);
		} else { /* multimodal parts: one result for them all */
			cJSON_ArrayForEach(it, input)
			{
				if (!cJSON_IsObject(it) || !cJSON_IsString(get(it, "type")))
					break;
			}
			n = it ? 0 : 1;
		}
	}
	if (n == 0) {
		mock_reply_status(c, 400,
		                  "'input' must be a string, an array of strings or an array of "
		                  "multimodal inputs",
		                  NULL);
		return;
	}
	set_model_or(c, req, "omni-moderation-latest");
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		mock_buf_putf(b, "{\"id\":\"modr-mock-%llu\",\"model\":", (unsigned long long)c->resp.num);
		mock_buf_put(b, c->model.p, c->model.len);
		MOCK_PUTS(b, ",\"results\":[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				MOCK_PUTS(b, ",");
			put_mod_result(b);
		}
		MOCK_PUTS(b, "]}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- rerank --------------------------------------------------------------------------------- */

struct ranked {
	int index;
	double score;
};

static const char *doc_text(const cJSON *d)
{
	if (cJSON_IsString(d))
		return d->valuestring;
	const cJSON *t = get(d, "text");
	return cJSON_IsString(t) ? t->valuestring : NULL;
}

void mock_rerank(struct mock_conn *c, const cJSON *req)
{
	const cJSON *query = get(req, "query"), *docs = get(req, "documents");
	if (!cJSON_IsString(query) || !cJSON_IsArray(docs) || !docs->child) {
		mock_reply_status(c, 400, "'query' (a string) and 'documents' (a non-empty array) are required",
		                  NULL);
		return;
	}
	int n = cJSON_GetArraySize(docs);
	if (n > 10000) {
		mock_reply_status(c, 400, "'documents' can have at most 10000 items", NULL);
		return;
	}
	const cJSON *tn = get(req, "top_n");
	int top = n;
	if (tn && !cJSON_IsNull(tn)) {
		if (!cJSON_IsNumber(tn) || tn->valuedouble < 1) {
			mock_reply_status(c, 400, "'top_n' must be a positive integer", NULL);
			return;
		}
		if (tn->valuedouble < n)
			top = (int)tn->valuedouble;
	}
	struct ranked *rk = malloc((size_t)n * sizeof *rk);
	if (!rk) {
		mock_reply_status(c, 500, "out of memory", NULL);
		return;
	}
	uint64_t qh = mock_hash(query->valuestring, strlen(query->valuestring));
	uint64_t chars = mock_utf8_chars(query->valuestring, strlen(query->valuestring));
	const cJSON *d;
	int i = 0;
	cJSON_ArrayForEach(d, docs)
	{
		const char *t = doc_text(d);
		if (!t) {
			free(rk);
			mock_reply_status(c, 400, "'documents' items must be strings or objects with 'text'",
			                  NULL);
			return;
		}
		uint64_t s = mock_hash(t, strlen(t)) ^ (qh * 0x9e3779b97f4a7c15ULL);
		rk[i].index = i;
		rk[i].score = mock_rand_uniform(&s);
		chars += mock_utf8_chars(t, strlen(t));
		i++;
	}
	/* insertion sort: by score descending, ties by index */
	for (int a = 1; a < n; a++) {
		struct ranked x = rk[a];
		int b = a - 1;
		while (b >= 0 && (rk[b].score < x.score || (rk[b].score == x.score && rk[b].index > x.index))) {
			rk[b + 1] = rk[b];
			b--;
		}
		rk[b + 1] = x;
	}
	bool with_docs = cJSON_IsTrue(get(req, "return_documents"));
	mock_set_model(c, req);
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		mock_buf_putf(b, "{\"id\":\"rerank-mock-%llu\",\"model\":", (unsigned long long)c->resp.num);
		mock_buf_put(b, c->model.p, c->model.len);
		MOCK_PUTS(b, ",\"results\":[");
		for (int k = 0; k < top; k++) {
			mock_buf_putf(b, "%s{\"index\":%d,\"relevance_score\":%.6f", k ? "," : "", rk[k].index,
			              rk[k].score);
			if (with_docs) {
				const char *t = doc_text(cJSON_GetArrayItem(docs, rk[k].index));
				MOCK_PUTS(b, ",\"document\":{\"text\":");
				mock_buf_put_json_str(b, t, strlen(t));
				MOCK_PUTS(b, "}");
			}
			MOCK_PUTS(b, "}");
		}
		MOCK_PUTS(b, "],\"usage\":{\"total_tokens\":");
		mock_buf_put_u64(b, mock_prompt_tokens(chars));
		MOCK_PUTS(b, "}}");
	}
	free(rk);
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- images --------------------------------------------------------------------------------- */

/* A 1x1 PNG. */
#define MOCK_PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
#define IMAGE_TOKENS 272 /* gpt-image-1, 1024x1024, low quality */

void mock_openai_images(struct mock_conn *c, const cJSON *req)
{
	const cJSON *prompt = get(req, "prompt");
	if (!cJSON_IsString(prompt)) {
		mock_reply_status(c, 400, "Missing required parameter: 'prompt'.", NULL);
		return;
	}
	const cJSON *nn = get(req, "n");
	int n = 1;
	if (nn && !cJSON_IsNull(nn)) {
		if (!cJSON_IsNumber(nn) || nn->valuedouble < 1 || nn->valuedouble > 10) {
			mock_reply_status(c, 400, "'n' must be an integer between 1 and 10", NULL);
			return;
		}
		n = (int)nn->valuedouble;
	}
	const cJSON *rf = get(req, "response_format");
	bool url = cJSON_IsString(rf) && strcmp(rf->valuestring, "url") == 0;
	const cJSON *size = get(req, "size"), *quality = get(req, "quality");
	uint64_t in = mock_prompt_tokens(mock_utf8_chars(prompt->valuestring, strlen(prompt->valuestring)));
	uint64_t out = (uint64_t)IMAGE_TOKENS * (uint64_t)n;
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		MOCK_PUTS(b, "{\"created\":");
		mock_buf_put_i64(b, (int64_t)time(NULL));
		MOCK_PUTS(b, ",\"data\":[");
		for (int i = 0; i < n; i++) {
			if (i)
				MOCK_PUTS(b, ",");
			if (url)
				mock_buf_putf(b, "{\"url\":\"https://mock.invalid/image-%llu-%d.png\"}",
				              (unsigned long long)c->resp.num, i);
			else
				MOCK_PUTS(b, "{\"b64_json\":\"" MOCK_PNG_B64 "\"}");
		}
		MOCK_PUTS(b, "],\"background\":\"opaque\",\"output_format\":\"png\",\"quality\":");
		if (cJSON_IsString(quality))
			mock_buf_put_json_str(b, quality->valuestring, strlen(quality->valuestring));
		else
			MOCK_PUTS(b, "\"low\"");
		MOCK_PUTS(b, ",\"size\":");
		if (cJSON_IsString(size))
			mock_buf_put_json_str(b, size->valuestring, strlen(size->valuestring));
		else
			MOCK_PUTS(b, "\"1024x1024\"");
		MOCK_PUTS(b, ",\"usage\":{\"input_tokens\":");
		mock_buf_put_u64(b, in);
		MOCK_PUTS(b, ",\"output_tokens\":");
		mock_buf_put_u64(b, out);
		MOCK_PUTS(b, ",\"total_tokens\":");
		mock_buf_put_u64(b, in + out);
		MOCK_PUTS(b, ",\"input_tokens_details\":{\"text_tokens\":");
		mock_buf_put_u64(b, in);
		MOCK_PUTS(b, ",\"image_tokens\":0}}}");
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}

/* ---- speech --------------------------------------------------------------------------------- */

#define SPEECH_BYTES 256

void mock_openai_speech(struct mock_conn *c, const cJSON *req)
{
	const cJSON *input = get(req, "input");
	if (!cJSON_IsString(input)) {
		mock_reply_status(c, 400, "Missing required parameter: 'input'.", NULL);
		return;
	}
	static const char *const fmts[][2] = {
	    {"mp3", "audio/mpeg"}, {"opus", "audio/opus"}, {"aac", "audio/aac"},
	    {"flac", "audio/flac"}, {"wav", "audio/wav"},  {"pcm", "audio/pcm"},
	};
	const char *ctype = NULL;
	const cJSON *rf = get(req, "response_format");
	if (!rf || cJSON_IsNull(rf)) {
		ctype = "audio/mpeg";
	} else if (cJSON_IsString(rf)) {
		for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
			if (strcmp(rf->valuestring, fmts[i][0]) == 0)
				ctype = fmts[i][1];
	}
	if (!ctype) {
		mock_reply_status(c, 400,
		                  "'response_format' must be one of mp3, opus, aac, flac, wav, pcm", NULL);
		return;
	}
	/* 256 bytes: "ID3" then bytes drawn from the input's hash */
	uint64_t s = mock_hash(input->valuestring, strlen(input->valuestring));
	unsigned char bytes[SPEECH_BYTES];
	memcpy(bytes, "ID3", 3);
	for (size_t i = 3; i < SPEECH_BYTES; i++)
		bytes[i] = (unsigned char)(mock_rand_next(&s) >> 56);
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w)
		mock_buf_put(&w->b, bytes, sizeof bytes);
	mock_whole_end(c, w, 200, ctype, NULL);
}

/* ---- transcriptions ------------------------------------------------------------------------- */

static bool field(struct mock_conn *c, const char *b, size_t bn, const char *name, cJSON *out,
                  bool required)
{
	size_t vs, ve;
	int r = sl_multipart_field(c->body.p, c->body.len, b, bn, name, &vs, &ve);
	char msg[160];
	if (r == -ENOENT && !required)
		return true;
	if (r == 0) {
		char *v = malloc(ve - vs + 1);
		if (!v) {
			mock_reply_status(c, 500, "out of memory", NULL);
			return false;
		}
		memcpy(v, c->body.p + vs, ve - vs);
		v[ve - vs] = 0;
		if (strcmp(name, "mock") == 0) {
			cJSON *m = cJSON_Parse(v);
			free(v);
			if (!m) {
				mock_reply_status(c, 400, "the 'mock' field must hold a JSON object", NULL);
				return false;
			}
			cJSON_AddItemToObject(out, name, m);
			return true;
		}
		cJSON_AddStringToObject(out, name, v);
		free(v);
		return true;
	}
	if (r == -ENOENT)
		snprintf(msg, sizeof msg, "Missing required parameter: '%s'.", name);
	else if (r == -EEXIST)
		snprintf(msg, sizeof msg, "The form field '%s' was sent more than once.", name);
	else
		snprintf(msg, sizeof msg, "Could not parse multipart form: the body is not well-formed "
		                          "multipart/form-data.");
	mock_reply_status(c, 400, msg, NULL);
	return false;
}

cJSON *mock_transcription_request(struct mock_conn *c)
{
	size_t cn = 0, bn;
	const char *ct = mock_conn_header(c, "content-type", &cn), *b;
	if (!ct || sl_multipart_boundary(ct, cn, &b, &bn) < 0) {
		mock_reply_status(c, 400,
		                  "Invalid Content-Type header: expected multipart/form-data with a "
		                  "boundary.",
		                  NULL);
		return NULL;
	}
	cJSON *req = cJSON_CreateObject();
	if (!req) {
		mock_reply_status(c, 500, "out of memory", NULL);
		return NULL;
	}
	if (!field(c, b, bn, "model", req, true) || !field(c, b, bn, "response_format", req, false) ||
	    !field(c, b, bn, "mock", req, false)) {
		cJSON_Delete(req);
		return NULL;
	}
	cJSON_AddNumberToObject(req, "bytes", (double)c->body.len);
	return req;
}

void mock_openai_transcriptions(struct mock_conn *c, const cJSON *req)
{
	const cJSON *rf = get(req, "response_format");
	const char *fmt = cJSON_IsString(rf) ? rf->valuestring : "json";
	char text[96];
	snprintf(text, sizeof text, "mock transcription of %llu bytes",
	         (unsigned long long)c->body.len);
	uint64_t in = mock_prompt_tokens(c->body.len), out = mock_prompt_tokens(strlen(text));
	struct mock_wbuf *w;
	if (!strcmp(fmt, "text") || !strcmp(fmt, "srt") || !strcmp(fmt, "vtt")) {
		w = mock_whole_begin(c);
		if (w) {
			if (!strcmp(fmt, "srt"))
				MOCK_PUTS(&w->b, "1\n00:00:00,000 --> 00:00:01,000\n");
			else if (!strcmp(fmt, "vtt"))
				MOCK_PUTS(&w->b, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n");
			mock_buf_puts(&w->b, text);
			if (strcmp(fmt, "text") != 0)
				MOCK_PUTS(&w->b, "\n\n");
		}
		mock_whole_end(c, w, 200, "text/plain; charset=utf-8", NULL);
		return;
	}
	bool verbose = !strcmp(fmt, "verbose_json");
	if (!verbose && strcmp(fmt, "json") != 0) {
		mock_reply_status(c, 400,
		                  "'response_format' must be one of json, text, srt, verbose_json, vtt",
		                  NULL);
		return;
	}
	w = mock_whole_begin(c);
	if (w) {
		struct mock_buf *b = &w->b;
		if (verbose) {
			MOCK_PUTS(b, "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":1.0,\"text\":");
			mock_buf_put_json_str(b, text, strlen(text));
			MOCK_PUTS(b, ",\"words\":[{\"word\":\"mock\",\"start\":0.0,\"end\":1.0}],"
			             "\"segments\":[{\"id\":0,\"seek\":0,\"start\":0.0,\"end\":1.0,\"text\":");
			mock_buf_put_json_str(b, text, strlen(text));
			MOCK_PUTS(b, ",\"tokens\":[1],\"temperature\":0.0,\"avg_logprob\":-0.1,"
			             "\"compression_ratio\":1.0,\"no_speech_prob\":0.0}],"
			             "\"usage\":{\"type\":\"duration\",\"seconds\":1}}");
		} else {
			MOCK_PUTS(b, "{\"text\":");
			mock_buf_put_json_str(b, text, strlen(text));
			MOCK_PUTS(b, ",\"usage\":{\"type\":\"tokens\",\"input_tokens\":");
			mock_buf_put_u64(b, in);
			MOCK_PUTS(b, ",\"output_tokens\":");
			mock_buf_put_u64(b, out);
			MOCK_PUTS(b, ",\"total_tokens\":");
			mock_buf_put_u64(b, in + out);
			MOCK_PUTS(b, "}}");
		}
	}
	mock_whole_end(c, w, 200, "application/json", NULL);
}
