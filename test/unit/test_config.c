/* core/config: the LiteLLM config.yaml loader. Defaults, a realistic full config, the embedded
 * default, every error class with its exact FILE:LINE: key.path, os.environ/ substitution,
 * sizes, durations, listen addresses, URLs, anchors and merge keys, and once-only warnings. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config.h"
#include "core/config_parse.h"

#undef CHECK_STR /* NULL-safe here: a NULL string fails the check instead of crashing */
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

/* ---- helpers ---- */

struct warns {
  char msg[64][512];
  int n;
};

static void collect(void *ud, const char *msg) {
  struct warns *w = ud;
  if (w->n < 64)
    snprintf(w->msg[w->n++], sizeof w->msg[0], "%s", msg);
}

/* How many collected warnings contain needle. */
static int nwarn(const struct warns *w, const char *needle) {
  int k = 0;
  if (getenv("SL_TEST_VERBOSE"))
    for (int i = 0; i < w->n; i++)
      fprintf(stderr, "  warn[%d] %s\n", i, w->msg[i]);
  for (int i = 0; i < w->n; i++)
    k += strstr(w->msg[i], needle) != NULL;
  return k;
}

static void clean_env(void) {
  unsetenv("OPENAI_API_KEY");
  unsetenv("OPENROUTER_API_KEY");
  unsetenv("OR_API_KEY");
  unsetenv("HOSTED_VLLM_API_KEY");
  unsetenv("LITELLM_MASTER_KEY");
}

static int load(const char *yaml, struct sl_config **c, char *err, size_t errlen,
                struct warns *w) {
  clean_env();
  if (w)
    memset(w, 0, sizeof *w);
  return sl_config_load_string(yaml, strlen(yaml), "t.yaml", w ? collect : NULL, w, c, err,
                               errlen);
}

/* Loads yaml expecting failure; true when err starts with want. */
static bool fails_with(const char *yaml, const char *want, char *err, size_t errlen) {
  struct sl_config *c = NULL;
  int rc = load(yaml, &c, err, errlen, NULL);
  if (rc == 0)
    sl_config_free(c);
  if (rc != -EINVAL || c != NULL || strncmp(err, want, strlen(want)) != 0) {
    fprintf(stderr, "  want: %s\n  got:  %s (rc %d)\n", want, err, rc);
    return false;
  }
  return true;
}

#define ONE_DEP                     \
  "model_list:\n"                   \
  "  - model_name: m\n"             \
  "    litellm_params:\n"           \
  "      model: openai/gpt-4o\n"    \
  "      api_key: sk-x\n"

/* ---- defaults ---- */

static void defaults(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  const char *y = "model_list:\n"
                  "  - model_name: gpt-4o\n"
                  "    litellm_params:\n"
                  "      model: gpt-4o\n";
  CHECK(load(y, &c, err, sizeof err, &w) == 0);
  if (!c)
    return;
  CHECK(c->ndeployments == 1);
  struct sl_deployment *d = &c->deployments[0];
  CHECK_STR(d->model_name, "gpt-4o");
  CHECK_STR(d->model, "gpt-4o");
  CHECK_STR(d->provider, "openai");
  CHECK_STR(d->upstream_model, "gpt-4o");
  CHECK_STR(d->api_base, "https://api.openai.com/v1");
  CHECK_STR(d->host, "api.openai.com");
  CHECK(d->port == 443 && d->tls);
  CHECK_STR(d->base_path, "/v1");
  CHECK(d->api_key == NULL);
  CHECK(d->timeout_s == 0 && d->stream_timeout_s == 0);
  CHECK(d->rpm == 0 && d->tpm == 0 && d->weight == 0 && d->order == 0);
  CHECK(d->max_retries == -1);
  CHECK_STR(d->id, "gpt-4o-0");
  CHECK(d->input_cost_per_token == 0 && d->output_cost_per_token == 0);
  CHECK(d->max_input_tokens == 0);
  CHECK(c->master_key == NULL);
  CHECK(c->num_retries == 0);
  CHECK(c->timeout_s == 600);
  CHECK_STR(c->listen_host, "127.0.0.1");
  CHECK(c->port == 4000);
  CHECK(c->workers == 0);
  CHECK_STR(c->data_dir, "./sluice-data");
  CHECK(c->max_body_bytes == 16u << 20);
  CHECK(c->max_header_bytes == 32u << 10);
  CHECK(c->header_timeout_ms == 10000);
  CHECK(c->body_timeout_ms == 30000);
  CHECK(c->keepalive_timeout_ms == 75000);
  CHECK(c->drain_timeout_ms == 30000);
  CHECK(c->connect_timeout_ms == 5000);
  CHECK(c->ca_file == NULL);
  CHECK_STR(c->log_level, "info");
  CHECK(c->access_log == true);
  CHECK_STR(c->source, "t.yaml");
  /* no key anywhere for api.openai.com: one warning */
  CHECK(w.n == 1);
  CHECK(nwarn(&w, "t.yaml:4: model_list[0].litellm_params.api_key: not set and "
                  "OPENAI_API_KEY is not set") == 1);
  sl_config_free(c);
}

/* ---- a realistic LiteLLM config ---- */

