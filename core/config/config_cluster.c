/* Cluster mode's configuration: which Redis the sluice instances share (struct
 * sl_cluster_settings in config.h), read the way LiteLLM users already write it.
 * The one idea: several places may name a Redis, and the first one that does wins, in this
 * order: general_settings.coordination_redis (sluice's own), litellm_settings.cache_params
 * with type: redis, router_settings.redis_*, then the REDIS_* environment. The LiteLLM
 * places take what they leave out from the environment, as LiteLLM does (a bare
 * `cache_params: {type: redis}` means the Redis of REDIS_HOST/REDIS_URL). Every other place
 * that names a different server gets a warning naming both keys; shapes sluice cannot speak
 * to (Sentinel, Redis Cluster startup nodes) are an error naming the key, never a quiet
 * fallback to one host. Values are read only here, at the end of the load, so a key's
 * os.environ/NAME is resolved by the engine like any other and cache_params' Redis keys stay
 * "ignored" for the LMDB cache types.
 * To add a place: a struct sl_cfg_redis_src in struct sl_cfg_cluster_scratch, its keys
 * (sl_cfg_keep_node) in its section's table, and a row in sl_cfg_cluster_resolve's list.
 * Every key read here is listed in README.md's config reference. */
#include "core/config/config_cluster.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/config/config_internal.h"
#include "core/config/config_parse.h"

#define N   SL_CFG_N
#define KEY SL_CFG_KEY

#define URL_FORM     "redis://[user[:password]@]host[:port][/db] or rediss://... (TLS)"
#define NS_MAX       63  /* struct sl_cluster's ns[64] */
#define INSTANCE_MAX 127 /* struct sl_cluster's instance[128] */

/* ---- the URL parser (pure) ---- */

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into a new string (NULL for an empty result); -EINVAL on a bad
 * escape or a decoded NUL. */
static int pct_dup(const char *s, size_t n, char **out, const char **why) {
  *out = NULL;
  if (n == 0) return 0;
  char *d = malloc(n + 1);
  if (!d) return -ENOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      d[j++] = s[i];
      continue;
    }
    int a = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
    int b = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
    if (a < 0 || b < 0 || (a == 0 && b == 0)) {
      free(d);
      *why = a < 0 || b < 0 ? "a '%' in the user or password is not followed by two hex digits"
                            : "the user or password decodes to a NUL character";
      return -EINVAL;
    }
    d[j++] = (char)(a * 16 + b);
    i += 2;
  }
  d[j] = 0;
  if (j == 0) {
    free(d);
    return 0;
  }
  *out = d;
  return 0;
}

/* Digits only, value in [lo, hi]. */
static int parse_uint(const char *s, size_t n, long lo, long hi, int *out) {
  long v = 0;
  if (n == 0 || n > 10) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return -EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) return -EINVAL;
  *out = (int)v;
  return 0;
}

void sl_config_redis_url_clear(struct sl_redis_url *u) {
  free(u->host);
  free(u->username);
  free(u->password);
  memset(u, 0, sizeof *u);
}

