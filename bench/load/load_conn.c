/* load_conn.c: sluice-load's HTTP/1.1 client connections: connect, write a request, parse the
 * response with llhttp, read server-sent events, and tear down on any failure.
 *
 * The idea: a connection carries one request at a time (keep-alive, no pipelining) and knows
 * nothing of schedules: it is handed a request by load_dispatch, and reports how it ended with
 * load_req_done. Each read is timestamped once and parsed at once from one read buffer shared
 * by all connections; only an SSE line split across reads is copied. Anything unexpected (a
 * reset, EOF mid-response, bytes nobody asked for, a parse error) ends the request with its
 * error class and closes the connection; the schedule opens a fresh one when it needs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load.h"

/* ---- lists ------------------------------------------------------------------------------ */

static void idle_push(struct load_conn *c)
{
	struct load_ctx *ctx = c->ctx;
	c->state = LOAD_C_IDLE;
	c->iprev = NULL;
	c->inext = ctx->idle;
	if (ctx->idle)
		ctx->idle->iprev = c;
	ctx->idle = c;
	ctx->n_idle++;
}

static void idle_remove(struct load_conn *c)
{
	struct load_ctx *ctx = c->ctx;
	if (c->iprev)
		c->iprev->inext = c->inext;
	else
		ctx->idle = c->inext;
	if (c->inext)
		c->inext->iprev = c->iprev;
	c->iprev = c->inext = NULL;
	ctx->n_idle--;
}

static void on_close(uv_handle_t *h)
{
	struct load_conn *c = h->data;
	load_buf_free(&c->line);
	load_buf_free(&c->body);
	free(c->gaps);
	free(c->wbuf);
	free(c);
}

void load_conn_close(struct load_conn *c)
{
	struct load_ctx *ctx = c->ctx;
	if (c->state == LOAD_C_CLOSING)
		return;
	if (c->state == LOAD_C_IDLE)
		idle_remove(c);
	if (c->state == LOAD_C_CONNECTING)
		ctx->n_connecting--;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctx->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ctx->n_open--;
	c->state = LOAD_C_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* ---- the end of a request ----------------------------------------------------------------- */

/* The request in flight ended with e. The connection goes back to the idle list if it can
 * carry another request, else it closes; then the schedule runs. */
static void end_request(struct load_conn *c, int e, const char *why)
{
	struct load_ctx *ctx = c->ctx;
	struct load_req r = c->req;
	c->active = false;
	ctx->inflight--;
	bool conn_err = e != LOAD_OK && e <= LOAD_E_PROTOCOL; /* the connection itself failed */
	if (conn_err)
		c->keep = false;
	load_req_done(ctx, c, &r, e, why);
	if (c->state == LOAD_C_BUSY && !c->writing) {
		if (c->keep) {
			idle_push(c);
		} else {
			if (conn_err)
				ctx->st.conn_closed_err++;
			else
				ctx->st.conn_closed_peer++; /* the server said Connection: close */
			load_conn_close(c);
		}
	} else if (!c->keep) {
		ctx->st.conn_closed_err++;
		load_conn_close(c);
	}
	load_dispatch(ctx);
}

void load_conn_fail(struct load_conn *c, enum load_err e, const char *why)
{
	if (c->state == LOAD_C_CLOSING)
		return;
	c->keep = false;
	if (c->active) {
		end_request(c, (int)e, why);
		return;
	}
	c->ctx->st.conn_closed_err++;
	load_conn_close(c);
	load_dispatch(c->ctx);
}

/* ---- server-sent events -------------------------------------------------------------------- */

/* p points just past a quoted key: the start of its string value, or NULL if not a string. */
static const char *string_value(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != ':')
		return NULL;
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '"')
		return NULL;
	return p + 1;
}

/* Does a field named qkey (with its quotes) hold a non-empty string anywhere in p? */
static bool nonempty_field(const char *p, size_t n, const char *qkey, size_t kl)
{
	const char *end = p + n, *s = p;
	while ((size_t)(end - s) >= kl && (s = memmem(s, (size_t)(end - s), qkey, kl))) {
		const char *v = string_value(s + kl, end);
		if (v && v < end && *v != '"')
			return true;
		s += kl;
	}
	return false;
}