static const char full_yaml[] =
    "# A LiteLLM proxy config as people write them\n"                /* 1 */
    "model_list:\n"                                                  /* 2 */
    "  - model_name: gpt-4o-mini\n"                                  /* 3 */
    "    litellm_params:\n"                                          /* 4 */
    "      model: openai/gpt-4o-mini\n"                              /* 5 */
    "      api_key: os.environ/TEST_OPENAI_KEY\n"                    /* 6 */
    "      rpm: 500\n"                                               /* 7 */
    "      tpm: 200_000\n"                                           /* 8 */
    "      timeout: 30\n"                                            /* 9 */
    "      stream_timeout: 12.5\n"                                   /* 10 */
    "      max_retries: 2\n"                                         /* 11 */
    "      order: 1\n"                                               /* 12 */
    "      temperature: 0.2\n"                                       /* 13 */
    "    model_info:\n"                                              /* 14 */
    "      id: oai-mini-primary\n"                                   /* 15 */
    "      input_cost_per_token: 0.00000015\n"                       /* 16 */
    "      output_cost_per_token: 6.0e-07\n"                         /* 17 */
    "      max_input_tokens: 128000\n"                               /* 18 */
    "      mode: chat\n"                                             /* 19 */
    "      supports_vision: true\n"                                  /* 20 */
    "  - model_name: gpt-4o-mini\n"                                  /* 21 */
    "    litellm_params:\n"                                          /* 22 */
    "      model: openrouter/openai/gpt-4o-mini\n"                   /* 23 */
    "      api_key: \"os.environ/TEST_OPENROUTER_KEY\"\n"            /* 24 */
    "      weight: 2\n"                                              /* 25 */
    "      order: 2\n"                                               /* 26 */
    "      temperature: 0.2\n"                                       /* 27 */
    "  - model_name: llama-3-8b\n"                                   /* 28 */
    "    litellm_params:\n"                                          /* 29 */
    "      model: hosted_vllm/meta-llama/Meta-Llama-3-8B-Instruct\n" /* 30 */
    "      api_base: http://[fd00::12]:8000/v1/\n"                   /* 31 */
    "    rpm: 60\n"                                                  /* 32 */
    "  - model_name: llama-3-8b\n"                                   /* 33 */
    "    litellm_params:\n"                                          /* 34 */
    "      model: openai/llama3-8b-8192\n"                           /* 35 */
    "      api_base: https://api.groq.com/openai/v1\n"               /* 36 */
    "      api_key: os.environ/TEST_GROQ_KEY\n"                      /* 37 */
    "      drop_params: true\n"                                      /* 38 */
    "  - model_name: local-qwen\n"                                   /* 39 */
    "    litellm_params:\n"                                          /* 40 */
    "      model: openai/qwen2.5:7b\n"                               /* 41 */
    "      api_base: http://localhost:11434/v1\n"                    /* 42 */
    "      api_key: ollama\n"                                        /* 43 */
    "\n"                                                             /* 44 */
    "litellm_settings:\n"                                            /* 45 */
    "  drop_params: true\n"                                          /* 46 */
    "  num_retries: 5\n"                                             /* 47 */
    "  request_timeout: 120\n"                                       /* 48 */
    "  success_callback: [\"langfuse\"]\n"                           /* 49 */
    "\n"                                                             /* 50 */
    "router_settings:\n"                                             /* 51 */
    "  routing_strategy: latency-based-routing\n"                    /* 52 */
    "  num_retries: 3\n"                                             /* 53 */
    "  fallbacks: [{\"gpt-4o-mini\": [\"llama-3-8b\"]}]\n"           /* 54 */
    "  redis_host: localhost\n"                                      /* 55 */
    "  frobnicate: 1\n"                                              /* 56 */
    "\n"                                                             /* 57 */
    "general_settings:\n"                                            /* 58 */
    "  master_key: os.environ/TEST_MASTER_KEY\n"                     /* 59 */
    "  database_url: postgresql://x\n"                               /* 60 */
    "\n"                                                             /* 61 */
    "environment_variables:\n"                                       /* 62 */
    "  REDIS_HOST: localhost\n"                                      /* 63 */
    "\n"                                                             /* 64 */
    "sluice_settings:\n"                                             /* 65 */
    "  listen: \"[::1]:8080\"\n"                                     /* 66 */
    "  workers: 4\n"                                                 /* 67 */
    "  data_dir: /var/lib/sluice\n"                                  /* 68 */
    "  max_body_bytes: 8MiB\n"                                       /* 69 */
    "  max_header_bytes: 65536\n"                                    /* 70 */
    "  header_timeout: 5s\n"                                         /* 71 */
    "  body_timeout: 1m\n"                                           /* 72 */
    "  keepalive_timeout: 0\n"                                       /* 73 */
    "  drain_timeout: 2.5\n"                                         /* 74 */
    "  connect_timeout: 750ms\n"                                     /* 75 */
    "  ca_file: /dev/null\n"                                         /* 76 */
    "  log_level: debug\n"                                           /* 77 */
    "  access_log: no\n";                                            /* 78 */

static void full_config(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  clean_env();
  setenv("TEST_OPENAI_KEY", "sk-openai-123", 1);
  setenv("TEST_OPENROUTER_KEY", "sk-or-456", 1);
  setenv("TEST_GROQ_KEY", "gsk_789", 1);
  setenv("TEST_MASTER_KEY", "sk-master", 1);
  int rc = sl_config_load_string(full_yaml, strlen(full_yaml), "t.yaml", collect,
                                 (memset(&w, 0, sizeof w), &w), &c, err, sizeof err);
  CHECK(rc == 0);
  if (rc) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK(c->ndeployments == 5);
  struct sl_deployment *d = c->deployments;
  CHECK_STR(d[0].provider, "openai");
  CHECK_STR(d[0].upstream_model, "gpt-4o-mini");
  CHECK_STR(d[0].api_key, "sk-openai-123");
  CHECK(d[0].rpm == 500 && d[0].tpm == 200000);
  CHECK(d[0].timeout_s == 30 && d[0].stream_timeout_s == 12.5);
  CHECK(d[0].max_retries == 2 && d[0].order == 1);
  CHECK_STR(d[0].id, "oai-mini-primary");
  CHECK(d[0].input_cost_per_token == 0.00000015);
  CHECK(d[0].output_cost_per_token == 6.0e-07);
  CHECK(d[0].max_input_tokens == 128000);

  CHECK_STR(d[1].provider, "openrouter");
  CHECK_STR(d[1].upstream_model, "openai/gpt-4o-mini");
  CHECK_STR(d[1].api_base, "https://openrouter.ai/api/v1");
  CHECK_STR(d[1].host, "openrouter.ai");
  CHECK_STR(d[1].base_path, "/api/v1");
  CHECK_STR(d[1].api_key, "sk-or-456");
  CHECK(d[1].weight == 2 && d[1].order == 2);
  CHECK_STR(d[1].id, "gpt-4o-mini-1");

  CHECK_STR(d[2].provider, "hosted_vllm");
  CHECK_STR(d[2].upstream_model, "meta-llama/Meta-Llama-3-8B-Instruct");
  CHECK_STR(d[2].api_base, "http://[fd00::12]:8000/v1");
  CHECK_STR(d[2].host, "fd00::12");
  CHECK(d[2].port == 8000 && !d[2].tls);
  CHECK_STR(d[2].base_path, "/v1");
  CHECK(d[2].api_key == NULL);
  CHECK(d[2].rpm == 60); /* deployment-level rpm, as LiteLLM reads it */
  CHECK_STR(d[2].id, "llama-3-8b-0");

  CHECK_STR(d[3].host, "api.groq.com");
  CHECK_STR(d[3].base_path, "/openai/v1");
  CHECK_STR(d[3].api_key, "gsk_789");
  CHECK_STR(d[3].id, "llama-3-8b-1");

  CHECK_STR(d[4].upstream_model, "qwen2.5:7b");
  CHECK_STR(d[4].host, "localhost");
  CHECK(d[4].port == 11434);

  CHECK_STR(c->master_key, "sk-master");
  CHECK(c->num_retries == 3);  /* router_settings wins over litellm_settings */
  CHECK(c->timeout_s == 120);  /* router timeout unset: litellm request_timeout */
  CHECK_STR(c->listen_host, "::1");
  CHECK(c->port == 8080);
  CHECK(c->workers == 4);
  CHECK_STR(c->data_dir, "/var/lib/sluice");
  CHECK(c->max_body_bytes == 8u << 20);
  CHECK(c->max_header_bytes == 65536);
  CHECK(c->header_timeout_ms == 5000);
  CHECK(c->body_timeout_ms == 60000);
  CHECK(c->keepalive_timeout_ms == 0);
  CHECK(c->drain_timeout_ms == 2500);
  CHECK(c->connect_timeout_ms == 750);
  CHECK_STR(c->ca_file, "/dev/null");
  CHECK_STR(c->log_level, "debug");
  CHECK(c->access_log == false);

  /* warnings: each once, with its first line */
  CHECK(nwarn(&w, "temperature") == 1);
  CHECK(nwarn(&w, "t.yaml:13: model_list[0].litellm_params.temperature: not supported by "
                  "sluice yet, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:38: model_list[3].litellm_params.drop_params: not supported") == 1);
  CHECK(nwarn(&w, "t.yaml:46: litellm_settings.drop_params: not supported yet, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:49: litellm_settings.success_callback: not supported yet") == 1);
  CHECK(nwarn(&w, "t.yaml:52: router_settings.routing_strategy: not supported yet, ignored") ==
        1);
  CHECK(nwarn(&w, "t.yaml:54: router_settings.fallbacks: not supported yet, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:55: router_settings.redis_host: not supported yet") == 1);
  CHECK(nwarn(&w, "t.yaml:56: router_settings.frobnicate: unknown router_settings key") == 1);
  CHECK(nwarn(&w, "t.yaml:60: general_settings.database_url: not supported yet") == 1);
  CHECK(nwarn(&w, "t.yaml:62: environment_variables: not applied by sluice") == 1);
  CHECK(w.n == 10);
  sl_config_free(c);
  unsetenv("TEST_OPENAI_KEY");
  unsetenv("TEST_OPENROUTER_KEY");
  unsetenv("TEST_GROQ_KEY");
  unsetenv("TEST_MASTER_KEY");
}

