/* mock.c: main and command line of sluice-mock, the imitation OpenAI/Anthropic provider that
 * sluice's tests and benchmarks run on 127.0.0.1.
 *
 * The idea: parse the flags into one struct mock_config, listen, print exactly one JSON line
 * ({"event":"listening",...}) so the caller learns the port, and run one libuv loop until
 * SIGTERM or SIGINT, which close every handle so the process exits 0 with nothing leaked. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"

static const char usage[] =
    "usage: sluice-mock [--host 127.0.0.1] [--port N] [--seed N]\n"
    "         [--latency-ms F] [--latency-sigma F] [--ttft-ms F] [--itl-ms F] [--tokens N]\n"
    "         [--p-429 F] [--retry-after S] [--p-500 F] [--p-503 F]\n"
    "         [--p-reset-before F] [--p-reset-during F] [--p-stall F] [--stall-ms N]\n"
    "         [--p-bad-crc F] [--p-stream-exception F]\n"
    "         [--models a,b,c] [--embedding-dim N]\n"
    "         [--answer-mode normal|truncated|refusal|empty|bad_json|bad_tool_args|wrong_math|low_logprob]\n"
    "         [--aws-access-key-id A --aws-secret-access-key S [--aws-session-token T]\n"
    "          [--aws-region R]] [--bedrock-api-key K]\n"
    "         [--gcp-public-key FILE [--gcp-client-email E]] [--gcp-token-ttl SECONDS]\n"
    "         [--gemini-errors]\n";

enum opt_kind { OPT_STR, OPT_INT, OPT_U64, OPT_DBL, OPT_FLAG };

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off; /* into struct mock_config */
	double lo, hi;
};

#define OFF(f) offsetof(struct mock_config, f)

static const struct opt opts[] = {
	{"host", OPT_STR, OFF(host), 0, 0},
	{"port", OPT_INT, OFF(port), 0, 65535},
	{"seed", OPT_U64, OFF(seed), 0, 0},
	{"latency-ms", OPT_DBL, OFF(latency_ms), 0, 1e9},
	{"latency-sigma", OPT_DBL, OFF(latency_sigma), 0, 100},
	{"ttft-ms", OPT_DBL, OFF(ttft_ms), 0, 1e9},
	{"itl-ms", OPT_DBL, OFF(itl_ms), 0, 1e9},
	{"tokens", OPT_INT, OFF(tokens), 0, MOCK_MAX_TOKENS},
	{"p-429", OPT_DBL, OFF(p_429), 0, 1},
	{"retry-after", OPT_DBL, OFF(retry_after), 0, 1e9},
	{"p-500", OPT_DBL, OFF(p_500), 0, 1},
	{"p-503", OPT_DBL, OFF(p_503), 0, 1},
	{"p-reset-before", OPT_DBL, OFF(p_reset_before), 0, 1},
	{"p-reset-during", OPT_DBL, OFF(p_reset_during), 0, 1},
	{"p-stall", OPT_DBL, OFF(p_stall), 0, 1},
	{"p-bad-crc", OPT_DBL, OFF(p_bad_crc), 0, 1},
	{"p-stream-exception", OPT_DBL, OFF(p_stream_exception), 0, 1},
	{"stall-ms", OPT_INT, OFF(stall_ms), 0, 1e9},
	{"models", OPT_STR, OFF(models_buf), 0, 0},
	{"embedding-dim", OPT_INT, OFF(embedding_dim), 1, MOCK_MAX_EMBED_DIM},
	{"answer-mode", OPT_STR, OFF(answer_mode_str), 0, 0},
	{"aws-access-key-id", OPT_STR, OFF(aws_access_key_id), 0, 0},
	{"aws-secret-access-key", OPT_STR, OFF(aws_secret_access_key), 0, 0},
	{"aws-session-token", OPT_STR, OFF(aws_session_token), 0, 0},
	{"aws-region", OPT_STR, OFF(aws_region), 0, 0},
	{"bedrock-api-key", OPT_STR, OFF(bedrock_api_key), 0, 0},
	{"gcp-public-key", OPT_STR, OFF(gcp_public_key), 0, 0},
	{"gcp-client-email", OPT_STR, OFF(gcp_client_email), 0, 0},
	{"gcp-token-ttl", OPT_INT, OFF(gcp_token_ttl), 0, 86400 * 365},
	{"gemini-errors", OPT_FLAG, OFF(gemini_errors), 0, 0},
};

