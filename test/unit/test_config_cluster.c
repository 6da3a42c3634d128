/* core/config/config_cluster.c: cluster mode's configuration. Each place that names a Redis
 * (general_settings.coordination_redis, litellm_settings.cache_params type: redis,
 * router_settings.redis_*, the REDIS_* environment) alone and in precedence, the LiteLLM
 * places filling from the environment, the redis:// URL parser (good and bad), conflict
 * warnings naming both keys, unsupported shapes (Sentinel, Redis Cluster) as errors naming
 * the key, sluice_settings.cluster with its defaults, the namespace, fail-closed budgets,
 * the check line, and LiteLLM's production config. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/config/config.h"
#include "core/config/config_cluster.h"

#undef CHECK_STR /* NULL-safe: a NULL string fails the check instead of crashing */
#define CHECK_STR(a, b) CHECK((a) != NULL && strcmp((a), (b)) == 0)

struct warns {
  char msg[32][600];
  int n;
};

static void collect(void *ud, const char *msg) {
  struct warns *w = ud;
  if (w->n < 32) snprintf(w->msg[w->n++], sizeof w->msg[0], "%s", msg);
}

static int nwarn(const struct warns *w, const char *needle) {
  int k = 0;
  if (getenv("SL_TEST_VERBOSE"))
    for (int i = 0; i < w->n; i++) fprintf(stderr, "  warn[%d] %s\n", i, w->msg[i]);
  for (int i = 0; i < w->n; i++) k += strstr(w->msg[i], needle) != NULL;
  return k;
}

static const char *const redis_env[] = {
    "REDIS_HOST", "REDIS_PORT",          "REDIS_PASSWORD",       "REDIS_USERNAME",    "REDIS_URL",
    "REDIS_SSL",  "REDIS_CLUSTER_NODES", "REDIS_SENTINEL_NODES", "REDIS_SERVICE_NAME"};

static void clean_env(void) {
  for (size_t i = 0; i < sizeof redis_env / sizeof redis_env[0]; i++) unsetenv(redis_env[i]);
  unsetenv("LITELLM_MASTER_KEY");
}

#define DEP                                                                                                            \
  "model_list:\n"                                                                                                      \
  "  - model_name: m\n"                                                                                                \
  "    litellm_params:\n"                                                                                              \
  "      model: openai/gpt-4o\n"                                                                                       \
  "      api_key: sk-x\n" /* lines 1-5 */

/* Loads yaml (the environment as the caller set it); w may be NULL. */
static int load(const char *yaml, struct sl_config **c, char *err, size_t errlen, struct warns *w) {
  if (w) memset(w, 0, sizeof *w);
  err[0] = 0;
  return sl_config_load_string(yaml, strlen(yaml), "t.yaml", w ? collect : NULL, w, c, err, errlen);
}

static bool fails_with(const char *yaml, const char *want) {
  struct sl_config *c = NULL;
  char err[1024];
  int rc = load(yaml, &c, err, sizeof err, NULL);
  if (rc == 0) sl_config_free(c);
  if (rc != -EINVAL || c || !strstr(err, want)) {
    fprintf(stderr, "  want: %s\n  got:  %s (rc %d)\n", want, err, rc);
    return false;
  }
  return true;
}

/* ---- the URL parser ---- */

static void url_good(void) {
  struct sl_redis_url u;
  const char *why = NULL;
  CHECK(sl_config_parse_redis_url("redis://cache.internal", &u, &why) == 0);
  CHECK_STR(u.host, "cache.internal");
  CHECK(u.port == 6379 && u.db == 0 && !u.tls && !u.username && !u.password);
  sl_config_redis_url_clear(&u);

  CHECK(sl_config_parse_redis_url("rediss://app:s%40cr%3At@r.example.com:6380/3", &u, &why) == 0);
  CHECK_STR(u.host, "r.example.com");
  CHECK_STR(u.username, "app");
  CHECK_STR(u.password, "s@cr:t"); /* percent-decoded */
  CHECK(u.port == 6380 && u.db == 3 && u.tls);
  sl_config_redis_url_clear(&u);

  /* redis-py's shapes: password only, '@' in a password (the last '@' ends it), IPv6 */
  CHECK(sl_config_parse_redis_url("REDIS://:pw@10.0.0.5:7000/", &u, &why) == 0);
  CHECK_STR(u.host, "10.0.0.5");
  CHECK(!u.username);
  CHECK_STR(u.password, "pw");
  CHECK(u.port == 7000 && u.db == 0);
  sl_config_redis_url_clear(&u);
  CHECK(sl_config_parse_redis_url("redis://:p@ss@h", &u, &why) == 0);
  CHECK_STR(u.password, "p@ss");
  CHECK_STR(u.host, "h");
  sl_config_redis_url_clear(&u);
  CHECK(sl_config_parse_redis_url("redis://[::1]:6390/15", &u, &why) == 0);
  CHECK_STR(u.host, "::1");
  CHECK(u.port == 6390 && u.db == 15);
  sl_config_redis_url_clear(&u);
  CHECK(sl_config_parse_redis_url("redis://user@h", &u, &why) == 0); /* a user, no password */
  CHECK_STR(u.username, "user");
  CHECK(!u.password);
  sl_config_redis_url_clear(&u);
  CHECK(sl_config_parse_redis_url("redis://", &u, &why) == 0); /* no host: 127.0.0.1 */
  CHECK_STR(u.host, "127.0.0.1");
  CHECK(u.port == 6379);
  sl_config_redis_url_clear(&u);
  CHECK(sl_config_parse_redis_url("redis://:6380", &u, &why) == 0);
  CHECK_STR(u.host, "127.0.0.1");
  CHECK(u.port == 6380);
  sl_config_redis_url_clear(&u);
}