/* ---- the embedded default ---- */

static void embedded_default(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  clean_env();
  memset(&w, 0, sizeof w);
  int rc = sl_config_load_string(sl_config_default_yaml, strlen(sl_config_default_yaml),
                                 "<embedded>", collect, &w, &c, err, sizeof err);
  CHECK(rc == 0);
  if (rc)
    return;
  CHECK(w.n == 0);
  CHECK(c->ndeployments == 4);
  static const char *const ids[] = {"demo-0", "demo-1", "gpt-4o-mini-0", "gpt-4o-mini-1"};
  for (size_t i = 0; i < 4 && i < c->ndeployments; i++) {
    struct sl_deployment *d = &c->deployments[i];
    CHECK_STR(d->id, ids[i]);
    CHECK_STR(d->provider, "openai");
    CHECK_STR(d->upstream_model, "mock-model");
    CHECK_STR(d->host, "127.0.0.1");
    CHECK(d->port == (i % 2 ? 18082 : 18081));
    CHECK(!d->tls);
    CHECK_STR(d->base_path, "/v1");
    CHECK_STR(d->api_key, "sk-mock-not-a-secret");
  }
  CHECK_STR(c->deployments[0].model_name, "demo");
  CHECK_STR(c->deployments[2].model_name, "gpt-4o-mini");
  CHECK_STR(c->listen_host, "127.0.0.1");
  CHECK(c->port == 4000);
  CHECK(c->master_key == NULL);
  CHECK_STR(c->source, "<embedded>");
  sl_config_free(c);
}

/* ---- errors: each class, with file, line and key path ---- */

struct err_case {
  const char *yaml;
  const char *want; /* prefix of the message */
};

static const struct err_case type_errors[] = {
    {ONE_DEP "      rpm: ten\n",
     "t.yaml:6: model_list[0].litellm_params.rpm: expected a non-negative integer, got 'ten'"},
    {ONE_DEP "      rpm: -5\n",
     "t.yaml:6: model_list[0].litellm_params.rpm: expected a non-negative integer, got '-5'"},
    {ONE_DEP "      tpm: 1.5\n",
     "t.yaml:6: model_list[0].litellm_params.tpm: expected a non-negative integer, got '1.5'"},
    {"model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/x\n"
     "      api_key: 12345\n",
     "t.yaml:5: model_list[0].litellm_params.api_key: expected a string, got '12345' (YAML "
     "reads it as an integer; quote it"},
    {"model_list:\n  - model_name: 1.5\n    litellm_params:\n      model: openai/x\n",
     "t.yaml:2: model_list[0].model_name: expected a string, got '1.5' (YAML reads it as a "
     "number"},
    {"model_list:\n  - model_name: yes\n    litellm_params:\n      model: openai/x\n",
     "t.yaml:2: model_list[0].model_name: expected a string, got 'yes' (YAML reads it as a "
     "boolean"},
    {ONE_DEP "      api_base: [http://x]\n",
     "t.yaml:6: model_list[0].litellm_params.api_base: expected a string, got a list"},
    {ONE_DEP "      timeout: -1\n",
     "t.yaml:6: model_list[0].litellm_params.timeout: expected a non-negative number, got '-1'"},
    {ONE_DEP "      order: 0\n",
     "t.yaml:6: model_list[0].litellm_params.order: expected an integer >= 1, got '0'"},
    {ONE_DEP "      max_retries: two\n",
     "t.yaml:6: model_list[0].litellm_params.max_retries: expected a non-negative integer, "
     "got 'two'"},
    {ONE_DEP "    model_info:\n      max_input_tokens: lots\n",
     "t.yaml:7: model_list[0].model_info.max_input_tokens: expected a non-negative integer"},
    {ONE_DEP "    model_info:\n      id: true\n",
     "t.yaml:7: model_list[0].model_info.id: expected a string or an integer, got 'true'"},
    {ONE_DEP "router_settings:\n  num_retries: -1\n",
     "t.yaml:7: router_settings.num_retries: expected a non-negative integer, got '-1'"},
    {ONE_DEP "router_settings:\n  timeout: 0\n",
     "t.yaml:7: router_settings.timeout: expected a positive number, got '0'"},
    {ONE_DEP "litellm_settings:\n  request_timeout: soon\n",
     "t.yaml:7: litellm_settings.request_timeout: expected a positive number, got 'soon'"},
    {ONE_DEP "general_settings:\n  master_key: 1234\n",
     "t.yaml:7: general_settings.master_key: expected a string, got '1234'"},
    {ONE_DEP "sluice_settings:\n  access_log: maybe\n",
     "t.yaml:7: sluice_settings.access_log: expected a boolean (true/false, yes/no, on/off), "
     "got 'maybe'"},
    {ONE_DEP "sluice_settings:\n  workers: ten\n",
     "t.yaml:7: sluice_settings.workers: expected an integer between 0 and 1024, got 'ten'"},
    {ONE_DEP "sluice_settings:\n  port: 70000\n",
     "t.yaml:7: sluice_settings.port: expected an integer between 0 and 65535, got '70000'"},
    {ONE_DEP "sluice_settings:\n  max_body_bytes: 16XB\n",
     "t.yaml:7: sluice_settings.max_body_bytes: expected a size in bytes"},
    {ONE_DEP "sluice_settings:\n  max_header_bytes: 100\n",
     "t.yaml:7: sluice_settings.max_header_bytes: expected a size in bytes of at least 1024 "
     "(e.g. 1048576, \"512KB\", \"16MiB\"), got '100'"},
    {ONE_DEP "sluice_settings:\n  header_timeout: 10 parsecs\n",
     "t.yaml:7: sluice_settings.header_timeout: expected a positive duration (seconds, or e.g. "
     "\"500ms\", \"10s\", \"2m\"), got '10 parsecs'"},
    {ONE_DEP "sluice_settings:\n  connect_timeout: 0s\n",
     "t.yaml:7: sluice_settings.connect_timeout: expected a positive duration"},
    {ONE_DEP "sluice_settings:\n  drain_timeout: -1s\n",
     "t.yaml:7: sluice_settings.drain_timeout: expected a duration"},
    {ONE_DEP "sluice_settings:\n  log_level: verbose\n",
     "t.yaml:7: sluice_settings.log_level: expected one of debug|info|warn|error, got 'verbose'"},
    {ONE_DEP "sluice_settings: 4000\n",
     "t.yaml:6: sluice_settings: expected a mapping, got a scalar '4000'"},
};

