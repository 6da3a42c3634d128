/* load_run.c: the schedule of a sluice-load run: when requests are created, which connection
 * takes them, when a request has waited too long, and when the run is over.
 *
 * The idea: both modes feed one FIFO queue of requests stamped with their scheduled time.
 * Open loop stamps request k with t0 + k/rate and creates it when that time comes (a timerfd
 * armed at the exact nanosecond, since libuv timers only have millisecond resolution); closed
 * loop has one "user" per connection who creates the next request the moment the previous one
 * ends. load_dispatch hands queued requests to idle connections and opens new ones while
 * requests wait and the limit allows. Every latency counts from the scheduled time, so a stall
 * that makes requests queue shows up in full (no coordinated omission); the send lag histogram
 * says how much of that was waiting here rather than at the server. A sweeper every few
 * milliseconds fails requests (queued or in flight) older than --timeout. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "load.h"

const char *const load_err_names[LOAD_E_COUNT] = {
	[LOAD_E_CONNECT] = "connect",       [LOAD_E_RESET] = "reset",
	[LOAD_E_TIMEOUT] = "timeout",       [LOAD_E_PROTOCOL] = "protocol",
	[LOAD_E_HTTP_4XX] = "http_4xx",     [LOAD_E_HTTP_5XX] = "http_5xx",
	[LOAD_E_HTTP_OTHER] = "http_other", [LOAD_E_STREAM] = "stream",
};

#define NS 1000000000ull

/* ---- the queue ------------------------------------------------------------------------------ */

static int q_push(struct load_ctx *ctx, const struct load_req *r)
{
	if (ctx->qlen == ctx->qcap) {
		size_t cap = ctx->qcap ? ctx->qcap * 2 : 1024;
		struct load_req *q = malloc(cap * sizeof *q);
		if (!q)
			return -1;
		for (size_t i = 0; i < ctx->qlen; i++)
			q[i] = ctx->q[(ctx->qhead + i) % ctx->qcap];
		free(ctx->q);
		ctx->q = q;
		ctx->qcap = cap;
		ctx->qhead = 0;
	}
	ctx->q[(ctx->qhead + ctx->qlen) % ctx->qcap] = *r;
	ctx->qlen++;
	if (ctx->qlen > ctx->st.queue_peak)
		ctx->st.queue_peak = ctx->qlen;
	return 0;
}

static struct load_req q_pop(struct load_ctx *ctx)
{
	struct load_req r = ctx->q[ctx->qhead];
	ctx->qhead = (ctx->qhead + 1) % ctx->qcap;
	ctx->qlen--;
	return r;
}

/* ---- creating requests ------------------------------------------------------------------------ */

/* Queue a request scheduled at sched, unless the run's bounds say no more (then the schedule
 * is over). */
static bool issue_one(struct load_ctx *ctx, uint64_t sched)
{
	const struct load_opts *o = ctx->o;
	if (ctx->stopping || ctx->sched_over)
		return false;
	if (sched >= ctx->end) {
		ctx->sched_over = true;
		ctx->st.by_duration = true;
		return false;
	}
	bool measured = sched >= ctx->warm_end;
	if (measured && o->requests && ctx->issued_measured >= o->requests) {
		ctx->sched_over = true;
		return false;
	}
	struct load_req r = {ctx->next_seq, sched, measured};
	if (q_push(ctx, &r) < 0) {
		fprintf(stderr, "sluice-load: out of memory for the request queue; stopping\n");
		ctx->sched_over = true;
		return false;
	}
	ctx->next_seq++;
	if (measured)
		ctx->issued_measured++;
	return true;
}

/* Arm the timer for `at` and every interval_ns after it; at 0 disarms. The interval is rounded
 * down to whole nanoseconds, so the ticks can drift ahead of the schedule but never behind it;
 * a tick that finds nothing due re-arms on the exact time. One wakeup per request then costs
 * one read of the timerfd, not a timerfd_settime as well. */