static void url_bad(void) {
  static const struct {
    const char *url, *why;
  } bad[] = {
      {"http://h:6379", "expected redis://"},
      {"h:6379", "expected redis://"},
      {"", "expected redis://"},
      {"unix:///tmp/redis.sock", "unix socket"},
      {"redis+sentinel://h:26379/mymaster", "Sentinel"},
      {"redis://h:0", "invalid port"},
      {"redis://h:65536", "invalid port"},
      {"redis://h:12ab", "invalid port"},
      {"redis://h:", "invalid port"},
      {"redis://h/x", "db number"},
      {"redis://h/1/2", "db number"},
      {"redis://h/-1", "db number"},
      {"redis://h?db=1", "query parameters"},
      {"redis://h#x", "fragment"},
      {"redis://h x", "space or control"},
      {"redis://::1:6379", "brackets"},
      {"redis://[::1", "missing its ']'"},
      {"redis://[::1]x", "':port' after ']'"},
      {"redis://[]:1", "empty IPv6"},
      {"redis://u:%zz@h", "two hex digits"},
      {"redis://u:%2@h", "two hex digits"},
      {"redis://u:%00@h", "NUL"},
      {"redis://h_o$t", "invalid host"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct sl_redis_url u;
    const char *why = "";
    int rc = sl_config_parse_redis_url(bad[i].url, &u, &why);
    if (rc != -EINVAL || !strstr(why, bad[i].why)) {
      fprintf(stderr, "  %s: rc %d why '%s' (want '%s')\n", bad[i].url, rc, why, bad[i].why);
      CHECK(0);
    }
    CHECK(!u.host && !u.username && !u.password); /* nothing to free on failure */
  }
}

/* ---- the places, one at a time ---- */

static void off_by_default(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(load(DEP, &c, err, sizeof err, &w) == 0);
  if (!c) return;
  const struct sl_redis_settings *r = &c->cluster.redis;
  CHECK(!r->enabled && !r->host && !r->source && !r->password && !r->ns && !r->instance);
  /* the defaults of config.h, in place even when off */
  CHECK(r->port == 6379 && r->timeout_ms == 100 && r->connect_timeout_ms == 1000 && r->heartbeat_ms == 1000);
  CHECK(!c->cluster.cache_tier && !c->cluster.fail_closed_budget);
  CHECK(w.n == 0);
  char line[600];
  sl_config_cluster_describe(c, line, sizeof line);
  CHECK_STR(line, "cluster mode: off (no Redis configured)");
  sl_config_free(c);
}

static void coordination_redis_map(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(load(DEP "general_settings:\n"
                 "  coordination_redis: {host: redis.internal, port: 6380, username: sluice, password: 12345,"
                 " db: 2, ssl: true}\n"
                 "  fail_closed_budget_enforcement: true\n",
             &c, err, sizeof err, &w) == 0);
  if (!c) return;
  const struct sl_redis_settings *r = &c->cluster.redis;
  CHECK(r->enabled);
  CHECK_STR(r->source, "general_settings.coordination_redis.host");
  CHECK_STR(r->host, "redis.internal");
  CHECK(r->port == 6380 && r->db == 2 && r->ssl);
  CHECK_STR(r->username, "sluice");
  CHECK_STR(r->password, "12345"); /* a number is a password too */
  CHECK_STR(r->ns, "sluice");
  CHECK(c->cluster.fail_closed_budget);
  CHECK(!c->cluster.cache_tier);
  CHECK(w.n == 0);
  char line[600];
  sl_config_cluster_describe(c, line, sizeof line);
  CHECK_STR(line,
            "cluster mode: Redis redis.internal:6380 db 2, TLS, AUTH (from "
            "general_settings.coordination_redis.host), key prefix 'sluice'; cache tier off; budgets fail closed");
  CHECK(!strstr(line, "12345"));
  sl_config_free(c);

  /* one URL string; an empty mapping means the defaults */
  CHECK(load(DEP "general_settings:\n  coordination_redis: rediss://:pw@[::1]:7000/1\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.source, "general_settings.coordination_redis");
    CHECK_STR(c->cluster.redis.host, "::1");
    CHECK(c->cluster.redis.port == 7000 && c->cluster.redis.db == 1 && c->cluster.redis.ssl);
    CHECK_STR(c->cluster.redis.password, "pw");
    char line2[600];
    sl_config_cluster_describe(c, line2, sizeof line2);
    CHECK(strstr(line2, "Redis [::1]:7000 db 1, TLS, AUTH") != NULL);
    sl_config_free(c);
  }
  CHECK(load(DEP "general_settings:\n  coordination_redis: {}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cluster.redis.enabled);
    CHECK_STR(c->cluster.redis.host, "127.0.0.1");
    CHECK(c->cluster.redis.port == 6379 && c->cluster.redis.db == 0 && !c->cluster.redis.ssl);
    CHECK(!c->cluster.redis.password && !c->cluster.redis.username);
    sl_config_free(c);
  }
  /* url with separate credentials */
  CHECK(load(DEP "general_settings:\n  coordination_redis: {url: 'redis://h:1/4', password: p, ssl: true}\n", &c, err,
             sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "h");
    CHECK_STR(c->cluster.redis.password, "p");
    CHECK(c->cluster.redis.port == 1 && c->cluster.redis.db == 4 && c->cluster.redis.ssl);
    CHECK_STR(c->cluster.redis.source, "general_settings.coordination_redis.url");
    sl_config_free(c);
  }
  /* sluice's own key: strict */
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {passwrd: h}\n",
                   "t.yaml:7: general_settings.coordination_redis.passwrd: unknown key (did you mean 'password'?)"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: [h]\n",
                   "t.yaml:7: general_settings.coordination_redis: expected a mapping (host, port"));
}

static void coordination_redis_errors(void) {
  clean_env();
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: h, port: 70000}\n",
                   "t.yaml:7: general_settings.coordination_redis.port: expected a port (1-65535), got '70000'"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: h, port: six}\n",
                   "general_settings.coordination_redis.port: expected a port (1-65535), got 'six'"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: h, db: -1}\n",
                   "general_settings.coordination_redis.db: expected a database number"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: h, ssl: maybe}\n",
                   "general_settings.coordination_redis.ssl: expected a boolean"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: 'redis://h'}\n",
                   "general_settings.coordination_redis.host: expected a host name or IP address, got 'redis://h' "
                   "(a URL goes in the url key)"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: {a: 1}}\n",
                   "general_settings.coordination_redis.host: expected a scalar, got a mapping"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {password: [a]}\n",
                   "general_settings.coordination_redis.password: expected a string, got a list"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {url: 'redis://h', port: 1}\n",
                   "t.yaml:7: general_settings.coordination_redis.port: conflicts with "
                   "general_settings.coordination_redis.url"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {url: 'redis://:a@h', password: b}\n",
                   "general_settings.coordination_redis.password: the URL already holds a password"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {url: 'rediss://h', ssl: false}\n",
                   "general_settings.coordination_redis.ssl: false, but the url is rediss://"));
  /* a bad URL: shown without credentials only */
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: 'http://h'\n",
                   "t.yaml:7: general_settings.coordination_redis: expected redis://[user[:password]@]host[:port][/db] "
                   "or rediss://... (TLS), got 'http://h' (expected redis://"));
  struct sl_config *c;
  char err[1024];
  CHECK(load(DEP "general_settings:\n  coordination_redis: 'redis://:hunter2@h:99999'\n", &c, err, sizeof err, NULL) ==
        -EINVAL);
  CHECK(strstr(err, "invalid port") && strstr(err, "not shown") && !strstr(err, "hunter2"));
  /* os.environ/ like any key, and its absence is an error naming the key */
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {host: os.environ/SL_TEST_NO_SUCH_VAR}\n",
                   "general_settings.coordination_redis.host: environment variable SL_TEST_NO_SUCH_VAR is not set"));
  setenv("SL_TEST_CLUSTER_PORT", "6390", 1);
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: h, port: os.environ/SL_TEST_CLUSTER_PORT}\n", &c, err,
             sizeof err, NULL) == 0);
  if (c) {
    CHECK(c->cluster.redis.port == 6390);
    sl_config_free(c);
  }
  unsetenv("SL_TEST_CLUSTER_PORT");
  CHECK(fails_with(DEP "general_settings:\n  fail_closed_budget_enforcement: sometimes\n",
                   "general_settings.fail_closed_budget_enforcement: expected a boolean"));
}

