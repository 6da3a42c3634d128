/* mock_stats.c: what sluice-mock saw, for tests to assert on: counters by path and fault,
 * stream outcomes, connections, and the last MOCK_LAST_N API requests (method, path, headers,
 * raw body), served by GET /mock/stats and zeroed by POST /mock/reset.
 *
 * The idea: recording is a plain copy of bytes already parsed into a ring slot whose buffer is
 * reused, so the hot path allocates nothing in steady state; JSON is produced only when asked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

static void count_path(struct mock_stats *st, const char *path, size_t n)
{
	for (unsigned i = 0; i < st->npaths; i++) {
		if (strlen(st->paths[i].path) == n && memcmp(st->paths[i].path, path, n) == 0) {
			st->paths[i].n++;
			return;
		}
	}
	if (st->npaths < MOCK_MAX_PATHS) {
		char *p = malloc(n + 1);
		if (p) {
			memcpy(p, path, n);
			p[n] = 0;
			st->paths[st->npaths].path = p;
			st->paths[st->npaths].n = 1;
			st->npaths++;
			return;
		}
	}
	st->other_paths++;
}

void mock_stats_record(struct mock_conn *c, const char *method, const char *path, size_t path_len)
{
	struct mock_stats *st = &c->ctx->stats;
	st->requests++;
	count_path(st, path, path_len);

	struct mock_last *e = &st->last[st->last_next];
	size_t mlen = strlen(method);
	size_t blen = c->body.len > MOCK_LAST_BODY_MAX ? MOCK_LAST_BODY_MAX : c->body.len;
	size_t need = mlen + path_len + c->url.len + c->hdrs.len + blen;
	/* A slot that once held a big body gives its memory back when reused for a small one. */
	mock_buf_reset(&e->b, need < 64 * 1024 ? 1024 * 1024 : SIZE_MAX);
	if (mock_buf_reserve(&e->b, need)) {
		mock_buf_reset(&e->b, 0); /* keep the ring consistent: an empty entry */
		e->method_len = e->path_len = e->url_len = e->hdrs_len = e->body_len = 0;
		e->nhdr = 0;
	} else {
		mock_buf_put(&e->b, method, mlen);
		mock_buf_put(&e->b, path, path_len);
		mock_buf_put(&e->b, c->url.p, c->url.len);
		mock_buf_put(&e->b, c->hdrs.p, c->hdrs.len);
		mock_buf_put(&e->b, c->body.p, blen);
		e->method_len = mlen;
		e->path_len = path_len;
		e->url_len = c->url.len;
		e->hdrs_len = c->hdrs.len;
		e->body_len = blen;
		e->nhdr = c->nhdr;
		memcpy(e->hdr, c->hdr, sizeof e->hdr[0] * c->nhdr);
	}
	e->body_truncated = blen < c->body.len;
	e->cloud[0] = 0;
	st->last_next = (st->last_next + 1) % MOCK_LAST_N;
	if (st->last_count < MOCK_LAST_N)
		st->last_count++;
}

static const char *const cloud_ops[] = {
	[MOCK_C_CONVERSE] = "converse",
	[MOCK_C_CONVERSE_STREAM] = "converse-stream",
	[MOCK_C_INVOKE] = "invoke",
	[MOCK_C_INVOKE_STREAM] = "invoke-with-response-stream",
	[MOCK_C_GCP_TOKEN] = "token",
	[MOCK_C_VERTEX_RAW] = "rawPredict",
	[MOCK_C_VERTEX_STREAM_RAW] = "streamRawPredict",
	[MOCK_C_VERTEX_CHAT] = "chat/completions",
};

void mock_stats_note_cloud(struct mock_conn *c)
{
	struct mock_stats *st = &c->ctx->stats;
	const struct mock_resp *r = &c->resp;
	struct mock_last *e = &st->last[(st->last_next + MOCK_LAST_N - 1) % MOCK_LAST_N];
	struct mock_buf b = {0};
	mock_buf_putf(&b, "{\"service\":\"%s\",\"operation\":\"%s\"",
	              mock_cloud_is_bedrock(r->cloud) ? "bedrock" : "vertex", cloud_ops[r->cloud]);
	if (r->path_project) {
		MOCK_PUTS(&b, ",\"project\":");
		mock_buf_put_json_str(&b, r->path_project, r->path_project_len);
		MOCK_PUTS(&b, ",\"location\":");
		mock_buf_put_json_str(&b, r->path_location, r->path_location_len);
	}
	if (r->path_model[0]) {
		MOCK_PUTS(&b, ",\"model\":");
		mock_buf_put_json_str(&b, r->path_model, strlen(r->path_model));
	}
	MOCK_PUTS(&b, "}");
	if (!b.oom && b.len < sizeof e->cloud) {
		memcpy(e->cloud, b.p, b.len);
		e->cloud[b.len] = 0;
	}
	mock_buf_free(&b);
}

static void put_kv(struct mock_buf *b, const char *key, uint64_t v, bool comma)
{
	if (comma)
		MOCK_PUTS(b, ",");
	mock_buf_put_json_str(b, key, strlen(key));
	MOCK_PUTS(b, ":");
	mock_buf_put_u64(b, v);
}