/* The last integer value of a field named qkey in p. */
static bool number_field(const char *p, size_t n, const char *qkey, size_t kl, uint64_t *out)
{
	const char *end = p + n, *s = p;
	bool found = false;
	while ((size_t)(end - s) >= kl && (s = memmem(s, (size_t)(end - s), qkey, kl))) {
		const char *v = s + kl;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v < end && *v == ':') {
			v++;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if (v < end && *v >= '0' && *v <= '9') {
				uint64_t x = 0;
				while (v < end && *v >= '0' && *v <= '9' && x < UINT64_MAX / 10)
					x = x * 10 + (uint64_t)(*v++ - '0');
				*out = x;
				found = true;
			}
		}
		s += kl;
	}
	return found;
}

#define KEY(s) s, sizeof(s) - 1

/* The fields whose non-empty string makes an event a "token event": OpenAI chat content,
 * completions text, tool-call arguments, reasoning; Anthropic text, thinking and tool input. */
static bool is_token_event(const char *p, size_t n)
{
	return nonempty_field(p, n, KEY("\"content\"")) || nonempty_field(p, n, KEY("\"text\"")) ||
	       nonempty_field(p, n, KEY("\"arguments\"")) ||
	       nonempty_field(p, n, KEY("\"reasoning_content\"")) ||
	       nonempty_field(p, n, KEY("\"reasoning\"")) ||
	       nonempty_field(p, n, KEY("\"thinking\"")) ||
	       nonempty_field(p, n, KEY("\"partial_json\""));
}

/* The first key of a JSON object and, if it is a string, its value. */
static bool first_key_is(const char *p, size_t n, const char *qkey, size_t kl, const char *val)
{
	const char *end = p + n;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '{')
		return false;
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < kl || memcmp(p, qkey, kl) != 0)
		return false;
	if (!val)
		return true;
	const char *v = string_value(p + kl, end);
	size_t vl = strlen(val);
	return v && (size_t)(end - v) > vl && memcmp(v, val, vl) == 0 && v[vl] == '"';
}

static void snippet(char *dst, size_t cap, const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		dst[k++] = ((unsigned char)p[i] < ' ' || p[i] == 0x7f) ? ' ' : p[i];
	dst[k] = 0;
}

static void sse_data(struct load_conn *c, const char *p, size_t n)
{
	if (c->stream_end || c->stream_err)
		return;
	if (n == 6 && memcmp(p, "[DONE]", 6) == 0) {
		c->stream_end = true;
		return;
	}
	bool err_event = c->event_len == 5 && memcmp(c->event, "error", 5) == 0;
	if (err_event || first_key_is(p, n, KEY("\"error\""), NULL) ||
	    first_key_is(p, n, KEY("\"type\""), "error")) {
		c->stream_err = true;
		snippet(c->stream_err_msg, sizeof c->stream_err_msg, p, n);
		return;
	}
	uint64_t u;
	if (number_field(p, n, KEY("\"completion_tokens\""), &u) ||
	    number_field(p, n, KEY("\"output_tokens\""), &u)) {
		c->usage = u;
		c->has_usage = true;
	}
	if (first_key_is(p, n, KEY("\"type\""), "message_stop")) {
		c->stream_end = true;
		return;
	}
	if (!is_token_event(p, n))
		return;
	uint64_t now = c->ctx->rnow;
	if (c->ntok == 0) {
		c->first_tok = now;
	} else if (c->req.measured) {
		if (c->ngaps == c->gcap) {
			size_t cap = c->gcap ? c->gcap * 2 : 128;
			uint64_t *g = realloc(c->gaps, cap * sizeof *g);
			if (g) {
				c->gaps = g;
				c->gcap = cap;
			}
		}
		if (c->ngaps < c->gcap)
			c->gaps[c->ngaps++] = now - c->last_tok;
	}
	c->last_tok = now;
	c->ntok++;
}

