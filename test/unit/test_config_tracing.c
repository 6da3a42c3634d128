/* core/config/config_tracing.c: tracing is off by default; sluice_settings.tracing,
 * litellm_settings.callbacks: [otel] and the OTEL_* environment turn it on, in that order
 * of precedence; endpoints get /v1/traces; headers are parsed and never echoed; LiteLLM's
 * console exporter and non-HTTP protocols are refused with the variable's name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config/config.h"

#undef CHECK_STR
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

static const char *const otel_env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                                       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                       "OTEL_EXPORTER_OTLP_HEADERS",
                                       "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                                       "OTEL_SERVICE_NAME",
                                       "OTEL_SDK_DISABLED",
                                       "OTEL_EXPORTER",
                                       "OTEL_ENDPOINT",
                                       "OTEL_HEADERS",
                                       "OTEL_EXPORTER_OTLP_PROTOCOL",
                                       "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                                       "OTEL_BSP_MAX_QUEUE_SIZE",
                                       "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                       "OTEL_BSP_SCHEDULE_DELAY",
                                       "OTEL_BSP_EXPORT_TIMEOUT"};

static void clean_env(void) {
  for (size_t i = 0; i < sizeof otel_env / sizeof otel_env[0]; i++) unsetenv(otel_env[i]);
}

#define BASE                                                                                                           \
  "model_list:\n"                                                                                                      \
  "  - model_name: a\n"                                                                                                \
  "    litellm_params: {model: openai/x, api_base: \"http://127.0.0.1:9/v1\", api_key: k}\n"

static char err[1024];

static int load(const char *yaml, struct sl_config **c) {
  err[0] = 0;
  return sl_config_load_string(yaml, strlen(yaml), "t.yaml", NULL, NULL, c, err, sizeof err);
}

static void off_by_default(void) {
  clean_env();
  struct sl_config *c;
  CHECK(load(BASE, &c) == 0);
  CHECK(!c->tracing.enabled);
  CHECK(c->tracing.endpoint == NULL);
  sl_config_free(c);
}

static void env_endpoint(void) {
  clean_env();
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", 1);
  setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x-t=1", 1);
  setenv("OTEL_SERVICE_NAME", "gw", 1);
  struct sl_config *c;
  CHECK(load(BASE, &c) == 0);
  CHECK(c->tracing.enabled);
  CHECK_STR(c->tracing.endpoint, "http://collector:4318/v1/traces");
  CHECK_STR(c->tracing.host, "collector");
  CHECK(c->tracing.port == 4318 && !c->tracing.tls);
  CHECK_STR(c->tracing.path, "/v1/traces");
  CHECK(c->tracing.nheaders == 2);
  CHECK_STR(c->tracing.headers, "api-key");
  CHECK_STR(c->tracing.headers + 8, "a b");
  CHECK_STR(c->tracing.service_name, "gw");
  CHECK(c->tracing.sample_ratio == 1 && !c->tracing.capture_content);
  sl_config_free(c);
  /* the traces variable is used as is */
  setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t.example/custom", 1);
  CHECK(load(BASE, &c) == 0);
  CHECK_STR(c->tracing.endpoint, "https://t.example:443/custom");
  CHECK(c->tracing.tls);
  sl_config_free(c);
  /* enabled: false wins over the environment; OTEL_SDK_DISABLED too */
  CHECK(load(BASE "sluice_settings:\n  tracing: {enabled: false}\n", &c) == 0);
  CHECK(!c->tracing.enabled);
  sl_config_free(c);
  setenv("OTEL_SDK_DISABLED", "true", 1);
  CHECK(load(BASE, &c) == 0);
  CHECK(!c->tracing.enabled);
  sl_config_free(c);
  clean_env();
}

