/* mock_route.c: what a complete request means to sluice-mock: routing by path and method,
 * the fault decision and the "mock" override, error replies in the shape of each API, and the
 * request helpers the API builders share (model, max_tokens cap, prompt size, response text).
 *
 * The idea: every request ends in the same place: the router fills c->resp (a fault, timings,
 * and either a finished whole response or a stream description) and hands it to the timing
 * engine with mock_resp_start. The request JSON is parsed once with cJSON and freed before the
 * first response byte; everything a stream needs later is copied into c->resp and c->model. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mock.h"

enum route {
	R_NONE,
	R_CHAT,
	R_COMPLETIONS,
	R_EMBEDDINGS,
	R_MODELS,
	R_MODEL,
	R_MESSAGES,
	R_COUNT_TOKENS,
	R_RESPONSES,
	R_MODERATIONS,
	R_RERANK,
	R_IMAGES,
	R_SPEECH,
	R_TRANSCRIPTIONS,
	R_STATS,
	R_RESET,
	R_CLOUD, /* Bedrock / Vertex: c->resp.cloud says which (mock_bedrock.c, mock_vertex.c) */
};

static bool is(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(p, lit, l) == 0;
}

static bool starts(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(p, lit, l) == 0;
}

static enum route match(struct mock_conn *c, const char *p, size_t n, const char **id,
                        size_t *id_len)
{
	if (is(p, n, "/mock/stats"))
		return R_STATS;
	if (is(p, n, "/mock/reset"))
		return R_RESET;
	int cr = mock_cloud_match(c, p, n);
	if (cr < 0)
		return R_NONE;
	if (cr > 0) {
		c->resp.cloud = cr;
		return R_CLOUD;
	}
	if (starts(p, n, "/v1/")) {
		p += 3;
		n -= 3;
	} else if (starts(p, n, "/openai/deployments/")) {
		/* Azure OpenAI: /openai/deployments/{deployment}/chat/completions?api-version=... */
		const char *name = p + 20;
		const char *slash = memchr(name, '/', n - 20);
		if (!slash || slash == name)
			return R_NONE;
		c->resp.default_model = name;
		c->resp.default_model_len = (size_t)(slash - name);
		n -= (size_t)(slash - p);
		p = slash;
	}
	if (is(p, n, "/chat/completions"))
		return R_CHAT;
	if (is(p, n, "/completions"))
		return R_COMPLETIONS;
	if (is(p, n, "/embeddings"))
		return R_EMBEDDINGS;
	if (is(p, n, "/messages"))
		return R_MESSAGES;
	if (is(p, n, "/messages/count_tokens"))
		return R_COUNT_TOKENS;
	if (is(p, n, "/responses"))
		return R_RESPONSES;
	if (is(p, n, "/moderations"))
		return R_MODERATIONS;
	if (is(p, n, "/rerank"))
		return R_RERANK;
	if (is(p, n, "/images/generations"))
		return R_IMAGES;
	if (is(p, n, "/audio/speech"))
		return R_SPEECH;
	if (is(p, n, "/audio/transcriptions"))
		return R_TRANSCRIPTIONS;
	if (is(p, n, "/models"))
		return R_MODELS;
	if (starts(p, n, "/models/") && n > 8) {
		*id = p + 8;
		*id_len = n - 8;
		return R_MODEL;
	}
	return R_NONE;
}

/* ---- whole responses and errors --------------------------------------------------------- */

struct mock_wbuf *mock_whole_begin(struct mock_conn *c)
{
	struct mock_wbuf *w = mock_wbuf_get(c->ctx);
	if (!w)
		return NULL;
	if (mock_buf_reserve(&w->b, MOCK_HDR_RESERVE + 1024) == 0)
		w->b.len = MOCK_HDR_RESERVE;
	return w;
}

