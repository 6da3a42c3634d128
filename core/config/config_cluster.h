/* Cluster mode's configuration, the parts other files call: the redis:// URL parser (pure:
 * also the fuzz target's entry point) and the one-line description `sluice check` prints.
 * Which keys turn cluster mode on, and their precedence, are config_cluster.c's. */
#ifndef SL_CORE_CONFIG_CLUSTER_H
#define SL_CORE_CONFIG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct sl_config;

/* redis://[user[:password]@]host[:port][/db] or rediss:// (TLS). user and password are
 * percent-decoded (NULL when absent or empty); host is bare (no brackets for IPv6 literals;
 * "127.0.0.1" when the URL has none); port defaults to 6379, db to 0. Strings are malloc'd. */
struct sl_redis_url {
  char *host;
  int port;
  char *username;
  char *password;
  int db;
  bool tls;
};
/* 0; -EINVAL with *why set to a static reason (never quoting the URL: it may hold a
 * password); -ENOMEM. On failure *out holds nothing to free. */
int sl_config_parse_redis_url(const char *s, struct sl_redis_url *out, const char **why);
void sl_config_redis_url_clear(struct sl_redis_url *u);

/* "cluster mode: Redis HOST:PORT db N[, TLS] (from KEY); cache tier on|off; budgets fail
 * open|closed" or "cluster mode: off (no Redis configured)"; never the password. Always
 * NUL-terminates out. */
void sl_config_cluster_describe(const struct sl_config *c, char *out, size_t n);

/* This host's id in Redis: sluice_settings.cluster.instance, else "<hostname>:<port>" with
 * the port the listener actually bound (so instances started from one file with --port 0
 * differ). At most 127 characters (truncated). Always NUL-terminates out. */
void sl_config_cluster_instance(const struct sl_config *c, unsigned port, char *out, size_t n);

#endif
