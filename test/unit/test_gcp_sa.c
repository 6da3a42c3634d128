/* net/wire/gcp_sa.c: service-account key files, strict, with errors that name the field and
 * never quote the key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/wire/gcp_sa.h"

#define KEY "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"

static int parse(const char *j, struct sl_gcp_sa *sa, char *err, size_t errlen) {
  return sl_gcp_sa_parse(j, strlen(j), sa, err, errlen);
}

static void full_file(void) {
  const char *j = "{\"type\":\"service_account\",\"project_id\":\"proj-1\",\"private_key_id\":\"abc123\","
                  "\"private_key\":\"" KEY "\",\"client_email\":\"svc@proj-1.iam.gserviceaccount.com\","
                  "\"client_id\":\"1\",\"auth_uri\":\"https://accounts.google.com/o/oauth2/auth\","
                  "\"token_uri\":\"http://127.0.0.1:9/token\",\"universe_domain\":\"googleapis.com\"}";
  struct sl_gcp_sa sa;
  char err[256];
  CHECK(parse(j, &sa, err, sizeof err) == 0);
  CHECK_STR(sa.type, "service_account");
  CHECK_STR(sa.project_id, "proj-1");
  CHECK_STR(sa.private_key_id, "abc123");
  CHECK_STR(sa.client_email, "svc@proj-1.iam.gserviceaccount.com");
  CHECK_STR(sa.token_uri, "http://127.0.0.1:9/token");
  CHECK(strncmp(sa.private_key, "-----BEGIN PRIVATE KEY-----\nMIIE", 32) == 0); /* \n unescaped */
  sl_gcp_sa_free(&sa);
  CHECK(sa.private_key == NULL && sa.client_email == NULL);
  sl_gcp_sa_free(&sa); /* twice: harmless */
}

static void defaults(void) {
  const char *j = "{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key\":\"" KEY
                  "\",\"client_email\":\"a@p.iam.gserviceaccount.com\"}";
  struct sl_gcp_sa sa;
  char err[256];
  CHECK(parse(j, &sa, err, sizeof err) == 0);
  CHECK_STR(sa.token_uri, SL_GCP_DEFAULT_TOKEN_URI);
  CHECK_STR(sa.token_uri, "https://oauth2.googleapis.com/token");
  CHECK(sa.private_key_id == NULL);
  sl_gcp_sa_free(&sa);
}

/* Each case: the file, and a phrase the message must hold. */
static void errors_name_the_field(void) {
  static const struct {
    const char *json, *want;
  } cases[] = {
      {"", "not valid JSON"},
      {"{\"type\":", "not valid JSON"},
      {"[1,2]", "expected a JSON object"},
      {"{}", "\"type\" is missing"},
      {"{\"type\":\"authorized_user\",\"client_email\":\"a\"}",
       "\"type\" is \"authorized_user\", expected \"service_account\""},
      {"{\"type\":7}", "\"type\" must be a non-empty string"},
      {"{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key\":\"" KEY "\"}",
       "\"client_email\" is missing"},
      {"{\"type\":\"service_account\",\"client_email\":\"\",\"private_key\":\"" KEY "\"}",
       "\"client_email\" must be a non-empty string"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"project_id\":\"p\"}", "\"private_key\" is missing"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":12}",
       "\"private_key\" must be a non-empty string"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":\"-----BEGIN RSA PRIVATE "
       "KEY-----\\nMIIE\\n-----END RSA PRIVATE KEY-----\\n\"}",
       "\"private_key\" is not a PEM PKCS#8 key"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\"}",
       "\"private_key\" is not a PEM PKCS#8 key"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"private_key\":\"" KEY "\"}",
       "\"project_id\" is missing"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"project_id\":\"p\",\"private_key\":\"" KEY
       "\",\"private_key_id\":5}",
       "\"private_key_id\" must be a non-empty string"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"project_id\":\"p\",\"private_key\":\"" KEY
       "\",\"token_uri\":\"ftp://x/token\"}",
       "\"token_uri\" must be an http:// or https:// URL"},
      {"{\"type\":\"service_account\",\"client_email\":\"a@b\",\"project_id\":\"p\",\"private_key\":\"" KEY
       "\",\"token_uri\":false}",
       "\"token_uri\" must be a non-empty string"},
      {"{\"type\":\"service_account\",\"client_email\":\"a\\nb\",\"project_id\":\"p\",\"private_key\":\"" KEY "\"}",
       "\"client_email\" holds a control character"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct sl_gcp_sa sa;
    char err[256] = "x";
    int rc = parse(cases[i].json, &sa, err, sizeof err);
    CHECK(rc == -EINVAL);
    if (!strstr(err, cases[i].want)) {
      printf("case %zu: got \"%s\", want \"%s\"\n", i, err, cases[i].want);
      CHECK(!"message");
    }
    CHECK(strncmp(err, "service-account file: ", 22) == 0);
    CHECK(sa.type == NULL && sa.private_key == NULL && sa.client_email == NULL && sa.token_uri == NULL);
  }
}

static void never_echoes_the_key(void) {
  const char *j =
      "{\"type\":\"service_account\",\"client_email\":\"a@b\",\"project_id\":\"p\","
      "\"private_key\":\"-----BEGIN RSA PRIVATE KEY-----\\nSECRETMATERIAL\\n-----END RSA PRIVATE KEY-----\"}";
  struct sl_gcp_sa sa;
  char err[512];
  CHECK(parse(j, &sa, err, sizeof err) == -EINVAL);
  CHECK(!strstr(err, "SECRET"));
  CHECK(!strstr(err, "-----BEGIN RSA"));
  /* A type that is a key by mistake is cut short in the message. */
  const char *k = "{\"type\":\"-----BEGIN PRIVATE KEY-----SECRETSECRETSECRETSECRETSECRETSECRETSECRETSECRETSECRET\"}";
  CHECK(parse(k, &sa, err, sizeof err) == -EINVAL);
  CHECK_STR(err, "service-account file: \"type\" must be \"service_account\"");
}

static void tiny_err_buffer(void) {
  struct sl_gcp_sa sa;
  char err[8];
  CHECK(sl_gcp_sa_parse("{}", 2, &sa, err, sizeof err) == -EINVAL);
  CHECK(strlen(err) == 7);
}

int main(void) {
  static const struct check_case cases[] = {
      {"full_file", full_file},
      {"defaults", defaults},
      {"errors_name_the_field", errors_name_the_field},
      {"never_echoes_the_key", never_echoes_the_key},
      {"tiny_err_buffer", tiny_err_buffer},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