void mock_whole_end(struct mock_conn *c, struct mock_wbuf *w, int status, const char *ctype,
                    const char *extra)
{
	struct mock_resp *r = &c->resp;
	mock_wbuf_release(c->ctx, r->pending);
	r->pending = NULL;
	r->stream = false;
	if (!w)
		return;
	if (mock_http_whole(w, status, ctype, extra, r->keepalive, r->head) < 0) {
		mock_wbuf_release(c->ctx, w);
		return;
	}
	r->pending = w;
}

static const char *openai_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 429: return "rate_limit_error";
	case 503: return "service_unavailable";
	default: return status >= 500 ? "server_error" : "invalid_request_error";
	}
}

static const char *anthropic_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503:
	case 529: return "overloaded_error";
	default: return status >= 500 ? "api_error" : "invalid_request_error";
	}
}

/* Bedrock's x-amzn-ErrorType for a status. */
static const char *bedrock_type(int status)
{
	switch (status) {
	case 400: return "ValidationException";
	case 401:
	case 403: return "AccessDeniedException";
	case 404: return "ResourceNotFoundException";
	case 408: return "ModelTimeoutException";
	case 424: return "ModelErrorException";
	case 429: return "ThrottlingException";
	case 503: return "ServiceUnavailableException";
	default: return status >= 500 ? "InternalServerException" : "ValidationException";
	}
}

/* google.rpc.Code names of HTTP statuses, as Google APIs spell them in error bodies. */
static const char *google_status(int status)
{
	switch (status) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 409: return "ABORTED";
	case 429: return "RESOURCE_EXHAUSTED";
	case 499: return "CANCELLED";
	case 501: return "UNIMPLEMENTED";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
	}
}

void mock_reply_status(struct mock_conn *c, int status, const char *message, const char *extra)
{
	struct mock_wbuf *w = mock_whole_begin(c);
	char hdr[512];
	if (w) {
		struct mock_buf *b = &w->b;
		switch (c->resp.err_shape) {
		case MOCK_E_ANTHROPIC:
			mock_anthropic_error_body(b, anthropic_type(status), message);
			break;
		case MOCK_E_BEDROCK:
			MOCK_PUTS(b, "{\"message\":");
			mock_buf_put_json_str(b, message, strlen(message));
			MOCK_PUTS(b, "}");
			snprintf(hdr, sizeof hdr, "x-amzn-ErrorType: %s\r\n%s", bedrock_type(status),
			         extra ? extra : "");
			extra = hdr;
			break;
		case MOCK_E_GOOGLE:
		case MOCK_E_GEMINI:
			if (c->resp.err_shape == MOCK_E_GEMINI)
				MOCK_PUTS(b, "[");
			mock_buf_putf(b, "{\"error\":{\"code\":%d,\"message\":", status);
			mock_buf_put_json_str(b, message, strlen(message));
			mock_buf_putf(b, ",\"status\":\"%s\"}}", google_status(status));
			if (c->resp.err_shape == MOCK_E_GEMINI)
				MOCK_PUTS(b, "]");
			break;
		default:
			mock_openai_error_body(b, message, openai_type(status),
			                       status == 429 ? "rate_limit_exceeded" : NULL);
		}
	}
	mock_whole_end(c, w, status, "application/json", extra);
}

/* An error in Bedrock's shape with its own x-amzn-ErrorType (auth failures). */
void mock_reply_bedrock(struct mock_conn *c, int status, const char *type, const char *message)
{
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		MOCK_PUTS(&w->b, "{\"message\":");
		mock_buf_put_json_str(&w->b, message, strlen(message));
		MOCK_PUTS(&w->b, "}");
	}
	char hdr[128];
	snprintf(hdr, sizeof hdr, "x-amzn-ErrorType: %s\r\n", type);
	mock_whole_end(c, w, status, "application/json", hdr);
}