static int set_opt(struct mock_config *cfg, const struct opt *o, const char *val)
{
	char *base = (char *)cfg + o->off;
	char *end = NULL;
	errno = 0;
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)(void *)base = true;
		return 0;
	case OPT_STR:
		if (strcmp(o->name, "models") == 0) {
			free(cfg->models_buf);
			cfg->models_buf = strdup(val);
			if (!cfg->models_buf) {
				fprintf(stderr, "sluice-mock: out of memory\n");
				return -1;
			}
		} else {
			*(const char **)(void *)base = val;
		}
		return 0;
	case OPT_U64: {
		unsigned long long v = strtoull(val, &end, 0);
		if (errno || end == val || *end || val[0] == '-')
			break;
		*(uint64_t *)(void *)base = v;
		return 0;
	}
	case OPT_INT: {
		double v = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(v) || v != floor(v) || v < o->lo ||
		    v > o->hi)
			break;
		if (o->off == OFF(port))
			cfg->port = (int)v;
		else
			*(long *)(void *)base = (long)v;
		return 0;
	}
	case OPT_DBL: {
		double v = strtod(val, &end);
		if (errno || end == val || *end || !isfinite(v) || v < o->lo || v > o->hi)
			break;
		*(double *)(void *)base = v;
		return 0;
	}
	}
	if (o->kind == OPT_U64)
		fprintf(stderr, "sluice-mock: --%s wants an unsigned integer, got '%s'\n", o->name, val);
	else
		fprintf(stderr, "sluice-mock: --%s wants %s between %g and %g, got '%s'\n", o->name,
		        o->kind == OPT_INT ? "an integer" : "a number", o->lo, o->hi, val);
	return -1;
}

/* Split --models in place; empty names are skipped. */
static int split_models(struct mock_config *cfg)
{
	size_t n = 1;
	for (const char *p = cfg->models_buf; *p; p++)
		n += *p == ',';
	cfg->models = calloc(n, sizeof *cfg->models);
	if (!cfg->models) {
		fprintf(stderr, "sluice-mock: out of memory\n");
		return -1;
	}
	cfg->n_models = 0;
	char *save = NULL;
	for (char *tok = strtok_r(cfg->models_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t l = strlen(tok);
		while (l && tok[l - 1] == ' ')
			tok[--l] = 0;
		if (l)
			cfg->models[cfg->n_models++] = tok;
	}
	if (cfg->n_models == 0) {
		fprintf(stderr, "sluice-mock: --models needs at least one name\n");
		return -1;
	}
	return 0;
}

/* 0: run; 1: exit 0 (help); -1: exit 2 (bad usage). */
static int parse_args(int argc, char **argv, struct mock_config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "sluice-mock: unexpected argument '%s'\n%s", a, usage);
			return -1;
		}
		a += 2;
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *o = NULL;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a, nl) == 0)
				o = &opts[k];
		if (!o) {
			fprintf(stderr, "sluice-mock: unknown option '%s'\n%s", argv[i], usage);
			return -1;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (o->kind == OPT_FLAG && eq) {
			fprintf(stderr, "sluice-mock: --%s takes no value\n", o->name);
			return -1;
		}
		if (!val && o->kind != OPT_FLAG) {
			if (i + 1 >= argc) {
				fprintf(stderr, "sluice-mock: --%s needs a value\n", o->name);
				return -1;
			}
			val = argv[++i];
		}
		if (set_opt(cfg, o, val) < 0)
			return -1;
	}
	if (cfg->answer_mode_str && (cfg->answer_mode = mock_answer_mode_parse(cfg->answer_mode_str)) < 0) {
		fprintf(stderr, "sluice-mock: --answer-mode wants one of %s, got '%s'\n",
		        mock_answer_mode_names(), cfg->answer_mode_str);
		return -1;
	}
	if (!cfg->aws_access_key_id != !cfg->aws_secret_access_key) {
		fprintf(stderr, "sluice-mock: --aws-access-key-id and --aws-secret-access-key go together\n");
		return -1;
	}
	if ((cfg->aws_session_token || cfg->aws_region) && !cfg->aws_access_key_id) {
		fprintf(stderr, "sluice-mock: --aws-session-token and --aws-region need --aws-access-key-id\n");
		return -1;
	}
	if (cfg->gcp_client_email && !cfg->gcp_public_key) {
		fprintf(stderr, "sluice-mock: --gcp-client-email needs --gcp-public-key\n");
		return -1;
	}
	if (!cfg->models_buf && !(cfg->models_buf = strdup("mock-model"))) {
		fprintf(stderr, "sluice-mock: out of memory\n");
		return -1;
	}
	return split_models(cfg);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct mock_ctx *ctx = s->data;
	mock_http_shutdown(ctx);
	uv_close((uv_handle_t *)&ctx->sigterm, NULL);
	uv_close((uv_handle_t *)&ctx->sigint, NULL);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void ctx_free(struct mock_ctx *ctx)
{
	mock_stats_free(ctx);
	mock_cloud_free(ctx);
	mock_wbuf_free_all(ctx);
	mock_buf_free(&ctx->scratch);
	mock_buf_free(&ctx->fscratch);
	free(ctx->read_buf);
	free(ctx->cfg.models);
	free(ctx->cfg.models_buf);
}

