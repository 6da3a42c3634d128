/* Tracing (OpenTelemetry) settings: sluice_settings.tracing, LiteLLM's
 * litellm_settings.callbacks / success_callback / failure_callback naming "otel", and the
 * OpenTelemetry environment (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_EXPORTER_OTLP_[TRACES_]HEADERS,
 * OTEL_SERVICE_NAME, OTEL_SDK_DISABLED; LiteLLM's OTEL_EXPORTER, OTEL_ENDPOINT, OTEL_HEADERS),
 * resolved once every section is read into cfg->tracing (core/trace.c exports).
 * The one idea: tracing is off unless something asks for it (enabled: true, callbacks
 * "otel", or an OTLP endpoint in the environment; enabled: false wins), and then its
 * settings come from the first source that has them: sluice_settings.tracing, then the
 * standard OTEL_* variables, then LiteLLM's. To add a setting: a key in tracing_keys, its
 * field in struct sl_tracing (config.h), and its resolution in sl_cfg_tracing_resolve. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"
#include "net/wire/otlp_json.h"

#define N   SL_CFG_N
#define KEY SL_CFG_KEY
#define SCR SL_CFG_SCR

/* ---- litellm_settings.callbacks (and success_callback, failure_callback) ---- */

static int add_callback(struct sl_cfg_ctx *c, yaml_node_t *e, const char *ip, char *name, void *ud) {
  struct sl_cfg_scratch *s = ud;
  (void)ip;
  if (strcmp(name, "otel") == 0) {
    s->tracing_cb = true;
    s->tracing_cb_node = e;
  } else {
    char kp[SL_CFG_PATH];
    snprintf(kp, sizeof kp, "%s", ip);
    char *br = strrchr(kp, '[');
    if (br) *br = 0; /* warned once per list, not per position */
    sl_cfg_warn(c, e, kp,
                "not supported yet: callback '%.80s' ignored (sluice exports traces with \"otel\": "
                "OpenTelemetry over OTLP/HTTP)",
                name);
  }
  free(name);
  return 0;
}

int sl_cfg_parse_callbacks(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_cfg_scratch *s = field;
  if (v->type == YAML_SCALAR_NODE) { /* one name written as a string */
    char *name = NULL;
    int rc = sl_cfg_string(c, v, path, &name);
    if (rc) return rc;
    return add_callback(c, v, path, name, s);
  }
  return sl_cfg_strings(c, v, path, "callback names", add_callback, s);
}

/* ---- sluice_settings.tracing ---- */

static const struct sl_cfg_key tracing_keys[] = {
    KEY("enabled", SL_K_BOOL, SCR(c.tracing.enabled)),
    KEY("endpoint", SL_K_STR, SCR(tracing_endpoint)),
    KEY("headers", SL_K_STR, SCR(tracing_headers)),
    KEY("service_name", SL_K_STR, SCR(c.tracing.service_name)),
    KEY("capture_content", SL_K_BOOL, SCR(c.tracing.capture_content)),
    KEY("sample_ratio", SL_K_NUM, SCR(c.tracing.sample_ratio)),
};

/* Order matters: seen[0] is enabled, seen[3] service_name, seen[5] sample_ratio. */
static int finish_tracing(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                          yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  s->tracing_node = map;
  s->tracing_enabled_node = seen[0];
  if (s->c.tracing.sample_ratio > 1) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "sample_ratio");
    return sl_cfg_fail(c, seen[5], kp, "expected a number from 0 to 1, got %g", s->c.tracing.sample_ratio);
  }
  if (s->c.tracing.service_name && !s->c.tracing.service_name[0]) {
    char kp[SL_CFG_PATH];
    sl_cfg_path_join(kp, path, "service_name");
    return sl_cfg_fail(c, seen[3], kp, "must not be empty");
  }
  return 0;
}

const struct sl_cfg_section sl_cfg_tracing_section = {tracing_keys, N(tracing_keys), NULL, NULL, SL_UNKNOWN_ERROR,
                                                      NULL,         finish_tracing};

/* ---- resolution ---- */

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* The first of the sources that is set: its value and its name. */
struct src {
  const char *v, *name;
};

static struct src first(struct src a, struct src b, struct src c, struct src d) {
  if (a.v) return a;
  if (b.v) return b;
  if (c.v) return c;
  return d;
}

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