static void sse_line(struct load_conn *c, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (n == 0) { /* end of an event */
		c->event_len = 0;
		return;
	}
	if (n >= 5 && memcmp(p, "data:", 5) == 0) {
		p += 5;
		n -= 5;
		if (n && *p == ' ') {
			p++;
			n--;
		}
		sse_data(c, p, n);
	} else if (n >= 6 && memcmp(p, "event:", 6) == 0) {
		p += 6;
		n -= 6;
		while (n && *p == ' ') {
			p++;
			n--;
		}
		c->event_len = n < sizeof c->event ? n : sizeof c->event;
		memcpy(c->event, p, c->event_len);
	}
	/* comments (":"), id: and retry: are ignored */
}

static void sse_feed(struct load_conn *c, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		if (!nl) {
			size_t room = c->line.len < LOAD_MAX_LINE ? LOAD_MAX_LINE - c->line.len : 0;
			if (load_buf_put(&c->line, p, n < room ? n : room) < 0 || n > room)
				c->line_over = true;
			return;
		}
		size_t l = (size_t)(nl - p);
		if (c->line.len || c->line_over) {
			size_t room = c->line.len < LOAD_MAX_LINE ? LOAD_MAX_LINE - c->line.len : 0;
			if (load_buf_put(&c->line, p, l < room ? l : room) < 0)
				c->line_over = true;
			sse_line(c, c->line.p, c->line.len);
			c->line.len = 0;
			c->line_over = false;
		} else {
			sse_line(c, p, l);
		}
		p = nl + 1;
		n -= l + 1;
	}
}

/* ---- llhttp callbacks --------------------------------------------------------------------- */

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct load_conn *c = p->data;
	size_t room = sizeof c->hname - c->hname_len;
	if (n > room) { /* longer than any name we look for */
		c->hname_len = sizeof c->hname;
		return 0;
	}
	memcpy(c->hname + c->hname_len, at, n);
	c->hname_len += n;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct load_conn *c = p->data;
	c->in_ctype = c->hname_len == 12 && strncasecmp(c->hname, "content-type", 12) == 0;
	c->hname_len = 0;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct load_conn *c = p->data;
	if (c->in_ctype) {
		size_t room = sizeof c->ctype - 1 - c->ctype_len;
		if (n > room)
			n = room;
		memcpy(c->ctype + c->ctype_len, at, n);
		c->ctype_len += n;
		c->ctype[c->ctype_len] = 0;
	}
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct load_conn *c = p->data;
	c->in_ctype = false;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct load_conn *c = p->data;
	c->status = llhttp_get_status_code(p);
	c->sse = c->ctx->o->stream && c->status >= 200 && c->status < 300 && c->ctype_len >= 17 &&
	         strncasecmp(c->ctype, "text/event-stream", 17) == 0;
	return c->head_req ? 1 : 0; /* 1: a response to HEAD has no body */
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct load_conn *c = p->data;
	if (c->sse) {
		sse_feed(c, at, n);
		return 0;
	}
	if (c->body.len < LOAD_MAX_BODY_SCAN) {
		size_t room = LOAD_MAX_BODY_SCAN - c->body.len;
		(void)load_buf_put(&c->body, at, n < room ? n : room);
	}
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct load_conn *c = p->data;
	c->msg_done = true;
	if (!llhttp_should_keep_alive(p))
		c->keep = false;
	return HPE_PAUSED;
}

