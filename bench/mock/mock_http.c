/* mock_http.c: the HTTP/1.1 server plumbing of sluice-mock: accept, read, llhttp parsing,
 * response framing (whole responses with Content-Length, streams with chunked encoding),
 * writes, keep-alive, and teardown (graceful close or RST).
 *
 * The idea: a connection serves one request at a time. When llhttp reports a complete message
 * the parser pauses and the request goes to the router; bytes that arrive meanwhile (pipelined
 * requests) are kept unparsed, and parsing resumes once the last byte of the response is written.
 * Reading never stops while a response is in progress, so a client that goes away is noticed at
 * once (that is how aborted streams are counted and their timers stopped). All connections read
 * into one shared buffer; only leftovers are copied into the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

/* ---- parser callbacks ------------------------------------------------------------------- */

static int fail_with(struct mock_conn *c, int status)
{
	c->err_status = status;
	return -1;
}

static int on_message_begin(llhttp_t *p)
{
	struct mock_conn *c = p->data;
	c->url.len = 0;
	c->hdrs.len = 0;
	c->body.len = 0;
	c->nhdr = 0;
	c->in_field = c->in_value = false;
	c->err_status = 0;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
	struct mock_conn *c = p->data;
	if (c->url.len + n > MOCK_MAX_URL)
		return fail_with(c, 414);
	mock_buf_put(&c->url, at, n);
	return c->url.oom ? fail_with(c, 500) : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct mock_conn *c = p->data;
	if (!c->in_field) {
		if (c->nhdr >= MOCK_MAX_HEADERS)
			return fail_with(c, 431);
		c->in_field = true;
		c->field_start = c->hdrs.len;
	}
	if (c->hdrs.len + n > MOCK_MAX_HEADER_BYTES)
		return fail_with(c, 431);
	mock_buf_put(&c->hdrs, at, n);
	return c->hdrs.oom ? fail_with(c, 500) : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct mock_conn *c = p->data;
	if (!c->in_field) {
		if (c->nhdr >= MOCK_MAX_HEADERS)
			return fail_with(c, 431);
		c->field_start = c->hdrs.len;
	}
	struct mock_hdr *h = &c->hdr[c->nhdr];
	h->name_off = (uint32_t)c->field_start;
	h->name_len = (uint32_t)(c->hdrs.len - c->field_start);
	for (size_t i = 0; i < h->name_len; i++) {
		char ch = c->hdrs.p[h->name_off + i];
		if (ch >= 'A' && ch <= 'Z')
			c->hdrs.p[h->name_off + i] = (char)(ch + 32);
	}
	h->val_off = (uint32_t)c->hdrs.len;
	h->val_len = 0;
	c->in_field = false;
	c->in_value = false;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct mock_conn *c = p->data;
	if (!c->in_value) {
		c->in_value = true;
		c->value_start = c->hdrs.len;
	}
	if (c->hdrs.len + n > MOCK_MAX_HEADER_BYTES)
		return fail_with(c, 431);
	mock_buf_put(&c->hdrs, at, n);
	return c->hdrs.oom ? fail_with(c, 500) : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct mock_conn *c = p->data;
	struct mock_hdr *h = &c->hdr[c->nhdr];
	if (c->in_value) {
		h->val_off = (uint32_t)c->value_start;
		h->val_len = (uint32_t)(c->hdrs.len - c->value_start);
	}
	c->in_value = false;
	c->nhdr++;
	return 0;
}

const char *mock_conn_header(const struct mock_conn *c, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (unsigned i = 0; i < c->nhdr; i++) {
		const struct mock_hdr *h = &c->hdr[i];
		if (h->name_len == nl && memcmp(c->hdrs.p + h->name_off, name, nl) == 0) {
			*len = h->val_len;
			return c->hdrs.p + h->val_off;
		}
	}
	*len = 0;
	return NULL;
}

static void send_continue(struct mock_conn *c)
{
	struct mock_wbuf *w = mock_wbuf_get(c->ctx);
	if (!w)
		return; /* the client sends the body anyway after its own timeout */
	MOCK_PUTS(&w->b, "HTTP/1.1 100 Continue\r\n\r\n");
	mock_conn_write(c, w, 0);
}

