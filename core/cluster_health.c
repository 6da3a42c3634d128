/* core/cluster_health.c: STUB (to be written): see core/cluster.h. */
#include "core/cluster_features.h"

int sl_cluster_health_open(struct sl_cluster *c) { (void)c; return 0; }
void sl_cluster_health_close(struct sl_cluster *c) { (void)c; }
void sl_cluster_health_on_up(struct sl_cluster *c) { (void)c; }
void sl_cluster_health_on_message(struct sl_cluster *c, const char *msg, size_t n) { (void)c; (void)msg; (void)n; }
