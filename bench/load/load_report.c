/* load_report.c: what a sluice-load run prints: a table for people and JSON for scripts.
 *
 * The idea: both come from the same struct load_stats and say the same numbers; the JSON adds
 * the non-empty histogram buckets, so a script can compute any other percentile or merge runs.
 * Times are shown with units (ns, us, ms, s) in the table and as microseconds in the JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "load.h"

static const double pcts[] = {50, 90, 99, 99.9};

static char *fmt_ns(char *buf, size_t n, double v)
{
	if (v < 1e3)
		snprintf(buf, n, "%.0fns", v);
	else if (v < 1e6)
		snprintf(buf, n, "%.1fus", v / 1e3);
	else if (v < 1e9)
		snprintf(buf, n, "%.2fms", v / 1e6);
	else
		snprintf(buf, n, "%.3fs", v / 1e9);
	return buf;
}

static void hist_row(FILE *out, const char *name, const struct load_hist *h)
{
	char b[32];
	fprintf(out, "  %-10s %9llu", name, (unsigned long long)h->count);
	if (h->count == 0) {
		fprintf(out, "  (none)\n");
		return;
	}
	for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
		fprintf(out, " %10s", fmt_ns(b, sizeof b, (double)load_hist_pct(h, pcts[i])));
	fprintf(out, " %10s", fmt_ns(b, sizeof b, (double)h->max));
	fprintf(out, " %10s\n", fmt_ns(b, sizeof b, load_hist_mean(h)));
}

static double measured_s(const struct load_stats *st)
{
	return st->last_done > st->measure_start ? (double)(st->last_done - st->measure_start) / 1e9
	                                         : 0;
}

/* The window rates are computed over, and what ended in it. */
struct rates {
	double secs;
	uint64_t n, ok, tokens, usage;
};

static struct rates rates_of(const struct load_ctx *ctx)
{
	const struct load_stats *st = &ctx->st;
	struct rates r;
	if (st->by_duration) {
		r.secs = ctx->end > st->measure_start ? (double)(ctx->end - st->measure_start) / 1e9 : 0;
		r.n = st->in_window;
		r.ok = st->ok_in_window;
		r.tokens = st->tokens_in_window;
		r.usage = st->usage_in_window;
	} else {
		r.secs = measured_s(st);
		r.n = st->completed;
		r.ok = st->ok;
		r.tokens = st->tokens;
		r.usage = st->usage_tokens;
	}
	return r;
}

