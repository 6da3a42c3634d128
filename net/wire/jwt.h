/* JSON Web Tokens signed with RS256 (RSASSA-PKCS1-v1_5 over SHA-256, mbedtls), for Google's
 * OAuth 2.0 service-account flow: the assertion that is exchanged for an access token. The
 * one idea: header and claims are fixed JSON built here, base64url without padding, signed
 * with the key of the service-account file. To sign another claim set, add a function next
 * to sl_jwt_rs256_assertion that builds its claims and calls the same signer. */
#ifndef SL_NET_WIRE_JWT_H
#define SL_NET_WIRE_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "net/base/buf.h"
#include "net/wire/gcp_sa.h"

#define SL_GCP_SCOPE_CLOUD "https://www.googleapis.com/auth/cloud-platform"

/* The signed JWT assertion (RS256) for the token exchange: header {alg:RS256,typ:JWT,kid},
 * claims {iss:client_email, scope, aud:token_uri, iat:now, exp:now+3600}. f_rng/p_rng: an
 * mbedtls RNG (RSA blinding). 0 or -EINVAL (err says why: not an RSA key, bad PEM). */
int sl_jwt_rs256_assertion(const struct sl_gcp_sa *sa, const char *scope, int64_t now_s,
                           int (*f_rng)(void *, unsigned char *, size_t), void *p_rng, struct sl_buf *out, char *err,
                           size_t errlen);
/* base64url without padding of p[0..n), appended to out. */
void sl_jwt_b64url(struct sl_buf *out, const void *p, size_t n);
/* Decodes base64url (padding optional) into out; 0 or -EINVAL (tests, the mock). */
int sl_jwt_b64url_decode(const char *s, size_t n, struct sl_buf *out);

#endif