static int on_headers_complete(llhttp_t *p)
{
	struct mock_conn *c = p->data;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > MOCK_MAX_BODY)
		return fail_with(c, 413);
	/* Never switch protocols: Upgrade (h2c, websocket) requests are answered as plain HTTP. */
	p->upgrade = 0;
	size_t n;
	const char *v = mock_conn_header(c, "expect", &n);
	if (v && n == 12 && strncasecmp(v, "100-continue", 12) == 0 && p->http_major == 1 &&
	    p->http_minor >= 1)
		send_continue(c);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct mock_conn *c = p->data;
	if (c->body.len + n > MOCK_MAX_BODY)
		return fail_with(c, 413);
	mock_buf_put(&c->body, at, n);
	return c->body.oom ? fail_with(c, 500) : 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct mock_conn *c = p->data;
	c->req_ready = true;
	return HPE_PAUSED;
}

/* ---- response framing ------------------------------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 529: return "Overloaded";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

int mock_http_whole(struct mock_wbuf *w, int status, const char *ctype, const char *extra,
                    bool keepalive, bool head)
{
	if (w->b.oom || w->b.len < MOCK_HDR_RESERVE)
		return -1;
	size_t body = w->b.len - MOCK_HDR_RESERVE;
	char h[MOCK_HDR_RESERVE];
	int n = snprintf(h, sizeof h,
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: %s\r\n%s\r\n",
	                 status, reason(status), ctype, body, keepalive ? "keep-alive" : "close",
	                 extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof h)
		return -1;
	w->off = MOCK_HDR_RESERVE - (size_t)n;
	memcpy(w->b.p + w->off, h, (size_t)n);
	w->body_off = MOCK_HDR_RESERVE;
	if (head)
		w->b.len = MOCK_HDR_RESERVE;
	return 0;
}

void mock_http_stream_head(struct mock_wbuf *w, bool http10, bool keepalive, const char *ctype)
{
	if (ctype) { /* another stream type (AWS event streams): the same framing */
		mock_buf_putf(&w->b,
		              "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sConnection: %s\r\n\r\n", ctype,
		              http10 ? "" : "Transfer-Encoding: chunked\r\n",
		              !http10 && keepalive ? "keep-alive" : "close");
	} else if (http10)
		MOCK_PUTS(&w->b, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		                 "Cache-Control: no-cache\r\nConnection: close\r\n\r\n");
	else if (keepalive)
		MOCK_PUTS(&w->b, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		                 "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
		                 "Connection: keep-alive\r\n\r\n");
	else
		MOCK_PUTS(&w->b, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		                 "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
		                 "Connection: close\r\n\r\n");
	w->body_off = w->b.len;
}

void mock_http_chunk(struct mock_wbuf *w, const char *data, size_t n, bool http10)
{
	if (n == 0)
		return;
	if (!http10)
		mock_buf_putf(&w->b, "%zx\r\n", n);
	mock_buf_put(&w->b, data, n);
	if (!http10)
		MOCK_PUTS(&w->b, "\r\n");
}

void mock_http_chunk_last(struct mock_wbuf *w, bool http10)
{
	if (!http10)
		MOCK_PUTS(&w->b, "0\r\n\r\n");
}

/* ---- connections ------------------------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *h)
{
	struct mock_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	mock_buf_free(&c->url);
	mock_buf_free(&c->hdrs);
	mock_buf_free(&c->body);
	mock_buf_free(&c->model);
	mock_buf_free(&c->gen);
	free(c->rbuf);
	free(c);
}

void mock_conn_close(struct mock_conn *c, enum mock_close how)
{
	if (c->closing)
		return;
	c->closing = true;
	struct mock_ctx *ctx = c->ctx;
	mock_resp_abort(c, how == MOCK_CLOSE_GONE);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctx->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	ctx->stats.connections_open--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	if (how == MOCK_CLOSE_RESET && uv_tcp_close_reset(&c->tcp, on_handle_closed) == 0)
		return;
	uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_write(uv_write_t *req, int status)
{
	struct mock_wbuf *w = (struct mock_wbuf *)req; /* req is the first member */
	struct mock_conn *c = w->conn;
	int flags = w->flags;
	mock_wbuf_release(c->ctx, w);
	if (c->closing)
		return;
	if (status < 0) {
		mock_conn_close(c, MOCK_CLOSE_GONE);
		return;
	}
	if (flags & MOCK_W_RESET)
		mock_conn_close(c, MOCK_CLOSE_RESET);
	else if (flags & MOCK_W_CLOSE)
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
	else if (flags & MOCK_W_END)
		mock_resp_finish(c);
}

