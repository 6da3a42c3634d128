/* mock_respond.c: the timing engine of sluice-mock. It decides when each byte of a response
 * goes out: the stall fault, the non-stream latency, time to first token and inter-token
 * latency, and the two reset faults.
 *
 * The idea: one timer per connection and a small phase variable. What is sent comes from the
 * router (a whole response already built, headers included) or from a table of event builders
 * (struct mock_stream_ops), so the timing is written once for every API. A stream's status line
 * and headers go out at once; its first event (with the first token) after ttft, each further
 * token after itl (all at once when itl is 0). */
#include "mock.h"

static uint64_t timer_ms(double ms)
{
	if (!(ms > 0))
		return 0;
	if (ms > 1e12)
		ms = 1e12;
	return (uint64_t)(ms + 0.5);
}

static void step(struct mock_conn *c);

/* Run the next step after ms milliseconds (at once when that rounds to 0). */
static void after(struct mock_conn *c, enum mock_phase phase, double ms)
{
	if (c->closing)
		return;
	c->resp.phase = phase;
	uint64_t t = timer_ms(ms);
	if (t == 0) {
		step(c);
		return;
	}
	if (uv_timer_start(&c->timer, mock_resp_on_timer, t, 0) < 0)
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
}

static void send_whole(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	struct mock_wbuf *w = r->pending;
	r->pending = NULL;
	r->phase = MOCK_P_WRITING;
	if (!w) { /* could not be built (out of memory) */
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	if (r->fault == MOCK_F_RESET_DURING) {
		w->cut = w->body_off + (w->b.len - w->body_off) / 2;
		mock_conn_write(c, w, MOCK_W_RESET);
	} else {
		mock_conn_write(c, w, MOCK_W_END);
	}
}

/* Build the events that are due now into w, framed as one chunk. Returns write flags. */
static int stream_fill(struct mock_conn *c, struct mock_wbuf *w)
{
	struct mock_resp *r = &c->resp;
	struct mock_buf *ev = &c->ctx->scratch;
	ev->len = 0;
	ev->oom = false;
	int flags = 0;
	if (!r->preamble_sent) {
		r->ops->preamble(c, ev);
		r->preamble_sent = true;
	}
	/* Event-stream faults: a bad frame in place of token fault_at, then the end. */
	bool cut = r->ops->fault &&
	           (r->fault == MOCK_F_BAD_CRC || r->fault == MOCK_F_STREAM_EXCEPTION);
	uint32_t limit = r->fault == MOCK_F_RESET_DURING ? r->reset_at
	                 : cut && r->fault_at < r->ntok  ? r->fault_at
	                                                 : r->ntok;
	bool all = timer_ms(r->itl_ms) == 0;
	while (r->sent < limit) {
		size_t n;
		const char *word = mock_word(&r->word_rng, &n);
		r->ops->token(c, ev, word, n, r->sent == 0);
		r->sent++;
		if (!all)
			break;
	}
	if (r->sent >= limit) {
		if (r->fault == MOCK_F_RESET_DURING) {
			flags = MOCK_W_RESET;
		} else if (cut) {
			r->ops->fault(c, ev);
			flags = MOCK_W_END;
		} else {
			r->ops->end(c, ev);
			flags = MOCK_W_END;
		}
	}
	if (ev->oom)
		w->b.oom = true;
	mock_http_chunk(w, ev->p, ev->len, r->http10);
	if (flags & MOCK_W_END)
		mock_http_chunk_last(w, r->http10);
	return flags;
}

static void stream_step(struct mock_conn *c)
{
	struct mock_wbuf *w = mock_wbuf_get(c->ctx);
	if (!w) {
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	int flags = stream_fill(c, w);
	c->resp.phase = flags ? MOCK_P_WRITING : MOCK_P_ITL;
	mock_conn_write(c, w, flags);
	if (!flags)
		after(c, MOCK_P_ITL, c->resp.itl_ms);
}

static void stream_begin(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	struct mock_wbuf *w = mock_wbuf_get(c->ctx);
	if (!w) {
		mock_conn_close(c, MOCK_CLOSE_GRACEFUL);
		return;
	}
	if (r->http10)
		r->keepalive = false; /* no chunked encoding: the body ends when the connection does */
	c->ctx->stats.streams_started++;
	mock_http_stream_head(w, r->http10, r->keepalive, r->stream_ctype);
	if (timer_ms(r->ttft_ms) > 0) {
		r->phase = MOCK_P_TTFT;
		mock_conn_write(c, w, 0);
		after(c, MOCK_P_TTFT, r->ttft_ms);
		return;
	}
	int flags = stream_fill(c, w);
	r->phase = flags ? MOCK_P_WRITING : MOCK_P_ITL;
	mock_conn_write(c, w, flags);
	if (!flags)
		after(c, MOCK_P_ITL, r->itl_ms);
}

static void begin(struct mock_conn *c)
{
	if (c->resp.stream)
		stream_begin(c);
	else
		after(c, MOCK_P_DELAY, c->resp.latency_ms);
}

static void step(struct mock_conn *c)
{
	switch (c->resp.phase) {
	case MOCK_P_STALL:
		begin(c);
		break;
	case MOCK_P_DELAY:
		send_whole(c);
		break;
	case MOCK_P_TTFT:
	case MOCK_P_ITL:
		stream_step(c);
		break;
	default:
		break;
	}
}

void mock_resp_on_timer(uv_timer_t *t)
{
	struct mock_conn *c = t->data;
	if (!c->closing && c->resp.active)
		step(c);
}

void mock_resp_start(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	if (r->fault == MOCK_F_RESET_BEFORE) {
		mock_conn_close(c, MOCK_CLOSE_RESET);
		return;
	}
	if (r->fault == MOCK_F_STALL) {
		after(c, MOCK_P_STALL, (double)r->stall_ms);
		return;
	}
	begin(c);
}

static void resp_clear(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	mock_wbuf_release(c->ctx, r->pending);
	r->pending = NULL;
	r->active = false;
	r->phase = MOCK_P_IDLE;
}

void mock_resp_finish(struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;
	struct mock_stats *st = &c->ctx->stats;
	bool keepalive = r->keepalive;
	if (r->active) {
		if (r->api && st->inflight)
			st->inflight--;
		if (r->stream)
			st->streams_completed++;
	}
	resp_clear(c);
	mock_conn_next(c, keepalive);
}

void mock_resp_abort(struct mock_conn *c, bool client_gone)
{
	struct mock_resp *r = &c->resp;
	struct mock_stats *st = &c->ctx->stats;
	if (!r->active)
		return;
	uv_timer_stop(&c->timer);
	if (r->api && st->inflight)
		st->inflight--;
	if (r->stream && client_gone)
		st->streams_aborted++;
	resp_clear(c);
}
