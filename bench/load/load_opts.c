/* load_opts.c: the command line of sluice-load and the target URL.
 *
 * The idea: a flat table of options, each with its kind, filled into struct load_opts; every
 * mistake is reported with the option's name and exit status 2, before anything is opened.
 * Durations take a unit (500ms, 10s, 2m; a bare number is seconds). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load.h"

static const char usage[] =
    "usage: sluice-load --url http://HOST:PORT/PATH (--duration T | --requests N) [options]\n"
    "\n"
    "target (plain HTTP/1.1 only: no https; put a TLS-terminating proxy in front if needed)\n"
    "  --url URL              e.g. http://127.0.0.1:4000/v1/chat/completions\n"
    "  --method M             default POST\n"
    "  --header 'K: V'        add a request header (repeatable), e.g. 'Authorization: Bearer sk-1'\n"
    "  --body FILE            request body from a file (sent as is unless --model, --stream or\n"
    "                         --unique must change it)\n"
    "  --body-json STRING     request body given inline\n"
    "  --model NAME           the \"model\" of the default body (default mock-model); with --body\n"
    "                         or --body-json, replaces the body's \"model\"\n"
    "  --stream               set \"stream\": true and read the response as server-sent events:\n"
    "                         time to first token, inter-token gaps, tokens per request\n"
    "  --unique               make every request body different (a token in the first message's\n"
    "                         content, or in prompt/input), so caches miss; default: identical\n"
    "load (closed loop unless --rate is given)\n"
    "  --connections N        closed loop: N connections, each sends its next request when the\n"
    "                         previous ended (default 1); open loop: connections opened up front\n"
    "                         (default 16)\n"
    "  --rate R               open loop: R requests/s on a fixed schedule, whether or not earlier\n"
    "                         ones returned; latency counts from the scheduled time\n"
    "  --max-connections N    open loop: open more connections on demand up to N (default 1024)\n"
    "bounds (at least one of --duration and --requests; the run stops at whichever comes first)\n"
    "  --duration T           schedule requests for T after the warmup (e.g. 30s, 500ms, 2m)\n"
    "  --requests N           send N measured requests (after the warmup)\n"
    "  --warmup T             run T first and leave it out of every number (default 0)\n"
    "  --timeout T            a request still unanswered T after its scheduled time fails as a\n"
    "                         timeout (default 60s)\n"
    "output\n"
    "  --json FILE            also write the results as JSON ('-': JSON on stdout, the table on\n"
    "                         stderr)\n"
    "  --quiet                no progress lines on stderr\n"
    "  --help, --version\n";

enum kind { K_STR, K_HDR, K_FLAG, K_COUNT, K_RATE, K_TIME };

struct opt {
	const char *name;
	enum kind kind;
	size_t off;
};

#define OFF(f) offsetof(struct load_opts, f)

static const struct opt opts[] = {
	{"url", K_STR, OFF(url)},
	{"method", K_STR, OFF(method)},
	{"header", K_HDR, 0},
	{"body", K_STR, OFF(body_file)},
	{"body-json", K_STR, OFF(body_json)},
	{"model", K_STR, OFF(model)},
	{"stream", K_FLAG, OFF(stream)},
	{"unique", K_FLAG, OFF(unique)},
	{"quiet", K_FLAG, OFF(quiet)},
	{"connections", K_COUNT, OFF(connections)},
	{"max-connections", K_COUNT, OFF(max_connections)},
	{"rate", K_RATE, OFF(rate)},
	{"duration", K_TIME, OFF(duration_s)},
	{"requests", K_COUNT, OFF(requests)},
	{"warmup", K_TIME, OFF(warmup_s)},
	{"timeout", K_TIME, OFF(timeout_s)},
	{"json", K_STR, OFF(json_path)},
};

/* "1.5", "1.5s", "250ms", "2m", "1h", "100us" -> seconds; -1 if malformed. */
static double parse_time(const char *s)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	double mul = 1;
	if (*end == 0 || strcmp(end, "s") == 0)
		mul = 1;
	else if (strcmp(end, "ms") == 0)
		mul = 1e-3;
	else if (strcmp(end, "us") == 0)
		mul = 1e-6;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else
		return -1;
	v *= mul;
	return v <= 1e7 ? v : -1; /* at most ~115 days */
}