void mock_conn_write(struct mock_conn *c, struct mock_wbuf *w, int flags)
{
	if (c->closing) {
		mock_wbuf_release(c->ctx, w);
		return;
	}
	if (w->b.oom) {
		mock_wbuf_release(c->ctx, w);
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	size_t end = w->cut ? w->cut : w->b.len;
	if (end < w->off)
		end = w->off;
	uv_buf_t b = uv_buf_init(w->b.p + w->off, (unsigned)(end - w->off));
	w->conn = c;
	w->flags = flags;
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
		mock_wbuf_release(c->ctx, w);
		mock_conn_close(c, MOCK_CLOSE_GONE);
	}
}

/* Answer a request the parser rejected, then close. */
static void reply_protocol_error(struct mock_conn *c, llhttp_errno_t err)
{
	int status = c->err_status ? c->err_status : 400;
	char msg[256];
	switch (status) {
	case 413: snprintf(msg, sizeof msg, "Request body too large (mock limit %u bytes)", MOCK_MAX_BODY); break;
	case 414: snprintf(msg, sizeof msg, "Request target too long"); break;
	case 431: snprintf(msg, sizeof msg, "Request header fields too large"); break;
	case 500: snprintf(msg, sizeof msg, "Out of memory"); break;
	default:
		snprintf(msg, sizeof msg, "Malformed HTTP request: %s (%s)", llhttp_errno_name(err),
		         llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "");
	}
	c->dead = true;
	c->busy = true;
	struct mock_wbuf *w = mock_wbuf_get(c->ctx);
	if (!w || mock_buf_reserve(&w->b, MOCK_HDR_RESERVE)) {
		mock_wbuf_release(c->ctx, w);
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	w->b.len = MOCK_HDR_RESERVE;
	mock_openai_error_body(&w->b, msg, "invalid_request_error", NULL);
	if (mock_http_whole(w, status, "application/json", NULL, false, false) < 0) {
		mock_wbuf_release(c->ctx, w);
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	mock_conn_write(c, w, MOCK_W_CLOSE);
}

/* Parse as much of data as llhttp takes; returns the bytes consumed. Sets c->req_ready when a
 * request is complete (the caller dispatches it) and answers protocol errors itself. */
static size_t conn_parse(struct mock_conn *c, const char *data, size_t len)
{
	llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
	if (err == HPE_OK)
		return len;
	if (err == HPE_PAUSED && c->req_ready) {
		const char *pos = llhttp_get_error_pos(&c->parser);
		if (pos && pos >= data && pos <= data + len)
			return (size_t)(pos - data);
		return len;
	}
	c->req_ready = false;
	reply_protocol_error(c, err);
	return len;
}

static void dispatch(struct mock_conn *c)
{
	c->req_ready = false;
	c->busy = true;
	/* NUL-terminate url and body for the router (not counted in len). */
	mock_buf_put(&c->url, "", 1);
	mock_buf_put(&c->body, "", 1);
	if (c->url.oom || c->body.oom) {
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	c->url.len--;
	c->body.len--;
	mock_route_dispatch(c);
}

/* Keep bytes that arrived while busy. Past the limit, stop reading until the response ends. */
static void keep_unparsed(struct mock_conn *c, const char *data, size_t n)
{
	if (c->rpos > 0 && c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	if (c->rcap - c->rlen < n && c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rcap - c->rlen < n) {
		size_t cap = c->rcap ? c->rcap : 4096;
		while (cap - c->rlen < n)
			cap *= 2;
		char *p = realloc(c->rbuf, cap);
		if (!p) {
			mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
			return;
		}
		c->rbuf = p;
		c->rcap = cap;
	}
	memcpy(c->rbuf + c->rlen, data, n);
	c->rlen += n;
	if (c->rlen - c->rpos > MOCK_MAX_PIPELINE && !c->read_stopped) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->read_stopped = true;
	}
}

/* Parse kept bytes until a request is dispatched or they run out. */
static void conn_drain(struct mock_conn *c)
{
	while (!c->busy && !c->closing && !c->dead && c->rpos < c->rlen) {
		size_t used = conn_parse(c, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rpos += used;
		if (c->req_ready)
			dispatch(c);
	}
	if (c->rpos == c->rlen) {
		c->rpos = c->rlen = 0;
		if (c->rcap > 64 * 1024) {
			free(c->rbuf);
			c->rbuf = NULL;
			c->rcap = 0;
		}
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct mock_conn *c = h->data;
	/* libuv calls alloc, read() and the read callback back to back for one stream, so one
	 * buffer serves every connection. */
	*buf = uv_buf_init(c->ctx->read_buf, MOCK_READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct mock_conn *c = s->data;
	if (n == 0 || c->closing)
		return;
	if (n < 0) {
		mock_conn_close(c, MOCK_CLOSE_GONE);
		return;
	}
	if (c->dead)
		return;
	if (c->busy || c->rpos < c->rlen) {
		keep_unparsed(c, buf->base, (size_t)n);
		if (!c->busy && !c->closing)
			conn_drain(c);
		return;
	}
	size_t used = conn_parse(c, buf->base, (size_t)n);
	if (c->req_ready) {
		if (used < (size_t)n)
			keep_unparsed(c, buf->base + used, (size_t)n - used);
		if (!c->closing)
			dispatch(c);
	}
}

void mock_conn_next(struct mock_conn *c, bool keepalive)
{
	if (c->closing)
		return;
	if (!keepalive) {
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	c->busy = false;
	llhttp_resume(&c->parser);
	mock_buf_reset(&c->url, 4096);
	mock_buf_reset(&c->hdrs, 16384);
	mock_buf_reset(&c->body, 256 * 1024);
	if (c->read_stopped) {
		c->read_stopped = false;
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
			mock_conn_close(c, MOCK_CLOSE_GONE);
			return;
		}
	}
	conn_drain(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct mock_ctx *ctx = server->data;
	if (status < 0 || ctx->stopping)
		return;
	struct mock_conn *c = calloc(1, sizeof *c);
	if (!c) {
		fprintf(stderr, "sluice-mock: out of memory accepting a connection\n");
		return;
	}
	c->ctx = ctx;
	if (uv_tcp_init(&ctx->loop, &c->tcp) < 0) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->open_handles = 1;
	if (uv_timer_init(&ctx->loop, &c->timer) == 0) {
		c->timer.data = c;
		c->open_handles++;
	} else {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
		return;
	}
	/* Link first so that mock_conn_close can unlink. */
	c->next = ctx->conns;
	if (ctx->conns)
		ctx->conns->prev = c;
	ctx->conns = c;
	ctx->stats.connections_open++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	ctx->stats.connections_accepted++;
	/* Without TCP_NODELAY stream events would wait for ACKs; failure only costs latency. */
	if (uv_tcp_nodelay(&c->tcp, 1) < 0)
		fprintf(stderr, "sluice-mock: cannot set TCP_NODELAY\n");
	llhttp_init(&c->parser, HTTP_REQUEST, &ctx->settings);
	c->parser.data = c;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return UV_EINVAL;
}

int mock_http_listen(struct mock_ctx *ctx)
{
	llhttp_settings_init(&ctx->settings);
	ctx->settings.on_message_begin = on_message_begin;
	ctx->settings.on_url = on_url;
	ctx->settings.on_header_field = on_header_field;
	ctx->settings.on_header_field_complete = on_header_field_complete;
	ctx->settings.on_header_value = on_header_value;
	ctx->settings.on_header_value_complete = on_header_value_complete;
	ctx->settings.on_headers_complete = on_headers_complete;
	ctx->settings.on_body = on_body;
	ctx->settings.on_message_complete = on_message_complete;

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	const char *host = ctx->cfg.host;
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	int r = resolve(host, ctx->cfg.port, &ss);
	if (r < 0) {
		fprintf(stderr, "sluice-mock: --host %s is not an IPv4 or IPv6 address\n", ctx->cfg.host);
		return r;
	}
	if ((r = uv_tcp_init(&ctx->loop, &ctx->listener)) < 0) {
		fprintf(stderr, "sluice-mock: uv_tcp_init: %s\n", uv_strerror(r));
		return r;
	}
	ctx->listener.data = ctx;
	if ((r = uv_tcp_bind(&ctx->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
	    (r = uv_listen((uv_stream_t *)&ctx->listener, 1024, on_connection)) < 0) {
		fprintf(stderr, "sluice-mock: cannot listen on %s:%d: %s\n", ctx->cfg.host,
		        ctx->cfg.port, uv_strerror(r));
		return r;
	}
	struct sockaddr_storage bound;
	int len = sizeof bound;
	if ((r = uv_tcp_getsockname(&ctx->listener, (struct sockaddr *)&bound, &len)) < 0) {
		fprintf(stderr, "sluice-mock: getsockname: %s\n", uv_strerror(r));
		return r;
	}
	ctx->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
	                                         : ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

void mock_http_shutdown(struct mock_ctx *ctx)
{
	if (ctx->stopping)
		return;
	ctx->stopping = true;
	if (!uv_is_closing((uv_handle_t *)&ctx->listener))
		uv_close((uv_handle_t *)&ctx->listener, NULL);
	while (ctx->conns)
		mock_conn_close(ctx->conns, MOCK_CLOSE_GRACEFUL);
}
