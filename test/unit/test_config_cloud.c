/* Bedrock and Vertex AI deployments at load (core/config/config_cloud.c): the dialect each
 * model means, the endpoint, where credentials come from (litellm_params, the environment,
 * AWS profile files, service-account keys) and the errors; and the dialect paths
 * (net/wire/provider.c). The environment is cleared before each case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config/config.h"
#include "net/wire/gcp_sa.h"

static char dir[] = "/tmp/sluice-cloud-XXXXXX";

static void clean_env(void) {
  static const char *const v[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                                  "AWS_DEFAULT_REGION", "AWS_REGION_NAME", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK",
                                  "VERTEXAI_PROJECT", "VERTEX_PROJECT", "VERTEXAI_LOCATION", "VERTEX_LOCATION",
                                  "GOOGLE_APPLICATION_CREDENTIALS", "OPENAI_API_KEY"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) unsetenv(v[i]);
  char p[256];
  snprintf(p, sizeof p, "%s/none-credentials", dir);
  setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
  snprintf(p, sizeof p, "%s/none-config", dir);
  setenv("AWS_CONFIG_FILE", p, 1);
}

static struct sl_config *load(const char *params, char *err, size_t errlen) {
  char yaml[4096];
  snprintf(yaml, sizeof yaml,
           "model_list:\n"
           "  - model_name: m\n"
           "    litellm_params:\n"
           "%s",
           params);
  struct sl_config *c = NULL;
  err[0] = 0;
  if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, NULL, &c, err, errlen)) return NULL;
  return c;
}

static bool starts(const char *s, const char *p) { return s && strncmp(s, p, strlen(p)) == 0; }

static void bedrock_dialects_and_endpoint(void) {
  clean_env();
  char err[512];
  static const struct {
    const char *model, *upstream;
    enum sl_dialect d;
    enum sl_wire w;
  } cases[] = {
      {"bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0",
       SL_DIALECT_BEDROCK_CONVERSE, SL_WIRE_ANTHROPIC}, /* Converse is Anthropic-wire (xlate_bedrock.h) */
      {"bedrock/converse/meta.llama3-8b-instruct-v1:0", "meta.llama3-8b-instruct-v1:0", SL_DIALECT_BEDROCK_CONVERSE,
       SL_WIRE_ANTHROPIC},
      {"bedrock/invoke/anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0",
       SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC, SL_WIRE_ANTHROPIC},
      {"bedrock/invoke/us.anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-3-haiku-20240307-v1:0",
       SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC, SL_WIRE_ANTHROPIC},
      {"bedrock/amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0", SL_DIALECT_BEDROCK_EMBED_TITAN,
       SL_WIRE_OPENAI},
      {"bedrock/cohere.embed-english-v3", "cohere.embed-english-v3", SL_DIALECT_BEDROCK_EMBED_COHERE, SL_WIRE_OPENAI},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char p[512];
    snprintf(p, sizeof p,
             "      model: %s\n      aws_access_key_id: AKIDEXAMPLE\n      aws_secret_access_key: fake-secret\n"
             "      aws_region_name: eu-west-3\n",
             cases[i].model);
    struct sl_config *c = load(p, err, sizeof err);
    CHECK(c != NULL);
    if (!c) {
      fprintf(stderr, "  %s: %s\n", cases[i].model, err);
      continue;
    }
    const struct sl_deployment *d = &c->deployments[0];
    CHECK(d->dialect == cases[i].d);
    CHECK(strcmp(d->upstream_model, cases[i].upstream) == 0);
    CHECK(c->plan->deps[0].wire == cases[i].w);
    CHECK(strcmp(d->api_base, "https://bedrock-runtime.eu-west-3.amazonaws.com") == 0);
    CHECK(d->tls && d->port == 443 && strcmp(d->host, "bedrock-runtime.eu-west-3.amazonaws.com") == 0);
    CHECK(strcmp(d->aws_access_key_id, "AKIDEXAMPLE") == 0 && strcmp(d->aws_secret_access_key, "fake-secret") == 0);
    CHECK(c->plan->deps[0].path[0] == NULL); /* dialect paths are built per attempt */
    sl_config_free(c);
  }
  /* invoke speaks Anthropic's body only */
  CHECK(!load("      model: bedrock/invoke/meta.llama3-8b-instruct-v1:0\n      aws_region_name: us-east-1\n", err,
              sizeof err));
  CHECK(strstr(err, "use bedrock/converse/meta.llama3-8b-instruct-v1:0") != NULL);
  /* the endpoint: aws_bedrock_runtime_endpoint, api_base wins */
  struct sl_config *c = load("      model: bedrock/anthropic.claude-v2\n      aws_region_name: us-east-1\n"
                             "      aws_bedrock_runtime_endpoint: https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com\n",
                             err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].host, "vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com") == 0);
  sl_config_free(c);
  c = load("      model: bedrock/anthropic.claude-v2\n      aws_region_name: us-east-1\n"
           "      aws_bedrock_runtime_endpoint: https://vpce-1.example\n      api_base: http://127.0.0.1:9\n",
           err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].host, "127.0.0.1") == 0 && c->deployments[0].port == 9);
  sl_config_free(c);
}

