/* load.h: internal interfaces of sluice-load, the load generator for sluice and for any
 * OpenAI-compatible HTTP/1.1 endpoint (bench/ only; it links nothing of sluice, so it measures
 * sluice from the outside, like any client would).
 *
 * The idea: one single-threaded libuv loop, one context struct, and one model for both modes.
 * Requests are created by a schedule (open loop: at t0 + k/rate; closed loop: one per "user",
 * re-created when the user's previous request ends), put on a FIFO queue with their scheduled
 * time, and taken by whichever keep-alive connection is idle (new connections are opened on
 * demand up to a limit). Every latency is measured from the scheduled time, so time a request
 * spends waiting for a connection (because the server is stalled) is never hidden. */
#ifndef SLUICE_LOAD_H
#define SLUICE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <llhttp.h>
#include <uv.h>

#define LOAD_VERSION       SLUICE_VERSION /* from meson.build */
#define LOAD_READ_BUF      (64u * 1024)        /* the one read buffer all connections share */
#define LOAD_MAX_LINE      (1u * 1024 * 1024)  /* longest SSE line kept; the rest is dropped */
#define LOAD_MAX_BODY_SCAN (256u * 1024)       /* whole bodies kept for the usage scan */

/* ---- growable buffer (load_body.c) ----------------------------------------------------- */

struct load_buf {
	char *p;
	size_t len, cap;
};

int load_buf_put(struct load_buf *b, const void *s, size_t n); /* 0 or -1 (out of memory) */
void load_buf_free(struct load_buf *b);

/* ---- histogram (load_hist.c) ----------------------------------------------------------- */

/* Log-linear, like HdrHistogram: values (nanoseconds) below 2^LOAD_HIST_SUB_BITS are exact;
 * every higher power of two is cut into 2^(LOAD_HIST_SUB_BITS-1) = 128 equal sub-buckets, so a
 * bucket is at most 1/128 (0.78%) of its values wide, over the whole uint64 range. */
#define LOAD_HIST_SUB_BITS 8
#define LOAD_HIST_HALF     (1u << (LOAD_HIST_SUB_BITS - 1))
#define LOAD_HIST_BUCKETS  ((64 - LOAD_HIST_SUB_BITS + 2) * LOAD_HIST_HALF)

struct load_hist {
	uint64_t count, min, max;
	double sum, sumsq;
	uint64_t b[LOAD_HIST_BUCKETS];
};

void load_hist_init(struct load_hist *h);
void load_hist_record(struct load_hist *h, uint64_t v);
size_t load_hist_index(uint64_t v);
void load_hist_bounds(size_t i, uint64_t *lo, uint64_t *hi); /* [lo, hi) */
/* The value at percentile p (0..100): the midpoint of the bucket holding the ceil(p% * count)th
 * smallest value, clamped to [min, max]; 0 when empty. */
uint64_t load_hist_pct(const struct load_hist *h, double p);
double load_hist_mean(const struct load_hist *h);
double load_hist_stddev(const struct load_hist *h);

/* ---- options (load_opts.c) -------------------------------------------------------------- */

struct load_opts {
	const char *url;
	char *host;          /* without brackets */
	char *port;          /* decimal */
	char *path;          /* path and query, at least "/" */
	char *host_header;   /* host[:port] as sent in Host */
	const char **headers;
	size_t n_headers;
	const char *method;
	const char *body_file, *body_json, *model;
	bool model_set, stream, unique, quiet, open_loop;
	long connections, max_connections;
	double rate;          /* open loop: requests per second; 0: closed loop */
	double duration_s;    /* 0: unbounded (then requests is set) */
	double warmup_s, timeout_s;
	uint64_t requests;    /* 0: unbounded (then duration is set) */
	const char *json_path;
};

/* 0: run; 1: exit 0 (help, version); -1: exit 2 (usage error, already printed). */
int load_opts_parse(struct load_opts *o, int argc, char **argv);
void load_opts_free(struct load_opts *o);

/* ---- the request bytes (load_body.c) ---------------------------------------------------- */

/* The request is fixed bytes, except with --unique, where a token "<run>-<seq>" is placed in
 * the body (between pre and post) and Content-Length changes with it. */
struct load_tmpl {
	char *head;          /* request line and headers up to "Content-Length: " (or the blank line) */
	size_t head_len;
	bool has_body;
	char *pre, *post;    /* body around the unique token; pre is the whole body otherwise */
	size_t pre_len, post_len;
	bool unique;
	char run_id[17];
	char *fixed;         /* the whole request when not unique */
	size_t fixed_len;
	size_t max_len;      /* room a rendered unique request needs */
	const char *unique_where; /* which field holds the token, for the report */
};

int load_tmpl_build(struct load_tmpl *t, const struct load_opts *o, char *err, size_t errlen);
size_t load_tmpl_render(const struct load_tmpl *t, uint64_t seq, char *out);
void load_tmpl_free(struct load_tmpl *t);

/* ---- results ---------------------------------------------------------------------------- */

enum load_err {
	LOAD_E_CONNECT,    /* no connection could be made for the request */
	LOAD_E_RESET,      /* the connection was reset or closed before the response ended */
	LOAD_E_TIMEOUT,    /* --timeout passed since the scheduled time */
	LOAD_E_PROTOCOL,   /* the response was not valid HTTP/1.1 */
	LOAD_E_HTTP_4XX,
	LOAD_E_HTTP_5XX,
	LOAD_E_HTTP_OTHER, /* 1xx or 3xx */
	LOAD_E_STREAM,     /* in-band stream error, or a stream without its end marker */
	LOAD_E_COUNT,
	LOAD_OK = -1,
};

extern const char *const load_err_names[LOAD_E_COUNT];