int sl_config_parse_redis_url(const char *s, struct sl_redis_url *out, const char **why) {
  memset(out, 0, sizeof *out);
  out->port = 6379;
  const char *p;
  if (strncasecmp(s, "redis://", 8) == 0) {
    p = s + 8;
  } else if (strncasecmp(s, "rediss://", 9) == 0) {
    p = s + 9;
    out->tls = true;
  } else if (strncasecmp(s, "unix://", 7) == 0) {
    return *why = "unix socket URLs are not supported (use redis://host:port)", -EINVAL;
  } else if (strncasecmp(s, "redis+sentinel://", 17) == 0 || strncasecmp(s, "sentinel://", 11) == 0) {
    return *why = "Redis Sentinel is not supported (give the master's redis://host:port)", -EINVAL;
  } else {
    return *why = "expected " URL_FORM, -EINVAL;
  }
  for (const char *q = p; *q; q++) {
    if ((unsigned char)*q <= ' ' || *q == 0x7f) return *why = "the URL contains a space or control character", -EINVAL;
    if (*q == '?') return *why = "query parameters are not supported (give the db as /N)", -EINVAL;
    if (*q == '#') return *why = "a fragment ('#') is not allowed (percent-encode '#' in a password as %23)", -EINVAL;
  }
  size_t alen = strcspn(p, "/");
  const char *at = NULL; /* the last '@' of the authority: a password may hold '@' */
  for (const char *q = p; q < p + alen; q++)
    if (*q == '@') at = q;
  const char *h = p;
  int rc = 0;
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);
    if ((rc = pct_dup(p, ulen, &out->username, why)) == 0 && colon)
      rc = pct_dup(colon + 1, (size_t)(at - colon - 1), &out->password, why);
    if (rc) goto fail;
    h = at + 1;
  }
  size_t hlen = (size_t)(p + alen - h);
  const char *port = NULL;
  size_t plen = 0, hostlen;
  if (hlen && h[0] == '[') {
    const char *close = memchr(h, ']', hlen);
    if (!close) {
      *why = "an IPv6 address is missing its ']'";
      goto inval;
    }
    hostlen = (size_t)(close - h - 1);
    h++;
    const char *rest = close + 1;
    size_t rlen = (size_t)(p + alen - rest);
    if (rlen) {
      if (rest[0] != ':') {
        *why = "expected ':port' after ']'";
        goto inval;
      }
      port = rest + 1;
      plen = rlen - 1;
    }
    if (!hostlen) {
      *why = "an empty IPv6 address";
      goto inval;
    }
  } else {
    const char *colon = memchr(h, ':', hlen);
    hostlen = colon ? (size_t)(colon - h) : hlen;
    if (colon) {
      port = colon + 1;
      plen = hlen - hostlen - 1;
      if (memchr(port, ':', plen)) {
        *why = "an IPv6 address must be written in brackets ([::1]:6379)";
        goto inval;
      }
    }
  }
  if (port && parse_uint(port, plen, 1, 65535, &out->port)) {
    *why = "invalid port (expected 1-65535)";
    goto inval;
  }
  out->host = hostlen ? strndup(h, hostlen) : strdup("127.0.0.1");
  if (!out->host) {
    rc = -ENOMEM;
    goto fail;
  }
  if (!sl_config_host_valid(out->host)) {
    *why = "invalid host name or IP address";
    goto inval;
  }
  const char *path = p + alen;
  if (*path && strcmp(path, "/") != 0 && parse_uint(path + 1, strlen(path + 1), 0, 1 << 30, &out->db)) {
    *why = "expected the db number after the host ('/0', '/1', ...)";
    goto inval;
  }
  return 0;
inval:
  rc = -EINVAL;
fail:
  sl_config_redis_url_clear(out);
  return rc;
}

/* ---- reading the places (values are kept as nodes until sl_cfg_cluster_resolve) ---- */

int sl_cfg_keep_node(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  (void)c, (void)path;
  *(yaml_node_t **)field = v;
  return 0;
}

int sl_cfg_redis_unsupported(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  (void)path;
  struct sl_cfg_redis_src *src = field;
  if (!src->bad) {
    src->bad = v;
    src->bad_key = c->cur_key ? (const char *)c->cur_key->data.scalar.value : "?";
  }
  return 0;
}

#define SRC(f) offsetof(struct sl_cfg_redis_src, f)

static const struct sl_cfg_key coord_keys[] = {
    KEY("host", SL_K_FUNC, SRC(v[SL_CFG_REDIS_HOST]), .fn = sl_cfg_keep_node),
    KEY("port", SL_K_FUNC, SRC(v[SL_CFG_REDIS_PORT]), .fn = sl_cfg_keep_node),
    KEY("username", SL_K_FUNC, SRC(v[SL_CFG_REDIS_USERNAME]), .fn = sl_cfg_keep_node),
    KEY("password", SL_K_FUNC, SRC(v[SL_CFG_REDIS_PASSWORD]), .fn = sl_cfg_keep_node),
    KEY("db", SL_K_FUNC, SRC(v[SL_CFG_REDIS_DB]), .fn = sl_cfg_keep_node),
    KEY("ssl", SL_K_FUNC, SRC(v[SL_CFG_REDIS_SSL]), .fn = sl_cfg_keep_node),
    KEY("url", SL_K_FUNC, SRC(v[SL_CFG_REDIS_URL]), .fn = sl_cfg_keep_node),
    KEY("startup_nodes", SL_K_FUNC, 0, .fn = sl_cfg_redis_unsupported),
    KEY("redis_startup_nodes", SL_K_FUNC, 0, .fn = sl_cfg_redis_unsupported),
    KEY("cluster_nodes", SL_K_FUNC, 0, .fn = sl_cfg_redis_unsupported),
    KEY("sentinel_nodes", SL_K_FUNC, 0, .fn = sl_cfg_redis_unsupported),
    KEY("service_name", SL_K_FUNC, 0, .fn = sl_cfg_redis_unsupported),
};

