/* mock_vertex.c: Google Vertex AI in sluice-mock: the OAuth token exchange (POST /token, a
 * JWT-bearer grant signed RS256 by a service account), the Bearer check of the model routes,
 * Claude on Vertex (:rawPredict / :streamRawPredict, an Anthropic body with anthropic_version
 * "vertex-2023-10-16") and Gemini through the OpenAI-compatible endpoint.
 *
 * The idea: the exchange verifies the assertion as Google does (RS256 signature with the
 * service account's public key, --gcp-public-key; iss, aud = this server's /token URL, iat
 * within 5 minutes, exp after now and at most an hour after iat, a cloud-platform scope) and
 * answers with "ya29.mock-<n>", n counting the tokens issued; token n's expiry is kept at
 * [n - 1] of one array, so a Bearer check is a number parse and a comparison. Without
 * --gcp-public-key every assertion is accepted and Bearer tokens are not checked. The model
 * routes reuse the Anthropic and OpenAI builders. To add a claim check, add it to check_claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/base64.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "mock.h"
#include "net/base/buf.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mock_cloud_init(struct mock_ctx *ctx)
{
	const char *file = ctx->cfg.gcp_public_key;
	if (!file)
		return 0;
	mbedtls_pk_context *pk = calloc(1, sizeof *pk);
	if (!pk) {
		fprintf(stderr, "sluice-mock: out of memory\n");
		return -1;
	}
	mbedtls_pk_init(pk);
	int rc = mbedtls_pk_parse_public_keyfile(pk, file);
	if (rc != 0 || !mbedtls_pk_can_do(pk, MBEDTLS_PK_RSA)) {
		fprintf(stderr, "sluice-mock: --gcp-public-key %s: %s\n", file,
		        rc ? "not a PEM public key (mbedtls_pk_parse_public_keyfile failed)"
		           : "not an RSA key");
		mbedtls_pk_free(pk);
		free(pk);
		return -1;
	}
	ctx->gcp_pk = pk;
	return 0;
}

void mock_cloud_free(struct mock_ctx *ctx)
{
	if (ctx->gcp_pk) {
		mbedtls_pk_free(ctx->gcp_pk);
		free(ctx->gcp_pk);
		ctx->gcp_pk = NULL;
	}
	free(ctx->gcp_tokens);
	ctx->gcp_tokens = NULL;
	ctx->n_gcp_tokens = ctx->cap_gcp_tokens = 0;
	mock_bedrock_free();
}

/* ---- POST /token ----------------------------------------------------------------------------- */

static void token_error(struct mock_conn *c, const char *error, const char *desc)
{
	c->ctx->stats.auth_failures++;
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w) {
		MOCK_PUTS(&w->b, "{\"error\":");
		mock_buf_put_json_str(&w->b, error, strlen(error));
		MOCK_PUTS(&w->b, ",\"error_description\":");
		mock_buf_put_json_str(&w->b, desc, strlen(desc));
		MOCK_PUTS(&w->b, "}");
	}
	mock_whole_end(c, w, 400, "application/json; charset=utf-8", NULL);
}

/* The decoded value of form field name (malloc'd), or NULL. */
static char *form_field(const char *body, size_t n, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + n;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vn = (size_t)(e - p - (ptrdiff_t)nl - 1);
			char *out = malloc(vn + 1);
			if (out && sl_pct_decode(p + nl + 1, vn, true, out, vn + 1) < 0) {
				free(out);
				return NULL;
			}
			return out;
		}
		p = amp ? amp + 1 : end;
	}
	return NULL;
}

/* base64url (no padding) -> bytes (malloc'd), or NULL. */
static unsigned char *b64url(const char *s, size_t n, size_t *out_len)
{
	char *t = malloc(n + 4);
	unsigned char *out = malloc(n + 4);
	if (!t || !out) {
		free(t);
		free(out);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '+' || ch == '/' || ch == '=') { /* not base64url */
			free(t);
			free(out);
			return NULL;
		}
		t[k++] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	while (k % 4)
		t[k++] = '=';
	size_t ol = 0;
	int rc = mbedtls_base64_decode(out, n + 4, &ol, (const unsigned char *)t, k);
	free(t);
	if (rc != 0) {
		free(out);
		return NULL;
	}
	*out_len = ol;
	return out;
}