/* Headers as an object; repeated names are joined with ", " as HTTP allows. */
static void put_headers(struct mock_buf *b, const struct mock_last *e, const char *hbytes)
{
	MOCK_PUTS(b, "{");
	bool first = true;
	for (unsigned i = 0; i < e->nhdr; i++) {
		const struct mock_hdr *h = &e->hdr[i];
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = e->hdr[j].name_len == h->name_len &&
			       memcmp(hbytes + e->hdr[j].name_off, hbytes + h->name_off, h->name_len) == 0;
		if (seen)
			continue;
		if (!first)
			MOCK_PUTS(b, ",");
		first = false;
		mock_buf_put_json_str(b, hbytes + h->name_off, h->name_len);
		MOCK_PUTS(b, ":\"");
		mock_buf_put_json_chars(b, hbytes + h->val_off, h->val_len);
		for (unsigned k = i + 1; k < e->nhdr; k++) {
			const struct mock_hdr *o = &e->hdr[k];
			if (o->name_len == h->name_len &&
			    memcmp(hbytes + o->name_off, hbytes + h->name_off, h->name_len) == 0) {
				MOCK_PUTS(b, ", ");
				mock_buf_put_json_chars(b, hbytes + o->val_off, o->val_len);
			}
		}
		MOCK_PUTS(b, "\"");
	}
	MOCK_PUTS(b, "}");
}

void mock_stats_render(struct mock_ctx *ctx, struct mock_buf *b)
{
	const struct mock_stats *st = &ctx->stats;
	MOCK_PUTS(b, "{");
	put_kv(b, "requests", st->requests, false);
	MOCK_PUTS(b, ",\"by_path\":{");
	for (unsigned i = 0; i < st->npaths; i++)
		put_kv(b, st->paths[i].path, st->paths[i].n, i > 0);
	if (st->other_paths)
		put_kv(b, "(other)", st->other_paths, st->npaths > 0);
	MOCK_PUTS(b, "},\"faults\":{");
	for (unsigned f = MOCK_F_NONE + 1; f < MOCK_F_COUNT; f++)
		put_kv(b, mock_fault_name((enum mock_fault)f), st->faults[f], f > MOCK_F_NONE + 1);
	MOCK_PUTS(b, "}");
	put_kv(b, "inflight", st->inflight, true);
	put_kv(b, "streams_started", st->streams_started, true);
	put_kv(b, "streams_completed", st->streams_completed, true);
	put_kv(b, "streams_aborted", st->streams_aborted, true);
	put_kv(b, "connections_accepted", st->connections_accepted, true);
	put_kv(b, "connections_open", st->connections_open, true);
	put_kv(b, "token_exchanges", st->token_exchanges, true);
	put_kv(b, "auth_failures", st->auth_failures, true);
	MOCK_PUTS(b, ",\"last\":[");
	unsigned start = (st->last_next + MOCK_LAST_N - st->last_count) % MOCK_LAST_N;
	for (unsigned i = 0; i < st->last_count; i++) {
		const struct mock_last *e = &st->last[(start + i) % MOCK_LAST_N];
		const char *p = e->b.p ? e->b.p : "";
		const char *path = p + e->method_len;
		const char *url = path + e->path_len;
		const char *hbytes = url + e->url_len;
		const char *body = hbytes + e->hdrs_len;
		if (i)
			MOCK_PUTS(b, ",");
		MOCK_PUTS(b, "{\"method\":");
		mock_buf_put_json_str(b, p, e->method_len);
		MOCK_PUTS(b, ",\"path\":");
		mock_buf_put_json_str(b, path, e->path_len);
		MOCK_PUTS(b, ",\"url\":");
		mock_buf_put_json_str(b, url, e->url_len);
		MOCK_PUTS(b, ",\"headers\":");
		put_headers(b, e, hbytes);
		MOCK_PUTS(b, ",\"body\":");
		mock_buf_put_json_str(b, body, e->body_len);
		if (e->body_truncated)
			MOCK_PUTS(b, ",\"body_truncated\":true");
		if (e->cloud[0]) {
			MOCK_PUTS(b, ",\"cloud\":");
			mock_buf_puts(b, e->cloud);
		}
		MOCK_PUTS(b, "}");
	}
	MOCK_PUTS(b, "]}");
}

void mock_stats_reset(struct mock_ctx *ctx)
{
	struct mock_stats *st = &ctx->stats;
	for (unsigned i = 0; i < st->npaths; i++)
		free(st->paths[i].path);
	for (unsigned i = 0; i < MOCK_LAST_N; i++)
		mock_buf_reset(&st->last[i].b, 64 * 1024);
	/* Zero everything but the slot buffers (kept for reuse) and the two gauges. */
	for (unsigned i = 0; i < MOCK_LAST_N; i++) {
		struct mock_buf keep = st->last[i].b;
		memset(&st->last[i], 0, sizeof st->last[i]);
		st->last[i].b = keep;
	}
	st->requests = st->streams_started = st->streams_completed = st->streams_aborted = 0;
	st->connections_accepted = 0;
	st->token_exchanges = st->auth_failures = 0;
	memset(st->faults, 0, sizeof st->faults);
	memset(st->paths, 0, sizeof st->paths);
	st->npaths = 0;
	st->other_paths = 0;
	st->last_next = st->last_count = 0;
}

void mock_stats_free(struct mock_ctx *ctx)
{
	struct mock_stats *st = &ctx->stats;
	for (unsigned i = 0; i < st->npaths; i++)
		free(st->paths[i].path);
	st->npaths = 0;
	for (unsigned i = 0; i < MOCK_LAST_N; i++)
		mock_buf_free(&st->last[i].b);
}