static double per_s(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static uint64_t error_total(const struct load_stats *st)
{
	uint64_t n = 0;
	for (int i = 0; i < LOAD_E_COUNT; i++)
		n += st->err[i];
	return n;
}

static void put_time(FILE *out, double s)
{
	if (s >= 1 || s == 0)
		fprintf(out, "%g s", s);
	else
		fprintf(out, "%g ms", s * 1e3);
}

void load_report_human(const struct load_ctx *ctx, FILE *out)
{
	const struct load_opts *o = ctx->o;
	const struct load_stats *st = &ctx->st;
	struct rates rt = rates_of(ctx);
	uint64_t errs = error_total(st);

	fprintf(out, "sluice-load %s: ", LOAD_VERSION);
	if (o->open_loop)
		fprintf(out, "open loop at %g req/s, %ld connection%s up front (max %ld)", o->rate,
		        o->connections, o->connections == 1 ? "" : "s", o->max_connections);
	else
		fprintf(out, "closed loop, %ld connection%s", o->connections,
		        o->connections == 1 ? "" : "s");
	if (o->duration_s > 0) {
		fprintf(out, ", ");
		put_time(out, o->duration_s);
	}
	if (o->requests)
		fprintf(out, "%s%llu requests", o->duration_s > 0 ? " or " : ", ",
		        (unsigned long long)o->requests);
	if (o->warmup_s > 0) {
		fprintf(out, " after ");
		put_time(out, o->warmup_s);
		fprintf(out, " warmup");
	}
	fprintf(out, ", timeout ");
	put_time(out, o->timeout_s);
	fprintf(out, "\n  %s %s", o->method, o->url);
	if (ctx->tmpl.has_body)
		fprintf(out, "  body %zu bytes", ctx->tmpl.pre_len + ctx->tmpl.post_len);
	if (o->stream)
		fprintf(out, ", stream");
	if (ctx->tmpl.unique)
		fprintf(out, ", unique (token in %s)", ctx->tmpl.unique_where);
	fprintf(out, "\n\n");

	fprintf(out, "requests   %llu completed: %llu ok, %llu errors; %.1f req/s (ok %.1f/s) over %.2f s",
	        (unsigned long long)st->completed, (unsigned long long)st->ok,
	        (unsigned long long)errs, per_s(rt.n, rt.secs), per_s(rt.ok, rt.secs), rt.secs);
	if (o->open_loop)
		fprintf(out, " (offered %g/s)", o->rate);
	if (st->unfinished)
		fprintf(out, ", %llu unfinished", (unsigned long long)st->unfinished);
	if (st->warmup_completed)
		fprintf(out, " (+%llu in warmup, not counted)", (unsigned long long)st->warmup_completed);
	fprintf(out, "\n");
	if (ctx->aborted)
		fprintf(out, "           ABORTED by a second signal: requests in flight are "
		             "'unfinished'\n");
	else if (ctx->signalled)
		fprintf(out, "           stopped early by a signal\n");
	fprintf(out, "\n  %-10s %9s %10s %10s %10s %10s %10s %10s\n", "", "count", "p50", "p90",
	        "p99", "p99.9", "max", "mean");
	hist_row(out, "latency", &st->lat);
	if (o->stream) {
		hist_row(out, "ttft", &st->ttft);
		hist_row(out, "itl", &st->itl);
	}
	if (o->open_loop) {
		hist_row(out, "service", &st->service);
		hist_row(out, "send lag", &st->lag);
	}
	fprintf(out, "  latency: %s to the last byte of each ok response",
	        o->open_loop ? "scheduled send time" : "send");
	if (o->stream)
		fprintf(out, "; ttft: to the first token event; itl: between token events");
	if (o->open_loop)
		fprintf(out, ";\n  service: first byte written to last byte read; send lag: scheduled "
		             "to written (queueing for a connection)");
	fprintf(out, "\n\n");

	if (errs == 0) {
		fprintf(out, "errors     none\n");
	} else {
		fprintf(out, "errors\n");
		for (int i = 0; i < LOAD_E_COUNT; i++)
			if (st->err[i])
				fprintf(out, "  %-10s %9llu  first: %s\n", load_err_names[i],
				        (unsigned long long)st->err[i],
				        st->first_err[i][0] ? st->first_err[i] : "-");
	}
	bool any = false;
	for (int s = 0; s < 600; s++) {
		if (!st->status[s])
			continue;
		fprintf(out, "%s%d x %llu", any ? ", " : "status     ", s,
		        (unsigned long long)st->status[s]);
		any = true;
	}
	if (any)
		fprintf(out, "\n");
	if (o->stream)
		fprintf(out, "tokens     %.1f token events per ok stream, %llu events, %.1f/s\n",
		        st->streams ? (double)st->tokens / (double)st->streams : 0,
		        (unsigned long long)st->tokens, per_s(rt.tokens, rt.secs));
	if (st->usage_reqs)
		fprintf(out, "usage      %.1f completion tokens per ok response that reported usage "
		             "(%llu of them), %.1f tokens/s\n",
		        (double)st->usage_tokens / (double)st->usage_reqs,
		        (unsigned long long)st->usage_reqs, per_s(rt.usage, rt.secs));
	fprintf(out, "connections %llu opened, %llu failed to connect, %llu closed by the server, "
	             "%llu closed on errors, peak %llu open",
	        (unsigned long long)st->conn_opened, (unsigned long long)st->conn_failed,
	        (unsigned long long)st->conn_closed_peer, (unsigned long long)st->conn_closed_err,
	        (unsigned long long)st->conn_peak);
	if (o->open_loop)
		fprintf(out, ", queue peak %llu", (unsigned long long)st->queue_peak);
	if (st->conn_failed && st->first_err[LOAD_E_CONNECT][0] && !st->err[LOAD_E_CONNECT])
		fprintf(out, " (%s)", st->first_err[LOAD_E_CONNECT]);
	fprintf(out, "\n");
	double cpu = st->cpu_user_s + st->cpu_sys_s;
	double pct = st->wall_s > 0 ? 100.0 * cpu / st->wall_s : 0;
	fprintf(out, "generator  cpu %.2f s user + %.2f s sys over %.2f s = %.0f%% of one core, max "
	             "RSS %.1f MB%s\n",
	        st->cpu_user_s, st->cpu_sys_s, st->wall_s, pct, (double)st->max_rss_kb / 1024.0,
	        pct > 90 && st->wall_s > 1 ? "  (near 100%: sluice-load itself may be the limit)"
	                                   : "");
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static cJSON *hist_json(const struct load_hist *h)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "count", (double)h->count);
	cJSON_AddNumberToObject(j, "min", h->count ? us(h->min) : 0);
	cJSON_AddNumberToObject(j, "mean", load_hist_mean(h) / 1e3);
	cJSON_AddNumberToObject(j, "stddev", load_hist_stddev(h) / 1e3);
	static const struct {
		const char *name;
		double p;
	} ps[] = {{"p50", 50},   {"p75", 75},      {"p90", 90},        {"p95", 95},
	          {"p99", 99},   {"p99_9", 99.9},  {"p99_99", 99.99}};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
		cJSON_AddNumberToObject(j, ps[i].name, us(load_hist_pct(h, ps[i].p)));
	cJSON_AddNumberToObject(j, "max", us(h->max));
	/* non-empty buckets: [low, high) in microseconds, and how many values fell in */
	cJSON *b = cJSON_AddArrayToObject(j, "buckets");
	for (size_t i = 0; b && i < LOAD_HIST_BUCKETS; i++) {
		if (!h->b[i])
			continue;
		uint64_t lo, hi;
		load_hist_bounds(i, &lo, &hi);
		cJSON *row = cJSON_CreateArray();
		cJSON_AddItemToArray(row, cJSON_CreateNumber(us(lo)));
		cJSON_AddItemToArray(row, cJSON_CreateNumber(us(hi)));
		cJSON_AddItemToArray(row, cJSON_CreateNumber((double)h->b[i]));
		cJSON_AddItemToArray(b, row);
	}
	return j;
}