static void arm_tick(struct load_ctx *ctx, uint64_t at)
{
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	if (at) {
		its.it_value.tv_sec = (time_t)(at / NS);
		its.it_value.tv_nsec = (long)(at % NS);
		its.it_interval.tv_sec = (time_t)(ctx->interval_ns / NS);
		its.it_interval.tv_nsec = (long)(ctx->interval_ns % NS);
	}
	if (timerfd_settime(ctx->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		fprintf(stderr, "sluice-load: timerfd_settime: %s\n", strerror(errno));
		ctx->sched_over = true;
		at = 0;
	}
	ctx->tick_armed = at != 0;
}

/* Open loop: queue every request whose time has come, and make sure the timer fires for the
 * next. The schedule is over as soon as the next slot falls past --duration or beyond
 * --requests. */
static void schedule_due(struct load_ctx *ctx, uint64_t now)
{
	const struct load_opts *o = ctx->o;
	bool issued = false;
	while (!ctx->sched_over && !ctx->stopping) {
		uint64_t sched = ctx->t0 + (uint64_t)((double)ctx->next_k * 1e9 / o->rate);
		if (sched >= ctx->end ||
		    (o->requests && ctx->issued_measured >= o->requests && sched >= ctx->warm_end)) {
			ctx->sched_over = true;
			ctx->st.by_duration = sched >= ctx->end;
			break;
		}
		if (sched > now) {
			if (!issued || !ctx->tick_armed)
				arm_tick(ctx, sched);
			break;
		}
		if (!issue_one(ctx, sched))
			break;
		issued = true;
		ctx->next_k++;
	}
	if ((ctx->sched_over || ctx->stopping) && ctx->tick_armed)
		arm_tick(ctx, 0);
}

static void on_tick(uv_poll_t *p, int status, int events)
{
	struct load_ctx *ctx = p->data;
	uint64_t expirations;
	(void)!read(ctx->tfd, &expirations, sizeof expirations); /* EAGAIN is fine too */
	schedule_due(ctx, uv_hrtime());
	load_dispatch(ctx);
}

static void start(struct load_ctx *ctx)
{
	const struct load_opts *o = ctx->o;
	ctx->started = true;
	ctx->t0 = uv_hrtime();
	ctx->warm_end = ctx->t0 + (uint64_t)(o->warmup_s * 1e9);
	ctx->end = o->duration_s > 0 ? ctx->warm_end + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	ctx->st.measure_start = ctx->warm_end;
	ctx->last_progress_t = ctx->t0;
	if (o->open_loop) {
		double iv = 1e9 / o->rate;
		ctx->interval_ns = iv < 1 ? 1 : (uint64_t)iv;
		schedule_due(ctx, ctx->t0); /* the first request is due at t0 */
	} else {
		for (long i = 0; i < o->connections; i++)
			if (!issue_one(ctx, ctx->t0))
				break;
	}
}

/* ---- the end ------------------------------------------------------------------------------------ */

static void finish(struct load_ctx *ctx)
{
	if (ctx->finished)
		return;
	ctx->finished = true;
	ctx->stopping = true;
	ctx->st.wall_s = (double)(uv_hrtime() - (ctx->t0 ? ctx->t0 : uv_hrtime())) / 1e9;
	while (ctx->conns) {
		struct load_conn *c = ctx->conns;
		if (c->active && c->req.measured)
			ctx->st.unfinished++;
		if (c->active) {
			c->active = false;
			ctx->inflight--;
		}
		load_conn_close(c);
	}
	while (ctx->qlen) {
		struct load_req r = q_pop(ctx);
		if (r.measured)
			ctx->st.unfinished++;
	}
	uv_close((uv_handle_t *)&ctx->sweep, NULL);
	uv_close((uv_handle_t *)&ctx->backoff, NULL);
	uv_close((uv_handle_t *)&ctx->progress, NULL);
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	if (ctx->tfd >= 0)
		uv_close((uv_handle_t *)&ctx->tick, NULL);
}

static void maybe_finish(struct load_ctx *ctx)
{
	if (ctx->finished)
		return;
	if (!ctx->started) {
		if (ctx->stopping)
			finish(ctx);
		return;
	}
	if ((ctx->stopping || ctx->sched_over) && ctx->qlen == 0 && ctx->inflight == 0)
		finish(ctx);
}

/* ---- dispatch ------------------------------------------------------------------------------------- */

void load_dispatch(struct load_ctx *ctx)
{
	if (ctx->in_dispatch) {
		ctx->dispatch_again = true;
		return;
	}
	if (ctx->finished)
		return;
	ctx->in_dispatch = true;
	do {
		ctx->dispatch_again = false;
		if (!ctx->started) {
			if (ctx->n_connecting > 0 || ctx->stopping)
				break;
			start(ctx);
		}
		while (ctx->qlen && !ctx->finished) {
			if (ctx->idle) {
				struct load_req r = q_pop(ctx);
				load_conn_send(ctx->idle, &r);
				continue;
			}
			if (ctx->n_connecting >= ctx->qlen || ctx->n_open >= ctx->max_conns)
				break;
			if (!load_conn_open(ctx)) {
				/* could not even start a connect: the oldest request fails with it */
				struct load_req r = q_pop(ctx);
				load_req_done(ctx, NULL, &r, LOAD_E_CONNECT, NULL);
			}
		}
	} while (ctx->dispatch_again && !ctx->finished);
	ctx->in_dispatch = false;
	maybe_finish(ctx);
}

/* ---- results ------------------------------------------------------------------------------------ */

void load_note_error(struct load_ctx *ctx, int e, const char *why)
{
	if (e < 0 || e >= LOAD_E_COUNT || !why || !*why || ctx->st.first_err[e][0])
		return;
	snprintf(ctx->st.first_err[e], sizeof ctx->st.first_err[e], "%s", why);
}

static void on_backoff(uv_timer_t *t)
{
	struct load_ctx *ctx = t->data;
	uint64_t now = uv_hrtime();
	while (ctx->backoff_users) {
		ctx->backoff_users--;
		if (!issue_one(ctx, now)) {
			ctx->backoff_users = 0;
			break;
		}
	}
	load_dispatch(ctx);
}

void load_req_done(struct load_ctx *ctx, struct load_conn *c, const struct load_req *r, int e,
                   const char *why)
{
	struct load_stats *st = &ctx->st;
	uint64_t now = uv_hrtime();
	if (e >= 0)
		load_note_error(ctx, e, why);
	/* the rates count every response that ended inside the window, warmup-scheduled or not:
	 * that is the steady-state throughput, with no ramp at either end */
	bool in_window = ctx->started && now >= st->measure_start && now <= ctx->end;
	st->in_window += in_window;
	st->ok_in_window += in_window && e == LOAD_OK;
	if (in_window && e == LOAD_OK) {
		if (ctx->o->stream)
			st->tokens_in_window += c->ntok;
		if (c->has_usage)
			st->usage_in_window += c->usage;
	}
	if (!r->measured) {
		st->warmup_completed++;
	} else {
		st->completed++;
		st->last_done = now;
		if (c && c->status >= 100 && c->status < 600)
			st->status[c->status]++;
		if (e == LOAD_OK) {
			st->ok++;
			load_hist_record(&st->lat, now - r->sched);
			load_hist_record(&st->service, now - c->sent);
			if (ctx->o->stream) {
				st->streams++;
				st->tokens += c->ntok;
				if (c->ntok)
					load_hist_record(&st->ttft, c->first_tok - r->sched);
				for (size_t i = 0; i < c->ngaps; i++)
					load_hist_record(&st->itl, c->gaps[i]);
			}
			if (c->has_usage) {
				st->usage_reqs++;
				st->usage_tokens += c->usage;
			}
		} else {
			st->err[e]++;
		}
	}
	if (ctx->o->open_loop)
		return;
	/* closed loop: this request's user sends the next one (after a pause if it could not
	 * connect, so a dead server is not hammered in a tight loop) */
	if (e == LOAD_E_CONNECT) {
		ctx->backoff_users++;
		if (!uv_is_active((uv_handle_t *)&ctx->backoff) && !ctx->finished) {
			uv_timer_start(&ctx->backoff, on_backoff, ctx->backoff_ms, 0);
			ctx->backoff_ms = ctx->backoff_ms * 2 > 1000 ? 1000 : ctx->backoff_ms * 2;
		}
		return;
	}
	if (e == LOAD_OK)
		ctx->backoff_ms = 10;
	issue_one(ctx, now);
}

void load_on_connect_failed(struct load_ctx *ctx, const char *why)
{
	load_note_error(ctx, LOAD_E_CONNECT, why);
	if (ctx->started && ctx->qlen) {
		struct load_req r = q_pop(ctx);
		load_req_done(ctx, NULL, &r, LOAD_E_CONNECT, why);
	}
	load_dispatch(ctx);
}

/* ---- timers and signals -------------------------------------------------------------------------- */

static void on_sweep(uv_timer_t *t)
{
	struct load_ctx *ctx = t->data;
	uint64_t now = uv_hrtime();
	uint64_t limit = (uint64_t)(ctx->o->timeout_s * 1e9);
	bool was = ctx->in_dispatch;
	ctx->in_dispatch = true; /* dispatch after the walk: connections may close under it */
	for (struct load_conn *c = ctx->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == LOAD_C_BUSY && c->active && now >= c->req.sched + limit) {
			load_conn_fail(c, LOAD_E_TIMEOUT, "no complete response within --timeout");
		} else if (c->state == LOAD_C_CONNECTING && now >= c->opened + limit) {
			ctx->st.conn_failed++;
			load_conn_close(c);
			load_on_connect_failed(ctx, "connect: no answer within --timeout");
		}
	}
	/* (requests queued during this walk are younger than now: compare without underflow) */
	while (ctx->qlen && now >= ctx->q[ctx->qhead].sched + limit) {
		struct load_req r = q_pop(ctx);
		load_req_done(ctx, NULL, &r, LOAD_E_TIMEOUT,
		              "waited for a connection longer than --timeout");
	}
	ctx->in_dispatch = was;
	load_dispatch(ctx);
}

