/* core/cluster.c: SKELETON (to be written): connections, heartbeat, live hosts, degraded
 * state, pub/sub dispatch, metrics; see core/cluster.h. */
#include "core/cluster.h"

#include <stdio.h>
#include <string.h>

#include "core/cluster_features.h"
#include "core/worker.h"
#include "net/base/buf.h"

int sl_cluster_open(struct sl_worker *w) {
  w->cluster = NULL;
  if (!w->cfg->cluster.redis.enabled) return 0;
  return 0;
}

void sl_cluster_close(struct sl_worker *w) { w->cluster = NULL; }

bool sl_cluster_degraded(const struct sl_worker *w) { return w->cluster && !w->cluster->up; }

int64_t sl_cluster_share(const struct sl_worker *w, int64_t limit) {
  unsigned n = w->cluster && w->cluster->live_hosts ? w->cluster->live_hosts : 1;
  return limit <= 0 ? limit : (limit + n - 1) / n;
}

size_t sl_cluster_name(const struct sl_cluster *c, const char *suffix, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s:%s", c->ns, suffix);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void sl_cluster_metrics(const struct sl_worker *w, struct sl_buf *b) { (void)w; (void)b; }