/* sluice's own key: strict (a typo is an error) */
static const struct sl_cfg_section coord_section = {coord_keys,       N(coord_keys), NULL, NULL,
                                                    SL_UNKNOWN_ERROR, NULL,          NULL};

int sl_cfg_parse_coordination_redis(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, void *field) {
  struct sl_cfg_redis_src *src = field;
  src->map = v;
  if (v->type == YAML_SCALAR_NODE) { /* coordination_redis: redis://... */
    src->url_scalar = v;
    return 0;
  }
  if (v->type != YAML_MAPPING_NODE)
    return sl_cfg_fail(c, v, path,
                       "expected a mapping (host, port, username, password, db, ssl, url) or a " URL_FORM ", got %s",
                       sl_cfg_node_desc(v));
  return sl_cfg_parse_section(c, &coord_section, v, path, src);
}

/* ---- sluice_settings.cluster ---- */

static int finish_cluster_settings(struct sl_cfg_ctx *c, const char *path, yaml_node_t *map, void *target,
                                   yaml_node_t *const *seen) {
  struct sl_cfg_scratch *s = target;
  s->cluster.settings = map;
  const char *id = s->c.cluster.redis.instance;
  if (!id) return 0;
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, path, "instance");
  size_t n = strlen(id);
  if (n == 0 || n > INSTANCE_MAX)
    return sl_cfg_fail(c, seen[3], kp, "expected 1 to %d characters, got %zu", INSTANCE_MAX, n);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)id[i] <= ' ' || id[i] == 0x7f || id[i] == '{' || id[i] == '}')
      return sl_cfg_fail(c, seen[3], kp, "must not contain spaces, control characters or braces, got '%.80s'", id);
  return 0;
}

/* Order matters: finish_cluster_settings reads seen[3] (instance). */
static const struct sl_cfg_key cluster_keys[] = {
    KEY("timeout", SL_K_DUR, SL_CFG_SCR(c.cluster.redis.timeout_ms), .flags = SL_F_POSITIVE),
    KEY("connect_timeout", SL_K_DUR, SL_CFG_SCR(c.cluster.redis.connect_timeout_ms), .flags = SL_F_POSITIVE),
    KEY("heartbeat", SL_K_DUR, SL_CFG_SCR(c.cluster.redis.heartbeat_ms), .flags = SL_F_POSITIVE),
    KEY("instance", SL_K_STR, SL_CFG_SCR(c.cluster.redis.instance)),
};

const struct sl_cfg_section sl_cfg_cluster_section = {
    cluster_keys, N(cluster_keys), NULL, NULL, SL_UNKNOWN_ERROR, NULL, finish_cluster_settings};

/* ---- one server, as a place names it ---- */

struct server {
  char *host, *username, *password;
  int port, db;           /* -1: unset */
  int ssl;                /* -1: unset */
  bool named;             /* the place gives a host or a URL (else the environment's or 127.0.0.1) */
  char from[SL_CFG_PATH]; /* the key that names it, for messages and cluster.redis.source */
  yaml_node_t *at;
};

static void server_clear(struct server *v) {
  free(v->host);
  free(v->username);
  free(v->password);
  memset(v, 0, sizeof *v);
}

static void server_init(struct server *v) {
  memset(v, 0, sizeof *v);
  v->port = v->db = v->ssl = -1;
}

static void describe_server(const struct server *v, char *buf, size_t n) {
  bool v6 = v->host && strchr(v->host, ':');
  snprintf(buf, n, "%s%s%s:%d db %d", v6 ? "[" : "", v->host ? v->host : "127.0.0.1", v6 ? "]" : "",
           v->port > 0 ? v->port : 6379, v->db > 0 ? v->db : 0);
}

static bool same_server(const struct server *a, const struct server *b) {
  return strcasecmp(a->host ? a->host : "127.0.0.1", b->host ? b->host : "127.0.0.1") == 0 &&
         (a->port > 0 ? a->port : 6379) == (b->port > 0 ? b->port : 6379) &&
         (a->db > 0 ? a->db : 0) == (b->db > 0 ? b->db : 0);
}

static int take(char **dst, const char *text) {
  char *d = NULL;
  if (text && *text && !(d = strdup(text))) return -ENOMEM;
  free(*dst);
  *dst = d;
  return 0;
}

/* The URL's server into v (errors name path; the URL is shown only when it holds no
 * credentials). */
