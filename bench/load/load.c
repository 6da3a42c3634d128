/* load.c: main of sluice-load, the load generator for sluice and any OpenAI-compatible HTTP/1.1
 * endpoint: parse the command line, build the request bytes, run, report.
 *
 * The idea: everything that can be wrong with the command line is reported before a socket is
 * opened; the run itself always ends (by --duration, --requests, --timeout or a signal) and
 * always reports. Exit status: 0 when the run finished and at least one request succeeded,
 * 1 when it could not run, 2 for a usage error, 3 when it ran but no request succeeded. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

int main(int argc, char **argv)
{
	static struct load_ctx ctx_storage; /* big (histograms): not on the stack */
	struct load_ctx *ctx = &ctx_storage;
	struct load_opts o;
	int pr = load_opts_parse(&o, argc, argv);
	if (pr != 0) {
		load_opts_free(&o);
		return pr > 0 ? 0 : 2;
	}
	char err[256];
	if (load_tmpl_build(&ctx->tmpl, &o, err, sizeof err) < 0) {
		fprintf(stderr, "sluice-load: %s\n", err);
		load_tmpl_free(&ctx->tmpl);
		load_opts_free(&o);
		return 2;
	}
	/* open the JSON file now: a typo in its path should not cost a whole run */
	bool json_stdout = o.json_path && strcmp(o.json_path, "-") == 0;
	FILE *jf = json_stdout ? stdout : o.json_path ? fopen(o.json_path, "w") : NULL;
	if (o.json_path && !jf) {
		fprintf(stderr, "sluice-load: --json %s: %s\n", o.json_path, strerror(errno));
		load_tmpl_free(&ctx->tmpl);
		load_opts_free(&o);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctx->o = &o;
	int rc = load_run(ctx);
	if (rc == 0) {
		load_report_human(ctx, json_stdout ? stderr : stdout);
		fflush(stdout);
		if (jf && load_report_json(ctx, jf, json_stdout ? "stdout" : o.json_path) < 0)
			rc = 1;
		else if (ctx->st.ok == 0)
			rc = 3;
	} else {
		rc = 1;
	}
	if (jf && !json_stdout && fclose(jf) != 0 && rc != 1) {
		fprintf(stderr, "sluice-load: cannot write %s\n", o.json_path);
		rc = 1;
	}
	load_tmpl_free(&ctx->tmpl);
	load_opts_free(&o);
	return rc;
}