static void bedrock_credentials(void) {
  char err[512];
  /* the environment: a key pair (with its session token), the region */
  clean_env();
  setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  setenv("AWS_SESSION_TOKEN", "env-token", 1);
  setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
  struct sl_config *c = load("      model: bedrock/anthropic.claude-v2\n", err, sizeof err);
  CHECK(c != NULL);
  if (c) {
    const struct sl_deployment *d = &c->deployments[0];
    CHECK(strcmp(d->aws_access_key_id, "AKIDENV") == 0 && strcmp(d->aws_session_token, "env-token") == 0);
    CHECK(strcmp(d->aws_region_name, "ap-south-1") == 0 && d->api_key == NULL);
    sl_config_free(c);
  }
  /* litellm_params win over the environment; AWS_REGION over AWS_DEFAULT_REGION */
  setenv("AWS_REGION", "us-west-2", 1);
  c = load("      model: bedrock/anthropic.claude-v2\n      aws_access_key_id: AKIDFILE\n"
           "      aws_secret_access_key: file-secret\n",
           err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].aws_access_key_id, "AKIDFILE") == 0 &&
        c->deployments[0].aws_session_token == NULL && strcmp(c->deployments[0].aws_region_name, "us-west-2") == 0);
  sl_config_free(c);
  /* a Bedrock API key from the environment when no pair is given */
  clean_env();
  setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-fake", 1);
  setenv("AWS_REGION", "us-east-1", 1);
  c = load("      model: bedrock/anthropic.claude-v2\n", err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].api_key, "bedrock-api-key-fake") == 0 && !c->deployments[0].aws_access_key_id);
  CHECK(c && c->plan->deps[0].auth_value && strcmp(c->plan->deps[0].auth_value, "Bearer bedrock-api-key-fake") == 0);
  sl_config_free(c);
  /* a profile: keys from the credentials file, the region from the config file */
  clean_env();
  char cred[256], conf[256];
  snprintf(cred, sizeof cred, "%s/credentials", dir);
  snprintf(conf, sizeof conf, "%s/config", dir);
  FILE *f = fopen(cred, "w");
  fputs("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n"
        "[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = team-secret\naws_session_token = team-token\n",
        f);
  fclose(f);
  f = fopen(conf, "w");
  fputs("[default]\nregion = eu-central-1\n[profile team]\nregion = ca-central-1\n", f);
  fclose(f);
  setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
  setenv("AWS_CONFIG_FILE", conf, 1);
  c = load("      model: bedrock/anthropic.claude-v2\n      aws_profile_name: team\n", err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].aws_access_key_id, "AKIDTEAM") == 0 &&
        strcmp(c->deployments[0].aws_session_token, "team-token") == 0 &&
        strcmp(c->deployments[0].aws_region_name, "ca-central-1") == 0);
  sl_config_free(c);
  setenv("AWS_PROFILE", "default", 1);
  c = load("      model: bedrock/anthropic.claude-v2\n", err, sizeof err);
  CHECK(c && strcmp(c->deployments[0].aws_access_key_id, "AKIDDEFAULT") == 0 &&
        strcmp(c->deployments[0].aws_region_name, "eu-central-1") == 0);
  sl_config_free(c);
  CHECK(!load("      model: bedrock/anthropic.claude-v2\n      aws_profile_name: nobody\n", err, sizeof err));
  CHECK(strstr(err, "aws_profile_name: profile 'nobody' is in neither") != NULL);
  /* half a pair, a bad region */
  clean_env();
  CHECK(!load("      model: bedrock/anthropic.claude-v2\n      aws_region_name: us-east-1\n"
              "      aws_access_key_id: AKIDONLY\n",
              err, sizeof err));
  CHECK(strstr(err, "aws_secret_access_key: missing: aws_access_key_id and aws_secret_access_key go together") != NULL);
  CHECK(!load("      model: bedrock/anthropic.claude-v2\n      aws_region_name: \"us east/1\"\n", err, sizeof err));
  CHECK(strstr(err, "expected an AWS region name") != NULL);
}