static void on_progress(uv_timer_t *t)
{
	struct load_ctx *ctx = t->data;
	if (!ctx->started)
		return;
	const struct load_stats *st = &ctx->st;
	uint64_t now = uv_hrtime();
	uint64_t done = st->completed + st->warmup_completed;
	uint64_t errs = 0;
	for (int i = 0; i < LOAD_E_COUNT; i++)
		errs += st->err[i];
	double dt = (double)(now - ctx->last_progress_t) / 1e9;
	fprintf(stderr,
	        "sluice-load: %7.1fs  %9.1f req/s  done %llu  ok %llu  errors %llu  in flight %zu  "
	        "queued %zu  connections %zu%s\n",
	        (double)(now - ctx->t0) / 1e9, dt > 0 ? (double)(done - ctx->last_progress_done) / dt : 0,
	        (unsigned long long)done, (unsigned long long)st->ok, (unsigned long long)errs,
	        ctx->inflight, ctx->qlen, ctx->n_open, now < ctx->warm_end ? "  (warmup)" : "");
	ctx->last_progress_done = done;
	ctx->last_progress_t = now;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct load_ctx *ctx = s->data;
	if (!ctx->stopping) {
		/* stop scheduling, drop what waits for a connection, let the requests in flight end */
		if (!ctx->o->quiet)
			fprintf(stderr, "sluice-load: stopping: waiting for %zu requests in flight (again "
			                "to abort)\n", ctx->inflight);
		ctx->stopping = true;
		ctx->signalled = true;
		ctx->backoff_users = 0;
		if (ctx->started) { /* the rates' window ends now */
			uint64_t now = uv_hrtime();
			if (now < ctx->end)
				ctx->end = now;
			ctx->st.by_duration = true;
		}
		while (ctx->qlen) {
			struct load_req r = q_pop(ctx);
			if (r.measured)
				ctx->st.unfinished++;
		}
		if (ctx->tick_armed)
			arm_tick(ctx, 0);
		load_dispatch(ctx);
		return;
	}
	ctx->aborted = true;
	finish(ctx);
}

