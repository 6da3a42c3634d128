/* core/config: the LiteLLM config.yaml loader. Defaults, a realistic full config, the embedded
 * default, every error class with its exact FILE:LINE: key.path, os.environ/ substitution,
 * sizes, durations, listen addresses, URLs, anchors and merge keys, once-only warnings, and the
 * router keys (routing strategy, aliases, fallbacks and their group checks, cooldowns), hedging
 * in all its forms, and the cache settings. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config/config.h"
#include "core/config/config_parse.h"

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
  /* cluster mode reads these (test_config_cluster.c) */
  static const char *const redis_env[] = {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_USERNAME",
                                          "REDIS_URL", "REDIS_SSL", "REDIS_CLUSTER_NODES",
                                          "REDIS_SENTINEL_NODES", "REDIS_SERVICE_NAME"};
  for (size_t i = 0; i < sizeof redis_env / sizeof redis_env[0]; i++)
    unsetenv(redis_env[i]);
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

/* One more deployment group, for configs that name a second group (an embeddings group). */
#define EMB_DEP(name) "  - model_name: " name "\n    litellm_params:\n      model: openai/e\n      api_key: sk-x\n"

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
  CHECK(d->responses_api == NULL); /* the provider's default */
  CHECK(c->responses.ttl_ms == 30ull * 86400 * 1000 && c->responses.max_size == (size_t)256 << 20);
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
  CHECK(c->num_retries == 2);
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
  /* router_settings */
  CHECK(c->routing_strategy == SL_STRAT_SHUFFLE);
  CHECK(c->aliases == NULL && c->naliases == 0);
  CHECK(c->fallbacks == NULL && c->nfallbacks == 0);
  CHECK(c->context_window_fallbacks == NULL && c->ncontext_window_fallbacks == 0);
  CHECK(c->content_policy_fallbacks == NULL && c->ncontent_policy_fallbacks == 0);
  CHECK(c->default_fallbacks.names == NULL && c->default_fallbacks.n == 0);
  CHECK(c->max_fallbacks == 5);
  CHECK(c->allowed_fails == 3);
  CHECK(c->cooldown_time_s == 5);
  CHECK(c->retry_after_s == 0);
  /* sluice_settings */
  CHECK(c->stream_idle_timeout_ms == 60000);
  CHECK(c->cooldown_max_ms == 300000);
  CHECK(c->hedging.enabled == false);
  CHECK(c->hedging.delay_ms == 0);
  CHECK(c->hedging.quantile == 0.95);
  CHECK(c->hedging.min_delay_ms == 10);
  CHECK(c->hedging.max_extra == 1);
  CHECK(c->hedging.budget_ratio == 0.10);
  CHECK(c->hedging.budget_burst == 10);
  /* cache */
  CHECK(c->cache.enabled == false);
  CHECK_STR(c->cache.type, "local");
  CHECK(c->cache.ttl_s == 3600);
  CHECK_STR(c->cache.namespace_, "");
  CHECK(c->cache.max_size == (size_t)1 << 30);
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
  CHECK(nwarn(&w, "routing_strategy") == 0); /* read now */
  CHECK(nwarn(&w, "fallbacks") == 0);
  /* router_settings.redis_host names the Redis of cluster mode (issue 16): read, not warned */
  CHECK(nwarn(&w, "redis_host") == 0);
  CHECK(c->cluster.redis.enabled);
  CHECK_STR(c->cluster.redis.host, "localhost");
  CHECK_STR(c->cluster.redis.source, "router_settings.redis_host");
  CHECK(nwarn(&w, "t.yaml:56: router_settings.frobnicate: unknown router_settings key") == 1);
  CHECK(nwarn(&w, "t.yaml:60: general_settings.database_url: not supported yet") == 1);
  CHECK(nwarn(&w, "t.yaml:62: environment_variables: not applied by sluice") == 1);
  CHECK(w.n == 7);
  CHECK(c->routing_strategy == SL_STRAT_LATENCY);
  CHECK(c->nfallbacks == 1);
  if (c->nfallbacks == 1) {
    CHECK_STR(c->fallbacks[0].group, "gpt-4o-mini");
    CHECK(c->fallbacks[0].to.n == 1);
    CHECK_STR(c->fallbacks[0].to.names[0], "llama-3-8b");
  }
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
  CHECK(c->ndeployments == 6);
  static const char *const ids[] = {"demo-0", "demo-1", "gpt-4o-mini-0", "gpt-4o-mini-1", "gpt-4o-0", "gpt-4o-1"};
  for (size_t i = 0; i < 6 && i < c->ndeployments; i++) {
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
  CHECK_STR(c->deployments[4].model_name, "gpt-4o");
  CHECK(c->deployments[4].input_cost_per_token > c->deployments[2].input_cost_per_token);
  /* the demo router: learned, over gpt-4o and gpt-4o-mini, with the built-in model */
  CHECK(c->nrouters == 1);
  if (c->nrouters == 1) {
    CHECK_STR(c->routers[0].name, "auto");
    CHECK(c->routers[0].kind == SL_ROUTER_LEARNED);
    CHECK_STR(c->routers[0].strong_model, "gpt-4o");
    CHECK_STR(c->routers[0].weak_model, "gpt-4o-mini");
    CHECK(c->routers[0].rmodel != NULL);
  }
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
     "t.yaml:5: model_list[0].litellm_params.api_key: expected a string, got a value that is "
     "not one (not shown: it is a secret) (YAML reads it as an integer; quote it"},
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
     "t.yaml:7: general_settings.master_key: expected a string, got a value that is not one "
     "(not shown: it is a secret)"},
    {ONE_DEP "sluice_settings:\n  access_log: maybe\n",
     "t.yaml:7: sluice_settings.access_log: expected a boolean (true/false, yes/no, on/off), "
     "got 'maybe'"},
    {ONE_DEP "sluice_settings:\n  workers: ten\n",
     "t.yaml:7: sluice_settings.workers: expected an integer between 0 and 1024, got 'ten'"},
    {ONE_DEP "sluice_settings:\n  max_keys: 0\n",
     "t.yaml:7: sluice_settings.max_keys: expected an integer between 1 and 1000000, got '0'"},
    {ONE_DEP "sluice_settings:\n  max_keys: 2000000\n",
     "t.yaml:7: sluice_settings.max_keys: expected an integer between 1 and 1000000, got '2000000'"},
    {ONE_DEP "sluice_settings:\n  responses:\n    ttl: 0\n",
     "t.yaml:8: sluice_settings.responses.ttl: expected a positive duration (seconds, or e.g. \"500ms\", "
     "\"10s\", \"2m\"), got '0'"},
    {ONE_DEP "    model_info:\n      responses_api: nativ\n",
     "t.yaml:7: model_list[0].model_info.responses_api: expected one of native|translate, got 'nativ'"},
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
    {ONE_DEP "general_settings:\n  max_budget: 10\n  budget_duration: 30x\n",
     "t.yaml:8: general_settings.budget_duration: expected a duration such as \"30d\""},
    {ONE_DEP "general_settings:\n  budget_duration: 0.5s\n",
     "t.yaml:7: general_settings.budget_duration: expected a duration such as \"30d\""},
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
    {"cohere/command-r",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'cohere' is not supported yet "
     "(supported: openai, anthropic, azure, bedrock, vertex_ai, gemini, hosted_vllm, openrouter, ollama, groq, deepseek, "
     "mistral, together_ai, fireworks_ai, xai, lm_studio, custom_openai, and any OpenAI-compatible "
     "server as openai/ with api_base)"},
    {"azure/gpt-4o-eu",
     "t.yaml:8: model_list[2].litellm_params.api_base: missing; provider 'azure' needs api_base"},
    /* Bedrock and Vertex AI need where to go (the environment and AWS files are cleared in main) */
    {"bedrock/anthropic.claude-3",
     "t.yaml:8: model_list[2].litellm_params.aws_region_name: missing, and neither AWS_REGION nor "
     "AWS_DEFAULT_REGION nor the profile's region is set"},
    {"bedrock/invoke/meta.llama3-8b-instruct-v1:0",
     "t.yaml:8: model_list[2].litellm_params.model: bedrock/invoke/ speaks the Anthropic Messages body"},
    {"vertex_ai/gemini-pro", "t.yaml:8: model_list[2].litellm_params.vertex_project: missing"},
    {"sagemaker/llama3", "t.yaml:8: model_list[2].litellm_params.model: provider 'sagemaker' is not"},
    {"meta-llama/Llama-3-8B",
     "t.yaml:8: model_list[2].litellm_params.model: provider 'meta-llama' is not supported yet "
     "(supported: openai, anthropic, azure, bedrock, vertex_ai, gemini, hosted_vllm, openrouter, ollama, groq, deepseek, "
     "mistral, together_ai, fireworks_ai, xai, lm_studio, custom_openai, and any OpenAI-compatible "
     "server as openai/ with api_base); if "
     "'meta-llama/Llama-3-8B' is the model name your server expects, write "
     "'openai/meta-llama/Llama-3-8B'"},
    {"openai/*", /* a wildcard model needs a wildcard model_name (test_config_plan.c: wildcards) */
     "t.yaml:8: model_list[2].litellm_params.model: 'openai/*' has a '*' but model_name 'c' has none"},
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
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL (credentials "
     "in the URL are not supported (use api_key)); the value is not shown"},
    {"      api_base: http://host/v1?x=1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://host/v1?x=REDACTED' (query strings"},
    {"      api_base: http://bad host/v1\n", "t.yaml:9: model_list[2].litellm_params.api_base: "},
    {"      api_base: http://[1.2.3.4]/v1\n",
     "t.yaml:9: model_list[2].litellm_params.api_base: expected an http(s) URL, got "
     "'http://[1.2.3.4]/v1' (only IPv6 addresses go in brackets)"},
};