static void errors_types(void) {
  char err[512];
  for (size_t i = 0; i < sizeof type_errors / sizeof type_errors[0]; i++)
    CHECK(fails_with(type_errors[i].yaml, type_errors[i].want, err, sizeof err));
}

static const struct err_case structure_errors[] = {
    {"model_list: []\n", "t.yaml:1: model_list: empty; sluice has nothing to serve"},
    {"general_settings: {}\n", "t.yaml:1: model_list: missing or empty; sluice has nothing"},
    {"model_list:\n", "t.yaml:1: model_list: missing or empty"},
    {"", "t.yaml:1: the configuration is empty"},
    {"# only a comment\n", "t.yaml:1: the configuration is empty"},
    {"- a\n- b\n", "t.yaml:1: expected a mapping at the top level, got a list"},
    {"model_list: {a: 1}\n", "t.yaml:1: model_list: expected a list of deployments, got a mapping"},
    {"model_list:\n  - gpt-4o\n",
     "t.yaml:2: model_list[0]: expected a mapping with model_name and litellm_params, got a "
     "scalar"},
    {"model_list:\n  - litellm_params:\n      model: openai/x\n",
     "t.yaml:2: model_list[0].model_name: missing (required)"},
    {ONE_DEP "  - model_name: other\n", "t.yaml:6: model_list[1].litellm_params: missing"},
    {ONE_DEP "  - model_name: other\n    litellm_params: openai/gpt-4o\n",
     "t.yaml:7: model_list[1].litellm_params: expected a mapping, got a scalar 'openai/gpt-4o'"},
    {"model_list:\n  - model_name: m\n    litellm_params:\n      api_key: x\n",
     "t.yaml:4: model_list[0].litellm_params.model: missing (required)"},
    {"model_list:\n  - model_name: m\n    litellm_params:\n      model:\n",
     "t.yaml:4: model_list[0].litellm_params.model: missing (required)"},
    {"model_list:\n  - model_name: \"\"\n    litellm_params:\n      model: openai/x\n",
     "t.yaml:2: model_list[0].model_name: must not be empty"},
    {"model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/\n",
     "t.yaml:4: model_list[0].litellm_params.model: expected 'provider/model' or a model name, "
     "got 'openai/'"},
    {ONE_DEP "      rpm: 1\n      rpm: 2\n",
     "t.yaml:7: model_list[0].litellm_params.rpm: duplicate key (first at line 6)"},
    {ONE_DEP "general_settings:\n  master_key: sk-a\ngeneral_settings:\n  master_key: sk-b\n",
     "t.yaml:8: general_settings: duplicate key (first at line 6)"},
    {ONE_DEP "general_settings:\n  master_key: \"\"\n",
     "t.yaml:7: general_settings.master_key: empty; remove the key"},
    {ONE_DEP "    model_info: {id: same}\n"
             "  - model_name: n\n    litellm_params: {model: openai/y, api_key: k}\n"
             "    model_info: {id: same}\n",
     "t.yaml:9: model_list[1].model_info.id: id 'same' is also the id of model_list[0]"},
    {ONE_DEP "  - model_name: x\n    litellm_params: {model: openai/y, api_key: k}\n"
             "    model_info: {id: m-0}\n",
     "t.yaml:8: model_list[1].model_info.id: id 'm-0' is also the id of model_list[0]"},
    {ONE_DEP "---\nmodel_list: []\n",
     "t.yaml:7: a second YAML document ('---') is not allowed"},
};

static void errors_structure(void) {
  char err[512];
  for (size_t i = 0; i < sizeof structure_errors / sizeof structure_errors[0]; i++)
    CHECK(fails_with(structure_errors[i].yaml, structure_errors[i].want, err, sizeof err));
}

static const char three_deps[] =
    "model_list:\n"
    "  - model_name: a\n"
    "    litellm_params: {model: openai/a, api_key: k}\n"
    "  - model_name: b\n"
    "    litellm_params: {model: openrouter/b, api_key: k}\n"
    "  - model_name: c\n"
    "    litellm_params:\n"
    "      model: %s\n"
    "%s";