void load_conn_settings(llhttp_settings_t *s)
{
	llhttp_settings_init(s);
	s->on_header_field = on_header_field;
	s->on_header_field_complete = on_header_field_complete;
	s->on_header_value = on_header_value;
	s->on_header_value_complete = on_header_value_complete;
	s->on_headers_complete = on_headers_complete;
	s->on_body = on_body;
	s->on_message_complete = on_message_complete;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* The whole response is in: classify it. */
static void complete(struct load_conn *c)
{
	struct load_ctx *ctx = c->ctx;
	char why[200];
	int e = LOAD_OK;
	why[0] = 0;
	int s = c->status;
	if (s >= 200 && s < 300) {
		if (ctx->o->stream) {
			if (!c->sse) {
				e = LOAD_E_STREAM;
				snprintf(why, sizeof why, "HTTP %d with content-type '%s', not text/event-stream",
				         s, c->ctype);
			} else if (c->stream_err) {
				e = LOAD_E_STREAM;
				snprintf(why, sizeof why, "in-band error event: %s", c->stream_err_msg);
			} else if (!c->stream_end) {
				e = LOAD_E_STREAM;
				snprintf(why, sizeof why, "the stream ended without [DONE] or message_stop");
			}
		} else if (c->body.len) {
			uint64_t u;
			if (number_field(c->body.p, c->body.len, KEY("\"completion_tokens\""), &u) ||
			    number_field(c->body.p, c->body.len, KEY("\"output_tokens\""), &u)) {
				c->usage = u;
				c->has_usage = true;
			}
		}
	} else {
		e = s >= 500 ? LOAD_E_HTTP_5XX : s >= 400 ? LOAD_E_HTTP_4XX : LOAD_E_HTTP_OTHER;
		char body[120];
		snippet(body, sizeof body, c->body.p ? c->body.p : "", c->body.len);
		snprintf(why, sizeof why, "HTTP %d: %s", s, body);
	}
	end_request(c, e, why);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	struct load_conn *c = h->data;
	buf->base = c->ctx->rbuf;
	buf->len = LOAD_READ_BUF;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct load_conn *c = s->data;
	struct load_ctx *ctx = c->ctx;
	if (c->state == LOAD_C_CLOSING)
		return;
	if (nread > 0) {
		ctx->rnow = uv_hrtime();
		ctx->st.bytes_received += (uint64_t)nread;
		if (!c->active || c->msg_done) {
			load_conn_fail(c, LOAD_E_PROTOCOL, "bytes from the server with no request in flight");
			return;
		}
		llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, (size_t)nread);
		if (c->msg_done) {
			const char *pos = llhttp_get_error_pos(&c->parser);
			if (err == HPE_PAUSED)
				llhttp_resume(&c->parser);
			if (pos && pos < buf->base + nread)
				c->keep = false; /* bytes beyond the response: do not reuse */
			c->msg_done = false;
			complete(c);
			return;
		}
		if (err != HPE_OK) {
			char why[160];
			snprintf(why, sizeof why, "bad HTTP response: %s (%s)", llhttp_errno_name(err),
			         llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser)
			                                             : "");
			load_conn_fail(c, LOAD_E_PROTOCOL, why);
		}
		return;
	}
	if (nread == 0)
		return;
	if (!c->active) { /* an idle connection the server closed: not an error of any request */
		ctx->st.conn_closed_peer++;
		load_conn_close(c);
		load_dispatch(ctx);
		return;
	}
	if (nread == UV_EOF) {
		ctx->rnow = uv_hrtime();
		c->keep = false;
		(void)llhttp_finish(&c->parser); /* a body delimited by the connection's end */
		if (c->msg_done) {
			c->msg_done = false;
			complete(c);
			return;
		}
		load_conn_fail(c, LOAD_E_RESET, "the server closed the connection before the response "
		                                "ended");
		return;
	}
	char why[120];
	snprintf(why, sizeof why, "read: %s", uv_strerror((int)nread));
	load_conn_fail(c, LOAD_E_RESET, why);
}

/* ---- connecting and writing ------------------------------------------------------------------ */

static void on_connect(uv_connect_t *req, int status)
{
	struct load_conn *c = req->data;
	struct load_ctx *ctx = c->ctx;
	if (c->state == LOAD_C_CLOSING)
		return;
	if (status >= 0)
		status = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (status < 0) {
		char why[120];
		snprintf(why, sizeof why, "connect: %s", uv_strerror(status));
		ctx->st.conn_failed++;
		load_conn_close(c);
		load_on_connect_failed(ctx, why);
		return;
	}
	ctx->n_connecting--;
	ctx->st.conn_opened++;
	if (ctx->n_open > ctx->st.conn_peak)
		ctx->st.conn_peak = ctx->n_open;
	llhttp_init(&c->parser, HTTP_RESPONSE, &ctx->settings);
	c->parser.data = c;
	idle_push(c);
	load_dispatch(ctx);
}