static int set_opt(struct load_opts *o, const struct opt *d, const char *val, bool *seen_conns)
{
	char *base = (char *)o + d->off;
	char *end = NULL;
	errno = 0;
	switch (d->kind) {
	case K_STR:
		*(const char **)(void *)base = val;
		if (d->off == OFF(model))
			o->model_set = true;
		return 0;
	case K_HDR: {
		const char *colon = strchr(val, ':');
		if (!colon || colon == val || strpbrk(val, "\r\n")) {
			fprintf(stderr, "sluice-load: --header wants 'Name: value', got '%s'\n", val);
			return -1;
		}
		for (const char *p = val; p < colon; p++) {
			if (!isgraph((unsigned char)*p)) {
				fprintf(stderr, "sluice-load: --header name '%.*s' is not a token\n",
				        (int)(colon - val), val);
				return -1;
			}
		}
		if ((size_t)(colon - val) == 14 && strncasecmp(val, "content-length", 14) == 0) {
			fprintf(stderr, "sluice-load: Content-Length is computed; do not pass it\n");
			return -1;
		}
		const char **h = realloc(o->headers, (o->n_headers + 1) * sizeof *h);
		if (!h) {
			fprintf(stderr, "sluice-load: out of memory\n");
			return -1;
		}
		o->headers = h;
		o->headers[o->n_headers++] = val;
		return 0;
	}
	case K_FLAG:
		*(bool *)(void *)base = true;
		return 0;
	case K_COUNT: {
		unsigned long long v = strtoull(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-' || v == 0)
			break;
		if (d->off == OFF(requests)) {
			o->requests = v;
			return 0;
		}
		if (v > 1000000)
			break;
		*(long *)(void *)base = (long)v;
		if (d->off == OFF(connections))
			*seen_conns = true;
		return 0;
	}
	case K_RATE: {
		double v = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(v) || v <= 0 || v > 1e7)
			break;
		o->rate = v;
		o->open_loop = true;
		return 0;
	}
	case K_TIME: {
		double v = parse_time(val);
		if (v < 0)
			break;
		*(double *)(void *)base = v;
		return 0;
	}
	}
	if (d->kind == K_TIME)
		fprintf(stderr, "sluice-load: --%s wants a duration (e.g. 10, 10s, 500ms, 2m), got '%s'\n",
		        d->name, val);
	else if (d->kind == K_RATE)
		fprintf(stderr, "sluice-load: --rate wants requests/s above 0, got '%s'\n", val);
	else
		fprintf(stderr, "sluice-load: --%s wants a positive integer, got '%s'\n", d->name, val);
	return -1;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* http://host[:port][/path][?query] */
static int parse_url(struct load_opts *o)
{
	const char *u = o->url;
	if (strncasecmp(u, "https://", 8) == 0) {
		fprintf(stderr, "sluice-load: https is not supported; sluice-load speaks plain HTTP/1.1 "
		                "(point it at sluice, or at a local TLS-terminating proxy)\n");
		return -1;
	}
	if (strncasecmp(u, "http://", 7) != 0) {
		fprintf(stderr, "sluice-load: --url must start with http://, got '%s'\n", u);
		return -1;
	}
	const char *a = u + 7;
	const char *a_end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(a_end - a))) {
		fprintf(stderr, "sluice-load: user:password@ in --url is not supported; use --header "
		                "'Authorization: ...'\n");
		return -1;
	}
	const char *h = a, *h_end, *port = NULL;
	if (*a == '[') {
		h = a + 1;
		h_end = memchr(h, ']', (size_t)(a_end - h));
		if (!h_end) {
			fprintf(stderr, "sluice-load: bad IPv6 address in --url '%s'\n", u);
			return -1;
		}
		if (h_end + 1 < a_end) {
			if (h_end[1] != ':') {
				fprintf(stderr, "sluice-load: bad --url '%s'\n", u);
				return -1;
			}
			port = h_end + 2;
		}
	} else {
		h_end = memchr(a, ':', (size_t)(a_end - a));
		if (h_end)
			port = h_end + 1;
		else
			h_end = a_end;
	}
	if (h_end == h) {
		fprintf(stderr, "sluice-load: --url '%s' has no host\n", u);
		return -1;
	}
	long pn = 80;
	if (port) {
		char *end = NULL;
		if (port == a_end || !isdigit((unsigned char)*port))
			goto bad_port;
		pn = strtol(port, &end, 10);
		if (end != a_end || pn < 1 || pn > 65535)
			goto bad_port;
	}
	o->host = dupn(h, (size_t)(h_end - h));
	o->host_header = dupn(a, (size_t)(a_end - a));
	char pbuf[16];
	snprintf(pbuf, sizeof pbuf, "%ld", pn);
	o->port = strdup(pbuf);
	const char *path = a_end;
	size_t plen = strcspn(path, "#");
	if (plen == 0 || path[0] == '?') {
		/* no path: "/" (keeping a query, if any) */
		o->path = malloc(plen + 2);
		if (o->path) {
			o->path[0] = '/';
			memcpy(o->path + 1, path, plen);
			o->path[plen + 1] = 0;
		}
	} else {
		o->path = dupn(path, plen);
	}
	if (!o->host || !o->host_header || !o->port || !o->path) {
		fprintf(stderr, "sluice-load: out of memory\n");
		return -1;
	}
	for (const char *p = o->path; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			fprintf(stderr, "sluice-load: --url path has a space or control character\n");
			return -1;
		}
	}
	return 0;