struct load_stats {
	struct load_hist lat;     /* ok requests: scheduled time -> last byte */
	struct load_hist service; /* ok requests: first byte written -> last byte */
	struct load_hist lag;     /* every sent request: scheduled time -> first byte written */
	struct load_hist ttft;    /* ok streams: scheduled time -> first token event */
	struct load_hist itl;     /* ok streams: gaps between token events */
	uint64_t completed, ok, err[LOAD_E_COUNT], status[600];
	uint64_t warmup_completed, unfinished;
	uint64_t streams, tokens, usage_reqs, usage_tokens;
	uint64_t bytes_sent, bytes_received;
	uint64_t measure_start, last_done; /* hrtime ns */
	/* rates: a run bounded by --duration counts every response that ended inside the
	 * measured window (warmup-scheduled ones too); one bounded by --requests counts its
	 * measured requests up to the last response */
	bool by_duration;
	uint64_t in_window, ok_in_window, tokens_in_window, usage_in_window;
	uint64_t conn_opened, conn_failed, conn_closed_peer, conn_closed_err, conn_peak;
	uint64_t queue_peak;
	double cpu_user_s, cpu_sys_s, wall_s;
	long max_rss_kb;
	char first_err[LOAD_E_COUNT][160]; /* the first error of each class, for the report */
};

/* ---- connections (load_conn.c) ---------------------------------------------------------- */

struct load_req {
	uint64_t seq;
	uint64_t sched; /* hrtime ns */
	bool measured;  /* scheduled after the warmup */
};

enum load_conn_state { LOAD_C_CONNECTING, LOAD_C_IDLE, LOAD_C_BUSY, LOAD_C_CLOSING };

struct load_ctx;

struct load_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_write_t write_req;
	llhttp_t parser;
	struct load_ctx *ctx;
	struct load_conn *prev, *next;   /* ctx->conns: every connection not closing */
	struct load_conn *iprev, *inext; /* ctx->idle */
	enum load_conn_state state;
	uint64_t opened;  /* hrtime when the connect started */
	bool writing;     /* a uv_write is under way */
	bool active;      /* a request is in flight */
	bool keep;        /* the connection may carry another request */
	bool msg_done;    /* llhttp saw the end of the response (parser paused) */
	/* the request in flight */
	struct load_req req;
	uint64_t sent, first_tok, last_tok;
	uint32_t ntok;
	uint64_t usage;
	bool has_usage;
	int status;
	bool sse, stream_err, stream_end, in_ctype, head_req;
	char hname[16];
	size_t hname_len;
	char ctype[32];
	size_t ctype_len;
	char event[16];
	size_t event_len;
	char stream_err_msg[120];
	struct load_buf line;    /* an SSE line split across reads */
	bool line_over;
	struct load_buf body;    /* a whole body, for the usage scan */
	uint64_t *gaps;          /* inter-token gaps of this stream, recorded when it ends ok */
	size_t ngaps, gcap;
	char *wbuf;              /* --unique: this connection's request bytes */
};

void load_conn_settings(llhttp_settings_t *s);
/* Open one more connection; NULL when it failed at once (counted as a failed connect). */
struct load_conn *load_conn_open(struct load_ctx *ctx);
/* Send r on an idle connection. */
void load_conn_send(struct load_conn *c, const struct load_req *r);
/* End the request in flight with an error (if any) and close the connection. */
void load_conn_fail(struct load_conn *c, enum load_err e, const char *why);
void load_conn_close(struct load_conn *c);

/* ---- the run (load_run.c) --------------------------------------------------------------- */

struct load_ctx {
	uv_loop_t loop;
	uv_timer_t sweep, backoff, progress;
	uv_poll_t tick;      /* open loop: a timerfd armed for the next scheduled request */
	int tfd;
	uv_signal_t sigint, sigterm;
	const struct load_opts *o;
	struct load_tmpl tmpl;
	llhttp_settings_t settings;
	struct sockaddr_storage addr;
	char *rbuf;
	uint64_t rnow;       /* hrtime of the read being parsed */
	/* the queue: requests waiting for a connection, oldest first */
	struct load_req *q;
	size_t qcap, qhead, qlen;
	/* connections */
	struct load_conn *conns, *idle;
	size_t n_open, n_connecting, n_idle, inflight;
	size_t max_conns;
	/* the schedule */
	bool started, stopping, signalled, aborted, tick_armed, sched_over, finished, in_dispatch, dispatch_again;
	uint64_t t0, warm_end, end, interval_ns;
	uint64_t next_k, next_seq, issued_measured;
	size_t backoff_users;
	uint64_t backoff_ms;
	/* progress */
	uint64_t last_progress_done;
	uint64_t last_progress_t;
	struct load_stats st;
};

/* A connection is up or became idle: use it. */
void load_dispatch(struct load_ctx *ctx);
/* A connect failed (the connection is closing): the oldest queued request fails with it. */
void load_on_connect_failed(struct load_ctx *ctx, const char *why);
/* The request r, in flight on c (or still queued: c NULL), ended with e (LOAD_OK or an error
 * class): count it, and in closed loop queue its user's next request. It does not dispatch;
 * the caller calls load_dispatch once the connection is back in the pool or closed. */
void load_req_done(struct load_ctx *ctx, struct load_conn *c, const struct load_req *r,
                   int e, const char *why);
void load_note_error(struct load_ctx *ctx, int e, const char *why);
int load_run(struct load_ctx *ctx);

/* ---- report (load_report.c) -------------------------------------------------------------- */

void load_report_human(const struct load_ctx *ctx, FILE *out);
int load_report_json(const struct load_ctx *ctx, FILE *f, const char *name);

#endif
