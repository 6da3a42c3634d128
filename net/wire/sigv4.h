/* AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
 * for non-S3 services such as Bedrock: the canonical request, the string to sign, the
 * signing key (kDate -> kRegion -> kService -> kSigning) and the Authorization header value.
 * The one idea: the caller says exactly what goes on the wire (path as sent, headers as
 * sent), and this file derives what AWS will recompute from it. Pure: SHA-256 and
 * HMAC-SHA256 via mbedtls, no clock (the date is passed in). To extend it (S3's rules, a
 * presigned query), add a flag to struct sl_sigv4_req and branch in the canonical path. */
#ifndef SL_NET_WIRE_SIGV4_H
#define SL_NET_WIRE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/base/iov.h"
#include "net/wire/http_common.h"

struct sl_aws_creds {
  const char *access_key_id, *secret_access_key, *session_token; /* NULL: none */
};

struct sl_sigv4_req {
  const char *method;              /* "POST" */
  const char *path;                /* the request path exactly as sent on the wire (already
                                      percent-encoded once: /model/anthropic.claude-v2%3A1/converse) */
  const char *query;               /* raw query string without '?', or NULL */
  const struct sl_header *headers; /* the headers that will be sent and signed; must include
                                      "host" (its value exactly as sent) and "x-amz-date";
                                      names any case */
  size_t nheaders;
  const char *payload_sha256_hex; /* lower-case hex SHA-256 of the body (64 chars) */
  const char *region, *service;   /* "us-east-1", "bedrock" */
  const char *amz_date;           /* "20150830T123600Z" */
};

/* SHA-256 of a body made of n slices, lower-case hex (65 bytes with the NUL). */
void sl_sigv4_payload_hash(const struct sl_iov *v, size_t n, char hex[65]);
/* "YYYYMMDDTHHMMSSZ" of a Unix time (UTC). */
void sl_sigv4_amz_date(int64_t unix_s, char out[17]);
/* The canonical request (AWS's non-S3 rules: the path normalised and each segment encoded
 * again, query parameters sorted, header values trimmed, headers sorted by lower-case name).
 * 0, or -EINVAL (a missing field, a bad percent escape in the query, a header name that is
 * not a token), -ENOMEM. */
int sl_sigv4_canonical_request(const struct sl_sigv4_req *r, struct sl_buf *out);
/* The string to sign of a canonical request. */
int sl_sigv4_string_to_sign(const struct sl_sigv4_req *r, const char *canonical, size_t n, struct sl_buf *out);
/* The Authorization header value: "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/bedrock/aws4_request,
 * SignedHeaders=host;x-amz-date, Signature=<64 hex>". Returns the length written like snprintf, -1 on error.
 * Every header of r is signed. c->session_token is not read here: a caller with one sends it
 * as "X-Amz-Security-Token" and lists it in r->headers, as AWS expects (signed). A verifier
 * (the mock provider) passes only the headers named in the request's SignedHeaders. */
int sl_sigv4_authorization(const struct sl_sigv4_req *r, const struct sl_aws_creds *c, char *out, size_t cap);

#endif