/* The error of a fault or of the override's "status"; 429 carries Retry-After. */
static void reply_fault(struct mock_conn *c, int status, const char *message, double retry_after)
{
	char dflt[64];
	if (!message) {
		switch (status) {
		case 429: message = "Rate limit reached (mock)"; break;
		case 500: message = "The server had an error while processing your request (mock)"; break;
		case 503: message = "The service is temporarily unavailable (mock)"; break;
		default:
			snprintf(dflt, sizeof dflt, "Mock error with status %d", status);
			message = dflt;
		}
	}
	char extra[64];
	extra[0] = 0;
	if (status == 429)
		snprintf(extra, sizeof extra, "Retry-After: %.15g\r\n", retry_after);
	mock_reply_status(c, status, message, extra[0] ? extra : NULL);
}

/* ---- request helpers -------------------------------------------------------------------- */

size_t mock_content_chars(const cJSON *content)
{
	if (cJSON_IsString(content))
		return mock_utf8_chars(content->valuestring, strlen(content->valuestring));
	size_t n = 0;
	if (cJSON_IsArray(content)) {
		const cJSON *part;
		cJSON_ArrayForEach(part, content)
		{
			if (cJSON_IsString(part)) {
				n += mock_utf8_chars(part->valuestring, strlen(part->valuestring));
			} else if (cJSON_IsObject(part)) {
				const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
				if (cJSON_IsString(t))
					n += mock_utf8_chars(t->valuestring, strlen(t->valuestring));
			}
		}
	}
	return n;
}

uint64_t mock_prompt_tokens(uint64_t chars)
{
	uint64_t t = (chars + 3) / 4;
	return t ? t : 1;
}

void mock_set_model(struct mock_conn *c, const cJSON *req)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
	c->model.len = 0;
	c->model.oom = false;
	if (cJSON_IsString(m))
		mock_buf_put_json_str(&c->model, m->valuestring, strlen(m->valuestring));
	else if (c->resp.default_model)
		mock_buf_put_json_str(&c->model, c->resp.default_model, c->resp.default_model_len);
	else
		mock_buf_put_json_str(&c->model, c->ctx->cfg.models[0], strlen(c->ctx->cfg.models[0]));
}

void mock_gen_setup(struct mock_conn *c, const cJSON *req)
{
	struct mock_resp *r = &c->resp;
	/* The answer depends on what was asked, not on transport options: a gateway that
	 * adds stream_options (to learn the usage) must get the same words and id. */
	cJSON *so_item = cJSON_DetachItemFromObjectCaseSensitive((cJSON *)req, "stream_options");
	char *canon = cJSON_PrintUnformatted(req);
	r->hash = canon ? mock_hash(canon, strlen(canon)) : mock_hash(c->body.p, c->body.len);
	cJSON_free(canon);
	if (so_item) cJSON_AddItemToObject((cJSON *)req, "stream_options", so_item);
	r->word_rng = r->hash;
	r->created = (int64_t)time(NULL);
	mock_set_model(c, req);
	r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "stream"));
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
	r->include_usage =
	    cJSON_IsObject(so) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(req, "max_completion_tokens");
	if (!cJSON_IsNumber(mt))
		mt = cJSON_GetObjectItemCaseSensitive(req, "max_tokens");
	if (cJSON_IsNumber(mt) && mt->valuedouble < (double)r->ntok) {
		r->ntok = mt->valuedouble > 0 ? (uint32_t)floor(mt->valuedouble) : 0;
		r->capped = true;
	}
	r->reset_at = r->ntok / 2;
}