#define SA_JSON(email, kid, project)                                                                              \
  "{\"type\":\"service_account\",\"project_id\":\"" project "\",\"private_key_id\":\"" kid                         \
  "\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIfake\\n-----END PRIVATE KEY-----\\n\",\"client_email\":\"" \
  email "\",\"token_uri\":\"http://127.0.0.1:9/token\"}"

static void vertex(void) {
  clean_env();
  char err[512], sa[256];
  snprintf(sa, sizeof sa, "%s/sa.json", dir);
  FILE *f = fopen(sa, "w");
  fputs(SA_JSON("a@p.iam.gserviceaccount.com", "k1", "proj-from-key"), f);
  fclose(f);
  /* a key file: the project from the key, the default location; gemini -> the OpenAI endpoint */
  char p[1024];
  snprintf(p, sizeof p, "      model: vertex_ai/gemini-2.0-flash\n      vertex_credentials: %s\n", sa);
  struct sl_config *c = load(p, err, sizeof err);
  CHECK(c != NULL);
  if (c) {
    const struct sl_deployment *d = &c->deployments[0];
    CHECK(d->dialect == SL_DIALECT_VERTEX_OPENAI && strcmp(d->upstream_model, "google/gemini-2.0-flash") == 0);
    CHECK(strcmp(d->vertex_project, "proj-from-key") == 0 && strcmp(d->vertex_location, "us-central1") == 0);
    CHECK(strcmp(d->host, "us-central1-aiplatform.googleapis.com") == 0 && d->tls);
    CHECK(c->ngcp_creds == 1 && d->gcp_cred == 0 &&
          strcmp(c->gcp_creds[0].client_email, "a@p.iam.gserviceaccount.com") == 0);
    CHECK(c->plan->deps[0].wire == SL_WIRE_OPENAI && c->plan->deps[0].priced); /* gemini-2.0-flash's price */
    sl_config_free(c);
  }
  /* the key's text inline, Claude -> rawPredict (Anthropic's wire), the global endpoint; two
   * deployments of one service account share its token slot, another account gets its own */
  setenv("GOOGLE_APPLICATION_CREDENTIALS", sa, 1);
  const char *yaml = "model_list:\n"
                     "  - model_name: c\n"
                     "    litellm_params:\n"
                     "      model: vertex_ai/claude-3-5-sonnet-v2@20241022\n"
                     "      vertex_project: my-proj\n"
                     "      vertex_location: global\n"
                     "      vertex_credentials: '" SA_JSON("b@p.iam.gserviceaccount.com", "k2", "x") "'\n"
                     "  - model_name: g\n"
                     "    litellm_params:\n"
                     "      model: vertex_ai/gemini-2.5-pro\n"
                     "      vertex_project: my-proj\n"
                     "  - model_name: g2\n"
                     "    litellm_params:\n"
                     "      model: vertex_ai_beta/meta/llama-3.1-405b-instruct-maas\n"
                     "      vertex_project: my-proj\n";
  c = NULL;
  CHECK(sl_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, NULL, &c, err, sizeof err) == 0);
  if (c) {
    const struct sl_deployment *d = c->deployments;
    CHECK(d[0].dialect == SL_DIALECT_VERTEX_ANTHROPIC && c->plan->deps[0].wire == SL_WIRE_ANTHROPIC);
    CHECK(strcmp(d[0].host, "aiplatform.googleapis.com") == 0);
    CHECK(strcmp(d[2].upstream_model, "meta/llama-3.1-405b-instruct-maas") == 0); /* a publisher given: as it is */
    CHECK(c->ngcp_creds == 2 && d[0].gcp_cred == 0 && d[1].gcp_cred == 1 && d[2].gcp_cred == 1);
    sl_config_free(c);
  }
  /* errors: an unreadable file, not a service account, no project */
  clean_env();
  CHECK(!load("      model: vertex_ai/gemini-pro\n      vertex_project: p\n      vertex_credentials: /nonexistent/sa.json\n",
              err, sizeof err));
  CHECK(strstr(err, "vertex_credentials: cannot read the service-account key file '/nonexistent/sa.json'") != NULL);
  CHECK(!load("      model: vertex_ai/gemini-pro\n      vertex_project: p\n"
              "      vertex_credentials: '{\"type\":\"authorized_user\"}'\n",
              err, sizeof err));
  CHECK(strstr(err, "vertex_credentials: not a usable service-account key") != NULL);
  CHECK(!load("      model: vertex_ai/gemini-pro\n", err, sizeof err));
  CHECK(strstr(err, "vertex_project: missing") != NULL);
}

