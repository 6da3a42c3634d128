/* RS256 JWT assertions (see jwt.h): fixed header and claims, base64url, mbedtls signing. */
#include "net/wire/jwt.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void sl_jwt_b64url(struct sl_buf *out, const void *p, size_t n) {
  const unsigned char *s = p;
  char q[4];
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    q[0] = B64URL[v >> 18];
    q[1] = B64URL[(v >> 12) & 63];
    q[2] = B64URL[(v >> 6) & 63];
    q[3] = B64URL[v & 63];
    sl_buf_append(out, q, 4);
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    q[0] = B64URL[v >> 18];
    q[1] = B64URL[(v >> 12) & 63];
    sl_buf_append(out, q, 2);
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    q[0] = B64URL[v >> 18];
    q[1] = B64URL[(v >> 12) & 63];
    q[2] = B64URL[(v >> 6) & 63];
    sl_buf_append(out, q, 3);
  }
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int sl_jwt_b64url_decode(const char *s, size_t n, struct sl_buf *out) {
  while (n > 0 && s[n - 1] == '=') n--;
  if (n % 4 == 1) return -EINVAL;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(s[i]);
    if (v < 0) return -EINVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      char c = (char)((acc >> bits) & 0xff);
      sl_buf_append(out, &c, 1);
    }
  }
  if (acc & ((1u << bits) - 1)) return -EINVAL; /* non-canonical trailing bits */
  return out->oom ? -ENOMEM : 0;
}

int sl_jwt_rs256_assertion(const struct sl_gcp_sa *sa, const char *scope, int64_t now_s,
                           int (*f_rng)(void *, unsigned char *, size_t), void *p_rng, struct sl_buf *out, char *err,
                           size_t errlen) {
  if (!sa || !sa->private_key || !sa->client_email || !sa->token_uri || !scope) {
    snprintf(err, errlen, "service account: incomplete credentials");
    return -EINVAL;
  }
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  int rc = mbedtls_pk_parse_key(&pk, (const unsigned char *)sa->private_key, strlen(sa->private_key) + 1, NULL, 0);
  if (rc) {
    char m[128];
    mbedtls_strerror(rc, m, sizeof m);
    snprintf(err, errlen, "service account %s: the private key does not parse (%s)", sa->client_email, m);
    mbedtls_pk_free(&pk);
    return -EINVAL;
  }
  if (!mbedtls_pk_can_do(&pk, MBEDTLS_PK_RSA)) {
    snprintf(err, errlen, "service account %s: the private key is not an RSA key (RS256 needs one)", sa->client_email);
    mbedtls_pk_free(&pk);
    return -EINVAL;
  }
  struct sl_buf hdr = {0}, claims = {0};
  sl_buf_puts(&hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\"");
  if (sa->private_key_id) {
    sl_buf_puts(&hdr, ",\"kid\":\"");
    sl_buf_json_escape(&hdr, sa->private_key_id, strlen(sa->private_key_id));
    sl_buf_puts(&hdr, "\"");
  }
  sl_buf_puts(&hdr, "}");
  sl_buf_puts(&claims, "{\"iss\":\"");
  sl_buf_json_escape(&claims, sa->client_email, strlen(sa->client_email));
  sl_buf_puts(&claims, "\",\"scope\":\"");
  sl_buf_json_escape(&claims, scope, strlen(scope));
  sl_buf_puts(&claims, "\",\"aud\":\"");
  sl_buf_json_escape(&claims, sa->token_uri, strlen(sa->token_uri));
  sl_buf_printf(&claims, "\",\"iat\":%lld,\"exp\":%lld}", (long long)now_s, (long long)now_s + 3600);
  size_t start = out->n;
  if (!hdr.oom && !claims.oom) {
    sl_jwt_b64url(out, hdr.p, hdr.n);
    sl_buf_puts(out, ".");
    sl_jwt_b64url(out, claims.p, claims.n);
  }
  int ret = 0;
  if (hdr.oom || claims.oom || out->oom) {
    snprintf(err, errlen, "out of memory");
    ret = -ENOMEM;
  } else {
    unsigned char hash[32];
    mbedtls_sha256_ret((const unsigned char *)out->p + start, out->n - start, hash, 0);
    unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t siglen = 0;
    rc = mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, &siglen, f_rng, p_rng);
    if (rc) {
      char m[128];
      mbedtls_strerror(rc, m, sizeof m);
      snprintf(err, errlen, "service account %s: signing failed (%s)", sa->client_email, m);
      ret = -EINVAL;
    } else {
      sl_buf_puts(out, ".");
      sl_jwt_b64url(out, sig, siglen);
      if (out->oom) {
        snprintf(err, errlen, "out of memory");
        ret = -ENOMEM;
      }
    }
  }
  if (ret && !out->oom) out->n = start;
  sl_buf_free(&hdr);
  sl_buf_free(&claims);
  mbedtls_pk_free(&pk);
  return ret;
}
