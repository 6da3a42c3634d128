/* sluice_settings: sluice's own section of config.yaml (listen address, workers, limits and
 * timeouts, TLS trust, logging, stream idle timeout, cooldown cap, hedging, the cache size).
 * The one idea: this section is ours, so it is strict: an unknown key is an error with a
 * did-you-mean, and hedging's shorthand forms (`hedging: true`, `delay: p99`, `budget: 10%`)
 * are read into the one plain struct the policy code uses.
 * Every key read here is listed in README.md's config reference. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"
#include "net/tls_server.h"

#define N SL_CFG_N
#define KEY SL_CFG_KEY
#define SCR SL_CFG_SCR
#define HEDGE(f) offsetof(struct sl_hedging, f)

/* ---- sluice_settings.hedging ---- */

/* "p50" .. "p99.9" -> 0.50 .. 0.999 (read as "0.50", "0.999": the nearest doubles to what
 * was written); -EINVAL otherwise. */
static int parse_quantile(const char *s, double *q) {
  char buf[32] = "0.";
  size_t j = 2;
  double v;
  if (s[0] != 'p' || !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]))
    return -EINVAL;
  for (const char *p = s + 1; *p; p++) {
    if (p == s + 3 && *p == '.' && p[1])
      continue;
    if (!isdigit((unsigned char)*p) || j + 1 >= sizeof buf)
      return -EINVAL;
    buf[j++] = *p;
  }
  buf[j] = 0;
  if (sl_config_parse_number(s + 1, &v) || v < 50 || v > 99.9 ||
      sl_config_parse_number(buf, q))
    return -EINVAL;
  return 0;
}

/* delay: a fixed duration ("50ms", 0.05) or an adaptive quantile ("p95"). */
static int parse_hedge_delay(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                             void *field) {
  struct sl_hedging *h = field;
  const char *text, *env;
  uint64_t ms;
  if (v->type != YAML_SCALAR_NODE)
    return sl_cfg_fail(c, v, path, "expected a positive duration (e.g. \"50ms\") or a latency "
                       "quantile \"p50\"..\"p99.9\", got %s", sl_cfg_node_desc(v));
  int rc = sl_cfg_scalar(c, v, path, &text, &env);
  if (rc)
    return rc;
  if (parse_quantile(text, &h->quantile) == 0) {
    h->delay_ms = 0; /* adaptive */
    return 0;
  }
  if (sl_config_parse_duration_ms(text, &ms) == 0 && ms > 0) {
    h->delay_ms = ms;
    return 0;
  }
  return sl_cfg_fail(c, v, path, "expected a positive duration (e.g. \"50ms\") or a latency "
                     "quantile \"p50\"..\"p99.9\", got '%.80s'", text);
}

/* budget: a fraction 0..1 (0.1) or a percentage ("10%"). */
static int parse_hedge_budget(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path,
                              void *field) {
  struct sl_hedging *h = field;
  const char *text = NULL, *env;
  char num[64];
  double d;
  if (v->type == YAML_SCALAR_NODE) {
    int rc = sl_cfg_scalar(c, v, path, &text, &env);
    if (rc)
      return rc;
    size_t n = strlen(text);
    if (n > 1 && n < sizeof num && text[n - 1] == '%') {
      memcpy(num, text, n - 1);
      num[n - 1] = 0;
      if (sl_config_parse_number(num, &d) == 0 && d >= 0 && d <= 100) {
        h->budget_ratio = d / 100;
        return 0;
      }
    } else if (sl_config_parse_number(text, &d) == 0 && d >= 0 && d <= 1) {
      h->budget_ratio = d;
      return 0;
    }
  }
  return sl_cfg_fail(c, v, path, "expected a fraction between 0 and 1 (e.g. 0.1) or a "
                     "percentage (e.g. \"10%%\"), got %s%.80s%s",
                     v->type == YAML_SCALAR_NODE ? "'" : sl_cfg_node_desc(v),
                     v->type == YAML_SCALAR_NODE ? text : "",
                     v->type == YAML_SCALAR_NODE ? "'" : "");
}

