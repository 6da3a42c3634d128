/* mock_aws.c: Bedrock's request authentication in sluice-mock: AWS SigV4 recomputed from the
 * request as received and compared, or a Bedrock API key (Authorization: Bearer).
 *
 * The idea: verify as AWS does, from the wire: the method, the raw path and query, the headers
 * that the Authorization header's SignedHeaders lists with their received values, the SHA-256
 * of the received body and the credential scope; the signature is recomputed with
 * net/wire/sigv4.c (the code sluice signs with, itself tested against AWS's published vectors;
 * the node tests sign with an independent implementation). Every failure answers 403 with
 * Bedrock's body {"message"} and x-amzn-ErrorType as AWS words them. Checks are on only when
 * the mock was started with --aws-access-key-id (SigV4) or --bedrock-api-key (Bearer). To add
 * a check, add it to sigv4_check before the recomputation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock.h"
#include "net/base/buf.h"
#include "net/base/iov.h"
#include "net/wire/http_common.h"
#include "net/wire/sigv4.h"

#define MISMATCH                                                                                  \
	"The request signature we calculated does not match the signature you provided. Check your " \
	"AWS Secret Access Key and signing method. Consult the service documentation for details."
#define BAD_TOKEN "The security token included in the request is invalid."

static bool deny(struct mock_conn *c, const char *type, const char *message)
{
	mock_reply_bedrock(c, 403, type, message);
	return false;
}

/* The value of "name=" in the comma-separated Authorization parameters, or NULL. */
static const char *param(const char *a, size_t an, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *p = a, *end = a + an;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			*len = (size_t)(e - p - (ptrdiff_t)nl - 1);
			while (*len && p[nl + 1 + *len - 1] == ' ')
				(*len)--;
			return p + nl + 1;
		}
		p = e;
	}
	return NULL;
}

/* "YYYYMMDDTHHMMSSZ" -> Unix time, or -1. */
static int64_t parse_amz_date(const char *s, size_t n)
{
	if (n != 16 || s[8] != 'T' || s[15] != 'Z')
		return -1;
	for (size_t i = 0; i < 15; i++)
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return -1;
	struct tm tm = {0};
#define D(i, k) ((s[i] - '0') * (k))
	tm.tm_year = D(0, 1000) + D(1, 100) + D(2, 10) + D(3, 1) - 1900;
	tm.tm_mon = D(4, 10) + D(5, 1) - 1;
	tm.tm_mday = D(6, 10) + D(7, 1);
	tm.tm_hour = D(9, 10) + D(10, 1);
	tm.tm_min = D(11, 10) + D(12, 1);
	tm.tm_sec = D(13, 10) + D(14, 1);
#undef D
	return (int64_t)timegm(&tm);
}