static cJSON *b64url_json(const char *s, size_t n)
{
	size_t l = 0;
	unsigned char *p = b64url(s, n, &l);
	if (!p)
		return NULL;
	cJSON *j = cJSON_ParseWithLength((const char *)p, l);
	free(p);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* The claims: NULL when good, else the error_description (error in *error). */
static const char *check_claims(struct mock_conn *c, const cJSON *cl, const char **error)
{
	const struct mock_config *cfg = &c->ctx->cfg;
	*error = "invalid_grant";
	const cJSON *iss = cJSON_GetObjectItemCaseSensitive(cl, "iss");
	if (!cJSON_IsString(iss) || (cfg->gcp_client_email && strcmp(iss->valuestring,
	                                                             cfg->gcp_client_email) != 0))
		return "Invalid grant: account not found";
	size_t hl = 0;
	const char *host = mock_conn_header(c, "host", &hl);
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(cl, "aud");
	static char want[512];
	snprintf(want, sizeof want, "http://%.*s/token", (int)(hl < 400 ? hl : 400),
	         host ? host : "");
	if (!cJSON_IsString(aud) || strcmp(aud->valuestring, want) != 0) {
		static char msg[700];
		snprintf(msg, sizeof msg, "Invalid JWT: Failed audience check. The right audience is %s",
		         want);
		return msg;
	}
	const cJSON *iat = cJSON_GetObjectItemCaseSensitive(cl, "iat");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cl, "exp");
	double now = (double)time(NULL);
	if (!cJSON_IsNumber(iat) || !cJSON_IsNumber(exp) || !(exp->valuedouble > now) ||
	    iat->valuedouble > now + 300 || iat->valuedouble < now - 300 ||
	    exp->valuedouble - iat->valuedouble > 3600)
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
		       "timeframe. Check your iat and exp values in the JWT claim.";
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(cl, "scope");
	if (!cJSON_IsString(scope) || !strstr(scope->valuestring, "cloud-platform")) {
		*error = "invalid_scope";
		return "Invalid OAuth scope or ID token audience provided.";
	}
	return NULL;
}

/* NULL when the assertion is good, else the error_description (error in *error). */
static const char *check_assertion(struct mock_conn *c, const char *jwt, const char **error)
{
	*error = "invalid_grant";
	const char *d1 = strchr(jwt, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return "Invalid JWT: the assertion must have three dot-separated parts.";
	cJSON *hdr = b64url_json(jwt, (size_t)(d1 - jwt));
	cJSON *cl = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
	const char *bad = NULL;
	if (!hdr || !cl) {
		bad = "Invalid JWT: the header and claims must be base64url JSON objects.";
	} else {
		const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
		if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
			bad = "Invalid JWT: alg must be RS256.";
	}
	if (!bad && c->ctx->gcp_pk) {
		size_t sl = 0;
		unsigned char *sig = b64url(d2 + 1, strlen(d2 + 1), &sl);
		unsigned char hash[32];
		if (!sig || mbedtls_sha256_ret((const unsigned char *)jwt, (size_t)(d2 - jwt), hash, 0) ||
		    mbedtls_pk_verify(c->ctx->gcp_pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sl))
			bad = "Invalid JWT Signature.";
		free(sig);
	}
	if (!bad && c->ctx->gcp_pk)
		bad = check_claims(c, cl, error);
	cJSON_Delete(hdr);
	cJSON_Delete(cl);
	return bad;
}

void mock_gcp_token(struct mock_conn *c)
{
	struct mock_ctx *ctx = c->ctx;
	const char *body = c->body.p ? c->body.p : "";
	char *grant = form_field(body, c->body.len, "grant_type");
	char *jwt = form_field(body, c->body.len, "assertion");
	const char *error = "invalid_request", *desc = NULL;
	char msg[300];
	if (!grant) {
		desc = "Missing required parameter: grant_type";
	} else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0) {
		error = "unsupported_grant_type";
		snprintf(msg, sizeof msg, "Invalid grant_type: %.200s", grant);
		desc = msg;
	} else if (!jwt) {
		desc = "Missing required parameter: assertion";
	} else {
		desc = check_assertion(c, jwt, &error);
	}
	free(grant);
	free(jwt);
	if (desc) {
		token_error(c, error, desc);
		return;
	}
	if (ctx->n_gcp_tokens == ctx->cap_gcp_tokens) {
		size_t cap = ctx->cap_gcp_tokens ? ctx->cap_gcp_tokens * 2 : 64;
		int64_t *t = realloc(ctx->gcp_tokens, cap * sizeof *t);
		if (!t) {
			mock_reply_status(c, 500, "out of memory", NULL);
			return;
		}
		ctx->gcp_tokens = t;
		ctx->cap_gcp_tokens = cap;
	}
	long ttl = ctx->cfg.gcp_token_ttl;
	ctx->gcp_tokens[ctx->n_gcp_tokens++] = now_ms() + (int64_t)ttl * 1000;
	ctx->stats.token_exchanges++;
	struct mock_wbuf *w = mock_whole_begin(c);
	if (w)
		mock_buf_putf(&w->b,
		              "{\"access_token\":\"ya29.mock-%zu\",\"expires_in\":%ld,\"token_type\":\"Bearer\"}",
		              ctx->n_gcp_tokens, ttl);
	mock_whole_end(c, w, 200, "application/json; charset=utf-8", NULL);
}