static const struct sl_cfg_key hedging_keys[] = {
    KEY("enabled", SL_K_BOOL, HEDGE(enabled)),
    KEY("delay", SL_K_FUNC, 0, .fn = parse_hedge_delay),
    KEY("min_delay", SL_K_DUR, HEDGE(min_delay_ms)),
    KEY("max_extra", SL_K_INT, HEDGE(max_extra), .min = 1, .max = 4),
    KEY("budget", SL_K_FUNC, 0, .fn = parse_hedge_budget),
    KEY("budget_burst", SL_K_NUM, HEDGE(budget_burst), .min = 1),
};

static const struct sl_cfg_section hedging_section = {
    hedging_keys, N(hedging_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, NULL};

/* `hedging: true|false`, or a mapping (which turns hedging on unless it says enabled: false). */
static int parse_hedging(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_hedging *h = field;
  if (v->type == YAML_MAPPING_NODE) {
    h->enabled = true;
    return sl_cfg_parse_section(c, &hedging_section, v, path, h);
  }
  const char *text = NULL, *env;
  if (v->type == YAML_SCALAR_NODE) {
    int rc = sl_cfg_scalar(c, v, path, &text, &env);
    if (rc)
      return rc;
    if (sl_config_parse_bool(text, &h->enabled) == 0)
      return 0;
  }
  return sl_cfg_fail(c, v, path, "expected true, false or a mapping (enabled, delay, min_delay, "
                     "max_extra, budget, budget_burst), got %s%.80s%s",
                     text ? "'" : sl_cfg_node_desc(v), text ? text : "", text ? "'" : "");
}

/* ---- sluice_settings.allowed_hosts: [name, ...] ---- */

static int add_host(struct sl_cfg_ctx *c, yaml_node_t *e, const char *ip, char *name, void *ud) {
  struct sl_name_list *l = ud;
  if (!name[0] || strpbrk(name, " \t/@")) {
    int rc = sl_cfg_fail(c, e, ip, "expected a host name (no port, scheme or path), got '%.80s'", name);
    free(name);
    return rc;
  }
  char **a = realloc(l->names, (l->n + 1) * sizeof *a);
  if (!a) {
    free(name);
    return -ENOMEM;
  }
  a[l->n++] = name;
  l->names = a;
  return 0;
}

static int parse_allowed_hosts(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  return sl_cfg_strings(c, v, path, "host names", add_host, field);
}

/* ---- sluice_settings.cache ---- */

static const struct sl_cfg_key cache_keys[] = {
    KEY("max_size", SL_K_SIZE, SCR(c.cache.max_size), .min = 1 << 20),
    KEY("semantic_max_entries", SL_K_I64, SCR(c.cache.semantic_max_entries), .min = 1, .max = 10000000),
};

static const struct sl_cfg_section cache_section = {
    cache_keys, N(cache_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, NULL};

/* ---- sluice_settings.responses (stored responses of the Responses API) ---- */

static const struct sl_cfg_key responses_keys[] = {
    KEY("max_size", SL_K_SIZE, SCR(c.responses.max_size), .min = 1 << 20),
    KEY("ttl", SL_K_DUR, SCR(c.responses.ttl_ms), .flags = SL_F_POSITIVE),
};

static const struct sl_cfg_section responses_section = {
    responses_keys, N(responses_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, NULL};

/* ---- sluice_settings.metrics ---- */

static const struct sl_cfg_key metrics_keys[] = {
    KEY("litellm_names", SL_K_BOOL, SCR(c.metrics.litellm_names)),
};

static const struct sl_cfg_section metrics_section = {
    metrics_keys, N(metrics_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, NULL};

/* ---- sluice_settings.tls ---- */

/* Both files are required, readable, and loaded once here as the workers will load them,
 * so a bad certificate fails `sluice check` and a reload instead of the new workers. */
static int finish_tls(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                      yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  char kp[SL_CFG_PATH], err[512];
  const char *names[2] = {"cert", "key"};
  char *files[2] = {s->c.tls_cert, s->c.tls_key};
  for (int i = 0; i < 2; i++) {
    sl_cfg_path_join(kp, path, names[i]);
    if (!files[i] || !files[i][0])
      return sl_cfg_fail(c, seen[i] ? seen[i] : map, kp, "is required: a PEM file");
    if (access(files[i], R_OK) != 0) {
      int e = errno;
      return sl_cfg_fail(c, seen[i], kp, "cannot read '%s': %s", files[i], strerror(e));
    }
  }
  struct sl_tls_server *t;
  if (sl_tls_server_create(files[0], files[1], &t, err, sizeof err))
    return sl_cfg_fail(c, map, path, "%s", err);
  sl_tls_server_free(t);
  return 0;
}

static const struct sl_cfg_key tls_keys[] = {
    KEY("cert", SL_K_STR, SCR(c.tls_cert)),
    KEY("key", SL_K_STR, SCR(c.tls_key)),
};

static const struct sl_cfg_section tls_section = {
    tls_keys, N(tls_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, finish_tls};

/* ---- sluice_settings ---- */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* Order matters: finish_sluice reads seen[0..2] (listen, host, port). */
static const struct sl_cfg_key sluice_keys[] = {
    KEY("listen", SL_K_STR, SCR(listen)),
    KEY("host", SL_K_STR, SCR(host)),
    KEY("port", SL_K_INT, SCR(port), .max = 65535),
    KEY("workers", SL_K_INT, SCR(c.workers), .max = 1024),
    KEY("data_dir", SL_K_STR, SCR(c.data_dir)),
    KEY("max_body_bytes", SL_K_SIZE, SCR(c.max_body_bytes), .min = 1),
    KEY("max_header_bytes", SL_K_SIZE, SCR(c.max_header_bytes), .min = 1024),
    KEY("max_json_depth", SL_K_INT, SCR(c.max_json_depth), .min = 1, .max = 1000),
    KEY("max_json_values", SL_K_I64, SCR(c.max_json_values), .min = 1, .max = INT64_MAX),
    KEY("header_timeout", SL_K_DUR, SCR(c.header_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("body_timeout", SL_K_DUR, SCR(c.body_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("keepalive_timeout", SL_K_DUR, SCR(c.keepalive_timeout_ms)),
    KEY("body_memory_budget", SL_K_SIZE, SCR(c.body_memory_budget), .min = 1),
    KEY("body_min_rate", SL_K_SIZE, SCR(c.body_min_rate)),
    KEY("body_deadline", SL_K_DUR, SCR(c.body_deadline_ms)),
    KEY("allowed_hosts", SL_K_FUNC, SCR(c.allowed_hosts), .fn = parse_allowed_hosts),
    KEY("drain_timeout", SL_K_DUR, SCR(c.drain_timeout_ms)),
    KEY("connect_timeout", SL_K_DUR, SCR(c.connect_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("wildcard_models_refresh", SL_K_DUR, SCR(c.wild_models_refresh_ms)),
    KEY("ca_file", SL_K_STR, SCR(c.ca_file)),
    KEY("log_level", SL_K_ENUM, SCR(c.log_level), .choices = log_levels),
    KEY("log_file", SL_K_STR, SCR(c.log_file)),
    KEY("access_log", SL_K_BOOL, SCR(c.access_log)),
    KEY("stream_idle_timeout", SL_K_DUR, SCR(c.stream_idle_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("cooldown_max", SL_K_DUR, SCR(c.cooldown_max_ms), .flags = SL_F_POSITIVE),
    KEY("max_keys", SL_K_INT, SCR(c.max_keys), .min = 1, .max = 1000000), /* SL_SHM_KEY_SLOTS_MAX */
    KEY("hedging", SL_K_FUNC, SCR(c.hedging), .fn = parse_hedging),
    KEY("cache", SL_K_MAP, 0, .sub = &cache_section),
    KEY("responses", SL_K_MAP, 0, .sub = &responses_section),
    KEY("metrics", SL_K_MAP, 0, .sub = &metrics_section),
    KEY("tls", SL_K_MAP, 0, .sub = &tls_section),
    KEY("cluster", SL_K_MAP, 0, .sub = &sl_cfg_cluster_section), /* config_cluster.c */
    KEY("tracing", SL_K_MAP, 0, .sub = &sl_cfg_tracing_section), /* config_tracing.c */
};

static int listen_from_parts(struct sl_cfg_ctx *c, const char *path, struct sl_cfg_scratch *s,
                             yaml_node_t *const *seen) {
  char kp[SL_CFG_PATH];
  if (s->host) {
    const char *h = s->host;
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') { /* "[::1]" -> "::1" */
      memmove(s->host, h + 1, n - 2);
      s->host[n - 2] = 0;
    }
    if (!sl_config_host_valid(s->host)) {
      sl_cfg_path_join(kp, path, "host");
      return sl_cfg_fail(c, seen[1], kp, "expected a host name or IP address, got '%s'", h);
    }
    free(s->c.listen_host);
    s->c.listen_host = s->host;
    s->host = NULL;
  }
  if (s->port >= 0)
    s->c.port = (uint16_t)s->port;
  return 0;
}

static yaml_node_t *seen_node(const struct sl_cfg_key *keys, size_t n, yaml_node_t *const *seen,
                              const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i].name, name) == 0)
      return seen[i];
  return NULL;
}

static int finish_sluice(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                         yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  char kp[SL_CFG_PATH];
  if (s->listen) { /* seen[0..2]: listen, host, port */
    if (seen[1] || seen[2]) {
      sl_cfg_path_join(kp, path, seen[1] ? "host" : "port");
      return sl_cfg_fail(c, seen[1] ? seen[1] : seen[2], kp,
                         "conflicts with sluice_settings.listen; set listen or host/port");
    }
    char *host;
    uint16_t port;
    const char *why = "invalid";
    int rc = sl_config_parse_listen(s->listen, &host, &port, &why);
    sl_cfg_path_join(kp, path, "listen");
    if (rc == -EINVAL)
      return sl_cfg_fail(c, seen[0], kp, "expected 'host:port' or '[v6addr]:port', got '%s' (%s)",
                         s->listen, why);
    if (rc)
      return rc;
    free(s->c.listen_host);
    s->c.listen_host = host;
    s->c.port = port;
  } else {
    int rc = listen_from_parts(c, path, s, seen);
    if (rc)
      return rc;
  }
  if (!s->c.data_dir[0]) {
    sl_cfg_path_join(kp, path, "data_dir");
    return sl_cfg_fail(c, seen_node(sluice_keys, N(sluice_keys), seen, "data_dir"), kp,
                       "must not be empty");
  }
  if (s->c.log_file && !s->c.log_file[0]) { /* "" means stdout, as when absent */
    free(s->c.log_file);
    s->c.log_file = NULL;
  }
  /* checked against router_settings.cooldown_time once every section is read */
  s->cooldown_max_node = seen_node(sluice_keys, N(sluice_keys), seen, "cooldown_max");
  if (s->c.ca_file && access(s->c.ca_file, R_OK) != 0) {
    int e = errno;
    sl_cfg_path_join(kp, path, "ca_file");
    return sl_cfg_fail(c, seen_node(sluice_keys, N(sluice_keys), seen, "ca_file"), kp,
                       "cannot read '%s': %s", s->c.ca_file, strerror(e));
  }
  return 0;
}

/* sluice_settings is ours: a typo must not pass silently. */
const struct sl_cfg_section sl_cfg_sluice_section = {
    sluice_keys, N(sluice_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, finish_sluice};