/* Close whatever is still open and let the close callbacks run. */
static void loop_finish(struct mock_ctx *ctx)
{
	uv_walk(&ctx->loop, on_walk_close, NULL);
	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&ctx->loop) < 0)
		fprintf(stderr, "sluice-mock: event loop still busy at exit\n");
}

int main(int argc, char **argv)
{
	static struct mock_ctx ctx_storage; /* the one context; big, so not on the stack */
	struct mock_ctx *ctx = &ctx_storage;
	struct mock_config *cfg = &ctx->cfg;
	cfg->host = "127.0.0.1";
	cfg->port = 0;
	cfg->seed = 1;
	cfg->tokens = 16;
	cfg->retry_after = 1;
	cfg->stall_ms = 30000;
	cfg->embedding_dim = 8;
	cfg->gcp_token_ttl = 3600;

	int pr = parse_args(argc, argv, cfg);
	if (pr != 0) {
		free(cfg->models);
		free(cfg->models_buf);
		return pr > 0 ? 0 : 2;
	}

	if (mock_cloud_init(ctx) < 0) {
		ctx_free(ctx);
		return 2;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) { /* writes to a closed peer must not kill us */
		fprintf(stderr, "sluice-mock: cannot ignore SIGPIPE\n");
		ctx_free(ctx);
		return 1;
	}
	ctx->rng = cfg->seed;
	(void)mock_rand_next(&ctx->rng); /* seed 0 and 1 start far apart */
	ctx->started = (int64_t)time(NULL);
	ctx->read_buf = malloc(MOCK_READ_BUF);
	if (!ctx->read_buf) {
		fprintf(stderr, "sluice-mock: out of memory\n");
		ctx_free(ctx);
		return 1;
	}
	int r = uv_loop_init(&ctx->loop);
	if (r < 0) {
		fprintf(stderr, "sluice-mock: uv_loop_init: %s\n", uv_strerror(r));
		ctx_free(ctx);
		return 1;
	}
	if (mock_http_listen(ctx) < 0) {
		loop_finish(ctx);
		ctx_free(ctx);
		return 1;
	}
	if ((r = uv_signal_init(&ctx->loop, &ctx->sigterm)) < 0 ||
	    (r = uv_signal_init(&ctx->loop, &ctx->sigint)) < 0) {
		fprintf(stderr, "sluice-mock: uv_signal_init: %s\n", uv_strerror(r));
		loop_finish(ctx);
		ctx_free(ctx);
		return 1;
	}
	ctx->sigterm.data = ctx;
	ctx->sigint.data = ctx;
	if ((r = uv_signal_start(&ctx->sigterm, on_signal, SIGTERM)) < 0 ||
	    (r = uv_signal_start(&ctx->sigint, on_signal, SIGINT)) < 0) {
		fprintf(stderr, "sluice-mock: uv_signal_start: %s\n", uv_strerror(r));
		loop_finish(ctx);
		ctx_free(ctx);
		return 1;
	}

	struct mock_buf line = {0};
	MOCK_PUTS(&line, "{\"event\":\"listening\",\"host\":");
	mock_buf_put_json_str(&line, cfg->host, strlen(cfg->host));
	mock_buf_putf(&line, ",\"port\":%d}\n", ctx->port);
	if (line.oom || fwrite(line.p, 1, line.len, stdout) != line.len || fflush(stdout) != 0) {
		fprintf(stderr, "sluice-mock: cannot write to stdout\n");
		mock_buf_free(&line);
		mock_http_shutdown(ctx);
		loop_finish(ctx);
		ctx_free(ctx);
		return 1;
	}
	mock_buf_free(&line);

	uv_run(&ctx->loop, UV_RUN_DEFAULT);
	loop_finish(ctx);
	ctx_free(ctx);
	return 0;
}