/* ---- the model routes ------------------------------------------------------------------------ */

bool mock_vertex_check(struct mock_conn *c)
{
	struct mock_ctx *ctx = c->ctx;
	if (!ctx->gcp_pk)
		return true;
	size_t an = 0;
	const char *a = mock_conn_header(c, "authorization", &an);
	static const char pre[] = "Bearer ya29.mock-";
	size_t pl = sizeof pre - 1;
	if (a && an > pl && an - pl < 20 && strncasecmp(a, pre, 7) == 0 &&
	    memcmp(a + 7, pre + 7, pl - 7) == 0) {
		uint64_t n = 0;
		size_t i = pl;
		for (; i < an && a[i] >= '0' && a[i] <= '9'; i++)
			n = n * 10 + (uint64_t)(a[i] - '0');
		if (i == an && n >= 1 && n <= ctx->n_gcp_tokens && now_ms() < ctx->gcp_tokens[n - 1])
			return true;
	}
	c->resp.err_shape = MOCK_E_GOOGLE;
	mock_reply_status(c, 401,
	                  "Request had invalid authentication credentials. Expected OAuth 2 access "
	                  "token, login cookie or other valid authentication credential. See "
	                  "https://developers.google.com/identity/sign-in/web/devconsole-project.",
	                  "WWW-Authenticate: Bearer realm=\"https://accounts.google.com/\", "
	                  "error=\"invalid_token\"\r\n");
	return false;
}

void mock_vertex_generate(struct mock_conn *c, cJSON *req)
{
	struct mock_resp *r = &c->resp;
	if (r->cloud == MOCK_C_VERTEX_CHAT) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");
		if (!cJSON_IsString(m) || strncmp(m->valuestring, "google/", 7) != 0 || !m->valuestring[7]) {
			mock_reply_status(c, 400,
			                  "Invalid model: the OpenAI-compatible endpoint wants "
			                  "\"google/<model>\" (e.g. google/gemini-2.0-flash)",
			                  NULL);
			return;
		}
		snprintf(r->path_model, sizeof r->path_model, "%s", m->valuestring);
		mock_stats_note_cloud(c); /* the model this endpoint names in the body */
		mock_openai_chat(c, req);
		return;
	}
	if (!mock_anthropic_cloud_body(c, req, "vertex-2023-10-16", true))
		return;
	mock_anthropic_messages(c, req);
}