static void errors_providers_and_urls(void) {
  char yaml[1024], err[512];
  for (const char *const *v = (const char *const[]){"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_REGION_NAME", "AWS_PROFILE",
                                                    "VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
                                                    NULL};
       *v; v++)
    unsetenv(*v);
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sluice-test/credentials", 1);
  setenv("AWS_CONFIG_FILE", "/nonexistent/sluice-test/config", 1);
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

/* ---- router_settings, fallbacks, aliases, hedging, cache ---- */

static const char router_yaml[] =
    "model_list:\n"                                                               /* 1 */
    "  - model_name: gpt-4o\n"                                                    /* 2 */
    "    litellm_params: {model: openai/gpt-4o, api_key: sk-a}\n"                 /* 3 */
    "  - model_name: gpt-4o-mini\n"                                               /* 4 */
    "    litellm_params: {model: openai/gpt-4o-mini, api_key: sk-a}\n"            /* 5 */
    "  - model_name: gpt-4o-mini\n"                                               /* 6 */
    "    litellm_params:\n"                                                       /* 7 */
    "      model: openrouter/openai/gpt-4o-mini\n"                                /* 8 */
    "      api_key: sk-or\n"                                                      /* 9 */
    "  - model_name: claude-haiku\n"                                              /* 10 */
    "    litellm_params: {model: openai/claude-3-haiku, api_base: \"http://127.0.0.1:9000/v1\"}\n"
    "  - model_name: llama-70b\n"                                                 /* 12 */
    "    litellm_params: {model: hosted_vllm/llama, api_base: \"http://10.0.0.5:8000/v1\"}\n"
    "router_settings:\n"                                                          /* 14 */
    "  routing_strategy: usage-based-routing-v2\n"                                /* 15 */
    "  num_retries: 2\n"                                                          /* 16 */
    "  timeout: 30\n"                                                             /* 17 */
    "  model_group_alias:\n"                                                      /* 18 */
    "    gpt-4: gpt-4o\n"                                                         /* 19 */
    "    claude-3-haiku-20240307: {model: claude-haiku, hidden: true}\n"          /* 20 */
    "  fallbacks:\n"                                                              /* 21 */
    "    - gpt-4o: [gpt-4o-mini, claude-haiku]\n"                                 /* 22 */
    "    - gpt-4o-mini: llama-70b\n"                                              /* 23 */
    "  context_window_fallbacks: [{\"gpt-4o-mini\": [\"gpt-4o\"]}, {\"gpt-4\": [\"llama-70b\"]}]\n"
    "  content_policy_fallbacks: [{claude-haiku: [gpt-4o]}]\n"                    /* 25 */
    "  default_fallbacks: [\"llama-70b\"]\n"                                      /* 26 */
    "  max_fallbacks: 3\n"                                                        /* 27 */
    "  allowed_fails: 2\n"                                                        /* 28 */
    "  cooldown_time: 30\n"                                                       /* 29 */
    "  retry_after: 1.5\n"                                                        /* 30 */
    "  redis_host: localhost\n"                                                   /* 31 */
    "litellm_settings:\n"                                                         /* 32 */
    "  cache: true\n"                                                             /* 33 */
    "  cache_params:\n"                                                           /* 34 */
    "    type: disk\n"                                                            /* 35 */
    "    ttl: 600\n"                                                              /* 36 */
    "    namespace: \"prod\"\n"                                                   /* 37 */
    "    supported_call_types: [\"acompletion\"]\n"                               /* 38 */
    "    disk_cache_dir: /tmp/litellm-cache\n"                                    /* 39 */
    "  allowed_fails: 9\n"                                                        /* 40 */
    "  fallbacks: [{\"*\": [gpt-4o-mini]}]\n"                                     /* 41 */
    "sluice_settings:\n"                                                          /* 42 */
    "  stream_idle_timeout: 45s\n"                                                /* 43 */
    "  cooldown_max: 10m\n"                                                       /* 44 */
    "  hedging:\n"                                                                /* 45 */
    "    delay: p99\n"                                                            /* 46 */
    "    min_delay: 20ms\n"                                                       /* 47 */
    "    max_extra: 2\n"                                                          /* 48 */
    "    budget: \"5%\"\n"                                                        /* 49 */
    "    budget_burst: 20\n"                                                      /* 50 */
    "  cache:\n"                                                                  /* 51 */
    "    max_size: 2GiB\n";                                                       /* 52 */

static bool names_are(const struct sl_name_list *l, const char *a, const char *b) {
  if (l->n != (b ? 2u : a ? 1u : 0u))
    return false;
  return (!a || strcmp(l->names[0], a) == 0) && (!b || strcmp(l->names[1], b) == 0);
}

static void router_config(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  int rc = load(router_yaml, &c, err, sizeof err, &w);
  CHECK(rc == 0);
  if (rc) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK(c->routing_strategy == SL_STRAT_USAGE);
  CHECK(c->num_retries == 2 && c->timeout_s == 30);
  CHECK(c->naliases == 2);
  if (c->naliases == 2) {
    CHECK_STR(c->aliases[0].alias, "gpt-4");
    CHECK_STR(c->aliases[0].group, "gpt-4o");
    CHECK(!c->aliases[0].hidden);
    CHECK_STR(c->aliases[1].alias, "claude-3-haiku-20240307");
    CHECK_STR(c->aliases[1].group, "claude-haiku");
    CHECK(c->aliases[1].hidden);
  }
  CHECK(c->nfallbacks == 2); /* router_settings wins over litellm_settings */
  if (c->nfallbacks == 2) {
    CHECK_STR(c->fallbacks[0].group, "gpt-4o");
    CHECK(names_are(&c->fallbacks[0].to, "gpt-4o-mini", "claude-haiku"));
    CHECK_STR(c->fallbacks[1].group, "gpt-4o-mini");
    CHECK(names_are(&c->fallbacks[1].to, "llama-70b", NULL)); /* bare string: one-element list */
  }
  CHECK(c->ncontext_window_fallbacks == 2);
  if (c->ncontext_window_fallbacks == 2) {
    CHECK_STR(c->context_window_fallbacks[0].group, "gpt-4o-mini");
    CHECK(names_are(&c->context_window_fallbacks[0].to, "gpt-4o", NULL));
    CHECK_STR(c->context_window_fallbacks[1].group, "gpt-4"); /* an alias is a group name too */
    CHECK(names_are(&c->context_window_fallbacks[1].to, "llama-70b", NULL));
  }
  CHECK(c->ncontent_policy_fallbacks == 1);
  if (c->ncontent_policy_fallbacks == 1) {
    CHECK_STR(c->content_policy_fallbacks[0].group, "claude-haiku");
    CHECK(names_are(&c->content_policy_fallbacks[0].to, "gpt-4o", NULL));
  }
  CHECK(names_are(&c->default_fallbacks, "llama-70b", NULL));
  CHECK(c->max_fallbacks == 3);
  CHECK(c->allowed_fails == 2); /* router_settings wins */
  CHECK(c->cooldown_time_s == 30);
  CHECK(c->retry_after_s == 1.5);
  CHECK(c->cache.enabled);
  CHECK_STR(c->cache.type, "disk");
  CHECK(c->cache.ttl_s == 600);
  CHECK_STR(c->cache.namespace_, "prod");
  CHECK(c->cache.max_size == (size_t)2 << 30);
  CHECK(c->stream_idle_timeout_ms == 45000);
  CHECK(c->cooldown_max_ms == 600000);
  CHECK(c->hedging.enabled); /* a hedging map turns it on */
  CHECK(c->hedging.delay_ms == 0 && c->hedging.quantile == 0.99);
  CHECK(c->hedging.min_delay_ms == 20);
  CHECK(c->hedging.max_extra == 2);
  CHECK(c->hedging.budget_ratio == 0.05);
  CHECK(c->hedging.budget_burst == 20);
  CHECK(nwarn(&w, "redis_host") == 0); /* cluster mode's Redis (test_config_cluster.c) */
  CHECK(c->cluster.redis.enabled && c->cluster.redis.port == 6379);
  CHECK_STR(c->cluster.redis.host, "localhost");
  CHECK(!c->cluster.cache_tier); /* cache type disk: LMDB only */
  CHECK(nwarn(&w, "t.yaml:38: litellm_settings.cache_params.supported_call_types: not used by "
                  "sluice's LMDB cache, ignored") == 1);
  CHECK(nwarn(&w, "t.yaml:39: litellm_settings.cache_params.disk_cache_dir: not used") == 1);
  CHECK(w.n == 2);
  sl_config_free(c);
}

static void routing_strategies(void) {
  static const struct {
    const char *name;
    enum sl_strategy v;
  } cases[] = {
      {"simple-shuffle", SL_STRAT_SHUFFLE},
      {"least-busy", SL_STRAT_LEAST_BUSY},
      {"latency-based-routing", SL_STRAT_LATENCY},
      {"cost-based-routing", SL_STRAT_COST},
      {"usage-based-routing", SL_STRAT_USAGE},
      {"\"usage-based-routing-v2\"", SL_STRAT_USAGE},
  };
  struct sl_config *c;
  char y[512], err[512];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(y, sizeof y, ONE_DEP "router_settings:\n  routing_strategy: %s\n", cases[i].name);
    CHECK(load(y, &c, err, sizeof err, NULL) == 0);
    if (!c)
      continue;
    CHECK(c->routing_strategy == cases[i].v);
    sl_config_free(c);
  }
}

