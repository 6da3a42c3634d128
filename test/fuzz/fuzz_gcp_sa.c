/* libFuzzer target for the Vertex AI credential parsers: the service-account file
 * (net/wire/gcp_sa.c), the token endpoint's answer (core/gcp_token.c) and base64url
 * (net/wire/jwt.c). Properties: a file that parses has every required field non-empty,
 * type "service_account" and a PEM key; one that does not has a message that never quotes
 * the key (no "-----BEGIN" in it) and leaves nothing to free; an answer that parses has a
 * token without spaces or control bytes and an expires_in >= 1, one that does not has a
 * message; base64url of the input decodes back to the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/gcp_token.h"
#include "net/wire/gcp_sa.h"
#include "net/wire/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *s = (const char *)data;
  struct sl_gcp_sa sa;
  char err[256];
  if (sl_gcp_sa_parse(s, n, &sa, err, sizeof err) == 0) {
    if (!sa.type || strcmp(sa.type, "service_account") || !sa.client_email || !sa.client_email[0] || !sa.private_key ||
        !strstr(sa.private_key, "-----BEGIN PRIVATE KEY-----") || !sa.project_id || !sa.project_id[0] ||
        !sa.token_uri || !sa.token_uri[0])
      abort();
    sl_gcp_sa_free(&sa);
  } else {
    if (!err[0] || strstr(err, "-----BEGIN")) abort();
    if (sa.type || sa.client_email || sa.private_key || sa.project_id || sa.token_uri || sa.private_key_id) abort();
  }

  char tok[256], msg[SL_GCP_ERR_MAX];
  size_t len = 0;
  uint64_t exp = 0;
  int status = n ? 100 + data[0] * 2 : 200;
  if (status < 300 && n > 1 && data[1] & 1) status = 200;
  msg[0] = 0;
  if (sl_gcp_parse_token_answer(status, s, n, tok, sizeof tok, &len, &exp, msg, sizeof msg) == 0) {
    if (status < 200 || status > 299 || !len || strlen(tok) != len || exp < 1) abort();
    for (size_t i = 0; i < len; i++)
      if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) abort();
  } else if (!msg[0]) {
    abort();
  }

  struct sl_buf a = {0}, b = {0};
  sl_jwt_b64url(&a, data, n);
  if (a.oom || sl_jwt_b64url_decode(a.p ? a.p : "", a.n, &b) || b.n != n || (n && memcmp(b.p, data, n))) abort();
  for (size_t i = 0; i < a.n; i++)
    if (a.p[i] == '=' || a.p[i] == '+' || a.p[i] == '/') abort();
  sl_buf_free(&b);
  b = (struct sl_buf){0};
  (void)sl_jwt_b64url_decode(s, n, &b); /* arbitrary text: no crash */
  sl_buf_free(&a);
  sl_buf_free(&b);
  return 0;
}