struct load_conn *load_conn_open(struct load_ctx *ctx)
{
	struct load_conn *c = calloc(1, sizeof *c);
	if (!c) {
		ctx->st.conn_failed++;
		load_note_error(ctx, LOAD_E_CONNECT, "out of memory");
		return NULL;
	}
	c->ctx = ctx;
	int r = uv_tcp_init(&ctx->loop, &c->tcp);
	if (r < 0) {
		free(c);
		ctx->st.conn_failed++;
		load_note_error(ctx, LOAD_E_CONNECT, uv_strerror(r));
		return NULL;
	}
	c->tcp.data = c;
	c->connect_req.data = c;
	c->write_req.data = c;
	c->state = LOAD_C_CONNECTING;
	c->opened = uv_hrtime();
	c->next = ctx->conns;
	if (ctx->conns)
		ctx->conns->prev = c;
	ctx->conns = c;
	ctx->n_open++;
	ctx->n_connecting++;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ctx->addr, on_connect);
	if (r < 0) {
		char why[120];
		snprintf(why, sizeof why, "connect: %s", uv_strerror(r));
		ctx->st.conn_failed++;
		load_note_error(ctx, LOAD_E_CONNECT, why);
		load_conn_close(c);
		return NULL;
	}
	return c;
}

static void on_write(uv_write_t *req, int status)
{
	struct load_conn *c = req->data;
	c->writing = false;
	if (c->state == LOAD_C_CLOSING)
		return;
	if (status < 0) {
		char why[120];
		snprintf(why, sizeof why, "write: %s", uv_strerror(status));
		load_conn_fail(c, LOAD_E_RESET, why);
		return;
	}
	if (!c->active) { /* the response came before the request was fully written */
		if (c->keep) {
			idle_push(c);
		} else {
			c->ctx->st.conn_closed_peer++;
			load_conn_close(c);
		}
		load_dispatch(c->ctx);
	}
}

void load_conn_send(struct load_conn *c, const struct load_req *r)
{
	struct load_ctx *ctx = c->ctx;
	idle_remove(c);
	c->state = LOAD_C_BUSY;
	c->active = true;
	c->keep = true;
	c->msg_done = false;
	c->req = *r;
	c->status = 0;
	c->sse = c->stream_err = c->stream_end = c->in_ctype = false;
	c->head_req = strcasecmp(ctx->o->method, "HEAD") == 0;
	c->hname_len = c->ctype_len = c->event_len = 0;
	c->ctype[0] = 0;
	c->ntok = 0;
	c->ngaps = 0;
	c->usage = 0;
	c->has_usage = false;
	c->line.len = 0;
	c->line_over = false;
	c->body.len = 0;
	ctx->inflight++;

	uv_buf_t b;
	if (ctx->tmpl.unique) {
		if (!c->wbuf && !(c->wbuf = malloc(ctx->tmpl.max_len))) {
			load_conn_fail(c, LOAD_E_CONNECT, "out of memory");
			return;
		}
		b = uv_buf_init(c->wbuf, (unsigned)load_tmpl_render(&ctx->tmpl, r->seq, c->wbuf));
	} else {
		b = uv_buf_init(ctx->tmpl.fixed, (unsigned)ctx->tmpl.fixed_len);
	}
	c->sent = uv_hrtime();
	if (r->measured)
		load_hist_record(&ctx->st.lag, c->sent > r->sched ? c->sent - r->sched : 0);
	ctx->st.bytes_sent += b.len;
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n == UV_EAGAIN)
		n = 0;
	if (n < 0) {
		char why[120];
		snprintf(why, sizeof why, "write: %s", uv_strerror(n));
		load_conn_fail(c, LOAD_E_RESET, why);
		return;
	}
	if ((size_t)n == b.len)
		return;
	b.base += n;
	b.len -= (size_t)n;
	c->writing = true;
	int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		c->writing = false;
		char why[120];
		snprintf(why, sizeof why, "write: %s", uv_strerror(rc));
		load_conn_fail(c, LOAD_E_RESET, why);
	}
}