/* Two groups, a and b, for the error cases below (router_settings starts at line 5). */
#define TWO_GROUPS                                          \
  "model_list:\n"                                           \
  "  - model_name: a\n"                                     \
  "    litellm_params: {model: openai/a, api_key: k}\n"     \
  "  - {model_name: b, litellm_params: {model: openai/b, api_key: k}}\n"

static const struct err_case router_errors[] = {
    /* routing_strategy */
    {TWO_GROUPS "router_settings:\n  routing_strategy: round-robin\n",
     "t.yaml:6: router_settings.routing_strategy: expected one of simple-shuffle|least-busy|"
     "latency-based-routing|cost-based-routing|usage-based-routing|usage-based-routing-v2, got "
     "'round-robin'"},
    {TWO_GROUPS "router_settings:\n  routing_strategy: [simple-shuffle]\n",
     "t.yaml:6: router_settings.routing_strategy: expected a string, got a list"},
    /* model_group_alias */
    {TWO_GROUPS "router_settings:\n  model_group_alias: {gpt-4: gpt-4o}\n",
     "t.yaml:6: router_settings.model_group_alias.gpt-4: unknown model group 'gpt-4o' (an alias "
     "must name a model_name in model_list)"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    gpt-4: {model: aa, hidden: true}\n",
     "t.yaml:7: router_settings.model_group_alias.gpt-4.model: unknown model group 'aa' (an alias "
     "must name a model_name in model_list; did you mean 'a'?)"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: a\n    a: b\n",
     "t.yaml:8: router_settings.model_group_alias.a: 'a' is a model_name in model_list; an alias "
     "must not hide a model group"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: a\n    y: x\n",
     "t.yaml:8: router_settings.model_group_alias.y: 'x' is itself an alias; an alias must name a "
     "model_name in model_list"},
    {TWO_GROUPS "router_settings:\n  model_group_alias: [a]\n",
     "t.yaml:6: router_settings.model_group_alias: expected a mapping {alias: model group}, got "
     "a list"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: {hidden: true}\n",
     "t.yaml:7: router_settings.model_group_alias.x.model: missing (required)"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: [a]\n",
     "t.yaml:7: router_settings.model_group_alias.x: expected a model group name or {model: "
     "group, hidden: bool}, got a list"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: {model: a, hidden: maybe}\n",
     "t.yaml:7: router_settings.model_group_alias.x.hidden: expected a boolean"},
    {TWO_GROUPS "router_settings:\n  model_group_alias: {\"\": a}\n",
     "t.yaml:6: router_settings.model_group_alias: an alias must not be empty"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x:\n",
     "t.yaml:7: router_settings.model_group_alias.x: expected a model group name or {model: "
     "group, hidden: bool}, got nothing"},
    {TWO_GROUPS "router_settings:\n  model_group_alias:\n    x: a\n    x: b\n",
     "t.yaml:8: router_settings.model_group_alias.x: duplicate key (first at line 7)"},
    /* fallbacks: structure */
    {TWO_GROUPS "router_settings:\n  fallbacks: {a: [b]}\n",
     "t.yaml:6: router_settings.fallbacks: expected a list of {model group: [fallback groups]} "
     "mappings, got a mapping"},
    {TWO_GROUPS "router_settings:\n  fallbacks: [a]\n",
     "t.yaml:6: router_settings.fallbacks[0]: expected a mapping {model group: [fallback "
     "groups]}, got a scalar"},
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - {a: [b], b: [a]}\n",
     "t.yaml:7: router_settings.fallbacks[0]: expected exactly one model group per list item, "
     "got 2"},
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - a: {b: 1}\n",
     "t.yaml:7: router_settings.fallbacks[0].a: expected a list of model groups (or one model "
     "group), got a mapping"},
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - a:\n",
     "t.yaml:7: router_settings.fallbacks[0].a: expected a list of model groups (or one model "
     "group), got nothing"},
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - a: [b, 4]\n",
     "t.yaml:7: router_settings.fallbacks[0].a[1]: expected a string, got '4' (YAML reads it as "
     "an integer"},
    /* fallbacks: names that are not groups */
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - a: [b]\n    - zeta: [a]\n",
     "t.yaml:8: router_settings.fallbacks[1].zeta: unknown model group 'zeta' (not a model_name "
     "in model_list or a router_settings.model_group_alias)"},
    {TWO_GROUPS "router_settings:\n  fallbacks:\n    - a: [b,\n        bb]\n",
     "t.yaml:8: router_settings.fallbacks[0].a[1]: unknown model group 'bb' (not a model_name in "
     "model_list or a router_settings.model_group_alias; did you mean 'b'?)"},
    {TWO_GROUPS "router_settings:\n  fallbacks: [{a: gpt-5}]\n",
     "t.yaml:6: router_settings.fallbacks[0].a: unknown model group 'gpt-5'"},
    {TWO_GROUPS "router_settings:\n  fallbacks: [{\"*\": [\"*\"]}]\n",
     "t.yaml:6: router_settings.fallbacks[0].*[0]: unknown model group '*'"},
    {TWO_GROUPS "router_settings:\n  context_window_fallbacks: [{a: [big]}]\n",
     "t.yaml:6: router_settings.context_window_fallbacks[0].a[0]: unknown model group 'big'"},
    {TWO_GROUPS "router_settings:\n  content_policy_fallbacks:\n    - safe: [a]\n",
     "t.yaml:7: router_settings.content_policy_fallbacks[0].safe: unknown model group 'safe'"},
    {TWO_GROUPS "router_settings:\n  default_fallbacks: [a, z]\n",
     "t.yaml:6: router_settings.default_fallbacks[1]: unknown model group 'z'"},
    {TWO_GROUPS "router_settings:\n  default_fallbacks: z\n",
     "t.yaml:6: router_settings.default_fallbacks: unknown model group 'z'"},
    /* checked in litellm_settings too, even where router_settings overrides it */
    {TWO_GROUPS "router_settings:\n  fallbacks: [{a: [b]}]\n"
                "litellm_settings:\n  fallbacks: [{a: [q]}]\n",
     "t.yaml:8: litellm_settings.fallbacks[0].a[0]: unknown model group 'q'"},
    {TWO_GROUPS "litellm_settings:\n  default_fallbacks: [y]\n",
     "t.yaml:6: litellm_settings.default_fallbacks[0]: unknown model group 'y'"},
    /* model_list after router_settings: names are checked once it is known */
    {"router_settings:\n  fallbacks: [{a: [c]}]\n" TWO_GROUPS,
     "t.yaml:2: router_settings.fallbacks[0].a[0]: unknown model group 'c'"},
    /* numbers */
    {TWO_GROUPS "router_settings:\n  max_fallbacks: -1\n",
     "t.yaml:6: router_settings.max_fallbacks: expected a non-negative integer, got '-1'"},
    {TWO_GROUPS "router_settings:\n  allowed_fails: 1.5\n",
     "t.yaml:6: router_settings.allowed_fails: expected a non-negative integer, got '1.5'"},
    {TWO_GROUPS "litellm_settings:\n  allowed_fails: few\n",
     "t.yaml:6: litellm_settings.allowed_fails: expected a non-negative integer, got 'few'"},
    {TWO_GROUPS "router_settings:\n  cooldown_time: -5\n",
     "t.yaml:6: router_settings.cooldown_time: expected a non-negative number, got '-5'"},
    {TWO_GROUPS "router_settings:\n  retry_after: soon\n",
     "t.yaml:6: router_settings.retry_after: expected a non-negative number, got 'soon'"},
    /* sluice_settings next to them */
    {TWO_GROUPS "sluice_settings:\n  stream_idle_timeout: 0\n",
     "t.yaml:6: sluice_settings.stream_idle_timeout: expected a positive duration"},
    {TWO_GROUPS "sluice_settings:\n  cooldown_max: forever\n",
     "t.yaml:6: sluice_settings.cooldown_max: expected a positive duration"},
    {TWO_GROUPS "router_settings:\n  cooldown_time: 600\nsluice_settings:\n  cooldown_max: 5m\n",
     "t.yaml:8: sluice_settings.cooldown_max: shorter than router_settings.cooldown_time (600s)"},
    {TWO_GROUPS "litellm_settings:\n  cooldown_time: 60\nsluice_settings:\n  cooldown_max: 30s\n",
     "t.yaml:8: sluice_settings.cooldown_max: shorter than litellm_settings.cooldown_time (60s)"},
};