bad_port:
	fprintf(stderr, "sluice-load: bad port in --url '%s'\n", u);
	return -1;
}

int load_opts_parse(struct load_opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof *o);
	o->method = "POST";
	o->model = "mock-model";
	o->timeout_s = 60;
	bool seen_conns = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			puts("sluice-load " LOAD_VERSION);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "sluice-load: unexpected argument '%s'\n%s", a, usage);
			return -1;
		}
		a += 2;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *d = NULL;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a, nl) == 0)
				d = &opts[k];
		if (!d) {
			fprintf(stderr, "sluice-load: unknown option '%s' (see --help)\n", argv[i]);
			return -1;
		}
		const char *val = NULL;
		if (d->kind == K_FLAG) {
			if (eq) {
				fprintf(stderr, "sluice-load: --%s takes no value\n", d->name);
				return -1;
			}
		} else if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc) {
				fprintf(stderr, "sluice-load: --%s needs a value\n", d->name);
				return -1;
			}
			val = argv[++i];
		}
		if (set_opt(o, d, val, &seen_conns) < 0)
			return -1;
	}
	if (!o->url) {
		fprintf(stderr, "sluice-load: --url is required\n%s", usage);
		return -1;
	}
	if (o->duration_s <= 0 && o->requests == 0) {
		fprintf(stderr, "sluice-load: give --duration or --requests (or both)\n");
		return -1;
	}
	if (o->body_file && o->body_json) {
		fprintf(stderr, "sluice-load: --body and --body-json exclude each other\n");
		return -1;
	}
	if (o->timeout_s <= 0) {
		fprintf(stderr, "sluice-load: --timeout must be above 0\n");
		return -1;
	}
	if (!*o->method || strpbrk(o->method, " \t\r\n")) {
		fprintf(stderr, "sluice-load: bad --method '%s'\n", o->method);
		return -1;
	}
	if (!o->open_loop) {
		if (o->max_connections) {
			fprintf(stderr, "sluice-load: --max-connections is for open loop (--rate)\n");
			return -1;
		}
		if (!seen_conns)
			o->connections = 1;
		o->max_connections = o->connections;
	} else {
		if (!seen_conns)
			o->connections = 16;
		if (!o->max_connections)
			o->max_connections = o->connections > 1024 ? o->connections : 1024;
		if (o->max_connections < o->connections) {
			fprintf(stderr, "sluice-load: --max-connections (%ld) is below --connections (%ld)\n",
			        o->max_connections, o->connections);
			return -1;
		}
	}
	return parse_url(o);
}

void load_opts_free(struct load_opts *o)
{
	free(o->headers);
	free(o->host);
	free(o->port);
	free(o->path);
	free(o->host_header);
}
