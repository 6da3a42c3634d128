/* Origin checks (see origin.h). The Host check runs only without a master key (with one,
 * a page cannot authenticate anyway) and skips the health and metrics routes, which
 * probes and scrapers call by whatever name they know the pod by. An accepted Host is
 * "localhost", 127.0.0.1 or [::1], the configured listen host, the address the client
 * connected to (a wildcard listener's real address), each with no port or the port
 * connected to; or a name in allowed_hosts, with any port. A request without Host
 * (HTTP/1.0 tools) cannot come from a browser and passes. */
#include "core/origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool eq_ci(const char *a, size_t an, const char *b) {
  return b && strlen(b) == an && strncasecmp(a, b, an) == 0;
}

static bool host_allowed(const struct sl_config *cfg, const struct sl_conn *c, struct sl_slice v) {
  const char *p = v.p, *name = p;
  size_t n = v.n, nn;
  const char *port = NULL;
  size_t portn = 0;
  if (n && p[0] == '[') { /* [v6]:port */
    const char *e = memchr(p, ']', n);
    if (!e) return false;
    name = p + 1;
    nn = (size_t)(e - name);
    if (e + 1 < p + n) {
      if (e[1] != ':') return false;
      port = e + 2;
      portn = (size_t)(p + n - port);
    }
  } else {
    const char *colon = memchr(p, ':', n);
    nn = colon ? (size_t)(colon - p) : n;
    if (colon) {
      port = colon + 1;
      portn = (size_t)(p + n - port);
    }
  }
  if (nn && name[nn - 1] == '.') nn--; /* "localhost." */
  if (!nn) return false;
  for (size_t i = 0; i < portn; i++)
    if (port[i] < '0' || port[i] > '9') return false;
  if (port && !portn) return false;
  for (size_t i = 0; i < cfg->allowed_hosts.n; i++)
    if (eq_ci(name, nn, cfg->allowed_hosts.names[i])) return true;
  char local[64];
  uint16_t lport = 0;
  if (sl_conn_local_addr(c, local, sizeof local, &lport)) local[0] = 0;
  if (port) {
    unsigned long pv = portn <= 5 ? strtoul(port, NULL, 10) : 0;
    if (pv != lport) return false;
  }
  bool wildcard = cfg->listen_host && (strcmp(cfg->listen_host, "0.0.0.0") == 0 ||
                                       strcmp(cfg->listen_host, "::") == 0);
  return eq_ci(name, nn, "localhost") || eq_ci(name, nn, "127.0.0.1") || eq_ci(name, nn, "::1") ||
         (!wildcard && eq_ci(name, nn, cfg->listen_host)) || (local[0] && eq_ci(name, nn, local));
}

/* want (a media type), any case, optionally followed by parameters. */
static bool is_type(struct sl_slice v, const char *want) {
  size_t k = strlen(want);
  if (v.n < k || strncasecmp(v.p, want, k) != 0) return false;
  for (size_t i = k; i < v.n; i++) {
    if (v.p[i] == ';') return true;
    if (v.p[i] != ' ' && v.p[i] != '\t') return false;
  }
  return true;
}

enum sl_origin_verdict sl_origin_check(const struct sl_config *cfg, const struct sl_conn *c,
                                       const struct sl_http_request *hr, enum sl_route route) {
  bool open_route = route == SL_R_LIVE || route == SL_R_READY || route == SL_R_METRICS;
  if (!cfg->master_key && !open_route) {
    const struct sl_header *h = sl_http_header_find(hr->headers, hr->nheaders, "host");
    if (h && !host_allowed(cfg, c, h->value)) return SL_ORIGIN_BAD_HOST;
  }
  if (hr->body_len > 0 && !open_route) {
    const struct sl_header *t = sl_http_header_find(hr->headers, hr->nheaders, "content-type");
    /* a form is also a simple request for a browser: only the multipart route takes one */
    bool ok = t && (route == SL_R_TRANSCRIPTIONS ? is_type(t->value, "multipart/form-data")
                                                 : is_type(t->value, "application/json"));
    if (!ok) return SL_ORIGIN_BAD_TYPE;
  }
  return SL_ORIGIN_OK;
}