static void errors_router(void) {
  char err[512];
  for (size_t i = 0; i < sizeof router_errors / sizeof router_errors[0]; i++)
    CHECK(fails_with(router_errors[i].yaml, router_errors[i].want, err, sizeof err));
}

static void fallback_precedence(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  /* litellm_settings only: used */
  CHECK(load(TWO_GROUPS "litellm_settings:\n"
                        "  fallbacks: [{a: b}]\n"
                        "  context_window_fallbacks: [{b: [a]}]\n"
                        "  content_policy_fallbacks: [{\"*\": [a, b]}]\n"
                        "  default_fallbacks: b\n"
                        "  allowed_fails: 0\n"
                        "  cooldown_time: 0.5\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->nfallbacks == 1 && c->ncontext_window_fallbacks == 1 &&
          c->ncontent_policy_fallbacks == 1);
    if (c->ncontent_policy_fallbacks == 1) {
      CHECK_STR(c->content_policy_fallbacks[0].group, "*");
      CHECK(names_are(&c->content_policy_fallbacks[0].to, "a", "b"));
    }
    CHECK(names_are(&c->default_fallbacks, "b", NULL));
    CHECK(c->allowed_fails == 0);
    CHECK(c->cooldown_time_s == 0.5);
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* router_settings wins per key; an empty router list still wins */
  CHECK(load(TWO_GROUPS "router_settings:\n"
                        "  fallbacks: []\n"
                        "  default_fallbacks: [a]\n"
                        "  cooldown_time: 7\n"
                        "litellm_settings:\n"
                        "  fallbacks: [{a: b}]\n"
                        "  context_window_fallbacks: [{b: [a]}]\n"
                        "  default_fallbacks: [b]\n"
                        "  allowed_fails: 4\n"
                        "  cooldown_time: 8\n",
             &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK(c->nfallbacks == 0 && c->fallbacks == NULL);
    CHECK(c->ncontext_window_fallbacks == 1);
    CHECK(names_are(&c->default_fallbacks, "a", NULL));
    CHECK(c->allowed_fails == 4);
    CHECK(c->cooldown_time_s == 7);
    sl_config_free(c);
  }
  /* a long LiteLLM cooldown raises the unset cap instead of failing */
  CHECK(load(TWO_GROUPS "router_settings:\n  cooldown_time: 600\n", &c, err, sizeof err, NULL) ==
        0);
  if (c) {
    CHECK(c->cooldown_time_s == 600 && c->cooldown_max_ms == 600000);
    sl_config_free(c);
  }
  /* a group listed twice: LiteLLM uses the first entry; warned */
  CHECK(load(TWO_GROUPS "router_settings:\n"
                        "  fallbacks:\n"
                        "    - a: [b]\n"
                        "    - a: []\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->nfallbacks == 2 && c->fallbacks[1].to.n == 0);
    CHECK(nwarn(&w, "t.yaml:8: router_settings.fallbacks[1].a: 'a' already has an entry at "
                    "router_settings.fallbacks[0]; LiteLLM uses the first, so this one is "
                    "ignored") == 1);
    CHECK(w.n == 1);
    sl_config_free(c);
  }
  /* anchors and merge keys work in fallback entries too */
  CHECK(load(TWO_GROUPS "x-fb: &fb {a: [b]}\n"
                        "router_settings:\n"
                        "  fallbacks: [*fb, {<<: {b: [a]}}]\n",
             &c, err, sizeof err, NULL) == 0);
  if (c) {
    CHECK(c->nfallbacks == 2);
    if (c->nfallbacks == 2) {
      CHECK_STR(c->fallbacks[0].group, "a");
      CHECK_STR(c->fallbacks[1].group, "b");
    }
    sl_config_free(c);
  }
  /* an alias may be a fallback group or target; unknown alias-map keys are warned */
  CHECK(load(TWO_GROUPS "router_settings:\n"
                        "  model_group_alias: {x: {model: a, hidden: false, note: hi}}\n"
                        "  fallbacks: [{x: [b]}, {b: x}]\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->naliases == 1 && !c->aliases[0].hidden);
    CHECK(c->nfallbacks == 2);
    CHECK(nwarn(&w, "t.yaml:6: router_settings.model_group_alias.x.note: unknown "
                    "model_group_alias key, ignored") == 1);
    sl_config_free(c);
  }
}

static void hedging_forms(void) {
  static const struct {
    const char *yaml;
    bool enabled;
    uint64_t delay_ms;
    double quantile, budget;
    uint64_t min_delay_ms;
    int max_extra;
    double burst;
  } cases[] = {
      {"hedging: true", true, 0, 0.95, 0.10, 10, 1, 10},
      {"hedging: yes", true, 0, 0.95, 0.10, 10, 1, 10},
      {"hedging: false", false, 0, 0.95, 0.10, 10, 1, 10},
      {"hedging: {}", true, 0, 0.95, 0.10, 10, 1, 10},
      {"hedging: {enabled: false, delay: 80ms}", false, 80, 0.95, 0.10, 10, 1, 10},
      {"hedging: {delay: p99}", true, 0, 0.99, 0.10, 10, 1, 10},
      {"hedging: {delay: p50}", true, 0, 0.50, 0.10, 10, 1, 10},
      {"hedging: {delay: \"p99.9\"}", true, 0, 0.999, 0.10, 10, 1, 10},
      {"hedging: {delay: 50ms}", true, 50, 0.95, 0.10, 10, 1, 10},
      {"hedging: {delay: 0.25}", true, 250, 0.95, 0.10, 10, 1, 10},
      {"hedging: {budget: \"10%\"}", true, 0, 0.95, 0.10, 10, 1, 10},
      {"hedging: {budget: 2.5%}", true, 0, 0.95, 0.025, 10, 1, 10},
      {"hedging: {budget: 0.2}", true, 0, 0.95, 0.2, 10, 1, 10},
      {"hedging: {budget: 0}", true, 0, 0.95, 0, 10, 1, 10},
      {"hedging: {budget: 1}", true, 0, 0.95, 1, 10, 1, 10},
      {"hedging: {min_delay: 0, max_extra: 4, budget_burst: 1}", true, 0, 0.95, 0.10, 0, 4, 1},
      {"hedging: {min_delay: 5ms, max_extra: 3, budget_burst: 2.5}", true, 0, 0.95, 0.10, 5, 3,
       2.5},
  };
  struct sl_config *c;
  char y[512], err[512];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(y, sizeof y, ONE_DEP "sluice_settings:\n  %s\n", cases[i].yaml);
    int rc = load(y, &c, err, sizeof err, NULL);
    CHECK(rc == 0);
    if (rc) {
      fprintf(stderr, "  %s: %s\n", cases[i].yaml, err);
      continue;
    }
    const struct sl_hedging *h = &c->hedging;
    bool ok = h->enabled == cases[i].enabled && h->delay_ms == cases[i].delay_ms &&
              h->quantile == cases[i].quantile && h->budget_ratio == cases[i].budget &&
              h->min_delay_ms == cases[i].min_delay_ms && h->max_extra == cases[i].max_extra &&
              h->budget_burst == cases[i].burst;
    if (!ok)
      fprintf(stderr, "  %s: enabled %d delay %llu q %g budget %g min %llu extra %d burst %g\n",
              cases[i].yaml, h->enabled, (unsigned long long)h->delay_ms, h->quantile,
              h->budget_ratio, (unsigned long long)h->min_delay_ms, h->max_extra,
              h->budget_burst);
    CHECK(ok);
    sl_config_free(c);
  }
}

static const struct err_case hedging_errors[] = {
    {ONE_DEP "sluice_settings:\n  hedging: sometimes\n",
     "t.yaml:7: sluice_settings.hedging: expected true, false or a mapping (enabled, delay, "
     "min_delay, max_extra, budget, budget_burst), got 'sometimes'"},
    {ONE_DEP "sluice_settings:\n  hedging: [p95]\n",
     "t.yaml:7: sluice_settings.hedging: expected true, false or a mapping (enabled, delay, "
     "min_delay, max_extra, budget, budget_burst), got a list"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    delay: p100\n",
     "t.yaml:8: sluice_settings.hedging.delay: expected a positive duration (e.g. \"50ms\") or a "
     "latency quantile \"p50\"..\"p99.9\", got 'p100'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    delay: p49\n",
     "t.yaml:8: sluice_settings.hedging.delay: expected a positive duration"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    delay: P95\n",
     "t.yaml:8: sluice_settings.hedging.delay: expected a positive duration"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    delay: 0ms\n",
     "t.yaml:8: sluice_settings.hedging.delay: expected a positive duration (e.g. \"50ms\") or a "
     "latency quantile \"p50\"..\"p99.9\", got '0ms'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    delay: {p: 95}\n",
     "t.yaml:8: sluice_settings.hedging.delay: expected a positive duration (e.g. \"50ms\") or a "
     "latency quantile \"p50\"..\"p99.9\", got a mapping"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    budget: 10\n",
     "t.yaml:8: sluice_settings.hedging.budget: expected a fraction between 0 and 1 (e.g. 0.1) "
     "or a percentage (e.g. \"10%\"), got '10'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    budget: 150%\n",
     "t.yaml:8: sluice_settings.hedging.budget: expected a fraction between 0 and 1 (e.g. 0.1) "
     "or a percentage (e.g. \"10%\"), got '150%'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    budget: \"%\"\n",
     "t.yaml:8: sluice_settings.hedging.budget: expected a fraction"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    max_extra: 5\n",
     "t.yaml:8: sluice_settings.hedging.max_extra: expected an integer between 1 and 4, got '5'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    max_extra: 0\n",
     "t.yaml:8: sluice_settings.hedging.max_extra: expected an integer between 1 and 4, got '0'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    budget_burst: 0.5\n",
     "t.yaml:8: sluice_settings.hedging.budget_burst: expected a number >= 1, got '0.5'"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    min_delay: soon\n",
     "t.yaml:8: sluice_settings.hedging.min_delay: expected a duration"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    enabled: maybe\n",
     "t.yaml:8: sluice_settings.hedging.enabled: expected a boolean"},
    {ONE_DEP "sluice_settings:\n  hedging:\n    dealy: 50ms\n",
     "t.yaml:8: sluice_settings.hedging.dealy: unknown key (did you mean 'delay'?)"},
};

static void errors_hedging(void) {
  char err[512];
  for (size_t i = 0; i < sizeof hedging_errors / sizeof hedging_errors[0]; i++)
    CHECK(fails_with(hedging_errors[i].yaml, hedging_errors[i].want, err, sizeof err));
}

/* cache_params.type: semantic, LiteLLM's redis-semantic / qdrant-semantic as aliases, the
 * threshold and the embedding model keys, sluice_settings.cache.semantic_max_entries. */
static void cache_semantic(void) {
  struct sl_config *c = NULL;
  char err[512];
  struct warns w;
  CHECK(load(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params: {type: semantic}\n", &c, err, sizeof err,
             &w) == 0);
  if (c) {
    CHECK(c->cache.enabled && c->cache.semantic);
    CHECK(c->cache.similarity_threshold == 0.9);
    CHECK(c->cache.embedding_model == NULL);
    CHECK(c->cache.semantic_max_entries == 10000);
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  CHECK(load(ONE_DEP EMB_DEP("emb") "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis-semantic\n"
                     "    similarity_threshold: 0.8\n    redis_semantic_cache_embedding_model: emb\n"
                     "    host: h\n"
                     "sluice_settings:\n  cache: {semantic_max_entries: 500}\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cache.semantic);
    CHECK(c->cache.similarity_threshold == 0.8);
    CHECK(c->cache.embedding_model && strcmp(c->cache.embedding_model, "emb") == 0);
    CHECK(c->cache.semantic_max_entries == 500);
    CHECK(nwarn(&w, "litellm_settings.cache_params.type: cache type 'redis-semantic' is served by sluice's own "
                    "semantic cache: the vectors live in its LMDB store (DATA_DIR/vectors), not in Redis") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.host: not used") == 1);
    sl_config_free(c);
  }
  CHECK(load(ONE_DEP EMB_DEP("emb-q") "litellm_settings:\n  cache: true\n  cache_params:\n    type: qdrant-semantic\n"
                     "    qdrant_semantic_cache_embedding_model: emb-q\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cache.semantic);
    CHECK(c->cache.embedding_model && strcmp(c->cache.embedding_model, "emb-q") == 0);
    CHECK(nwarn(&w, "not in Qdrant") == 1);
    sl_config_free(c);
  }
  /* the embeddings group must be one */
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params:\n    type: semantic\n"
                           "    redis_semantic_cache_embedding_model: nope\n",
                   "t.yaml:10: litellm_settings.cache_params.redis_semantic_cache_embedding_model: 'nope' is not a "
                   "model_name in model_list", err, sizeof err));
  /* local stays exact */
  CHECK(load(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params: {type: local}\n", &c, err, sizeof err,
             &w) == 0);
  if (c) {
    CHECK(!c->cache.semantic);
    sl_config_free(c);
  }
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params: {type: semantic, "
                           "similarity_threshold: 1.5}\n",
                   "t.yaml:8: litellm_settings.cache_params.similarity_threshold: must be between 0 and 1", err,
                   sizeof err));
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params: {type: semantic, "
                           "similarity_threshold: -0.1}\n",
                   "t.yaml:8: litellm_settings.cache_params.similarity_threshold: expected a non-negative number", err,
                   sizeof err));
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: true\n  cache_params: {type: semantic, "
                           "redis_semantic_cache_embedding_model: a, qdrant_semantic_cache_embedding_model: b}\n",
                   "t.yaml:8: litellm_settings.cache_params.qdrant_semantic_cache_embedding_model: names another "
                   "embedding model",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  cache: {semantic_max_entries: 0}\n",
                   "t.yaml:7: sluice_settings.cache.semantic_max_entries:", err, sizeof err));
}

static void cache_types(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  /* cache: true alone: the LMDB cache with LiteLLM's defaults */
  CHECK(load(ONE_DEP "litellm_settings:\n  cache: true\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cache.enabled);
    CHECK_STR(c->cache.type, "local");
    CHECK(c->cache.ttl_s == 3600);
    CHECK_STR(c->cache.namespace_, "");
    CHECK(c->cache.max_size == (size_t)1 << 30);
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  CHECK(load(ONE_DEP "litellm_settings:\n"
                     "  cache: True\n"
                     "  cache_params: {type: local, ttl: 90.5, namespace: team-a, host: x,"
                     " port: 6379, password: p, mode: default_off}\n"
                     "sluice_settings:\n"
                     "  cache: {max_size: 1MiB}\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cache.enabled);
    CHECK_STR(c->cache.type, "local");
    CHECK(c->cache.ttl_s == 90.5);
    CHECK_STR(c->cache.namespace_, "team-a");
    CHECK(c->cache.max_size == 1u << 20);
    CHECK(nwarn(&w, "litellm_settings.cache_params.host: not used by sluice's LMDB cache") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.port: not used") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.password: not used") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.mode: not used") == 1);
    CHECK(w.n == 4);
    sl_config_free(c);
  }
  /* an unsupported type with the cache off: LiteLLM would not read it either */
  CHECK(load(ONE_DEP "litellm_settings:\n  cache: false\n  cache_params:\n    type: s3\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cache.enabled);
    CHECK_STR(c->cache.type, "local");
    CHECK(nwarn(&w, "t.yaml:9: litellm_settings.cache_params.type: cache type 's3' is not "
                    "supported by sluice (it caches in LMDB); ignored because "
                    "litellm_settings.cache is not true") == 1);
    sl_config_free(c);
  }
  /* type: redis is cluster mode (issue 16; test_config_cluster.c): with the cache off, its
   * Redis is still the one the instances share, but not a cache tier */
  CHECK(load(ONE_DEP "litellm_settings:\n  cache: false\n  cache_params:\n    type: redis\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cache.enabled);
    CHECK(c->cluster.redis.enabled && !c->cluster.cache_tier);
    CHECK(nwarn(&w, "t.yaml:9: litellm_settings.cache_params.type: 'redis' while litellm_settings.cache "
                    "is not true: this Redis serves cluster mode") == 1);
    sl_config_free(c);
  }
  /* with the cache on: LMDB stays the first tier, Redis is the second */
  CHECK(load(ONE_DEP "litellm_settings:\n  cache_params:\n    type: redis\n    host: h\n  cache: true\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cache.enabled && c->cluster.cache_tier && c->cluster.redis.enabled);
    CHECK_STR(c->cluster.redis.host, "h");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* (redis-semantic and qdrant-semantic are the semantic cache: cache_semantic) */
  static const char *const unsupported[] = {"s3", "gcs", "memcached"};
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    char y[512], want[256];
    snprintf(y, sizeof y,
             ONE_DEP "litellm_settings:\n  cache_params:\n    type: %s\n    host: h\n"
                     "  cache: true\n",
             unsupported[i]);
    snprintf(want, sizeof want,
             "t.yaml:8: litellm_settings.cache_params.type: cache type '%s' is not supported: "
             "sluice caches in LMDB (use type: local, disk or semantic)",
             unsupported[i]);
    CHECK(fails_with(y, want, err, sizeof err));
  }
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: on\n  cache_params: {ttl: 0.5}\n",
                   "t.yaml:8: litellm_settings.cache_params.ttl: expected a number >= 1, got "
                   "'0.5'", err, sizeof err));
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache: sometimes\n",
                   "t.yaml:7: litellm_settings.cache: expected a boolean", err, sizeof err));
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache_params: {type: 5}\n",
                   "t.yaml:7: litellm_settings.cache_params.type: expected a string, got '5'",
                   err, sizeof err));
  CHECK(fails_with(ONE_DEP "litellm_settings:\n  cache_params: redis\n",
                   "t.yaml:7: litellm_settings.cache_params: expected a mapping, got a scalar "
                   "'redis'", err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  cache:\n    max_size: 512KiB\n",
                   "t.yaml:8: sluice_settings.cache.max_size: expected a size in bytes of at "
                   "least 1048576", err, sizeof err));
  CHECK(fails_with(ONE_DEP "sluice_settings:\n  cache:\n    max_sise: 1GiB\n",
                   "t.yaml:8: sluice_settings.cache.max_sise: unknown key (did you mean "
                   "'max_size'?)", err, sizeof err));
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
  CHECK(sl_config_parse_duration_ms("1d", &v) == 0 && v == 86400000); /* one parser: policy/duration */
  CHECK(sl_config_parse_duration_ms("30x", &v) == -EINVAL);
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

/* ---- LiteLLM keys that used to be ignored; provider key variables; redaction ---- */

static void litellm_compat(void) {
  struct sl_config *c;
  char err[512];
  struct warns w;
  const char *y = "model_list:\n"
                  "  - model_name: a\n"
                  "    litellm_params: {model: anthropic/claude, api_base: \"http://127.0.0.1:9\"}\n"
                  "  - model_name: b\n"
                  "    litellm_params: {model: openai/x, api_base: \"http://127.0.0.1:9/v1\", api_key: k,"
                  " stream_timeout: 7}\n"
                  "  - model_name: c\n"
                  "    litellm_params: {model: together_ai/x, api_base: \"http://h/v1?key=s3cr3t\"}\n"
                  "router_settings: {stream_timeout: 2.5}\n"
                  "litellm_settings: {max_budget: 12.5, budget_duration: 7d}\n";
  /* no key variable: a warning naming it (redacted api_base), and no key */
  unsetenv("ANTHROPIC_API_KEY");
  unsetenv("TOGETHERAI_API_KEY");
  unsetenv("TOGETHER_API_KEY");
  int rc = load(y, &c, err, sizeof err, &w);
  CHECK(rc == -EINVAL); /* the query string in c's api_base */
  CHECK(strstr(err, "model_list[2].litellm_params.api_base") && strstr(err, "key=REDACTED") &&
        !strstr(err, "s3cr3t"));
  char y2[1024];
  snprintf(y2, sizeof y2, "%.*s", (int)(strstr(y, "  - model_name: c") - y), y);
  strcat(y2, "  - model_name: c\n    litellm_params: {model: together_ai/x, api_base: \"http://h/v1\"}\n"
             "router_settings: {stream_timeout: 2.5}\n"
             "litellm_settings: {max_budget: 12.5, budget_duration: 7d}\n");
  CHECK(load(y2, &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->deployments[0].api_key == NULL);
    CHECK(nwarn(&w, "t.yaml:3: model_list[0].litellm_params.api_key: not set and ANTHROPIC_API_KEY is not "
                    "set in the environment; requests to http://127.0.0.1:9 go without a key") == 1);
    CHECK(nwarn(&w, "model_list[2].litellm_params.api_key: not set and TOGETHERAI_API_KEY (or "
                    "TOGETHER_API_KEY) is not set") == 1);
    CHECK(nwarn(&w, "ignored") == 0);
    CHECK(c->deployments[0].stream_timeout_s == 2.5); /* router_settings' */
    CHECK(c->deployments[1].stream_timeout_s == 7);   /* its own wins */
    CHECK(c->max_budget == 12.5);
    CHECK_STR(c->budget_duration, "7d");
    sl_config_free(c);
  }
  /* with the variable: taken although api_base is not the provider's */
  setenv("ANTHROPIC_API_KEY", "sk-ant-env", 1);
  setenv("TOGETHER_API_KEY", "tg-env", 1);
  memset(&w, 0, sizeof w);
  CHECK(sl_config_load_string(y2, strlen(y2), "t.yaml", collect, &w, &c, err, sizeof err) == 0);
  if (c) {
    CHECK_STR(c->deployments[0].api_key, "sk-ant-env");
    CHECK_STR(c->deployments[2].api_key, "tg-env");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  unsetenv("ANTHROPIC_API_KEY");
  unsetenv("TOGETHER_API_KEY");
  /* one gateway budget */
  CHECK(fails_with(ONE_DEP "general_settings: {max_budget: 1}\nlitellm_settings: {max_budget: 2}\n",
                   "t.yaml:7: litellm_settings.max_budget: also set in general_settings.max_budget", err,
                   sizeof err));
  CHECK(fails_with(ONE_DEP "router_settings: {stream_timeout: 0}\n", "t.yaml:6: router_settings.stream_timeout: expected a positive number",
                   err, sizeof err));
  /* redaction */
  char out[256];
  sl_config_redact_url("https://u:p@h.example/v1?key=abc&x&alt=sse#frag", out, sizeof out);
  CHECK_STR(out, "https://REDACTED@h.example/v1?key=REDACTED&x&alt=REDACTED");
  sl_config_redact_url("http://h/v1", out, sizeof out);
  CHECK_STR(out, "http://h/v1");
  sl_config_redact_url("http://h/v1?key=abcdefgh", out, 12);
  CHECK(strlen(out) == 11 && !strstr(out, "abc"));
  /* odd inputs: always terminated, never a secret byte */
  static const char *const odd[] = {"", "?", "?k=s", "http://@", "http://a@b@c/x?=s&&k==s#f", "noscheme?k=s", "http://h?"};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    for (size_t n = 1; n < 40; n++) {
      memset(out, 'Z', sizeof out);
      sl_config_redact_url(odd[i], out, n);
      CHECK(strlen(out) < n);
      CHECK(!strchr(out, 's') || strstr(odd[i], "scheme"));
    }
  sl_config_redact_url("http://a@b@c/x?=s&&k==s#f", out, sizeof out);
  CHECK_STR(out, "http://REDACTED@c/x?=REDACTED&&k=REDACTED");
}

CHECK_MAIN(T(defaults), T(full_config), T(embedded_default), T(errors_types),
           T(errors_structure), T(errors_providers_and_urls), T(errors_sluice_settings),
           T(errors_yaml_syntax), T(env_interpolation), T(env_fallbacks), T(warnings_once),
           T(anchors_and_merge_keys), T(nulls_are_unset), T(precedence), T(listen_forms),
           T(load_file), T(router_config), T(routing_strategies), T(errors_router),
           T(fallback_precedence), T(hedging_forms), T(errors_hedging), T(cache_types), T(cache_semantic),
           T(yaml11_typing), T(numbers), T(sizes), T(durations), T(urls), T(litellm_compat),
           T(listen_parser), T(did_you_mean))