static int apply_url(struct sl_cfg_ctx *c, yaml_node_t *at, const char *path, const char *url, const char *env,
                     struct server *v) {
  struct sl_redis_url u;
  const char *why = "invalid";
  int rc = sl_config_parse_redis_url(url, &u, &why);
  if (rc == -EINVAL) {
    if (strchr(url, '@') || env)
      return sl_cfg_fail(c, at, path,
                         "expected " URL_FORM " (%s); the value is not shown because it may hold a "
                         "password",
                         why);
    return sl_cfg_fail(c, at, path, "expected " URL_FORM ", got '%.120s' (%s)", url, why);
  }
  if (rc) return rc;
  free(v->host);
  v->host = u.host;
  v->port = u.port;
  v->db = u.db;
  free(v->username);
  v->username = u.username;
  free(v->password);
  v->password = u.password;
  if (u.tls) v->ssl = 1;
  v->named = true;
  return 0;
}

static int scalar_text(struct sl_cfg_ctx *c, yaml_node_t *v, const char *path, const char *what, const char **text,
                       const char **env) {
  if (v->type != YAML_SCALAR_NODE) return sl_cfg_fail(c, v, path, "expected %s, got %s", what, sl_cfg_node_desc(v));
  return sl_cfg_scalar(c, v, path, text, env);
}

static const char *const field_names[SL_CFG_REDIS_NFIELDS] = {"host", "port", "username", "password",
                                                              "db",   "ssl",  "url"};

/* Reads one place's keys (names prefixed with prefix: "redis_" in router_settings) into v. */
static int read_place(struct sl_cfg_ctx *c, const struct sl_cfg_redis_src *src, const char *base, const char *prefix,
                      struct server *v) {
  char kp[SL_CFG_PATH], name[64];
  const char *text, *env;
  int rc;
  yaml_node_t *const *n = src->v;
  if (src->url_scalar || n[SL_CFG_REDIS_URL]) {
    yaml_node_t *u = src->url_scalar ? src->url_scalar : n[SL_CFG_REDIS_URL];
    snprintf(name, sizeof name, "%surl", prefix);
    if (src->url_scalar)
      snprintf(kp, sizeof kp, "%s", base);
    else
      sl_cfg_path_join(kp, base, name);
    if ((rc = scalar_text(c, u, kp, "a " URL_FORM, &text, &env))) return rc;
    if ((rc = apply_url(c, u, kp, text, env, v))) return rc;
    snprintf(v->from, sizeof v->from, "%s", kp);
    v->at = u;
    static const int clash[] = {SL_CFG_REDIS_HOST, SL_CFG_REDIS_PORT, SL_CFG_REDIS_DB};
    for (size_t i = 0; i < N(clash); i++) {
      if (!n[clash[i]]) continue;
      char cp[SL_CFG_PATH];
      snprintf(name, sizeof name, "%s%s", prefix, field_names[clash[i]]);
      sl_cfg_path_join(cp, base, name);
      return sl_cfg_fail(c, n[clash[i]], cp, "conflicts with %s (the URL names the server): give one of them", kp);
    }
  }
  for (int f = 0; f < SL_CFG_REDIS_URL; f++) {
    if (!n[f]) continue;
    snprintf(name, sizeof name, "%s%s", prefix, field_names[f]);
    sl_cfg_path_join(kp, base, name);
    if (f == SL_CFG_REDIS_PASSWORD) { /* any scalar (a number is a password too); never echoed */
      if (n[f]->type != YAML_SCALAR_NODE)
        return sl_cfg_fail(c, n[f], kp, "expected a string, got %s", sl_cfg_node_desc(n[f]));
      if ((rc = sl_cfg_scalar(c, n[f], kp, &text, &env))) return rc;
      if (v->password && *text) return sl_cfg_fail(c, n[f], kp, "the URL already holds a password: give it once");
      if (*text && (rc = take(&v->password, text))) return rc;
      continue;
    }
    if ((rc = scalar_text(c, n[f], kp, "a scalar", &text, &env))) return rc;
    int64_t i64;
    bool b;
    switch (f) {
    case SL_CFG_REDIS_HOST: {
      char *h = NULL;
      size_t len = strlen(text);
      if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
        h = strndup(text + 1, len - 2);
      else
        h = strdup(text);
      if (!h) return -ENOMEM;
      if (!sl_config_host_valid(h)) {
        free(h);
        return sl_cfg_fail(c, n[f], kp, "expected a host name or IP address, got '%.80s'%s", text,
                           strstr(text, "://") ? " (a URL goes in the url key)" : "");
      }
      free(v->host);
      v->host = h;
      v->named = true;
      snprintf(v->from, sizeof v->from, "%s", kp);
      v->at = n[f];
      break;
    }
    case SL_CFG_REDIS_PORT:
      if (sl_config_parse_int(text, &i64) || i64 < 1 || i64 > 65535)
        return sl_cfg_fail(c, n[f], kp, "expected a port (1-65535), got '%.80s'", text);
      v->port = (int)i64;
      break;
    case SL_CFG_REDIS_DB:
      if (sl_config_parse_int(text, &i64) || i64 < 0 || i64 > (1 << 30))
        return sl_cfg_fail(c, n[f], kp, "expected a database number (a non-negative integer), got '%.80s'", text);
      v->db = (int)i64;
      break;
    case SL_CFG_REDIS_SSL:
      if (sl_config_parse_bool(text, &b))
        return sl_cfg_fail(c, n[f], kp, "expected a boolean (true/false), got '%.80s'", text);
      if (!b && v->ssl == 1 && src->v[SL_CFG_REDIS_URL])
        return sl_cfg_fail(c, n[f], kp, "false, but the url is rediss:// (TLS): give one of them");
      if (!b && v->ssl == 1 && src->url_scalar)
        return sl_cfg_fail(c, n[f], kp, "false, but the url is rediss:// (TLS): give one of them");
      v->ssl = b;
      break;
    case SL_CFG_REDIS_USERNAME:
      if (v->username && *text && strcmp(v->username, text))
        return sl_cfg_fail(c, n[f], kp, "the URL already names a user: give it once");
      if ((rc = take(&v->username, text))) return rc;
      break;
    }
  }
  if (!v->from[0]) { /* no host or URL: named by its first key */
    for (int f = 0; f < SL_CFG_REDIS_NFIELDS && !v->from[0]; f++) {
      if (!n[f]) continue;
      snprintf(name, sizeof name, "%s%s", prefix, field_names[f]);
      sl_cfg_path_join(v->from, base, name);
      v->at = n[f];
    }
    if (!v->from[0]) {
      snprintf(v->from, sizeof v->from, "%s", base);
      v->at = src->map;
    }
  }
  return 0;
}