static bool sigv4_check(struct mock_conn *c, const char *auth, size_t an, const char *path,
                        size_t path_len)
{
	const struct mock_config *cfg = &c->ctx->cfg;
	static const char alg[] = "AWS4-HMAC-SHA256 ";
	if (an < sizeof alg - 1 || memcmp(auth, alg, sizeof alg - 1) != 0)
		return deny(c, "IncompleteSignatureException",
		            "Authorization header requires the AWS4-HMAC-SHA256 algorithm.");
	const char *a = auth + sizeof alg - 1;
	an -= sizeof alg - 1;
	size_t cl = 0, hl = 0, sl = 0;
	const char *cred = param(a, an, "Credential", &cl);
	const char *signed_hdrs = param(a, an, "SignedHeaders", &hl);
	const char *sig = param(a, an, "Signature", &sl);
	if (!cred || !signed_hdrs || !sig)
		return deny(c, "IncompleteSignatureException",
		            "Authorization header requires 'Credential', 'SignedHeaders' and "
		            "'Signature' parameters.");
	/* Credential=AKID/YYYYMMDD/region/service/aws4_request */
	char cs[512];
	if (cl >= sizeof cs)
		return deny(c, "IncompleteSignatureException", "Credential is too long.");
	memcpy(cs, cred, cl);
	cs[cl] = 0;
	char *part[5] = {0};
	char *save = NULL;
	int np = 0;
	for (char *t = strtok_r(cs, "/", &save); t && np < 5; t = strtok_r(NULL, "/", &save))
		part[np++] = t;
	if (np != 5 || strtok_r(NULL, "/", &save) || strcmp(part[4], "aws4_request") != 0)
		return deny(c, "IncompleteSignatureException",
		            "Credential must have the form <key>/<date>/<region>/<service>/aws4_request.");
	if (strcmp(part[0], cfg->aws_access_key_id) != 0)
		return deny(c, "UnrecognizedClientException", BAD_TOKEN);
	size_t dl = 0;
	const char *date = mock_conn_header(c, "x-amz-date", &dl);
	if (!date)
		return deny(c, "IncompleteSignatureException",
		            "Authorization header requires existence of either a 'X-Amz-Date' or a "
		            "'Date' header.");
	int64_t t = parse_amz_date(date, dl);
	int64_t now = (int64_t)time(NULL);
	char msg[300];
	if (t < 0)
		return deny(c, "IncompleteSignatureException", "X-Amz-Date must be YYYYMMDDTHHMMSSZ.");
	if (t < now - 900 || t > now + 900) {
		char d[17], lim[17], nw[17];
		sl_sigv4_amz_date(t, d);
		sl_sigv4_amz_date(t < now ? now - 900 : now + 900, lim);
		sl_sigv4_amz_date(now, nw);
		snprintf(msg, sizeof msg,
		         t < now ? "Signature expired: %s is now earlier than %s (%s - 15 min.)"
		                 : "Signature not yet current: %s is still later than %s (%s + 15 min.)",
		         d, lim, nw);
		return deny(c, "InvalidSignatureException", msg);
	}
	if (strlen(part[1]) != 8 || memcmp(part[1], date, 8) != 0) {
		snprintf(msg, sizeof msg,
		         "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
		         "from HTTP: '%s' != '%.8s', from '%.*s'.",
		         part[1], date, (int)dl, date);
		return deny(c, "InvalidSignatureException", msg);
	}
	if (strcmp(part[3], "bedrock") != 0) {
		snprintf(msg, sizeof msg,
		         "Credential should be scoped to correct service: 'bedrock'. (got '%.64s')", part[3]);
		return deny(c, "InvalidSignatureException", msg);
	}
	if (cfg->aws_region && strcmp(part[2], cfg->aws_region) != 0) {
		snprintf(msg, sizeof msg,
		         "Credential should be scoped to a valid region, not '%.64s'. ", part[2]);
		return deny(c, "InvalidSignatureException", msg);
	}
	if (cfg->aws_session_token) {
		size_t tl = 0;
		const char *tok = mock_conn_header(c, "x-amz-security-token", &tl);
		if (!tok || tl != strlen(cfg->aws_session_token) ||
		    memcmp(tok, cfg->aws_session_token, tl) != 0)
			return deny(c, "UnrecognizedClientException", BAD_TOKEN);
	}

	/* The signed headers with their received values (repeats joined by ","), kept as offsets
	 * into one buffer until it stops growing. */
	struct sl_header h[MOCK_MAX_HEADERS];
	size_t voff[MOCK_MAX_HEADERS];
	size_t nh = 0;
	struct mock_buf joined = {0};
	bool has_host = false;
	bool ok = true;
	const char *hp = signed_hdrs, *hend = signed_hdrs + hl;
	while (hp < hend && nh < MOCK_MAX_HEADERS) {
		const char *semi = memchr(hp, ';', (size_t)(hend - hp));
		const char *e = semi ? semi : hend;
		size_t nl = (size_t)(e - hp);
		size_t start = joined.len;
		unsigned found = 0;
		for (unsigned i = 0; i < c->nhdr; i++) {
			const struct mock_hdr *m = &c->hdr[i];
			if (m->name_len != nl || strncasecmp(c->hdrs.p + m->name_off, hp, nl) != 0)
				continue;
			if (found++)
				MOCK_PUTS(&joined, ",");
			mock_buf_put(&joined, c->hdrs.p + m->val_off, m->val_len);
		}
		if (!found || joined.oom) {
			ok = false;
			break;
		}
		if (nl == 4 && strncasecmp(hp, "host", 4) == 0)
			has_host = true;
		h[nh].name = (struct sl_slice){hp, nl};
		voff[nh] = start;
		h[nh].value.n = joined.len - start;
		nh++;
		hp = semi ? semi + 1 : hend;
	}
	if (!ok || !has_host || hp < hend) {
		mock_buf_free(&joined);
		return deny(c, "InvalidSignatureException", MISMATCH);
	}
	for (size_t i = 0; i < nh; i++)
		h[i].value.p = joined.p ? joined.p + voff[i] : "";

	char hex[65];
	struct sl_iov body = {c->body.p ? c->body.p : "", c->body.len};
	sl_sigv4_payload_hash(&body, 1, hex);
	char *rawpath = strndup(path, path_len);
	const char *q = memchr(c->url.p, '?', c->url.len);
	char *query = NULL;
	if (q) {
		size_t qn = strcspn(q + 1, "#");
		query = strndup(q + 1, qn);
	}
	char datez[17];
	memcpy(datez, date, 16);
	datez[16] = 0;
	struct sl_sigv4_req req = {
	    .method = "POST",
	    .path = rawpath,
	    .query = query,
	    .headers = h,
	    .nheaders = nh,
	    .payload_sha256_hex = hex,
	    .region = part[2],
	    .service = part[3],
	    .amz_date = datez,
	};
	struct sl_aws_creds creds = {cfg->aws_access_key_id, cfg->aws_secret_access_key,
	                             cfg->aws_session_token};
	char want[1024];
	int wl = rawpath && (query || !q) ? sl_sigv4_authorization(&req, &creds, want, sizeof want)
	                                  : -1;
	free(rawpath);
	free(query);
	mock_buf_free(&joined);
	size_t wsl = 0;
	const char *wsig = wl > 0 && (size_t)wl < sizeof want ? param(want, (size_t)wl, "Signature", &wsl)
	                                                     : NULL;
	if (!wsig || wsl != sl || memcmp(wsig, sig, sl) != 0)
		return deny(c, "InvalidSignatureException", MISMATCH);
	return true;
}

bool mock_aws_check(struct mock_conn *c, const char *path, size_t path_len)
{
	const struct mock_config *cfg = &c->ctx->cfg;
	if (!cfg->aws_access_key_id && !cfg->bedrock_api_key)
		return true;
	size_t an = 0;
	const char *auth = mock_conn_header(c, "authorization", &an);
	if (!auth)
		return deny(c, "MissingAuthenticationTokenException", "Missing Authentication Token");
	if (an >= 7 && strncasecmp(auth, "Bearer ", 7) == 0) {
		if (cfg->bedrock_api_key && an - 7 == strlen(cfg->bedrock_api_key) &&
		    memcmp(auth + 7, cfg->bedrock_api_key, an - 7) == 0)
			return true;
		return deny(c, "UnrecognizedClientException", BAD_TOKEN);
	}
	if (!cfg->aws_access_key_id)
		return deny(c, "UnrecognizedClientException", BAD_TOKEN);
	return sigv4_check(c, auth, an, path, path_len);
}