static void cache_params_redis(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(load(DEP "litellm_settings:\n"
                 "  cache: true\n"
                 "  cache_params:\n"
                 "    type: redis\n"
                 "    host: cache.example.com\n"
                 "    port: 6379\n"
                 "    password: secret\n"
                 "    namespace: litellm.caching\n"
                 "    ttl: 600\n"
                 "    ssl: true\n"
                 "    max_connections: 100\n",
             &c, err, sizeof err, &w) == 0);
  if (!c) return;
  const struct sl_redis_settings *r = &c->cluster.redis;
  CHECK(r->enabled);
  CHECK_STR(r->source, "litellm_settings.cache_params.host");
  CHECK_STR(r->host, "cache.example.com");
  CHECK_STR(r->password, "secret");
  CHECK(r->ssl && r->port == 6379);
  CHECK_STR(r->ns, "litellm.caching");
  CHECK(c->cluster.cache_tier);
  CHECK(c->cache.enabled && c->cache.ttl_s == 600); /* LMDB stays the first tier; ttl bounds both */
  CHECK_STR(c->cache.namespace_, "litellm.caching");
  CHECK(nwarn(&w, "t.yaml:16: litellm_settings.cache_params.max_connections: accepted and ignored: sluice uses one "
                  "pipelined Redis connection per worker") == 1);
  CHECK(w.n == 1);
  sl_config_free(c);

  /* url form */
  CHECK(load(DEP "litellm_settings:\n  cache: true\n  cache_params: {type: redis, url: 'rediss://u:p@h:6380/2'}\n", &c,
             err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.source, "litellm_settings.cache_params.url");
    CHECK(c->cluster.redis.port == 6380 && c->cluster.redis.db == 2 && c->cluster.redis.ssl);
    CHECK_STR(c->cluster.redis.username, "u");
    sl_config_free(c);
  }
  /* a bare type: redis, nothing in the environment: LiteLLM's (redis-py's) localhost */
  CHECK(load(DEP "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cluster.redis.enabled);
    CHECK_STR(c->cluster.redis.host, "127.0.0.1");
    CHECK_STR(c->cluster.redis.source, "litellm_settings.cache_params");
    CHECK(c->cluster.redis.port == 6379);
    sl_config_free(c);
  }
  /* a bad namespace for Redis keys */
  CHECK(fails_with(DEP "litellm_settings:\n  cache_params: {type: redis, namespace: 'a{b}'}\n",
                   "t.yaml:7: litellm_settings.cache_params.namespace: the Redis key prefix must be"));
  /* the Redis keys with an LMDB type: ignored as before */
  CHECK(load(DEP "litellm_settings:\n  cache: true\n  cache_params: {type: local, host: h, url: 'x', "
                 "service_name: s}\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cluster.redis.enabled);
    CHECK(nwarn(&w, "litellm_settings.cache_params.host: not used by sluice's LMDB cache, ignored") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.url: not used by sluice's LMDB cache, ignored") == 1);
    CHECK(nwarn(&w, "litellm_settings.cache_params.service_name: not used by sluice's LMDB cache") == 1);
    CHECK(w.n == 3);
    sl_config_free(c);
  }
}

static void router_settings_redis(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(load(DEP "router_settings:\n  redis_host: 10.1.2.3\n  redis_port: 6381\n  redis_password: pw\n"
                 "  redis_db: 5\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    const struct sl_redis_settings *r = &c->cluster.redis;
    CHECK(r->enabled);
    CHECK_STR(r->source, "router_settings.redis_host");
    CHECK_STR(r->host, "10.1.2.3");
    CHECK(r->port == 6381 && r->db == 5 && !r->ssl);
    CHECK_STR(r->password, "pw");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  CHECK(load(DEP "router_settings:\n  redis_url: 'redis://r:6390'\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.source, "router_settings.redis_url");
    CHECK_STR(c->cluster.redis.host, "r");
    CHECK(c->cluster.redis.port == 6390);
    sl_config_free(c);
  }
  CHECK(fails_with(DEP "router_settings:\n  redis_url: 'redis://r'\n  redis_host: s\n",
                   "t.yaml:8: router_settings.redis_host: conflicts with router_settings.redis_url"));
  CHECK(fails_with(DEP "router_settings:\n  redis_port: 0\n",
                   "t.yaml:7: router_settings.redis_port: expected a port (1-65535), got '0'"));
}

static void environment(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  setenv("REDIS_HOST", "envhost", 1);
  setenv("REDIS_PORT", "6400", 1);
  setenv("REDIS_PASSWORD", "envpw", 1);
  setenv("REDIS_USERNAME", "envuser", 1);
  setenv("REDIS_SSL", "True", 1);
  CHECK(load(DEP, &c, err, sizeof err, &w) == 0);
  if (c) {
    const struct sl_redis_settings *r = &c->cluster.redis;
    CHECK(r->enabled);
    CHECK_STR(r->source, "REDIS_HOST");
    CHECK_STR(r->host, "envhost");
    CHECK(r->port == 6400 && r->ssl);
    CHECK_STR(r->password, "envpw");
    CHECK_STR(r->username, "envuser");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* REDIS_URL wins over REDIS_HOST/PORT inside the environment */
  setenv("REDIS_URL", "redis://urlhost:6401/7", 1);
  setenv("REDIS_SSL", "0", 1);
  CHECK(load(DEP, &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.source, "REDIS_URL");
    CHECK_STR(c->cluster.redis.host, "urlhost");
    CHECK(c->cluster.redis.port == 6401 && c->cluster.redis.db == 7 && !c->cluster.redis.ssl);
    CHECK_STR(c->cluster.redis.password, "envpw"); /* the URL has none */
    CHECK(nwarn(&w, "t.yaml: environment variable REDIS_HOST: names 'envhost', but REDIS_URL names 'urlhost'; "
                    "using REDIS_URL") == 1);
    sl_config_free(c);
  }
  /* bad values: errors naming the variable; a URL is never echoed */
  clean_env();
  setenv("REDIS_URL", "redis://:topsecret@h:x", 1);
  CHECK(load(DEP, &c, err, sizeof err, NULL) == -EINVAL);
  CHECK(strstr(err, "t.yaml: environment variable REDIS_URL: expected redis://") && strstr(err, "invalid port") &&
        !strstr(err, "topsecret"));
  clean_env();
  setenv("REDIS_HOST", "h", 1);
  setenv("REDIS_PORT", "tcp://172.17.0.2:6379", 1); /* a Docker link variable */
  CHECK(fails_with(DEP, "t.yaml: environment variable REDIS_PORT: expected a port (1-65535), got "
                        "'tcp://172.17.0.2:6379' (a Docker link variable?"));
  clean_env();
  setenv("REDIS_HOST", "h", 1);
  setenv("REDIS_SSL", "perhaps", 1);
  CHECK(fails_with(DEP, "environment variable REDIS_SSL: expected true or false"));
  /* REDIS_PORT or REDIS_PASSWORD alone name no Redis */
  clean_env();
  setenv("REDIS_PORT", "6379", 1);
  setenv("REDIS_PASSWORD", "x", 1);
  CHECK(load(DEP, &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cluster.redis.enabled);
    sl_config_free(c);
  }
  clean_env();
}

/* ---- precedence, filling from the environment, conflicts ---- */

static void precedence(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  setenv("REDIS_HOST", "d", 1);
  static const char yaml[] = DEP "general_settings:\n"                      /* 6 */
                                 "  coordination_redis: {host: a}\n"        /* 7 */
                                 "litellm_settings:\n"                      /* 8 */
                                 "  cache: true\n"                          /* 9 */
                                 "  cache_params: {type: redis, host: b}\n" /* 10 */
                                 "router_settings:\n"                       /* 11 */
                                 "  redis_host: c\n";                       /* 12 */
  CHECK(load(yaml, &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "a");
    CHECK_STR(c->cluster.redis.source, "general_settings.coordination_redis.host");
    CHECK(c->cluster.cache_tier); /* cache_params type redis still makes Redis the second tier */
    CHECK(nwarn(&w, "t.yaml:10: litellm_settings.cache_params.host: names Redis b:6379 db 0, but "
                    "general_settings.coordination_redis.host names a:6379 db 0 and comes first") == 1);
    CHECK(nwarn(&w, "t.yaml:12: router_settings.redis_host: names Redis c:6379 db 0, but "
                    "general_settings.coordination_redis.host names a:6379 db 0") == 1);
    CHECK(nwarn(&w, "t.yaml: environment variable REDIS_HOST: names Redis d:6379 db 0, but "
                    "general_settings.coordination_redis.host names a:6379 db 0") == 1);
    CHECK(w.n == 3);
    sl_config_free(c);
  }
  /* without coordination_redis: cache_params; then router_settings; then the environment */
  CHECK(load(DEP "litellm_settings:\n  cache_params: {type: redis, host: b}\n  cache: true\n"
                 "router_settings:\n  redis_host: c\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "b");
    CHECK(nwarn(&w, "router_settings.redis_host: names Redis c:6379 db 0, but litellm_settings.cache_params.host") ==
          1);
    CHECK(nwarn(&w, "REDIS_HOST: names Redis d:6379 db 0") == 1);
    sl_config_free(c);
  }
  CHECK(load(DEP "router_settings:\n  redis_host: c\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "c");
    CHECK(w.n == 1 && nwarn(&w, "REDIS_HOST: names Redis d:6379 db 0, but router_settings.redis_host") == 1);
    sl_config_free(c);
  }
  /* the same server named twice (host case, the default port spelled out): no warning */
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: D, port: 6379}\n"
                 "router_settings:\n  redis_url: 'redis://d'\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* a different db is a different server */
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: d, db: 1}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(nwarn(&w, "REDIS_HOST: names Redis d:6379 db 0, but general_settings.coordination_redis.host names "
                    "d:6379 db 1") == 1);
    sl_config_free(c);
  }
  clean_env();
}

static void litellm_places_fill_from_env(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  setenv("REDIS_HOST", "envhost", 1);
  setenv("REDIS_PORT", "6500", 1);
  setenv("REDIS_PASSWORD", "envpw", 1);
  /* cache_params without a host: the environment's server (LiteLLM reads REDIS_* there) */
  CHECK(load(DEP "litellm_settings:\n  cache: true\n  cache_params: {type: redis, namespace: ns1}\n", &c, err,
             sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "envhost");
    CHECK(c->cluster.redis.port == 6500);
    CHECK_STR(c->cluster.redis.password, "envpw");
    CHECK_STR(c->cluster.redis.source, "litellm_settings.cache_params (server from REDIS_HOST)");
    CHECK_STR(c->cluster.redis.ns, "ns1");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* router_settings with only a password: the environment's server, its own password */
  CHECK(load(DEP "router_settings:\n  redis_password: own\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "envhost");
    CHECK_STR(c->cluster.redis.password, "own");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  /* a place naming the same host takes the environment's password; another host does not */
  CHECK(load(DEP "router_settings:\n  redis_host: envhost\n  redis_port: 6500\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.password, "envpw");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  CHECK(load(DEP "router_settings:\n  redis_host: other\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cluster.redis.password);
    CHECK(nwarn(&w, "REDIS_HOST: names Redis envhost:6500 db 0, but router_settings.redis_host names other:6379") == 1);
    sl_config_free(c);
  }
  /* a host without a port: REDIS_PORT when REDIS_HOST names no other server (LiteLLM merges them) */
  unsetenv("REDIS_HOST");
  CHECK(load(DEP "litellm_settings:\n  cache_params: {type: redis, host: h}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cluster.redis.port == 6500);
    CHECK_STR(c->cluster.redis.password, "envpw");
    sl_config_free(c);
  }
  CHECK(load(DEP "litellm_settings:\n  cache_params: {type: redis, host: h, port: 7000}\n", &c, err, sizeof err, &w) ==
        0);
  if (c) {
    CHECK(c->cluster.redis.port == 7000);
    sl_config_free(c);
  }
  setenv("REDIS_HOST", "envhost", 1);
  /* the environment's host on another port is another server: nothing taken */
  CHECK(load(DEP "router_settings:\n  redis_host: envhost\n  redis_port: 6501\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(c->cluster.redis.port == 6501 && !c->cluster.redis.password);
    CHECK(nwarn(&w, "REDIS_HOST: names Redis envhost:6500 db 0, but router_settings.redis_host names envhost:6501") ==
          1);
    sl_config_free(c);
  }
  /* coordination_redis is sluice's own: it does not read the environment */
  CHECK(load(DEP "general_settings:\n  coordination_redis: {}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "127.0.0.1");
    CHECK(!c->cluster.redis.password);
    CHECK(nwarn(&w, "REDIS_HOST: names Redis envhost:6500 db 0") == 1);
    sl_config_free(c);
  }
  /* a broken REDIS_* is an error only where it is read */
  setenv("REDIS_PORT", "nope", 1);
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: h}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK_STR(c->cluster.redis.host, "h");
    CHECK(err[0] == 0);
    sl_config_free(c);
  }
  CHECK(fails_with(DEP "router_settings:\n  redis_host: h\n", "environment variable REDIS_PORT: expected a port"));
  clean_env();
}

/* ---- shapes sluice does not speak to ---- */

static void unsupported_shapes(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(fails_with(DEP "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n"
                       "    redis_startup_nodes: [{host: a, port: 7000}]\n",
                   "t.yaml:10: litellm_settings.cache_params.redis_startup_nodes: Redis Cluster (startup nodes) is not "
                   "supported: sluice connects to one Redis endpoint"));
  CHECK(fails_with(DEP
                   "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    service_name: mymaster\n"
                   "    sentinel_nodes: [[a, 26379]]\n",
                   "t.yaml:10: litellm_settings.cache_params.service_name: Redis Sentinel is not supported"));
  CHECK(fails_with(DEP "general_settings:\n  coordination_redis: {sentinel_nodes: [[a, 1]]}\n",
                   "t.yaml:7: general_settings.coordination_redis.sentinel_nodes: Redis Sentinel is not supported"));
  CHECK(
      fails_with(DEP "general_settings:\n  coordination_redis: {startup_nodes: [a]}\n",
                 "general_settings.coordination_redis.startup_nodes: Redis Cluster (startup nodes) is not supported"));
  CHECK(fails_with(DEP "router_settings:\n  redis_startup_nodes: [a]\n",
                   "t.yaml:7: router_settings.redis_startup_nodes: Redis Cluster (startup nodes) is not supported"));
  CHECK(fails_with(DEP "router_settings:\n  redis_host: h\n  redis_sentinel_nodes: [a]\n",
                   "router_settings.redis_sentinel_nodes: Redis Sentinel is not supported"));
  CHECK(
      fails_with(DEP "general_settings:\n  coordination_redis: 'redis+sentinel://h/m'\n", "Sentinel is not supported"));
  /* the environment's shapes: an error where the environment is read */
  setenv("REDIS_CLUSTER_NODES", "[{\"host\":\"a\",\"port\":7000}]", 1);
  CHECK(fails_with(DEP, "t.yaml: environment variable REDIS_CLUSTER_NODES: Redis Cluster (startup nodes) is not "
                        "supported"));
  CHECK(fails_with(DEP "litellm_settings:\n  cache_params: {type: redis, host: h}\n",
                   "environment variable REDIS_CLUSTER_NODES: Redis Cluster"));
  clean_env();
  setenv("REDIS_SENTINEL_NODES", "a:26379", 1);
  CHECK(fails_with(DEP, "environment variable REDIS_SENTINEL_NODES: Redis Sentinel is not supported"));
  /* ... and a warning where sluice's own key names the Redis */
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: h}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(nwarn(&w, "environment variable REDIS_SENTINEL_NODES: not used") == 1);
    sl_config_free(c);
  }
  clean_env();
}

/* ---- sluice_settings.cluster ---- */

static void cluster_settings(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  CHECK(load(DEP "general_settings:\n  coordination_redis: {host: h}\n"
                 "sluice_settings:\n  cluster: {timeout: 50ms, connect_timeout: 2s, heartbeat: 500ms, instance: "
                 "web-1}\n",
             &c, err, sizeof err, &w) == 0);
  if (c) {
    const struct sl_redis_settings *r = &c->cluster.redis;
    CHECK(r->timeout_ms == 50 && r->connect_timeout_ms == 2000 && r->heartbeat_ms == 500);
    CHECK_STR(r->instance, "web-1");
    CHECK(w.n == 0);
    sl_config_free(c);
  }
  char id[128];
  CHECK(load(DEP "sluice_settings:\n  cluster: {instance: web-1}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    sl_config_cluster_instance(c, 4000, id, sizeof id);
    CHECK_STR(id, "web-1");
    sl_config_free(c);
  }
  CHECK(load(DEP, &c, err, sizeof err, &w) == 0);
  if (c) { /* default: hostname:port, the port as bound */
    char host[256] = "", want[300];
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "%.100s:41234", host);
    sl_config_cluster_instance(c, 41234, id, sizeof id);
    CHECK(strcmp(id, want) == 0 || (host[0] == 0 && strcmp(id, "sluice:41234") == 0));
    sl_config_cluster_instance(c, 1, id, 5); /* truncated, terminated */
    CHECK(strlen(id) == 4);
    sl_config_free(c);
  }
  CHECK(fails_with(DEP "sluice_settings:\n  cluster: {timeout: 0}\n",
                   "t.yaml:7: sluice_settings.cluster.timeout: expected a positive duration"));
  CHECK(fails_with(DEP "sluice_settings:\n  cluster: {heartbeat: soon}\n",
                   "sluice_settings.cluster.heartbeat: expected a positive duration"));
  CHECK(fails_with(DEP "sluice_settings:\n  cluster: {instanse: a}\n",
                   "t.yaml:7: sluice_settings.cluster.instanse: unknown key (did you mean 'instance'?)"));
  CHECK(fails_with(DEP "sluice_settings:\n  cluster: {instance: 'a b'}\n",
                   "sluice_settings.cluster.instance: must not contain spaces"));
  CHECK(fails_with(DEP "sluice_settings:\n  cluster: {instance: ''}\n",
                   "sluice_settings.cluster.instance: expected 1 to 127 characters"));
  /* without a Redis: said once, not an error */
  CHECK(load(DEP "sluice_settings:\n  cluster: {timeout: 1s}\n", &c, err, sizeof err, &w) == 0);
  if (c) {
    CHECK(!c->cluster.redis.enabled);
    CHECK(nwarn(&w, "t.yaml:7: sluice_settings.cluster: no Redis is configured, so cluster mode is off") == 1);
    sl_config_free(c);
  }
}

/* ---- LiteLLM's production config (its "Best practices for production" page) ---- */

static void litellm_production_config(void) {
  struct sl_config *c;
  char err[1024];
  struct warns w;
  clean_env();
  setenv("REDIS_HOST", "redis-prod.internal", 1);
  setenv("REDIS_PORT", "6379", 1);
  setenv("REDIS_PASSWORD", "prod-secret", 1);
  static const char yaml[] = DEP "litellm_settings:\n"
                                 "  cache: true\n"
                                 "  cache_params:\n"
                                 "    type: redis\n"
                                 "    host: os.environ/REDIS_HOST\n"
                                 "    port: os.environ/REDIS_PORT\n"
                                 "    password: os.environ/REDIS_PASSWORD\n"
                                 "router_settings:\n"
                                 "  routing_strategy: usage-based-routing-v2\n"
                                 "  redis_host: os.environ/REDIS_HOST\n"
                                 "  redis_port: os.environ/REDIS_PORT\n"
                                 "  redis_password: os.environ/REDIS_PASSWORD\n"
                                 "general_settings:\n"
                                 "  master_key: sk-1234\n";
  CHECK(load(yaml, &c, err, sizeof err, &w) == 0);
  if (!c) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  const struct sl_redis_settings *r = &c->cluster.redis;
  CHECK(r->enabled);
  CHECK_STR(r->host, "redis-prod.internal");
  CHECK(r->port == 6379 && r->db == 0 && !r->ssl);
  CHECK_STR(r->password, "prod-secret");
  CHECK_STR(r->source, "litellm_settings.cache_params.host");
  CHECK_STR(r->ns, "sluice");
  CHECK(c->cluster.cache_tier && c->cache.enabled);
  CHECK(!c->cluster.fail_closed_budget);
  CHECK(w.n == 0); /* the same server everywhere: nothing to say */
  char line[600];
  sl_config_cluster_describe(c, line, sizeof line);
  CHECK_STR(line, "cluster mode: Redis redis-prod.internal:6379 db 0, AUTH (from litellm_settings.cache_params.host), "
                  "key prefix 'sluice'; cache tier on; budgets fail open");
  sl_config_free(c);
  /* the same with the variables unset: the error names the key and the variable */
  clean_env();
  CHECK(fails_with(DEP "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n"
                       "    host: os.environ/REDIS_HOST\n",
                   "t.yaml:10: litellm_settings.cache_params.host: environment variable REDIS_HOST is not set"));
}

int main(void) {
  static const struct check_case cases[] = {
      {"url_good", url_good},
      {"url_bad", url_bad},
      {"off_by_default", off_by_default},
      {"coordination_redis_map", coordination_redis_map},
      {"coordination_redis_errors", coordination_redis_errors},
      {"cache_params_redis", cache_params_redis},
      {"router_settings_redis", router_settings_redis},
      {"environment", environment},
      {"precedence", precedence},
      {"litellm_places_fill_from_env", litellm_places_fill_from_env},
      {"unsupported_shapes", unsupported_shapes},
      {"cluster_settings", cluster_settings},
      {"litellm_production_config", litellm_production_config},
  };
  return check_run(cases, sizeof cases / sizeof cases[0]);
}