static const struct err_case provider_errors[] = {
    {"anthropic/claude-3-5-sonnet-20241022",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'anthropic' is not supported yet "
     "(supported: openai, hosted_vllm, openrouter, ollama's /v1 via openai/ with api_base)"},
    {"azure/gpt-4o-eu",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'azure' is not supported yet"},
    {"bedrock/anthropic.claude-3",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'bedrock' is not supported yet"},
    {"gemini/gemini-1.5-pro", "t.yaml:8: model_list[2].litellm_params.model: provider 'gemini'"},
    {"vertex_ai/gemini-pro", "t.yaml:8: model_list[2].litellm_params.model: provider 'vertex_ai'"},
    {"ollama/llama3", "t.yaml:8: model_list[2].litellm_params.model: provider 'ollama' is not"},
    {"meta-llama/Llama-3-8B",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'meta-llama' is not supported yet "
     "(supported: openai, hosted_vllm, openrouter, ollama's /v1 via openai/ with api_base); if "
     "'meta-llama/Llama-3-8B' is the model name your server expects, write "
     "'openai/meta-llama/Llama-3-8B'"},
    {"openai/*",
     "t.yaml:8: model_list[2].litellm_params.model: wildcard models ('openai/*') are not "
     "supported yet"},
    {"hosted_vllm/qwen",
     "t.yaml:8: model_list[2].litellm_params.api_base: missing; provider 'hosted_vllm' needs "
     "api_base"},
    {"custom_openai/qwen",
     "t.yaml:8: model_list[2].litellm_params.api_base: missing; provider 'custom_openai' needs "
     "api_base"},
};

static const struct err_case url_errors[] = {
    {"      api_base: ftp://example.com/v1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'ftp://example.com/v1' (expected an http:// or https:// URL)"},
    {"      api_base: http://\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got 'http://' "
     "(URL has no host)"},
    {"      api_base: http://host:99999/v1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://host:99999/v1' (invalid port"},
    {"      api_base: http://host:/v1\n", "t.yaml:9: model_list[2].litellm_params.api_base: "},
    {"      api_base: \"http://[::1/v1\"\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://[::1/v1' (unterminated '['"},
    {"      api_base: http://user:pw@host/v1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://user:pw@host/v1' (credentials in the URL"},
    {"      api_base: http://host/v1?x=1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://host/v1?x=1' (query strings"},
    {"      api_base: http://bad host/v1\n", "t.yaml:9: model_list[2].litellm_params.api_base: "},
    {"      api_base: http://[1.2.3.4]/v1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://[1.2.3.4]/v1' (only IPv6 addresses go in brackets)"},
};

static void errors_providers_and_urls(void) {
  char yaml[1024], err[512];
  for (size_t i = 0; i < sizeof provider_errors / sizeof provider_errors[0]; i++) {
    snprintf(yaml, sizeof yaml, three_deps, provider_errors[i].yaml, "");
    CHECK(fails_with(yaml, provider_errors[i].want, err, sizeof err));
  }
  for (size_t i = 0; i < sizeof url_errors / sizeof url_errors[0]; i++) {
    snprintf(yaml, sizeof yaml, three_deps, "hosted_vllm/qwen", url_errors[i].yaml);
    CHECK(fails_with(yaml, url_errors[i].want, err, sizeof err));
  }
}

static void errors_sluice_settings(void) {
  char err[512];
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  wokers: 4\n",
                   "t.yaml:7: sluice_settings.wokers: unknown key (did you mean 'workers'?)", err,
                   sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  max_body_byte: 1\n",
                   "t.yaml:7: sluice_settings.max_body_byte: unknown key (did you mean "
                   "'max_body_bytes'?)",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  completely_else: 1\n",
                   "t.yaml:7: sluice_settings.completely_else: unknown key", err, sizeof err));
  CHECK(strstr(err, "did you mean") == NULL);
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  listen: localhost\n",
                   "t.yaml:7: sluice_settings.listen: expected 'host:port' or '[v6addr]:port', "
                   "got 'localhost' (missing ':port'",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  listen: \":4000\"\n",
                   "t.yaml:7: sluice_settings.listen: expected 'host:port' or '[v6addr]:port', "
                   "got ':4000' (invalid host)",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  listen: 0.0.0.0:http\n",
                   "t.yaml:7: sluice_settings.listen: expected 'host:port' or '[v6addr]:port', "
                   "got '0.0.0.0:http' (invalid port",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  listen: 0.0.0.0:4000\n  port: 5000\n",
                   "t.yaml:8: sluice_settings.port: conflicts with sluice_settings.listen", err,
                   sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  host: \"not a host\"\n",
                   "t.yaml:7: sluice_settings.host: expected a host name or IP address, got "
                   "'not a host'",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  ca_file: /nonexistent/ca.pem\n",
                   "t.yaml:7: sluice_settings.ca_file: cannot read '/nonexistent/ca.pem': No "
                   "such file or directory",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  data_dir: \"\"\n",
                   "t.yaml:7: sluice_settings.data_dir: must not be empty", err, sizeof err));
}

static void errors_yaml_syntax(void) {
  char err[512];
  CHECK(fails_with("model_list:\n  - model_name: m\n    litellm_params: {model: x\n",
                   "t.yaml:4:1: YAML syntax error: did not find expected ',' or '}' (while "
                   "parsing a flow mapping at line 3)",
                   err, sizeof err));
  CHECK(fails_with("model_list:\n  - model_name: m\n   bad: indent\n",
                   "t.yaml:3:", err, sizeof err));
  CHECK(strstr(err, "YAML syntax error") != NULL);
  CHECK(fails_with("a: *nowhere\n", "t.yaml:1:4: YAML syntax error: found undefined alias",
                   err, sizeof err));
  CHECK(fails_with("model_list: \"unterminated\n", "t.yaml:2:1: YAML syntax error: found "
                   "unexpected end of stream",
                   err, sizeof err));
  CHECK(fails_with("{a: 1}: 2\nmodel_list: []\n", "t.yaml:1: keys must be strings, got a mapping",
                   err, sizeof err));
  const char bad_utf8[] = "model_list: \xff\xfe\n";
  CHECK(fails_with(bad_utf8, "t.yaml: YAML error: invalid leading UTF-8 octet at byte 12", err,
                   sizeof err));
}

/* ---- environment ---- */

