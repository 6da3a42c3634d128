/* libFuzzer target for core/config's redis:// URL parser (cluster mode's Redis, from
 * config.yaml or REDIS_URL). Input: the URL text (a NUL ends it early). Properties: answers
 * 0, -EINVAL (with a reason) or -ENOMEM only, and leaves nothing to free on failure; on
 * success the host is a valid host, the port 1..65535, the db >= 0, user and password
 * non-empty when present, and writing the parts back as a URL (user and password
 * percent-encoded, IPv6 in brackets) parses to the same parts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config_cluster.h"
#include "core/config/config_parse.h"

static size_t pct_enc(const char *s, char *out, size_t cap) {
  size_t j = 0;
  for (; s && *s && j + 4 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')
      out[j++] = (char)ch;
    else
      j += (size_t)snprintf(out + j, cap - j, "%%%02X", ch);
  }
  out[j] = 0;
  return j;
}

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, data, n);
  s[n] = 0;
  struct sl_redis_url u, again;
  const char *why = NULL;
  int rc = sl_config_parse_redis_url(s, &u, &why);
  if (rc != 0 && rc != -EINVAL && rc != -ENOMEM) abort();
  if (rc == -EINVAL && (!why || !*why)) abort();
  if (rc) {
    if (u.host || u.username || u.password) abort();
    free(s);
    return 0;
  }
  if (!u.host || !sl_config_host_valid(u.host) || u.port < 1 || u.port > 65535 || u.db < 0) abort();
  if ((u.username && !*u.username) || (u.password && !*u.password)) abort();
  size_t cap = 3 * n + 64;
  char *user = malloc(cap), *pass = malloc(cap), *url = malloc(3 * cap + 64);
  if (!user || !pass || !url) abort();
  pct_enc(u.username, user, cap);
  pct_enc(u.password, pass, cap);
  int v6 = strchr(u.host, ':') != NULL;
  snprintf(url, 3 * cap + 64, "%s://%s%s%s%s%s%s%s:%d/%d", u.tls ? "rediss" : "redis", user, u.password ? ":" : "",
           pass, u.username || u.password ? "@" : "", v6 ? "[" : "", u.host, v6 ? "]" : "", u.port, u.db);
  if (sl_config_parse_redis_url(url, &again, &why) != 0) abort();
  if (!same(u.host, again.host) || !same(u.username, again.username) || !same(u.password, again.password) ||
      u.port != again.port || u.db != again.db || u.tls != again.tls)
    abort();
  sl_config_redis_url_clear(&again);
  sl_config_redis_url_clear(&u);
  free(user);
  free(pass);
  free(url);
  free(s);
  return 0;
}