/* ---- setup ------------------------------------------------------------------------------------------ */

static int resolve(struct load_ctx *ctx)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo(ctx->o->host, ctx->o->port, &hints, &res);
	if (r != 0 || !res) {
		fprintf(stderr, "sluice-load: cannot resolve '%s': %s\n", ctx->o->host,
		        r ? gai_strerror(r) : "no address");
		return -1;
	}
	memcpy(&ctx->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void raise_fd_limit(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

int load_run(struct load_ctx *ctx)
{
	const struct load_opts *o = ctx->o;
	struct load_stats *st = &ctx->st;
	load_hist_init(&st->lat);
	load_hist_init(&st->service);
	load_hist_init(&st->lag);
	load_hist_init(&st->ttft);
	load_hist_init(&st->itl);
	ctx->tfd = -1;
	ctx->backoff_ms = 10;
	ctx->max_conns = (size_t)o->max_connections;
	if (resolve(ctx) < 0)
		return -1;
	raise_fd_limit(ctx->max_conns + 64);
	(void)prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within ~1 us of the schedule, not 50 us */
	ctx->rbuf = malloc(LOAD_READ_BUF);
	if (!ctx->rbuf) {
		fprintf(stderr, "sluice-load: out of memory\n");
		return -1;
	}
	load_conn_settings(&ctx->settings);
	int r = uv_loop_init(&ctx->loop);
	if (r < 0) {
		fprintf(stderr, "sluice-load: uv_loop_init: %s\n", uv_strerror(r));
		return -1;
	}
	uv_timer_init(&ctx->loop, &ctx->sweep);
	uv_timer_init(&ctx->loop, &ctx->backoff);
	uv_timer_init(&ctx->loop, &ctx->progress);
	uv_signal_init(&ctx->loop, &ctx->sigint);
	uv_signal_init(&ctx->loop, &ctx->sigterm);
	ctx->sweep.data = ctx->backoff.data = ctx->progress.data = ctx;
	ctx->sigint.data = ctx->sigterm.data = ctx;
	uv_unref((uv_handle_t *)&ctx->sigint);
	uv_unref((uv_handle_t *)&ctx->sigterm);
	uv_signal_start(&ctx->sigint, on_signal, SIGINT);
	uv_signal_start(&ctx->sigterm, on_signal, SIGTERM);
	if (o->open_loop) {
		ctx->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (ctx->tfd < 0 || uv_poll_init(&ctx->loop, &ctx->tick, ctx->tfd) < 0) {
			fprintf(stderr, "sluice-load: timerfd: %s\n", strerror(errno));
			if (ctx->tfd >= 0)
				close(ctx->tfd);
			ctx->tfd = -1;
			ctx->stopping = true;
		} else {
			ctx->tick.data = ctx;
			uv_poll_start(&ctx->tick, UV_READABLE, on_tick);
		}
	}
	uint64_t sweep_ms = (uint64_t)(o->timeout_s * 1000 / 10);
	sweep_ms = sweep_ms < 1 ? 1 : sweep_ms > 10 ? 10 : sweep_ms;
	uv_timer_start(&ctx->sweep, on_sweep, sweep_ms, sweep_ms);
	if (!o->quiet)
		uv_timer_start(&ctx->progress, on_progress, 1000, 1000);

	/* open the first connections, and start the clock when they have all answered */
	for (long i = 0; i < o->connections && !ctx->stopping; i++)
		(void)load_conn_open(ctx);
	load_dispatch(ctx);
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	if (!ctx->finished) /* cannot happen: the loop only runs dry after finish */
		finish(ctx);
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&ctx->loop) < 0)
		fprintf(stderr, "sluice-load: event loop still busy at exit\n");
	if (ctx->tfd >= 0)
		close(ctx->tfd);

	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		st->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
		st->cpu_sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		st->max_rss_kb = ru.ru_maxrss;
	}
	free(ctx->rbuf);
	free(ctx->q);
	ctx->rbuf = NULL;
	ctx->q = NULL;
	return 0;
}