static void env_interpolation(void) {
  struct sl_config *c;
  char err[512];
  const char *y = "model_list:\n"
                  "  - model_name: m\n"
                  "    litellm_params:\n"
                  "      model: os.environ/T_MODEL\n"
                  "      api_base: os.environ/T_BASE\n"
                  "      api_key: os.environ/T_KEY\n"
                  "      rpm: os.environ/T_RPM\n"
                  "sluice_settings:\n"
                  "  port: os.environ/T_PORT\n"
                  "  access_log: os.environ/T_LOG\n";
  setenv("T_MODEL", "hosted_vllm/qwen", 1);
  setenv("T_BASE", "http://10.0.0.5:8000/v1", 1);
  setenv("T_KEY", "12345", 1); /* digits from the environment are still a string */
  setenv("T_RPM", "100", 1);
  setenv("T_PORT", "0", 1);
  setenv("T_LOG", "off", 1);
  CHECK(load(y, &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK_STR(c->deployments[0].provider, "hosted_vllm");
    CHECK_STR(c->deployments[0].host, "10.0.0.5");
    CHECK_STR(c->deployments[0].api_key, "12345");
    CHECK(c->deployments[0].rpm == 100);
    CHECK(c->port == 0);
    CHECK(!c->access_log);
    sl_config_free(c);
  }
  setenv("T_RPM", "lots", 1);
  CHECK(fails_with(y, "t.yaml:7: model_list[0].litellm_params.rpm: expected a non-negative "
                   "integer, got 'lots' (from os.environ/T_RPM)", err, sizeof err));
  setenv("T_RPM", "100", 1);
  unsetenv("T_KEY");
  CHECK(fails_with(y, "t.yaml:6: model_list[0].litellm_params.api_key: environment variable "
                   "T_KEY is not set (from 'os.environ/T_KEY')", err, sizeof err));
  unsetenv("T_MODEL");
  unsetenv("T_BASE");
  unsetenv("T_RPM");
  unsetenv("T_PORT");
  unsetenv("T_LOG");
  CHECK(fails_with(ONE_DEP "general_settings:\n  master_key: os.environ/\n",
                   "t.yaml:7: general_settings.master_key: 'os.environ/' names no environment "
                   "variable", err, sizeof err));
  CHECK(fails_with(ONE_DEP "general_settings:\n  master_key: os.environ/T_UNSET_MK\n"
                   "environment_variables:\n  T_UNSET_MK: sk-1\n",
                   "t.yaml:7: general_settings.master_key: environment variable T_UNSET_MK is "
                   "not set (from 'os.environ/T_UNSET_MK'); it is listed under "
                   "environment_variables", err, sizeof err));
}

static void env_fallbacks(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  const char *y = "model_list:\n"
                  "  - model_name: a\n"
                  "    litellm_params: {model: openai/gpt-4o}\n"
                  "  - model_name: b\n"
                  "    litellm_params: {model: openai/x, api_base: \"http://127.0.0.1:9/v1\"}\n"
                  "  - model_name: c\n"
                  "    litellm_params: {model: openrouter/x}\n"
                  "  - model_name: d\n"
                  "    litellm_params: {model: hosted_vllm/x, api_base: \"http://h:1\"}\n"
                  "  - model_name: e\n"
                  "    litellm_params: {model: openai/x, api_key: \"\"}\n";
  clean_env();
  setenv("OPENAI_API_KEY", "sk-env-openai", 1);
  setenv("OR_API_KEY", "sk-env-or", 1);
  setenv("HOSTED_VLLM_API_KEY", "vllm-key", 1);
  setenv("LITELLM_MASTER_KEY", "mk-no-prefix", 1);
  memset(&w, 0, sizeof w);
  CHECK(sl_config_load_string(y, strlen(y), "t.yaml", collect, &w, &c, err, sizeof err) == 0);
  if (c) {
    CHECK_STR(c->deployments[0].api_key, "sk-env-openai");
    CHECK(c->deployments[1].api_key == NULL); /* the OpenAI key never goes elsewhere */
    CHECK_STR(c->deployments[2].api_key, "sk-env-or");
    CHECK_STR(c->deployments[3].api_key, "vllm-key");
    CHECK_STR(c->deployments[4].api_key, "sk-env-openai"); /* "" is unset */
    CHECK_STR(c->deployments[3].base_path, "");
    CHECK(c->deployments[3].port == 1);
    CHECK_STR(c->master_key, "mk-no-prefix");
    CHECK(nwarn(&w, "general_settings.master_key: does not start with 'sk-'") == 1);
    CHECK(w.n == 1);
    sl_config_free(c);
  }
  clean_env();
}

/* ---- warnings ---- */

static void warnings_once(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  const char *y = "model_list:\n"                                            /* 1 */
                  "  - model_name: a\n"                                      /* 2 */
                  "    litellm_params: {model: openai/a, api_key: k, temperature: 1}\n"
                  "    tpmm: 3\n"                                            /* 4 */
                  "  - model_name: a\n"                                      /* 5 */
                  "    litellm_params: {model: openai/a, api_key: k, temperature: 1,"
                  " api_bsae: x}\n"                                          /* 6 */
                  "  - model_name: a\n"                                      /* 7 */
                  "    litellm_params: {model: openai/a, api_key: k, temperature: 1}\n"
                  "    tpmm: 3\n"                                            /* 9 */
                  "model_lsit: []\n"                                         /* 10 */
                  "callbacks: [x]\n"                                         /* 11 */
                  "include: [other.yaml]\n"                                  /* 12 */
                  "general_settings: {master_key: nope}\n";                  /* 13 */
  CHECK(load(y, &c, err, sizeof err, &w) == 0);
  if (!c)
    return;
  CHECK(nwarn(&w, "temperature") == 1);
  CHECK(nwarn(&w, "t.yaml:3: model_list[0].litellm_params.temperature: not supported by "
                  "sluice yet, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:4: model_list[0].tpmm: unknown model_list entry key, ignored "
                  "(did you mean 'tpm'?)") == 1);
  CHECK(nwarn(&w, "t.yaml:6: model_list[1].litellm_params.api_bsae: not supported by sluice "
                  "yet, ignored (did you mean 'api_base'?)") == 1);
  CHECK(nwarn(&w, "t.yaml:10: model_lsit: unknown top-level key, ignored (did you mean "
                  "'model_list'?)") == 1);
  CHECK(nwarn(&w, "t.yaml:11: callbacks: unknown top-level key, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:12: include: not supported yet, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:13: general_settings.master_key: does not start with 'sk-'") == 1);
  CHECK(w.n == 7);
  sl_config_free(c);
  /* a NULL callback is fine */
  CHECK(load(y, &c, err, sizeof err, NULL) == 0);
  sl_config_free(c);
}

/* ---- YAML features ---- */

static void anchors_and_merge_keys(void) {
  struct sl_config *c;
  char err[512];
  const char *y = "x-common: &common\n"
                  "  api_base: http://127.0.0.1:18081/v1\n"
                  "  api_key: &key sk-shared\n"
                  "  rpm: 10\n"
                  "x-more: &more {tpm: 99, rpm: 11}\n"
                  "model_list:\n"
                  "  - model_name: a\n"
                  "    litellm_params:\n"
                  "      <<: *common\n"
                  "      model: openai/a\n"
                  "      rpm: 20\n"
                  "  - model_name: b\n"
                  "    litellm_params:\n"
                  "      <<: [*common, *more]\n"
                  "      model: openai/b\n"
                  "  - model_name: c\n"
                  "    litellm_params: {model: openai/c, api_base: \"http://h/\", api_key: *key}\n";
  struct warns w;
  CHECK(load(y, &c, err, sizeof err, &w) == 0);
  if (!c) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK(c->ndeployments == 3);
  CHECK(c->deployments[0].rpm == 20); /* explicit key beats the merged one */
  CHECK_STR(c->deployments[0].api_key, "sk-shared");
  CHECK(c->deployments[0].port == 18081);
  CHECK(c->deployments[1].rpm == 10); /* first merged map wins */
  CHECK(c->deployments[1].tpm == 99);
  CHECK_STR(c->deployments[2].api_key, "sk-shared");
  CHECK_STR(c->deployments[2].api_base, "http://h");
  CHECK_STR(c->deployments[2].base_path, "");
  CHECK(nwarn(&w, "x-common: unknown top-level key") == 1);
  CHECK(nwarn(&w, "x-more: unknown top-level key") == 1);
  sl_config_free(c);
  /* merge keys that are not maps, and recursion */
  CHECK(fails_with(ONE_DEP "    model_info:\n      <<: 5\n",
                   "t.yaml:7: model_list[0].model_info.<<: expected a mapping or a list of "
                   "mappings, got '5'", err, sizeof err));
  CHECK(fails_with("a: &a\n  <<: *a\nmodel_list: []\n", "t.yaml:3: model_list: empty", err,
                   sizeof err)); /* unknown keys are not walked */
  CHECK(fails_with(ONE_DEP "    model_info: &mi\n      id: x\n      <<: *mi\n",
                   "t.yaml:6: model_list[0].model_info.<<: merge keys nested too deeply", err,
                   sizeof err));
}

static void nulls_are_unset(void) {
  struct sl_config *c;
  char err[512];
  const char *y = "model_list:\n"
                  "  - model_name: m\n"
                  "    litellm_params:\n"
                  "      model: openai/x\n"
                  "      api_key: sk-1\n"
                  "      api_base: ~\n"
                  "      rpm: null\n"
                  "    model_info:\n"
                  "general_settings:\n"
                  "router_settings:\n"
                  "sluice_settings:\n"
                  "  port:\n";
  CHECK(load(y, &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK_STR(c->deployments[0].api_base, "https://api.openai.com/v1");
    CHECK(c->deployments[0].rpm == 0);
    CHECK(c->port == 4000);
    CHECK(c->master_key == NULL);
    sl_config_free(c);
  }
}

static void precedence(void) {
  struct sl_config *c;
  char err[512];
  CHECK(load(ONE_DEP "litellm_settings: {num_retries: 4, request_timeout: 30}\n"
                     "router_settings: {timeout: 45.5}\n",
             &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK(c->num_retries == 4 && c->timeout_s == 45.5);
    sl_config_free(c);
  }
  /* costs: litellm_params (LiteLLM's custom pricing) beats model_info; rpm likewise */
  CHECK(load("model_list:\n"
             "  - model_name: m\n"
             "    rpm: 5\n"
             "    tpm: 7\n"
             "    litellm_params: {model: openai/x, api_key: k, rpm: 50,"
             " input_cost_per_token: 0.5}\n"
             "    model_info: {input_cost_per_token: 0.25, output_cost_per_token: 0.75, id: 42}\n",
             &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK(c->deployments[0].rpm == 50 && c->deployments[0].tpm == 7);
    CHECK(c->deployments[0].input_cost_per_token == 0.5);
    CHECK(c->deployments[0].output_cost_per_token == 0.75);
    CHECK_STR(c->deployments[0].id, "42");
    sl_config_free(c);
  }
}

static void listen_forms(void) {
  struct sl_config *c;
  char err[512];
  static const struct {
    const char *yaml, *host;
    uint16_t port;
  } cases[] = {
      {"sluice_settings: {listen: \"0.0.0.0:8080\"}\n", "0.0.0.0", 8080},
      {"sluice_settings: {listen: \"[::]:0\"}\n", "::", 0},
      {"sluice_settings: {listen: \"localhost:4001\"}\n", "localhost", 4001},
      {"sluice_settings: {host: 0.0.0.0, port: 9000}\n", "0.0.0.0", 9000},
      {"sluice_settings: {host: \"[::1]\"}\n", "::1", 4000},
      {"sluice_settings: {port: 1234}\n", "127.0.0.1", 1234},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char y[512];
    snprintf(y, sizeof y, ONE_DEP "%s", cases[i].yaml);
    CHECK(load(y, &c, err, sizeof err, NULL) == 0);
    if (!c)
      continue;
    CHECK_STR(c->listen_host, cases[i].host);
    CHECK(c->port == cases[i].port);
    sl_config_free(c);
  }
}

static void load_file(void) {
  struct sl_config *c;
  char err[512], path[] = "/tmp/sluice-test-config-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  const char y[] = ONE_DEP "      rpm: ten\n";
  CHECK(write(fd, y, sizeof y - 1) == (ssize_t)(sizeof y - 1));
  close(fd);
  CHECK(sl_config_load_file(path, NULL, NULL, &c, err, sizeof err) == -EINVAL);
  char want[600];
  snprintf(want, sizeof want, "%s:6: model_list[0].litellm_params.rpm: expected", path);
  CHECK(strncmp(err, want, strlen(want)) == 0);
  fd = open(path, O_WRONLY | O_TRUNC);
  CHECK(write(fd, ONE_DEP, sizeof ONE_DEP - 1) == (ssize_t)(sizeof ONE_DEP - 1));
  close(fd);
  CHECK(sl_config_load_file(path, NULL, NULL, &c, err, sizeof err) == 0);
  if (c) {
    CHECK_STR(c->source, path);
    sl_config_free(c);
  }
  unlink(path);
  CHECK(sl_config_load_file("/nonexistent/sluice.yaml", NULL, NULL, &c, err, sizeof err) ==
        -ENOENT);
  CHECK(c == NULL);
  CHECK_STR(err, "/nonexistent/sluice.yaml: cannot read config file: No such file or directory");
  CHECK(sl_config_load_file("/tmp", NULL, NULL, &c, err, sizeof err) == -EISDIR);
  sl_config_free(NULL);
}

/* ---- value parsers ---- */

static void yaml11_typing(void) {
  static const struct {
    const char *s;
    enum sl_yaml_type t;
  } cases[] = {
      {"", SL_YAML_NULL},       {"~", SL_YAML_NULL},        {"null", SL_YAML_NULL},
      {"NULL", SL_YAML_NULL},   {"yes", SL_YAML_BOOL},      {"No", SL_YAML_BOOL},
      {"on", SL_YAML_BOOL},     {"OFF", SL_YAML_BOOL},      {"true", SL_YAML_BOOL},
      {"y", SL_YAML_STR},       {"n", SL_YAML_STR},         {"0", SL_YAML_INT},
      {"-17", SL_YAML_INT},     {"1_000", SL_YAML_INT},     {"0x1F", SL_YAML_INT},
      {"0b101", SL_YAML_INT},   {"017", SL_YAML_INT},       {"1:30", SL_YAML_INT},
      {"1.5", SL_YAML_FLOAT},   {"6.0e-07", SL_YAML_FLOAT}, {".5", SL_YAML_FLOAT},
      {"-.inf", SL_YAML_FLOAT}, {".NaN", SL_YAML_FLOAT},    {"1.", SL_YAML_FLOAT},
      {"1e5", SL_YAML_STR},     {"gpt-4o", SL_YAML_STR},    {"sk-123", SL_YAML_STR},
      {"4o", SL_YAML_STR},      {"o1", SL_YAML_STR},        {"qwen2.5:7b", SL_YAML_STR},
      {"09", SL_YAML_STR},      {"1.2.3", SL_YAML_STR},     {"-", SL_YAML_STR},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    enum sl_yaml_type t = sl_config_yaml11_type(cases[i].s);
    if (t != cases[i].t)
      fprintf(stderr, "  '%s': got %d want %d\n", cases[i].s, t, cases[i].t);
    CHECK(t == cases[i].t);
  }
}

static void numbers(void) {
  int64_t v;
  double d;
  bool b;
  CHECK(sl_config_parse_int("42", &v) == 0 && v == 42);
  CHECK(sl_config_parse_int("-7", &v) == 0 && v == -7);
  CHECK(sl_config_parse_int("1_000_000", &v) == 0 && v == 1000000);
  CHECK(sl_config_parse_int("1__0", &v) == 0 && v == 10);
  CHECK(sl_config_parse_int("_1", &v) == -EINVAL);
  CHECK(sl_config_parse_int("1_", &v) == -EINVAL);
  CHECK(sl_config_parse_int("010", &v) == -EINVAL);
  CHECK(sl_config_parse_int("1.0", &v) == -EINVAL);
  CHECK(sl_config_parse_int("", &v) == -EINVAL);
  CHECK(sl_config_parse_int("ten", &v) == -EINVAL);
  CHECK(sl_config_parse_int("99999999999999999999", &v) == -ERANGE);
  CHECK(sl_config_parse_number("0.5", &d) == 0 && d == 0.5);
  CHECK(sl_config_parse_number("2.5e-06", &d) == 0 && d == 2.5e-06);
  CHECK(sl_config_parse_number("3", &d) == 0 && d == 3);
  CHECK(sl_config_parse_number("inf", &d) == -EINVAL);
  CHECK(sl_config_parse_number("nan", &d) == -EINVAL);
  CHECK(sl_config_parse_number("0x10", &d) == -EINVAL);
  CHECK(sl_config_parse_number("1e999", &d) == -EINVAL);
  CHECK(sl_config_parse_bool("Yes", &b) == 0 && b);
  CHECK(sl_config_parse_bool("off", &b) == 0 && !b);
  CHECK(sl_config_parse_bool("1", &b) == -EINVAL);
  CHECK(sl_config_parse_bool("y", &b) == -EINVAL);
}

static void sizes(void) {
  uint64_t v;
  CHECK(sl_config_parse_size("1048576", &v) == 0 && v == 1048576);
  CHECK(sl_config_parse_size("16MiB", &v) == 0 && v == 16u << 20);
  CHECK(sl_config_parse_size("16mib", &v) == 0 && v == 16u << 20);
  CHECK(sl_config_parse_size("512KB", &v) == 0 && v == 512000);
  CHECK(sl_config_parse_size("512KiB", &v) == 0 && v == 512u << 10);
  CHECK(sl_config_parse_size("64k", &v) == 0 && v == 64u << 10);
  CHECK(sl_config_parse_size("2 MB", &v) == 0 && v == 2000000);
  CHECK(sl_config_parse_size("1G", &v) == 0 && v == 1u << 30);
  CHECK(sl_config_parse_size("1GB", &v) == 0 && v == 1000000000);
  CHECK(sl_config_parse_size("100B", &v) == 0 && v == 100);
  CHECK(sl_config_parse_size("1_024", &v) == 0 && v == 1024);
  CHECK(sl_config_parse_size("1.5MiB", &v) == -EINVAL);
  CHECK(sl_config_parse_size("-1", &v) == -EINVAL);
  CHECK(sl_config_parse_size("MiB", &v) == -EINVAL);
  CHECK(sl_config_parse_size("16XB", &v) == -EINVAL);
  CHECK(sl_config_parse_size("16 MiB x", &v) == -EINVAL);
  CHECK(sl_config_parse_size("99999999999GiB", &v) == -ERANGE);
}

static void durations(void) {
  uint64_t v;
  CHECK(sl_config_parse_duration_ms("10", &v) == 0 && v == 10000);
  CHECK(sl_config_parse_duration_ms("0.5", &v) == 0 && v == 500);
  CHECK(sl_config_parse_duration_ms("500ms", &v) == 0 && v == 500);
  CHECK(sl_config_parse_duration_ms("10s", &v) == 0 && v == 10000);
  CHECK(sl_config_parse_duration_ms("1.5s", &v) == 0 && v == 1500);
  CHECK(sl_config_parse_duration_ms("2m", &v) == 0 && v == 120000);
  CHECK(sl_config_parse_duration_ms("1h", &v) == 0 && v == 3600000);
  CHECK(sl_config_parse_duration_ms("10 s", &v) == 0 && v == 10000);
  CHECK(sl_config_parse_duration_ms("0", &v) == 0 && v == 0);
  CHECK(sl_config_parse_duration_ms("1e3ms", &v) == 0 && v == 1000);
  CHECK(sl_config_parse_duration_ms("-1s", &v) == -EINVAL);
  CHECK(sl_config_parse_duration_ms("10S", &v) == -EINVAL);
  CHECK(sl_config_parse_duration_ms("1d", &v) == -EINVAL);
  CHECK(sl_config_parse_duration_ms("1m30s", &v) == -EINVAL);
  CHECK(sl_config_parse_duration_ms("s", &v) == -EINVAL);
  CHECK(sl_config_parse_duration_ms("1e300h", &v) == -ERANGE);
}

static void urls(void) {
  struct sl_config_url u;
  const char *why;
  CHECK(sl_config_parse_url("https://api.openai.com/v1", &u, &why) == 0);
  CHECK_STR(u.host, "api.openai.com");
  CHECK(u.port == 443 && u.tls);
  CHECK_STR(u.path, "/v1");
  sl_config_url_clear(&u);
  CHECK(sl_config_parse_url("HTTP://Example.com:8080//", &u, &why) == 0);
  CHECK_STR(u.host, "Example.com");
  CHECK(u.port == 8080 && !u.tls);
  CHECK_STR(u.path, "");
  sl_config_url_clear(&u);
  CHECK(sl_config_parse_url("http://[::1]:8000/a/b/", &u, &why) == 0);
  CHECK_STR(u.host, "::1");
  CHECK(u.port == 8000);
  CHECK_STR(u.path, "/a/b");
  sl_config_url_clear(&u);
  CHECK(sl_config_parse_url("http://[::1]", &u, &why) == 0);
  CHECK(u.port == 80);
  sl_config_url_clear(&u);
  CHECK(sl_config_parse_url("http://host_name.internal", &u, &why) == 0);
  sl_config_url_clear(&u);
  CHECK(sl_config_parse_url("http://host:0/", &u, &why) == -EINVAL);
  CHECK(sl_config_parse_url("http://[::1]x/", &u, &why) == -EINVAL);
  CHECK(sl_config_parse_url("http://[zz]/", &u, &why) == -EINVAL);
  CHECK(sl_config_parse_url("http://-bad/", &u, &why) == -EINVAL);
  CHECK(sl_config_parse_url("api.openai.com/v1", &u, &why) == -EINVAL);
  CHECK(sl_config_parse_url("http://h/v1#frag", &u, &why) == -EINVAL);
}

static void listen_parser(void) {
  char *h;
  uint16_t p;
  const char *why;
  CHECK(sl_config_parse_listen("127.0.0.1:4000", &h, &p, &why) == 0);
  CHECK_STR(h, "127.0.0.1");
  CHECK(p == 4000);
  free(h);
  CHECK(sl_config_parse_listen("[fe80::1]:65535", &h, &p, &why) == 0);
  CHECK_STR(h, "fe80::1");
  CHECK(p == 65535);
  free(h);
  CHECK(sl_config_parse_listen("::1:4000", &h, &p, &why) == -EINVAL); /* v6 needs brackets */
  CHECK(h == NULL);
  CHECK(sl_config_parse_listen("[::1]", &h, &p, &why) == -EINVAL);
  CHECK(sl_config_parse_listen("host:65536", &h, &p, &why) == -EINVAL);
  CHECK(sl_config_parse_listen("host:", &h, &p, &why) == -EINVAL);
}

static void did_you_mean(void) {
  static const char *const keys[] = {"workers", "listen", "max_body_bytes", "ca_file", "port"};
  CHECK_STR(sl_config_did_you_mean("wokers", keys, 5), "workers");
  CHECK_STR(sl_config_did_you_mean("Listen", keys, 5), "listen");
  CHECK_STR(sl_config_did_you_mean("max_body_byte", keys, 5), "max_body_bytes");
  CHECK(sl_config_did_you_mean("max_body_size", keys, 5) == NULL); /* too far */
  CHECK_STR(sl_config_did_you_mean("cafile", keys, 5), "ca_file");
  CHECK(sl_config_did_you_mean("bananas", keys, 5) == NULL);
  CHECK(sl_config_did_you_mean("x", keys, 5) == NULL);
}

CHECK_MAIN(T(defaults), T(full_config), T(embedded_default), T(errors_types),
           T(errors_structure), T(errors_providers_and_urls), T(errors_sluice_settings),
           T(errors_yaml_syntax), T(env_interpolation), T(env_fallbacks), T(warnings_once),
           T(anchors_and_merge_keys), T(nulls_are_unset), T(precedence), T(listen_forms),
           T(load_file), T(yaml11_typing), T(numbers), T(sizes), T(durations), T(urls),
           T(listen_parser), T(did_you_mean))