static void litellm_callbacks(void) {
  clean_env();
  struct sl_config *c;
  CHECK(load(BASE "litellm_settings:\n  success_callback: otel\n", &c) == 0);
  CHECK(c->tracing.enabled);
  CHECK_STR(c->tracing.endpoint, "http://localhost:4318/v1/traces"); /* the OTLP default */
  CHECK_STR(c->tracing.service_name, "sluice");
  sl_config_free(c);
  setenv("OTEL_ENDPOINT", "http://otel:4318/v1/traces", 1);
  setenv("OTEL_HEADERS", "Authorization=Bearer%20x", 1);
  CHECK(load(BASE "litellm_settings:\n  callbacks: [\"otel\", \"langfuse\"]\n", &c) == 0);
  CHECK_STR(c->tracing.endpoint, "http://otel:4318/v1/traces");
  CHECK(c->tracing.nheaders == 1);
  sl_config_free(c);
  setenv("OTEL_EXPORTER", "console", 1);
  CHECK(load(BASE "litellm_settings:\n  callbacks: [otel]\n", &c) == -EINVAL);
  CHECK(strstr(err, "OTEL_EXPORTER: 'console' is not supported") != NULL);
  setenv("OTEL_EXPORTER", "otlp_grpc", 1);
  CHECK(load(BASE "litellm_settings:\n  callbacks: [otel]\n", &c) == -EINVAL);
  CHECK(strstr(err, "OTLP/HTTP") != NULL);
  clean_env();
  /* other callbacks alone: tracing stays off */
  CHECK(load(BASE "litellm_settings:\n  callbacks: [langfuse]\n", &c) == 0);
  CHECK(!c->tracing.enabled);
  sl_config_free(c);
}

static void sluice_section(void) {
  clean_env();
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1", 1);
  struct sl_config *c;
  CHECK(load(BASE "sluice_settings:\n  tracing:\n    enabled: true\n    endpoint: http://127.0.0.1:4318\n"
                  "    headers: \"k=v\"\n    service_name: edge\n    capture_content: true\n    sample_ratio: 0.5\n",
             &c) == 0);
  CHECK(c->tracing.enabled && c->tracing.capture_content && c->tracing.sample_ratio == 0.5);
  CHECK_STR(c->tracing.endpoint, "http://127.0.0.1:4318/v1/traces"); /* the section wins */
  CHECK_STR(c->tracing.service_name, "edge");
  CHECK(c->tracing.nheaders == 1);
  sl_config_free(c);
  CHECK(load(BASE "sluice_settings:\n  tracing: {sample_ratio: 2}\n", &c) == -EINVAL);
  CHECK(strstr(err, "sluice_settings.tracing.sample_ratio") != NULL);
  CHECK(load(BASE "sluice_settings:\n  tracing: {endpont: x}\n", &c) == -EINVAL); /* ours: strict */
  CHECK(strstr(err, "endpont") != NULL);
  CHECK(load(BASE "sluice_settings:\n  tracing: {enabled: true, endpoint: \"ftp://x\"}\n", &c) == -EINVAL);
  CHECK(strstr(err, "sluice_settings.tracing.endpoint") != NULL);
  /* a bad header list is refused without echoing it */
  CHECK(load(BASE "sluice_settings:\n  tracing: {enabled: true, headers: \"secret-token\"}\n", &c) == -EINVAL);
  CHECK(strstr(err, "sluice_settings.tracing.headers") != NULL && strstr(err, "secret-token") == NULL);
  clean_env();
}

static void batch_processor(void) {
  clean_env();
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", 1);
  struct sl_config *c;
  CHECK(load(BASE, &c) == 0);
  CHECK(c->tracing.queue_size == 2048 && c->tracing.batch_size == 512);
  CHECK(c->tracing.schedule_delay_ms == 1000 && c->tracing.export_timeout_ms == 10000);
  sl_config_free(c);
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "250", 1);
  CHECK(load(BASE, &c) == 0);
  CHECK(c->tracing.queue_size == 100 && c->tracing.batch_size == 100); /* a batch fits the queue */
  CHECK(c->tracing.schedule_delay_ms == 250);
  sl_config_free(c);
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "soon", 1);
  CHECK(load(BASE, &c) == -EINVAL);
  CHECK(strstr(err, "OTEL_BSP_EXPORT_TIMEOUT: expected a whole number") != NULL);
  clean_env();
}

CHECK_MAIN(T(off_by_default), T(batch_processor), T(env_endpoint), T(litellm_callbacks), T(sluice_section))