static void dialect_paths(void) {
  char out[512];
  CHECK(sl_provider_dialect_path(SL_DIALECT_BEDROCK_CONVERSE, SL_PROV_CHAT, true, "", "anthropic.claude-v2:1", NULL,
                                 NULL, out, sizeof out) > 0);
  CHECK(strcmp(out, "/model/anthropic.claude-v2%3A1/converse-stream") == 0);
  sl_provider_dialect_path(SL_DIALECT_BEDROCK_CONVERSE, SL_PROV_MESSAGES, false, "/p", "arn:aws:bedrock:x/y", NULL, NULL,
                           out, sizeof out);
  CHECK(strcmp(out, "/p/model/arn%3Aaws%3Abedrock%3Ax%2Fy/converse") == 0);
  sl_provider_dialect_path(SL_DIALECT_BEDROCK_INVOKE_ANTHROPIC, SL_PROV_MESSAGES, true, "", "m", NULL, NULL, out,
                           sizeof out);
  CHECK(strcmp(out, "/model/m/invoke-with-response-stream") == 0);
  sl_provider_dialect_path(SL_DIALECT_BEDROCK_EMBED_TITAN, SL_PROV_EMBEDDINGS, false, "", "amazon.titan-embed-text-v2:0",
                           NULL, NULL, out, sizeof out);
  CHECK(strcmp(out, "/model/amazon.titan-embed-text-v2%3A0/invoke") == 0);
  CHECK(sl_provider_dialect_path(SL_DIALECT_BEDROCK_EMBED_TITAN, SL_PROV_CHAT, false, "", "m", NULL, NULL, out,
                                 sizeof out) < 0);
  CHECK(sl_provider_dialect_path(SL_DIALECT_BEDROCK_CONVERSE, SL_PROV_EMBEDDINGS, false, "", "m", NULL, NULL, out,
                                 sizeof out) < 0);
  sl_provider_dialect_path(SL_DIALECT_VERTEX_ANTHROPIC, SL_PROV_CHAT, true, "", "claude-sonnet-4@20250514", "p1",
                           "us-east5", out, sizeof out);
  CHECK(strcmp(out, "/v1/projects/p1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict") == 0);
  sl_provider_dialect_path(SL_DIALECT_VERTEX_OPENAI, SL_PROV_CHAT, true, "", "google/gemini-2.0-flash", "p1",
                           "us-central1", out, sizeof out);
  CHECK(strcmp(out, "/v1/projects/p1/locations/us-central1/endpoints/openapi/chat/completions") == 0);
  CHECK(sl_provider_dialect_path(SL_DIALECT_VERTEX_OPENAI, SL_PROV_COUNT_TOKENS, false, "", "m", "p", "l", out,
                                 sizeof out) < 0);
  CHECK(starts(out, "/v1/projects/p1"));
}

static void setup(void) { CHECK(mkdtemp(dir) != NULL); }

static void teardown(void) {
  static const char *const f[] = {"credentials", "config", "sa.json"};
  char p[256];
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, f[i]);
    unlink(p);
  }
  CHECK(rmdir(dir) == 0);
}

CHECK_MAIN(T(setup), T(bedrock_dialects_and_endpoint), T(bedrock_credentials), T(vertex), T(dialect_paths),
           T(teardown))