void mock_put_text(struct mock_conn *c, struct mock_buf *out)
{
	mock_put_words_from(c->resp.word_rng, c->resp.ntok, out);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void api_generate(struct mock_conn *c, enum route route)
{
	struct mock_ctx *ctx = c->ctx;
	struct mock_resp *r = &c->resp;
	const struct mock_config *cfg = &ctx->cfg;
	double u = mock_rand_uniform(&ctx->rng); /* one draw per request, used or not */

	cJSON *req;
	if (route == R_TRANSCRIPTIONS) { /* multipart: its "mock" field holds the override */
		if (!(req = mock_transcription_request(c)))
			return;
	} else {
		req = cJSON_ParseWithLength(c->body.p, c->body.len);
	}
	if (!req || !cJSON_IsObject(req)) {
		mock_reply_status(c, 400,
		                  "We could not parse the JSON body of your request: it must be a JSON "
		                  "object.",
		                  NULL);
		cJSON_Delete(req);
		return;
	}
	struct mock_override ov;
	char err[256];
	if (mock_override_parse(cJSON_GetObjectItemCaseSensitive(req, "mock"), &ov, err,
	                        sizeof err) < 0) {
		mock_reply_status(c, 400, err, NULL);
		cJSON_Delete(req);
		return;
	}
	r->fault = ov.has_status ? MOCK_F_STATUS : ov.has_fault ? ov.fault : mock_fault_draw(cfg, u);
	if (r->fault != MOCK_F_NONE)
		ctx->stats.faults[r->fault]++;
	r->fault_at = ov.has_fault_at ? (uint32_t)ov.fault_at : 0;
	r->latency_ms = ov.has_latency ? ov.latency_ms
	                               : mock_rand_lognormal(&ctx->rng, cfg->latency_ms,
	                                                     cfg->latency_sigma);
	r->ttft_ms = ov.has_ttft ? ov.ttft_ms
	                         : mock_rand_lognormal(&ctx->rng, cfg->ttft_ms, cfg->latency_sigma);
	r->itl_ms = ov.has_itl ? ov.itl_ms : cfg->itl_ms;
	r->stall_ms = ov.has_stall ? (uint64_t)ov.stall_ms : (uint64_t)cfg->stall_ms;
	r->ntok = (uint32_t)(ov.has_tokens ? ov.tokens : cfg->tokens);
	double retry_after = ov.has_retry_after ? ov.retry_after : cfg->retry_after;
	/* Error replies come at once unless the override asks for a latency. */
	double err_latency = ov.has_latency ? ov.latency_ms : 0;

	switch (r->fault) {
	case MOCK_F_RESET_BEFORE:
		break;
	case MOCK_F_429:
	case MOCK_F_500:
	case MOCK_F_503:
		reply_fault(c, r->fault == MOCK_F_429 ? 429 : r->fault == MOCK_F_500 ? 500 : 503,
		            ov.error_message, retry_after);
		r->latency_ms = err_latency;
		break;
	case MOCK_F_STATUS:
		reply_fault(c, ov.status, ov.error_message, retry_after);
		r->latency_ms = err_latency;
		break;
	default:
		switch (route) {
		case R_CHAT: mock_openai_chat(c, req); break;
		case R_COMPLETIONS: mock_openai_completions(c, req); break;
		case R_EMBEDDINGS: mock_openai_embeddings(c, req); break;
		case R_MESSAGES: mock_anthropic_messages(c, req); break;
		case R_COUNT_TOKENS: mock_anthropic_count_tokens(c, req); break;
		case R_RESPONSES: mock_openai_responses(c, req); break;
		case R_MODERATIONS: mock_openai_moderations(c, req); break;
		case R_RERANK: mock_rerank(c, req); break;
		case R_IMAGES: mock_openai_images(c, req); break;
		case R_SPEECH: mock_openai_speech(c, req); break;
		case R_TRANSCRIPTIONS: mock_openai_transcriptions(c, req); break;
		case R_CLOUD:
			if (r->cloud == MOCK_C_CONVERSE || r->cloud == MOCK_C_CONVERSE_STREAM)
				mock_bedrock_converse(c, req);
			else if (r->cloud == MOCK_C_INVOKE || r->cloud == MOCK_C_INVOKE_STREAM)
				mock_bedrock_invoke(c, req);
			else
				mock_vertex_generate(c, req);
			break;
		default: mock_reply_status(c, 404, "Not found", NULL); break;
		}
	}
	cJSON_Delete(req);
}

static void mock_endpoint(struct mock_conn *c, enum route route, int method)
{
	struct mock_ctx *ctx = c->ctx;
	if (route == R_STATS && (method == HTTP_GET || method == HTTP_HEAD)) {
		struct mock_wbuf *w = mock_whole_begin(c);
		if (w)
			mock_stats_render(ctx, &w->b);
		mock_whole_end(c, w, 200, "application/json", NULL);
	} else if (route == R_RESET && method == HTTP_POST) {
		mock_stats_reset(ctx);
		struct mock_wbuf *w = mock_whole_begin(c);
		if (w)
			MOCK_PUTS(&w->b, "{\"ok\":true}");
		mock_whole_end(c, w, 200, "application/json", NULL);
	} else {
		mock_reply_status(c, 405, "Method not allowed",
		                  route == R_STATS ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n");
	}
}

void mock_route_dispatch(struct mock_conn *c)
{
	struct mock_ctx *ctx = c->ctx;
	struct mock_resp *r = &c->resp;
	memset(r, 0, sizeof *r);
	r->active = true;
	r->keepalive = llhttp_should_keep_alive(&c->parser) != 0;
	r->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
	int method = llhttp_get_method(&c->parser);
	r->head = method == HTTP_HEAD;

	/* Path: the target without query or fragment; absolute-form targets lose scheme and host. */
	const char *path = c->url.p;
	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0) {
		const char *slash = strchr(strstr(path, "//") + 2, '/');
		path = slash ? slash : "/";
	}
	size_t path_len = strcspn(path, "?#");

	const char *id = NULL;
	size_t id_len = 0;
	enum route route = match(c, path, path_len, &id, &id_len);
	if (route == R_STATS || route == R_RESET) {
		mock_endpoint(c, route, method);
		mock_resp_start(c);
		return;
	}

	r->api = true;
	ctx->stats.inflight++;
	mock_stats_record(c, llhttp_method_name((llhttp_method_t)method), path, path_len);
	r->anthropic = route == R_MESSAGES || route == R_COUNT_TOKENS;
	r->err_shape = r->anthropic ? MOCK_E_ANTHROPIC
	               : ctx->cfg.gemini_errors ? MOCK_E_GEMINI
	                                        : MOCK_E_OPENAI;
	if (route == R_CLOUD) {
		mock_stats_note_cloud(c);
		if (mock_cloud_is_bedrock(r->cloud))
			r->err_shape = MOCK_E_BEDROCK;
		else if (r->cloud == MOCK_C_VERTEX_RAW || r->cloud == MOCK_C_VERTEX_STREAM_RAW)
			r->err_shape = MOCK_E_GOOGLE;
	}
	c->gen.len = 0;
	c->gen.oom = false;
	r->num = ++ctx->serial;

	if (route == R_NONE) {
		char msg[300];
		snprintf(msg, sizeof msg, "Invalid URL (%s %.*s)",
		         llhttp_method_name((llhttp_method_t)method), (int)(path_len > 200 ? 200 : path_len),
		         path);
		mock_reply_status(c, 404, msg, NULL);
	} else if (route == R_MODELS || route == R_MODEL) {
		if (method == HTTP_GET || method == HTTP_HEAD)
			mock_openai_models(c, id, id_len);
		else
			mock_reply_status(c, 405, "Method not allowed", "Allow: GET, HEAD\r\n");
	} else if (method != HTTP_POST) {
		mock_reply_status(c, 405, "Method not allowed", "Allow: POST\r\n");
	} else if (route == R_CLOUD && r->cloud == MOCK_C_GCP_TOKEN) {
		mock_gcp_token(c);
	} else if (route == R_CLOUD && mock_cloud_is_bedrock(r->cloud) &&
	           !mock_aws_check(c, path, path_len)) {
		ctx->stats.auth_failures++;
	} else if (route == R_CLOUD && !mock_cloud_is_bedrock(r->cloud) && !mock_vertex_check(c)) {
		ctx->stats.auth_failures++;
	} else {
		api_generate(c, route);
	}
	mock_resp_start(c);
}