static cJSON *build_json(const struct load_ctx *ctx)
{
	const struct load_opts *o = ctx->o;
	const struct load_stats *st = &ctx->st;
	struct rates rt = rates_of(ctx);
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "tool", "sluice-load");
	cJSON_AddStringToObject(j, "version", LOAD_VERSION);

	cJSON *c = cJSON_AddObjectToObject(j, "config");
	cJSON_AddStringToObject(c, "url", o->url);
	cJSON_AddStringToObject(c, "method", o->method);
	cJSON_AddStringToObject(c, "mode", o->open_loop ? "open" : "closed");
	cJSON_AddNumberToObject(c, "rate", o->rate);
	cJSON_AddNumberToObject(c, "connections", (double)o->connections);
	cJSON_AddNumberToObject(c, "max_connections", (double)o->max_connections);
	cJSON_AddNumberToObject(c, "duration_s", o->duration_s);
	cJSON_AddNumberToObject(c, "requests", (double)o->requests);
	cJSON_AddNumberToObject(c, "warmup_s", o->warmup_s);
	cJSON_AddNumberToObject(c, "timeout_s", o->timeout_s);
	cJSON_AddBoolToObject(c, "stream", o->stream);
	cJSON_AddBoolToObject(c, "unique", o->unique);
	if (ctx->tmpl.unique)
		cJSON_AddStringToObject(c, "unique_field", ctx->tmpl.unique_where);
	cJSON_AddNumberToObject(c, "body_bytes",
	                        ctx->tmpl.has_body ? (double)(ctx->tmpl.pre_len + ctx->tmpl.post_len)
	                                           : 0);

	cJSON_AddBoolToObject(j, "aborted", ctx->aborted);
	cJSON_AddNumberToObject(j, "elapsed_s", st->wall_s);
	cJSON_AddNumberToObject(j, "window_s", rt.secs);
	cJSON_AddBoolToObject(j, "stopped_by_signal", ctx->signalled);
	cJSON_AddStringToObject(j, "window", st->by_duration
	                                         ? "duration: rates count requests that ended in it"
	                                         : "measure start to last response");
	cJSON *r = cJSON_AddObjectToObject(j, "requests");
	cJSON_AddNumberToObject(r, "completed", (double)st->completed);
	cJSON_AddNumberToObject(r, "ok", (double)st->ok);
	cJSON_AddNumberToObject(r, "errors", (double)error_total(st));
	cJSON_AddNumberToObject(r, "unfinished", (double)st->unfinished);
	cJSON_AddNumberToObject(r, "warmup", (double)st->warmup_completed);
	cJSON_AddNumberToObject(r, "in_window", (double)rt.n);
	cJSON_AddNumberToObject(r, "rps", per_s(rt.n, rt.secs));
	cJSON_AddNumberToObject(r, "ok_rps", per_s(rt.ok, rt.secs));

	cJSON *e = cJSON_AddObjectToObject(j, "errors");
	cJSON *fe = cJSON_AddObjectToObject(j, "first_errors");
	for (int i = 0; i < LOAD_E_COUNT; i++) {
		cJSON_AddNumberToObject(e, load_err_names[i], (double)st->err[i]);
		if (st->first_err[i][0])
			cJSON_AddStringToObject(fe, load_err_names[i], st->first_err[i]);
	}
	cJSON *s = cJSON_AddObjectToObject(j, "status");
	for (int i = 0; i < 600; i++) {
		if (!st->status[i])
			continue;
		char k[8];
		snprintf(k, sizeof k, "%d", i);
		cJSON_AddNumberToObject(s, k, (double)st->status[i]);
	}

	cJSON_AddItemToObject(j, "latency_us", hist_json(&st->lat));
	cJSON_AddItemToObject(j, "service_us", hist_json(&st->service));
	cJSON_AddItemToObject(j, "send_lag_us", hist_json(&st->lag));
	if (o->stream) {
		cJSON_AddItemToObject(j, "ttft_us", hist_json(&st->ttft));
		cJSON_AddItemToObject(j, "itl_us", hist_json(&st->itl));
	}
	cJSON *t = cJSON_AddObjectToObject(j, "tokens");
	cJSON_AddNumberToObject(t, "streams", (double)st->streams);
	cJSON_AddNumberToObject(t, "events", (double)st->tokens);
	cJSON_AddNumberToObject(t, "events_per_stream",
	                        st->streams ? (double)st->tokens / (double)st->streams : 0);
	cJSON_AddNumberToObject(t, "events_per_s", per_s(rt.tokens, rt.secs));
	cJSON_AddNumberToObject(t, "usage_responses", (double)st->usage_reqs);
	cJSON_AddNumberToObject(t, "usage_completion_tokens", (double)st->usage_tokens);
	cJSON_AddNumberToObject(t, "usage_tokens_per_s", per_s(rt.usage, rt.secs));

	cJSON *k = cJSON_AddObjectToObject(j, "connections");
	cJSON_AddNumberToObject(k, "opened", (double)st->conn_opened);
	cJSON_AddNumberToObject(k, "connect_failed", (double)st->conn_failed);
	cJSON_AddNumberToObject(k, "closed_by_server", (double)st->conn_closed_peer);
	cJSON_AddNumberToObject(k, "closed_on_error", (double)st->conn_closed_err);
	cJSON_AddNumberToObject(k, "peak_open", (double)st->conn_peak);
	cJSON_AddNumberToObject(k, "queue_peak", (double)st->queue_peak);

	cJSON *g = cJSON_AddObjectToObject(j, "generator");
	double cpu = st->cpu_user_s + st->cpu_sys_s;
	cJSON_AddNumberToObject(g, "cpu_user_s", st->cpu_user_s);
	cJSON_AddNumberToObject(g, "cpu_sys_s", st->cpu_sys_s);
	cJSON_AddNumberToObject(g, "cpu_pct_of_core", st->wall_s > 0 ? 100 * cpu / st->wall_s : 0);
	cJSON_AddNumberToObject(g, "max_rss_kb", (double)st->max_rss_kb);
	cJSON_AddNumberToObject(g, "bytes_sent", (double)st->bytes_sent);
	cJSON_AddNumberToObject(g, "bytes_received", (double)st->bytes_received);
	return j;
}

int load_report_json(const struct load_ctx *ctx, FILE *f, const char *name)
{
	cJSON *j = build_json(ctx);
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!s) {
		fprintf(stderr, "sluice-load: out of memory writing JSON\n");
		return -1;
	}
	int rc = 0;
	if (fputs(s, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0) {
		fprintf(stderr, "sluice-load: cannot write %s\n", name);
		rc = -1;
	}
	free(s);
	return rc;
}