/* ---- the REDIS_* environment ---- */

static int env_fail(struct sl_cfg_ctx *c, const char *var, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int env_fail(struct sl_cfg_ctx *c, const char *var, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->err && c->errlen) snprintf(c->err, c->errlen, "%s: environment variable %s: %s", c->name, var, msg);
  return -EINVAL;
}

static void env_warn(struct sl_cfg_ctx *c, const char *var, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void env_warn(struct sl_cfg_ctx *c, const char *var, const char *fmt, ...) {
  char msg[400], line[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(line, sizeof line, "%s: environment variable %s: %s", c->name, var, msg);
  if (c->warn) c->warn(c->ud, line);
}

static const char *getenv_set(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

/* Sentinel / Redis Cluster in the environment (LiteLLM's names). */
static const char *env_unsupported(void) {
  static const char *const names[] = {"REDIS_CLUSTER_NODES", "REDIS_SENTINEL_NODES", "REDIS_SERVICE_NAME"};
  for (size_t i = 0; i < N(names); i++)
    if (getenv_set(names[i])) return names[i];
  return NULL;
}

static int env_unsupported_fail(struct sl_cfg_ctx *c, const char *var) {
  return env_fail(c, var,
                  "%s is not supported: sluice connects to one Redis endpoint (REDIS_HOST/REDIS_PORT or "
                  "REDIS_URL; a proxy in front of the %s works); unset it",
                  strcmp(var, "REDIS_CLUSTER_NODES") ? "Redis Sentinel" : "Redis Cluster (startup nodes)",
                  strcmp(var, "REDIS_CLUSTER_NODES") ? "Sentinel set" : "cluster");
}

/* The environment's server; v->named false when neither REDIS_URL nor REDIS_HOST is set. */
static int read_env(struct sl_cfg_ctx *c, struct server *v) {
  const char *url = getenv_set("REDIS_URL"), *host = getenv_set("REDIS_HOST"), *t;
  int rc;
  if (url) {
    struct sl_redis_url u;
    const char *why = "invalid";
    rc = sl_config_parse_redis_url(url, &u, &why);
    if (rc == -EINVAL)
      return env_fail(c, "REDIS_URL",
                      "expected " URL_FORM " (%s); the value is not shown because it may hold a "
                      "password",
                      why);
    if (rc) return rc;
    v->host = u.host, v->port = u.port, v->db = u.db, v->username = u.username, v->password = u.password;
    if (u.tls) v->ssl = 1;
    v->named = true;
    snprintf(v->from, sizeof v->from, "REDIS_URL");
    if (host && strcasecmp(host, v->host) != 0)
      env_warn(c, "REDIS_HOST", "names '%.80s', but REDIS_URL names '%.80s'; using REDIS_URL", host, v->host);
  } else if (host) {
    if (!sl_config_host_valid(host))
      return env_fail(c, "REDIS_HOST", "expected a host name or IP address, got '%.80s'", host);
    if (!(v->host = strdup(host))) return -ENOMEM;
    v->named = true;
    snprintf(v->from, sizeof v->from, "REDIS_HOST");
  }
  if (!url && (t = getenv_set("REDIS_PORT"))) {
    int64_t p;
    if (sl_config_parse_int(t, &p) || p < 1 || p > 65535)
      return env_fail(c, "REDIS_PORT", "expected a port (1-65535), got '%.80s'%s", t,
                      strstr(t, "://") ? " (a Docker link variable? set REDIS_HOST and REDIS_PORT, or REDIS_URL)" : "");
    v->port = (int)p;
  }
  if ((t = getenv_set("REDIS_PASSWORD")) && !v->password && (rc = take(&v->password, t))) return rc;
  if ((t = getenv_set("REDIS_USERNAME")) && !v->username && (rc = take(&v->username, t))) return rc;
  if ((t = getenv_set("REDIS_SSL"))) {
    bool b;
    if (strcmp(t, "1") == 0)
      b = true;
    else if (strcmp(t, "0") == 0)
      b = false;
    else if (sl_config_parse_bool(t, &b))
      return env_fail(c, "REDIS_SSL", "expected true or false, got '%.20s'", t);
    if (!b && v->ssl == 1) return env_fail(c, "REDIS_SSL", "false, but REDIS_URL is rediss:// (TLS)");
    v->ssl = b;
  }
  return 0;
}

/* LiteLLM's rule for its places: what the place leaves out comes from the environment.
 * A place without host or URL takes the environment's server; a place with one takes the
 * port, credentials and TLS it leaves out, unless the environment names another server. */
static int fill_from_env(struct server *v, const struct server *e, char *used, size_t usedlen) {
  int rc;
  if (!v->named && e->named) {
    if ((rc = take(&v->host, e->host))) return rc;
    if (v->db < 0) v->db = e->db;
    v->named = true;
    snprintf(used, usedlen, "%s", e->from);
  } else if (v->named && e->named &&
             (strcasecmp(v->host ? v->host : "", e->host ? e->host : "") != 0 ||
              (v->port > 0 && e->port > 0 && v->port != e->port))) {
    return 0; /* another server: its credentials are not this one's */
  }
  if (v->port < 0) v->port = e->port;
  if (!v->password && e->password && (rc = take(&v->password, e->password))) return rc;
  if (!v->username && e->username && (rc = take(&v->username, e->username))) return rc;
  if (v->ssl < 0) v->ssl = e->ssl;
  return 0;
}

/* ---- resolving ---- */

static int unsupported_shape(struct sl_cfg_ctx *c, const struct sl_cfg_redis_src *src, const char *base) {
  char kp[SL_CFG_PATH];
  sl_cfg_path_join(kp, base, src->bad_key);
  bool sentinel = strstr(src->bad_key, "sentinel") || strstr(src->bad_key, "service_name");
  return sl_cfg_fail(c, src->bad, kp,
                     "%s is not supported: sluice connects to one Redis endpoint (host/port or url; "
                     "a proxy in front of the %s works)",
                     sentinel ? "Redis Sentinel" : "Redis Cluster (startup nodes)",
                     sentinel ? "Sentinel set" : "cluster");
}

static bool router_present(const struct sl_cfg_redis_src *r) {
  for (int f = 0; f < SL_CFG_REDIS_NFIELDS; f++)
    if (r->v[f]) return true;
  return false;
}

/* cache_params' Redis keys with an LMDB cache type: ignored, as before cluster mode. */
static void warn_cache_keys_unused(struct sl_cfg_ctx *c, const struct sl_cfg_redis_src *src) {
  char kp[SL_CFG_PATH];
  for (int f = 0; f < SL_CFG_REDIS_NFIELDS; f++) {
    if (!src->v[f]) continue;
    sl_cfg_path_join(kp, "litellm_settings.cache_params", field_names[f]);
    sl_cfg_warn(c, src->v[f], kp, "not used by sluice's LMDB cache, ignored");
  }
  if (src->max_conn)
    sl_cfg_warn(c, src->max_conn, "litellm_settings.cache_params.max_connections",
                "not used by sluice's LMDB cache, ignored");
  if (src->bad) {
    sl_cfg_path_join(kp, "litellm_settings.cache_params", src->bad_key);
    sl_cfg_warn(c, src->bad, kp, "not used by sluice's LMDB cache, ignored");
  }
}

static int set_ns(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s, bool from_cache) {
  const char *ns = from_cache && s->c.cache.namespace_ && s->c.cache.namespace_[0] ? s->c.cache.namespace_ : "sluice";
  size_t n = strlen(ns);
  bool ok = n <= NS_MAX;
  for (size_t i = 0; ok && i < n; i++) ok = (unsigned char)ns[i] > ' ' && ns[i] != 0x7f && ns[i] != '{' && ns[i] != '}';
  if (!ok)
    return sl_cfg_fail(c, s->cluster.ns_node, "litellm_settings.cache_params.namespace",
                       "the Redis key prefix must be 1 to %d characters without spaces, control characters or "
                       "braces, got '%.80s'",
                       NS_MAX, ns);
  return take(&s->c.cluster.redis.ns, ns);
}

enum { P_COORD, P_CACHE, P_ROUTER, P_ENV, P_N };

#define ORDER                                                                                                          \
  "general_settings.coordination_redis, litellm_settings.cache_params (type: redis), "                                 \
  "router_settings.redis_*, then REDIS_*"

static int copy_winner(struct sl_redis_settings *r, const struct server *v, const char *used_env) {
  char src[2 * SL_CFG_PATH + 32];
  if (used_env[0])
    snprintf(src, sizeof src, "%s (server from %s)", v->from, used_env);
  else
    snprintf(src, sizeof src, "%s", v->from);
  int rc = take(&r->source, src);
  if (rc == 0) rc = take(&r->host, v->host ? v->host : "127.0.0.1");
  if (rc == 0) rc = take(&r->username, v->username);
  if (rc == 0) rc = take(&r->password, v->password);
  r->port = v->port > 0 ? v->port : 6379;
  r->db = v->db > 0 ? v->db : 0;
  r->ssl = v->ssl == 1;
  r->enabled = rc == 0;
  return rc;
}

int sl_cfg_cluster_resolve(struct sl_cfg_ctx *c, struct sl_cfg_scratch *s) {
  struct sl_cfg_cluster_scratch *cs = &s->cluster;
  bool cache_redis = s->c.cache.type && strcmp(s->c.cache.type, "redis") == 0;
  bool present[P_N] = {cs->coord.map != NULL, cache_redis, router_present(&cs->router), false};
  struct server sv[P_N];
  char used_env[P_N][SL_CFG_PATH] = {{0}};
  int rc = 0;
  for (int i = 0; i < P_N; i++) server_init(&sv[i]);
  if (!cache_redis) warn_cache_keys_unused(c, &cs->cache);
  /* shapes sluice cannot speak to: an error wherever a Redis place names one */
  if (cs->coord.bad) return unsupported_shape(c, &cs->coord, "general_settings.coordination_redis");
  if (cache_redis && cs->cache.bad) return unsupported_shape(c, &cs->cache, "litellm_settings.cache_params");
  if (cs->router.bad) return unsupported_shape(c, &cs->router, "router_settings");

  if (present[P_COORD]) rc = read_place(c, &cs->coord, "general_settings.coordination_redis", "", &sv[P_COORD]);
  if (rc == 0 && present[P_CACHE]) rc = read_place(c, &cs->cache, "litellm_settings.cache_params", "", &sv[P_CACHE]);
  if (rc == 0 && present[P_ROUTER]) rc = read_place(c, &cs->router, "router_settings", "redis_", &sv[P_ROUTER]);
  if (rc) goto out;

  /* The environment is consulted unless sluice's own key names the Redis (then a broken
   * REDIS_* variable only loses its conflict check). */
  bool consulted = !present[P_COORD];
  struct sl_cfg_ctx quiet = *c;
  quiet.err = NULL;
  quiet.errlen = 0;
  rc = read_env(consulted ? c : &quiet, &sv[P_ENV]);
  if (rc == -ENOMEM || (rc && consulted)) goto out;
  if (rc) {
    server_clear(&sv[P_ENV]);
    server_init(&sv[P_ENV]);
    rc = 0;
  }
  const char *unsup = env_unsupported();
  if (unsup && consulted) {
    rc = env_unsupported_fail(c, unsup);
    goto out;
  }
  if (unsup)
    env_warn(c, unsup,
             "not used: general_settings.coordination_redis names the Redis (sluice does not speak "
             "to Sentinel or Redis Cluster startup nodes)");
  present[P_ENV] = sv[P_ENV].named;
  for (int i = P_CACHE; i <= P_ROUTER; i++)
    if (present[i] && (rc = fill_from_env(&sv[i], &sv[P_ENV], used_env[i], sizeof used_env[i]))) goto out;

  int w = -1;
  for (int i = 0; i < P_N && w < 0; i++)
    if (present[i]) w = i;
  if (w < 0) {
    if (cs->settings)
      sl_cfg_warn(c, cs->settings, "sluice_settings.cluster",
                  "no Redis is configured, so cluster mode is off; "
                  "ignored (name one in general_settings.coordination_redis, " ORDER ")");
    goto out;
  }
  /* every other place that names its own server must name the same one */
  char wd[300], od[300];
  describe_server(&sv[w], wd, sizeof wd);
  for (int j = 0; j < P_N; j++) {
    if (j == w || !present[j] || !sv[j].named || used_env[j][0] || same_server(&sv[w], &sv[j])) continue;
    describe_server(&sv[j], od, sizeof od);
    if (j == P_ENV)
      env_warn(c, sv[j].from, "names Redis %s, but %s names %s and comes first (" ORDER "); using %s", od, sv[w].from,
               wd, wd);
    else
      sl_cfg_warn(c, sv[j].at, sv[j].from, "names Redis %s, but %s names %s and comes first (" ORDER "); using %s", od,
                  sv[w].from, wd, wd);
  }
  if ((rc = copy_winner(&s->c.cluster.redis, &sv[w], used_env[w]))) goto out;
  if ((rc = set_ns(c, s, cache_redis))) goto out;
  if (cache_redis && cs->cache.max_conn)
    sl_cfg_warn(c, cs->cache.max_conn, "litellm_settings.cache_params.max_connections",
                "accepted and ignored: sluice uses one pipelined Redis connection per worker");
  s->c.cluster.cache_tier = cache_redis && s->c.cache.enabled;
  if (cache_redis && !s->c.cache.enabled)
    sl_cfg_warn(c, s->cache_type_node, "litellm_settings.cache_params.type",
                "'redis' while litellm_settings.cache is not true: this Redis serves cluster mode (limits, "
                "budgets, keys, cooldowns), not as a response cache tier");
out:
  for (int i = 0; i < P_N; i++) server_clear(&sv[i]);
  return rc;
}

void sl_cfg_cluster_clear(struct sl_cluster_settings *cl) {
  struct sl_redis_settings *r = &cl->redis;
  free(r->source);
  free(r->host);
  free(r->username);
  free(r->password);
  free(r->ns);
  free(r->instance);
  r->source = r->host = r->username = r->password = r->ns = r->instance = NULL;
}

void sl_config_cluster_describe(const struct sl_config *c, char *out, size_t n) {
  const struct sl_redis_settings *r = &c->cluster.redis;
  if (!n) return;
  if (!r->enabled) {
    snprintf(out, n, "cluster mode: off (no Redis configured)");
    return;
  }
  bool v6 = r->host && strchr(r->host, ':');
  snprintf(out, n, "cluster mode: Redis %s%s%s:%d db %d%s%s (from %s), key prefix '%s'; cache tier %s; budgets fail %s",
           v6 ? "[" : "", r->host, v6 ? "]" : "", r->port, r->db, r->ssl ? ", TLS" : "", r->password ? ", AUTH" : "",
           r->source ? r->source : "?", r->ns ? r->ns : "sluice", c->cluster.cache_tier ? "on" : "off",
           c->cluster.fail_closed_budget ? "closed" : "open");
}

void sl_config_cluster_instance(const struct sl_config *c, unsigned port, char *out, size_t n) {
  if (!n) return;
  size_t cap = n < INSTANCE_MAX + 1 ? n : INSTANCE_MAX + 1;
  if (c->cluster.redis.instance) {
    snprintf(out, cap, "%s", c->cluster.redis.instance);
    return;
  }
  char host[256];
  if (gethostname(host, sizeof host) != 0 || !host[0]) snprintf(host, sizeof host, "sluice");
  host[sizeof host - 1] = 0;
  for (char *p = host; *p; p++) /* the id's alphabet (instance's check) */
    if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '{' || *p == '}') *p = '-';
  snprintf(out, cap, "%.100s:%u", host, port);
}