int sl_cfg_tracing_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  struct sl_tracing *t = &s->c.tracing;
  yaml_node_t *at = s->tracing_node ? s->tracing_node : s->root;
  const char *traces_ep = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), *otlp_ep = env("OTEL_EXPORTER_OTLP_ENDPOINT");
  const char *disabled = env("OTEL_SDK_DISABLED");
  if (s->tracing_enabled_node) { /* enabled: as written */
    if (t->enabled) t->source = "sluice_settings.tracing.enabled";
  } else if (disabled && strcmp(disabled, "true") == 0) {
    t->enabled = false;
  } else if (s->tracing_cb) {
    t->enabled = true, t->source = "litellm_settings.callbacks: otel";
  } else if (traces_ep || otlp_ep) {
    t->enabled = true, t->source = traces_ep ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT";
  }
  if (!t->enabled) return 0;
  const char *exporter = env("OTEL_EXPORTER"); /* LiteLLM's */
  if (exporter && strcmp(exporter, "otlp_http") != 0 && strcmp(exporter, "otlp") != 0 &&
      strcmp(exporter, "http/json") != 0)
    return sl_cfg_fail(c, s->tracing_cb_node ? s->tracing_cb_node : at, "OTEL_EXPORTER",
                       "'%.40s' is not supported: sluice exports OpenTelemetry traces over OTLP/HTTP with JSON "
                       "only (set OTEL_EXPORTER=otlp_http and an HTTP endpoint, usually port 4318)%s",
                       exporter,
                       strcmp(exporter, "console") == 0 ? "; for spans on the console, run a collector with "
                                                          "the debug exporter"
                                                        : "");
  const char *ptp = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), *pp = env("OTEL_EXPORTER_OTLP_PROTOCOL");
  const char *proto = ptp ? ptp : pp;
  if (proto && strcmp(proto, "http/json") != 0 && strcmp(proto, "http/protobuf") != 0)
    return sl_cfg_fail(c, at, ptp ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL",
                       "'%.40s' is not supported: sluice exports OTLP over HTTP with JSON bodies (http/json)", proto);
  /* the endpoint: a base URL gets /v1/traces; the traces-specific variable is used as is */
  struct src ep =
      first((struct src){s->tracing_endpoint, "sluice_settings.tracing.endpoint"},
            (struct src){traces_ep, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
            (struct src){otlp_ep, "OTEL_EXPORTER_OTLP_ENDPOINT"}, (struct src){env("OTEL_ENDPOINT"), "OTEL_ENDPOINT"});
  if (!ep.v) ep = (struct src){"http://localhost:4318", "the default"};
  struct sl_config_url u;
  const char *why = "invalid URL";
  int rc = sl_config_parse_url(ep.v, &u, &why);
  if (rc == -EINVAL) {
    char shown[512];
    sl_config_redact_url(ep.v, shown, sizeof shown);
    return sl_cfg_fail(c, at, ep.name, "expected an http(s) URL of an OTLP/HTTP receiver, got '%s' (%s)", shown, why);
  }
  if (rc) return rc;
  bool as_is = ep.v == traces_ep || ends_with(u.path, "/v1/traces");
  t->host = u.host;
  t->port = u.port;
  t->tls = u.tls;
  if (asprintf(&t->path, "%s%s", u.path[0] ? u.path : (as_is ? "/" : ""), as_is ? "" : "/v1/traces") < 0)
    t->path = NULL;
  free(u.path);
  if (!t->path || asprintf(&t->endpoint, "%s://%s%s%s:%u%s", t->tls ? "https" : "http", strchr(t->host, ':') ? "[" : "",
                           t->host, strchr(t->host, ':') ? "]" : "", (unsigned)t->port, t->path) < 0)
    return t->endpoint = NULL, -ENOMEM;
  /* headers: never echoed (they carry credentials) */
  struct src hd = first((struct src){s->tracing_headers, "sluice_settings.tracing.headers"},
                        (struct src){env("OTEL_EXPORTER_OTLP_TRACES_HEADERS"), "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
                        (struct src){env("OTEL_EXPORTER_OTLP_HEADERS"), "OTEL_EXPORTER_OTLP_HEADERS"},
                        (struct src){env("OTEL_HEADERS"), "OTEL_HEADERS"});
  if (hd.v) {
    struct sl_buf b = {0};
    int k = sl_otlp_headers_parse(hd.v, strlen(hd.v), &b, &why);
    if (k < 0) {
      sl_buf_free(&b);
      return k == -ENOMEM ? k
                          : sl_cfg_fail(c, at, hd.name,
                                        "expected key=value pairs separated by commas (values "
                                        "percent-encoded): %s; the value is not shown because it may hold "
                                        "credentials",
                                        why);
    }
    t->nheaders = k;
    t->headers = sl_buf_take(&b, &t->headers_len);
  }
  /* the batch span processor's standard variables */
  static const struct {
    const char *name;
    size_t off;
    bool u32;
    uint64_t min, max;
  } bsp[] = {
      {"OTEL_BSP_MAX_QUEUE_SIZE", offsetof(struct sl_tracing, queue_size), true, 1, 1000000},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", offsetof(struct sl_tracing, batch_size), true, 1, 1000000},
      {"OTEL_BSP_SCHEDULE_DELAY", offsetof(struct sl_tracing, schedule_delay_ms), false, 10, 3600000},
      {"OTEL_BSP_EXPORT_TIMEOUT", offsetof(struct sl_tracing, export_timeout_ms), false, 10, 3600000},
  };
  for (size_t i = 0; i < N(bsp); i++) {
    const char *v = env(bsp[i].name);
    if (!v) continue;
    int64_t x;
    if (sl_config_parse_int(v, &x) || x < (int64_t)bsp[i].min || x > (int64_t)bsp[i].max)
      return sl_cfg_fail(c, at, bsp[i].name, "expected a whole number from %llu to %llu%s, got '%.40s'",
                         (unsigned long long)bsp[i].min, (unsigned long long)bsp[i].max,
                         bsp[i].u32 ? "" : " (milliseconds)", v);
    if (bsp[i].u32)
      *(uint32_t *)(void *)((char *)t + bsp[i].off) = (uint32_t)x;
    else
      *(uint64_t *)(void *)((char *)t + bsp[i].off) = (uint64_t)x;
  }
  if (t->batch_size > t->queue_size) t->batch_size = t->queue_size; /* as the OpenTelemetry SDKs do */
  if (!t->service_name) {
    const char *sn = env("OTEL_SERVICE_NAME");
    if (!(t->service_name = strdup(sn ? sn : "sluice"))) return -ENOMEM;
  }
  return 0;
}

void sl_cfg_tracing_clear(struct sl_tracing *t) {
  free(t->endpoint);
  free(t->host);
  free(t->path);
  free(t->headers);
  free(t->service_name);
}
