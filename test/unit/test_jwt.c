/* net/wire/jwt.c: base64url and the RS256 assertion. The assertion is checked the way the
 * token endpoint checks it: split at the dots, header and claims decoded to the exact JSON,
 * the signature verified with the key's public half (mbedtls_pk_verify), and a changed
 * byte makes verification fail. The keys are throwaway test keys (gcp_test_keys.h). */
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gcp_test_keys.h"
#include "net/wire/jwt.h"

/* A fixed-seed DRBG (RSA blinding only: PKCS#1 v1.5 signatures do not depend on it). */
static mbedtls_ctr_drbg_context drbg;
static int fixed_entropy(void *ud, unsigned char *out, size_t n) {
  (void)ud;
  for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(i * 7 + 3);
  return 0;
}

static void b64url(void) {
  static const struct {
    const char *in, *out;
  } v[] = {{"", ""},
           {"f", "Zg"},
           {"fo", "Zm8"},
           {"foo", "Zm9v"},
           {"foob", "Zm9vYg"},
           {"fooba", "Zm9vYmE"},
           {"foobar", "Zm9vYmFy"},
           {"\xfb\xff", "-_8"},
           {"\xff\xfe\xfd", "__79"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct sl_buf b = {0}, d = {0};
    sl_jwt_b64url(&b, v[i].in, strlen(v[i].in));
    sl_buf_append(&b, "", 1);
    CHECK_STR(b.p, v[i].out);
    CHECK(sl_jwt_b64url_decode(v[i].out, strlen(v[i].out), &d) == 0);
    CHECK(d.n == strlen(v[i].in) && (d.n == 0 || memcmp(d.p, v[i].in, d.n) == 0));
    sl_buf_free(&b);
    sl_buf_free(&d);
  }
  struct sl_buf d = {0};
  CHECK(sl_jwt_b64url_decode("Zg==", 4, &d) == 0 && d.n == 1); /* padding tolerated */
  d.n = 0;
  CHECK(sl_jwt_b64url_decode("Z", 1, &d) == -EINVAL);
  CHECK(sl_jwt_b64url_decode("Zh", 2, &d) == -EINVAL);   /* stray low bits */
  CHECK(sl_jwt_b64url_decode("Zm+v", 4, &d) == -EINVAL); /* base64, not base64url */
  CHECK(sl_jwt_b64url_decode("Zm.v", 4, &d) == -EINVAL);
  sl_buf_free(&d);
}

static struct sl_gcp_sa test_sa(const char *pem) {
  return (struct sl_gcp_sa){.type = "service_account",
                            .project_id = "proj-1",
                            .private_key_id = "kid-0001",
                            .private_key = (char *)pem,
                            .client_email = "svc@proj-1.iam.gserviceaccount.com",
                            .token_uri = "https://oauth2.googleapis.com/token"};
}

static char *decode_part(const char *p, size_t n) {
  struct sl_buf d = {0};
  if (sl_jwt_b64url_decode(p, n, &d)) {
    sl_buf_free(&d);
    return NULL;
  }
  sl_buf_append(&d, "", 1);
  return d.p;
}

static void assertion(void) {
  struct sl_gcp_sa sa = test_sa(TEST_RSA_PEM);
  struct sl_buf out = {0};
  char err[256] = "";
  int rc = sl_jwt_rs256_assertion(&sa, SL_GCP_SCOPE_CLOUD, 1700000000, mbedtls_ctr_drbg_random, &drbg, &out, err,
                                  sizeof err);
  CHECK(rc == 0);
  if (rc) {
    printf("%s\n", err);
    return;
  }
  sl_buf_append(&out, "", 1);
  const char *j = out.p;
  const char *d1 = strchr(j, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  CHECK(d1 && d2 && !strchr(d2 + 1, '.'));
  if (!d1 || !d2) return;
  CHECK(!strchr(j, '=') && !strchr(j, '+') && !strchr(j, '/'));
  char *hdr = decode_part(j, (size_t)(d1 - j));
  char *claims = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
  CHECK(hdr && claims);
  if (hdr) CHECK_STR(hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"kid-0001\"}");
  if (claims)
    CHECK_STR(claims, "{\"iss\":\"svc@proj-1.iam.gserviceaccount.com\","
                      "\"scope\":\"https://www.googleapis.com/auth/cloud-platform\","
                      "\"aud\":\"https://oauth2.googleapis.com/token\",\"iat\":1700000000,\"exp\":1700003600}");
  struct sl_buf sig = {0};
  CHECK(sl_jwt_b64url_decode(d2 + 1, strlen(d2 + 1), &sig) == 0);
  CHECK(sig.n == 256); /* a 2048-bit key */

  /* Verify as the token endpoint does, with the public half only. */
  mbedtls_pk_context priv, pub;
  mbedtls_pk_init(&priv);
  mbedtls_pk_init(&pub);
  CHECK(mbedtls_pk_parse_key(&priv, (const unsigned char *)TEST_RSA_PEM, sizeof TEST_RSA_PEM, NULL, 0) == 0);
  unsigned char der[1024], *p = der + sizeof der;
  int dl = mbedtls_pk_write_pubkey_der(&priv, der, sizeof der);
  CHECK(dl > 0);
  if (dl > 0) {
    p = der + sizeof der - dl;
    CHECK(mbedtls_pk_parse_public_key(&pub, p, (size_t)dl) == 0);
  }
  unsigned char hash[32];
  mbedtls_sha256_ret((const unsigned char *)j, (size_t)(d2 - j), hash, 0);
  CHECK(mbedtls_pk_verify(&pub, MBEDTLS_MD_SHA256, hash, sizeof hash, (unsigned char *)sig.p, sig.n) == 0);
  /* One changed byte of the signed text: the signature no longer holds. */
  char *tampered = strdup(j);
  tampered[(d1 - j) + 3] ^= 1;
  mbedtls_sha256_ret((const unsigned char *)tampered, (size_t)(d2 - j), hash, 0);
  CHECK(mbedtls_pk_verify(&pub, MBEDTLS_MD_SHA256, hash, sizeof hash, (unsigned char *)sig.p, sig.n) != 0);
  free(tampered);

  /* Deterministic (PKCS#1 v1.5): the same inputs sign to the same bytes; appends to out. */
  struct sl_buf again = {0};
  sl_buf_puts(&again, "x");
  CHECK(sl_jwt_rs256_assertion(&sa, SL_GCP_SCOPE_CLOUD, 1700000000, mbedtls_ctr_drbg_random, &drbg, &again, err,
                               sizeof err) == 0);
  CHECK(again.n == out.n && again.p[0] == 'x' && memcmp(again.p + 1, j, out.n - 1) == 0);

  /* Without a kid the header has none. */
  sa.private_key_id = NULL;
  again.n = 0;
  CHECK(sl_jwt_rs256_assertion(&sa, "s", 5, mbedtls_ctr_drbg_random, &drbg, &again, err, sizeof err) == 0);
  char *h2 = decode_part(again.p, (size_t)(strchr(again.p, '.') - again.p));
  if (h2) CHECK_STR(h2, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
  CHECK(h2 != NULL);
  free(h2);
  mbedtls_pk_free(&priv);
  mbedtls_pk_free(&pub);
  sl_buf_free(&again);
  sl_buf_free(&sig);
  free(hdr);
  free(claims);
  sl_buf_free(&out);
}

static void bad_keys(void) {
  struct sl_buf out = {0};
  char err[256] = "";
  struct sl_gcp_sa sa = test_sa(TEST_EC_PEM);
  CHECK(sl_jwt_rs256_assertion(&sa, SL_GCP_SCOPE_CLOUD, 1, mbedtls_ctr_drbg_random, &drbg, &out, err, sizeof err) ==
        -EINVAL);
  CHECK(strstr(err, "is not an RSA key") != NULL);
  CHECK(strstr(err, "svc@proj-1.iam.gserviceaccount.com") != NULL);
  CHECK(out.n == 0);
  sa = test_sa("-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n");
  CHECK(sl_jwt_rs256_assertion(&sa, SL_GCP_SCOPE_CLOUD, 1, mbedtls_ctr_drbg_random, &drbg, &out, err, sizeof err) ==
        -EINVAL);
  CHECK(strstr(err, "the private key does not parse") != NULL);
  CHECK(!strstr(err, "U0VDUkVU"));
  CHECK(out.n == 0);
  sa.client_email = NULL;
  CHECK(sl_jwt_rs256_assertion(&sa, SL_GCP_SCOPE_CLOUD, 1, mbedtls_ctr_drbg_random, &drbg, &out, err, sizeof err) ==
        -EINVAL);
  sl_buf_free(&out);
}

int main(void) {
  mbedtls_ctr_drbg_init(&drbg);
  if (mbedtls_ctr_drbg_seed(&drbg, fixed_entropy, NULL, (const unsigned char *)"sluice test", 11)) return 1;
  static const struct check_case cases[] = {
      {"b64url", b64url},
      {"assertion", assertion},
      {"bad_keys", bad_keys},
  };
  int rc = check_run(cases, sizeof cases / sizeof cases[0]);
  mbedtls_ctr_drbg_free(&drbg);
  return rc;
}
